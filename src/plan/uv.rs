//! uv projects: uv itself (pinned), `uv export` of what the lock installs, the dependency
//! install keyed on that export's content, and `uv sync` of the project from its source.

use std::collections::BTreeSet;

use super::repro::{drop_uv_cache_info, normalize_mtimes, reproducible_env};
use super::select::Selection;
use super::{
    Action, Bind, BindSource, CacheMount, Environment, INPUTS_DIR, Run, Sharing, Stage, Step,
    StepId, UV_HOME, VENV, env_pairs, index_env, shell, source,
};
use crate::detect::{Project, UvProject};
use crate::recipe::{self, Recipe};

/// Installs uv in the builder at `UV_HOME/bin/uv`: copied from `uv-image`, else from PyPI.
pub(super) fn install_step(recipe: &Recipe, suffix: &str) -> Step {
    let why = "the package manager, pinned, before anything it installs";
    if let Some(image) = &recipe.python.uv_image {
        return Step {
            id: StepId::Uv,
            stage: Stage::Builder,
            title: format!("copy uv from {}", image.get_ref()),
            keyed_on: vec![format!("uv image {}", image.get_ref())],
            why: why.into(),
            action: Action::CopyFromImage {
                image: image.get_ref().clone(),
                src: "/uv".into(),
                dest: format!("{UV_HOME}/bin/uv"),
            },
        };
    }
    let version = recipe
        .python
        .uv
        .as_ref()
        .map_or(recipe::DEFAULT_UV_VERSION.to_owned(), |v| {
            v.get_ref().clone()
        });
    Step {
        id: StepId::Uv,
        stage: Stage::Builder,
        title: format!("install uv {version}"),
        keyed_on: vec![format!("uv version {version}")],
        why: why.into(),
        action: Action::Run(Run {
            // `--target` rather than a venv: uv is one static binary, and creating a venv
            // costs seconds on every cold builder. (`--prefix` would put it in
            // `{UV_HOME}/local/bin` on Debian's Python.)
            script: format!(
                "python3 -m pip install --quiet --no-warn-script-location --target={UV_HOME} {}",
                shell::quote(&format!("uv=={version}"))
            ),
            // As variables, not flags, so that old pips ignore what they do not know.
            // Debian's system Python refuses installs outside a venv (PEP 668); this is a
            // builder-only directory, so that protection does not apply.
            env: env_pairs([
                ("PIP_BREAK_SYSTEM_PACKAGES", "1"),
                ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
                ("PIP_ROOT_USER_ACTION", "ignore"),
            ]),
            binds: Vec::new(),
            caches: vec![super::pip::cache(suffix)],
            side_output: None,
        }),
    }
}

/// uv's environment: where the venv and the cache are, bytecode, no Python downloads, the
/// recipe's indexes.
fn env(recipe: &Recipe) -> Vec<(String, String)> {
    let compile = if recipe.python.compile_bytecode.unwrap_or(true) {
        "1"
    } else {
        "0"
    };
    let mut env = env_pairs([
        ("UV_CACHE_DIR", "/root/.cache/uv"),
        ("UV_COMPILE_BYTECODE", compile),
        ("UV_LINK_MODE", "copy"),
        ("UV_PROJECT_ENVIRONMENT", VENV),
        ("UV_PYTHON_DOWNLOADS", "never"),
    ]);
    index_env(recipe, &mut env, "UV_DEFAULT_INDEX", "UV_INDEX");
    env.sort();
    env
}

/// `--group`, `--extra`, `--no-dev` flags shared by `uv export` and `uv sync`.
fn selection_flags(sel: &Selection, recipe: &Recipe) -> Vec<String> {
    let mut flags = Vec::new();
    if sel.no_dev {
        flags.push("--no-dev".to_owned());
    }
    if recipe.python.all_extras {
        flags.push("--all-extras".to_owned());
    }
    let extras: BTreeSet<&String> = sel.extras.iter().map(|e| e.get_ref()).collect();
    flags.extend(extras.into_iter().map(|e| format!("--extra={e}")));
    let groups: BTreeSet<&String> = sel.groups.iter().map(|g| g.get_ref()).collect();
    flags.extend(groups.into_iter().map(|g| format!("--group={g}")));
    flags
}

fn cache(suffix: &str) -> CacheMount {
    CacheMount {
        id: format!("pycache-uv-{suffix}"),
        target: "/root/.cache/uv".into(),
        sharing: Sharing::Locked,
    }
}

/// The environment of a uv project: the export, the dependencies, the source, the project.
pub(super) fn environment(
    uv: &UvProject,
    sel: &Selection,
    recipe: &Recipe,
    project: &Project,
    suffix: &str,
    workdir: &str,
) -> Environment {
    let env = env(recipe);
    let flags = selection_flags(sel, recipe);
    let mut locals = uv.local_packages.clone();
    locals.sort();
    let export_path = format!("{INPUTS_DIR}/export");
    Environment {
        skeleton: None,
        export: Some(export_step(
            uv,
            &flags,
            &locals,
            &env,
            suffix,
            workdir,
            &export_path,
        )),
        dependencies: dependencies_step(uv, &env, suffix, workdir, &export_path),
        source: source::copy_step(recipe, workdir),
        project: Some(project_step(
            uv, &flags, &locals, project, &env, suffix, workdir,
        )),
    }
}

fn export_step(
    uv: &UvProject,
    flags: &[String],
    locals: &[String],
    env: &[(String, String)],
    suffix: &str,
    workdir: &str,
    export_path: &str,
) -> Step {
    let mut args: Vec<String> = [
        "export",
        "--frozen",
        "--format=requirements-txt",
        "--no-header",
        "--no-annotate",
        "--no-emit-project",
        "--no-emit-workspace",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(
        locals
            .iter()
            .map(|name| format!("--no-emit-package={name}")),
    );
    if uv.virtual_root {
        args.push("--all-packages".into());
    }
    args.extend_from_slice(flags);
    args.push(format!("--output-file={export_path}/requirements.txt"));
    let binds = uv
        .manifest_files
        .iter()
        .map(|f| Bind {
            source: BindSource::Context(f.clone()),
            target: format!("{workdir}/{f}"),
        })
        .collect();
    Step {
        id: StepId::Export,
        stage: Stage::Builder,
        title: "uv export (the dependency list)".into(),
        keyed_on: uv.manifest_files.clone(),
        why: "cheap and re-run on any lock or pyproject change; its output, not the lock, keys the dependency layer, so a version bump leaves the dependencies cached".into(),
        action: Action::Run(Run {
            script: format!("{UV_HOME}/bin/uv {}", shell::join(&args)),
            env: env.to_vec(),
            binds,
            caches: vec![cache(suffix)],
            side_output: Some(export_path.to_owned()),
        }),
    }
}

fn dependencies_step(
    uv: &UvProject,
    env: &[(String, String)],
    suffix: &str,
    workdir: &str,
    export_path: &str,
) -> Step {
    let count = uv
        .lock
        .third_party()
        .map(|p| &p.name)
        .collect::<BTreeSet<_>>()
        .len();
    Step {
        id: StepId::Dependencies,
        stage: Stage::Builder,
        title: format!(
            "install {}",
            shell::plural(count, "locked dependency", "locked dependencies")
        ),
        keyed_on: vec!["the exported requirements (names, versions, hashes, markers)".into()],
        why: "dependencies change less often than the source and the version: before them".into(),
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{UV_HOME}/bin/uv venv --quiet {VENV}\n{UV_HOME}/bin/uv pip install --python={VENV}/bin/python --no-deps --requirement={export_path}/requirements.txt\n{}",
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(env),
            binds: vec![Bind {
                source: BindSource::Export,
                target: export_path.to_owned(),
            }],
            caches: vec![cache(suffix)],
            side_output: None,
        }),
    }
}

fn project_step(
    uv: &UvProject,
    flags: &[String],
    locals: &[String],
    project: &Project,
    env: &[(String, String)],
    suffix: &str,
    workdir: &str,
) -> Step {
    let mut args: Vec<String> = ["sync", "--locked", "--no-editable"]
        .map(str::to_owned)
        .to_vec();
    if uv.virtual_root {
        args.push("--all-packages".into());
    }
    args.extend_from_slice(flags);
    // uv caches built local wheels keyed on pyproject.toml's mtime: force a rebuild so the
    // project layer always holds the source it was built from.
    args.extend(
        locals
            .iter()
            .map(|name| format!("--reinstall-package={name}")),
    );
    let name = project.name.as_deref().unwrap_or("the project");
    Step {
        id: StepId::Project,
        stage: Stage::Builder,
        title: format!("uv sync: install {name}"),
        keyed_on: vec!["the source".into()],
        why: "the project itself, last: only it is rebuilt on a source edit".into(),
        action: Action::Run(Run {
            script: format!(
                "set -eu\n{UV_HOME}/bin/uv {}\n{}{}\n{}",
                shell::join(&args),
                compile_local_packages(locals, env),
                drop_uv_cache_info(),
                normalize_mtimes(workdir)
            ),
            // uv would byte-compile the whole environment again, which the dependency step
            // already did: compile only the local packages (above).
            env: reproducible_env(&without_compile(env)),
            binds: Vec::new(),
            caches: vec![cache(suffix)],
            side_output: None,
        }),
    }
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
