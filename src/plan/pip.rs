//! pip projects: a venv of its own, the requirements files bind-mounted alone and installed
//! (`--require-hashes` when every line has a hash), the source, and the project when it is
//! installable.

use super::repro::{normalize_mtimes, reproducible_env};
use super::{
    Action, Bind, BindSource, CacheMount, Environment, INPUTS_DIR, Run, Sharing, Stage, Step,
    StepId, VENV, env_pairs, index_env, shell, source,
};
use crate::detect::PipProject;
use crate::recipe::Recipe;

/// pip's cache mount (also used to install uv from PyPI).
pub(super) fn cache(suffix: &str) -> CacheMount {
    CacheMount {
        id: format!("pycache-pip-{suffix}"),
        target: "/root/.cache/pip".into(),
        sharing: Sharing::Locked,
    }
}

fn env(recipe: &Recipe) -> Vec<(String, String)> {
    let mut env = env_pairs([("PIP_DISABLE_PIP_VERSION_CHECK", "1")]);
    index_env(recipe, &mut env, "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL");
    env.sort();
    env
}

pub(super) fn environment(
    pip: &PipProject,
    recipe: &Recipe,
    suffix: &str,
    workdir: &str,
) -> Environment {
    let env = env(recipe);
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
    // Its own step: creating a venv takes seconds, and must not be paid again on every
    // requirements change.
    let skeleton = Step {
        id: StepId::Venv,
        stage: Stage::Builder,
        title: format!("python3 -m venv {VENV}"),
        keyed_on: vec!["the base image".into()],
        why: "the empty environment, before anything is installed into it".into(),
        action: Action::Run(Run {
            script: format!(
                "set -eu\npython3 -m venv {VENV}\n{}",
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(&env),
            binds: Vec::new(),
            caches: Vec::new(),
            side_output: None,
        }),
    };
    let count: usize = pip.files.iter().map(|f| f.requirements.len()).sum();
    let dependencies = Step {
        id: StepId::Dependencies,
        stage: Stage::Builder,
        title: format!(
            "pip install {}",
            shell::plural(count, "requirement", "requirements")
        ),
        keyed_on: pip.files.iter().map(|f| f.path.clone()).collect(),
        why: "requirements change less often than the source: before it".into(),
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{}\n{}",
                shell::join(&install),
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(&env),
            binds,
            caches: vec![cache(suffix)],
            side_output: None,
        }),
    };
    // Nothing to build when the project is not installable: the source is the project.
    let project = pip.installable.then(|| Step {
        id: StepId::Project,
        stage: Stage::Builder,
        title: "pip install the project".into(),
        keyed_on: vec!["the source".into()],
        why: "the project itself, last: only it is rebuilt on a source edit".into(),
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{VENV}/bin/pip install --quiet --no-deps {}\n{}",
                shell::quote(workdir),
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(&env),
            binds: Vec::new(),
            caches: vec![cache(suffix)],
            side_output: None,
        }),
    });
    Environment {
        skeleton: Some(skeleton),
        export: None,
        dependencies,
        source: source::copy_step(recipe, workdir),
        project,
    }
}
