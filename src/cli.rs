//! The command line: the same pipeline as the frontend, for humans and for `buildctl`.
//! Parsed arguments become `Inputs` before anything runs; problems with the recipe or project
//! exit with code 2 and print nothing on stdout.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use prost::Message;

use crate::detect::{MAX_RECIPE_SIZE, ProjectFiles, Refusal, read_text};
use crate::diag::Diagnostics;
use crate::image::{BaseConfig, image_config};
use crate::lower::LowerOptions;
use crate::platform::Platform;
use crate::{DEFAULT_RECIPE, Inputs, plan_build};

#[derive(Parser, Debug)]
#[command(
    name = "pycache",
    version,
    about = "Cache-optimal Docker images for Python projects, as a BuildKit frontend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run as a BuildKit frontend (gRPC on stdin/stdout); the frontend image's entrypoint.
    Frontend,
    /// Print the LLB Definition (for `buildctl build --local context=DIR`), or its JSON dump.
    Llb {
        #[command(flatten)]
        build: BuildArgs,
        /// Print the ops as JSON, in the shape of `buildctl debug dump-llb`.
        #[arg(long)]
        json: bool,
    },
    /// Explain the layer plan: each step, what invalidates it, and why it is where it is.
    Explain {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Check a recipe against its project and print every problem.
    Check {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Print the OCI image config the build produces (base image config not resolved).
    Config {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Write a commented pycache.toml for the project in DIR (never over one, unless --force).
    Init {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Replace an existing pycache.toml.
        #[arg(long)]
        force: bool,
        /// The frontend image of the `# syntax=` line; default $PYCACHE_FRONTEND_IMAGE, else
        /// local/pycache-frontend:dev.
        #[arg(long, value_name = "IMAGE")]
        syntax: Option<String>,
        /// The base image, instead of python:3.X-slim.
        #[arg(long, value_name = "IMAGE")]
        base: Option<String>,
    },
    /// Write a CI workflow that builds the recipe.
    Ci {
        #[command(subcommand)]
        provider: CiProvider,
    },
    /// Print an equivalent Dockerfile for the built-in Dockerfile frontend (eject).
    Dockerfile {
        #[command(flatten)]
        build: BuildArgs,
        /// Start with `# syntax=IMAGE` (none by default: the engine's built-in frontend).
        #[arg(long, value_name = "IMAGE")]
        syntax: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum CiProvider {
    /// GitHub Actions: `.github/workflows/<image>.yml` (docs/ci.md).
    Github(GithubArgs),
}

#[derive(Args, Debug)]
struct GithubArgs {
    /// The repository's root, where `.github/workflows/` goes.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The image's name; default the project's name.
    #[arg(long)]
    image: Option<String>,
    /// Where to push: ghcr, dockerhub, or a registry host.
    #[arg(long, default_value = "ghcr")]
    registry: String,
    /// The platforms to build, comma-separated.
    #[arg(long, default_value = "linux/amd64,linux/arm64")]
    platforms: String,
    /// The cache backend: gha or registry.
    #[arg(long, default_value = "gha")]
    cache: String,
    /// The build context (where pycache.toml is), relative to DIR.
    #[arg(long, default_value = ".")]
    context: String,
    /// Replace an existing workflow.
    #[arg(long)]
    force: bool,
    /// Print the workflow instead of writing it.
    #[arg(long)]
    stdout: bool,
}

#[derive(Args, Debug)]
struct BuildArgs {
    /// The project directory (the build context).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The recipe; default `DIR/pycache.toml`.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// The target to build; default the runtime image.
    #[arg(long, default_value = "")]
    target: String,
    /// A build arg, `NAME=VALUE`; repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
    /// The target platform, e.g. `linux/arm64`; default the host's.
    #[arg(long)]
    platform: Option<String>,
    /// Lower for an engine without MergeOp/DiffOp (Docker's classic image store): layers are
    /// copied onto the image instead of merged.
    #[arg(long)]
    copy_layers: bool,
    /// The base image's Python version (e.g. 3.12.7), to decide the lock's markers as the
    /// frontend does with the base image's PYTHON_VERSION.
    #[arg(long, value_name = "VERSION")]
    python: Option<String>,
    /// A named context, as for `docker buildx build`: `NAME=DIR` is read from the local `NAME`
    /// (`buildctl --local NAME=DIR`), `NAME=docker-image://REF` from that image; a context
    /// named like the base image or uv-image replaces it. find-links contexts not given are
    /// locals of their name. Repeatable.
    #[arg(long = "build-context", value_name = "NAME=DIR|docker-image://REF")]
    build_contexts: Vec<String>,
}

/// Input problems: printed to stderr, exit code 2.
const EXIT_INVALID: i32 = 2;

struct Loaded {
    recipe_file: String,
    recipe_text: String,
    recipe_dockerignore: Option<String>,
    files: ProjectFiles,
    build_args: BTreeMap<String, String>,
    platform: Platform,
    target: String,
    facts: crate::plan::Facts,
}

impl Loaded {
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            recipe_file: &self.recipe_file,
            recipe_text: &self.recipe_text,
            recipe_dockerignore: self.recipe_dockerignore.as_deref(),
            files: &self.files,
            target: &self.target,
            build_args: &self.build_args,
            platform: self.platform.clone(),
            facts: self.facts.clone(),
        }
    }
}

fn usage_error(msg: String) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg))
}

#[derive(Debug)]
struct UsageError(String);
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

fn load(args: &BuildArgs) -> Result<Loaded, Failure> {
    let recipe_path = args
        .file
        .clone()
        .unwrap_or_else(|| args.dir.join(DEFAULT_RECIPE));
    let recipe_name = display_name(&recipe_path);
    let recipe_text = match read_text(&recipe_path, MAX_RECIPE_SIZE) {
        Ok(text) => text,
        Err(Refusal::Io(e)) => {
            return Err(usage_error(format!(
                "cannot read recipe {}: {e}\n  = help: create one with a [python] section, or pass -f",
                recipe_path.display()
            ))
            .into());
        }
        Err(why) => return Err(Diagnostics::from(why.diagnostic(&recipe_name)).into()),
    };
    let dockerignore_path = PathBuf::from(format!("{}.dockerignore", recipe_path.display()));
    let recipe_dockerignore = match read_text(&dockerignore_path, MAX_RECIPE_SIZE) {
        Ok(text) => Some(text),
        Err(Refusal::Io(_)) if !dockerignore_path.exists() => None,
        Err(why) => {
            let name = display_name(&dockerignore_path);
            return Err(Diagnostics::from(why.diagnostic(&name)).into());
        }
    };
    let files = ProjectFiles::from_dir(&args.dir)
        .map_err(|e| usage_error(format!("cannot read project {}: {e}", args.dir.display())))?;
    let mut build_args = BTreeMap::new();
    for a in &args.build_args {
        let (k, v) = a
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| usage_error(format!("--build-arg {a}: expected NAME=VALUE")))?;
        build_args.insert(k.to_owned(), v.to_owned());
    }
    if let Ok(recipe) = crate::recipe::parse(&recipe_name, &recipe_text, &build_args) {
        for name in crate::recipe::unused_build_args(&recipe, &build_args) {
            eprintln!(
                "warning: --build-arg {name} is not declared in [args] of {recipe_name}: it is ignored"
            );
        }
    }
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| usage_error(format!("--platform: {e}")))?,
        None => Platform::host(),
    };
    let python = match &args.python {
        Some(v) => Some(
            v.parse()
                .map_err(|e| usage_error(format!("--python {v}: {e}")))?,
        ),
        None => None,
    };
    let facts = crate::plan::Facts {
        python,
        join: if args.copy_layers {
            crate::plan::Join::Copy
        } else {
            crate::plan::Join::Merge
        },
    };
    Ok(Loaded {
        facts,
        recipe_file: recipe_name,
        recipe_text,
        recipe_dockerignore,
        files,
        build_args,
        platform,
        target: args.target.clone(),
    })
}

/// The recipe's name as users typed it, without a leading `./`.
fn display_name(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

enum Failure {
    Invalid(Diagnostics),
    Other(anyhow::Error),
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Self {
        Failure::Invalid(d)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Other(e.into())
    }
}

/// Runs the CLI; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Frontend => return crate::gateway::run_frontend(),
        Command::Llb { build, json } => cmd_llb(&build, json),
        Command::Explain { build } => cmd_explain(&build),
        Command::Check { build } => cmd_check(&build),
        Command::Config { build } => cmd_config(&build),
        Command::Dockerfile { build, syntax } => cmd_dockerfile(&build, syntax),
        Command::Ci {
            provider: CiProvider::Github(args),
        } => cmd_ci_github(&args),
        Command::Init {
            dir,
            force,
            syntax,
            base,
        } => cmd_init(&dir, force, syntax, base),
    };
    match result {
        Ok(()) => 0,
        Err(Failure::Invalid(d)) => {
            eprint!("{d}");
            EXIT_INVALID
        }
        Err(Failure::Other(e)) => {
            if e.downcast_ref::<UsageError>().is_some() {
                eprintln!("error: {e}");
                EXIT_INVALID
            } else {
                eprintln!("error: {e:#}");
                1
            }
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

fn cmd_llb(args: &BuildArgs, json: bool) -> Result<(), Failure> {
    let loaded = load(args)?;
    let plan = plan_build(&loaded.inputs())?;
    let def = crate::definition(&plan, &lower_options(args, &plan)?);
    if json {
        write_stdout(crate::llb::dump::dump_text(&def).as_bytes())
    } else {
        write_stdout(&def.encode_to_vec())
    }
}

/// The offline lowering, with the `--build-context` flags read as buildx sends them to the
/// frontend (`context:NAME=local:NAME` or `docker-image://REF`).
fn lower_options(args: &BuildArgs, plan: &crate::plan::Plan) -> Result<LowerOptions, Failure> {
    use crate::gateway::named;
    let mut raw = BTreeMap::new();
    for c in &args.build_contexts {
        let (name, value) = c
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| {
                usage_error(format!(
                    "--build-context {c}: expected NAME=DIR or NAME=docker-image://REF"
                ))
            })?;
        let value = if value.contains("://") {
            value.to_owned()
        } else {
            format!("local:{name}")
        };
        raw.insert(format!("context:{name}"), value);
    }
    let opts =
        crate::gateway::options::FrontendOptions::from_options(raw, String::new(), Vec::new())
            .map_err(|e| usage_error(e.to_string()))?;
    let source = |given: named::Given| -> Result<crate::lower::NamedSource, Failure> {
        match named::source(&given, &opts).map_err(usage_error)? {
            // buildctl's locals belong to its own session.
            crate::lower::NamedSource::Local { name, .. } => Ok(crate::lower::NamedSource::Local {
                name,
                session: None,
            }),
            image => Ok(image),
        }
    };
    let mut lower = LowerOptions::offline();
    for name in plan.named_contexts() {
        if let Some(given) = named::lookup(&opts, name, &plan.platform) {
            lower.named.insert(name.to_owned(), source(given)?);
        }
    }
    let uv_image = plan.toolchain.iter().find_map(|s| match &s.action {
        crate::plan::Action::CopyFromImage { image, .. } => Some(image.clone()),
        _ => None,
    });
    for reference in std::iter::once(plan.base_image.clone()).chain(uv_image) {
        if let Some(given) = named::for_image(&opts, &reference, &plan.platform) {
            lower.images.insert(reference, source(given)?);
        }
    }
    Ok(lower)
}

fn cmd_explain(args: &BuildArgs) -> Result<(), Failure> {
    let loaded = load(args)?;
    let plan = plan_build(&loaded.inputs())?;
    write_stdout(crate::plan::explain(&plan).as_bytes())
}

fn cmd_config(args: &BuildArgs) -> Result<(), Failure> {
    let loaded = load(args)?;
    let plan = plan_build(&loaded.inputs())?;
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok());
    let config = image_config(&plan, &BaseConfig::default(), epoch);
    let mut text = serde_json::to_string_pretty(&config).map_err(anyhow::Error::from)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

fn cmd_init(
    dir: &Path,
    force: bool,
    syntax: Option<String>,
    base: Option<String>,
) -> Result<(), Failure> {
    use crate::init::{InitError, Options, init_dir};
    let syntax = syntax
        .or_else(|| std::env::var("PYCACHE_FRONTEND_IMAGE").ok())
        .unwrap_or_else(|| crate::DEFAULT_FRONTEND_IMAGE.to_owned());
    match init_dir(dir, &Options { syntax, base }, force) {
        Ok(path) => {
            eprintln!(
                "wrote {}; build with: docker buildx build -f {} {}",
                display_name(&path),
                display_name(&path),
                display_name(dir)
            );
            Ok(())
        }
        Err(InitError::Exists(path)) => Err(usage_error(format!(
            "{} exists; pycache init never replaces a recipe (--force does)",
            display_name(&path)
        ))
        .into()),
        Err(InitError::Invalid(d)) => Err(d.into()),
        Err(InitError::Io(e)) => Err(anyhow::Error::from(e)
            .context(format!("pycache init {}", dir.display()))
            .into()),
    }
}

fn cmd_ci_github(args: &GithubArgs) -> Result<(), Failure> {
    use crate::ci::{Cache, GithubOptions, Registry, github_path, github_workflow};
    let registry =
        Registry::parse(&args.registry).map_err(|e| usage_error(format!("--registry: {e}")))?;
    let cache = Cache::parse(&args.cache).map_err(|e| usage_error(format!("--cache: {e}")))?;
    let mut platforms = Vec::new();
    for p in args
        .platforms
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Platform::parse(p).map_err(|e| usage_error(format!("--platforms {p}: {e}")))?;
        platforms.push(p.to_owned());
    }
    if platforms.is_empty() {
        return Err(usage_error("--platforms: name at least one".into()).into());
    }
    let context = args.context.trim_end_matches('/');
    let context = if context.is_empty() { "." } else { context };
    // It is written into the workflow's YAML as it is: a plain relative path only.
    if context.starts_with('/')
        || context.split('/').any(|part| part == "..")
        || !context
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return Err(usage_error(format!(
            "--context {context}: a relative path inside the repository, of letters, digits, `.`, `_`, `-` and `/`"
        ))
        .into());
    }
    let project_dir = args.dir.join(context);
    if !project_dir.join(DEFAULT_RECIPE).exists() {
        eprintln!(
            "warning: {} has no {DEFAULT_RECIPE} yet: write one with pycache init",
            display_name(&project_dir)
        );
    }
    let image = match &args.image {
        Some(name) => {
            let clean = crate::init::image_name(name);
            if &clean != name {
                return Err(usage_error(format!(
                    "--image {name}: an image name is lower case letters, digits, `.`, `_` and `-` (e.g. {clean})"
                ))
                .into());
            }
            clean
        }
        None => crate::init::image_name(&project_name(&project_dir)),
    };
    let recipe = if context == "." {
        DEFAULT_RECIPE.to_owned()
    } else {
        format!("{context}/{DEFAULT_RECIPE}")
    };
    let text = github_workflow(&GithubOptions {
        image: image.clone(),
        registry,
        platforms,
        cache,
        context: context.to_owned(),
        recipe,
    });
    if args.stdout {
        return write_stdout(text.as_bytes());
    }
    let path = args.dir.join(github_path(&image));
    if path.exists() && !args.force {
        return Err(usage_error(format!(
            "{} exists; pycache ci github never replaces a workflow (--force does)",
            display_name(&path)
        ))
        .into());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, text)?;
    eprintln!("wrote {}", display_name(&path));
    Ok(())
}

/// The project's name from its pyproject.toml, else the directory's.
fn project_name(dir: &Path) -> String {
    let from_pyproject = std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|t| crate::detect::pyproject::PyProject::parse(&t).ok())
        .and_then(|p| {
            p.name()
                .map(str::to_owned)
                .or_else(|| p.poetry().and_then(|t| t.name.clone()))
        });
    from_pyproject
        .or_else(|| {
            std::fs::canonicalize(dir)
                .ok()?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "app".into())
}

fn cmd_dockerfile(args: &BuildArgs, syntax: Option<String>) -> Result<(), Failure> {
    let loaded = load(args)?;
    let plan = plan_build(&loaded.inputs())?;
    let opts = crate::dockerfile::Options {
        syntax,
        // The name alone: the header is the same wherever the command ran.
        recipe_file: args
            .file
            .as_deref()
            .and_then(Path::file_name)
            .map_or(DEFAULT_RECIPE.to_owned(), |n| {
                n.to_string_lossy().into_owned()
            }),
    };
    write_stdout(crate::dockerfile::dockerfile(&plan, &opts)?.as_bytes())
}

/// Checks the default target and every named target; all problems at once.
fn cmd_check(args: &BuildArgs) -> Result<(), Failure> {
    use crate::plan::plural;
    let loaded = load(args)?;
    let summary = crate::check_all(&loaded.inputs())?;
    eprintln!(
        "ok: {} ({:?}, {}, {})",
        loaded.recipe_file,
        summary.manager,
        plural(summary.dependencies, "dependency", "dependencies"),
        plural(summary.targets.len(), "target", "targets"),
    );
    Ok(())
}
