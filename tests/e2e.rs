//! End-to-end: real `docker buildx build` runs of the frontend image on demo projects, on
//! pycache's own engines (`scripts/setup.sh` starts them; never the developer's engine, whose
//! build cache a prune here would wipe). The tests are ignored by a plain `cargo test`;
//! `scripts/test.sh` runs them with `--include-ignored`, and then a missing engine or image is a
//! failure, never a skip.

mod common;
#[path = "support/engine.rs"]
mod engine;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::Value;

use engine::Engine;

/// One build at a time: two cores, and cache-hit counts must not see another test's build.
static BUILDS: Mutex<()> = Mutex::new(());

fn frontend_image() -> String {
    std::env::var("PYCACHE_FRONTEND_IMAGE").unwrap_or_else(|_| "local/pycache-frontend:dev".into())
}

fn base_image() -> String {
    std::env::var("PYCACHE_BASE_IMAGE").unwrap_or_else(|_| "local/python:3.11-slim".into())
}

/// The containerd-store engine with our images, or a panic saying how to get it.
fn containerd() -> Engine {
    let engine = Engine::containerd();
    engine.require(&[&frontend_image(), &base_image()]);
    engine
}

/// The classic-store engine with our images, or a panic saying how to get it.
fn classic() -> Engine {
    let engine = Engine::classic();
    engine.require(&[&frontend_image(), &base_image()]);
    engine
}

struct Build {
    ok: bool,
    stderr: String,
    /// Build steps of ours (vertex names starting with `[base]`, `[builder]`, `[runtime]`):
    /// (name, cached).
    steps: Vec<(String, bool)>,
}

impl Build {
    fn cached(&self) -> usize {
        self.steps.iter().filter(|s| s.1).count()
    }
    fn executed(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| !s.1)
            .map(|s| s.0.as_str())
            .collect()
    }
}

fn testdata(case: &str) -> PathBuf {
    common::testdata().join(case)
}

/// `docker buildx build` of `dir` with its `pycache.toml` through our frontend (named by
/// `BUILDKIT_SYNTAX`), tagged `tag`, with rawjson progress.
fn build(engine: &Engine, dir: &Path, tag: &str, extra: &[&str]) -> Build {
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let args: Vec<&str> = ["--build-arg", syntax.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    build_file(engine, &dir.join("pycache.toml"), dir, tag, &args)
}

/// `docker buildx build -f file dir`, tagged `tag`, with rawjson progress; the frontend is the
/// file's own (a Dockerfile without `# syntax=` gets the engine's built-in one).
fn build_file(engine: &Engine, file: &Path, dir: &Path, tag: &str, extra: &[&str]) -> Build {
    let out = engine
        .docker()
        .args([
            "buildx",
            "build",
            "--progress=rawjson",
            "--provenance=false",
        ])
        .arg("-f")
        .arg(file)
        .args(["-t", tag])
        .args(extra)
        .arg(dir)
        .output()
        .expect("docker runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // rawjson: one JSON status per line; a vertex appears several times, the last says most.
    let mut last: std::collections::BTreeMap<String, (String, bool, bool)> = Default::default();
    for line in stderr.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for vx in v
            .get("vertexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let digest = vx["digest"].as_str().unwrap_or("").to_owned();
            let name = vx["name"].as_str().unwrap_or("").to_owned();
            let cached = vx["cached"].as_bool().unwrap_or(false);
            let completed = vx.get("completed").is_some();
            let e = last.entry(digest).or_insert((name, false, false));
            e.1 |= cached;
            e.2 |= completed;
        }
    }
    let steps = last
        .into_values()
        .filter(|(n, _, _)| {
            n.starts_with("[base]") || n.starts_with("[builder]") || n.starts_with("[runtime]")
        })
        .map(|(n, c, _)| (n, c))
        .collect();
    Build {
        ok: out.status.success(),
        stderr,
        steps,
    }
}

/// The non-JSON part of a rawjson log, plus the error lines, for failure messages.
fn log_tail(b: &Build) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for line in b.stderr.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => {
                for l in v
                    .get("logs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(data) = l["data"].as_str()
                        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data)
                    {
                        msgs.push(String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
                for vx in v
                    .get("vertexes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(e) = vx["error"].as_str() {
                        msgs.push(format!("vertex error: {e}"));
                    }
                }
            }
            Err(_) => msgs.push(line.to_owned()),
        }
    }
    let text = msgs.concat();
    text.chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

fn run(engine: &Engine, tag: &str, args: &[&str]) -> String {
    let out = engine
        .docker()
        .args(["run", "--rm", tag])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker run {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config(engine: &Engine, tag: &str) -> Value {
    let out = engine
        .docker()
        .args(["image", "inspect", tag])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["Config"].clone()
}

/// Builds, runs, checks the config, and rebuilds to see every step cached.
fn build_run_rebuild(engine: &Engine, case: &str, expect_output: &str) -> Value {
    let dir = testdata(case);
    let tag = format!("pycache-e2e/{case}:latest");
    let first = build(engine, &dir, &tag, &[]);
    assert!(first.ok, "{case}: build failed:\n{}", log_tail(&first));
    let output = run(engine, &tag, &[]);
    assert!(
        output.contains(expect_output),
        "{case}: output {output:?} lacks {expect_output:?}"
    );
    let again = build(engine, &dir, &tag, &[]);
    assert!(again.ok, "{case}: rebuild failed:\n{}", log_tail(&again));
    assert!(
        again.executed().is_empty(),
        "{case}: rebuild with no change ran {:?}",
        again.executed()
    );
    assert!(
        again.cached() >= 4,
        "{case}: expected our steps in the rawjson log, got {:?}",
        again.steps
    );
    config(engine, &tag)
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn uv_project_builds_runs_and_rebuilds_from_cache() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    let config = build_run_rebuild(
        &engine,
        "uv-minimal",
        "hello from pycache (python 3.11, six 1.17.0)",
    );
    assert_eq!(config["User"], "app");
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["Cmd"], serde_json::json!(["hello"]));
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.iter().any(|e| e.starts_with("PATH=/app/.venv/bin:")),
        "{env:?}"
    );
    assert!(env.contains(&"VIRTUAL_ENV=/app/.venv"), "{env:?}");
    // The base image's env is carried (our test base sets SSL_CERT_FILE).
    assert!(
        env.iter().any(|e| e.starts_with("SSL_CERT_FILE=")),
        "{env:?}"
    );
    assert_eq!(
        run(&engine, "pycache-e2e/uv-minimal:latest", &["id", "-u"]).trim(),
        "10001"
    );
    // No uv and no compilers in the runtime image.
    let which = run(
        &engine,
        "pycache-e2e/uv-minimal:latest",
        &["sh", "-c", "test ! -e /opt/uv && echo clean"],
    );
    assert_eq!(which.trim(), "clean");
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn pip_project_with_hashes_builds_and_runs() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    let config = build_run_rebuild(&engine, "pip-hashes", "pip demo 1.17.0 example.com");
    assert_eq!(config["User"], "app");
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn apt_packages_are_in_the_runtime_and_build_packages_are_not() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    build_run_rebuild(&engine, "apt-packages", "gcc present: False");
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn broken_recipe_fails_with_the_recipe_line() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    let b = build(
        &engine,
        &testdata("invalid-unknown-keys"),
        "pycache-e2e/invalid:latest",
        &[],
    );
    assert!(!b.ok, "a broken recipe must fail the build");
    let log = log_tail(&b);
    assert!(
        log.contains("pycache.toml:2:1") && log.contains("bsae"),
        "error lacks the recipe line:\n{log}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A value never used before: the engine keeps content-addressed results across runs, so
/// edits made with it are new content whose steps must really run.
fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Edits the uv-minimal copy in `dir` so that it prints a new greeting; returns the greeting.
fn edit_greeting(dir: &Path, nonce: u128) -> String {
    let src = dir.join("src/hello/__init__.py");
    let text = std::fs::read_to_string(&src).unwrap();
    let greeting = format!("hello again ({nonce}) from pycache");
    std::fs::write(&src, text.replace("hello from pycache", &greeting)).unwrap();
    greeting
}

fn step_cached(b: &Build, prefix: &str) -> bool {
    let matching: Vec<_> = b.steps.iter().filter(|s| s.0.starts_with(prefix)).collect();
    assert!(
        !matching.is_empty(),
        "no step named {prefix}… in {:?}",
        b.steps
    );
    matching.iter().all(|s| s.1)
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn version_bump_and_source_edit_keep_the_dependency_layer() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    let dir = std::env::temp_dir().join(format!("pycache-e2e-bump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&testdata("uv-minimal"), &dir);
    let tag = "pycache-e2e/bump:latest";
    let first = build(&engine, &dir, tag, &[]);
    assert!(first.ok, "{}", log_tail(&first));

    // A release: the project's version changes in pyproject.toml and uv.lock. The engine keeps
    // content-addressed results across runs, so each run bumps to a version never built before.
    let nonce = nonce();
    let version = format!("0.2.{nonce}");
    for file in ["pyproject.toml", "uv.lock"] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let bumped = text.replacen(
            "version = \"0.1.0\"",
            &format!("version = \"{version}\""),
            1,
        );
        assert_ne!(text, bumped, "{file}");
        std::fs::write(&path, bumped).unwrap();
    }
    let bump = build(&engine, &dir, tag, &[]);
    assert!(bump.ok, "{}", log_tail(&bump));
    assert!(
        step_cached(&bump, "[builder] install 1 locked dependency"),
        "version bump reinstalled dependencies: {:?}",
        bump.executed()
    );
    assert!(
        !step_cached(&bump, "[builder] uv export"),
        "the export must re-run on a lock change"
    );
    assert!(
        !step_cached(&bump, "[builder] uv sync"),
        "the project must be rebuilt"
    );
    let config = config(&engine, tag);
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        version.as_str()
    );

    // A source edit: only the copy and the project install run.
    let greeting = edit_greeting(&dir, nonce);
    let edit = build(&engine, &dir, tag, &[]);
    assert!(edit.ok, "{}", log_tail(&edit));
    assert!(step_cached(&edit, "[builder] install 1 locked dependency"));
    assert!(step_cached(&edit, "[builder] uv export"));
    assert_eq!(
        edit.executed()
            .iter()
            .filter(|s| s.starts_with("[builder]"))
            .count(),
        2,
        "{:?}",
        edit.executed()
    );
    assert!(run(&engine, tag, &[]).contains(&greeting));
    let _ = std::fs::remove_dir_all(&dir);
}

fn layers(engine: &Engine, tag: &str) -> Vec<String> {
    let out = engine
        .docker()
        .args([
            "image",
            "inspect",
            tag,
            "--format",
            "{{json .RootFS.Layers}}",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn layers_are_identical_without_build_cache_or_cache_mounts() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    for case in ["uv-minimal", "pip-hashes"] {
        let dir = testdata(case);
        let warm_tag = format!("pycache-e2e/{case}-warm:latest");
        let cold_tag = format!("pycache-e2e/{case}-cold:latest");
        let warm = build(&engine, &dir, &warm_tag, &[]);
        assert!(warm.ok, "{case}: {}", log_tail(&warm));
        // --no-cache re-runs every step with fresh, empty cache mounts: a clean builder.
        let cold = build(&engine, &dir, &cold_tag, &["--no-cache"]);
        assert!(cold.ok, "{case}: {}", log_tail(&cold));
        assert!(
            cold.cached() == 0,
            "{case}: --no-cache still hit the cache: {:?}",
            cold.steps
        );
        assert_eq!(
            layers(&engine, &warm_tag),
            layers(&engine, &cold_tag),
            "{case}: layers differ between a cached and a clean build"
        );
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn image_config_carries_entrypoint_ports_labels_env_and_build_args() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    let dir = testdata("env-ports-labels");
    let tag = "pycache-e2e/env-ports-labels:latest";
    let b = build(
        &engine,
        &dir,
        tag,
        &["--build-arg", "PORT=8080", "--label", "from.cli=yes"],
    );
    assert!(b.ok, "{}", log_tail(&b));
    let config = config(&engine, tag);
    assert_eq!(config["Entrypoint"], serde_json::json!(["hello"]));
    assert_eq!(config["Cmd"], Value::Null);
    let ports: Vec<&String> = config["ExposedPorts"].as_object().unwrap().keys().collect();
    assert_eq!(ports, ["8000/tcp", "8080/tcp", "9000/udp"]);
    assert_eq!(config["Labels"]["team"], "platform");
    assert_eq!(config["Labels"]["from.cli"], "yes");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"GREETING=hi there") && env.contains(&"APP_MODE=production"),
        "{env:?}"
    );
    assert!(run(&engine, tag, &[]).contains("hello from pycache"));
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn fresh_ci_runner_reuses_dependencies_from_an_exported_cache() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = containerd();
    let nonce = nonce();
    let dir = std::env::temp_dir().join(format!("pycache-e2e-ci-{nonce}"));
    let cache = std::env::temp_dir().join(format!("pycache-e2e-ci-cache-{nonce}"));
    copy_dir(&testdata("uv-minimal"), &dir);
    let tag = "pycache-e2e/fresh-ci:latest";
    // The previous commit's CI run exports its cache, mode=max (cache mounts are never exported).
    let export = build(
        &engine,
        &dir,
        tag,
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", cache.display()),
        ],
    );
    assert!(export.ok, "{}", log_tail(&export));
    // The next commit, on a runner that has nothing but that export.
    let greeting = edit_greeting(&dir, nonce);
    engine.prune_build_cache();
    let ci = build(
        &engine,
        &dir,
        tag,
        &[
            "--cache-from",
            &format!("type=local,src={}", cache.display()),
        ],
    );
    assert!(ci.ok, "{}", log_tail(&ci));
    assert!(
        step_cached(&ci, "[builder] install 1 locked dependency"),
        "dependencies re-installed: {:?}",
        ci.executed()
    );
    assert!(
        step_cached(&ci, "[builder] install uv"),
        "{:?}",
        ci.executed()
    );
    assert!(
        !step_cached(&ci, "[builder] uv sync"),
        "the project must be rebuilt"
    );
    assert!(run(&engine, tag, &[]).contains(&greeting));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cache);
    // Results imported from a cache export carry no content-based cache keys, so a later
    // build that relies on them (a version bump keyed on the export's content) would miss:
    // leave the builder as clean as this test found it after its prune.
    engine.prune_build_cache();
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn classic_engine_builds_a_dockerfile_with_copy_link() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = classic();
    let nonce = nonce();
    let dir = std::env::temp_dir().join(format!("pycache-e2e-classic-{nonce}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("greeting.txt"), format!("hello {nonce}\n")).unwrap();
    // No `# syntax=`: the engine's own Dockerfile frontend, which turns `COPY --link` into a
    // plain copy on this store. The RUN reaches PyPI: the engine's bridge and NAT work.
    let dockerfile = r#"FROM BASE
COPY --link greeting.txt /srv/greeting.txt
RUN python3 -c "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/six/')" \
 && cp /srv/greeting.txt /srv/checked.txt
CMD ["cat", "/srv/checked.txt"]
"#;
    std::fs::write(
        dir.join("Dockerfile"),
        dockerfile.replace("BASE", &base_image()),
    )
    .unwrap();
    let tag = "pycache-e2e/classic-copy-link:latest";
    let b = build_file(&engine, &dir.join("Dockerfile"), &dir, tag, &[]);
    assert!(b.ok, "{}", log_tail(&b));
    assert_eq!(run(&engine, tag, &[]).trim(), format!("hello {nonce}"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn classic_engine_runs_our_frontend_which_needs_mergeop() {
    let _lock = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let engine = classic();
    let b = build(
        &engine,
        &testdata("uv-minimal"),
        "pycache-e2e/classic-uv-minimal:latest",
        &[],
    );
    // The engine resolved our image from its classic store and ran it; the frontend then
    // refused, because this BuildKit has no MergeOp. The classic-store feature (layers joined
    // without MergeOp there) flips this: the build must then succeed and the image run.
    let log = log_tail(&b);
    assert!(!b.ok, "uv-minimal built on the classic store:\n{log}");
    let image = frontend_image();
    assert!(
        b.stderr
            .lines()
            .any(|l| l.contains("\"name\":\"docker-image://") && l.contains(&image)),
        "the frontend image {image} was not resolved:\n{log}"
    );
    assert!(
        log.to_lowercase().contains("mergeop"),
        "the failure does not name mergeop:\n{log}"
    );
}

// The refusals run in a plain `cargo test`: they stop before any docker command.

#[test]
#[should_panic(expected = "refusing to prune: DOCKER_HOST unix:///var/run/docker.sock")]
fn prune_refuses_the_default_engine() {
    Engine::at("containerd", "unix:///var/run/docker.sock").prune_build_cache();
}

#[test]
#[should_panic(expected = "refusing to prune")]
fn prune_refuses_the_other_private_engine_s_socket() {
    Engine::at(
        "containerd",
        "unix:///run/pycache-engines/classic/docker.sock",
    )
    .prune_build_cache();
}
