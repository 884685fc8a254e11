//! pip projects: a venv of its own; the requirements, in dependency layers when they are a lock
//! (every line pinned with `==` and hashed), else installed as written in one step with the
//! files bind-mounted alone; the source; and the project when it is installable.

use super::repro::{normalize_mtimes, reproducible_env};
use super::secrets::Credentials;
use super::{
    Action, Bind, BindSource, CacheMount, DependencyLayer, EnvContext, Environment, INPUTS_DIR,
    RESOLVER_OPTIONS, Run, Sharing, Stage, Step, StepId, VENV, env_pairs, index_env, layers,
    secrets, shell, source, ssh,
};
use crate::detect::PipProject;
use crate::lock;
use crate::recipe::Recipe;

/// pip's cache mount (also used to install uv from PyPI).
pub(super) fn cache(suffix: &str) -> CacheMount {
    CacheMount {
        id: format!("pycache-pip-{suffix}"),
        target: "/root/.cache/pip".into(),
        // pip writes its cache atomically: dependency layers install side by side.
        sharing: Sharing::Shared,
    }
}

fn env(recipe: &Recipe) -> Vec<(String, String)> {
    let mut env = env_pairs([("PIP_DISABLE_PIP_VERSION_CHECK", "1"), RESOLVER_OPTIONS]);
    index_env(recipe, &mut env, "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL");
    env.sort();
    env
}

pub(super) fn environment(pip: &PipProject, ctx: &EnvContext) -> Environment {
    let env = env(ctx.recipe);
    // Every step that installs gets every index secret: pip reads indexes from the recipe and
    // from the requirements files' own option lines.
    let credentials = secrets::pip(ctx.recipe);
    let index = ctx
        .recipe
        .python
        .index_url
        .as_ref()
        .map_or(lock::PYPI, |u| u.get_ref().as_str());
    let mut pinned = None;
    let (dependencies, single_layer_reason) = match lock::requirements::select(
        &pip.files,
        index,
        &ctx.target,
    ) {
        Ok(locked) => {
            let options: Vec<String> = pip.files.iter().flat_map(|f| f.options.clone()).collect();
            let layers = layers::group(&locked, ctx.budget)
                .iter()
                .enumerate()
                .map(|(i, g)| locked_layer(i, g, &options, &env, &credentials, ctx))
                .collect();
            let files: Vec<&str> = pip.files.iter().map(|f| f.path.as_str()).collect();
            pinned = Some((files.join(", "), locked));
            (layers, None)
        }
        Err(why) => (
            vec![requirements_layer(pip, &env, &credentials, ctx)],
            Some(format!(
                "{}:{} {}: pin every requirement with == and --hash (e.g. `uv pip compile --generate-hashes`) to get a layer per package",
                why.file, why.line, why.why
            )),
        ),
    };
    Environment {
        skeleton: skeleton_step(&env, ctx),
        check: super::check::step(&dependencies, ctx.workdir),
        dependencies,
        // setup.py files often read their requirements files: they stay with the source.
        lock_files: None,
        source: source::copy_step(ctx.recipe, ctx.workdir, &[]),
        project: project_step(pip, &env, &credentials, ctx),
        single_layer_reason,
        lock: None,
        locked: pinned,
    }
}

fn skeleton_step(env: &[(String, String)], ctx: &EnvContext) -> Step {
    Step::new(
        StepId::Venv,
        Stage::Builder,
        format!("python3 -m venv {VENV}"),
        vec!["the base image".into()],
        "the empty environment every layer installs into",
        Action::Run(Run {
            script: format!(
                "set -eu\npython3 -m venv {VENV}\n{}",
                normalize_mtimes(ctx.workdir)
            ),
            env: reproducible_env(env),
            offline: true,
            ..Default::default()
        }),
    )
}

/// `pip install --no-deps` of one layer's pinned, hashed packages; pip compiles what it
/// installs, and only that.
fn locked_layer(
    index: usize,
    group: &layers::Group,
    options: &[String],
    env: &[(String, String)],
    credentials: &Credentials,
    ctx: &EnvContext,
) -> DependencyLayer {
    let install = [
        format!("{VENV}/bin/pip"),
        "install".into(),
        "--quiet".into(),
        "--no-deps".into(),
        "--require-hashes".into(),
        format!("--requirement={}", layers::REQUIREMENTS),
    ];
    let script = format!(
        "set -eu\n{}{}\n{}",
        credentials.script,
        shell::join(&install),
        normalize_mtimes(ctx.workdir)
    );
    layers::layer(
        index,
        group,
        options,
        script,
        reproducible_env(&credentials.env_with(env)),
        cache(ctx.suffix),
        credentials.mounts.clone(),
    )
}

/// The requirements files as written, in one step: they are not a lock.
fn requirements_layer(
    pip: &PipProject,
    env: &[(String, String)],
    credentials: &Credentials,
    ctx: &EnvContext,
) -> DependencyLayer {
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
    let count: usize = pip.files.iter().map(|f| f.requirements.len()).sum();
    // Git dependencies over SSH: the agent, the host keys and their checks.
    let over_ssh: Vec<_> = pip
        .files
        .iter()
        .flat_map(|f| &f.requirements)
        .filter_map(|r| {
            Some((
                r.name.clone(),
                lock::git::ssh_remote_in_requirement(&r.text)?,
            ))
        })
        .collect();
    let access = ssh::access(ctx.recipe, &over_ssh);
    let mut layer = DependencyLayer {
        step: Step::new(
            StepId::Dependencies(0),
            Stage::Builder,
            format!(
                "pip install {}",
                shell::plural(count, "requirement", "requirements")
            ),
            pip.files.iter().map(|f| f.path.clone()).collect(),
            "requirements change less often than the source: before it",
            Action::Run(Run {
                script: format!(
                    "set -eu\n{}{}{}\n{}",
                    credentials.script,
                    access.as_ref().map_or("", |a| a.script.as_str()),
                    shell::join(&install),
                    normalize_mtimes(ctx.workdir)
                ),
                env: reproducible_env(&credentials.env_with(env)),
                binds,
                caches: vec![cache(ctx.suffix)],
                secrets: credentials.mounts.clone(),
                ..Default::default()
            }),
        ),
        packages: Vec::new(),
    };
    if let Action::Run(run) = &mut layer.step.action {
        ssh::grant(run, access);
    }
    layer
}

/// The project, when installable, on the empty environment with its source: its
/// dependencies are the layers'.
fn project_step(
    pip: &PipProject,
    env: &[(String, String)],
    credentials: &Credentials,
    ctx: &EnvContext,
) -> Option<Step> {
    pip.installable.then(|| {
        Step::new(
            StepId::Project,
            Stage::Builder,
            "pip install the project".into(),
            vec!["the source".into()],
            "the project itself, last: only it is rebuilt on a source edit",
            Action::Run(Run {
                script: format!(
                    "set -eu\n{}{VENV}/bin/pip install --quiet --no-deps {}\n{}",
                    credentials.script,
                    shell::quote(ctx.workdir),
                    normalize_mtimes(ctx.workdir)
                ),
                env: reproducible_env(&credentials.env_with(env)),
                caches: vec![cache(ctx.suffix)],
                secrets: credentials.mounts.clone(),
                ..Default::default()
            }),
        )
    })
}
