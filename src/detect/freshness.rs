//! Whether `uv.lock` is up to date with a `pyproject.toml`: the project's version and its
//! requirements (dependencies, extras, dependency groups) against what uv recorded in the
//! lock's `[package.metadata]` when it wrote it.
//!
//! Requirements and versions are compared as PEP 508/440 values, parsed by `pep508_rs` and
//! `pep440_rs`, so `Flask>=2.0` and `flask >= 2` or `1.0` and `1.0.0` are the same. The check
//! errs towards "fresh": a false "out of date" blocks a good build, while a stale lock that
//! slips through is still refused by `uv sync --locked` in the build.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use pep440_rs::{Operator, Version, VersionSpecifier};
use pep508_rs::{ExtraName, PackageName, VersionOrUrl};

use super::pep508;
use super::pyproject::{PyProject, normalize_name};
use super::uvlock::{LockedRequirement, UvLock};
use crate::diag::{Diagnostic, Diagnostics};

/// A requirement reduced to what the lock records of it: name, extras and version
/// constraints. Markers are left out: uv rewrites them (`python_version` →
/// `python_full_version`), so comparing them would report fresh locks as stale. Where a
/// package comes from (`name @ url`, `[tool.uv.sources]`) is left out too: the lock records
/// `[tool.uv.sources]` and direct URLs alike, in forms uv normalises.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequirementKey {
    pub name: PackageName,
    pub extras: BTreeSet<ExtraName>,
    pub specifiers: BTreeSet<SpecifierKey>,
}

/// One version clause, equal to another when PEP 440 says they accept the same versions as
/// far as spelling goes: `>=2` is `>=2.0`, but `==2.*` is not `==2.0.*` and `~=2.0` is not
/// `~=2.0.0`, whose release lengths change their meaning.
#[derive(Clone, Debug)]
pub struct SpecifierKey(VersionSpecifier);

impl SpecifierKey {
    fn key(&self) -> (Operator, &Version, usize) {
        let op = *self.0.operator();
        let version = self.0.version();
        let prefix = match op {
            Operator::EqualStar | Operator::NotEqualStar | Operator::TildeEqual => {
                version.release().len()
            }
            _ => 0,
        };
        (op, version, prefix)
    }
}

impl PartialEq for SpecifierKey {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for SpecifierKey {}

impl PartialOrd for SpecifierKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SpecifierKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for RequirementKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.extras.is_empty() {
            let extras: Vec<String> = self.extras.iter().map(ToString::to_string).collect();
            write!(f, "[{}]", extras.join(","))?;
        }
        Ok(())
    }
}

impl RequirementKey {
    /// The version constraints as written in messages: `<3,>=2.0`, or `any version`.
    pub fn constraint(&self) -> String {
        if self.specifiers.is_empty() {
            return "any version".to_owned();
        }
        let parts: Vec<String> = self.specifiers.iter().map(|s| s.0.to_string()).collect();
        parts.join(",")
    }
}

/// The key of a PEP 508 requirement string from `pyproject.toml`
/// (`"Flask[async]>=2; python_version<'3.12'"`), or the parser's one-line message.
pub fn requirement_key(req: &str) -> Result<RequirementKey, String> {
    let req = pep508::requirement(req)?;
    let specifiers = match req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specs)) => specs.iter().cloned().collect(),
        Some(VersionOrUrl::Url(_)) | None => Vec::new(),
    };
    Ok(RequirementKey {
        name: req.name,
        extras: req.extras.into_iter().collect(),
        specifiers: specifiers.into_iter().map(SpecifierKey).collect(),
    })
}

/// The key of a requirement as uv recorded it in `[package.metadata]`.
pub fn locked_requirement_key(req: &LockedRequirement) -> Result<RequirementKey, String> {
    let name = PackageName::from_str(&req.name).map_err(|e| e.to_string())?;
    let extras = req
        .extras
        .iter()
        .map(|e| ExtraName::from_str(e).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let specifiers = match req.specifier.as_deref() {
        None => BTreeSet::new(),
        Some(spec) => pep440_rs::VersionSpecifiers::from_str(spec)
            .map_err(|_| format!("invalid specifier `{spec}` for `{}`", req.name))?
            .iter()
            .cloned()
            .map(SpecifierKey)
            .collect(),
    };
    Ok(RequirementKey {
        name,
        extras,
        specifiers,
    })
}

/// Whether two versions differ under PEP 440 (`1.0` is `1.0.0`, `1.0b1` is `1.0.0b1`,
/// `1!2.0` is in epoch 1). A version that does not parse is not compared: uv would refuse it
/// itself, with a better message than "out of date".
pub fn release_differs(a: &str, b: &str) -> bool {
    match (Version::from_str(a.trim()), Version::from_str(b.trim())) {
        (Ok(a), Ok(b)) => a != b,
        _ => false,
    }
}

/// Compares what `pyproject.toml` (at `path`, with text `text`) asks for with what uv recorded
/// when it wrote the lock, reporting the first difference.
pub fn check_lock_fresh(
    pyproject: &PyProject,
    path: &str,
    text: &str,
    lock: &UvLock,
    diags: &mut Diagnostics,
) {
    let Some(project) = &pyproject.project else {
        return;
    };
    let Some(name) = &project.name else {
        return;
    };
    let stale = |why: String| {
        Diagnostic::new(
            "uv.lock",
            format!("uv.lock is out of date with {path}: {why}"),
        )
        .help("run `uv lock` and commit the updated uv.lock")
    };
    let Some(locked) = lock.package(name) else {
        diags.push(stale(format!(
            "project `{}` is not in the lock",
            normalize_name(name)
        )));
        return;
    };
    if let (Some(want), Some(have)) = (&project.version, &locked.version)
        && release_differs(want, have)
    {
        diags.push(stale(format!(
            "the project's version is {want}, the lock has {have}"
        )));
        return;
    }
    let Some(meta) = &locked.metadata else {
        return;
    };
    // Unreadable requirements are reported, and the comparison given up: what they would
    // have matched is unknown.
    let mut unreadable = false;
    let mut want_keys = |reqs: &[String]| -> BTreeSet<RequirementKey> {
        let mut keys = BTreeSet::new();
        for req in reqs {
            match requirement_key(req) {
                Ok(key) => {
                    keys.insert(key);
                }
                Err(message) => {
                    unreadable = true;
                    let mut d = Diagnostic::new(
                        path,
                        format!("invalid requirement `{req}` in {path}: {message}"),
                    )
                    .help("write a PEP 508 requirement such as `requests>=2.32`");
                    if let Some(span) = string_span(text, req) {
                        d = d.at(text, span);
                    }
                    diags.push(d);
                }
            }
        }
        keys
    };
    let dependencies: Vec<String> = project
        .dependencies
        .iter()
        .chain(project.optional_dependencies.values().flatten())
        .cloned()
        .collect();
    let want = want_keys(&dependencies);
    let groups: Vec<(String, BTreeSet<RequirementKey>)> = pyproject
        .group_names()
        .into_iter()
        .map(|g| {
            let keys = want_keys(&pyproject.group(&g));
            (g, keys)
        })
        .collect();
    let locked_keys = |reqs: &[LockedRequirement]| -> Result<BTreeSet<RequirementKey>, String> {
        reqs.iter().map(locked_requirement_key).collect()
    };
    let have = locked_keys(&meta.requires_dist);
    let have_groups: Result<Vec<BTreeSet<RequirementKey>>, String> = groups
        .iter()
        .map(|(g, _)| locked_keys(meta.requires_dev.get(g).map_or(&[], Vec::as_slice)))
        .collect();
    let (have, have_groups) = match (have, have_groups) {
        (Ok(h), Ok(g)) => (h, g),
        (Err(e), _) | (_, Err(e)) => {
            diags.push(
                Diagnostic::new("uv.lock", format!("invalid uv.lock: {e}"))
                    .help("regenerate it with `uv lock`"),
            );
            return;
        }
    };
    if unreadable {
        return;
    }
    if let Some(missing) = want.difference(&have).next() {
        diags.push(stale(format!(
            "`{missing}` ({}) is required but not locked",
            missing.constraint()
        )));
        return;
    }
    if let Some(extra) = have.difference(&want).next() {
        diags.push(stale(format!("`{extra}` is locked but no longer required")));
        return;
    }
    for ((group, want), have) in groups.iter().zip(&have_groups) {
        if want != have {
            diags.push(stale(format!("dependency group `{group}` changed")));
            return;
        }
    }
}

/// Where `value` is written as a plain TOML string in `text`, to point a diagnostic at it.
fn string_span(text: &str, value: &str) -> Option<Range<usize>> {
    ['"', '\''].iter().find_map(|q| {
        let quoted = format!("{q}{value}{q}");
        text.find(&quoted).map(|at| at..at + quoted.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(req: &str) -> RequirementKey {
        requirement_key(req).unwrap_or_else(|e| panic!("{req}: {e}"))
    }

    fn locked(name: &str, specifier: Option<&str>, extras: &[&str]) -> RequirementKey {
        locked_requirement_key(&LockedRequirement {
            name: name.into(),
            specifier: specifier.map(Into::into),
            extras: extras.iter().map(|e| (*e).into()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn requirement_keys_ignore_spelling_order_and_markers() {
        let k = key("Flask[b,a] >= 2.0, <3 ; python_version < '3.12'");
        assert_eq!(k.to_string(), "flask[a,b]");
        assert_eq!(k.constraint(), "<3,>=2.0");
        for same in [
            "flask[a,b]>=2.0,<3",
            "FLASK [ B , A ] (<3, >=2)",
            "Flask[a,b]<3.0,>=2 ; sys_platform == 'linux'",
            "flask[A,b,a]>=2.0.0,<3",
        ] {
            assert_eq!(key(same), k, "{same}");
        }
        assert_eq!(locked("Flask", Some(">=2.0, <3"), &["b", "a"]), k);
        assert_eq!(key("zope.interface"), locked("zope-interface", None, &[]));
        assert_eq!(
            key("Flask_SQLAlchemy"),
            locked("flask-sqlalchemy", None, &[])
        );
    }

    #[test]
    fn different_requirements_have_different_keys() {
        for (a, b) in [
            ("flask>=2", "flask>=3"),
            ("flask>=2", "flask>2"),
            ("flask", "flask>=2"),
            ("flask[a]", "flask"),
            ("flask", "quart"),
            ("flask==2.*", "flask==2.0.*"),
            ("flask~=2.0", "flask~=2.0.0"),
            ("flask!=2.*", "flask!=2.0.*"),
            ("flask==1!2.0", "flask==2.0"),
            ("flask==2.0b1", "flask==2.0"),
        ] {
            assert_ne!(key(a), key(b), "{a} vs {b}");
        }
        assert_eq!(key("flask==2.0b1"), key("flask==2.0.0b1"));
    }

    #[test]
    fn direct_references_key_on_the_name() {
        // uv records `name @ url` and `[tool.uv.sources]` alike, without a specifier.
        assert_eq!(
            key("foo @ https://example.com/foo-1.0-py3-none-any.whl"),
            locked("foo", None, &[])
        );
        assert_eq!(
            key("foo @ file:///src/foo ; os_name == 'posix'"),
            key("foo")
        );
        assert_eq!(key("foo[x] @ ../foo"), locked("foo", None, &["x"]));
    }

    #[test]
    fn unreadable_requirements_are_errors_not_panics() {
        for bad in [
            "",
            ">=2",
            "flask>=",
            "flask[",
            "flask ; python_version < '3.12",
            "flask ~= 2",
            "fl ask",
            "flask @",
            "-e .",
        ] {
            assert!(requirement_key(bad).is_err(), "{bad:?}");
        }
        let e = requirement_key("flask>=").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn versions_compare_as_pep_440() {
        for (a, b, differs) in [
            ("0.2.0", "0.1.0", true),
            ("1.0", "1.0.0", false),
            ("1.0b1", "1.0.0b1", false),
            ("1.0.0-beta.1", "1.0b1", false),
            ("1.0", "1.0.post1", true),
            ("1!2.0", "2.0", true),
            ("1!2", "1!2.0", false),
            ("v1.0", "1.0", false),
            ("1.0+local", "1.0", true),
            ("1.0.dev0", "1.0", true),
            ("2.0.0", "2.0.0", false),
            // Not a version: not compared.
            ("not a version", "1.0", false),
        ] {
            assert_eq!(release_differs(a, b), differs, "{a} vs {b}");
        }
    }

    #[test]
    fn string_spans_find_the_quoted_value() {
        let text = "dependencies = [\"flask>=\", 'x']";
        assert_eq!(string_span(text, "flask>="), Some(16..25));
        assert_eq!(string_span(text, "x"), Some(27..30));
        assert_eq!(string_span(text, "y"), None);
    }
}
