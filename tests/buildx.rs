//! End-to-end: what `docker buildx build` users ask of a frontend beyond a plain build, on
//! pycache's own engines: `--call outline`. Ignored by a plain `cargo test`; `scripts/test.sh` runs them, and
//! then a missing engine, image or registry is a failure, never a skip.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::process::Output;

use serde_json::Value;

use support::*;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn call_outline_lists_the_recipes_args_and_target() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let dir = testdata("env-ports-labels");
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let call = |format: &str, extra: &[&str]| {
        let out = engine
            .docker()
            .args(["buildx", "build", "--progress=quiet", "--call"])
            .arg(format)
            .args(["--build-arg", &syntax])
            .args(extra)
            .arg("-f")
            .arg(dir.join("pycache.toml"))
            .arg(&dir)
            .output()
            .expect("docker runs");
        assert!(out.status.success(), "--call {format}: {}", stderr(&out));
        stdout(&out)
    };

    let json: Value = serde_json::from_str(&call(
        "outline,format=json",
        &["--build-arg", "MODE=staging"],
    ))
    .expect("buildx prints the outline's result.json");
    assert_eq!(json["name"], "runtime");
    let args: Vec<(&str, &str, &str)> = json["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["value"].as_str().unwrap(),
                a["description"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        args,
        [
            ("PORT", "8000", "The port the app listens on"),
            ("MODE", "staging", "production or staging"),
        ]
    );

    // What a user sees: buildx's own rendering of result.json.
    let text = call("outline", &[]);
    assert!(text.contains("TARGET:      runtime"), "{text}");
    let port = text
        .lines()
        .find(|l| l.starts_with("PORT"))
        .unwrap_or_else(|| panic!("no PORT row in:\n{text}"));
    assert_eq!(
        port.split_whitespace().collect::<Vec<_>>()[..2],
        ["PORT", "8000"]
    );
}
