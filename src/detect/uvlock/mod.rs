//! `uv.lock`: packages, versions, sources, wheels, and the recorded requirements of the
//! workspace's own packages, which tell whether the lock is up to date with `pyproject.toml`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use serde::Deserialize;

use super::pyproject::normalize_name;
use crate::diag::Diagnostic;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UvLock {
    pub version: Option<u32>,
    pub requires_python: Option<String>,
    pub manifest: Option<Manifest>,
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedPackage {
    pub name: String,
    pub version: Option<String>,
    #[serde(default)]
    pub source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub dependencies: Vec<LockedDependency>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    pub metadata: Option<LockedMetadata>,
    /// Its sdist and wheels (read by [`UvLock::parse`] beside the rest).
    #[serde(skip)]
    pub artifacts: Artifacts,
    // The sdist and wheels, checked when a section is parsed as TOML; [`toml_package`] then
    // reads them into `artifacts`.
    #[serde(
        default,
        rename = "sdist",
        deserialize_with = "checked::<Option<Artifact>, _>"
    )]
    _sdist: (),
    #[serde(
        default,
        rename = "wheels",
        deserialize_with = "checked::<Vec<Artifact>, _>"
    )]
    _wheels: (),
}

/// Deserializes a `T` and drops it.
fn checked<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    T::deserialize(d).map(drop)
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LockedDependency {
    pub name: String,
    /// Given when the lock has several packages of this name (a forked resolution).
    pub version: Option<String>,
    /// Given with `version`, when versions alone do not tell the packages apart.
    pub source: Option<BTreeMap<String, toml::Value>>,
    pub marker: Option<String>,
    #[serde(default)]
    pub extra: Vec<String>,
}

/// A package's sdist and wheels.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Artifacts {
    pub sdist: Option<Artifact>,
    #[serde(default)]
    pub wheels: Vec<Artifact>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Artifact {
    pub url: Option<String>,
    /// A file of a local find-links directory or flat index (`{ path = "x-1.0-py3-none-any.whl" }`),
    /// relative to that directory: uv records no URL for it (and, as of uv 0.9, no hash).
    pub path: Option<String>,
    pub hash: Option<String>,
    pub size: Option<u64>,
}

impl Artifacts {
    /// The largest wheel's size, a fair estimate of what installing it costs.
    pub fn wheel_size(&self) -> u64 {
        self.wheels.iter().filter_map(|w| w.size).max().unwrap_or(0)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedMetadata {
    #[serde(default)]
    pub requires_dist: Vec<LockedRequirement>,
    #[serde(default)]
    pub requires_dev: BTreeMap<String, Vec<LockedRequirement>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LockedRequirement {
    pub name: String,
    pub specifier: Option<String>,
    #[serde(default)]
    pub extras: Vec<String>,
}

/// Where a locked package comes from, reduced to what the plan cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Registry,
    /// The project itself or a workspace member (`editable`, `virtual`, or `directory`).
    Local(String),
    Git,
    Url,
}

impl LockedPackage {
    pub fn source_kind(&self) -> SourceKind {
        for key in ["editable", "virtual", "directory", "path"] {
            if let Some(path) = self.source.get(key).and_then(toml::Value::as_str) {
                return SourceKind::Local(path.to_owned());
            }
        }
        if self.source.contains_key("git") {
            SourceKind::Git
        } else if self.source.contains_key("url") {
            SourceKind::Url
        } else {
            SourceKind::Registry
        }
    }
}

/// A uv.lock parse error, with its byte range in the whole file.
#[derive(Clone, Debug)]
pub struct LockError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl LockError {
    fn at(e: toml::de::Error, offset: usize) -> Self {
        Self {
            message: e.message().trim_end().to_owned(),
            span: e.span().map(|s| s.start + offset..s.end + offset),
        }
    }
}

#[derive(Deserialize)]
struct OnePackage {
    package: Vec<LockedPackage>,
}

impl UvLock {
    /// Parses uv.lock. The file is mostly `[[package]]` sections in the layout uv writes (a
    /// 300-package lock is ~2 MB, nearly all of it artifact lists), which [`Cursor`] reads in
    /// one pass; a section it does not follow exactly is parsed as TOML instead, as is the
    /// header before the first section.
    pub fn parse(text: &str) -> Result<Self, LockError> {
        let header_end = section_start(text, 0);
        let mut lock: UvLock =
            toml::from_str(&text[..header_end]).map_err(|e| LockError::at(e, 0))?;
        let mut cursor = Cursor {
            text,
            pos: header_end,
        };
        while !cursor.at_end() {
            let start = cursor.pos;
            let mut artifacts = Artifacts::default();
            let pkg = match cursor.package(Some(&mut artifacts)) {
                Some(mut pkg) => {
                    pkg.artifacts = artifacts;
                    pkg
                }
                None => {
                    cursor.pos = section_start(text, start + 1);
                    toml_package(&text[start..cursor.pos], start)?
                }
            };
            lock.packages.push(pkg);
        }
        Ok(lock)
    }

    pub fn package(&self, name: &str) -> Option<&LockedPackage> {
        let name = normalize_name(name);
        self.packages.iter().find(|p| p.name == name)
    }
    /// Packages installed from an index, git or URL: everything but local ones.
    pub fn third_party(&self) -> impl Iterator<Item = &LockedPackage> {
        self.packages
            .iter()
            .filter(|p| !matches!(p.source_kind(), SourceKind::Local(_)))
    }

    /// Local packages that are not the project or a listed workspace member: path dependencies.
    pub fn local_packages(&self) -> impl Iterator<Item = (&LockedPackage, String)> {
        self.packages.iter().filter_map(|p| match p.source_kind() {
            SourceKind::Local(path) => Some((p, path)),
            _ => None,
        })
    }
}

/// A file name alone: not empty, not `.` or `..`, no `/`, `\\` or control characters.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// The lock format version pycache reads.
pub const LOCK_VERSION: u32 = 1;

impl UvLock {
    /// What a parsed lock must also be before pycache builds from it: its version known, every
    /// package name a PEP 508 name and every version a PEP 440 version (they reach commands and
    /// requirements files), sources without spaces or control characters, no package twice.
    pub fn validate(&self, file: &str, text: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let header = &text[..section_start(text, 0)];
        let version_line = key_line(header, 0, "version");
        match self.version {
            Some(LOCK_VERSION) => {}
            other => {
                let what = other.map_or("has no `version`".to_owned(), |v| {
                    format!("has version {v}, which pycache does not read")
                });
                let mut d = Diagnostic::new(
                    file,
                    format!("{file} {what} (it reads version {LOCK_VERSION})"),
                )
                .help(
                    "regenerate it with `uv lock` using a uv release that writes version 1 locks",
                );
                if let Some(span) = version_line {
                    d = d.at(text, span);
                }
                out.push(d);
            }
        }
        let mut starts = Vec::new();
        let mut pos = section_start(text, 0);
        while pos < text.len() {
            starts.push(pos);
            pos = section_start(text, pos + 1);
        }
        let section = |i: usize| -> Option<(usize, &str)> {
            let start = *starts.get(i)?;
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            Some((start, &text[start..end]))
        };
        let at = |d: Diagnostic, i: usize, key: &str| match section(i)
            .and_then(|(start, body)| key_line(body, start, key))
        {
            Some(span) => d.at(text, span),
            None => d,
        };
        let mut seen = BTreeMap::new();
        for (i, p) in self.packages.iter().enumerate() {
            if pep508_rs::PackageName::from_str(&p.name).is_err() {
                let d = Diagnostic::new(file, format!("`{}` is not a valid package name", p.name))
                    .help("package names are letters, digits, `-`, `_` and `.` (PEP 508); regenerate the lock with `uv lock`");
                out.push(at(d, i, "name"));
                continue;
            }
            if let Some(v) = &p.version
                && pep440_rs::Version::from_str(v).is_err()
            {
                let d = Diagnostic::new(
                    file,
                    format!("`{v}` is not a valid version of package `{}`", p.name),
                )
                .help(
                    "versions follow PEP 440, e.g. \"2.32.3\"; regenerate the lock with `uv lock`",
                );
                out.push(at(d, i, "version"));
                continue;
            }
            let local = matches!(p.source_kind(), SourceKind::Local(_));
            let bad_source = p.source.values().filter_map(toml::Value::as_str).find(|v| {
                v.chars()
                    .any(|c| c.is_control() || (!local && c.is_whitespace()))
            });
            if let Some(v) = bad_source {
                let d = Diagnostic::new(
                    file,
                    format!(
                        "the source of package `{}` has spaces or control characters: `{v}`",
                        p.name
                    ),
                )
                .help("regenerate the lock with `uv lock`");
                out.push(at(d, i, "source"));
                continue;
            }
            // Files of a local directory become paths of mounts in the build: plain names only.
            let bad_path = p
                .artifacts
                .wheels
                .iter()
                .chain(&p.artifacts.sdist)
                .filter_map(|a| a.path.as_deref())
                .find(|f| !is_plain_file_name(f));
            if let Some(f) = bad_path {
                let d = Diagnostic::new(
                    file,
                    format!(
                        "package `{}` names the file `{}` of a local directory, which is not a plain file name",
                        p.name,
                        crate::diag::escape_controls(f)
                    ),
                )
                .help("a find-links directory's files are named by their file name alone (no `/`, `..` or control characters); regenerate the lock with `uv lock`");
                out.push(at(d, i, "wheels"));
                continue;
            }
            let key = (p.name.clone(), p.version.clone(), format!("{:?}", p.source));
            if seen.insert(key, i).is_some() {
                let d = Diagnostic::new(
                    file,
                    format!(
                        "package `{} {}` is in {file} twice",
                        p.name,
                        p.version.as_deref().unwrap_or("")
                    ),
                )
                .help("a lock lists each package once: regenerate it with `uv lock`");
                out.push(at(d, i, "name"));
            }
        }
        out
    }
}

/// The span of the first line of `body` (which starts at `offset` in the file) that sets `key`.
fn key_line(body: &str, offset: usize, key: &str) -> Option<Range<usize>> {
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let text = line.trim_end_matches(['\n', '\r']);
            return Some(offset + pos..offset + pos + text.len());
        }
        pos += line.len();
    }
    None
}

mod scan;
#[cfg(test)]
mod tests;

use scan::{Cursor, section_start, toml_package};
