//! Faults, end to end on pycache's own engines (see `tests/e2e.rs` for how they run): an
//! unreachable index is not asked for the files a lock names, unreachable files fail naming the
//! file and where, an unreachable mirror fails naming the package and the index, and the build
//! after the fix reuses every layer below; a build interrupted mid-install leaves a cache the next build
//! uses; ten builds of different projects at once, sharing the cache mounts, all give correct
//! images. (The daemon hanging up on the frontend is `tests/gateway.rs`, with a fake daemon.)

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// `testdata/<case>` in a scratch directory whose workdir is new to the engine, so that every
/// step from the environment on really runs (the workdir keys them), while the base image,
/// apt and uv steps below stay what the engine may have cached.
fn scratch(case: &str, tag: &str) -> (PathBuf, String) {
    let n = nonce();
    let dir = std::env::temp_dir().join(format!("pycache-faults-{tag}-{n}"));
    copy_dir(&testdata(case), &dir);
    let workdir = format!("/srv/w{n}");
    let recipe = std::fs::read_to_string(dir.join("pycache.toml"))
        .unwrap()
        .replace("\"/app/", &format!("\"{workdir}/"));
    let recipe = if recipe.contains("[image]\n") {
        recipe.replacen(
            "[image]\n",
            &format!("[image]\nworkdir = \"{workdir}\"\n"),
            1,
        )
    } else {
        format!("{recipe}\n[image]\nworkdir = \"{workdir}\"\n")
    };
    std::fs::write(dir.join("pycache.toml"), recipe).unwrap();
    (dir, workdir)
}

/// The (name, error) of each vertex of `build` that failed.
fn failing_vertices(build: &Build) -> Vec<(String, String)> {
    build
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|v| v["vertexes"].as_array().cloned().unwrap_or_default())
        .filter_map(|vx| {
            let error = vx.get("error")?.as_str()?.to_owned();
            Some((vx["name"].as_str()?.to_owned(), error))
        })
        .collect()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn an_unreachable_index_names_the_package_and_index_and_the_fix_reuses_every_layer_below() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let (dir, _) = scratch("uv-minimal", "index");
    let lock = std::fs::read_to_string(dir.join("uv.lock")).unwrap();
    let recipe = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
    // Nothing listens on port 9 of the build container's loopback, nor of the daemon's: refused
    // at once.
    let unreachable = "http://127.0.0.1:9/simple";
    let index_down = lock.replace(
        "source = { registry = \"https://pypi.org/simple\" }",
        &format!("source = {{ registry = \"{unreachable}\" }}"),
    );
    assert_ne!(index_down, lock);
    let tag = "pycache-e2e/faults-index:latest";
    // An index that is down does not fail a lock that names its files: the daemon downloads
    // them from the lock's URLs, as `uv sync` would.
    std::fs::write(dir.join("uv.lock"), &index_down).unwrap();
    let from_urls = build(&engine, &dir, tag, &[]);
    assert!(from_urls.ok, "{}", log_tail(&from_urls));
    assert!(
        !decoded_log(&from_urls).contains("asking the index"),
        "{}",
        log_tail(&from_urls)
    );

    // The files unreachable too, and not in the engine's cache (which keys a download by its
    // hash, so a file it already has is never fetched again): the daemon's download of six's
    // wheel fails (as `uv sync` of this lock fails), naming the file and where it was asked for.
    engine.prune_build_cache();
    let broken = index_down.replace(
        "https://files.pythonhosted.org/",
        "http://127.0.0.1:9/files/",
    );
    assert_ne!(broken, index_down);
    std::fs::write(dir.join("uv.lock"), broken).unwrap();
    let failed = build(&engine, &dir, tag, &[]);
    assert!(!failed.ok, "a build from unreachable files must fail");
    let failing = failing_vertices(&failed);
    assert!(
        failing
            .iter()
            .any(|(n, e)| n.starts_with("[download] six-1.17.0-") && e.contains("127.0.0.1:9")),
        "the failing step is not the download of six's wheel, or does not say where: {failing:?}\n{}",
        log_tail(&failed)
    );

    // The lock as it was, but the recipe's own index (a mirror the builder must use) down: six's
    // layer asks it, and fails naming the package and the index.
    std::fs::write(dir.join("uv.lock"), &lock).unwrap();
    std::fs::write(
        dir.join("pycache.toml"),
        format!("{recipe}\n[python]\nindex-url = \"{unreachable}\"\n"),
    )
    .unwrap();
    let failed = build(&engine, &dir, tag, &[]);
    assert!(!failed.ok, "a build from an unreachable index must fail");
    // The step's output, less BuildKit's echo of the failed script.
    let log: String = decoded_log(&failed)
        .lines()
        .filter(|l| !l.contains("did not complete successfully"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains("six") && log.contains("127.0.0.1:9"),
        "the error names neither the package nor the index:\n{}",
        log_tail(&failed)
    );
    let failing = failing_vertices(&failed);
    assert!(
        failing.iter().any(|(n, _)| n.contains("deps: six 1.17.0")),
        "the failing step is not six's layer: {failing:?}"
    );
    let below: Vec<String> = failed
        .steps
        .iter()
        .filter(|(n, _)| n.contains("uv venv") || n.contains("install uv"))
        .map(|(n, _)| n.clone())
        .collect();
    assert!(!below.is_empty(), "{:?}", failed.steps);

    // The fix: the mirror's address corrected (here PyPI's own). Everything below six's layer is
    // reused.
    std::fs::write(
        dir.join("pycache.toml"),
        format!("{recipe}\n[python]\nindex-url = \"https://pypi.org/simple\"\n"),
    )
    .unwrap();
    let fixed = build(&engine, &dir, tag, &[]);
    assert!(fixed.ok, "{}", log_tail(&fixed));
    for name in &below {
        assert!(
            fixed.steps.iter().any(|(n, cached)| n == name && *cached),
            "`{name}` ran again after the fix: {:?}",
            fixed.steps
        );
    }
    let out = run(&engine, tag, &[]);
    assert!(out.contains("six 1.17.0"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `docker buildx build` of `dir` and kills the client once `enough` of our steps have
/// completed (not from cache); returns the names of those completed steps.
fn build_and_interrupt(engine: &Engine, dir: &Path, tag: &str, enough: usize) -> Vec<String> {
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let mut child = build_command(
        engine,
        &dir.join("pycache.toml"),
        dir,
        tag,
        &["--build-arg", &syntax],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut done: Vec<String> = Vec::new();
    let started = Instant::now();
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        for vx in v["vertexes"].as_array().into_iter().flatten() {
            let name = vx["name"].as_str().unwrap_or("");
            // Installs, not the tiny file ops writing their requirements.
            let ours = name.starts_with("[builder] deps:") && !is_requirements_write(name);
            let ran = vx.get("completed").is_some()
                && !vx["cached"].as_bool().unwrap_or(false)
                && vx.get("error").is_none();
            if ours && ran && !done.iter().any(|d| d == name) {
                done.push(name.to_owned());
            }
        }
        if done.len() >= enough || started.elapsed() > Duration::from_secs(600) {
            break;
        }
    }
    // As a user's Ctrl-C or a CI runner's cancel: the client goes away mid-build.
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the build finished before it could be interrupted"
    );
    done
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn an_interrupted_build_leaves_a_cache_the_next_build_uses() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let (dir, _) = scratch("uv-layers", "interrupt");
    let tag = "pycache-e2e/faults-interrupt:latest";
    let done = build_and_interrupt(&engine, &dir, tag, 3);
    assert!(done.len() >= 3, "interrupted before three layers: {done:?}");
    // The daemon may go on a moment with what it had started: give it that moment.
    std::thread::sleep(Duration::from_secs(2));
    let again = build(&engine, &dir, tag, &[]);
    assert!(again.ok, "{}", log_tail(&again));
    for name in &done {
        assert!(
            again.steps.iter().any(|(n, cached)| n == name && *cached),
            "`{name}`, completed before the interruption, ran again: {:?}",
            again.executed()
        );
    }
    eprintln!(
        "interrupted after {} dependency layers; the next build reused them and ran {} steps",
        done.len(),
        again.executed().len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn ten_concurrent_builds_of_different_projects_sharing_cache_mounts_all_succeed() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let kinds = [
        "uv-minimal",
        "pip-hashes",
        "uv-minimal",
        "apt-packages",
        "uv-minimal",
        "pip-hashes",
        "uv-minimal",
        "apt-packages",
        "uv-minimal",
        "pip-hashes",
    ];
    let projects: Vec<(PathBuf, String, String)> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let (dir, workdir) = scratch(kind, &format!("concurrent{i}"));
            (
                dir,
                workdir,
                format!("pycache-e2e/faults-concurrent-{i}:latest"),
            )
        })
        .collect();
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let started = Instant::now();
    let children: Vec<_> = projects
        .iter()
        .map(|(dir, _, tag)| {
            engine
                .docker()
                .args(["buildx", "build", "--progress=plain", "--provenance=false"])
                .args(["--build-arg", &syntax, "-t", tag, "-f"])
                .arg(dir.join("pycache.toml"))
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    let mut retried = Vec::new();
    for ((dir, _, tag), child) in projects.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            continue;
        }
        let log = String::from_utf8_lossy(&out.stderr);
        // A name lookup refused under ten builds' parallel downloads is this machine's network,
        // not the shared cache mounts this test is about: build that project again, alone.
        if let Some(fault) = transient_fault(&log) {
            eprintln!("{tag} failed on a transient network fault ({fault}); building it again");
            retried.push((dir, tag));
            continue;
        }
        let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
        failures.push(format!("{tag}:\n{tail}"));
    }
    let took = started.elapsed();
    for (dir, tag) in retried {
        let again = build(&engine, dir, tag, &[]);
        if !again.ok {
            failures.push(format!("{tag} (built again alone):\n{}", log_tail(&again)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("ten concurrent builds in {:.0} s", took.as_secs_f64());
    let expected = |kind: &str| match kind {
        "uv-minimal" => "hello from pycache (python 3.11, six 1.17.0)",
        "pip-hashes" => "pip demo 1.17.0 example.com",
        _ => "gcc present: False",
    };
    for ((kind, (dir, workdir, tag)), _) in kinds.iter().zip(&projects).zip(0..) {
        let out = run(&engine, tag, &[]);
        assert!(out.contains(expected(kind)), "{tag}: {out:?}");
        let config = config(&engine, tag);
        assert_eq!(config["WorkingDir"], workdir.as_str(), "{tag}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn hostile_inputs_fail_the_real_build_with_file_line_and_fix() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/cases");
    // A requirements file with CRLF endings and non-ASCII text (it panicked, and through the
    // frontend showed only `exit code: 101`), and a user name read as an option.
    for (case, base, location, fix) in [
        (
            "requirements-crlf-non-ascii",
            None,
            "requirements.txt:4",
            "help: write a PEP 508",
        ),
        (
            "user-option",
            Some("uv-minimal"),
            "pycache.toml:3",
            "help: write a name like",
        ),
    ] {
        let dir = std::env::temp_dir().join(format!("pycache-faults-{case}-{}", nonce()));
        if let Some(base) = base {
            copy_dir(&testdata(base), &dir);
        }
        copy_dir(&cases.join(case), &dir);
        let b = build(&engine, &dir, "pycache-e2e/faults-hostile:latest", &[]);
        assert!(!b.ok, "{case}: the build must fail");
        let log = log_tail(&b);
        assert!(
            log.contains(location) && log.contains(fix),
            "{case}: the error lacks {location} or the fix:\n{log}"
        );
        assert!(!log.contains("exit code: 101"), "{case}: a panic\n{log}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
