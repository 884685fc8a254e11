//! Poetry's `content-hash`: whether `poetry.lock` still matches `pyproject.toml`.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// The sha256 Poetry writes as `content-hash`: of the `[project]` keys `requires-python`,
/// `dependencies` and `optional-dependencies`, `[dependency-groups]` (Poetry 2.3+: with
/// `with_dependency_groups`), and the `[tool.poetry]` keys `dependencies`, `source`, `extras`,
/// `dev-dependencies` and `group`; serialised as `json.dumps(…, sort_keys=True)`.
pub fn content_hash(pyproject: &toml::Table, with_dependency_groups: bool) -> String {
    const LEGACY: [&str; 4] = ["dependencies", "source", "extras", "dev-dependencies"];
    const POETRY: [&str; 5] = [
        "dependencies",
        "source",
        "extras",
        "dev-dependencies",
        "group",
    ];
    const PROJECT: [&str; 3] = ["requires-python", "dependencies", "optional-dependencies"];
    let table = |t: Option<&toml::Value>| t.and_then(toml::Value::as_table).cloned();
    let project = table(pyproject.get("project")).unwrap_or_default();
    let groups = with_dependency_groups
        .then(|| table(pyproject.get("dependency-groups")))
        .flatten()
        .filter(|g| !g.is_empty());
    let poetry = table(
        pyproject
            .get("tool")
            .and_then(|t| t.as_table())
            .and_then(|t| t.get("poetry")),
    )
    .unwrap_or_default();

    let relevant_project: Vec<(&str, Json)> = PROJECT
        .iter()
        .filter_map(|k| Some((*k, Json::Value(project.get(*k)?))))
        .collect();
    let mut relevant_poetry: Vec<(&str, Json)> = Vec::new();
    for key in POETRY {
        match poetry.get(key) {
            Some(v) => relevant_poetry.push((key, Json::Value(v))),
            // Legacy keys are written as `null` for compatibility, unless `[project]` or
            // `[dependency-groups]` has relevant content.
            None if LEGACY.contains(&key) && relevant_project.is_empty() && groups.is_none() => {
                relevant_poetry.push((key, Json::Null));
            }
            None => {}
        }
    }
    let mut relevant: Vec<(&str, Json)> = Vec::new();
    if !relevant_project.is_empty() {
        relevant.push(("project", Json::Object(relevant_project)));
    }
    if let Some(g) = &groups {
        relevant.push(("dependency-groups", Json::Table(g)));
    }
    let json = if relevant.is_empty() {
        // Without them, the `[tool.poetry]` keys are at the top level.
        Json::Object(relevant_poetry)
    } else {
        relevant.push((
            "tool",
            Json::Object(vec![("poetry", Json::Object(relevant_poetry))]),
        ));
        Json::Object(relevant)
    };
    let mut text = String::new();
    json.write(&mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What Python's `json.dumps(value, sort_keys=True)` writes, for TOML values.
enum Json<'a> {
    Null,
    Value(&'a toml::Value),
    Table(&'a toml::Table),
    Object(Vec<(&'a str, Json<'a>)>),
}

impl Json<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Value(v) => write_value(v, out),
            Json::Table(t) => {
                write_object(t.iter().map(|(k, v)| (k.as_str(), Json::Value(v))), out)
            }
            Json::Object(entries) => {
                write_object(entries.iter().map(|(k, v)| (*k, v.shallow())), out);
            }
        }
    }

    fn shallow(&self) -> Json<'_> {
        match self {
            Json::Null => Json::Null,
            Json::Value(v) => Json::Value(v),
            Json::Table(t) => Json::Table(t),
            Json::Object(e) => Json::Object(e.iter().map(|(k, v)| (*k, v.shallow())).collect()),
        }
    }
}

fn write_object<'a>(entries: impl Iterator<Item = (&'a str, Json<'a>)>, out: &mut String) {
    let mut entries: Vec<(&str, Json)> = entries.collect();
    // Python sorts by code point, which is UTF-8 byte order.
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(k, out);
        out.push_str(": ");
        v.write(out);
    }
    out.push('}');
}

pub(super) fn write_value(v: &toml::Value, out: &mut String) {
    match v {
        toml::Value::String(s) => write_string(s, out),
        toml::Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        toml::Value::Float(f) => out.push_str(&python_float(*f)),
        toml::Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        // Poetry's json.dumps fails on dates: no lock has such a hash.
        toml::Value::Datetime(d) => write_string(&d.to_string(), out),
        toml::Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        toml::Value::Table(t) => {
            write_object(t.iter().map(|(k, v)| (k.as_str(), Json::Value(v))), out);
        }
    }
}

/// A JSON string as Python writes it with `ensure_ascii`: everything outside ASCII escaped as
/// `\uXXXX` (surrogate pairs past the BMP).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `repr(f)` of a Python float: the shortest digits that read back the same, in fixed
/// notation for exponents from -4 to 15 (always with a fraction), else `1e+16`-style.
pub(super) fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` is the shortest round-trip digits too: `1.5e3`, `-2e-7`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa
        .strip_prefix('-')
        .map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{fraction}e{exp_sign}{:02}", exp.abs())
    }
}
