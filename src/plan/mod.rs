//! The layer plan: pure data saying which steps run, in which stage and order, what each one's
//! cache key depends on, and why. The ordering rules live here and only here:
//!
//! 1. system packages (apt) before anything Python: runtime ones in the runtime stage, build-only
//!    ones in the builder stage. Both stages start from the base image, so adding a runtime
//!    package never rebuilds the dependencies ([`apt`]);
//! 2. the package manager, pinned, before the dependencies ([`uv`], [`pip`]);
//! 3. dependencies keyed only on what the lock says to install, never on the project's version
//!    or source;
//! 4. the source after the dependencies, then the project itself ([`source`]);
//! 5. the runtime stage gets the environment's files as layers (dependencies, then source and
//!    project), never the builder's compilers, package manager or caches ([`runtime`]).
//!
//! The plan is a structure, not a list of steps linked by names: what each step runs on follows
//! from where it sits ([`Plan`], [`Environment`]), and [`Plan::layers`] is the one place that
//! says which builder steps each layer of the image spans.

mod apt;
pub mod check;
mod explain;
pub(crate) mod find_links;
pub mod layers;
mod locked;
mod pip;
mod repro;
mod runtime;
mod secrets;
mod select;
pub(crate) mod shell;
mod source;
pub mod ssh;
mod uv;

pub use explain::explain;
pub use repro::FILE_EPOCH;
pub use runtime::{ImageSpec, RuntimeUser};
pub use secrets::SECRETS_DIR;
pub use shell::plural;

use crate::detect::{Project, ProjectKind};
use crate::diag::Diagnostics;
use crate::platform::Platform;
use crate::recipe::{self, Recipe};

/// Where the virtual environment lives in every stage.
pub const VENV: &str = "/app/.venv";
/// Where uv is installed in the builder when it comes from PyPI.
pub const UV_HOME: &str = "/opt/uv";
/// Where build inputs (lock files, exported requirements) are mounted, outside the workdir.
pub const INPUTS_DIR: &str = "/pycache";
/// Where the files of a find-links build context are mounted: `<FIND_LINKS_DIR>/<context>`.
pub const FIND_LINKS_DIR: &str = "/pycache/find-links";
/// uid and gid of the user the plan creates.
pub const UID: u32 = 10001;

/// The stages of the build. Both start from the base image; the runtime stage takes the
/// environment's files from the builder as layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Builder,
    Runtime,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Builder => "builder",
            Stage::Runtime => "runtime",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheMount {
    pub id: String,
    pub target: String,
    pub sharing: Sharing,
}

/// What a read-only bind mount shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindSource {
    /// A file of the build context (its content keys the step).
    Context(String),
    /// A file written into the LLB itself (a file op), such as a dependency layer's
    /// requirements: the step's cache key is then its text, whatever cache it comes from.
    Text(String),
    /// The `RECORD` files of a dependency layer (its index in [`Environment::dependencies`]),
    /// which its step writes to [`layers::RECORDS_OUT`].
    LayerRecords(usize),
    /// A file of a named build context (`--build-context NAME=DIR`), such as a wheel of a
    /// find-links directory: its content keys the step, and nothing else of the context does.
    NamedContext { context: String, path: String },
    /// A file the daemon downloads, checked by its `sha256` (hex), which keys the step: uv's
    /// wheel ([`uv::install_step`]).
    Download { url: String, sha256: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    pub source: BindSource,
    pub target: String,
}

/// A `--secret` of the build, mounted as a file (read-only, for root) into one step: it is in
/// no layer, and its value keys nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMount {
    /// The id of `--secret id=…`.
    pub id: String,
    pub target: String,
}

/// The build's SSH agent (`--ssh <id>`), forwarded as a socket into one step: in no layer,
/// and nothing of it keys the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshMount {
    /// The id of `--ssh <id>`.
    pub id: String,
    /// Where the socket is (`SSH_AUTH_SOCK`).
    pub target: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub script: String,
    pub env: Vec<(String, String)>,
    pub binds: Vec<Bind>,
    pub caches: Vec<CacheMount>,
    /// Secrets this step alone reads (private index passwords, [`secrets`]).
    pub secrets: Vec<SecretMount>,
    /// The SSH agent this step alone uses (git dependencies over SSH, [`ssh`]).
    pub ssh: Option<SshMount>,
    /// Runs without a network: it needs none, and starts faster without one.
    pub offline: bool,
    /// An empty directory the step writes for later steps, apart from its filesystem: a
    /// result of its own, in no layer (a dependency layer's `RECORD` files, for the check).
    pub output: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Run(Run),
    /// The project source from the context, filtered, into the workdir.
    CopySource {
        dest: String,
        exclude: Vec<String>,
        include: Vec<String>,
        /// The mtime given to every copied file, in seconds since the epoch: checkouts stamp
        /// files with the time of the clone, which must not reach the image.
        mtime: i64,
    },
    /// A file copied from an image (e.g. `/uv` from `ghcr.io/astral-sh/uv`).
    CopyFromImage {
        image: String,
        src: String,
        dest: String,
    },
}

/// What a step is, for references in tests, tools and `explain`. Steps are never looked up by
/// it: the plan's structure says what each step runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepId {
    /// Runtime system packages.
    AptRuntime,
    /// The runtime user.
    User,
    /// Build-only system packages.
    AptBuild,
    /// The package manager (uv).
    Uv,
    /// The empty virtual environment.
    Venv,
    /// The locked dependencies of one layer (its index in [`Environment::dependencies`]).
    Dependencies(usize),
    /// The check of the dependency layers against each other.
    Check,
    /// The lock files, as they are in the source.
    LockFiles,
    /// The project's source.
    Source,
    /// The project installed from its source.
    Project,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub id: StepId,
    pub stage: Stage,
    pub title: String,
    pub action: Action,
    /// What this step's cache key depends on (besides the steps before it).
    pub keyed_on: Vec<String>,
    /// Why the step is where it is.
    pub why: String,
}

impl Step {
    pub(crate) fn new(
        id: StepId,
        stage: Stage,
        title: String,
        keyed_on: Vec<String>,
        why: &str,
        action: Action,
    ) -> Self {
        Self {
            id,
            stage,
            title,
            keyed_on,
            why: why.to_owned(),
            action,
        }
    }

    /// The vertex name users see in progress output, `[stage] title`; tests and the benchmark
    /// count steps by this prefix.
    pub fn vertex_name(&self) -> String {
        format!("[{}] {}", self.stage.name(), self.title)
    }
}

/// The builder steps that make the environment the runtime image receives. Each dependency
/// layer and the project are installed on the empty environment alone, so none of them is
/// keyed on another: the runtime image joins them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// Creates the empty virtual environment.
    pub skeleton: Step,
    /// The locked dependencies, in layers, each on the skeleton.
    pub dependencies: Vec<DependencyLayer>,
    /// Checks the layers against each other, when there are several ([`check`]).
    pub check: Option<Step>,
    /// Copies the lock files, as their own layer (on nothing).
    pub lock_files: Option<Step>,
    /// Copies the source, less the lock files, onto the skeleton.
    pub source: Step,
    /// Installs the project from its source, when there is something to build.
    pub project: Option<Step>,
    /// Why the dependencies are not in layers of their own, when they are not.
    pub single_layer_reason: Option<String>,
    /// The lock the dependencies were read from and how, when the manager does not say it
    /// (poetry.lock and pylock.toml, installed with uv).
    pub lock: Option<String>,
    /// What the lock installs for this target, and from which file: `None` when the
    /// dependencies are not locked (pip requirements without pins and hashes).
    pub locked: Option<(String, crate::lock::LockedEnv)>,
}

impl Environment {
    /// The locked packages built from their sdist for the target (no wheel fits it), by name.
    /// Requirements files do not say which packages have wheels: none for them.
    pub fn from_source(&self) -> Vec<String> {
        self.locked
            .iter()
            .flat_map(|(_, env)| &env.packages)
            .filter(|p| p.sdist_only)
            .map(|p| p.name.clone())
            .collect()
    }
}

/// One layer of locked dependencies: its install step and what it installs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyLayer {
    pub step: Step,
    /// `name version` of each package, and the bytes of its wheel as the lock says.
    pub packages: Vec<(String, u64)>,
}

impl DependencyLayer {
    pub fn size(&self) -> u64 {
        self.packages.iter().map(|(_, s)| s).sum()
    }
}

/// What a layer of the runtime image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// The empty virtual environment.
    Skeleton,
    /// One dependency layer.
    Dependencies(usize),
    /// The check's report.
    Check,
    /// The lock files.
    LockFiles,
    /// The source and the project.
    Project,
}

/// One layer of the runtime image taken from the builder: the files that its builder steps
/// added, in order. BuildKit's DiffOp keeps one image layer per builder step it spans.
#[derive(Clone, Debug)]
pub struct Layer<'p> {
    pub kind: LayerKind,
    pub title: String,
    pub keyed_on: String,
    pub why: String,
    pub steps: Vec<&'p Step>,
}

impl Layer<'_> {
    pub fn vertex_name(&self) -> String {
        format!("[{}] {}", Stage::Runtime.name(), self.title)
    }
}

/// How the runtime image gets the environment's layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Join {
    /// Each layer is the DiffOp of its step, all joined by one MergeOp: every layer is keyed
    /// on its own step alone.
    #[default]
    Merge,
    /// Each layer is copied onto the image in turn (engines without MergeOp/DiffOp, such as
    /// Docker Engine's classic image store): the installs stay independent, but a changed
    /// layer is copied again with every layer above it.
    Copy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub target: String,
    pub platform: Platform,
    pub base_image: String,
    pub workdir: String,
    pub user: RuntimeUser,
    pub manager: recipe::Manager,
    /// Patterns excluded from the source copy: `.dockerignore` then `[source].exclude`.
    pub context_excludes: Vec<String>,
    /// Runtime stage, in order on the base image: system packages, then the user.
    pub runtime: Vec<Step>,
    /// Builder stage, in order on the base image: build packages, then the package manager.
    pub toolchain: Vec<Step>,
    /// Builder stage, on the toolchain: the environment.
    pub env: Environment,
    pub join: Join,
    pub image: ImageSpec,
}

impl Plan {
    /// Every builder step, in the order it runs.
    pub fn builder_steps(&self) -> impl Iterator<Item = &Step> {
        let env = &self.env;
        self.toolchain
            .iter()
            .chain([&env.skeleton])
            .chain(env.dependencies.iter().map(|d| &d.step))
            .chain(&env.check)
            .chain(&env.lock_files)
            .chain([&env.source])
            .chain(&env.project)
    }

    /// The `--ssh` ids the build needs: those of the steps that fetch git over SSH.
    pub fn ssh_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .steps()
            .filter_map(|s| match &s.action {
                Action::Run(run) => run.ssh.as_ref().map(|m| m.id.as_str()),
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Every step of the plan: the builder's, then the runtime's own.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.builder_steps().chain(&self.runtime)
    }

    /// The named build contexts the plan's steps read, each once, sorted.
    pub fn named_contexts(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .steps()
            .filter_map(|s| match &s.action {
                Action::Run(r) => Some(r.binds.iter().filter_map(|b| match &b.source {
                    BindSource::NamedContext { context, .. } => Some(context.as_str()),
                    _ => None,
                })),
                _ => None,
            })
            .flatten()
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn step(&self, id: StepId) -> Option<&Step> {
        self.steps().find(|s| s.id == id)
    }

    /// The layers the runtime image takes from the builder, bottom first: the empty
    /// environment, each dependency layer, then the source and the project.
    pub fn layers(&self) -> Vec<Layer<'_>> {
        let env = &self.env;
        let mut layers = vec![Layer {
            kind: LayerKind::Skeleton,
            title: format!("layer: empty environment ({VENV})"),
            keyed_on: "the base image and the package manager".into(),
            why: "the environment every dependency layer installs into".into(),
            steps: vec![&env.skeleton],
        }];
        let n = env.dependencies.len();
        for (i, dep) in env.dependencies.iter().enumerate() {
            layers.push(Layer {
                kind: LayerKind::Dependencies(i),
                title: format!("layer {}/{n}: {}", i + 1, dep.step.title),
                keyed_on: "its own packages (and the base image)".into(),
                why: "one changed dependency changes one layer".into(),
                steps: vec![&dep.step],
            });
        }
        if let Some(step) = &env.check {
            layers.push(Layer {
                kind: LayerKind::Check,
                title: format!("layer: the dependency layers' report ({})", check::REPORT),
                keyed_on: "every dependency layer".into(),
                why: "a few bytes that change with any dependency layer: above them".into(),
                steps: vec![step],
            });
        }
        if let Some(step) = &env.lock_files {
            layers.push(Layer {
                kind: LayerKind::LockFiles,
                title: format!("layer: {}", step.title),
                keyed_on: "the lock files".into(),
                why: "changes with the dependencies, never rebuilds the project".into(),
                steps: vec![step],
            });
        }
        layers.push(Layer {
            kind: LayerKind::Project,
            title: format!("layer: project and source ({})", self.workdir),
            keyed_on: "the source".into(),
            why: "small and changes on every commit: last".into(),
            steps: [&env.source].into_iter().chain(&env.project).collect(),
        });
        layers
    }
}

/// What is known of where the plan will be built, besides the recipe and the project.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The base image's CPython version (its `PYTHON_VERSION`), when known: lock markers are
    /// then decided exactly.
    pub python: Option<pep508_rs::pep440_rs::Version>,
    /// How the engine can join layers (from its LLB caps `mergeop`, `diffop`).
    pub join: Join,
}

/// Whether `target` ("" or "runtime" for the default image) is one of the recipe's, with the
/// error a build of it would give.
pub fn check_target(recipe: &Recipe, target: &str) -> Result<(), Diagnostics> {
    select::select(recipe, target)?;
    Ok(())
}

/// Builds the plan for `target` ("" or "runtime" for the default image).
pub fn plan(
    recipe: &Recipe,
    project: &Project,
    target: &str,
    platform: &Platform,
    facts: &Facts,
) -> Result<Plan, Diagnostics> {
    let sel = select::select(recipe, target)?;
    let workdir = recipe
        .image
        .workdir
        .as_ref()
        .map_or(recipe::DEFAULT_WORKDIR.to_owned(), |w| w.get_ref().clone());
    let base_image = recipe.image.base.as_ref().map_or_else(
        || format!("python:{}-slim", project.python),
        |b| b.get_ref().clone(),
    );
    let user = runtime::user(sel.user.map(|u| u.get_ref().as_str()));

    // Runtime stage, its own layers: system packages, then the user. The builder does not
    // start from them, so changing them never rebuilds the environment.
    let mut runtime = Vec::new();
    runtime.extend(apt::runtime_step(&sel.runtime_packages, platform));
    runtime.extend(runtime::user_step(&user));

    let suffix = platform.cache_suffix();
    let budget = match recipe.python.layers.as_ref().map(|l| *l.get_ref()) {
        None | Some(recipe::Layers::Auto) => layers::Budget::Auto,
        Some(recipe::Layers::Single) => layers::Budget::Max(1),
        Some(recipe::Layers::Max(n)) => layers::Budget::Max(n),
    };
    let ctx = EnvContext {
        recipe,
        project,
        suffix: &suffix,
        workdir: &workdir,
        budget,
        target: crate::lock::Target::new(platform.clone(), facts.python.clone()),
    };
    // Every lock is installed with uv, whichever reader read it.
    let with_uv = |locked: locked::Locked| (uv::environment(&locked, &ctx), true);
    let (env, uses_uv) = match &project.kind {
        ProjectKind::Uv(uv) => with_uv(locked::uv(uv, &sel, &ctx)),
        ProjectKind::Poetry(poetry) => with_uv(locked::poetry(poetry, &sel, &ctx)?),
        ProjectKind::Pylock(pylock) => with_uv(locked::pylock(pylock, &sel, &ctx)?),
        ProjectKind::Pip(pip) => (pip::environment(pip, &ctx), false),
    };
    // Fetching git over SSH needs git and an ssh client: build packages like any other.
    let over_ssh = env.dependencies.iter().any(|d| match &d.step.action {
        Action::Run(run) => run.ssh.is_some(),
        _ => false,
    });
    let tools: &[&str] = if over_ssh { &ssh::TOOLS } else { &[] };
    let mut toolchain = Vec::new();
    toolchain.extend(apt::build_step(recipe, platform, tools));
    if uses_uv {
        toolchain.push(uv::install_step(recipe, &suffix, platform));
    }

    find_links::check(recipe, &env)?;

    let image = runtime::image_spec(recipe, project, &sel, &workdir, &user);
    let mut context_excludes = project.dockerignore.clone();
    context_excludes.extend(
        recipe
            .source_files
            .exclude
            .iter()
            .map(|e| e.get_ref().clone()),
    );
    Ok(Plan {
        target: if target.is_empty() {
            recipe::RUNTIME_TARGET.into()
        } else {
            target.into()
        },
        platform: platform.clone(),
        base_image,
        workdir,
        user,
        manager: project.manager(),
        context_excludes,
        runtime,
        toolchain,
        env,
        join: facts.join,
        image,
    })
}

/// What building an environment needs besides the project kind's own data.
struct EnvContext<'a> {
    recipe: &'a Recipe,
    project: &'a Project,
    /// Cache-mount id suffix of the platform.
    suffix: &'a str,
    workdir: &'a str,
    /// How many dependency layers.
    budget: layers::Budget,
    /// What lock markers are decided against.
    target: crate::lock::Target,
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The resolver options of the steps that install packages: ask again after 1 s, five times,
/// rather than glibc's 5 s, twice. Dependency layers start side by side, each installer with
/// its own lookups, and a resolver that drops part of such a burst otherwise costs each dropped
/// lookup 5 s (measured here: 48 lookups at once took 5.1 s at the median, 1.05 s with these
/// options; one alone 6 ms). uv and pip resolve names through glibc, which reads these.
const RESOLVER_OPTIONS: (&str, &str) = ("RES_OPTIONS", "timeout:1 attempts:5");

/// `(name, value)` pairs, for step environments.
fn env_pairs<const N: usize>(pairs: [(&str, &str); N]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The recipe's index URLs as the package manager's variables.
fn index_env(recipe: &Recipe, env: &mut Vec<(String, String)>, index: &str, extra: &str) {
    if let Some(url) = &recipe.python.index_url {
        env.push((index.into(), url.get_ref().clone()));
    }
    if !recipe.python.extra_index_urls.is_empty() {
        let urls = recipe::values(&recipe.python.extra_index_urls);
        env.push((extra.into(), urls.join(" ")));
    }
}
