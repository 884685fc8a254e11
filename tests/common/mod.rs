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

/// The ops of a Definition, decoded.
pub fn ops(def: &pycache::llb::pb::Definition) -> Vec<pycache::llb::pb::Op> {
    use prost::Message;
    def.def
        .iter()
        .map(|b| pycache::llb::pb::Op::decode(b.as_slice()).expect("ops decode"))
        .collect()
}

/// The shell scripts (`sh -c SCRIPT`) of a Definition's exec ops.
pub fn shell_scripts(def: &pycache::llb::pb::Definition) -> Vec<String> {
    ops(def)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(pycache::llb::pb::op::Op::Exec(e)) => e.meta,
            _ => None,
        })
        .filter_map(|meta| match meta.args.as_slice() {
            [_, c, script, ..] if c == "-c" => Some(script.clone()),
            _ => None,
        })
        .collect()
}

/// `script` without its single-quoted words (`'…'`, where the shell expands nothing) and
/// without quoted heredocs (`<<'END' … END`): what the shell would interpret.
pub fn unquoted_shell(script: &str) -> String {
    let mut out = String::new();
    let mut lines = script.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let Some(at) = line.find("<<'") else {
            strip_single_quotes(line, &mut out);
            continue;
        };
        strip_single_quotes(&line[..at], &mut out);
        let delim = line[at + 3..].split('\'').next().unwrap_or("");
        for body in lines.by_ref() {
            if body.trim_end() == delim {
                break;
            }
        }
    }
    out
}

/// Appends what of `text` is outside single quotes to `out`.
fn strip_single_quotes(text: &str, out: &mut String) {
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            // Outside quotes a backslash makes the next character literal (`'\''`).
            '\\' if !quoted => {
                chars.next();
            }
            c if !quoted => out.push(c),
            _ => {}
        }
    }
}

/// Whether `marker` reaches the shells of `def` harmlessly: inside single quotes, or in a
/// word made only of characters no shell interprets (what `plan::shell::quote` leaves bare)
/// that is not an option (or is one only up to an `=` before the marker).
pub fn only_quoted(def: &pycache::llb::pb::Definition, marker: &str) -> Result<(), String> {
    for script in shell_scripts(def) {
        for word in unquoted_shell(&script).split_whitespace() {
            let Some(at) = word.find(marker) else {
                continue;
            };
            let plain = word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%".contains(c));
            let option = word.starts_with('-') && !word[..at].contains('=');
            if !plain || option {
                return Err(format!(
                    "`{marker}` reaches the shell unquoted in `{word}`:\n{script}"
                ));
            }
        }
    }
    Ok(())
}

/// How many outputs an op has, for checking the indices of the inputs that use it.
fn outputs(op: &pycache::llb::pb::Op) -> i64 {
    use pycache::llb::pb::op::Op;
    match &op.op {
        Some(Op::Exec(e)) => e.mounts.iter().filter(|m| m.output >= 0).count() as i64,
        Some(Op::File(f)) => f.actions.iter().filter(|a| a.output >= 0).count() as i64,
        Some(_) => 1,
        None => 0,
    }
}

/// What BuildKit requires of a Definition's structure: every op's digest is the sha256 of its
/// bytes and is unique, metadata is only about its ops, every input names an op defined before
/// it and one of that op's outputs, every mount, action and merge/diff input names one of the
/// op's inputs (or, in a file op, an earlier action), and the last op is the terminal.
pub fn check_definition(def: &pycache::llb::pb::Definition) -> Result<(), String> {
    use prost::Message;
    use pycache::llb::pb::{self, op::Op};
    let mut defined: BTreeMap<String, i64> = BTreeMap::new();
    let n = def.def.len();
    if n == 0 {
        return Err("an empty definition".into());
    }
    for (i, bytes) in def.def.iter().enumerate() {
        let op = pb::Op::decode(bytes.as_slice()).map_err(|e| format!("op {i}: {e}"))?;
        if op.encode_to_vec() != *bytes {
            return Err(format!("op {i} re-encodes differently"));
        }
        for (k, input) in op.inputs.iter().enumerate() {
            let Some(&outs) = defined.get(&input.digest) else {
                return Err(format!(
                    "op {i} input {k}: no op {} before it",
                    input.digest
                ));
            };
            if input.index < 0 || input.index >= outs {
                return Err(format!(
                    "op {i} input {k}: index {} of an op with {outs} outputs",
                    input.index
                ));
            }
        }
        let inputs = op.inputs.len() as i64;
        let valid = |x: i64, extra: i64| x == -1 || (0..inputs + extra).contains(&x);
        match &op.op {
            Some(Op::Exec(e)) => {
                for m in &e.mounts {
                    if !valid(m.input, 0) {
                        return Err(format!("op {i}: mount {} reads input {}", m.dest, m.input));
                    }
                }
            }
            Some(Op::File(f)) => {
                for (a, action) in f.actions.iter().enumerate() {
                    if !valid(action.input, a as i64) || !valid(action.secondary_input, a as i64) {
                        return Err(format!("op {i}: action {a} reads a missing input"));
                    }
                }
            }
            Some(Op::Merge(m)) if m.inputs.iter().any(|x| !valid(x.input, 0) || x.input < 0) => {
                return Err(format!("op {i}: a merge input out of range"));
            }
            Some(Op::Diff(d)) => {
                let lower = d.lower.map_or(-1, |x| x.input);
                let upper = d.upper.map_or(-1, |x| x.input);
                if !valid(lower, 0) || !valid(upper, 0) {
                    return Err(format!("op {i}: a diff input out of range"));
                }
            }
            _ => {}
        }
        let digest = pycache::llb::digest(bytes);
        if i + 1 < n {
            if op.op.is_none() {
                return Err(format!("op {i} is empty"));
            }
            if defined.insert(digest, outputs(&op)).is_some() {
                return Err(format!("op {i} appears twice"));
            }
        } else if op.op.is_some() || op.inputs.len() != 1 {
            return Err("the last op is not the terminal".into());
        }
    }
    for key in def.metadata.keys() {
        if !defined.contains_key(key) {
            return Err(format!("metadata of unknown op {key}"));
        }
    }
    Ok(())
}

/// A small deterministic random source (xorshift64*), so that a failing run can be replayed
/// from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
