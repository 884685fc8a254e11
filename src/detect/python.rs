//! Which Python the default base image should carry: `.python-version` if present, else the
//! newest CPython release line that `requires-python` allows.
//!
//! `requires-python` is a PEP 440 specifier set, parsed with `pep440_rs` (uv's parser, published
//! on its own; see `Cargo.toml`), so this agrees with uv about what the project accepts.

use std::ops::Range;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier, VersionSpecifiers};

/// Minor versions of the CPython 3 lines with official `python:3.X-slim` images, newest first.
pub const KNOWN_MINORS: &[u64] = &[14, 13, 12, 11, 10, 9];
/// The line used when nothing says which: no `.python-version`, no `requires-python`.
pub const FALLBACK: &str = "3.12";

/// Why `requires-python` chose no line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequiresPythonError {
    /// Not a PEP 440 specifier set. `clause` is the byte range of the first bad clause.
    #[error("invalid requires-python `{spec}`: {message}")]
    Invalid {
        spec: String,
        message: String,
        clause: Range<usize>,
    },
    /// Valid, but allows no line there is a default image for (e.g. `<3.9`, `>=3.15`, or
    /// `>=3.10,<3`, which allows nothing at all).
    #[error(
        "requires-python `{spec}` allows none of the Python lines pycache has default images for (3.{oldest} to 3.{newest})",
        oldest = KNOWN_MINORS[KNOWN_MINORS.len() - 1],
        newest = KNOWN_MINORS[0]
    )]
    NoKnownLine { spec: String },
}

/// `"3.12"` for `.python-version` text `3.12.4`, or the newest known line that satisfies
/// `requires_python`, else [`FALLBACK`]. Never fails: callers that want to report a bad
/// `requires-python` use [`parse_requires_python`] and [`newest_line`].
pub fn choose(python_version_file: Option<&str>, requires_python: Option<&str>) -> String {
    if let Some(line) = python_version_file.and_then(python_version_line) {
        return line;
    }
    requires_python
        .and_then(|spec| newest_line(&parse_requires_python(spec).ok()?))
        .unwrap_or_else(|| FALLBACK.to_owned())
}

/// The `3.X` line named by a `.python-version` file (`3.12.4`, `3.12`, `cpython-3.12.4`): its
/// first line that is neither blank nor a comment.
pub fn python_version_line(text: &str) -> Option<String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let mut parts = line.trim_start_matches("cpython-").split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(format!("{major}.{minor}"))
}

/// Parses `requires-python`. An empty or blank value allows every version, as in uv.
pub fn parse_requires_python(spec: &str) -> Result<VersionSpecifiers, RequiresPythonError> {
    if spec.trim().is_empty() {
        return Ok(VersionSpecifiers::empty());
    }
    VersionSpecifiers::from_str(spec).map_err(|_| {
        // The set's error renders a multi-line caret diagram; parsing the clauses one by one
        // gives the bad clause's place and a one-line message for our own diagnostic.
        let mut start = 0;
        for clause in spec.split(',') {
            if let Err(e) = VersionSpecifier::from_str(clause) {
                let lead = clause.len() - clause.trim_start().len();
                return RequiresPythonError::Invalid {
                    spec: spec.to_owned(),
                    message: e.to_string(),
                    clause: start + lead..start + clause.trim_end().len().max(lead),
                };
            }
            start += clause.len() + 1;
        }
        RequiresPythonError::Invalid {
            spec: spec.to_owned(),
            message: "not a PEP 440 specifier set".to_owned(),
            clause: 0..spec.len(),
        }
    })
}

/// The newest known `3.X` line whose latest patch release the set allows. The latest patch is
/// what a `python:3.X-slim` image carries, so `<=3.12` (which excludes 3.12.1) or `<3.12.2`
/// choose 3.11, as uv would reject 3.12.x there.
pub fn newest_line(spec: &VersionSpecifiers) -> Option<String> {
    KNOWN_MINORS
        .iter()
        .find(|&&minor| spec.contains(&Version::new([3, minor, 999])))
        .map(|minor| format!("3.{minor}"))
}

/// [`parse_requires_python`] then [`newest_line`], with the error for a set that allows no line.
pub fn line_for(spec: &str) -> Result<String, RequiresPythonError> {
    newest_line(&parse_requires_python(spec)?).ok_or_else(|| RequiresPythonError::NoKnownLine {
        spec: spec.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_allowed_line() {
        for (spec, want) in [
            (">=3.11", "3.14"),
            (">=3.10,<3.12", "3.11"),
            (">=3.10, <3.12", "3.11"),
            ("==3.10.*", "3.10"),
            ("==3.*", "3.14"),
            ("~=3.9", "3.14"),
            ("~=3.11.0", "3.11"),
            (">=3.11, !=3.13.*", "3.14"),
            (">=3.11, !=3.14.*, !=3.13.*", "3.12"),
            (">=3.8,!=3.9.*", "3.14"),
            ("<3.10", "3.9"),
            (">3.12", "3.14"),
            ("<3.13", "3.12"),
            // The image carries the latest patch, which these exclude.
            ("<=3.12", "3.11"),
            ("<3.12.2", "3.11"),
            (">=3.9,<3.12.2", "3.11"),
            ("!=3.14.*", "3.13"),
            (">=3.10.0a1", "3.14"),
            ("", "3.14"),
            ("  ", "3.14"),
        ] {
            assert_eq!(line_for(spec).as_deref(), Ok(want), "{spec:?}");
            assert_eq!(choose(None, Some(spec)), want, "{spec:?}");
        }
    }

    #[test]
    fn sets_that_allow_no_known_line() {
        for spec in [
            ">=3.10,<3",
            "<3.9",
            ">=3.15",
            "==2.7.*",
            "==3.12.4",
            ">3.14.999",
        ] {
            assert_eq!(
                line_for(spec),
                Err(RequiresPythonError::NoKnownLine { spec: spec.into() }),
                "{spec:?}"
            );
            // Never a line the set excludes, never a panic: the fallback, which callers
            // report as an error when the line matters.
            assert_eq!(choose(None, Some(spec)), FALLBACK);
        }
    }

    #[test]
    fn malformed_sets_are_errors_that_point_at_the_clause() {
        for (spec, clause) in [
            (">=", 0..2),
            ("~=3", 0..3),
            (">=3.10,~=3", 7..10),
            (">=3.10, ~=3 ", 8..11),
            ("garbage", 0..7),
            ("3.12", 0..4),
            (">=3.8,", 6..6),
            (">=3.8.*", 0..7),
            ("python>=3.8", 0..11),
            ("=>3.8", 0..5),
            (">=3.8;", 0..6),
            ("\u{1F40D}", 0..4),
        ] {
            match line_for(spec) {
                Err(RequiresPythonError::Invalid { clause: c, .. }) => {
                    assert_eq!(c, clause, "{spec:?}");
                    assert!(spec.get(c).is_some(), "{spec:?}");
                }
                other => panic!("{spec:?}: {other:?}"),
            }
            assert_eq!(choose(None, Some(spec)), FALLBACK);
        }
        let e = line_for("~=3").unwrap_err().to_string();
        assert!(e.starts_with("invalid requires-python `~=3`: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn python_version_file_wins() {
        assert_eq!(choose(Some("3.11.7\n"), Some(">=3.9")), "3.11");
        assert_eq!(choose(Some("# pinned\n\ncpython-3.10.4\n"), None), "3.10");
        assert_eq!(choose(Some("3.13"), Some(">=")), "3.13");
        assert_eq!(choose(Some("pypy"), Some(">=3.11,<3.12")), "3.11");
        assert_eq!(choose(None, None), FALLBACK);
    }
}
