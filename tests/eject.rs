//! End-to-end: `pycache dockerfile` of a uv project, built by the engine's stock Dockerfile
//! frontend (no `# syntax=` line), gives an image that behaves like pycache's own: the same
//! command, run as the same non-root user, the same installed distributions and the same files
//! in the environment. On pycache's private engine; ignored by a plain `cargo test`.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::process::Command;

use support::*;

/// What a Python in the image says is installed: `name version`, sorted.
const DISTRIBUTIONS: &str = "import importlib.metadata as m; print('\\n'.join(sorted(f\"{d.metadata['Name']} {d.version}\" for d in m.distributions())))";

fn in_image(engine: &Engine, tag: &str, args: &[&str]) -> String {
    let out = engine
        .docker()
        .args(["run", "--rm", "--entrypoint", args[0], tag])
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tag}: {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn ejected_dockerfile_builds_with_the_stock_frontend_into_the_same_image() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let case = "uv-layers";
    let dir = testdata(case);

    let eject = Command::new(env!("CARGO_BIN_EXE_pycache"))
        .arg("dockerfile")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        eject.status.success(),
        "pycache dockerfile: {}",
        String::from_utf8_lossy(&eject.stderr)
    );
    let text = String::from_utf8(eject.stdout).unwrap();
    assert!(
        !text.starts_with("# syntax="),
        "no syntax line unless asked: the engine's built-in frontend builds it"
    );
    assert!(text.contains("COPY --link --from=deps-6 "), "{text}");
    let scratch = std::env::temp_dir().join(format!("pycache-eject-{}", nonce()));
    std::fs::create_dir_all(&scratch).unwrap();
    let dockerfile = scratch.join("Dockerfile");
    std::fs::write(&dockerfile, &text).unwrap();

    let ours = "pycache-e2e/eject-pycache:latest";
    let theirs = "pycache-e2e/eject-dockerfile:latest";
    let built = build(&engine, &dir, ours, &[]);
    assert!(built.ok, "pycache build failed:\n{}", log_tail(&built));
    let stock = build_file(&engine, &dockerfile, &dir, theirs, &[]);
    assert!(
        stock.ok,
        "the ejected Dockerfile failed with the stock frontend:\n{}\n{text}",
        log_tail(&stock)
    );
    // The stock frontend names its steps `[stage n/m] INSTRUCTION`: none of pycache's names.
    assert!(
        stock
            .steps
            .iter()
            .all(|(n, _)| !n.starts_with("[builder] deps: ")),
        "{:?}",
        stock.steps
    );

    // The same command, the same output, the same non-root user.
    let (a, b) = (config(&engine, ours), config(&engine, theirs));
    for key in ["Cmd", "Entrypoint", "User", "WorkingDir"] {
        assert_eq!(a[key], b[key], "config {key}");
    }
    let mut env_a: Vec<&str> = a["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let mut env_b: Vec<&str> = b["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    env_a.sort_unstable();
    env_b.sort_unstable();
    assert_eq!(env_a, env_b, "config Env");
    assert_eq!(b["User"], "app");
    let output = run(&engine, ours, &[]);
    assert!(!output.is_empty());
    assert_eq!(
        run(&engine, theirs, &[]),
        output,
        "the default command's output"
    );
    assert_eq!(in_image(&engine, theirs, &["id", "-u"]).trim(), "10001");
    assert_eq!(in_image(&engine, ours, &["id", "-u"]).trim(), "10001");

    // The same distributions, and the same files in the environment.
    let listed = in_image(&engine, ours, &["python", "-c", DISTRIBUTIONS]);
    assert!(listed.lines().count() >= 14, "{listed}");
    assert_eq!(
        in_image(&engine, theirs, &["python", "-c", DISTRIBUTIONS]),
        listed
    );
    let (files_a, files_b) = (venv_listing(&engine, ours), venv_listing(&engine, theirs));
    let only_a: Vec<&String> = files_a.iter().filter(|f| !files_b.contains(f)).collect();
    let only_b: Vec<&String> = files_b.iter().filter(|f| !files_a.contains(f)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "the environments differ:\nonly pycache's: {only_a:?}\nonly the Dockerfile's: {only_b:?}"
    );

    let _ = std::fs::remove_dir_all(&scratch);
    remove_image(&engine, ours);
    remove_image(&engine, theirs);
}
