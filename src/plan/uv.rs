//! Locked projects (uv.lock, poetry.lock, pylock.toml), all installed with uv: uv itself
//! (pinned), the empty environment, one install per dependency layer of the locked packages
//! (pinned and hashed, `--no-deps`), and the project's own packages built from the source.
//! Only [`super::locked`] knows which lock it was.

use std::collections::BTreeSet;

use super::locked::Locked;
use super::repro::{drop_uv_cache_info, normalize_mtimes, reproducible_env};
use super::{
    Action, Bind, BindSource, CacheMount, DependencyLayer, EnvContext, Environment,
    RESOLVER_OPTIONS, Run, Sharing, Stage, Step, StepId, UV_HOME, VENV, env_pairs, find_links,
    layers, secrets, shell, source, ssh,
};
use crate::lock::{self, LockedEnv};
use crate::platform::Platform;
use crate::recipe::{self, Recipe};

/// Installs uv in the builder at `UV_HOME/bin/uv`: copied from `uv-image`, else unpacked
/// from its wheel (the default version, see [`wheel`]), else installed from PyPI with pip.
pub(super) fn install_step(recipe: &Recipe, suffix: &str, platform: &Platform) -> Step {
    let why = "the package manager, pinned, before anything it installs";
    if let Some(image) = &recipe.python.uv_image {
        return Step::new(
            StepId::Uv,
            Stage::Builder,
            format!("copy uv from {}", image.get_ref()),
            vec![format!("uv image {}", image.get_ref())],
            why,
            Action::CopyFromImage {
                image: image.get_ref().clone(),
                src: "/uv".into(),
                dest: format!("{UV_HOME}/bin/uv"),
            },
        );
    }
    let version = recipe
        .python
        .uv
        .as_ref()
        .map_or(recipe::DEFAULT_UV_VERSION.to_owned(), |v| {
            v.get_ref().clone()
        });
    // `--target` rather than a venv: uv is one static binary, and creating a venv costs
    // seconds on every cold builder. (`--prefix` would put it in `{UV_HOME}/local/bin` on
    // Debian's Python.)
    let pip = format!(
        "python3 -m pip install --quiet --no-warn-script-location --target={UV_HOME} {}",
        shell::quote(&format!("uv=={version}"))
    );
    let mut run = Run {
        script: pip.clone(),
        // As variables, not flags, so that old pips ignore what they do not know.
        // Debian's system Python refuses installs outside a venv (PEP 668); this is a
        // builder-only directory, so that protection does not apply.
        env: env_pairs([
            ("PIP_BREAK_SYSTEM_PACKAGES", "1"),
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            ("PIP_ROOT_USER_ACTION", "ignore"),
        ]),
        caches: vec![super::pip::cache(suffix)],
        ..Default::default()
    };
    let mut keyed_on = vec![format!("uv version {version}")];
    // A recipe with its own index may have no way to PyPI's files: pip then reads the base
    // image's configuration, as before.
    if let Some(wheel) = wheel(&version, platform).filter(|_| recipe.python.index_url.is_none()) {
        run.binds.push(Bind {
            source: BindSource::Download {
                url: wheel.url.into(),
                sha256: wheel.sha256.into(),
            },
            target: WHEEL.into(),
        });
        run.script = format!(
            "set -eu\nmkdir -p {UV_HOME}/bin\n\
             python3 -c {} {WHEEL} uv-{version}.data/scripts/uv {UV_HOME}/bin/uv\n\
             if ! {UV_HOME}/bin/uv --version >/dev/null 2>&1; then\n\
             \x20 echo 'pycache: the glibc build of uv does not run on this base image; installing uv with pip' >&2\n\
             \x20 rm -rf {UV_HOME}; {pip}\n\
             fi\n",
            shell::quote(UNPACK)
        );
        keyed_on = vec![format!("uv's wheel {} (sha256)", wheel.sha256)];
    }
    Step::new(
        StepId::Uv,
        Stage::Builder,
        format!("install uv {version}"),
        keyed_on,
        why,
        Action::Run(run),
    )
}

/// Where the install step mounts uv's wheel.
const WHEEL: &str = "/pycache/uv.whl";

/// Python lines copying one member of a zip (argv 1, 2) to a file (argv 3), executable.
const UNPACK: &str = "import os, shutil, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst)\nos.chmod(sys.argv[3], 0o755)\n";

/// A wheel of uv on PyPI.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wheel {
    pub url: &'static str,
    pub sha256: &'static str,
}

/// The wheel of uv `version` that pip picks on a glibc Linux of `platform`, when it is the
/// default version (`recipe::DEFAULT_UV_VERSION`): the daemon downloads it (keyed by its hash,
/// so cached once for every build) and the install step unpacks its binary, without pip's
/// start, index round trip and resolution (3.5 s of a cold build, 1 s this way). The step
/// falls back to pip where that binary does not run (a musl base image).
pub(super) fn wheel(version: &str, platform: &Platform) -> Option<Wheel> {
    if version != recipe::DEFAULT_UV_VERSION || platform.os != "linux" {
        return None;
    }
    DEFAULT_UV_WHEELS
        .iter()
        .find(|(arch, _)| *arch == platform.architecture)
        .map(|(_, w)| *w)
}

/// `DEFAULT_UV_VERSION`'s wheels, from PyPI's simple index (the file pip picks on glibc 2.28
/// or newer).
const DEFAULT_UV_WHEELS: [(&str, Wheel); 2] = [
    (
        "amd64",
        Wheel {
            url: "https://files.pythonhosted.org/packages/3d/aa/26d64642d808de4a652579ef950d7cd2d37f080a8babf9c67c6b75fc4c3f/uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            sha256: "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
        },
    ),
    (
        "arm64",
        Wheel {
            url: "https://files.pythonhosted.org/packages/fe/2f/51a5de367c602592c018a42a23d57fba5f2689fe6c3bf025dcf043b39c61/uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl",
            sha256: "ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375",
        },
    ),
];

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
        RESOLVER_OPTIONS,
    ]);
    // An index with a secret is named after it, so that uv reads its credentials.
    if let Some(url) = &recipe.python.index_url {
        env.push((
            "UV_DEFAULT_INDEX".into(),
            secrets::uv_index(recipe, url.get_ref()),
        ));
    }
    if !recipe.python.extra_index_urls.is_empty() {
        let urls: Vec<String> = recipe
            .python
            .extra_index_urls
            .iter()
            .map(|u| secrets::uv_index(recipe, u.get_ref()))
            .collect();
        env.push(("UV_INDEX".into(), urls.join(" ")));
    }
    env.sort();
    env
}

fn cache(suffix: &str) -> CacheMount {
    CacheMount {
        id: format!("pycache-uv-{suffix}"),
        target: "/root/.cache/uv".into(),
        // uv locks its cache itself: dependency layers install side by side.
        sharing: Sharing::Shared,
    }
}

/// The environment of a locked project: the empty venv, the dependency layers, the lock file,
/// the source, the local packages.
pub(super) fn environment(locked: &Locked, ctx: &EnvContext) -> Environment {
    let env = env(ctx.recipe);
    let lock_file = [locked.file.as_str()];
    let groups = layers::group(&locked.env, ctx.budget);
    let dependencies: Vec<DependencyLayer> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| dependency_layer(i, g, &env, ctx))
        .collect();
    Environment {
        skeleton: skeleton_step(&env, ctx),
        check: super::check::step(&dependencies, ctx.workdir),
        dependencies,
        lock_files: source::lock_step(ctx.recipe, ctx.workdir, &lock_file),
        source: source::copy_step(ctx.recipe, ctx.workdir, &lock_file),
        project: project_step(&locked.env, ctx, &env),
        single_layer_reason: None,
        lock: locked.description.clone(),
        locked: Some((locked.file.clone(), locked.env.clone())),
    }
}

fn skeleton_step(env: &[(String, String)], ctx: &EnvContext) -> Step {
    // `uv sync` names the environment's prompt after the project: so does this.
    let prompt = ctx
        .project
        .name
        .as_deref()
        .map(|n| format!(" --prompt={}", shell::quote(n)))
        .unwrap_or_default();
    Step::new(
        StepId::Venv,
        Stage::Builder,
        format!("uv venv {VENV}"),
        vec!["the base image and uv".into()],
        "the empty environment every layer installs into",
        Action::Run(Run {
            script: format!(
                "set -eu\n{UV_HOME}/bin/uv venv --quiet{prompt} {VENV}\n{}{}",
                compile_site_packages(env, "_virtualenv.py"),
                normalize_mtimes(ctx.workdir)
            ),
            // No index: the empty environment installs nothing, so a recipe's mirror does not
            // key it (nor every layer on it).
            env: reproducible_env(
                &without_compile(env)
                    .into_iter()
                    .filter(|(k, _)| k != "UV_DEFAULT_INDEX" && k != "UV_INDEX")
                    .collect::<Vec<_>>(),
            ),
            // uv keeps what it learns of the interpreter in its cache: never in the layer.
            caches: vec![cache(ctx.suffix)],
            offline: true,
            ..Default::default()
        }),
    )
}

fn dependency_layer(
    index: usize,
    group: &layers::Group,
    env: &[(String, String)],
    ctx: &EnvContext,
) -> DependencyLayer {
    let mut args: Vec<String> = vec![
        "pip".into(),
        "install".into(),
        format!("--python={VENV}/bin/python"),
        "--no-deps".into(),
    ];
    if group.all_hashed() {
        args.push("--require-hashes".into());
    }
    // Local directories of distributions, from named contexts: a layer of them alone needs
    // no index and no network.
    let dirs = find_links::layer_links(ctx.recipe, &group.packages);
    let local_only = group.packages.iter().all(|p| p.directory().is_some());
    if local_only {
        args.push("--no-index".into());
    }
    args.extend(dirs.args);
    // uv's cache keeps a find-links wheel by its file name, and the lock has no hash to tell
    // a rebuilt wheel of the same name and version from the cached one: read it again (the
    // step runs only when its wheel changed).
    args.extend(
        group
            .packages
            .iter()
            .filter(|p| p.directory().is_some())
            .map(|p| format!("--refresh-package={}", p.name)),
    );
    // The indexes the lock says its packages come from (PyPI needs no flag).
    let registries: BTreeSet<&str> = group.packages.iter().filter_map(|p| p.registry()).collect();
    for (i, registry) in registries.iter().enumerate() {
        if i == 0 && *registry == lock::PYPI {
            continue;
        }
        args.push(format!(
            "--{}={}",
            if i == 0 { "default-index" } else { "index" },
            secrets::uv_index(ctx.recipe, registry)
        ));
    }
    args.push(format!("--requirement={}", layers::REQUIREMENTS));
    // The lock's indexes, and the recipe's (sdists' build dependencies, a PyPI mirror).
    let mut indexes: Vec<&str> = registries.into_iter().collect();
    if !local_only {
        indexes.extend(secrets::recipe_urls(ctx.recipe));
    }
    let credentials = secrets::uv(ctx.recipe, &indexes);
    // Git dependencies over SSH: the agent, the host keys and their checks.
    let over_ssh: Vec<_> = group
        .packages
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.ssh_remote()?)))
        .collect();
    let access = ssh::access(ctx.recipe, &over_ssh);
    let from_index = retried(&format!("{UV_HOME}/bin/uv {}", shell::join(&args)));
    // The lock's files need no index, unless the recipe asks for a mirror or credentials: the
    // daemon downloads them where the base image's Python is known, else the layer reads them
    // from the lock's URLs.
    let from_lock = credentials.mounts.is_empty() && secrets::recipe_urls(ctx.recipe).is_empty();
    let downloads = group.downloads(&ctx.target).filter(|_| from_lock);
    let links = group.links().filter(|_| from_lock && downloads.is_none());
    let install = match (&downloads, &links) {
        (Some(_), _) => {
            from_lock_files(&args, layers::WHEELS, "the daemon's downloads", &from_index)
        }
        (None, Some(_)) => from_lock_files(&args, layers::LINKS, "its URLs", &from_index),
        (None, None) => from_index,
    };
    // A wheel installed from a local file (the daemon's downloads, a find-links context) gets
    // uv's `uv_cache.json` with the file's time: dropped, as for the project.
    let script = format!(
        "set -eu\n{}{}{install}rm -f {VENV}/.lock\n{}\n{}{}",
        credentials.script,
        access.as_ref().map_or("", |a| a.script.as_str()),
        drop_uv_cache_info(),
        compile_records(env, "*.dist-info/RECORD"),
        normalize_mtimes(ctx.workdir)
    );
    let mut layer = layers::layer(
        index,
        group,
        &[],
        script,
        reproducible_env(&without_compile(&credentials.env_with(env))),
        cache(ctx.suffix),
        credentials.mounts,
    );
    if let Action::Run(run) = &mut layer.step.action {
        run.binds.extend(dirs.binds);
        run.binds.extend(links.map(|html| Bind {
            source: BindSource::Text(html),
            target: layers::LINKS.into(),
        }));
        run.binds
            .extend(downloads.into_iter().flatten().map(|(url, sha256)| Bind {
                source: BindSource::Download {
                    url: url.to_owned(),
                    sha256: sha256.to_owned(),
                },
                target: format!("{}/{}", layers::WHEELS, lock::file_name(url)),
            }));
        run.offline = local_only;
        ssh::grant(run, access);
    }
    layer
}

/// The error lines of uv that mean a fault of the network, not of the request: a refused name
/// lookup (`EAI_AGAIN`, not a name that does not exist), a stalled or reset connection.
/// uv retries these itself, quickly; a step that still fails on one is tried again.
const NETWORK_FAULTS: &str =
    "Temporary failure in name resolution|network timeout|operation timed out|connection reset";

/// How often a dependency layer's install is tried on a network fault.
const ATTEMPTS: u32 = 3;

/// Shell lines running `command` (an install), again after a pause when it failed on one of
/// [`NETWORK_FAULTS`], at most [`ATTEMPTS`] times. Dependency layers install side by side, each
/// with its own connections: a burst that a resolver or proxy refuses fails one layer, and
/// that layer alone is tried again, with what it already downloaded in the cache mount. Any
/// other failure (a hash mismatch, a missing version, a refused connection) fails at once.
fn retried(command: &str) -> String {
    format!(
        "n=1\n\
         until {command} 2>{ERRORS}; do\n\
         \x20 status=$?; cat {ERRORS} >&2\n\
         \x20 if [ $n -ge {ATTEMPTS} ] || ! grep -qE '{NETWORK_FAULTS}' {ERRORS}; then exit $status; fi\n\
         \x20 echo \"pycache: a network fault; installing again in $((n * 5)) s (attempt $((n + 1)) of {ATTEMPTS})\" >&2\n\
         \x20 sleep $((n * 5)); n=$((n + 1))\n\
         done\n\
         cat {ERRORS} >&2\n"
    )
}

/// Where [`retried`] keeps an attempt's error output, on the step's tmpfs.
const ERRORS: &str = "/tmp/.pycache-err";

/// The install of `args` (a layer's, from the index) from the lock's own wheels instead, as
/// `uv sync` installs a lock, with no round trip to the index: `find_links` is the wheels the
/// daemon downloaded ([`layers::WHEELS`], `what` "the daemon's downloads") or a page of their URLs
/// ([`layers::LINKS`], "its URLs"). Where that cannot work (a wheel the base image's libc or
/// Python does not take, which leaves only the sdist and its build dependencies from an
/// index), the layer asks the index: `from_index`.
fn from_lock_files(args: &[String], find_links: &str, what: &str, from_index: &str) -> String {
    let mut lock_args: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--default-index=") && !a.starts_with("--index="))
        .cloned()
        .collect();
    let at = lock_args.len().saturating_sub(1);
    lock_args.splice(
        at..at,
        [
            "--no-index".to_owned(),
            format!("--find-links={find_links}"),
        ],
    );
    format!(
        "if {UV_HOME}/bin/uv {} 2>{ERRORS}; then\n\
         \x20 cat {ERRORS} >&2\n\
         else\n\
         \x20 echo \"pycache: the lock's wheels did not install from {what} ($(tail -n 1 {ERRORS})); asking the index\" >&2\n\
         {from_index}\
         fi\n",
        shell::join(&lock_args)
    )
}

/// Builds and installs the project's own packages from the source, on the empty environment:
/// their dependencies are the layers', so a dependency change never rebuilds the project.
fn project_step(locked: &LockedEnv, ctx: &EnvContext, env: &[(String, String)]) -> Option<Step> {
    if locked.locals.is_empty() {
        return None;
    }
    let workdir = ctx.workdir;
    let mut args: Vec<String> = vec![
        "pip".into(),
        "install".into(),
        format!("--python={VENV}/bin/python"),
        "--no-deps".into(),
    ];
    // uv reads the project's `[tool.uv]` from the workdir, and fails on a `find-links`
    // directory that is not there: the build has it only as a named context, mounted into the
    // dependency layers. The project is installed without its dependencies, so it needs none of
    // that configuration (the dependency layers never see it either).
    if locked.packages.iter().any(|p| p.directory().is_some())
        || !ctx.recipe.python.find_links.is_empty()
    {
        args.push("--no-config".into());
    }
    // uv caches local builds keyed on file times, which the source copy fixes: rebuild them
    // (only them: `--reinstall` would refresh every cached index page too).
    args.extend(
        locked
            .locals
            .iter()
            .map(|l| format!("--reinstall-package={}", l.name)),
    );
    args.extend(locked.locals.iter().map(|l| match l.path.as_str() {
        "." | "" => workdir.to_owned(),
        p => format!("{workdir}/{p}"),
    }));
    let names: Vec<&str> = locked.locals.iter().map(|l| l.name.as_str()).collect();
    let name = ctx.project.name.as_deref().unwrap_or(names[0]);
    let records: Vec<String> = names
        .iter()
        .map(|n| format!("{}-*.dist-info/RECORD", shell::quote(&n.replace('-', "_"))))
        .collect();
    // Build backends come from the recipe's indexes.
    let credentials = secrets::uv(ctx.recipe, &secrets::recipe_urls(ctx.recipe));
    Some(Step::new(
        StepId::Project,
        Stage::Builder,
        format!("install {name} from source"),
        vec!["the source".into()],
        "the project itself, last: only it is rebuilt on a source edit",
        Action::Run(Run {
            script: format!(
                "set -eu\n{}{UV_HOME}/bin/uv {}\nrm -f {VENV}/.lock\n{}{}\n{}",
                credentials.script,
                shell::join(&args),
                compile_records(env, &records.join(" ")),
                drop_uv_cache_info(),
                normalize_mtimes(workdir)
            ),
            env: reproducible_env(&without_compile(&credentials.env_with(env))),
            caches: vec![cache(ctx.suffix)],
            secrets: credentials.mounts,
            ..Default::default()
        }),
    ))
}

/// `env` with `UV_COMPILE_BYTECODE` off: uv would compile the whole environment, steps
/// compile what they installed (see [`compile_records`]).
fn without_compile(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| match k.as_str() {
            "UV_COMPILE_BYTECODE" => (k.clone(), "0".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

fn compiles(env: &[(String, String)]) -> bool {
    env.iter()
        .any(|(k, v)| k == "UV_COMPILE_BYTECODE" && v == "1")
}

/// Shell lines that byte-compile the `.py` files listed in the `RECORD`s matching `records`
/// (globs in site-packages), when the recipe compiles bytecode: what a step installed, and
/// nothing another layer owns. `SOURCE_DATE_EPOCH` makes them hash-checked `.pyc` files, the
/// same bytes as uv's own compile writes.
///
/// One list for the whole step, split over at most one process per core and per
/// [`FILES_PER_PROCESS`] files: dependency layers install side by side, each with its own
/// compile, so a small layer's files are compiled by one process, and only a large layer (numpy
/// alone) spreads over the cores. Each file's bytes do not depend on which process wrote it.
/// The list is on the step's `/tmp`, a tmpfs outside the layer.
fn compile_records(env: &[(String, String)], records: &str) -> String {
    if !compiles(env) {
        return String::new();
    }
    // Absolute paths: a `.pyc` records the path it was compiled from. A file that does not
    // compile (a package's Python 2 test data) is skipped, as uv's own compile does.
    format!(
        "(cd {VENV}/lib/python*/site-packages && for r in {records}; do [ -e \"$r\" ] || continue; sed -n \"s|^\\([^,]*\\.py\\),.*|$PWD/\\1|p\" \"$r\"; done | grep -v '/\\.\\./' >{PY_LIST} || true\n\
         n=$(wc -l <{PY_LIST}); j=$(nproc 2>/dev/null || echo 1); [ \"$j\" -le $((n / {FILES_PER_PROCESS} + 1)) ] || j=$((n / {FILES_PER_PROCESS} + 1))\n\
         [ \"$n\" -eq 0 ] || tr '\\n' '\\0' <{PY_LIST} | xargs -0 -r -P \"$j\" -n $(( (n + j - 1) / j )) {})\n",
        compile_command()
    )
}

/// The step's list of files to compile, on its tmpfs.
const PY_LIST: &str = "/tmp/.pycache-compile";

/// Files a compile process takes before another is worth its start: a Python start costs
/// about as much as compiling 20 to 40 files.
const FILES_PER_PROCESS: u32 = 400;

/// The venv's Python compiling the files it is given, as `python -m compileall -q -f FILE…`
/// does (`py_compile` with the same defaults: the invalidation mode from `SOURCE_DATE_EPOCH`,
/// the path as given recorded in the `.pyc`), skipping a file that does not compile. Without
/// `compileall`'s start (its imports and argument parsing), the site-packages scan (`-S`) and
/// the environment's `PYTHON*` variables (`-I`), which make no difference to the bytes.
fn compile_command() -> String {
    let script = "import sys, py_compile\nfor f in sys.argv[1:]:\n    try:\n        py_compile.compile(f, doraise=True)\n    except Exception:\n        pass\n";
    format!("{VENV}/bin/python -I -S -c {}", shell::quote(script))
}

/// Shell line that byte-compiles `file` of the empty environment's site-packages.
fn compile_site_packages(env: &[(String, String)], file: &str) -> String {
    if !compiles(env) {
        return String::new();
    }
    // uv writes `_virtualenv.py` only for Pythons older than 3.10 since 0.13.
    format!(
        "(cd {VENV}/lib/python*/site-packages && [ ! -e {file} ] || {} \"$PWD/{file}\")\n",
        compile_command()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs [`retried`] around a stand-in for uv that fails with `errors[i]` on attempt `i`
    /// (and succeeds past them), in a real `sh`, with `sleep` stubbed out. Returns the exit
    /// code, the attempts made and the step's stderr.
    fn attempts(errors: &[&str]) -> (i32, usize, String) {
        run_install(errors, &retried("fake-uv --flag"))
    }

    /// Runs `install` (a script calling `fake-uv`) as [`attempts`] does.
    fn run_install(errors: &[&str], install: &str) -> (i32, usize, String) {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pycache-retried-{}-{run}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let count = dir.join("count");
        let mut stub = format!(
            "#!/bin/sh\necho x >> {}\nn=$(wc -l < {})\n",
            count.display(),
            count.display()
        );
        for (i, e) in errors.iter().enumerate() {
            stub.push_str(&format!(
                "[ $n -eq {} ] && {{ echo 'error: {e}' >&2; exit 2; }}\n",
                i + 1
            ));
        }
        stub.push_str("echo installed\n");
        std::fs::write(dir.join("fake-uv"), stub).unwrap();
        std::fs::write(dir.join("sleep"), "#!/bin/sh\n").unwrap();
        for f in ["fake-uv", "sleep"] {
            Command::new("chmod")
                .arg("+x")
                .arg(dir.join(f))
                .status()
                .unwrap();
        }
        // The error file in the test's own directory, not the host's /tmp.
        let errors = dir.join("err");
        let script = format!("set -eu\n{install}")
            .replace(&format!("{UV_HOME}/bin/uv"), "fake-uv")
            .replace(ERRORS, &errors.display().to_string());
        let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("PATH", path)
            .output()
            .unwrap();
        let made = std::fs::read_to_string(&count).unwrap().lines().count();
        let _ = std::fs::remove_dir_all(&dir);
        (
            out.status.code().unwrap_or(-1),
            made,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn the_default_uv_comes_from_its_wheel_on_linux_amd64_and_arm64_only() {
        let platform = |s: &str| Platform::parse(s).unwrap();
        let default = recipe::DEFAULT_UV_VERSION;
        for arch in ["linux/amd64", "linux/arm64"] {
            let w = wheel(default, &platform(arch)).unwrap();
            // The table moves with the default version (a new default needs new wheels).
            assert!(
                w.url.contains(&format!("/uv-{default}-py3-none-")),
                "{}",
                w.url
            );
            assert!(
                w.url
                    .starts_with("https://files.pythonhosted.org/packages/")
            );
            assert!(w.sha256.len() == 64 && w.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert!(wheel("0.8.22", &platform("linux/amd64")).is_none());
        assert!(wheel(default, &platform("linux/arm/v7")).is_none());
        assert!(wheel(default, &platform("linux/s390x")).is_none());
    }

    #[test]
    fn an_install_is_tried_again_only_on_a_network_fault() {
        let dns = "failed to lookup address information: Temporary failure in name resolution";
        let (code, made, err) = attempts(&[dns]);
        assert_eq!((code, made), (0, 2), "{err}");
        assert!(err.contains(dns) && err.contains("attempt 2 of 3"), "{err}");
        let stalled = "Failed to download distribution due to network timeout";
        assert_eq!(attempts(&[stalled, stalled]).0, 0);
        let (code, made, err) = attempts(&[stalled, stalled, stalled]);
        assert_eq!((code, made), (2, 3), "{err}");
        // Not the network: fails at once, with uv's own status and message.
        let (code, made, err) = attempts(&["Hash mismatch for `six==1.17.0`"]);
        assert_eq!((code, made), (2, 1), "{err}");
        assert!(
            err.contains("Hash mismatch") && !err.contains("pycache:"),
            "{err}"
        );
        let refused = "client error (Connect): Connection refused (os error 111)";
        assert_eq!(attempts(&[refused]).1, 1);
    }

    #[test]
    fn a_layer_installs_from_the_lock_urls_and_asks_the_index_only_when_that_fails() {
        let args: Vec<String> = [
            "pip",
            "install",
            "--default-index=https://i.example/simple",
            "--requirement=r",
        ]
        .map(String::from)
        .to_vec();
        let install = from_lock_files(
            &args,
            layers::LINKS,
            "its URLs",
            &retried("fake-uv --from-index"),
        );
        assert!(
            install.contains(
                "pip install --no-index --find-links=/pycache/links.html --requirement=r"
            ) && !install.lines().next().unwrap().contains("i.example"),
            "{install}"
        );
        let (code, made, err) = run_install(&[], &install);
        assert_eq!((code, made), (0, 1), "{err}");
        assert!(!err.contains("asking the index"), "{err}");
        let no_wheel = "Because only pkg==1.0 is available and pkg==1.0 has no wheels with a matching platform tag";
        let (code, made, err) = run_install(&[no_wheel], &install);
        assert_eq!((code, made), (0, 2), "{err}");
        assert!(
            err.contains("asking the index")
                && err.contains("no wheels with a matching platform tag"),
            "{err}"
        );
        // The index's own failure is the step's.
        let (code, made, err) = run_install(&[no_wheel, "Hash mismatch"], &install);
        assert_eq!((code, made), (2, 2), "{err}");
    }
}
