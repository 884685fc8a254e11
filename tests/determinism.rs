//! Determinism and round trip: the same inputs give byte-identical Definitions, in one
//! process and across processes; reordering the recipe without changing its meaning changes
//! nothing; our bytes decode back to the same ops and every digest is the sha256 of its op.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use prost::Message;
use pycache::llb::pb;

fn ok_cases() -> Vec<(std::path::PathBuf, pycache::plan::Plan)> {
    common::cases()
        .into_iter()
        .filter_map(|d| common::plan_case(&d).ok().map(|p| (d, p)))
        .collect()
}

#[test]
fn twenty_five_builds_in_one_process_are_identical() {
    let cases = ok_cases();
    assert!(cases.len() >= 8);
    for (dir, _) in &cases {
        let first = common::definition_bytes(&common::plan_case(dir).unwrap());
        for _ in 0..24 {
            let again = common::definition_bytes(&common::plan_case(dir).unwrap());
            assert_eq!(first, again, "{}: bytes differ between runs", dir.display());
        }
    }
}

#[test]
fn two_processes_print_identical_bytes() {
    let bin = env!("CARGO_BIN_EXE_pycache");
    for (dir, _) in ok_cases() {
        let run = || {
            let mut cmd = Command::new(bin);
            cmd.args(["llb", "--platform", "linux/amd64"]).arg(&dir);
            let args = std::fs::read_to_string(dir.join("cli-args")).unwrap_or_default();
            cmd.args(args.split_whitespace());
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let (a, b) = (run(), run());
        assert!(!a.is_empty());
        assert_eq!(a, b, "{}: two processes differ", dir.display());
        // And the CLI prints what the library builds.
        let plan = common::plan_case(&dir).unwrap();
        assert_eq!(a, common::definition_bytes(&plan), "{}", dir.display());
    }
}

#[test]
fn reordering_the_recipe_keeps_the_digest() {
    let dir = common::testdata().join("env-ports-labels");
    let original = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
    let reordered = r#"
[source]
exclude = ["tests", "*.md"]

[image]
labels = { team = "platform", "org.opencontainers.image.source" = "https://example.org/hello" }
env = { GREETING = "hi there", APP_MODE = "production" }
expose = [8000, "9000/udp", "${PORT}"]
entrypoint = ["hello"]
base = "local/python:3.11-slim"

[args]
PORT = "8000"
"#;
    let a = common::plan_case_with(&dir, &original, common::amd64()).unwrap();
    let b = common::plan_case_with(&dir, reordered, common::amd64()).unwrap();
    assert_eq!(common::definition_bytes(&a), common::definition_bytes(&b));
    assert_eq!(common::image_config_text(&a), common::image_config_text(&b));

    // apt packages in another order, and build args in another order, mean the same.
    let apt = common::testdata().join("apt-packages");
    let text = std::fs::read_to_string(apt.join("pycache.toml")).unwrap();
    let swapped = text.replace(r#"["libexpat1", "curl"]"#, r#"["curl", "libexpat1"]"#);
    assert_ne!(text, swapped);
    let a = common::plan_case_with(&apt, &text, common::amd64()).unwrap();
    let b = common::plan_case_with(&apt, &swapped, common::amd64()).unwrap();
    assert_eq!(common::definition_bytes(&a), common::definition_bytes(&b));
}

#[test]
fn different_platforms_give_different_cache_ids_and_digests() {
    let dir = common::testdata().join("uv-minimal");
    let text = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
    let amd = common::plan_case_with(&dir, &text, common::amd64()).unwrap();
    let arm = common::plan_case_with(
        &dir,
        &text,
        pycache::platform::Platform::parse("linux/arm64").unwrap(),
    )
    .unwrap();
    let (a, b) = (
        common::definition_bytes(&amd),
        common::definition_bytes(&arm),
    );
    assert_ne!(a, b);
    let dump = pycache::llb::dump::dump_text(&pycache::definition(&arm, &common::lower_options()));
    assert!(dump.contains("pycache-uv-linux-arm64"));
    assert!(!dump.contains("linux-amd64"));
}

#[test]
fn definitions_round_trip_and_digests_match() {
    for (dir, plan) in ok_cases() {
        let def = pycache::definition(&plan, &common::lower_options());
        let bytes = def.encode_to_vec();
        let decoded = pb::Definition::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, def, "{}", dir.display());
        let mut seen = BTreeSet::new();
        let n = decoded.def.len();
        for (i, op_bytes) in decoded.def.iter().enumerate() {
            let op = pb::Op::decode(op_bytes.as_slice()).unwrap();
            assert_eq!(
                &op.encode_to_vec(),
                op_bytes,
                "{}: op {i} re-encodes differently",
                dir.display()
            );
            for input in &op.inputs {
                assert!(
                    seen.contains(&input.digest),
                    "{}: op {i} uses an op not defined before it",
                    dir.display()
                );
            }
            let digest = pycache::llb::digest(op_bytes);
            if i + 1 < n {
                assert!(
                    seen.insert(digest.clone()),
                    "{}: op {i} appears twice",
                    dir.display()
                );
                assert!(op.op.is_some());
            } else {
                assert!(
                    op.op.is_none() && op.inputs.len() == 1,
                    "{}: last op must be the terminal",
                    dir.display()
                );
            }
        }
        for key in decoded.metadata.keys() {
            assert!(
                seen.contains(key),
                "{}: metadata for unknown digest {key}",
                dir.display()
            );
        }
    }
}

#[test]
fn invalid_input_exits_2_with_nothing_on_stdout() {
    let bin = env!("CARGO_BIN_EXE_pycache");
    for case in [
        "invalid-unknown-keys",
        "invalid-types",
        "invalid-contradictions",
        "stale-lock",
        "unknown-group",
    ] {
        for sub in ["llb", "explain", "check", "config"] {
            let out = Command::new(bin)
                .arg(sub)
                .arg(common::testdata().join(case))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{case} {sub}");
            assert!(
                out.stdout.is_empty(),
                "{case} {sub}: stdout must stay empty"
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("pycache.toml")
                    || case == "stale-lock"
            );
        }
    }
    let out = Command::new(bin)
        .args(["llb", "--build-arg", "NOEQUALS"])
        .arg(common::testdata().join("uv-minimal"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
