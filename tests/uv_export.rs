//! Differential test of pycache's own lock walk (`pycache::lock::uv::select`) against the real
//! `uv export`: for every fixture in `testdata/uv-export/` (made by
//! `scripts/uv-export-fixtures.sh` with uv itself), on several platforms and Python versions,
//! both must install exactly the same packages at the same versions.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use pep508_rs::MarkerTree;
use pep508_rs::pep440_rs::Version;
use pycache::detect::pyproject::PyProject;
use pycache::detect::uvlock::UvLock;
use pycache::lock::markers::{Target, environment};
use pycache::lock::uv::{Selection, select};
use pycache::platform::Platform;

/// Fixture name → the project directory it was exported from (as in the script).
const CASES: &[(&str, &str)] = &[
    ("large-lock", "bench/large-lock"),
    ("large-lock-all-extras", "bench/large-lock"),
    ("uv-web", "bench/projects/uv-web/project"),
    ("uv-data", "bench/projects/uv-data/project"),
    ("uv-fastapi", "bench/projects/uv-fastapi/project"),
    ("uv-groups-extras", "testdata/uv-groups-extras"),
    ("uv-groups-extras-all", "testdata/uv-groups-extras"),
    ("uv-groups-extras-dev", "testdata/uv-groups-extras"),
    ("uv-workspace", "testdata/uv-workspace"),
];

fn selection(flags: &str, pyproject: &PyProject) -> Selection {
    let mut sel = Selection {
        root: pyproject.name().map(str::to_owned),
        all_packages: pyproject.project.is_none(),
        groups: vec!["dev".into()],
        ..Default::default()
    };
    for flag in flags.split_whitespace() {
        match flag {
            "--no-dev" => sel.groups.retain(|g| g != "dev"),
            "--all-extras" => sel.all_extras = true,
            f if f.starts_with("--extra=") => sel.extras.push(f[8..].into()),
            f if f.starts_with("--group=") => sel.groups.push(f[8..].into()),
            other => panic!("unknown flag {other}"),
        }
    }
    sel
}

/// `name==version ; marker` lines → (name, version, marker).
fn exported(text: &str) -> Vec<(String, String, MarkerTree)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (spec, marker) = line.split_once(" ; ").unwrap_or((line, ""));
            let (name, version) = spec.split_once("==").expect("pinned");
            let marker = if marker.is_empty() {
                MarkerTree::TRUE
            } else {
                MarkerTree::from_str(marker).unwrap()
            };
            (name.trim().to_owned(), version.trim().to_owned(), marker)
        })
        .collect()
}

#[test]
fn the_lock_walk_installs_what_uv_export_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut compared = 0;
    for (case, dir) in CASES {
        let fixture = std::fs::read_to_string(root.join(format!("testdata/uv-export/{case}.txt")))
            .unwrap_or_else(|e| panic!("{case}: {e}; run scripts/uv-export-fixtures.sh"));
        let flags = fixture
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# flags: "))
            .expect("flags line");
        let text = std::fs::read_to_string(root.join(dir).join("uv.lock")).unwrap();
        let lock = UvLock::parse(&text).unwrap();
        let pyproject = PyProject::parse(
            &std::fs::read_to_string(root.join(dir).join("pyproject.toml")).unwrap(),
        )
        .unwrap();
        let sel = selection(flags, &pyproject);
        let uv = exported(&fixture);
        for platform in ["linux/amd64", "linux/arm64"] {
            let platform = Platform::parse(platform).unwrap();
            for python in [
                None,
                Some("3.11.4"),
                Some("3.12.1"),
                Some("3.13.0"),
                Some("3.14.2"),
            ] {
                let python: Option<Version> = python.map(|v| v.parse().unwrap());
                let env = select(&lock, &sel, &Target::new(platform.clone(), python.clone()));
                // Every concrete interpreter the target stands for.
                let checks: Vec<Version> = match &python {
                    Some(v) => vec![v.clone()],
                    None => ["3.11.0", "3.12.7", "3.13.2", "3.14.0"]
                        .iter()
                        .map(|v| v.parse().unwrap())
                        .collect(),
                };
                for version in checks {
                    let menv = environment(&platform, &version).unwrap();
                    let theirs: BTreeSet<(String, String)> = uv
                        .iter()
                        .filter(|(_, _, m)| m.evaluate(&menv, &[]))
                        .map(|(n, v, _)| (n.clone(), v.clone()))
                        .collect();
                    let ours: BTreeSet<(String, String)> = env
                        .packages
                        .iter()
                        .filter(|p| {
                            p.marker.as_deref().is_none_or(|m| {
                                MarkerTree::from_str(m).unwrap().evaluate(&menv, &[])
                            })
                        })
                        .map(|p| (p.name.clone(), p.version.clone()))
                        .collect();
                    assert_eq!(
                        ours.symmetric_difference(&theirs).collect::<Vec<_>>(),
                        Vec::<&(String, String)>::new(),
                        "{case} on {platform} with Python {version} (target Python {python:?}): ours vs uv export"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 100, "{compared}");
}
