//! Shared helpers of the integration tests: running the pure pipeline on a `testdata/` case.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pycache::detect::ProjectFiles;
use pycache::diag::Diagnostics;
use pycache::image::{BaseConfig, image_config};
use pycache::lower::LowerOptions;
use pycache::plan::{Facts, Join, Plan};
use pycache::platform::Platform;
use pycache::{Inputs, plan_build};

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every case directory, sorted.
pub fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("pycache.toml").exists())
        .collect();
    v.sort();
    v
}

/// `--target X`, `--build-arg K=V`, `--python V` and `--copy-layers` from a case's optional
/// `cli-args` file, as the CLI takes them.
pub struct CaseArgs {
    pub target: String,
    pub build_args: BTreeMap<String, String>,
    pub facts: Facts,
}

pub fn case_args(dir: &Path) -> CaseArgs {
    let text = std::fs::read_to_string(dir.join("cli-args")).unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut args = CaseArgs {
        target: String::new(),
        build_args: BTreeMap::new(),
        facts: Facts::default(),
    };
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        match word {
            "--copy-layers" => args.facts.join = Join::Copy,
            "--target" => args.target = words.next().unwrap().to_owned(),
            "--python" => args.facts.python = Some(words.next().unwrap().parse().unwrap()),
            "--build-arg" => {
                let (k, v) = words.next().unwrap().split_once('=').unwrap();
                args.build_args.insert(k.into(), v.into());
            }
            other => panic!("unsupported cli-args {other:?}"),
        }
    }
    args
}

pub fn amd64() -> Platform {
    Platform::parse("linux/amd64").unwrap()
}

pub fn plan_case_with(
    dir: &Path,
    recipe_text: &str,
    platform: Platform,
) -> Result<Plan, Diagnostics> {
    let files = ProjectFiles::from_dir(dir).unwrap();
    let args = case_args(dir);
    let dockerignore = std::fs::read_to_string(dir.join("pycache.toml.dockerignore")).ok();
    plan_build(&Inputs {
        recipe_file: "pycache.toml",
        recipe_text,
        recipe_dockerignore: dockerignore.as_deref(),
        files: &files,
        target: &args.target,
        build_args: &args.build_args,
        platform,
        facts: args.facts,
    })
}

pub fn plan_case(dir: &Path) -> Result<Plan, Diagnostics> {
    let text = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
    plan_case_with(dir, &text, amd64())
}

pub fn lower_options() -> LowerOptions {
    LowerOptions::offline()
}

pub fn definition_bytes(plan: &Plan) -> Vec<u8> {
    use prost::Message;
    pycache::definition(plan, &lower_options()).encode_to_vec()
}

pub fn image_config_text(plan: &Plan) -> String {
    let mut s =
        serde_json::to_string_pretty(&image_config(plan, &BaseConfig::default(), None)).unwrap();
    s.push('\n');
    s
}
