//! A typed reader over a spanned TOML tree that collects every problem instead of stopping at
//! the first, which serde's `deny_unknown_fields` cannot do. Each section of the recipe declares
//! its keys once, through the `Reader` methods it calls.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Diagnostics, LineIndex, did_you_mean};

pub type Sp<T> = Spanned<T>;

/// A name, and the value a table gave it (`None` in an array of names).
pub type NameValue = (Sp<String>, Option<Sp<String>>);

pub struct Reader<'a> {
    pub file: &'a str,
    /// The recipe's text and where its lines start.
    pub source: LineIndex<'a>,
    pub diags: Diagnostics,
    /// Build-arg values for `${NAME}` substitution; only declared args are here.
    pub args: BTreeMap<String, String>,
    /// Where hints of problems that are only counted go.
    pub scratch: Diagnostic,
}

/// One table of the recipe and the keys its section has asked for so far.
pub struct Section<'t, 'i> {
    pub name: String,
    pub table: &'t DeTable<'i>,
    known: Vec<&'static str>,
}

impl<'t, 'i> Section<'t, 'i> {
    pub fn new(name: impl Into<String>, table: &'t DeTable<'i>) -> Self {
        Self {
            name: name.into(),
            table,
            known: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.known.push(key);
        self.table.get(key)
    }
}

fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a> Reader<'a> {
    /// Reports a problem at `span`; the returned diagnostic takes a hint. Past
    /// [`crate::diag::MAX_KEPT`] problems it is only counted, and the hint goes nowhere.
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        if self.diags.is_full() {
            self.diags.count_omitted();
            self.scratch = Diagnostic::new(self.file, "");
            return &mut self.scratch;
        }
        self.diags
            .push(Diagnostic::new(self.file, message).at_index(&self.source, span));
        self.diags.last_mut().expect("just pushed")
    }

    fn wrong_type(&mut self, sec: &Section, key: &str, v: &Spanned<DeValue>, want: &str) {
        let msg = format!(
            "`{key}` in [{}] must be {want}, found {}",
            sec.name,
            kind(v.get_ref())
        );
        self.error(v.span(), msg).help = Some(format!(
            "write {want} here; docs/recipe.md describes each key"
        ));
    }

    /// Reports every key of `sec` that no reader asked for, with the closest known key.
    pub fn finish(&mut self, sec: Section) {
        for (key, _) in sec.table.iter() {
            if sec.known.contains(&key.get_ref().as_ref()) {
                continue;
            }
            let name = key.get_ref().to_string();
            let top = sec.name.is_empty();
            let hint = match (did_you_mean(&name, &sec.known), top) {
                (Some(k), true) => format!("did you mean [{k}]?"),
                (Some(k), false) => format!("did you mean `{k}`?"),
                (None, true) => format!("the recipe's tables are [{}]", sec.known.join("], [")),
                (None, false) => format!("known keys in [{}]: {}", sec.name, sec.known.join(", ")),
            };
            let msg = if top {
                format!("unknown table [{name}]")
            } else {
                format!("unknown key `{name}` in [{}]", sec.name)
            };
            let d = self.error(key.span(), msg);
            d.help = Some(hint);
        }
    }

    pub fn table<'t, 'i>(
        &mut self,
        sec: &mut Section<'t, 'i>,
        key: &'static str,
    ) -> Option<Section<'t, 'i>> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Section::new(
                if sec.name.is_empty() {
                    key.to_owned()
                } else {
                    format!("{}.{key}", sec.name)
                },
                t,
            )),
            _ => {
                self.wrong_type(sec, key, v, "a table");
                None
            }
        }
    }

    pub fn string(&mut self, sec: &mut Section, key: &'static str) -> Option<Sp<String>> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => {
                let s = self.substitute(s, v.span());
                self.plain_text(key, &s, v.span());
                Some(Spanned::new(v.span(), s))
            }
            _ => {
                self.wrong_type(sec, key, v, "a string");
                None
            }
        }
    }

    /// A string or a non-negative integer, as `(string, None)` or `("", Some(n))`.
    pub fn string_or_count(
        &mut self,
        sec: &mut Section,
        key: &'static str,
        want: &str,
    ) -> Option<Sp<(String, Option<u64>)>> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => {
                let s = self.substitute(s, v.span());
                self.plain_text(key, &s, v.span());
                Some(Spanned::new(v.span(), (s, None)))
            }
            DeValue::Integer(i) => match i.as_str().parse::<u64>() {
                Ok(n) => Some(Spanned::new(v.span(), (String::new(), Some(n)))),
                Err(_) => {
                    self.wrong_type(sec, key, v, want);
                    None
                }
            },
            _ => {
                self.wrong_type(sec, key, v, want);
                None
            }
        }
    }

    pub fn bool(&mut self, sec: &mut Section, key: &'static str) -> Option<Sp<bool>> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(v.span(), *b)),
            _ => {
                self.wrong_type(sec, key, v, "a boolean (true or false)");
                None
            }
        }
    }

    pub fn strings(&mut self, sec: &mut Section, key: &'static str) -> Option<Sp<Vec<Sp<String>>>> {
        let v = sec.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(sec, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => {
                    let s = self.substitute(s, item.span());
                    self.plain_text(key, &s, item.span());
                    out.push(Spanned::new(item.span(), s));
                }
                other => {
                    let msg = format!(
                        "`{key}` in [{}] must be an array of strings, found {} in it",
                        sec.name,
                        kind(other)
                    );
                    self.error(item.span(), msg).help =
                        Some("write every item in quotes, e.g. [\"a\", \"b\"]".into());
                }
            }
        }
        Some(Spanned::new(v.span(), out))
    }

    /// An array of names (`["a", "b"]`), or a table of names to strings (`{ a = "x" }`):
    /// `(name, None)` or `(name, Some(value))`, in the order written (tables: key order).
    pub fn names_or_table(
        &mut self,
        sec: &mut Section,
        key: &'static str,
        want: &str,
    ) -> Option<Vec<NameValue>> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::Array(_) => {
                let mut again = Section::new(sec.name.clone(), sec.table);
                let names = self.strings(&mut again, key)?;
                Some(names.into_inner().into_iter().map(|n| (n, None)).collect())
            }
            DeValue::Table(t) => {
                let mut out = Vec::new();
                for (k, item) in t.iter() {
                    self.plain_text("a key", k.get_ref(), k.span());
                    let name = Spanned::new(k.span(), k.get_ref().to_string());
                    match item.get_ref() {
                        DeValue::String(s) => {
                            let s = self.substitute(s, item.span());
                            self.plain_text(key, &s, item.span());
                            out.push((name, Some(Spanned::new(item.span(), s))));
                        }
                        other => {
                            let help = format!("write {want}");
                            self.entry_not_a_string(
                                sec,
                                key,
                                k.get_ref(),
                                item.span(),
                                other,
                                help,
                            );
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.wrong_type(sec, key, v, want);
                None
            }
        }
    }

    /// The error for a table entry `entry` of `[sec.key]` that is not a string.
    fn entry_not_a_string(
        &mut self,
        sec: &Section,
        key: &str,
        entry: &str,
        span: std::ops::Range<usize>,
        found: &DeValue,
        help: String,
    ) {
        let msg = format!(
            "`{entry}` in [{}.{key}] must be a string, found {}",
            sec.name,
            kind(found)
        );
        self.error(span, msg).help = Some(help);
    }

    /// A table of string values (`env`, `labels`, `args`), in key order.
    pub fn string_map(
        &mut self,
        sec: &mut Section,
        key: &'static str,
    ) -> BTreeMap<String, Sp<String>> {
        let mut out = BTreeMap::new();
        let Some(v) = sec.get(key) else {
            return out;
        };
        let DeValue::Table(t) = v.get_ref() else {
            self.wrong_type(sec, key, v, "a table of strings");
            return out;
        };
        for (k, item) in t.iter() {
            self.plain_text("a key", k.get_ref(), k.span());
            match item.get_ref() {
                DeValue::String(s) => {
                    let s = self.substitute(s, item.span());
                    self.plain_text(key, &s, item.span());
                    out.insert(k.get_ref().to_string(), Spanned::new(item.span(), s));
                }
                DeValue::Integer(i) => {
                    out.insert(
                        k.get_ref().to_string(),
                        Spanned::new(item.span(), i.as_str().to_owned()),
                    );
                }
                DeValue::Boolean(b) => {
                    out.insert(
                        k.get_ref().to_string(),
                        Spanned::new(item.span(), b.to_string()),
                    );
                }
                other => {
                    let help = format!("write `{} = \"value\"`", k.get_ref());
                    self.entry_not_a_string(sec, key, k.get_ref(), item.span(), other, help);
                }
            }
        }
        out
    }

    /// A list of ports: integers (`8000`) or strings (`"8000/udp"`), normalised to `8000/tcp`.
    pub fn ports(&mut self, sec: &mut Section, key: &'static str) -> Vec<Sp<String>> {
        let Some(v) = sec.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(sec, key, v, "an array of ports, e.g. [8000, \"53/udp\"]");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let text = match item.get_ref() {
                DeValue::Integer(i) => i.as_str().to_owned(),
                DeValue::String(s) => {
                    let s = self.substitute(s, item.span());
                    self.plain_text(key, &s, item.span());
                    s
                }
                other => {
                    let msg = format!("a port must be a number or a string, found {}", kind(other));
                    self.error(item.span(), msg).help =
                        Some("write a port like 8000 or \"53/udp\"".into());
                    continue;
                }
            };
            let (port, proto) = text.split_once('/').unwrap_or((&text, "tcp"));
            let ok_port = port.parse::<u16>().is_ok_and(|p| p > 0);
            if !ok_port || !matches!(proto, "tcp" | "udp" | "sctp") {
                let msg = format!("`{text}` is not a port");
                self.error(item.span(), msg).help = Some(
                    "write a number from 1 to 65535, optionally with /tcp, /udp or /sctp".into(),
                );
                continue;
            }
            out.push(Spanned::new(item.span(), format!("{port}/{proto}")));
        }
        out
    }

    /// Reports control characters in the value of `key`: NUL cuts a string short in the exec
    /// and the image config, and the others are never meant. Commands, `env` and `labels` may
    /// hold newlines and tabs; names and paths may not.
    pub fn plain_text(&mut self, key: &str, value: &str, span: Range<usize>) {
        let free_text = matches!(key, "env" | "labels" | "cmd" | "entrypoint");
        let Some((at, c)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !(free_text && matches!(c, '\n' | '\t')))
        else {
            return;
        };
        let what = if key == "a key" {
            "a key".to_owned()
        } else {
            format!("`{key}`")
        };
        let msg = format!(
            "{what} has a control character (U+{:04X}) at character {}",
            u32::from(c),
            at + 1
        );
        self.error(span, msg).help = Some(if free_text {
            "remove it: only newlines and tabs may be in commands, env and labels".into()
        } else {
            "remove it: names and paths are plain text".into()
        });
    }

    /// Replaces `${NAME}` with the build arg's value; unknown names are errors.
    fn substitute(&mut self, s: &str, span: Range<usize>) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                self.error(span.clone(), "unterminated `${` in string").help =
                    Some("write `${NAME}` to use a build arg".into());
                return out;
            };
            let name = &rest[start + 2..start + end];
            let (name, default) = match name.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (name, None),
            };
            match (self.args.get(name), default) {
                (Some(v), None) => out.push_str(v),
                (Some(v), Some(_)) if !v.is_empty() => out.push_str(v),
                (_, Some(d)) => out.push_str(d),
                (None, None) => {
                    let msg = format!("unknown build arg `{name}`");
                    self.error(span.clone(), msg).help = Some(format!(
                        "declare it in [args], e.g. `{name} = \"default\"`, or write `${{{name}:-default}}`"
                    ));
                }
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }
}
