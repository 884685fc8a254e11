//! End-to-end proofs of lock-driven dependency layers, on pycache's own engines (see
//! `tests/e2e.rs` for how they run): the merged environment is the one `uv sync` makes; one
//! changed dependency re-runs one layer, locally and on a fresh runner with only a `mode=max`
//! cache export (local directory and registry); two clean builds give the same image; the
//! classic image store builds the same content with copies; conflicting files are reported.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::path::PathBuf;

use support::*;

/// Files that differ, by design, between pycache's environment and one `uv sync`'s:
/// uv's empty `.lock`, which pycache removes; `uv_cache.json` (a build time), which pycache
/// removes for reproducible layers, and so the project's RECORD; the project's
/// `direct_url.json`, `{}` rather than `{"editable": false}` (the same under PEP 610); and
/// pycache's report of its layers.
const ALLOWED: &[&str] = &[
    "./.lock ",
    "uv_cache.json ",
    "layers_demo-0.1.0.dist-info/RECORD ",
    "layers_demo-0.1.0.dist-info/direct_url.json ",
    "./pycache-layers.txt ",
];

fn allowed(line: &str) -> bool {
    ALLOWED.iter().any(|a| line.contains(a))
}

/// `testdata/uv-layers` in a scratch directory of its own.
fn scratch_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pycache-e2e-{name}-{}", nonce()));
    copy_dir(&testdata("uv-layers"), &dir);
    dir
}

/// Renames the project of a scratch copy to a name never built before: the empty environment
/// is named after the project, so every layer of this copy is new to the engine, and no image
/// left by another test can keep one of its results alive through a prune.
fn rename_project(dir: &std::path::Path) -> String {
    let name = format!("layers-demo-{}", nonce());
    let pyproject = dir.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap().replacen(
        "name = \"layers-demo\"",
        &format!("name = \"{name}\""),
        1,
    ) + "\n[tool.uv.build-backend]\nmodule-name = \"layers_demo\"\n";
    std::fs::write(&pyproject, text).unwrap();
    rename_in_lock(&dir.join("uv.lock"), &name);
    name
}

fn rename_in_lock(lock: &std::path::Path, name: &str) {
    let text = std::fs::read_to_string(lock).unwrap();
    let renamed = text.replacen("name = \"layers-demo\"", &format!("name = \"{name}\""), 1);
    assert_ne!(text, renamed);
    std::fs::write(lock, renamed).unwrap();
}

/// The dependency layer a bump of zope-event re-runs: its own (`layers = 13`, one per package;
/// see `testdata/uv-layers/explain.txt`).
const ZOPE_EVENT_BUMPED: &str = "[builder] deps: zope-event 6.1";

/// uv.lock with zope-event 6.2 → 6.1 (`uv lock --upgrade-package zope-event==6.1`), nothing else.
fn bump_zope_event(dir: &std::path::Path, project: Option<&str>) {
    let lock = dir.join("uv.lock");
    std::fs::copy(fixture("uv-layers/uv.lock.bump-zope-event"), &lock).unwrap();
    if let Some(name) = project {
        rename_in_lock(&lock, name);
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn the_merged_environment_is_the_one_uv_sync_makes() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let dir = scratch_copy("equivalence");
    let ours = "pycache-e2e/uv-layers:latest";
    let b = build(&engine, &dir, ours, &[]);
    assert!(b.ok, "{}", log_tail(&b));
    // Layers of wheels install from the lock's URLs (the sdist-only one from the index): none
    // that ran fell back to the index (tests/faults.rs proves the lock's URLs are used, on
    // layers that always run).
    assert!(
        !decoded_log(&b).contains("did not install from its URLs"),
        "{}",
        log_tail(&b)
    );
    let reference = "pycache-e2e/uv-layers-uv-sync:latest";
    let base = format!("BASE={}", base_image());
    let r = build_file(
        &engine,
        &fixture("uv-layers/Dockerfile.uv-sync"),
        &dir,
        reference,
        &["--build-arg", &base],
    );
    assert!(r.ok, "{}", log_tail(&r));
    let (a, b_) = (
        venv_listing(&engine, reference),
        venv_listing(&engine, ours),
    );
    let only_ref: Vec<&String> = a
        .iter()
        .filter(|l| !b_.contains(l) && !allowed(l))
        .collect();
    let only_ours: Vec<&String> = b_
        .iter()
        .filter(|l| !a.contains(l) && !allowed(l))
        .collect();
    assert!(
        only_ref.is_empty() && only_ours.is_empty(),
        "the environments differ:\nonly in uv sync's: {only_ref:#?}\nonly in pycache's: {only_ours:#?}"
    );
    assert!(
        a.len() > 1000,
        "{} files: the listing did not work",
        a.len()
    );
    // Console scripts, headers (greenlet), the sdist-only package, the namespace split over two
    // distributions, extras: all there, and the app runs as the non-root user.
    let out = run(&engine, ours, &[]);
    for want in [
        "pygmentize: True",
        "greenlet headers: True",
        "docopt 0.6.2",
        "zope.event zope.event",
        "socks 1.7.1",
    ] {
        assert!(out.contains(want), "{want:?} not in {out}");
    }
    let report = run(&engine, ours, &["cat", "/app/.venv/pycache-layers.txt"]);
    assert!(report.contains("0 conflicting files"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn one_changed_dependency_rebuilds_one_layer_locally_and_from_exported_caches() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let registry = registry();
    let dir = scratch_copy("granular");
    let project = rename_project(&dir);
    let tag = "pycache-e2e/granular:latest";
    // A clean engine, and a project it never saw: every layer is new to it.
    remove_image(&engine, tag);
    engine.prune_build_cache();
    let local = std::env::temp_dir().join(format!("pycache-e2e-granular-cache-{}", nonce()));
    let remote = format!("{registry}/pycache-e2e/granular-cache:{}", nonce());
    let first = build(
        &engine,
        &dir,
        tag,
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", local.display()),
        ],
    );
    assert!(first.ok, "{}", log_tail(&first));
    // 13 packages, a layer each.
    assert_eq!(
        dependency_layers_run(&first).len(),
        13,
        "{:?}",
        dependency_layers_run(&first)
    );
    // The same commit's cache to the registry too, by a build of its own: with two --cache-to
    // in one build, the local export was not importable (BuildKit 0.25, seen here).
    let again = build(
        &engine,
        &dir,
        tag,
        &[
            "--cache-to",
            &format!("type=registry,ref={remote},mode=max"),
        ],
    );
    assert!(again.ok, "{}", log_tail(&again));
    assert!(
        dependency_layers_run(&again).is_empty(),
        "{:?}",
        again.executed()
    );

    // One package bumped in uv.lock alone (uv lock --upgrade-package zope-event==6.1).
    bump_zope_event(&dir, Some(&project));
    // zope-event's bucket, and no other layer.
    let expect = [ZOPE_EVENT_BUMPED];
    let bump = build(&engine, &dir, tag, &[]);
    assert!(bump.ok, "{}", log_tail(&bump));
    assert_eq!(
        dependency_layers_run(&bump),
        expect,
        "{:?}",
        bump.executed()
    );
    assert!(step_cached(&bump, "[builder] install layers-demo"));
    assert!(run(&engine, tag, &[]).contains("layers-demo"));

    // A fresh runner with only the previous commit's export: the same one layer runs.
    for (what, from) in [
        ("local", format!("type=local,src={}", local.display())),
        ("registry", format!("type=registry,ref={remote}")),
    ] {
        remove_image(&engine, tag);
        engine.prune_build_cache();
        let ci = build(&engine, &dir, tag, &["--cache-from", &from]);
        assert!(ci.ok, "{what}: {}", log_tail(&ci));
        assert_eq!(
            dependency_layers_run(&ci),
            expect,
            "{what} cache: {:?}",
            ci.executed()
        );
        assert!(
            step_cached(&ci, "[builder] install layers-demo"),
            "{what} cache: {:?}",
            ci.executed()
        );
        assert!(
            step_cached(&ci, "[builder] uv venv"),
            "{what}: {:?}",
            ci.executed()
        );
        assert!(run(&engine, tag, &[]).contains("zope.event"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&local);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn two_clean_builds_give_the_same_image() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let dir = testdata("uv-layers");
    let mut ids = Vec::new();
    for i in 0..2 {
        let tag = format!("pycache-e2e/reproducible-{i}:latest");
        // --no-cache: every step runs again, with empty cache mounts (a clean builder).
        let b = build(
            &engine,
            &dir,
            &tag,
            &["--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"],
        );
        assert!(b.ok, "{}", log_tail(&b));
        assert_eq!(b.cached(), 0, "{:?}", b.steps);
        let id = engine
            .docker()
            .args(["image", "inspect", &tag, "--format", "{{.Id}}"])
            .output()
            .unwrap();
        ids.push(String::from_utf8_lossy(&id.stdout).trim().to_owned());
    }
    assert_eq!(ids[0], ids[1], "two clean builds of one lock differ");
    let layers = layers(&engine, "pycache-e2e/reproducible-0:latest");
    assert!(layers.len() < 40, "{} layers", layers.len());
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn the_classic_store_builds_the_same_environment_and_reruns_one_install() {
    let _lock = one_at_a_time();
    let engine = classic();
    let dir = scratch_copy("classic");
    let tag = "pycache-e2e/classic-layers:latest";
    remove_image(&engine, tag);
    engine.prune_build_cache();
    let b = build(&engine, &dir, tag, &[]);
    assert!(b.ok, "{}", log_tail(&b));
    assert!(
        b.warnings.iter().any(|w| w.contains("cannot merge layers")),
        "{:?}",
        b.warnings
    );
    // The same files as on the containerd store (built there by the equivalence test or now).
    let merged = "pycache-e2e/uv-layers-merged:latest";
    let m = build(&containerd(), &testdata("uv-layers"), merged, &[]);
    assert!(m.ok, "{}", log_tail(&m));
    assert_eq!(
        venv_listing(&engine, tag),
        venv_listing(&containerd(), merged)
    );
    bump_zope_event(&dir, None);
    let bump = build(&engine, &dir, tag, &[]);
    assert!(bump.ok, "{}", log_tail(&bump));
    assert_eq!(
        dependency_layers_run(&bump),
        [ZOPE_EVENT_BUMPED],
        "{:?}",
        bump.executed()
    );
    assert!(run(&engine, tag, &[]).contains("layers-demo"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn files_two_layers_write_differently_are_reported() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let tag = "pycache-e2e/conflict:latest";
    let b = build(&engine, &testdata("uv-conflict"), tag, &[]);
    assert!(b.ok, "{}", log_tail(&b));
    let report = run(&engine, tag, &["cat", "/app/.venv/pycache-layers.txt"]);
    assert!(
        report
            .contains("conflict: jwt/__init__.py is written with different contents by jwt-1.3.1")
            && report.contains("3 conflicting files"),
        "{report}"
    );
    assert!(run(&engine, tag, &[]).contains("site-packages/jwt/__init__.py"));
}
