//! The Definition as JSON in the shape of `buildctl debug dump-llb`: one object per op with
//! `Op`, `Digest` and `OpMetadata`, fields at their default values left out (as Go's
//! `omitempty` would), for golden files and reviews.

use prost::Message;
use serde_json::{Map, Value, json};

use super::marshal::digest;
use super::pb;

fn strip_defaults(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) => {
            let a: Vec<Value> = a.into_iter().filter_map(keep_in_array).collect();
            (!a.is_empty()).then_some(Value::Array(a))
        }
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                // File contents: text when they are text, so golden files stay readable.
                if k == "data"
                    && let Value::Array(bytes) = &v
                {
                    let raw: Vec<u8> = bytes
                        .iter()
                        .filter_map(|b| b.as_u64().map(|b| b as u8))
                        .collect();
                    out.insert(k, Value::String(String::from_utf8_lossy(&raw).into_owned()));
                    continue;
                }
                if let Some(v) = strip_defaults(v) {
                    out.insert(k, v);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        other => Some(other),
    }
}

/// Array elements keep their position, so empty ones become `{}` rather than vanish.
fn keep_in_array(v: Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(strip_defaults(v).unwrap_or_else(|| json!({}))),
        other => Some(other),
    }
}

/// One JSON value per op, in Definition order.
pub fn dump(def: &pb::Definition) -> Vec<Value> {
    def.def
        .iter()
        .map(|bytes| {
            let d = digest(bytes);
            let op = pb::Op::decode(bytes.as_slice()).expect("our own bytes decode");
            let mut entry = Map::new();
            entry.insert(
                "Op".into(),
                strip_defaults(serde_json::to_value(&op).expect("serialises")).unwrap_or(json!({})),
            );
            entry.insert("Digest".into(), Value::String(d.clone()));
            let meta = def.metadata.get(&d).cloned().unwrap_or_default();
            entry.insert(
                "OpMetadata".into(),
                strip_defaults(serde_json::to_value(&meta).expect("serialises"))
                    .unwrap_or(json!({})),
            );
            Value::Object(entry)
        })
        .collect()
}

/// The dump as text: pretty-printed objects one after another (a JSON stream, like buildctl's).
pub fn dump_text(def: &pb::Definition) -> String {
    let mut out = String::new();
    for v in dump(def) {
        out.push_str(&serde_json::to_string_pretty(&v).expect("serialises"));
        out.push('\n');
    }
    out
}
