//! The README's first command, `scripts/demo.sh`, on the machines it is for: the choice between
//! its two paths for every answer of its three probes (Docker answers, Docker Hub is reachable,
//! Debian and root), the commands each path runs, the demo recipe against the demo project, and
//! (with the engine) the local path end to end.
//!
//! The registry path needs Docker Hub, which this machine cannot reach: its choice and its
//! commands are checked here; the builds it runs are the stock `docker buildx build` of
//! `frontend.Dockerfile` and of the recipe, the second of which the local path runs too.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn demo(args: &[&str], probes: Option<&str>) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/demo.sh"))
        .args(args)
        .env_remove("PYCACHE_DEMO_PROBES");
    if let Some(p) = probes {
        command.env("PYCACHE_DEMO_PROBES", p);
    }
    command.output().expect("bash runs")
}

/// `--plan` with the probes answered: (the chosen path, stdout's commands, stderr).
fn plan(docker: bool, hub: bool, local: bool) -> (String, String, String) {
    let yn = |b: bool| if b { "yes" } else { "no" };
    let probes = format!("docker={} hub={} local={}", yn(docker), yn(hub), yn(local));
    let out = demo(&["--plan"], Some(&probes));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let path = stderr
        .split("demo path: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{probes}: no `demo path:` line in {stderr:?}"))
        .to_owned();
    assert_eq!(
        out.status.success(),
        path != "none",
        "{probes}: exit status {:?} for path {path}: {stderr}",
        out.status
    );
    (
        path,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn the_registry_path_is_chosen_wherever_docker_answers_and_docker_hub_is_reachable() {
    for local in [false, true] {
        let (path, commands, _) = plan(true, true, local);
        assert_eq!(path, "registry", "local={local}");
        // The frontend image from frontend.Dockerfile, on a builder of its own, into the store.
        assert!(
            commands.contains("docker buildx create --name pycache-demo --driver docker-container"),
            "{commands}"
        );
        assert!(
            commands.contains("--builder pycache-demo --load -f")
                && commands.contains("frontend.Dockerfile -t pycache-frontend:demo"),
            "{commands}"
        );
        // The demo on the user's engine's own builder (the docker driver sees that image), with
        // the official base; nothing of pycache's own engines, nothing pruned.
        assert!(
            commands.contains("--builder $(docker context show) --build-arg BASE=python:3.12-slim"),
            "{commands}"
        );
        assert!(
            commands.contains("docker run --rm pycache-demo"),
            "{commands}"
        );
        for never in [
            "prune",
            "pycache-engines",
            "setup.sh",
            "mmdebstrap",
            "local/python",
        ] {
            assert!(!commands.contains(never), "{never} in {commands}");
        }
    }
}

#[test]
fn the_local_path_is_chosen_without_docker_hub_or_docker_on_debian_as_root() {
    for (docker, hub) in [(true, false), (false, false), (false, true)] {
        let (path, commands, stderr) = plan(docker, hub, true);
        assert_eq!(path, "local", "docker={docker} hub={hub}");
        assert!(commands.contains("setup.sh"), "{commands}");
        // Only on pycache's own engine, with the local base image.
        for line in commands.lines().filter(|l| l.contains("docker ")) {
            assert!(
                line.starts_with("DOCKER_HOST=unix:///run/pycache-engines/containerd/docker.sock "),
                "{line}"
            );
        }
        assert!(
            commands.contains("--build-arg BASE=local/python:"),
            "{commands}"
        );
        assert!(!commands.contains("prune"), "{commands}");
        let reason = if docker {
            "Docker Hub is not reachable"
        } else {
            "no Docker engine answers"
        };
        assert!(stderr.contains(reason), "{stderr}");
    }
}

#[test]
fn a_machine_with_neither_path_is_told_what_each_needs() {
    for (docker, hub) in [(true, false), (false, false), (false, true)] {
        let (path, commands, stderr) = plan(docker, hub, false);
        assert_eq!(path, "none", "docker={docker} hub={hub}");
        assert!(commands.is_empty(), "{commands}");
        assert!(
            stderr.contains("error: this machine can run neither path of the demo"),
            "{stderr}"
        );
        assert!(
            stderr.contains("the local path needs Debian and root"),
            "{stderr}"
        );
        assert_eq!(
            stderr.contains("no Docker engine answers"),
            !docker,
            "{stderr}"
        );
        assert_eq!(
            stderr.contains("Docker Hub is not reachable"),
            !hub,
            "{stderr}"
        );
    }
}

#[test]
fn the_real_probes_choose_a_path_and_say_why() {
    let out = demo(&["--plan"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("demo path: "), "{stderr}");
    assert!(
        [
            "demo path: registry (",
            "demo path: local (",
            "demo path: none ("
        ]
        .iter()
        .any(|p| stderr.contains(p)),
        "{stderr}"
    );
}

#[test]
fn a_forced_path_skips_the_probes_and_a_wrong_one_is_refused() {
    let out = demo(&["--plan", "--path", "registry"], Some("garbage"));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo path: registry (--path registry)"));
    let out = demo(&["--plan", "--path", "cloud"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--path takes registry or local, not 'cloud'")
    );
}

#[test]
fn the_demo_recipe_checks_against_the_demo_project_with_either_base() {
    for base in ["python:3.12-slim", "local/python:3.11-slim"] {
        let out = Command::new(env!("CARGO_BIN_EXE_pycache"))
            .arg("check")
            .arg(root().join("testdata/uv-minimal"))
            .arg("-f")
            .arg(root().join("examples/demo/pycache.toml"))
            .args(["--build-arg", &format!("BASE={base}")])
            .output()
            .expect("pycache runs");
        assert!(out.status.success(), "{base}: {out:?}");
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn the_local_path_builds_the_demo_through_its_syntax_line_and_runs_it() {
    let _turn = one_at_a_time();
    let mut out = demo(&["--path", "local"], None);
    // A download that times out or a name lookup refused is this machine's network, not the
    // demo: try once more, saying so.
    if let Some(fault) = (!out.status.success())
        .then(|| transient_fault(&String::from_utf8_lossy(&out.stderr)))
        .flatten()
    {
        eprintln!("the demo failed on a transient network fault ({fault}); trying again");
        out = demo(&["--path", "local"], None);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("hello from pycache (python 3.11, six 1.17.0)"),
        "{stdout}\n{stderr}"
    );
    // The `# syntax=` line chose our frontend: its steps are in the log.
    assert!(stderr.contains("[builder] deps: six 1.17.0"), "{stderr}");
}
