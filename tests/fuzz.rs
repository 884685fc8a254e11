//! A mutation fuzzer over the pipeline's inputs, on the stable toolchain: the recipe,
//! `pyproject.toml`, `uv.lock` and `requirements.txt` of `testdata/` projects, mutated (bytes
//! flipped, tokens of the formats inserted, lines doubled, dropped or swapped, CRLF endings,
//! non-ASCII and control characters, truncation), then run through everything the CLI and the
//! frontend run (check of every target, plan, LLB, image config, diagnostics rendered).
//! Nothing may panic; problems render in bounded text; a plan that succeeds gives a valid
//! Definition. A failing input is written to `target/fuzz-failures/` for replay.
//!
//! Short in `cargo test` (`PYCACHE_FUZZ_ITERS`, default 2,000 per input kind); long runs are
//! `PYCACHE_FUZZ_ITERS=200000 cargo test --release --test fuzz -- --nocapture`, recorded in
//! docs/testing.md. `PYCACHE_FUZZ_SEED` picks the first seed; `PYCACHE_FUZZ_TRACE=1` writes
//! each input to `target/tmp/fuzz-last` before running it (for crashes no test can catch).

mod common;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use common::Rng;
use pycache::detect::ProjectFiles;
use pycache::image::{BaseConfig, image_config};

/// Rendered problems stay below this, whatever the input.
const MAX_RENDERED: usize = 64 << 10;

/// Tokens of the input formats and of attacks, inserted at random places.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    "#",
    "\\",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{0}",
    "\u{1b}[2J",
    "\u{7f}",
    "\u{85}",
    "é",
    "€",
    "☃",
    "\u{feff}",
    "${",
    "${A}",
    "}",
    "$(id)",
    "`id`",
    ";",
    "|",
    "&&",
    "-",
    "--",
    "..",
    "/",
    "@",
    ":",
    "==",
    ">=",
    "~=",
    " @ ",
    "; python_version < '3'",
    "[[package]]\n",
    "name = \"x\"\n",
    "version = \"1\"\n",
    "source = { editable = \".\" }\n",
    "source = { registry = \"https://pypi.org/simple\" }\n",
    "[project]\n",
    "[tool.uv.workspace]\nmembers = [\"*\"]\n",
    "requires-python = \">=3.x\"\n",
    "-r other.txt\n",
    "-e .\n",
    "--hash=sha256:00\n",
    "--index-url http://x\n",
    "[image]\n",
    "[python]\n",
    "[targets.x]\n",
    "user = \"-o\"\n",
    "workdir = \"/\"\n",
    "layers = 0\n",
    "0",
    "1e400",
    "-1",
    "99999999999999999999",
    "true",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
];

/// One mutation of `text`.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = |rng: &mut Rng, len: usize| if len == 0 { 0 } else { rng.below(len + 1) };
    match rng.below(10) {
        0..=2 => {
            let i = at(rng, bytes.len());
            let token = rng.pick(TOKENS).as_bytes().to_vec();
            bytes.splice(i..i, token);
        }
        3 => {
            if !bytes.is_empty() {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
        }
        4 => {
            let i = at(rng, bytes.len());
            let j = (i + rng.below(16)).min(bytes.len());
            bytes.drain(i..j);
        }
        5 | 6 => {
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if !lines.is_empty() {
                let i = rng.below(lines.len());
                match rng.below(3) {
                    0 => lines.insert(i, lines[i]),
                    1 => {
                        lines.remove(i);
                    }
                    _ => {
                        let j = rng.below(lines.len());
                        lines.swap(i, j);
                    }
                }
            }
            bytes = lines.concat().into_bytes();
        }
        7 => bytes = text.replace('\n', "\r\n").into_bytes(),
        8 => {
            let i = at(rng, bytes.len());
            bytes.truncate(i);
        }
        _ => {
            let i = at(rng, bytes.len());
            let long = rng
                .pick(&["x", "é", "[", "{a=", "1, "])
                .repeat(1 + rng.below(20_000));
            bytes.splice(i..i, long.into_bytes());
        }
    }
    // Detection refuses text that is not UTF-8 before any parser sees it; keep fuzzing the
    // parsers with what is left.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The whole pipeline on one input, as the CLI's `check` and `llb` and the frontend run it.
fn run(files: &ProjectFiles, recipe: &str) -> Result<(), String> {
    let build_args = BTreeMap::from([("A".to_owned(), "$(id)".to_owned())]);
    let inputs = pycache::Inputs {
        recipe_file: "pycache.toml",
        recipe_text: recipe,
        recipe_dockerignore: None,
        files,
        target: "",
        build_args: &build_args,
        platform: common::amd64(),
        facts: Default::default(),
    };
    let rendered = match pycache::check_all(&inputs) {
        Err(d) => format!("{d}{}", d.summary()),
        Ok(_) => String::new(),
    };
    if rendered.len() > MAX_RENDERED {
        return Err(format!("{} bytes of diagnostics", rendered.len()));
    }
    match pycache::plan_build(&inputs) {
        Ok(plan) => {
            let def = pycache::definition(&plan, &common::lower_options());
            common::check_definition(&def)?;
            let _ = image_config(&plan, &BaseConfig::default(), Some(0));
            let _ = pycache::plan::explain(&plan);
        }
        Err(d) => {
            let text = d.to_string();
            if text.len() > MAX_RENDERED {
                return Err(format!("{} bytes of diagnostics", text.len()));
            }
        }
    }
    Ok(())
}

/// Fuzzes `file` of each project in `projects` for `iterations` rounds; returns what it saw.
fn fuzz(kind: &str, file: &str, projects: &[&str], iterations: u64) {
    let seed = common::env_number("PYCACHE_FUZZ_SEED", 0xf022);
    let seeds: Vec<(String, ProjectFiles, String)> = projects
        .iter()
        .map(|p| {
            let dir = common::testdata().join(p);
            let files = ProjectFiles::from_dir(&dir).unwrap();
            let recipe = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
            ((*p).to_owned(), files, recipe)
        })
        .collect();
    let start = Instant::now();
    let (mut ok, mut refused) = (0u64, 0u64);
    for i in 0..iterations {
        let mut rng = Rng::new(seed.wrapping_add(i).wrapping_mul(0x9e37_79b9));
        let (name, files, recipe) = &seeds[rng.below(seeds.len())];
        let (mut files, mut recipe) = (files.clone(), recipe.clone());
        // A few mutations stacked, from the seed file or from a mutant of it.
        let rounds = 1 + rng.below(4);
        if file == "pycache.toml" {
            for _ in 0..rounds {
                recipe = mutate(&mut rng, &recipe);
            }
        } else {
            let mut text = files.get(file).unwrap_or_default().to_owned();
            for _ in 0..rounds {
                text = mutate(&mut rng, &text);
            }
            files.insert(file, text);
        }
        // What crashes the process (a stack overflow) cannot be caught: with this set, each
        // input is written first, so the last one is the culprit.
        if std::env::var_os("PYCACHE_FUZZ_TRACE").is_some() {
            let text = match file {
                "pycache.toml" => recipe.as_str(),
                _ => files.get(file).unwrap_or_default(),
            };
            let last = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-last");
            std::fs::write(last, text).unwrap();
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(&files, &recipe)));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(panic) => Some(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            )),
        };
        if let Some(why) = failure {
            let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join("../fuzz-failures")
                .join(format!("{kind}-{i}"));
            std::fs::create_dir_all(&out).unwrap();
            std::fs::write(out.join("pycache.toml"), &recipe).unwrap();
            for (path, text) in &files.files {
                let target = out.join(path);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, text).unwrap();
            }
            panic!(
                "{kind} iteration {i} (seed {seed}, project {name}): {why}\nthe input is in {}",
                out.display()
            );
        }
        let inputs_ok = pycache::plan_build(&pycache::Inputs {
            recipe_file: "pycache.toml",
            recipe_text: &recipe,
            recipe_dockerignore: None,
            files: &files,
            target: "",
            build_args: &BTreeMap::new(),
            platform: common::amd64(),
            facts: Default::default(),
        })
        .is_ok();
        if inputs_ok { ok += 1 } else { refused += 1 }
    }
    eprintln!(
        "fuzz {kind}: {iterations} inputs in {:.1} s, {ok} planned, {refused} refused with diagnostics, 0 panics",
        start.elapsed().as_secs_f64()
    );
}

fn iterations() -> u64 {
    common::env_number("PYCACHE_FUZZ_ITERS", 2000)
}

const UV: &[&str] = &[
    "uv-minimal",
    "uv-groups-extras",
    "uv-workspace",
    "uv-layers",
    "env-ports-labels",
];
const PIP: &[&str] = &["pip-hashes", "pip-includes"];

#[test]
fn fuzz_recipes() {
    let all: Vec<&str> = UV.iter().chain(PIP).copied().collect();
    fuzz("recipe", "pycache.toml", &all, iterations());
}

#[test]
fn fuzz_pyproject() {
    fuzz("pyproject", "pyproject.toml", UV, iterations());
}

#[test]
fn fuzz_uv_lock() {
    fuzz("uv.lock", "uv.lock", UV, iterations());
}

#[test]
fn fuzz_requirements() {
    fuzz("requirements", "requirements.txt", PIP, iterations());
}
