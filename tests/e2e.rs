//! End-to-end: real `docker buildx build` runs of the frontend image on demo projects, against
//! the engine `scripts/setup.sh` starts. Run with `PYCACHE_E2E=1` (scripts/test.sh does).
//! Without it the tests only print why they did nothing; under `CI=true` they never skip: a
//! missing `PYCACHE_E2E`, engine or image is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// One build at a time: two cores, and cache-hit counts must not see another test's build.
static ENGINE: Mutex<()> = Mutex::new(());

fn frontend_image() -> String {
    std::env::var("PYCACHE_FRONTEND_IMAGE").unwrap_or_else(|_| "local/pycache-frontend:dev".into())
}

/// Whether to run; panics when CI needs the E2E and the engine is not there.
fn enabled() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let asked = std::env::var("PYCACHE_E2E").is_ok_and(|v| v == "1");
    assert!(
        asked || !ci,
        "e2e: under CI=true the end-to-end tests must run: use scripts/test.sh (PYCACHE_E2E=1 after scripts/setup.sh)"
    );
    if !asked {
        eprintln!("e2e: skipped (set PYCACHE_E2E=1, or run scripts/test.sh)");
        return false;
    }
    let info = Command::new("docker").args(["buildx", "version"]).output();
    let ok = info.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "e2e: docker buildx is not available: {info:?}; run scripts/setup.sh"
    );
    let image = Command::new("docker")
        .args(["image", "inspect", &frontend_image()])
        .output()
        .unwrap();
    assert!(
        image.status.success(),
        "e2e: frontend image {} missing; run scripts/setup.sh",
        frontend_image()
    );
    true
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

/// `docker buildx build` of `dir` with its `pycache.toml`, tagged `tag`, with rawjson progress.
fn build(dir: &Path, tag: &str, extra: &[&str]) -> Build {
    let out = Command::new("docker")
        .args([
            "buildx",
            "build",
            "--progress=rawjson",
            "--provenance=false",
        ])
        .args([
            "--build-arg",
            &format!("BUILDKIT_SYNTAX={}", frontend_image()),
        ])
        .arg("-f")
        .arg(dir.join("pycache.toml"))
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
                        && let Ok(bytes) = base64_decode(data)
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

fn base64_decode(s: &str) -> Result<Vec<u8>, ()> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c).ok_or(())? as u32;
        buf = buf << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Ok(out)
}

fn run(tag: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
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

fn config(tag: &str) -> Value {
    let out = Command::new("docker")
        .args(["image", "inspect", tag])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["Config"].clone()
}

/// Builds, runs, checks the config, and rebuilds to see every step cached.
fn build_run_rebuild(case: &str, expect_output: &str) -> Value {
    let dir = testdata(case);
    let tag = format!("pycache-e2e/{case}:latest");
    let first = build(&dir, &tag, &[]);
    assert!(first.ok, "{case}: build failed:\n{}", log_tail(&first));
    let output = run(&tag, &[]);
    assert!(
        output.contains(expect_output),
        "{case}: output {output:?} lacks {expect_output:?}"
    );
    let again = build(&dir, &tag, &[]);
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
    config(&tag)
}

#[test]
fn uv_project_builds_runs_and_rebuilds_from_cache() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let config = build_run_rebuild("uv-minimal", "hello from pycache (python 3.11, six 1.17.0)");
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
        run("pycache-e2e/uv-minimal:latest", &["id", "-u"]).trim(),
        "10001"
    );
    // No uv and no compilers in the runtime image.
    let which = Command::new("docker")
        .args([
            "run",
            "--rm",
            "pycache-e2e/uv-minimal:latest",
            "sh",
            "-c",
            "test ! -e /opt/uv && echo clean",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&which.stdout).trim(), "clean");
}

#[test]
fn pip_project_with_hashes_builds_and_runs() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let config = build_run_rebuild("pip-hashes", "pip demo 1.17.0 example.com");
    assert_eq!(config["User"], "app");
}

#[test]
fn apt_packages_are_in_the_runtime_and_build_packages_are_not() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    build_run_rebuild("apt-packages", "gcc present: False");
}

#[test]
fn broken_recipe_fails_with_the_recipe_line() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let b = build(
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
fn version_bump_and_source_edit_keep_the_dependency_layer() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("pycache-e2e-bump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&testdata("uv-minimal"), &dir);
    let tag = "pycache-e2e/bump:latest";
    let first = build(&dir, tag, &[]);
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
    let bump = build(&dir, tag, &[]);
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
    let config = config(tag);
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        version.as_str()
    );

    // A source edit: only the copy and the project install run.
    let greeting = edit_greeting(&dir, nonce);
    let edit = build(&dir, tag, &[]);
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
    assert!(run(tag, &[]).contains(&greeting));
    let _ = std::fs::remove_dir_all(&dir);
}

fn layers(tag: &str) -> Vec<String> {
    let out = Command::new("docker")
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
fn layers_are_identical_without_build_cache_or_cache_mounts() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    for case in ["uv-minimal", "pip-hashes"] {
        let dir = testdata(case);
        let warm_tag = format!("pycache-e2e/{case}-warm:latest");
        let cold_tag = format!("pycache-e2e/{case}-cold:latest");
        let warm = build(&dir, &warm_tag, &[]);
        assert!(warm.ok, "{case}: {}", log_tail(&warm));
        // --no-cache re-runs every step with fresh, empty cache mounts: a clean builder.
        let cold = build(&dir, &cold_tag, &["--no-cache"]);
        assert!(cold.ok, "{case}: {}", log_tail(&cold));
        assert!(
            cold.cached() == 0,
            "{case}: --no-cache still hit the cache: {:?}",
            cold.steps
        );
        assert_eq!(
            layers(&warm_tag),
            layers(&cold_tag),
            "{case}: layers differ between a cached and a clean build"
        );
    }
}

#[test]
fn image_config_carries_entrypoint_ports_labels_env_and_build_args() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = testdata("env-ports-labels");
    let tag = "pycache-e2e/env-ports-labels:latest";
    let b = build(
        &dir,
        tag,
        &["--build-arg", "PORT=8080", "--label", "from.cli=yes"],
    );
    assert!(b.ok, "{}", log_tail(&b));
    let config = config(tag);
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
    assert!(run(tag, &[]).contains("hello from pycache"));
}

#[test]
fn fresh_ci_runner_reuses_dependencies_from_an_exported_cache() {
    if !enabled() {
        return;
    }
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let nonce = nonce();
    let dir = std::env::temp_dir().join(format!("pycache-e2e-ci-{nonce}"));
    let cache = std::env::temp_dir().join(format!("pycache-e2e-ci-cache-{nonce}"));
    copy_dir(&testdata("uv-minimal"), &dir);
    let tag = "pycache-e2e/fresh-ci:latest";
    // The previous commit's CI run exports its cache, mode=max (cache mounts are never exported).
    let export = build(
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
    let prune = Command::new("docker")
        .args(["buildx", "prune", "--all", "--force"])
        .output()
        .unwrap();
    assert!(prune.status.success());
    let ci = build(
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
    assert!(run(tag, &[]).contains(&greeting));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cache);
    // Results imported from a cache export carry no content-based cache keys, so a later
    // build that relies on them (a version bump keyed on the export's content) would miss:
    // leave the builder as clean as this test found it after its prune.
    let prune = Command::new("docker")
        .args(["buildx", "prune", "--all", "--force"])
        .output()
        .unwrap();
    assert!(prune.status.success());
}
