//! Formats before 2.1 (Poetry 1.x): the lock's dependency graph walked from `pyproject.toml`'s
//! dependencies of the selected groups, each package under the `or` of its paths' markers.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerTree, VersionOrUrl};

use super::{
    DependencySpec, DependencySpecs, DependencyTable, MAIN, PoetryLock, Selection, markers,
    poetry_constraint,
};
use crate::detect::pyproject::{PyProject, normalize_name};

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
pub(super) fn walk(lock: &PoetryLock, roots: &[Root]) -> Vec<(usize, MarkerTree)> {
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
                if markers::grow(reach, node.clone(), marker) {
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
                if markers::grow(&mut reach, base.clone(), &here) {
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
