//! `--call` subrequests (option `requestid`): `frontend.subrequests.describe`,
//! `frontend.outline`, `frontend.targets` and `frontend.lint` (`--check`). Each answers with a
//! `Return` that has no filesystem and metadata `result.json`, `result.txt` and `version`, in
//! the JSON shapes of moby/buildkit `frontend/subrequests/` (`describe.go`,
//! `outline/outline.go`, `targets/targets.go`, `lint/lint.go`). Pure: the caller reads the
//! recipe and the project.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value, json};

use super::error::{SourceTexts, ranges_json, source_info_json};
use super::pb;
use crate::diag::Diagnostics;
use crate::recipe::{RUNTIME_TARGET, Recipe};

pub const DESCRIBE: &str = "frontend.subrequests.describe";
pub const OUTLINE: &str = "frontend.outline";
pub const TARGETS: &str = "frontend.targets";
pub const LINT: &str = "frontend.lint";

const VERSION: &str = "1.0.0";

/// One `subrequests.Request` of the describe answer.
fn definition(name: &str, description: &str, metadata: &[&str]) -> Value {
    let named: Vec<Value> = metadata
        .iter()
        .map(|m| json!({ "name": m, "description": "" }))
        .collect();
    json!({
        "name": name,
        "version": VERSION,
        "type": "rpc",
        "description": description,
        "opts": [],
        "inputs": [],
        "metadata": named,
        "refs": [],
    })
}

/// A result with no filesystem, only metadata (`Ref` with an empty id, as Go's gateway client
/// sends for a result without a ref).
fn metadata_result(metadata: BTreeMap<String, Vec<u8>>) -> pb::Result {
    pb::Result {
        result: Some(pb::result::Result::Ref(pb::Ref::default())),
        metadata,
        ..Default::default()
    }
}

fn reply(json: &Value, text: String, extra: &[(&str, String)]) -> pb::Result {
    let mut metadata = BTreeMap::from([
        (
            "result.json".to_owned(),
            serde_json::to_vec_pretty(json).expect("JSON values serialise"),
        ),
        ("result.txt".to_owned(), text.into_bytes()),
        ("version".to_owned(), VERSION.as_bytes().to_vec()),
    ]);
    for (k, v) in extra {
        metadata.insert((*k).to_owned(), v.clone().into_bytes());
    }
    metadata_result(metadata)
}

/// Columns padded like Go's `tabwriter` with padding 1: every cell but the last is as wide as
/// its column's widest cell plus one space.
fn table(rows: &[Vec<String>]) -> String {
    padded_table(rows, 1)
}

/// Columns padded like Go's `tabwriter` with `padding` spaces after the widest cell.
fn padded_table(rows: &[Vec<String>], padding: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] + padding - cell.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `frontend.subrequests.describe`: the subrequests pycache answers.
pub fn describe() -> pb::Result {
    let all = [
        (
            OUTLINE,
            "List all parameters current build target supports",
            &["result.json", "result.txt"][..],
        ),
        (
            TARGETS,
            "List all targets current build supports",
            &["result.json", "result.txt"][..],
        ),
        (
            LINT,
            "Check the recipe against the project",
            &["result.json", "result.txt", "result.statuscode"][..],
        ),
        (
            DESCRIBE,
            "List available subrequest types",
            &["result.json", "result.txt"][..],
        ),
    ];
    let json = Value::Array(all.iter().map(|(n, d, m)| definition(n, d, m)).collect());
    let mut rows = vec![vec!["NAME".into(), "VERSION".into(), "DESCRIPTION".into()]];
    for (name, description, _) in all {
        rows.push(vec![
            name.trim_start_matches("frontend.").to_owned(),
            VERSION.to_owned(),
            description.to_owned(),
        ]);
    }
    reply(&json, table(&rows), &[])
}

/// The line (1-based) of `[targets.NAME]` in the recipe and the comment lines just above it,
/// which describe the target like a comment above a Dockerfile stage.
fn target_header(text: &str, name: &str) -> Option<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let headers = [
        format!("[targets.{name}]"),
        format!("[targets.\"{name}\"]"),
        format!("[targets.'{name}']"),
    ];
    let index = lines.iter().position(|l| {
        let l = l.trim();
        headers.iter().any(|h| l.starts_with(h.as_str()))
    })?;
    Some((index + 1, comments_above(&lines, index)))
}

/// `frontend.targets`: the runtime image (the default) and every `[targets.NAME]`.
pub fn targets(recipe: &Recipe) -> pb::Result {
    let base = recipe.image.base.as_ref().map(|b| b.get_ref().clone());
    let mut list = vec![{
        let mut t = json!({
            "name": RUNTIME_TARGET,
            "default": true,
            "description": "the runtime image",
        });
        if let Some(b) = &base {
            t["base"] = json!(b);
        }
        t
    }];
    let mut rows = vec![vec!["TARGET".to_owned(), "DESCRIPTION".to_owned()]];
    rows.push(vec![
        format!("{RUNTIME_TARGET} (default)"),
        "the runtime image".into(),
    ]);
    for (name, section) in &recipe.targets {
        let header = target_header(&recipe.source, name);
        let line = header.as_ref().map(|(l, _)| *l).unwrap_or_else(|| {
            let start = section.span().start.min(recipe.source.len());
            recipe.source[..start].matches('\n').count() + 1
        });
        let description = header.map(|(_, d)| d).unwrap_or_default();
        let mut t = json!({
            "name": name,
            "location": {
                "ranges": [{ "start": { "line": line }, "end": { "line": line } }],
            },
        });
        if !description.is_empty() {
            t["description"] = json!(description);
        }
        if let Some(b) = &base {
            t["base"] = json!(b);
        }
        list.push(t);
        rows.push(vec![name.clone(), description]);
    }
    let json = json!({
        "targets": list,
        "sources": [base64::engine::general_purpose::STANDARD.encode(&recipe.source)],
    });
    reply(&json, table(&rows), &[])
}

/// The comment lines just above line `index` (0-based) of `lines`, joined: what describes the
/// thing on that line, as a comment above a Dockerfile `ARG` or stage does.
fn comments_above(lines: &[&str], index: usize) -> String {
    let mut comments: Vec<&str> = lines[..index]
        .iter()
        .rev()
        .map(|l| l.trim())
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    comments.reverse();
    comments.join(" ")
}

/// A `location` of one whole line (1-based) of source 0 (Go's omitempty drops `sourceIndex`
/// 0 and `character` 0).
fn line_location(line: usize) -> Value {
    json!({ "ranges": [{ "start": { "line": line }, "end": { "line": line } }] })
}

/// `frontend.outline`: what a build of `target` ("" for the default) takes: the recipe's
/// `[args]` with their values (the `--build-arg` given, else the default), each described by
/// the comment lines above it, the target with its description, and `ssh`: the `--ssh` ids the
/// build needs (git dependencies over SSH), each required, at `[python] ssh` when the recipe
/// names it. Secrets are not listed (Go's omitempty). An unknown target is an error, as the
/// build's is.
pub fn outline(recipe: &Recipe, target: &str, ssh: &[&str]) -> Result<pb::Result, Diagnostics> {
    crate::plan::check_target(recipe, target)?;
    let lines: Vec<&str> = recipe.source.lines().collect();
    let line_of = |offset: usize| {
        recipe.source[..offset.min(recipe.source.len())]
            .matches('\n')
            .count()
    };
    let mut args = Vec::new();
    let mut rows = vec![vec![
        "BUILD ARG".to_owned(),
        "VALUE".to_owned(),
        "DESCRIPTION".to_owned(),
    ]];
    // In the recipe's order, as the Dockerfile frontend lists its ARGs.
    let mut declared: Vec<_> = recipe.args.iter().collect();
    declared.sort_by_key(|(_, value)| value.span().start);
    for (name, value) in declared {
        let index = line_of(value.span().start);
        let description = if index < lines.len() {
            comments_above(&lines, index)
        } else {
            String::new()
        };
        let mut arg = json!({ "name": name });
        if !description.is_empty() {
            arg["description"] = json!(description);
        }
        if !value.get_ref().is_empty() {
            arg["value"] = json!(value.get_ref());
        }
        arg["location"] = line_location(index + 1);
        args.push(arg);
        rows.push(vec![name.clone(), value.get_ref().clone(), description]);
    }
    let (name, description) = if target.is_empty() || target == RUNTIME_TARGET {
        (RUNTIME_TARGET.to_owned(), "the runtime image".to_owned())
    } else {
        let description = target_header(&recipe.source, target)
            .map(|(_, d)| d)
            .unwrap_or_default();
        (target.to_owned(), description)
    };
    // As buildx prints it (`outline.PrintOutline`): each section, then an empty line.
    let mut json = json!({ "name": name });
    let mut header = vec![vec!["TARGET:".to_owned(), name]];
    if !description.is_empty() {
        header.push(vec!["DESCRIPTION:".to_owned(), description.clone()]);
        json["description"] = json!(description);
    }
    let mut text = table(&header);
    text.push('\n');
    if !args.is_empty() {
        json["args"] = Value::Array(args);
        text.push_str(&padded_table(&rows, 3));
        text.push('\n');
    }
    if !ssh.is_empty() {
        let mut rows = vec![vec!["SSH".to_owned(), "REQUIRED".to_owned()]];
        let mut list = Vec::new();
        for id in ssh {
            let mut entry = json!({ "name": id, "required": true });
            if let Some(key) = &recipe.python.ssh {
                entry["location"] = line_location(line_of(key.span().start) + 1);
            }
            list.push(entry);
            rows.push(vec![(*id).to_owned(), "true".to_owned()]);
        }
        json["ssh"] = Value::Array(list);
        text.push_str(&padded_table(&rows, 3));
        text.push('\n');
    }
    json["sources"] = json!([base64::engine::general_purpose::STANDARD.encode(&recipe.source)]);
    Ok(reply(&json, text, &[]))
}

/// `frontend.lint` (`--check`): every problem of the recipe and project, for every target, as
/// lint warnings with locations into `sources`. The status code is 1 when there is any.
pub fn lint(diagnostics: &Diagnostics, texts: &SourceTexts, recipe_file: &str) -> pb::Result {
    let mut sources: Vec<(String, Value)> = Vec::new();
    let mut warnings = Vec::new();
    let mut text = String::new();
    for d in diagnostics {
        let source = texts.get(&d.file);
        let index = match source {
            Some(body) => match sources.iter().position(|(f, _)| *f == d.file) {
                Some(i) => i as i64,
                None => {
                    sources.push((d.file.clone(), source_info_json(&d.file, body)));
                    (sources.len() - 1) as i64
                }
            },
            None => -1,
        };
        let ranges = source.map(|body| ranges_json(d, body)).unwrap_or_default();
        let mut detail = d.message.clone();
        if let Some(help) = &d.help {
            detail.push_str(&format!(" (help: {help})"));
        }
        let rule = if d.file == recipe_file {
            "InvalidRecipe"
        } else {
            "InvalidProject"
        };
        // sourceIndex 0 is omitted by Go's omitempty; -1 is how "no source" is written.
        let mut location = json!({ "ranges": ranges });
        if index != 0 {
            location["sourceIndex"] = json!(index);
        }
        warnings.push(json!({
            "ruleName": rule,
            "description": "pycache cannot build this recipe for this project",
            "detail": detail,
            "location": location,
        }));
        text.push_str(&format!("\nWARNING: {rule}\n{d}"));
    }
    let status = if diagnostics.is_empty() { 0 } else { 1 };
    let json = json!({
        "warnings": warnings,
        "sources": sources.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    });
    reply(&json, text, &[("result.statuscode", status.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostic;

    fn meta(r: &pb::Result, key: &str) -> String {
        String::from_utf8(r.metadata[key].clone()).unwrap()
    }

    #[test]
    fn describe_lists_what_is_implemented() {
        let r = describe();
        let v: Value = serde_json::from_str(&meta(&r, "result.json")).unwrap();
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [OUTLINE, TARGETS, LINT, DESCRIBE]);
        assert_eq!(meta(&r, "version"), "1.0.0");
        let text = meta(&r, "result.txt");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("NAME{}VERSION DESCRIPTION", " ".repeat(17))
        );
        assert!(lines[1].starts_with("outline              1.0.0   List all parameters"));
        assert!(lines[2].starts_with("targets              1.0.0   List all targets"));
    }

    #[test]
    fn tables_pad_like_tabwriter() {
        let rows = vec![
            vec!["A".into(), "x".into()],
            vec!["long".into(), "y".into()],
        ];
        assert_eq!(table(&rows), "A    x\nlong y\n");
    }

    #[test]
    fn target_headers_and_their_comments() {
        let text = "[image]\nbase = \"x\"\n\n# A debugging image\n# with tools\n[targets.dev]\ncmd = [\"sh\"]\n";
        assert_eq!(
            target_header(text, "dev"),
            Some((6, "A debugging image with tools".into()))
        );
        assert_eq!(target_header(text, "nope"), None);
    }

    #[test]
    fn lint_warnings_always_have_a_location() {
        let recipe = "[image]\nbase = 1\n";
        let diags: Diagnostics = [
            Diagnostic::new("pycache.toml", "bad base").at(recipe, 15..16),
            Diagnostic::new("uv.lock", "missing uv.lock").help("run uv lock"),
        ]
        .into_iter()
        .collect();
        let texts = SourceTexts(BTreeMap::from([("pycache.toml".into(), recipe.into())]));
        let r = lint(&diags, &texts, "pycache.toml");
        assert_eq!(meta(&r, "result.statuscode"), "1");
        let v: Value = serde_json::from_str(&meta(&r, "result.json")).unwrap();
        let w = v["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0]["location"]["ranges"][0]["start"]["line"], 2);
        assert!(w[0]["location"].get("sourceIndex").is_none());
        assert_eq!(w[1]["location"]["sourceIndex"], -1);
        assert_eq!(v["sources"][0]["filename"], "pycache.toml");
        assert_eq!(w[0]["ruleName"], "InvalidRecipe");
        assert_eq!(w[1]["ruleName"], "InvalidProject");

        let ok = lint(&Diagnostics::default(), &texts, "pycache.toml");
        assert_eq!(meta(&ok, "result.statuscode"), "0");
    }
}
