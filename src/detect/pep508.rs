//! PEP 508 requirements and markers parsed with `pep508_rs`, behind a guard for the inputs on
//! which its last release (0.9.2) panics instead of returning an error. Every parse of
//! requirement or marker text (pyproject.toml, uv.lock, requirements files) goes through here.
//!
//! Why `pep508_rs`/`pep440_rs` (Apache-2.0 OR BSD-2-Clause) and not uv's own `uv-pep508`/
//! `uv-pep440`: they are the same code as published by uv's author for use outside uv, with 75
//! crates in their tree against 177 for `uv-pep508` (which pulls `uv-fs`, `tokio`, `tempfile`,
//! `walkdir`, `temp-env` and `futures`), a stable API (uv's are "internal component crates"
//! released with every uv version), and no toolchain constraint (current `uv-pep508` needs
//! Rust 1.97). `uv-pep508` has fixed two panics that 0.9.2 still has; [`guard`] refuses exactly
//! those inputs first, and `tests/parsers.rs` edits inputs at random to find any others.

use std::fmt;
use std::str::FromStr;

use pep508_rs::{MarkerTree, Pep508Url, Requirement};

/// A direct reference's URL or path, kept as written: callers only need to know there is one,
/// and `pep508_rs`'s own URL type reads the working directory to resolve relative paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlText(pub String);

impl fmt::Display for UrlText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Pep508Url for UrlText {
    type Err = std::convert::Infallible;

    fn parse_url(url: &str, _working_dir: Option<&std::path::Path>) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}

/// Parses a PEP 508 requirement (`Flask[async]>=2; python_version < '3.12'`); the error is the
/// parser's one-line message.
pub fn requirement(input: &str) -> Result<Requirement<UrlText>, String> {
    // Markers follow a `;`; nothing before the first one is parsed as a marker.
    let marker_start = input.find(';').unwrap_or(input.len());
    guard_names(input)?;
    guard(&input[marker_start..])?;
    Requirement::<UrlText>::from_str(input).map_err(|e| e.message.to_string())
}

/// Parses a PEP 508 marker expression; the error is the parser's one-line message.
pub fn marker(input: &str) -> Result<MarkerTree, String> {
    guard(input)?;
    MarkerTree::parse_str::<UrlText>(input).map_err(|e| e.message.to_string())
}

/// `pep508_rs` 0.9.2 measures the word after a marker expression (where `and`/`or` may follow)
/// in characters but slices the text in bytes, so a non-ASCII character there panics. Where
/// "there" is depends on how the parser reads stray quotes, so any non-ASCII character in a
/// marker is refused: marker names and operators are ASCII, and so are the values of the
/// environment variables a container has (uv.lock writes none other).
fn guard(marker: &str) -> Result<(), String> {
    match marker.chars().find(|c| !c.is_ascii()) {
        Some(c) => Err(format!(
            "Unexpected character `{c}` in marker: markers are read as ASCII"
        )),
        None => Ok(()),
    }
}

/// `pep508_rs` 0.9.2 panics on a package or extra name that ends in `-`, `_` or `.` before
/// another character (`foo- >=1`, `foo[a.]`); PEP 508 names end alphanumerically.
fn guard_names(input: &str) -> Result<(), String> {
    let name_run = |s: &str| -> usize {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(s.len())
    };
    let ends_badly = |name: &str| name.ends_with(['-', '_', '.']);
    let rest = input.trim_start();
    let name = &rest[..name_run(rest)];
    if ends_badly(name) {
        return Err(format!(
            "Package name must end with an alphanumeric character, not `{name}`"
        ));
    }
    let rest = rest[name.len()..].trim_start();
    if let Some(extras) = rest.strip_prefix('[') {
        let extras = extras.split(']').next().unwrap_or("");
        for extra in extras.split(',') {
            let extra = extra.trim_start();
            let extra = &extra[..name_run(extra)];
            if ends_badly(extra) {
                return Err(format!(
                    "Extra name must end with an alphanumeric character, not `{extra}`"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of these panicked inside `pep508_rs` 0.9.2 before the guard.
    #[test]
    fn inputs_that_panicked_are_errors() {
        for req in [
            "flask[doten3.]>=1",
            "flask[a.]",
            "flask[a-",
            "flask[x, a_ ]",
            "foo- >=1",
            "foo.[x]",
            "foo_;python_version<'3'",
            "flask ; python_version < '3.11'é",
            "flask ; extra == ''cli'é",
            "flask ; (os_name == 'nt' and python_version < '3.11'é or os_name == 'posix')",
        ] {
            assert!(requirement(req).is_err(), "{req:?}");
        }
        for m in [
            "python_version < '3.11'é",
            "(os_name == 'nt' and python_version < '3.11'é or implementation_name != 'pypy')",
            "platform_machine == 'x86_@4' or extra == ''cli'é",
        ] {
            assert!(marker(m).is_err(), "{m:?}");
        }
    }

    #[test]
    fn the_guard_lets_valid_input_through() {
        for req in [
            "flask[a.b,c-d,e_f]>=1",
            "foo.bar-baz_qux",
            "foo @ https://example.com/é/foo-1.0.whl",
            "foo @ https://example.com/a;b/foo-1.0.whl ; os_name == 'posix'",
            "x[a] ; extra == 'a'",
        ] {
            assert!(requirement(req).is_ok(), "{req:?}: {:?}", requirement(req));
        }
        assert!(marker("os_name == 'posix' or sys_platform == \"linux\"").is_ok());
    }
}
