//! End-to-end: real `docker buildx build` runs of the frontend image on demo projects, on
//! pycache's own engines (`scripts/setup.sh` starts them; never the developer's engine, whose
//! build cache a prune here would wipe). The tests are ignored by a plain `cargo test`;
//! `scripts/test.sh` runs them with `--include-ignored`, and then a missing engine or image is a
//! failure, never a skip.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::path::Path;

use serde_json::Value;

use support::*;

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
    let _lock = one_at_a_time();
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
    let _lock = one_at_a_time();
    let engine = containerd();
    let config = build_run_rebuild(&engine, "pip-hashes", "pip demo 1.17.0 example.com");
    assert_eq!(config["User"], "app");
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn apt_packages_are_in_the_runtime_and_build_packages_are_not() {
    let _lock = one_at_a_time();
    let engine = containerd();
    build_run_rebuild(&engine, "apt-packages", "gcc present: False");
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn broken_recipe_fails_with_the_recipe_line() {
    let _lock = one_at_a_time();
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

/// Edits the uv-minimal copy in `dir` so that it prints a new greeting; returns the greeting.
fn edit_greeting(dir: &Path, nonce: u128) -> String {
    let src = dir.join("src/hello/__init__.py");
    let text = std::fs::read_to_string(&src).unwrap();
    let greeting = format!("hello again ({nonce}) from pycache");
    std::fs::write(&src, text.replace("hello from pycache", &greeting)).unwrap();
    greeting
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn version_bump_and_source_edit_keep_the_dependency_layer() {
    let _lock = one_at_a_time();
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
        step_cached(&bump, "[builder] deps: six 1.17.0"),
        "version bump reinstalled dependencies: {:?}",
        bump.executed()
    );
    assert!(
        !step_cached(&bump, "[builder] copy uv.lock"),
        "the lock layer must follow the lock"
    );
    assert!(
        !step_cached(&bump, "[builder] install hello from source"),
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
    assert!(step_cached(&edit, "[builder] deps: six 1.17.0"));
    assert!(step_cached(&edit, "[builder] copy uv.lock"));
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

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn layers_are_identical_without_build_cache_or_cache_mounts() {
    let _lock = one_at_a_time();
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
        // Nor between days: shadow-utils dates a password's last change (also in the
        // /etc/shadow- backup) unless SOURCE_DATE_EPOCH says otherwise.
        let shadow = root_sh(
            &engine,
            &cold_tag,
            "grep -h '^app:' /etc/shadow /etc/shadow-",
        );
        for line in shadow.lines() {
            assert_eq!(
                line.split(':').nth(2),
                Some(""),
                "{case}: the user layer carries the day it was built: {shadow}"
            );
        }
        assert_eq!(shadow.lines().count(), 2, "{case}: {shadow}");
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn image_config_carries_entrypoint_ports_labels_env_and_build_args() {
    let _lock = one_at_a_time();
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
    let _lock = one_at_a_time();
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
        step_cached(&ci, "[builder] deps: six 1.17.0"),
        "dependencies re-installed: {:?}",
        ci.executed()
    );
    assert!(
        step_cached(&ci, "[builder] install uv"),
        "{:?}",
        ci.executed()
    );
    assert!(
        !step_cached(&ci, "[builder] install hello from source"),
        "the project must be rebuilt"
    );
    assert!(run(&engine, tag, &[]).contains(&greeting));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn classic_engine_builds_a_dockerfile_with_copy_link() {
    let _lock = one_at_a_time();
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
fn classic_engine_builds_with_copied_layers_and_says_so() {
    let _lock = one_at_a_time();
    let engine = classic();
    let tag = "pycache-e2e/classic-uv-minimal:latest";
    let b = build(&engine, &testdata("uv-minimal"), tag, &[]);
    // The engine resolved our image from its classic store and ran it; without MergeOp the
    // frontend copies the layers instead, and says so as a build warning.
    let log = log_tail(&b);
    assert!(b.ok, "uv-minimal on the classic store:\n{log}");
    let image = frontend_image();
    assert!(
        b.stderr
            .lines()
            .any(|l| l.contains("\"name\":\"docker-image://") && l.contains(&image)),
        "the frontend image {image} was not resolved:\n{log}"
    );
    assert!(
        b.warnings.iter().any(|w| w.contains("cannot merge layers")),
        "no warning that layers are copied: {:?}",
        b.warnings
    );
    assert!(run(&engine, tag, &[]).contains("hello from pycache"));
    assert_eq!(run(&engine, tag, &["id", "-u"]).trim(), "10001");
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
