//! Golden cases: each `testdata/<case>/` holds a recipe and a tiny project, and the expected
//! `llb.json`, `explain.txt` and `image-config.json` (or `error.txt` for invalid input); valid
//! cases also `Dockerfile.eject` (`pycache dockerfile`) and `pycache.init.toml` (`pycache init`
//! of the same project, or `init-error.txt`). The GitHub Actions example of the demo project is
//! checked against `pycache ci github` too.
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites them; never under `CI=true`.

mod common;

use std::path::Path;

fn updating() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") && !ci
}

/// Compares `actual` with the golden file, or rewrites it when updating. Returns a mismatch.
fn check(dir: &Path, name: &str, actual: &str) -> Option<String> {
    let path = dir.join(name);
    if updating() {
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    (expected != actual).then(|| {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        format!(
            "{}: differs from line {} (expected {:?}, got {:?}); run UPDATE_GOLDEN=1 cargo test --test golden and review the diff",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        )
    })
}

#[test]
fn golden_cases() {
    let cases = common::cases();
    assert!(
        cases.len() >= 10,
        "expected at least 10 golden cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for dir in &cases {
        match common::plan_case(dir) {
            Ok(plan) => {
                assert!(
                    !dir.join("error.txt").exists() || updating(),
                    "{}: expected an error",
                    dir.display()
                );
                let def = pycache::definition(&plan, &common::lower_options());
                failures.extend(check(dir, "llb.json", &pycache::llb::dump::dump_text(&def)));
                failures.extend(check(dir, "explain.txt", &pycache::plan::explain(&plan)));
                failures.extend(check(
                    dir,
                    "image-config.json",
                    &common::image_config_text(&plan),
                ));
                let eject = pycache::dockerfile::Options {
                    syntax: None,
                    recipe_file: "pycache.toml".into(),
                };
                let text = pycache::dockerfile::dockerfile(&plan, &eject)
                    .unwrap_or_else(|d| format!("error:\n{d}"));
                failures.extend(check(dir, "Dockerfile.eject", &text));
                failures.extend(init_golden(dir));
            }
            Err(diags) => {
                assert!(
                    !dir.join("llb.json").exists() || updating(),
                    "{}: unexpected error:\n{diags}",
                    dir.display()
                );
                failures.extend(check(dir, "error.txt", &diags.to_string()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// `pycache init` of the case's project (its own recipe unread): the recipe it writes, or why
/// it writes none.
fn init_golden(dir: &Path) -> Option<String> {
    let mut files = pycache::detect::ProjectFiles::from_dir(dir).unwrap();
    files.files.remove("pycache.toml");
    let opts = pycache::init::Options {
        syntax: pycache::DEFAULT_FRONTEND_IMAGE.into(),
        base: None,
    };
    match pycache::init::recipe_text(&files, &opts) {
        Ok(text) => {
            assert!(
                !dir.join("init-error.txt").exists() || updating(),
                "{}: init-error.txt is stale",
                dir.display()
            );
            check(dir, "pycache.init.toml", &text)
        }
        Err(diags) => {
            assert!(
                !dir.join("pycache.init.toml").exists() || updating(),
                "{}: init failed:\n{diags}",
                dir.display()
            );
            check(dir, "init-error.txt", &diags.to_string())
        }
    }
}

/// The committed workflow of `examples/github-actions/` is what `pycache ci github` writes for
/// the demo project (`scripts/demo.sh` builds testdata/uv-minimal).
#[test]
fn github_actions_example_is_current() {
    let text = pycache::ci::github_workflow(&pycache::ci::GithubOptions {
        image: "hello".into(),
        registry: pycache::ci::Registry::Ghcr,
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        cache: pycache::ci::Cache::Gha,
        context: ".".into(),
        recipe: "pycache.toml".into(),
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github-actions");
    let path = pycache::ci::github_path("hello");
    if updating() {
        std::fs::create_dir_all(dir.join(".github/workflows")).unwrap();
    }
    let failure = check(&dir, &path, &text);
    assert!(failure.is_none(), "{}", failure.unwrap_or_default());
}

/// `--call outline` of a case: `outline.json` (the `result.json` buildx reads) and
/// `outline.txt` (what buildx prints), for the cases with build args, targets and `--ssh`.
#[test]
fn outline_goldens() {
    let mut failures = Vec::new();
    for case in ["env-ports-labels", "named-target", "uv-git-ssh"] {
        let dir = common::testdata().join(case);
        let args = common::case_args(&dir);
        let text = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
        let recipe = pycache::recipe::parse("pycache.toml", &text, &args.build_args)
            .unwrap_or_else(|d| panic!("{case}: {d}"));
        // The `--ssh` ids come from the plan, as the frontend finds them.
        let plan = common::plan_case(&dir).unwrap_or_else(|d| panic!("{case}: {d}"));
        let result = pycache::gateway::subrequests::outline(&recipe, &args.target, &plan.ssh_ids())
            .unwrap_or_else(|d| panic!("{case}: {d}"));
        let json = String::from_utf8(result.metadata["result.json"].clone()).unwrap();
        failures.extend(check(&dir, "outline.json", &format!("{json}\n")));
        let txt = String::from_utf8(result.metadata["result.txt"].clone()).unwrap();
        failures.extend(check(&dir, "outline.txt", &txt));
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// The SPDX document `--sbom=true` attaches, from each kind of lock: `sbom.spdx.json`, created
/// at a fixed `SOURCE_DATE_EPOCH`.
#[test]
fn sbom_goldens() {
    let mut failures = Vec::new();
    for case in [
        "uv-minimal",
        "uv-workspace",
        "poetry-app",
        "pylock-app",
        "pip-hashes",
    ] {
        let dir = common::testdata().join(case);
        let args = common::case_args(&dir);
        let text = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
        let files = pycache::detect::ProjectFiles::from_dir(&dir).unwrap();
        let inputs = pycache::Inputs {
            recipe_file: "pycache.toml",
            recipe_text: &text,
            recipe_dockerignore: None,
            files: &files,
            target: &args.target,
            build_args: &args.build_args,
            platform: common::amd64(),
            facts: args.facts.clone(),
        };
        let prepared = pycache::prepare(&inputs).unwrap_or_else(|d| panic!("{case}: {d}"));
        let plan = prepared
            .plan(&args.target, &common::amd64(), &args.facts)
            .unwrap_or_else(|d| panic!("{case}: {d}"));
        let doc = pycache::sbom::spdx(&plan, &prepared.project, 1_700_000_000)
            .unwrap_or_else(|| panic!("{case}: no SBOM from a locked project"));
        let mut json = serde_json::to_string_pretty(&doc).unwrap();
        json.push('\n');
        failures.extend(check(&dir, "sbom.spdx.json", &json));
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}
