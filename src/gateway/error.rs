//! What can go wrong in the frontend, and how it reaches the user: as the `google.rpc.Status` of
//! `ReturnRequest.error`, with BuildKit's typed details (`errdefs.Source` so buildx prints the
//! offending lines, `errdefs.Subrequest` so buildx knows a `--call` is not supported).

use std::collections::BTreeMap;

use base64::Engine;
use prost::Message;
use serde_json::{Value, json};

use super::options::OptionsError;
use super::pb;
use crate::diag::{Diagnostic, Diagnostics};

/// `google.rpc.Code` values used here.
pub const CODE_UNKNOWN: i32 = 2;
pub const CODE_INVALID_ARGUMENT: i32 = 3;
pub const CODE_UNIMPLEMENTED: i32 = 12;
pub const CODE_INTERNAL: i32 = 13;

/// The text of every input file a diagnostic may point into, by the name diagnostics use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceTexts(pub BTreeMap<String, String>);

impl SourceTexts {
    pub fn get(&self, file: &str) -> Option<&str> {
        self.0.get(file).map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("{0}")]
    Options(#[from] OptionsError),
    /// Problems with the recipe or the project, with locations.
    #[error("{}", .diagnostics.summary())]
    Invalid {
        diagnostics: Diagnostics,
        sources: SourceTexts,
    },
    /// The recipe could not be read from the `dockerfile` local.
    #[error("{file}: cannot read the recipe: {reason}")]
    RecipeUnreadable { file: String, reason: String },
    /// A call to the daemon failed.
    #[error("{context}: {}", .status.message())]
    Daemon {
        context: String,
        status: tonic::Status,
    },
    #[error("unsupported request {0}")]
    UnsupportedSubrequest(String),
    #[error("{0}")]
    Other(String),
    /// A bug: pycache panicked. Returned like any error, with where it happened.
    #[error("internal error: pycache {0}")]
    Panic(super::guard::Panic),
}

impl FrontendError {
    /// A wrapper for `map_err` on daemon calls: `rpc("solve the build")`.
    pub fn daemon(context: impl Into<String>) -> impl FnOnce(tonic::Status) -> Self {
        let context = context.into();
        move |status| FrontendError::Daemon { context, status }
    }

    /// The full message: for diagnostics, the first problem's `file:line:col: message` on the
    /// first line (what buildx shows after "ERROR:"), then every problem rendered.
    pub fn message(&self) -> String {
        match self {
            FrontendError::Invalid { diagnostics, .. } => {
                format!("{}\n{diagnostics}", diagnostics.summary())
            }
            FrontendError::RecipeUnreadable { file, .. } => format!(
                "{self}\n  = help: pass the recipe with -f (its directory is the `dockerfile` \
                 local), or create {file}"
            ),
            FrontendError::Panic(_) => format!(
                "{self}\n  = help: this is a bug in pycache, not in the recipe: please report it with \
                 the recipe and the project's pyproject.toml and lock"
            ),
            other => other.to_string(),
        }
    }

    pub fn code(&self) -> i32 {
        match self {
            FrontendError::Options(_)
            | FrontendError::Invalid { .. }
            | FrontendError::RecipeUnreadable { .. } => CODE_INVALID_ARGUMENT,
            FrontendError::UnsupportedSubrequest(_) => CODE_UNIMPLEMENTED,
            FrontendError::Daemon { .. } | FrontendError::Other(_) => CODE_UNKNOWN,
            FrontendError::Panic(_) => CODE_INTERNAL,
        }
    }

    /// The `ReturnRequest.error` for this error.
    pub fn to_status(&self) -> pb::Status {
        let details = match self {
            FrontendError::Invalid {
                diagnostics,
                sources,
            } => diagnostics
                .iter()
                .find(|d| d.line_col().is_some())
                .and_then(|d| {
                    let text = sources.get(&d.file)?;
                    Some(typed_detail("errdefs.Source", &source_detail(d, text)))
                })
                .into_iter()
                .collect(),
            FrontendError::UnsupportedSubrequest(name) => {
                vec![typed_detail("errdefs.Subrequest", &json!({ "name": name }))]
            }
            // Keep the daemon's own typed details (e.g. which vertex failed).
            FrontendError::Daemon { status, .. } => pb::Status::decode(status.details())
                .map(|s| s.details)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        pb::Status {
            code: self.code(),
            message: self.message(),
            details,
        }
    }
}

impl From<Diagnostics> for FrontendError {
    fn from(diagnostics: Diagnostics) -> Self {
        FrontendError::Invalid {
            diagnostics,
            sources: SourceTexts::default(),
        }
    }
}

/// An `Any` carrying one of BuildKit's `errdefs` messages as JSON, the way
/// `util/grpcerrors` encodes them (`typeurl` registers them with a `+json` suffix).
fn typed_detail(name: &str, value: &Value) -> pb::Any {
    pb::Any {
        type_url: format!("github.com/moby/buildkit/{name}+json"),
        value: serde_json::to_vec(value).expect("JSON values serialise"),
    }
}

/// `pb.SourceInfo` as Go's `encoding/json` writes it (bytes as base64).
pub fn source_info_json(file: &str, text: &str) -> Value {
    let mut info = serde_json::Map::new();
    info.insert("filename".into(), json!(file));
    if !text.is_empty() {
        info.insert(
            "data".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
    if file.ends_with(".toml") || file.ends_with(".lock") {
        info.insert("language".into(), json!("toml"));
    }
    Value::Object(info)
}

/// 1-based line and 0-based character of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let character = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, character)
}

/// The `pb.Range`s (JSON) a diagnostic covers in `text`; empty when it has no span.
pub fn ranges_json(d: &Diagnostic, text: &str) -> Vec<Value> {
    let Some(span) = &d.span else {
        return Vec::new();
    };
    let (start_line, start_char) = position(text, span.start);
    // An end at the start of a line belongs to the line before (a span ending with '\n').
    let end = if span.end > span.start {
        span.end - 1
    } else {
        span.end
    };
    let (end_line, end_char) = position(text, end);
    vec![json!({
        "start": { "line": start_line, "character": start_char },
        "end": { "line": end_line, "character": end_char + usize::from(span.end > span.start) },
    })]
}

/// `errdefs.Source`: the file and the range of the first located problem.
fn source_detail(d: &Diagnostic, text: &str) -> Value {
    json!({
        "info": source_info_json(&d.file, text),
        "ranges": ranges_json(d, text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_errors_start_with_the_first_location_and_carry_a_source() {
        let text = "[image]\nbase = 3\n";
        let d = Diagnostic::new("pycache.toml", "`base` must be a string").at(text, 15..16);
        let err = FrontendError::Invalid {
            diagnostics: d.into(),
            sources: SourceTexts(BTreeMap::from([("pycache.toml".into(), text.into())])),
        };
        let status = err.to_status();
        assert_eq!(status.code, CODE_INVALID_ARGUMENT);
        assert!(
            status
                .message
                .starts_with("pycache.toml:2:8: `base` must be a string\n"),
            "{}",
            status.message
        );
        assert_eq!(status.details.len(), 1);
        assert_eq!(
            status.details[0].type_url,
            "github.com/moby/buildkit/errdefs.Source+json"
        );
        let v: Value = serde_json::from_slice(&status.details[0].value).unwrap();
        assert_eq!(v["info"]["filename"], "pycache.toml");
        assert_eq!(v["ranges"][0]["start"]["line"], 2);
        assert_eq!(v["ranges"][0]["end"]["line"], 2);
    }

    #[test]
    fn unsupported_subrequests_carry_the_typed_detail() {
        let status = FrontendError::UnsupportedSubrequest("frontend.outline".into()).to_status();
        assert_eq!(
            status.details[0].type_url,
            "github.com/moby/buildkit/errdefs.Subrequest+json"
        );
        assert_eq!(status.details[0].value, br#"{"name":"frontend.outline"}"#);
    }

    #[test]
    fn positions_are_one_based_lines() {
        assert_eq!(position("ab\ncd", 0), (1, 0));
        assert_eq!(position("ab\ncd", 4), (2, 1));
        assert_eq!(position("ab", 99), (1, 2));
    }
}
