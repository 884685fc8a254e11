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
use std::fmt::Write;
use std::str::FromStr;

use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerTree, VersionOrUrl};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::markers::{self, Target};
use super::{
    LocalPackage, LockedEnv, LockedPackage, PYPI, PackageSource, ParseError, Problem, is_sdist,
    wheel_fits,
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
    env.packages
        .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    env.locals.sort();
    env.locals.dedup();
    env.excluded.sort();
    env.excluded.dedup();
    Ok(env)
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

/// A dependency of the project, where the walk of an older lock starts.
#[derive(Clone, Debug)]
pub struct Root {
    pub name: String,
    pub extras: Vec<String>,
    pub marker: MarkerTree,
    /// Version constraint alternatives (`||`), each a PEP 440 specifier set; empty for any.
    pub constraint: Vec<VersionSpecifiers>,
}

/// The project's dependencies in the selected groups and extras, from `pyproject.toml`.
pub fn roots(pyproject: &PyProject, sel: &Selection) -> Vec<Root> {
    let poetry = pyproject.poetry();
    let project = pyproject.project.as_ref();
    let mut out = Vec::new();
    if sel.groups.contains(MAIN) {
        // Poetry 2: `[project.dependencies]`, when given, are the dependencies;
        // `[tool.poetry.dependencies]` only add details to them.
        match project.filter(|p| !p.dependencies.is_empty()) {
            Some(p) => out.extend(p.dependencies.iter().filter_map(|r| pep508_root(r))),
            None => {
                for (name, specs) in poetry.iter().flat_map(|p| &p.dependencies) {
                    if name != "python" {
                        out.extend(poetry_roots(name, specs, false));
                    }
                }
            }
        }
        for extra in &sel.extras {
            let pep621 = project
                .iter()
                .flat_map(|p| &p.optional_dependencies)
                .filter(|(e, _)| normalize_name(e) == *extra)
                .flat_map(|(_, reqs)| reqs);
            out.extend(pep621.filter_map(|r| pep508_root(r)));
            // Poetry 1: an extra names optional dependencies of `[tool.poetry.dependencies]`.
            let names: BTreeSet<String> = poetry
                .iter()
                .flat_map(|p| &p.extras)
                .filter(|(e, _)| normalize_name(e) == *extra)
                .flat_map(|(_, names)| names.iter().map(|n| normalize_name(n)))
                .collect();
            for (name, specs) in poetry.iter().flat_map(|p| &p.dependencies) {
                if names.contains(&normalize_name(name)) {
                    out.extend(poetry_roots(name, specs, true));
                }
            }
        }
    }
    for group in sel.groups.iter().filter(|g| *g != MAIN) {
        for (name, g) in poetry.iter().flat_map(|p| &p.group) {
            if normalize_name(name) == *group {
                for (dep, specs) in &g.dependencies {
                    out.extend(poetry_roots(dep, specs, true));
                }
            }
        }
        if group == "dev" {
            for (dep, specs) in poetry.iter().flat_map(|p| &p.dev_dependencies) {
                out.extend(poetry_roots(dep, specs, true));
            }
        }
        let pep735 = pyproject
            .dependency_groups
            .keys()
            .filter(|g| normalize_name(g) == *group)
            .flat_map(|g| pyproject.group(g));
        out.extend(pep735.filter_map(|r| pep508_root(&r)));
    }
    out
}

fn pep508_root(req: &str) -> Option<Root> {
    let req = crate::detect::pep508::requirement(req).ok()?;
    let constraint = match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    Some(Root {
        name: req.name.to_string(),
        extras: req.extras.iter().map(ToString::to_string).collect(),
        marker: req.marker,
        constraint,
    })
}

/// The roots of one `[tool.poetry…dependencies]` entry; optional ones only when `optional`
/// ones are wanted (an extra names them, or a group lists them).
fn poetry_roots(name: &str, value: &toml::Value, optional: bool) -> Vec<Root> {
    let Ok(specs) = value.clone().try_into::<DependencySpecs>() else {
        return Vec::new();
    };
    specs
        .iter()
        .map(DependencySpec::table)
        .filter(|t| optional || !t.optional)
        .map(|t| Root {
            name: normalize_name(name),
            extras: t.extras.clone(),
            marker: spec_marker(&t),
            constraint: t
                .version
                .as_deref()
                .and_then(poetry_constraint)
                .unwrap_or_default(),
        })
        .collect()
}

/// The marker of a dependency table: its `markers`, `python` and `platform`, all of them.
fn spec_marker(t: &DependencyTable) -> MarkerTree {
    let mut marker = MarkerTree::TRUE;
    if let Some(m) = &t.markers {
        marker.and(markers::parse(m).unwrap_or(MarkerTree::TRUE));
    }
    if let Some(python) = &t.python
        && let Some(alternatives) = poetry_constraint(python)
        && !alternatives.is_empty()
    {
        let mut any = MarkerTree::FALSE;
        for specifiers in alternatives {
            let mut all = MarkerTree::TRUE;
            for s in specifiers.iter() {
                let text = format!("python_full_version {} '{}'", s.operator(), s.version());
                all.and(markers::parse(&text).unwrap_or(MarkerTree::TRUE));
            }
            any.or(all);
        }
        marker.and(any);
    }
    if let Some(platform) = &t.platform
        && let Some(m) = markers::parse(&format!("sys_platform == '{platform}'"))
    {
        marker.and(m);
    }
    marker
}

/// A node of the walk: a package, or one of its extras.
type Node = (usize, Option<String>);

/// Formats before 2.1: the packages reached from `roots`, each under the `or` of the markers
/// of the paths reaching it.
fn walk(lock: &PoetryLock, roots: &[Root]) -> Vec<(usize, MarkerTree)> {
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in lock.packages.iter().enumerate() {
        by_name.entry(normalize_name(&p.name)).or_default().push(i);
    }
    let mut reach: BTreeMap<Node, MarkerTree> = BTreeMap::new();
    let mut work: Vec<Node> = Vec::new();
    let mut parsed: BTreeMap<String, MarkerTree> = BTreeMap::new();
    let visit = |reach: &mut BTreeMap<Node, MarkerTree>,
                 work: &mut Vec<Node>,
                 name: &str,
                 extras: &[String],
                 constraint: &[VersionSpecifiers],
                 marker: &MarkerTree| {
        for child in candidates(lock, by_name.get(&normalize_name(name)), constraint) {
            let parts = std::iter::once(None).chain(extras.iter().map(|e| Some(normalize_name(e))));
            for part in parts {
                let node = (child, part);
                if grow(reach, node.clone(), marker) {
                    work.push(node);
                }
            }
        }
    };
    for root in roots {
        visit(
            &mut reach,
            &mut work,
            &root.name,
            &root.extras,
            &root.constraint,
            &root.marker,
        );
    }
    while let Some(node) = work.pop() {
        let here = reach[&node].clone();
        let (index, part) = &node;
        let pkg = &lock.packages[*index];
        // Edges: (name, spec, the requirement's own marker), and the extras active on them.
        let mut edges: Vec<(String, DependencyTable, MarkerTree)> = Vec::new();
        let active: BTreeSet<ExtraName> = match part {
            None => {
                for (name, specs) in &pkg.dependencies {
                    for t in specs.iter().map(DependencySpec::table) {
                        if !t.optional {
                            edges.push((name.clone(), t, MarkerTree::TRUE));
                        }
                    }
                }
                BTreeSet::new()
            }
            Some(extra) => {
                // An extra brings its package along.
                let base = (*index, None);
                if grow(&mut reach, base.clone(), &here) {
                    work.push(base);
                }
                let reqs = pkg
                    .extras
                    .iter()
                    .filter(|(e, _)| normalize_name(e) == *extra)
                    .flat_map(|(_, reqs)| reqs);
                for req in reqs {
                    let Ok(req) = crate::detect::pep508::requirement(req) else {
                        continue;
                    };
                    let name = req.name.to_string();
                    let specs: Vec<DependencyTable> = pkg
                        .dependencies
                        .iter()
                        .filter(|(n, _)| normalize_name(n) == name)
                        .flat_map(|(_, s)| s.iter().map(DependencySpec::table))
                        .collect();
                    let extras: Vec<String> = req.extras.iter().map(ToString::to_string).collect();
                    if specs.is_empty() {
                        let t = DependencyTable {
                            extras: extras.clone(),
                            ..Default::default()
                        };
                        edges.push((name.clone(), t, req.marker.clone()));
                    }
                    for mut t in specs {
                        t.extras.extend(extras.iter().cloned());
                        edges.push((name.clone(), t, req.marker.clone()));
                    }
                }
                ExtraName::from_str(extra).into_iter().collect()
            }
        };
        for (name, t, requirement_marker) in edges {
            let mut marker = here.clone();
            marker.and(requirement_marker);
            if let Some(m) = &t.markers {
                let edge = parsed
                    .entry(m.clone())
                    .or_insert_with(|| markers::parse(m).unwrap_or(MarkerTree::TRUE));
                marker.and(edge.clone());
            }
            let marker = markers::without_extras(&marker, &active);
            let constraint = t
                .version
                .as_deref()
                .and_then(poetry_constraint)
                .unwrap_or_default();
            visit(
                &mut reach,
                &mut work,
                &name,
                &t.extras,
                &constraint,
                &marker,
            );
        }
    }
    reach
        .into_iter()
        .filter_map(|((i, part), m)| part.is_none().then_some((i, m)))
        .collect()
}

/// The packages of a name that a constraint allows: the only one, else those whose version
/// it allows (all of them when it allows none or cannot be read).
fn candidates(
    lock: &PoetryLock,
    of_name: Option<&Vec<usize>>,
    constraint: &[VersionSpecifiers],
) -> Vec<usize> {
    let Some(all) = of_name else {
        return Vec::new();
    };
    if all.len() < 2 || constraint.is_empty() {
        return all.clone();
    }
    let allowed: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| {
            Version::from_str(&lock.packages[i].version)
                .is_ok_and(|v| constraint.iter().any(|c| c.contains(&v)))
        })
        .collect();
    if allowed.is_empty() {
        all.clone()
    } else {
        allowed
    }
}

/// `or`s `marker` into what reaches `node`; whether that changed anything.
fn grow(reach: &mut BTreeMap<Node, MarkerTree>, node: Node, marker: &MarkerTree) -> bool {
    if marker.is_false() {
        return false;
    }
    match reach.get_mut(&node) {
        Some(have) => {
            let mut grown = have.clone();
            grown.or(marker.clone());
            let changed = grown != *have;
            *have = grown;
            changed
        }
        None => {
            reach.insert(node, marker.clone());
            true
        }
    }
}

/// A Poetry version constraint as PEP 440 specifier sets, one per `||` alternative:
/// `^1.2` is `>=1.2,<2.0`, `~1.2` is `>=1.2,<1.3`, a bare version is `==`; `*` is any
/// (no alternatives). `None` when it cannot be read.
pub fn poetry_constraint(text: &str) -> Option<Vec<VersionSpecifiers>> {
    let text = text.trim();
    if text.is_empty() || text == "*" {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for alternative in text.split("||").flat_map(|a| a.split('|')) {
        // Clauses are separated by commas or spaces; an operator may stand apart from its
        // version (`>= 1.2`).
        let mut clauses: Vec<String> = Vec::new();
        let mut pending = String::new();
        for word in alternative.split([',', ' ']).filter(|w| !w.is_empty()) {
            pending.push_str(word);
            if word.chars().all(|c| "<>=!~^".contains(c)) {
                continue;
            }
            clauses.push(std::mem::take(&mut pending));
        }
        let mut pep440: Vec<String> = Vec::new();
        for clause in clauses {
            if clause == "*" {
                continue;
            }
            if let Some(v) = clause.strip_prefix('^') {
                pep440.push(format!(">={v}"));
                pep440.push(format!("<{}", caret_bound(v)?));
            } else if let Some(v) = clause.strip_prefix('~').filter(|v| !v.starts_with('=')) {
                pep440.push(format!(">={v}"));
                pep440.push(format!("<{}", tilde_bound(v)?));
            } else if clause.starts_with(['<', '>', '=', '!', '~']) {
                pep440.push(clause);
            } else {
                pep440.push(format!("=={clause}"));
            }
        }
        if pep440.is_empty() {
            return Some(Vec::new());
        }
        out.push(VersionSpecifiers::from_str(&pep440.join(",")).ok()?);
    }
    Some(out)
}

/// The release numbers of a version (`1.2.3` → `[1, 2, 3]`).
fn release(v: &str) -> Option<Vec<u64>> {
    Some(Version::from_str(v).ok()?.release().to_vec())
}

/// `^v`'s upper bound: the first non-zero release number goes up.
fn caret_bound(v: &str) -> Option<String> {
    let r = release(v)?;
    let first = r.iter().position(|&n| n != 0).unwrap_or(r.len() - 1);
    Some(bump(&r, first))
}

/// `~v`'s upper bound: the minor goes up (the major with a one-number version).
fn tilde_bound(v: &str) -> Option<String> {
    let r = release(v)?;
    Some(bump(&r, if r.len() > 1 { 1 } else { 0 }))
}

/// `release` up to `at`, with `at` incremented: `bump([1, 2, 3], 1)` is `1.3`.
fn bump(release: &[u64], at: usize) -> String {
    let mut parts: Vec<u64> = release[..=at].to_vec();
    parts[at] += 1;
    if parts.len() == 1 {
        parts.push(0);
    }
    let parts: Vec<String> = parts.iter().map(u64::to_string).collect();
    parts.join(".")
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
            let mut direct = format!("git+{}@{commit}", url()?);
            if let Some(sub) = &source.subdirectory {
                let _ = write!(direct, "#subdirectory={sub}");
            }
            PackageSource::Direct(direct)
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
        // poetry.lock records no sizes.
        size: 0,
        marker,
        sdist_only: files.iter().any(|(f, _)| f.is_some_and(is_sdist))
            && !files
                .iter()
                .any(|(f, _)| f.is_some_and(|f| wheel_fits(f, target))),
    }))
}

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

fn write_value(v: &toml::Value, out: &mut String) {
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
fn python_float(f: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    fn target(python: Option<&str>) -> Target {
        Target::new(
            Platform::parse("linux/amd64").unwrap(),
            python.map(|v| v.parse().unwrap()),
        )
    }

    fn names(env: &LockedEnv) -> Vec<String> {
        env.packages
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect()
    }

    fn selection(groups: &[&str], extras: &[&str], root: Option<&str>) -> Selection {
        Selection {
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            extras: extras.iter().map(|e| (*e).to_owned()).collect(),
            root: root.map(str::to_owned),
        }
    }

    #[test]
    fn content_hashes_are_poetry_s() {
        // Written by Poetry 2.5.1 ([project] and [tool.poetry.group]) and 1.8.5 ([tool.poetry]
        // only, legacy keys as null).
        for dir in [
            "testdata/poetry-app",
            "testdata/poetry-no-package",
            "tests/fixtures/locks/poetry-1.8",
            "tests/fixtures/locks/poetry-2",
        ] {
            let lock = PoetryLock::parse(&fixture(&format!("{dir}/poetry.lock"))).unwrap();
            let pyproject = table(&fixture(&format!("{dir}/pyproject.toml")));
            assert_eq!(
                Some(content_hash(&pyproject, true)),
                lock.metadata.content_hash,
                "{dir}"
            );
            assert!(lock.is_fresh(&pyproject), "{dir}");
        }
    }

    #[test]
    fn a_changed_dependency_section_makes_the_lock_stale() {
        let lock = PoetryLock::parse(&fixture("testdata/poetry-app/poetry.lock")).unwrap();
        let text = fixture("testdata/poetry-app/pyproject.toml");
        // The version and the description are not hashed; dependencies are.
        let bumped = text.replace("version = \"0.1.0\"", "version = \"0.2.0\"");
        assert!(lock.is_fresh(&table(&bumped)));
        let added = text.replace("\"six (>=1.16)\"", "\"six (>=1.16)\", \"click\"");
        assert!(!lock.is_fresh(&table(&added)));
        let group = format!("{text}\n[dependency-groups]\nlint = [\"ruff\"]\n");
        assert!(!lock.is_fresh(&table(&group)));
        // A lock of Poetry before 2.3 did not hash [dependency-groups].
        let mut old = lock.clone();
        old.generated_by = Some("2.1.3".into());
        old.metadata.content_hash = Some(content_hash(&table(&group), false));
        assert!(old.is_fresh(&table(&group)));
        old.generated_by = Some("2.3.0".into());
        assert!(!old.is_fresh(&table(&group)));
        old.metadata.content_hash = None;
        assert!(!old.is_fresh(&table(&text)));
    }

    #[test]
    fn json_is_written_as_python_writes_it() {
        let value = |text: &str| {
            let t = table(&format!("v = {text}"));
            let mut out = String::new();
            write_value(&t["v"], &mut out);
            out
        };
        assert_eq!(value("\"a\\\"b\\\\c\\n\""), r#""a\"b\\c\n""#);
        assert_eq!(value("\"é😀\\u0001\""), r#""\u00e9\ud83d\ude00\u0001""#);
        assert_eq!(
            value("{ b = 1, a = [true, 1.5] }"),
            r#"{"a": [true, 1.5], "b": 1}"#
        );
        for (f, repr) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (123456789.0, "123456789.0"),
            (-2.5, "-2.5"),
            (1e15, "1000000000000000.0"),
        ] {
            assert_eq!(python_float(f), repr, "{f}");
        }
    }

    #[test]
    fn poetry_constraints_read_as_pep_440() {
        let spec = |c: &str| -> Vec<String> {
            poetry_constraint(c)
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(spec("^1.2.3"), [">=1.2.3, <2.0"]);
        assert_eq!(spec("^0.2.3"), [">=0.2.3, <0.3"]);
        assert_eq!(spec("^0.0.3"), [">=0.0.3, <0.0.4"]);
        assert_eq!(spec("^3.11"), [">=3.11, <4.0"]);
        assert_eq!(spec("~1.2.3"), [">=1.2.3, <1.3"]);
        assert_eq!(spec("~1"), [">=1, <2.0"]);
        assert_eq!(spec(">= 1.5, <2"), [">=1.5, <2"]);
        assert_eq!(spec(">=1.5 <2"), [">=1.5, <2"]);
        assert_eq!(spec("1.2.3"), ["==1.2.3"]);
        assert_eq!(spec("<3.9 || >=3.11"), ["<3.9", ">=3.11"]);
        assert!(spec("*").is_empty());
        assert_eq!(poetry_constraint("^x"), None);
    }

    #[test]
    fn lock_2_1_installs_the_selected_groups_and_extras() {
        let lock = PoetryLock::parse(&fixture("testdata/poetry-app/poetry.lock")).unwrap();
        let pyproject = PyProject::parse(&fixture("testdata/poetry-app/pyproject.toml")).unwrap();
        assert!(lock.has_groups_and_markers());
        let t = target(Some("3.11.2"));
        let main = select(
            &lock,
            &pyproject,
            &selection(&["main"], &[], Some("greet")),
            &t,
        )
        .unwrap();
        assert_eq!(names(&main), ["idna==3.20", "six==1.17.0"]);
        assert_eq!(main.locals[0].path, ".");
        assert!(main.packages.iter().all(|p| p.marker.is_none()));
        assert!(main.packages.iter().all(|p| p.hashes.len() == 2));
        let all = select(
            &lock,
            &pyproject,
            &selection(&["main", "dev"], &["fast"], None),
            &t,
        )
        .unwrap();
        let all_names = names(&all);
        assert!(all_names.iter().any(|n| n.starts_with("certifi==")));
        assert!(all_names.iter().any(|n| n.starts_with("pytest==")));
        // colorama is a dev dependency on Windows only.
        assert!(!all_names.iter().any(|n| n.starts_with("colorama")));
        assert!(all.excluded.contains(&"colorama".to_owned()));
        assert!(all.locals.is_empty());
    }

    #[test]
    fn older_locks_are_walked_to_the_same_packages_as_2_1_locks() {
        // The same project locked by Poetry 1.8 (format 2.0: a graph) and 2.5 (format 2.1:
        // groups and markers).
        let dir = "tests/fixtures/locks";
        let pyproject =
            PyProject::parse(&fixture(&format!("{dir}/poetry-2/pyproject.toml"))).unwrap();
        let old = PoetryLock::parse(&fixture(&format!("{dir}/poetry-1.8/poetry.lock"))).unwrap();
        let new = PoetryLock::parse(&fixture(&format!("{dir}/poetry-2/poetry.lock"))).unwrap();
        assert_eq!(old.version(), (2, 0));
        assert!(!old.has_groups_and_markers());
        for python in [Some("3.11.4"), Some("3.13.0"), None] {
            let t = target(python);
            for (groups, extras) in [
                (&["main"][..], &[][..]),
                (&["main"], &["http"]),
                (&["main", "dev"], &[]),
                (&["dev"], &[]),
                (&["main", "dev"], &["http"]),
            ] {
                let sel = selection(groups, extras, Some("old-app"));
                let a = select(&old, &pyproject, &sel, &t).unwrap();
                let b = select(&new, &pyproject, &sel, &t).unwrap();
                assert_eq!(names(&a), names(&b), "{groups:?} {extras:?} {python:?}");
                assert!(!names(&a).is_empty() || groups == ["dev"]);
            }
        }
        let sel = selection(&["main"], &["http"], None);
        let env = select(&old, &pyproject, &sel, &target(None)).unwrap();
        assert!(names(&env).iter().any(|n| n.starts_with("certifi==")));
    }

    #[test]
    fn sources_become_urls_and_local_paths() {
        let text = r#"
[[package]]
name = "lib"
version = "1.0"
optional = false
groups = ["main"]
files = []
[package.source]
type = "directory"
url = "libs/lib"

[[package]]
name = "httpx"
version = "0.28.1"
optional = false
groups = ["main"]
files = []
[package.source]
type = "git"
url = "https://github.com/encode/httpx"
reference = "master"
resolved_reference = "4b5a92e"

[[package]]
name = "torch"
version = "2.5.1+cpu"
optional = false
groups = ["main"]
markers = { main = "sys_platform == \"linux\"" }
files = [
    {file = "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl", hash = "sha256:aa"},
    {file = "torch-2.5.1+cpu-cp311-cp311-win_amd64.whl", hash = "sha256:bb"},
]
[package.source]
type = "legacy"
url = "https://download.pytorch.org/whl/cpu"
reference = "torch-cpu"

[[package]]
name = "outside"
version = "1.0"
optional = false
groups = ["dev"]
files = []
[package.source]
type = "directory"
url = "../outside"

[metadata]
lock-version = "2.1"
python-versions = ">=3.11"
content-hash = "x"
"#;
        let lock = PoetryLock::parse(text).unwrap();
        let t = target(Some("3.11.2"));
        let env = select(
            &lock,
            &PyProject::default(),
            &selection(&["main"], &[], None),
            &t,
        )
        .unwrap();
        assert_eq!(
            env.locals,
            [LocalPackage {
                name: "lib".into(),
                path: "libs/lib".into()
            }]
        );
        let httpx = &env.packages[0];
        assert_eq!(
            httpx.source,
            PackageSource::Direct("git+https://github.com/encode/httpx@4b5a92e".into())
        );
        assert!(httpx.hashes.is_empty());
        let torch = &env.packages[1];
        assert_eq!(
            torch.registry(),
            Some("https://download.pytorch.org/whl/cpu")
        );
        assert_eq!(torch.hashes, ["sha256:aa"]);
        assert_eq!(torch.marker, None);
        let err = select(
            &lock,
            &PyProject::default(),
            &selection(&["dev"], &[], None),
            &t,
        )
        .unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "package `outside`: `../outside` is a path dependency outside the build context"
        );
    }
}
