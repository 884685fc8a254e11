//! The layer plan: pure data saying which steps run, in which stage and order, what each one's
//! cache key depends on, and why. The ordering rules live here and only here:
//!
//! 1. system packages (apt) before anything Python: runtime ones in the runtime stage, build-only
//!    ones in the builder stage. Both stages start from the base image, so adding a runtime
//!    package never rebuilds the dependencies;
//! 2. the package manager, pinned, before the dependencies;
//! 3. dependencies keyed only on what the lock says to install (the `uv export` text, or the
//!    requirements files), never on the project's version or source;
//! 4. the source after the dependencies, then the project itself;
//! 5. the runtime stage gets the environment's files as layers (dependencies, then source and
//!    project), never the builder's compilers, package manager or caches.

mod explain;

use std::collections::BTreeMap;

pub use explain::explain;

use crate::detect::{PipProject, Project, ProjectKind, UvProject};
use crate::diag::{Diagnostic, Diagnostics};
use crate::recipe::{self, Recipe, Sp};

/// Where the virtual environment lives in every stage.
pub const VENV: &str = "/app/.venv";
/// Where uv is installed in the builder when it comes from PyPI.
pub const UV_HOME: &str = "/opt/uv";
/// Where build inputs (lock files, exported requirements) are mounted, outside the workdir.
pub const INPUTS_DIR: &str = "/pycache";
pub const UID: u32 = 10001;
/// In a `Graft`, the state the builder stage starts from: the base image itself.
pub const BUILDER_START: &str = "@builder-start";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('/');
        let os = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let architecture = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let variant = parts.next().map(str::to_owned);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            os,
            architecture,
            variant,
        })
    }

    /// The platform of the machine pycache runs on.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            "s390x" => "s390x",
            "powerpc64" => "ppc64le",
            "riscv64" => "riscv64",
            other => other,
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// `linux/arm64` or `linux/arm/v7`.
    pub fn id(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// A cache-mount id suffix: cache mounts must never be shared across platforms.
    pub fn cache_suffix(&self) -> String {
        self.id().replace('/', "-")
    }
}

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

/// What a read-only bind mount shows: project files from the context, or another step's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindSource {
    /// A file of the build context (only it crosses the session, so only it keys the step).
    Context(String),
    /// The side output of an earlier step (e.g. `uv export`'s requirements file).
    StepOutput(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    pub source: BindSource,
    pub target: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub script: String,
    pub env: Vec<(String, String)>,
    pub binds: Vec<Bind>,
    pub caches: Vec<CacheMount>,
    /// A scratch mount whose contents are this step's side output, instead of its root.
    pub side_output: Option<String>,
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
    /// The files step `upper` added on top of step `lower`, as one layer of this stage.
    Graft {
        lower: String,
        upper: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Stable name, used for references between steps and in vertex names.
    pub id: String,
    pub stage: Stage,
    pub title: String,
    pub action: Action,
    /// What this step's cache key depends on (besides the steps before it).
    pub keyed_on: Vec<String>,
    /// Why the step is where it is.
    pub why: String,
    /// Side-output steps do not change the stage's filesystem.
    pub side: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeUser {
    Root,
    /// Created by the plan with a fixed uid/gid, so files and cache mounts agree across builds.
    Created {
        name: String,
        uid: u32,
    },
    /// Named by the recipe as `uid[:gid]` or an existing name: used as given.
    Existing(String),
}

impl RuntimeUser {
    pub fn config_value(&self) -> String {
        match self {
            RuntimeUser::Root => String::new(),
            RuntimeUser::Created { name, .. } => name.clone(),
            RuntimeUser::Existing(u) => u.clone(),
        }
    }
}

/// The image config the plan asks for, before the base image's config is merged in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSpec {
    /// Variables set by pycache and the recipe, in order; `PATH` is prefixed, not replaced.
    pub env: Vec<(String, String)>,
    pub path_prefix: Option<String>,
    pub workdir: String,
    pub user: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
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
    pub steps: Vec<Step>,
    pub image: ImageSpec,
}

impl Step {
    /// The vertex name users see in progress output, `[stage] title`; tests and the benchmark
    /// count steps by this prefix.
    pub fn vertex_name(&self) -> String {
        format!("[{}] {}", self.stage.name(), self.title)
    }
}

impl Plan {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn stage_steps(&self, stage: Stage) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.stage == stage)
    }
}

/// The effective selection of a target: top-level values with the target's overrides.
struct Selection<'r> {
    groups: Vec<&'r Sp<String>>,
    extras: Vec<&'r Sp<String>>,
    no_dev: bool,
    runtime_packages: Vec<String>,
    env: BTreeMap<String, String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: Option<&'r Sp<String>>,
}

fn strings(v: &Sp<Vec<Sp<String>>>) -> Vec<String> {
    v.get_ref().iter().map(|s| s.get_ref().clone()).collect()
}

fn select<'r>(recipe: &'r Recipe, target: &str) -> Result<Selection<'r>, Diagnostic> {
    let py = &recipe.python;
    let mut sel = Selection {
        groups: py.groups.iter().collect(),
        extras: py.extras.iter().collect(),
        no_dev: py.no_dev.as_ref().is_none_or(|b| *b.get_ref()),
        runtime_packages: recipe
            .apt
            .packages
            .iter()
            .map(|p| p.get_ref().clone())
            .collect(),
        env: recipe
            .image
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect(),
        entrypoint: recipe.image.entrypoint.as_ref().map(strings),
        cmd: recipe.image.cmd.as_ref().map(strings),
        user: recipe.image.user.as_ref(),
    };
    if target == recipe::RUNTIME_TARGET || target.is_empty() {
        return Ok(sel);
    }
    let Some(t) = recipe.targets.get(target) else {
        let mut names: Vec<&str> = vec![recipe::RUNTIME_TARGET];
        names.extend(recipe.targets.keys().map(String::as_str));
        let help = match crate::diag::did_you_mean(target, &names) {
            Some(n) => format!("did you mean `{n}`?"),
            None => format!("targets in this recipe: {}", names.join(", ")),
        };
        return Err(
            Diagnostic::new(&recipe.file, format!("target `{target}` is not defined")).help(help),
        );
    };
    let t = t.get_ref();
    if let Some(g) = &t.groups {
        sel.groups = g.iter().collect();
    }
    if let Some(e) = &t.extras {
        sel.extras = e.iter().collect();
    }
    if let Some(nd) = &t.no_dev {
        sel.no_dev = *nd.get_ref();
    }
    sel.runtime_packages
        .extend(t.packages.iter().map(|p| p.get_ref().clone()));
    for (k, v) in &t.env {
        sel.env.insert(k.clone(), v.get_ref().clone());
    }
    if let Some(e) = &t.entrypoint {
        sel.entrypoint = Some(strings(e));
    }
    if let Some(c) = &t.cmd {
        sel.cmd = Some(strings(c));
    }
    if let Some(u) = &t.user {
        sel.user = Some(u);
    }
    Ok(sel)
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn sh_join(args: &[String]) -> String {
    args.iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn apt_step(id: &str, stage: Stage, packages: Vec<String>, platform: &Platform, why: &str) -> Step {
    let packages = sorted_unique(packages);
    let suffix = platform.cache_suffix();
    let script = [
        "set -eu".to_owned(),
        "rm -f /etc/apt/apt.conf.d/docker-clean".to_owned(),
        "echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache".to_owned(),
        "apt-get update -qq".to_owned(),
        format!(
            "apt-get install -y -qq --no-install-recommends {}",
            sh_join(&packages)
        ),
    ]
    .join("\n");
    Step {
        id: id.into(),
        stage,
        title: format!("apt-get install {}", packages.join(" ")),
        keyed_on: vec![format!("apt packages: {}", packages.join(", "))],
        why: why.into(),
        side: false,
        action: Action::Run(Run {
            script,
            env: vec![("DEBIAN_FRONTEND".into(), "noninteractive".into())],
            binds: Vec::new(),
            caches: vec![
                CacheMount {
                    id: format!("pycache-apt-cache-{suffix}"),
                    target: "/var/cache/apt".into(),
                    sharing: Sharing::Locked,
                },
                CacheMount {
                    id: format!("pycache-apt-lists-{suffix}"),
                    target: "/var/lib/apt".into(),
                    sharing: Sharing::Locked,
                },
            ],
            side_output: None,
        }),
    }
}

/// Builds the plan for `target` ("" or "runtime" for the default image).
pub fn plan(
    recipe: &Recipe,
    project: &Project,
    target: &str,
    platform: &Platform,
) -> Result<Plan, Diagnostics> {
    let sel = select(recipe, target)?;
    let workdir = recipe
        .image
        .workdir
        .as_ref()
        .map_or(recipe::DEFAULT_WORKDIR.to_owned(), |w| w.get_ref().clone());
    let base_image = recipe.image.base.as_ref().map_or_else(
        || format!("python:{}-slim", project.python),
        |b| b.get_ref().clone(),
    );
    let user = match sel.user.map(|u| u.get_ref().as_str()) {
        None => RuntimeUser::Created {
            name: recipe::DEFAULT_USER.into(),
            uid: UID,
        },
        Some("root" | "0" | "0:0") => RuntimeUser::Root,
        Some(name) if name.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            RuntimeUser::Existing(name.into())
        }
        Some(name) => RuntimeUser::Created {
            name: name.into(),
            uid: UID,
        },
    };
    let mut steps = Vec::new();

    // Runtime stage, first its own layers: system packages, then the user. The builder does
    // not start from them, so changing them never rebuilds the environment.
    if !sel.runtime_packages.is_empty() {
        steps.push(apt_step(
            "apt-runtime",
            Stage::Runtime,
            sel.runtime_packages.clone(),
            platform,
            "runtime system packages change rarely: first in the runtime stage, and not in the builder, so adding one never reinstalls the dependencies",
        ));
    }
    if let RuntimeUser::Created { name, uid } = &user {
        let n = sh_quote(name);
        steps.push(Step {
            id: "user".into(),
            stage: Stage::Runtime,
            title: format!("create user {name} ({uid}:{uid})"),
            keyed_on: vec![format!("user name {name}, uid/gid {uid}")],
            why: "a fixed uid/gid keeps file ownership identical on every builder".into(),
            side: false,
            action: Action::Run(Run {
                script: format!(
                    "set -eu\ntouch /tmp/.pycache-start\ngroupadd --system --gid {uid} {n}\nuseradd --system --uid {uid} --gid {uid} --home-dir /home/{n} --create-home --shell /usr/sbin/nologin {n}\n{}",
                    normalize_since_start(&["/etc", "/home", "/var"])
                ),
                env: Vec::new(),
                binds: Vec::new(),
                caches: Vec::new(),
                side_output: None,
            }),
        });
    }

    // Builder stage.
    let build_packages: Vec<String> = recipe
        .apt
        .build_packages
        .iter()
        .map(|p| p.get_ref().clone())
        .collect();
    if !build_packages.is_empty() {
        steps.push(apt_step(
            "apt-build",
            Stage::Builder,
            build_packages,
            platform,
            "compilers and headers are needed only to build wheels: builder stage only",
        ));
    }
    let suffix = platform.cache_suffix();
    match &project.kind {
        ProjectKind::Uv(uv) => {
            uv_steps(recipe, &mut steps, &suffix);
            let env = uv_env(recipe);
            uv_dependency_steps(uv, &sel, recipe, &mut steps, &env, &suffix, &workdir);
            uv_project_step(
                uv, &sel, recipe, project, &mut steps, &env, &suffix, &workdir,
            );
        }
        ProjectKind::Pip(pip) => {
            pip_steps(pip, recipe, &mut steps, &pip_env(recipe), &suffix, &workdir);
        }
    }
    let deps_id = "deps";
    // The dependency layer holds the whole environment: everything from the step that
    // creates it (`venv`, where that is a step of its own) to the dependency install.
    let env_start = if steps.iter().any(|s| s.id == "venv") {
        "venv"
    } else {
        deps_id
    };
    let lower = steps
        .iter()
        .take_while(|s| s.id != env_start)
        .filter(|s| s.stage == Stage::Builder && !s.side)
        .last()
        .map_or(BUILDER_START.to_owned(), |s| s.id.clone());

    // Runtime stage, then the builder's files: dependencies, then source and project.
    steps.push(Step {
        id: "runtime-deps".into(),
        stage: Stage::Runtime,
        title: format!("layer: dependencies ({VENV})"),
        keyed_on: vec!["the dependency step's result".into()],
        why: "the largest layer, shared by every build of the same lock".into(),
        side: false,
        action: Action::Graft {
            lower,
            upper: deps_id.into(),
        },
    });
    steps.push(Step {
        id: "runtime-project".into(),
        stage: Stage::Runtime,
        title: format!("layer: project and source ({workdir})"),
        keyed_on: vec!["the project step's result".into()],
        why: "small and changes on every commit: last".into(),
        side: false,
        action: Action::Graft {
            lower: deps_id.into(),
            // Projects with nothing to build end with their source.
            upper: steps
                .iter()
                .rfind(|s| s.stage == Stage::Builder && !s.side)
                .map_or("source".into(), |s| s.id.clone()),
        },
    });

    let image = image_spec(recipe, project, &sel, &workdir, &user);
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
        steps,
        image,
    })
}

/// The mtime every file of the environment and source gets: the Unix epoch. Install tools
/// stamp files with the time they ran; without this, two clean builders give different layers.
pub const FILE_EPOCH: i64 = 0;

/// Shell lines that set every file changed by a step under the venv's and workdir's parents to
/// `FILE_EPOCH`. Only files newer than it are touched: touching an unchanged file would copy it
/// up into the step's layer.
fn normalize_mtimes(workdir: &str) -> String {
    let venv_parent = VENV.rsplit_once('/').map_or("/", |(p, _)| p);
    let mut roots = vec![venv_parent.to_owned()];
    if workdir != venv_parent {
        roots.push(workdir.to_owned());
    }
    format!(
        "find {} -newermt @{FILE_EPOCH} -exec touch -h -d @{FILE_EPOCH} {{}} +",
        sh_join(&roots)
    )
}

/// uv writes `uv_cache.json` (with the build's time) into the dist-info of local packages it
/// builds, and lists it in `RECORD`: drop both, so the project layer is reproducible. Only uv
/// reads the file, to decide whether to rebuild, and the image has no uv.
fn drop_uv_cache_info() -> String {
    format!(
        "for f in {VENV}/lib/python*/site-packages/*.dist-info/uv_cache.json; do [ -e \"$f\" ] || continue; rm \"$f\"; sed -i '/uv_cache\\.json,/d' \"${{f%/*}}/RECORD\"; done"
    )
}

/// Shell line that sets files changed since the step began (`/tmp/.pycache-start`, on the
/// step's tmpfs) under `roots` to `FILE_EPOCH`, for steps that edit files of the base image.
fn normalize_since_start(roots: &[&str]) -> String {
    format!(
        "find {} -xdev -newer /tmp/.pycache-start -exec touch -h -d @{FILE_EPOCH} {{}} +",
        roots.join(" ")
    )
}

/// Env of steps that write the environment: `SOURCE_DATE_EPOCH` makes Python write
/// hash-checked `.pyc` files, which do not depend on mtimes.
fn reproducible_env(env: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("SOURCE_DATE_EPOCH".into(), FILE_EPOCH.to_string()));
    env.sort();
    env
}

fn copy_source_step(recipe: &Recipe, workdir: &str) -> Step {
    Step {
        id: "source".into(),
        stage: Stage::Builder,
        title: format!("copy source to {workdir}"),
        keyed_on: vec!["the project's files, less .dockerignore and [source].exclude".into()],
        why: "source changes most often: after the dependencies so they stay cached".into(),
        side: false,
        action: Action::CopySource {
            dest: workdir.into(),
            include: recipe
                .source_files
                .include
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            // The context's own excludes are applied when it is transferred; these are the
            // files the environment must never receive from the source, whatever the context has.
            exclude: vec![".venv".into(), "**/__pycache__".into()],
            mtime: FILE_EPOCH,
        },
    }
}

/// Installs uv in the builder at `UV_HOME/bin/uv`.
fn uv_steps(recipe: &Recipe, steps: &mut Vec<Step>, suffix: &str) {
    if let Some(image) = &recipe.python.uv_image {
        steps.push(Step {
            id: "uv".into(),
            stage: Stage::Builder,
            title: format!("copy uv from {}", image.get_ref()),
            keyed_on: vec![format!("uv image {}", image.get_ref())],
            why: "the package manager, pinned, before anything it installs".into(),
            side: false,
            action: Action::CopyFromImage {
                image: image.get_ref().clone(),
                src: "/uv".into(),
                dest: format!("{UV_HOME}/bin/uv"),
            },
        });
    } else {
        let version = recipe
            .python
            .uv
            .as_ref()
            .map_or(recipe::DEFAULT_UV_VERSION.to_owned(), |v| {
                v.get_ref().clone()
            });
        steps.push(Step {
            id: "uv".into(),
            stage: Stage::Builder,
            title: format!("install uv {version}"),
            keyed_on: vec![format!("uv version {version}")],
            why: "the package manager, pinned, before anything it installs".into(),
            side: false,
            action: Action::Run(Run {
                // `--target` rather than a venv: uv is one static binary, and creating a venv
                // costs seconds on every cold builder. (`--prefix` would put it in
                // `{UV_HOME}/local/bin` on Debian's Python.)
                script: format!(
                    "python3 -m pip install --quiet --no-warn-script-location --target={UV_HOME} {}",
                    sh_quote(&format!("uv=={version}"))
                ),
                // As variables, not flags, so that old pips ignore what they do not know.
                // Debian's system Python refuses installs outside a venv (PEP 668); this is a
                // builder-only directory, so that protection does not apply.
                env: vec![
                    ("PIP_BREAK_SYSTEM_PACKAGES".into(), "1".into()),
                    ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
                    ("PIP_ROOT_USER_ACTION".into(), "ignore".into()),
                ],
                binds: Vec::new(),
                caches: vec![CacheMount {
                    id: format!("pycache-pip-{suffix}"),
                    target: "/root/.cache/pip".into(),
                    sharing: Sharing::Locked,
                }],
                side_output: None,
            }),
        });
    }
}

fn uv_env(recipe: &Recipe) -> Vec<(String, String)> {
    let mut env = vec![
        ("UV_CACHE_DIR".into(), "/root/.cache/uv".into()),
        (
            "UV_COMPILE_BYTECODE".into(),
            if recipe.python.compile_bytecode.unwrap_or(true) {
                "1"
            } else {
                "0"
            }
            .into(),
        ),
        ("UV_LINK_MODE".into(), "copy".into()),
        ("UV_PROJECT_ENVIRONMENT".into(), VENV.into()),
        ("UV_PYTHON_DOWNLOADS".into(), "never".into()),
    ];
    index_env(recipe, &mut env, "UV_DEFAULT_INDEX", "UV_INDEX");
    env.sort();
    env
}

/// The recipe's index URLs as the package manager's variables.
fn index_env(recipe: &Recipe, env: &mut Vec<(String, String)>, index: &str, extra: &str) {
    if let Some(url) = &recipe.python.index_url {
        env.push((index.into(), url.get_ref().clone()));
    }
    if !recipe.python.extra_index_urls.is_empty() {
        let urls: Vec<String> = recipe
            .python
            .extra_index_urls
            .iter()
            .map(|u| u.get_ref().clone())
            .collect();
        env.push((extra.into(), urls.join(" ")));
    }
}

fn pip_env(recipe: &Recipe) -> Vec<(String, String)> {
    let mut env = vec![("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into())];
    index_env(recipe, &mut env, "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL");
    env.sort();
    env
}

/// `--group`, `--extra`, `--no-dev` flags shared by `uv export` and `uv sync`.
fn uv_selection_flags(sel: &Selection, recipe: &Recipe) -> Vec<String> {
    let mut flags = Vec::new();
    if sel.no_dev {
        flags.push("--no-dev".to_owned());
    }
    if recipe.python.all_extras {
        flags.push("--all-extras".to_owned());
    }
    let mut extras: Vec<&String> = sel.extras.iter().map(|e| e.get_ref()).collect();
    extras.sort();
    extras.dedup();
    for e in extras {
        flags.push(format!("--extra={e}"));
    }
    let mut groups: Vec<&String> = sel.groups.iter().map(|g| g.get_ref()).collect();
    groups.sort();
    groups.dedup();
    for g in groups {
        flags.push(format!("--group={g}"));
    }
    flags
}

fn uv_cache(suffix: &str) -> CacheMount {
    CacheMount {
        id: format!("pycache-uv-{suffix}"),
        target: "/root/.cache/uv".into(),
        sharing: Sharing::Locked,
    }
}

#[allow(clippy::too_many_arguments)]
fn uv_dependency_steps(
    uv: &UvProject,
    sel: &Selection,
    recipe: &Recipe,
    steps: &mut Vec<Step>,
    env: &[(String, String)],
    suffix: &str,
    workdir: &str,
) {
    let recipe_flags = uv_selection_flags(sel, recipe);
    let mut args: Vec<String> = vec![
        "export".into(),
        "--frozen".into(),
        "--format=requirements-txt".into(),
        "--no-header".into(),
        "--no-annotate".into(),
        "--no-emit-project".into(),
        "--no-emit-workspace".into(),
    ];
    let mut locals = uv.local_packages.clone();
    locals.sort();
    for name in &locals {
        args.push(format!("--no-emit-package={name}"));
    }
    if uv.virtual_root {
        args.push("--all-packages".into());
    }
    args.extend(recipe_flags);
    let export_path = format!("{INPUTS_DIR}/export");
    args.push(format!("--output-file={export_path}/requirements.txt"));
    let binds = uv
        .manifest_files
        .iter()
        .map(|f| Bind {
            source: BindSource::Context(f.clone()),
            target: format!("{workdir}/{f}"),
        })
        .collect();
    steps.push(Step {
        id: "export".into(),
        stage: Stage::Builder,
        title: "uv export (the dependency list)".into(),
        keyed_on: uv.manifest_files.clone(),
        why: "cheap and re-run on any lock or pyproject change; its output, not the lock, keys the dependency layer, so a version bump leaves the dependencies cached".into(),
        side: true,
        action: Action::Run(Run {
            script: format!("{UV_HOME}/bin/uv {}", sh_join(&args)),
            env: env.to_vec(),
            binds,
            caches: vec![uv_cache(suffix)],
            side_output: Some(export_path.clone()),
        }),
    });
    steps.push(Step {
        id: "deps".into(),
        stage: Stage::Builder,
        title: format!(
            "install {}",
            plural(
                uv.lock.third_party().map(|p| &p.name).collect::<std::collections::BTreeSet<_>>().len(),
                "locked dependency",
                "locked dependencies"
            )
        ),
        keyed_on: vec!["the exported requirements (names, versions, hashes, markers)".into()],
        why: "dependencies change less often than the source and the version: before them".into(),
        side: false,
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{UV_HOME}/bin/uv venv --quiet {VENV}\n{UV_HOME}/bin/uv pip install --python={VENV}/bin/python --no-deps --requirement={export_path}/requirements.txt\n{}",
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(env),
            binds: vec![Bind {
                source: BindSource::StepOutput("export".into()),
                target: export_path,
            }],
            caches: vec![uv_cache(suffix)],
            side_output: None,
        }),
    });
}

#[allow(clippy::too_many_arguments)]
fn uv_project_step(
    uv: &UvProject,
    sel: &Selection,
    recipe: &Recipe,
    project: &Project,
    steps: &mut Vec<Step>,
    env: &[(String, String)],
    suffix: &str,
    workdir: &str,
) {
    steps.push(copy_source_step(recipe, workdir));
    let mut args: Vec<String> = vec!["sync".into(), "--locked".into(), "--no-editable".into()];
    if uv.virtual_root {
        args.push("--all-packages".into());
    }
    args.extend(uv_selection_flags(sel, recipe));
    // uv caches built local wheels keyed on pyproject.toml's mtime: force a rebuild so the
    // project layer always holds the source it was built from.
    let mut locals = uv.local_packages.clone();
    locals.sort();
    for name in &locals {
        args.push(format!("--reinstall-package={name}"));
    }
    let name = project.name.as_deref().unwrap_or("the project");
    steps.push(Step {
        id: "project".into(),
        stage: Stage::Builder,
        title: format!("uv sync: install {name}"),
        keyed_on: vec!["the source".into()],
        why: "the project itself, last: only it is rebuilt on a source edit".into(),
        side: false,
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{UV_HOME}/bin/uv {}\n{}{}\n{}",
                sh_join(&args),
                compile_local_packages(&locals, env),
                drop_uv_cache_info(),
                normalize_mtimes(workdir)
            ),
            // uv would byte-compile the whole environment again, which the dependency step
            // already did: compile only the local packages (above).
            env: reproducible_env(&without_compile(env)),
            binds: Vec::new(),
            caches: vec![uv_cache(suffix)],
            side_output: None,
        }),
    });
}

/// `env` with `UV_COMPILE_BYTECODE` off.
fn without_compile(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| match k.as_str() {
            "UV_COMPILE_BYTECODE" => (k.clone(), "0".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

/// Shell lines that byte-compile the `.py` files of the local packages' dist-info `RECORD`s,
/// when the recipe compiles bytecode (a line ending in a newline, or nothing).
fn compile_local_packages(locals: &[String], env: &[(String, String)]) -> String {
    let compile = env
        .iter()
        .any(|(k, v)| k == "UV_COMPILE_BYTECODE" && v == "1");
    if !compile || locals.is_empty() {
        return String::new();
    }
    let records: Vec<String> = locals
        .iter()
        .map(|n| format!("{}-*.dist-info/RECORD", n.replace('-', "_")))
        .collect();
    format!(
        "(cd {VENV}/lib/python*/site-packages && for r in {}; do [ -e \"$r\" ] || continue; sed -n 's/^\\([^,]*\\.py\\),.*/\\1/p' \"$r\" | grep -v '^\\.\\./' | xargs -r {VENV}/bin/python -m py_compile; done)\n",
        records.join(" ")
    )
}

fn pip_steps(
    pip: &PipProject,
    recipe: &Recipe,
    steps: &mut Vec<Step>,
    env: &[(String, String)],
    suffix: &str,
    workdir: &str,
) {
    let req_dir = format!("{INPUTS_DIR}/requirements");
    let binds = pip
        .files
        .iter()
        .map(|f| Bind {
            source: BindSource::Context(f.path.clone()),
            target: format!("{req_dir}/{}", f.path),
        })
        .collect();
    let mut install = vec![
        format!("{VENV}/bin/pip"),
        "install".into(),
        "--quiet".into(),
    ];
    if pip.require_hashes {
        install.push("--require-hashes".into());
    }
    for f in &pip.entry_files {
        install.push(format!("--requirement={req_dir}/{f}"));
    }
    let pip_cache = CacheMount {
        id: format!("pycache-pip-{suffix}"),
        target: "/root/.cache/pip".into(),
        sharing: Sharing::Locked,
    };
    // Its own step: creating a venv takes seconds, and must not be paid again on every
    // requirements change.
    steps.push(Step {
        id: "venv".into(),
        stage: Stage::Builder,
        title: format!("python3 -m venv {VENV}"),
        keyed_on: vec!["the base image".into()],
        why: "the empty environment, before anything is installed into it".into(),
        side: false,
        action: Action::Run(Run {
            script: format!(
                "set -eu\npython3 -m venv {VENV}\n{}",
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(env),
            binds: Vec::new(),
            caches: Vec::new(),
            side_output: None,
        }),
    });
    let count: usize = pip.files.iter().map(|f| f.requirements.len()).sum();
    steps.push(Step {
        id: "deps".into(),
        stage: Stage::Builder,
        title: format!(
            "pip install {}",
            plural(count, "requirement", "requirements")
        ),
        keyed_on: pip.files.iter().map(|f| f.path.clone()).collect(),
        why: "requirements change less often than the source: before it".into(),
        side: false,
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{}\n{}",
                sh_join(&install),
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(env),
            binds,
            caches: vec![pip_cache.clone()],
            side_output: None,
        }),
    });
    steps.push(copy_source_step(recipe, workdir));
    if !pip.installable {
        // Nothing to build: the source is the project.
        return;
    }
    steps.push(Step {
        id: "project".into(),
        stage: Stage::Builder,
        title: "pip install the project".into(),
        keyed_on: vec!["the source".into()],
        why: "the project itself, last: only it is rebuilt on a source edit".into(),
        side: false,
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{VENV}/bin/pip install --quiet --no-deps {}\n{}",
                sh_quote(workdir),
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(env),
            binds: Vec::new(),
            caches: vec![pip_cache],
            side_output: None,
        }),
    });
}

fn image_spec(
    recipe: &Recipe,
    project: &Project,
    sel: &Selection,
    workdir: &str,
    user: &RuntimeUser,
) -> ImageSpec {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("PYTHONUNBUFFERED".into(), "1".into());
    env.insert("VIRTUAL_ENV".into(), VENV.into());
    for (k, v) in &sel.env {
        env.insert(k.clone(), v.clone());
    }
    let path_prefix = (!env.contains_key("PATH")).then(|| format!("{VENV}/bin"));
    let cmd = match (&sel.cmd, &sel.entrypoint) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(match project.scripts.as_slice() {
            [one] => vec![one.clone()],
            many => match project.name.as_ref().filter(|n| many.contains(n)) {
                Some(n) => vec![n.clone()],
                None => vec!["python".into()],
            },
        }),
    };
    let mut labels: BTreeMap<String, String> = recipe
        .image
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect();
    if let Some(v) = &project.version {
        labels
            .entry("org.opencontainers.image.version".into())
            .or_insert_with(|| v.clone());
    }
    if let Some(n) = &project.name {
        labels
            .entry("org.opencontainers.image.title".into())
            .or_insert_with(|| n.clone());
    }
    ImageSpec {
        env: env.into_iter().collect(),
        path_prefix,
        workdir: workdir.into(),
        user: user.config_value(),
        entrypoint: sel.entrypoint.clone(),
        cmd,
        exposed_ports: sorted_unique(
            recipe
                .image
                .expose
                .iter()
                .map(|p| p.get_ref().clone())
                .collect(),
        ),
        labels,
    }
}
