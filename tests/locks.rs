//! End-to-end: projects locked by Poetry and by PEP 751 `pylock.toml`, built through the
//! frontend (`# syntax=`, named by `BUILDKIT_SYNTAX`) on pycache's private containerd engine.
//! Each image runs as the non-root user, a rebuild with no change runs nothing, and a source
//! edit re-runs no `[builder] deps:` step. Ignored by a plain `cargo test`; `scripts/test.sh`
//! (or `cargo test --test locks -- --include-ignored`) runs them, and then a missing engine or
//! image is a failure, never a skip.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::path::{Path, PathBuf};

use support::*;

/// A scratch copy of a `testdata/` case, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn of(case: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pycache-locks-{case}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&testdata(case), &dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The steps a build ran (less requirements writes, see [`Build::executed`]), sorted.
fn ran(b: &Build) -> Vec<String> {
    let mut ran: Vec<String> = b.executed().into_iter().map(str::to_owned).collect();
    ran.sort();
    ran
}

/// `python -c` in the image: whether `module` can be imported.
fn importable(engine: &Engine, tag: &str, module: &str) -> bool {
    let script = format!(
        "import importlib.util, sys; print(importlib.util.find_spec({module:?}) is not None)"
    );
    run(engine, tag, &["python", "-c", &script]).trim() == "True"
}

/// Builds the case, checks what the image prints, its user and that a rebuild runs nothing;
/// then edits `source` (replacing `greeting`) and checks that no dependency step re-ran and
/// that the image prints the edit. Returns the builder steps the edit ran.
fn build_rebuild_edit(
    engine: &Engine,
    dir: &Path,
    tag: &str,
    expect: &str,
    source: &str,
    greeting: &str,
) -> Vec<String> {
    let first = build(engine, dir, tag, &[]);
    assert!(first.ok, "{tag}: build failed:\n{}", log_tail(&first));
    let output = run(engine, tag, &[]);
    assert!(
        output.contains(expect),
        "{tag}: {output:?} lacks {expect:?}"
    );
    assert_eq!(run(engine, tag, &["id", "-u"]).trim(), "10001", "{tag}");
    assert_eq!(config(engine, tag)["User"], "app", "{tag}");

    let again = build(engine, dir, tag, &[]);
    assert!(again.ok, "{tag}: rebuild failed:\n{}", log_tail(&again));
    assert!(
        ran(&again).is_empty(),
        "{tag}: a rebuild with no change ran {:?}",
        ran(&again)
    );
    assert!(
        again.cached() >= 4,
        "{tag}: expected our steps in the rawjson log, got {:?}",
        again.steps
    );

    // The engine keeps content-addressed results across runs: an edit never made before.
    let edited = format!("{greeting} ({})", nonce());
    let path = dir.join(source);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(greeting), "{source} lacks {greeting:?}");
    std::fs::write(&path, text.replace(greeting, &edited)).unwrap();
    let edit = build(engine, dir, tag, &[]);
    assert!(
        edit.ok,
        "{tag}: build after a source edit failed:\n{}",
        log_tail(&edit)
    );
    assert!(
        dependency_layers_run(&edit).is_empty(),
        "{tag}: a source edit re-ran dependency steps: {:?}",
        dependency_layers_run(&edit)
    );
    assert!(
        !step_cached(&edit, "[builder] copy source"),
        "{tag}: the source copy must follow the source"
    );
    assert!(
        run(engine, tag, &[]).contains(&edited),
        "{tag}: the edit is not in the image"
    );
    ran(&edit)
        .into_iter()
        .filter(|s| s.starts_with("[builder]"))
        .collect()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn poetry_project_with_a_src_layout_a_console_script_and_no_dev_group() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let scratch = Scratch::of("poetry-app");
    let tag = "pycache-e2e/locks-poetry-app:latest";
    let edit_ran = build_rebuild_edit(
        &engine,
        &scratch.0,
        tag,
        "hello from greet (six 1.17.0, idna 3.20)",
        "src/greet/__init__.py",
        "hello from greet",
    );
    // Only the source and the project (built by poetry-core from the src layout) re-ran.
    assert_eq!(
        edit_ran,
        [
            "[builder] copy source to /app",
            "[builder] install greet from source"
        ],
        "{edit_ran:?}"
    );
    assert_eq!(config(&engine, tag)["Cmd"], serde_json::json!(["greet"]));
    // The dev group (pytest and its dependencies) is locked but not installed; neither Poetry
    // nor uv is in the image.
    assert!(
        !importable(&engine, tag, "pytest"),
        "the dev group was installed"
    );
    assert!(
        !importable(&engine, tag, "pluggy"),
        "the dev group was installed"
    );
    assert!(!importable(&engine, tag, "poetry"));
    assert!(importable(&engine, tag, "greet"));
    let clean = run(
        &engine,
        tag,
        &[
            "sh",
            "-c",
            "test ! -e /opt/uv && test ! -e /app/.venv/bin/poetry && echo clean",
        ],
    );
    assert_eq!(clean.trim(), "clean");
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn poetry_project_in_package_mode_false_installs_its_dependencies_only() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let scratch = Scratch::of("poetry-no-package");
    let tag = "pycache-e2e/locks-poetry-no-package:latest";
    let edit_ran = build_rebuild_edit(
        &engine,
        &scratch.0,
        tag,
        "hello from a Poetry script (click 8.5.1, six 1.17.0)",
        "main.py",
        "hello from a Poetry script",
    );
    // No project to build: a source edit copies the source and nothing else.
    assert_eq!(edit_ran, ["[builder] copy source to /app"], "{edit_ran:?}");
    // Locked by Poetry 1.8 (no groups in the lock): the dev group is left out all the same,
    // and so is the optional docs group; colorama is for Windows only.
    for module in ["pytest", "iniconfig", "colorama"] {
        assert!(!importable(&engine, tag, module), "{module} was installed");
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn pylock_project_installs_what_the_lock_says() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let scratch = Scratch::of("pylock-app");
    let tag = "pycache-e2e/locks-pylock-app:latest";
    let edit_ran = build_rebuild_edit(
        &engine,
        &scratch.0,
        tag,
        "hello from pylock.toml (six 1.17.0, idna 3.20)",
        "src/hello_lock/__init__.py",
        "hello from pylock.toml",
    );
    assert_eq!(
        edit_ran,
        [
            "[builder] copy source to /app",
            "[builder] install hello-lock from source"
        ],
        "{edit_ran:?}"
    );
    assert_eq!(
        config(&engine, tag)["Cmd"],
        serde_json::json!(["hello-lock"])
    );
    // The lock was exported without the dev group.
    assert!(!importable(&engine, tag, "iniconfig"));
}
