//! `poetry.lock` → [`LockedEnv`]: what `poetry install` installs for the recipe's groups and
//! extras on the target, without Poetry.
//!
//! - Lock format 2.1 (Poetry 2) records, for each package, the groups that reach it and its
//!   marker in each: a package is installed when one of its groups is selected and that
//!   group's marker holds with the selected extras as `extra`. Poetry's installer decides
//!   exactly this, without resolving.
//! - Earlier formats (Poetry 1.x: 1.1 and 2.0) record the dependency graph only, and Poetry
//!   re-resolves it at install time. Here it is walked from `pyproject.toml`'s dependencies of
//!   the selected groups, like [`super::uv`] walks uv.lock: a package's marker is the `or` over
//!   the paths reaching it of the `and` of the markers along each path.
//!
//! Whether the lock is up to date is Poetry's own test ([`PoetryLock::is_fresh`]): the
//! `content-hash` of `[metadata]` against the sha256 of the relevant `pyproject.toml` sections
//! serialised as Poetry serialises them (Python's `json.dumps(…, sort_keys=True)`).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerTree};
use serde::Deserialize;

use super::markers::{self, Target};
use super::{
    LocalPackage, LockedEnv, LockedPackage, PYPI, PackageSource, ParseError, Problem,
    has_compiled_wheel, is_sdist, wheel_fits,
};
use crate::detect::pyproject::{PyProject, normalize_name};

/// The newest lock format major version this reader knows (Poetry reads `>=1,<3`).
pub const READ_MAJOR: u64 = 2;

/// The group of the project's own dependencies.
pub const MAIN: &str = "main";

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PoetryLock {
    #[serde(default, rename = "package")]
    pub packages: Vec<Package>,
    /// The project's extras, each naming the packages it adds.
    #[serde(default)]
    pub extras: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub metadata: Metadata,
    /// The Poetry version of the file's first line (`# This file is automatically @generated
    /// by Poetry 2.1.3 and should not be changed by hand.`).
    #[serde(skip)]
    pub generated_by: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    pub lock_version: Option<String>,
    pub content_hash: Option<String>,
    /// Format 1.x: each package's files, by package name.
    #[serde(default)]
    pub files: BTreeMap<String, Vec<File>>,
    /// Format 1.0: each package's hashes, without file names.
    #[serde(default)]
    pub hashes: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub optional: bool,
    /// Format 2.1: the groups that reach this package.
    pub groups: Option<Vec<String>>,
    /// Format 2.1: the marker under which it is installed, for every group or by group.
    pub markers: Option<Markers>,
    /// Formats 2.x: its files (wheels and sdist).
    pub files: Option<Vec<File>>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, DependencySpecs>,
    /// Its extras, each a list of requirements (`"colorama (>=0.4.6)"`).
    #[serde(default)]
    pub extras: BTreeMap<String, Vec<String>>,
    pub source: Option<Source>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Markers {
    All(String),
    ByGroup(BTreeMap<String, String>),
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct File {
    pub file: String,
    pub hash: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Source {
    /// `legacy` (an index), `url`, `git`, `directory`, `file`; none for PyPI.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub url: Option<String>,
    pub reference: Option<String>,
    pub resolved_reference: Option<String>,
    pub subdirectory: Option<String>,
}

/// The specifications of one dependency: one, or several with different markers. The same
/// shapes appear in `[tool.poetry.dependencies]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum DependencySpecs {
    One(DependencySpec),
    Many(Vec<DependencySpec>),
}

impl DependencySpecs {
    fn iter(&self) -> impl Iterator<Item = &DependencySpec> {
        match self {
            DependencySpecs::One(one) => std::slice::from_ref(one).iter(),
            DependencySpecs::Many(many) => many.iter(),
        }
    }
}

/// A version constraint in Poetry's syntax (`^1.2`, `>=1,<2`), or a table.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum DependencySpec {
    Version(String),
    Table(DependencyTable),
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DependencyTable {
    pub version: Option<String>,
    /// A PEP 508 marker.
    pub markers: Option<String>,
    /// A Python version constraint, Poetry's syntax (pyproject.toml only).
    pub python: Option<String>,
    /// A `sys_platform` value (pyproject.toml only).
    pub platform: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub extras: Vec<String>,
}

impl DependencySpec {
    fn table(&self) -> DependencyTable {
        match self {
            DependencySpec::Version(v) => DependencyTable {
                version: Some(v.clone()),
                ..Default::default()
            },
            DependencySpec::Table(t) => t.clone(),
        }
    }
}

impl PoetryLock {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut lock: PoetryLock = toml::from_str(text)?;
        lock.generated_by = text
            .lines()
            .next()
            .and_then(|l| l.split_once("Poetry "))
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(str::to_owned);
        Ok(lock)
    }

    /// `lock-version` as `(major, minor)`; format 1.0 when absent.
    pub fn version(&self) -> (u64, u64) {
        let text = self.metadata.lock_version.as_deref().unwrap_or("1.0");
        let mut parts = text
            .split('.')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0));
        (parts.next().unwrap_or(1), parts.next().unwrap_or(0))
    }

    /// Format 2.1 and later: groups and markers are locked, nothing is resolved at install.
    pub fn has_groups_and_markers(&self) -> bool {
        self.version() >= (2, 1)
    }

    /// Poetry's `Locker.is_fresh`: the lock's `content-hash` is the hash of `pyproject`'s
    /// relevant sections. Locks written before Poetry 2.3 hashed them without
    /// `[dependency-groups]`, so for those either hash is fresh. No `content-hash` is stale.
    pub fn is_fresh(&self, pyproject: &toml::Table) -> bool {
        let Some(hash) = &self.metadata.content_hash else {
            return false;
        };
        if content_hash(pyproject, true) == *hash {
            return true;
        }
        let before_2_3 = self
            .generated_by
            .as_deref()
            .and_then(|v| Version::from_str(v).ok())
            .is_some_and(|v| v < Version::new([2, 3, 0]));
        before_2_3 && content_hash(pyproject, false) == *hash
    }

    /// Third-party packages: everything but path dependencies.
    pub fn third_party(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.local_path().is_none())
    }
}

impl Package {
    fn source_kind(&self) -> Option<&str> {
        self.source.as_ref()?.kind.as_deref()
    }

    /// The path of a `directory` or `file` package, relative to the lock.
    pub fn local_path(&self) -> Option<&str> {
        match self.source_kind() {
            Some("directory" | "file") => self.source.as_ref()?.url.as_deref(),
            _ => None,
        }
    }
}

/// What to install, as `poetry install` options say it.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Normalised group names; [`MAIN`] for the project's own dependencies.
    pub groups: BTreeSet<String>,
    /// The project's extras (`--extras`), normalised.
    pub extras: BTreeSet<String>,
    /// The project, built from the source (`None` with `package-mode = false`).
    pub root: Option<String>,
}

/// The groups of a Poetry project: `[tool.poetry.group.<name>]` (with whether it is
/// `optional`), the old `dev-dependencies` as `dev`, and PEP 735 `[dependency-groups]`
/// (Poetry 2.2+), by normalised name.
pub fn groups(pyproject: &PyProject) -> BTreeMap<String, bool> {
    let mut out: BTreeMap<String, bool> = BTreeMap::new();
    for name in pyproject.dependency_groups.keys() {
        out.insert(normalize_name(name), false);
    }
    if let Some(poetry) = pyproject.poetry() {
        if !poetry.dev_dependencies.is_empty() {
            out.entry("dev".into()).or_insert(false);
        }
        for (name, group) in &poetry.group {
            out.insert(normalize_name(name), group.optional.unwrap_or(false));
        }
    }
    out
}

/// The project's extras: `[project.optional-dependencies]`, `[tool.poetry.extras]`, and the
/// lock's `[extras]`, by normalised name.
pub fn extras(pyproject: &PyProject, lock: &PoetryLock) -> BTreeSet<String> {
    let from_poetry = pyproject.poetry().into_iter().flat_map(|p| p.extras.keys());
    pyproject
        .extra_names()
        .iter()
        .chain(from_poetry)
        .chain(lock.extras.keys())
        .map(|e| normalize_name(e))
        .collect()
}

/// The environment `lock` installs for `sel` on `target`.
pub fn select(
    lock: &PoetryLock,
    pyproject: &PyProject,
    sel: &Selection,
    target: &Target,
) -> Result<LockedEnv, Vec<Problem>> {
    let active: BTreeSet<ExtraName> = sel
        .extras
        .iter()
        .filter_map(|e| ExtraName::from_str(e).ok())
        .collect();
    let reached = if lock.has_groups_and_markers() {
        by_groups(lock, sel, &active)
    } else {
        walk(lock, &roots(pyproject, sel))
    };
    let mut env = LockedEnv::default();
    let mut problems = Vec::new();
    for (index, marker) in reached {
        let pkg = &lock.packages[index];
        let marker = match target.decide(&marker, &[]) {
            Some(false) => {
                env.excluded.push(normalize_name(&pkg.name));
                continue;
            }
            Some(true) => None,
            None => markers::to_text(&marker),
        };
        match installed(lock, pkg, marker, target) {
            Ok(Installed::ThirdParty(p)) => env.packages.push(p),
            Ok(Installed::Local(l)) => env.locals.push(l),
            Err(p) => problems.push(p),
        }
    }
    if let Some(root) = &sel.root {
        env.locals.push(LocalPackage {
            name: normalize_name(root),
            path: ".".into(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(env.sorted())
}

/// Format 2.1: each package of a selected group, under the `or` of its markers in those
/// groups, with the selected extras decided.
fn by_groups(
    lock: &PoetryLock,
    sel: &Selection,
    active: &BTreeSet<ExtraName>,
) -> Vec<(usize, MarkerTree)> {
    let mut parsed: BTreeMap<&str, MarkerTree> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, pkg) in lock.packages.iter().enumerate() {
        let selected: Vec<&String> = pkg
            .groups
            .iter()
            .flatten()
            .filter(|g| sel.groups.contains(&normalize_name(g)))
            .collect();
        if selected.is_empty() {
            continue;
        }
        let mut marker = MarkerTree::FALSE;
        for group in selected {
            let text = match &pkg.markers {
                None => None,
                Some(Markers::All(m)) => Some(m.as_str()),
                Some(Markers::ByGroup(by)) => by
                    .iter()
                    .find(|(g, _)| normalize_name(g) == normalize_name(group))
                    .map(|(_, m)| m.as_str()),
            };
            let group_marker = match text {
                None | Some("*" | "") => MarkerTree::TRUE,
                // An unparsable marker is taken as always true: installing a package too
                // many is harmless, missing one is not.
                Some(m) => parsed
                    .entry(m)
                    .or_insert_with(|| markers::parse(m).unwrap_or(MarkerTree::TRUE))
                    .clone(),
            };
            marker.or(group_marker);
        }
        out.push((i, markers::without_extras(&marker, active)));
    }
    out
}

enum Installed {
    ThirdParty(LockedPackage),
    Local(LocalPackage),
}

/// A package as the environment installs it, or why it cannot be.
fn installed(
    lock: &PoetryLock,
    pkg: &Package,
    marker: Option<String>,
    target: &Target,
) -> Result<Installed, Problem> {
    let name = normalize_name(&pkg.name);
    let problem = |message: String| Problem {
        package: Some(name.clone()),
        message,
    };
    let source = pkg.source.clone().unwrap_or_default();
    let url = || {
        source
            .url
            .clone()
            .ok_or_else(|| problem("its [package.source] has no url".into()))
    };
    let source = match source.kind.as_deref() {
        None => PackageSource::Registry(PYPI.into()),
        Some("legacy") => PackageSource::Registry(url()?),
        Some("url") => PackageSource::Direct(url()?),
        Some("git") => {
            let commit = source
                .resolved_reference
                .clone()
                .or(source.reference.clone())
                .ok_or_else(|| problem("its git source has no commit".into()))?;
            // Poetry keeps the URL as written: `git@github.com:org/x.git` too.
            PackageSource::Direct(super::git::direct_url(
                &url()?,
                &commit,
                source.subdirectory.as_deref(),
            ))
        }
        Some("directory" | "file") => {
            let path = url()?;
            let path = path.trim_start_matches("./").trim_end_matches('/');
            if path.starts_with('/') || path.split('/').any(|p| p == "..") {
                return Err(problem(format!(
                    "`{path}` is a path dependency outside the build context"
                )));
            }
            return Ok(Installed::Local(LocalPackage {
                name,
                path: if path.is_empty() {
                    ".".into()
                } else {
                    path.into()
                },
            }));
        }
        Some(other) => {
            return Err(problem(format!(
                "its source type `{other}` is not one pycache installs (PyPI, legacy, url, git, directory, file)"
            )));
        }
    };
    let files: Vec<(Option<&str>, &str)> = match &pkg.files {
        Some(files) => files
            .iter()
            .map(|f| (Some(f.file.as_str()), f.hash.as_str()))
            .collect(),
        None => match lock.metadata.files.get(&pkg.name) {
            Some(files) => files
                .iter()
                .map(|f| (Some(f.file.as_str()), f.hash.as_str()))
                .collect(),
            None => lock
                .metadata
                .hashes
                .get(&pkg.name)
                .into_iter()
                .flatten()
                .map(|h| (None, h.as_str()))
                .collect(),
        },
    };
    let git = matches!(&source, PackageSource::Direct(u) if u.starts_with("git+"));
    let mut hashes: Vec<String> = files
        .iter()
        .filter(|(file, _)| file.is_none_or(|f| wheel_fits(f, target) || is_sdist(f)))
        .map(|(_, h)| {
            if h.contains(':') {
                (*h).to_owned()
            } else {
                format!("sha256:{h}")
            }
        })
        .collect();
    hashes.sort();
    hashes.dedup();
    Ok(Installed::ThirdParty(LockedPackage {
        name,
        version: pkg.version.clone(),
        source,
        // A git checkout has no artifact hash: the commit pins it.
        hashes: if git { Vec::new() } else { hashes },
        // poetry.lock records no sizes, but names the files.
        size: 0,
        compiled: has_compiled_wheel(files.iter().filter_map(|(f, _)| *f), target),
        marker,
        sdist_only: files.iter().any(|(f, _)| f.is_some_and(is_sdist))
            && !files
                .iter()
                .any(|(f, _)| f.is_some_and(|f| wheel_fits(f, target))),
        // poetry.lock names files, not their URLs: the index is asked.
        wheels: Vec::new(),
    }))
}

mod constraint;
mod content_hash;
#[cfg(test)]
mod tests;
mod walk;

pub use constraint::poetry_constraint;
pub use content_hash::content_hash;
use walk::walk;
pub use walk::{Root, roots};
