//! What the unit tests share: fixtures from the repository, targets, package lists, the plan
//! of a golden case.

use crate::lock::LockedEnv;
use crate::lock::markers::Target;
use crate::plan::Plan;
use crate::platform::Platform;

/// A file of the repository, by its path from the root.
pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `platform` (e.g. `linux/amd64`) with `python` (e.g. `3.12.1`), or the platform alone.
pub fn target(platform: &str, python: Option<&str>) -> Target {
    Target::new(
        Platform::parse(platform).unwrap(),
        python.map(|v| v.parse().unwrap()),
    )
}

/// `name==version` of each package the environment installs, in its order.
pub fn names(env: &LockedEnv) -> Vec<String> {
    env.packages
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect()
}

/// The plan of golden case `testdata/<case>` for linux/amd64, with `extra` appended to its
/// recipe.
pub fn case_plan(case: &str, extra: &str) -> Plan {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(case);
    let files = crate::detect::ProjectFiles::from_dir(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("pycache.toml")).unwrap() + extra;
    crate::plan_build(&crate::Inputs {
        recipe_file: "pycache.toml",
        recipe_text: &text,
        recipe_dockerignore: None,
        files: &files,
        target: "",
        build_args: &Default::default(),
        platform: Platform::parse("linux/amd64").unwrap(),
        facts: Default::default(),
    })
    .unwrap()
}
