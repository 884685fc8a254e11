//! `uv.lock` → [`LockedEnv`]: the packages `uv sync` would install for the recipe's groups and
//! extras on the target, found the way `uv export` finds them. From the project (or, in a
//! virtual workspace, every member), each dependency edge is followed; a package's marker is
//! the `or` over every path that reaches it of the `and` of the markers along the path, so
//! forks (several versions of one package) and platform-only dependencies come out exactly.

use std::collections::{BTreeMap, BTreeSet};

use pep508_rs::{ExtraName, MarkerTree};

use super::markers::{self, Target};
use super::{LocalPackage, LockedEnv, LockedPackage, LockedWheel, PackageSource, estimated_size};
use crate::detect::pyproject::normalize_name;
use crate::detect::uvlock::{LockedDependency, LockedPackage as UvPackage, SourceKind, UvLock};

/// What to install, as `uv sync` flags say it.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `--extra` of the root packages.
    pub extras: Vec<String>,
    /// `--all-extras`.
    pub all_extras: bool,
    /// Dependency groups to install (`--group`, plus the default groups unless disabled).
    pub groups: Vec<String>,
    /// `--all-packages`: every workspace member is a root (virtual workspace roots).
    pub all_packages: bool,
    /// The root project's name; `None` in a virtual workspace.
    pub root: Option<String>,
}

/// A part of a package that can be depended on: the package itself, one of its extras, or
/// (roots only) one of its dependency groups.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Base,
    Extra(String),
    Group(String),
}

type Node = (usize, Part);

/// The environment `lock` installs for `selection` on `target`.
pub fn select(lock: &UvLock, selection: &Selection, target: &Target) -> LockedEnv {
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in lock.packages.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    let find = |name: &str| by_name.get(normalize_name(name).as_str());

    // Roots, each reached under `true`.
    let mut roots: Vec<usize> = Vec::new();
    if let Some(root) = &selection.root {
        roots.extend(find(root).into_iter().flatten());
    }
    if selection.all_packages {
        let members = lock.manifest.iter().flat_map(|m| &m.members);
        roots.extend(members.filter_map(|m| find(m)).flatten());
    }
    roots.sort();
    roots.dedup();
    let mut start: Vec<Node> = Vec::new();
    let mut active_extras: BTreeSet<ExtraName> = BTreeSet::new();
    for &r in &roots {
        let pkg = &lock.packages[r];
        start.push((r, Part::Base));
        let extras: Vec<String> = if selection.all_extras {
            pkg.optional_dependencies.keys().cloned().collect()
        } else {
            selection.extras.iter().map(|e| normalize_name(e)).collect()
        };
        for extra in extras {
            active_extras.extend(conflict_item("extra", &pkg.name, &extra));
            start.push((r, Part::Extra(extra)));
        }
        for group in &selection.groups {
            let group = normalize_name(group);
            active_extras.extend(conflict_item("group", &pkg.name, &group));
            start.push((r, Part::Group(group)));
        }
    }

    // Markers reaching each node, grown to a fixed point (a node is revisited only when its
    // marker grows, and markers only grow, so this ends).
    let mut reach: BTreeMap<Node, MarkerTree> = BTreeMap::new();
    // Locks repeat the same few markers on many edges: parse each once.
    let mut parsed: BTreeMap<&str, MarkerTree> = BTreeMap::new();
    let mut work: Vec<Node> = Vec::new();
    for node in start {
        if markers::grow(&mut reach, node.clone(), &MarkerTree::TRUE) {
            work.push(node);
        }
    }
    while let Some(node) = work.pop() {
        let here = reach[&node].clone();
        let (index, part) = &node;
        let pkg = &lock.packages[*index];
        let edges: &[LockedDependency] = match part {
            Part::Base => &pkg.dependencies,
            Part::Extra(e) => {
                // An extra brings its package along.
                if markers::grow(&mut reach, (*index, Part::Base), &here) {
                    work.push((*index, Part::Base));
                }
                pkg.optional_dependencies
                    .iter()
                    .find(|(k, _)| normalize_name(k) == *e)
                    .map_or(&[], |(_, v)| v.as_slice())
            }
            Part::Group(g) => pkg
                .dev_dependencies
                .iter()
                .find(|(k, _)| normalize_name(k) == *g)
                .map_or(&[], |(_, v)| v.as_slice()),
        };
        for edge in edges {
            let Some(child) = resolve_edge(lock, find(&edge.name), edge) else {
                continue;
            };
            let mut marker = here.clone();
            if let Some(m) = &edge.marker {
                // An unparsable marker is taken as always true: installing a package too many
                // is harmless, missing one is not.
                let edge_marker = parsed
                    .entry(m.as_str())
                    .or_insert_with(|| markers::parse(m).unwrap_or(MarkerTree::TRUE));
                marker.and(edge_marker.clone());
            }
            let parts = std::iter::once(Part::Base)
                .chain(edge.extra.iter().map(|x| Part::Extra(normalize_name(x))));
            for part in parts {
                let node = (child, part);
                if markers::grow(&mut reach, node.clone(), &marker) {
                    work.push(node);
                }
            }
        }
    }

    let mut env = LockedEnv::default();
    for (i, pkg) in lock.packages.iter().enumerate() {
        let Some(marker) = reach.get(&(i, Part::Base)) else {
            continue;
        };
        let marker = markers::without_extras(marker, &active_extras);
        let marker = match target.decide(&marker, &[]) {
            Some(false) => {
                env.excluded.push(pkg.name.clone());
                continue;
            }
            Some(true) => None,
            None => markers::to_text(&marker),
        };
        match pkg.source_kind() {
            SourceKind::Local(path) => {
                if !is_virtual(pkg) {
                    env.locals.push(LocalPackage {
                        name: pkg.name.clone(),
                        path,
                    });
                }
            }
            _ => env.packages.push(third_party(pkg, marker, target)),
        }
    }
    env.sorted()
}

/// The package an edge points at: the only one of its name, else the one of its version and
/// source.
fn resolve_edge(
    lock: &UvLock,
    candidates: Option<&Vec<usize>>,
    edge: &LockedDependency,
) -> Option<usize> {
    let candidates = candidates?;
    if let [only] = candidates.as_slice() {
        return Some(*only);
    }
    candidates.iter().copied().find(|&i| {
        let p = &lock.packages[i];
        edge.version
            .as_ref()
            .is_none_or(|v| p.version.as_ref() == Some(v))
            && edge.source.as_ref().is_none_or(|s| *s == p.source)
    })
}

/// How uv names an extra or group of `package` in conflict markers
/// (`extra == 'extra-7-project-cpu'`).
fn conflict_item(kind: &str, package: &str, item: &str) -> Option<ExtraName> {
    format!("{kind}-{}-{package}-{item}", package.len())
        .parse()
        .ok()
}

/// A workspace root without a `[project]` (or with `package = false`): never installed.
fn is_virtual(pkg: &UvPackage) -> bool {
    pkg.source.contains_key("virtual")
}

fn third_party(pkg: &UvPackage, marker: Option<String>, target: &Target) -> LockedPackage {
    let artifacts = &pkg.artifacts;
    // A wheel of a local directory has a path (its file name) instead of a URL.
    let fits = |w: &&crate::detect::uvlock::Artifact| {
        w.url
            .as_deref()
            .or(w.path.as_deref())
            .is_none_or(|u| super::wheel_fits(u, target))
    };
    let wheels = artifacts.wheels.iter().filter(fits);
    let mut hashes: Vec<String> = wheels
        .chain(&artifacts.sdist)
        .filter_map(|a| a.hash.clone())
        .collect();
    hashes.sort();
    hashes.dedup();
    let wheels = artifacts
        .wheels
        .iter()
        .filter_map(|w| Some((w.url.as_deref()?, w.size?)));
    let size = estimated_size(
        wheels,
        artifacts.sdist.as_ref().and_then(|s| s.size),
        target,
    );
    let string = |key: &str| pkg.source.get(key).and_then(toml::Value::as_str);
    let from_index = string("git").is_none() && string("url").is_none() && local_dir(pkg).is_none();
    let locked_wheels = if from_index {
        artifacts
            .wheels
            .iter()
            .filter(fits)
            .filter_map(|w| {
                Some(LockedWheel {
                    url: w.url.clone()?,
                    hash: w.hash.clone()?,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let source = if let Some(git) = string("git") {
        PackageSource::Direct(git_url(git))
    } else if let Some(url) = string("url") {
        PackageSource::Direct(url.to_owned())
    } else {
        match (local_dir(pkg), string("registry")) {
            // `find-links = ["./wheels"]` or a flat index with a path: uv writes the directory
            // as a path relative to the project, and each file by its name in it.
            (Some(path), _) => PackageSource::Directory {
                path,
                files: artifacts
                    .wheels
                    .iter()
                    .filter(fits)
                    .chain(&artifacts.sdist)
                    .filter_map(|a| a.path.clone())
                    .collect(),
            },
            (None, registry) => PackageSource::Registry(registry.unwrap_or(super::PYPI).into()),
        }
    };
    LockedPackage {
        name: pkg.name.clone(),
        version: pkg.version.clone().unwrap_or_default(),
        source,
        // A git checkout has no artifact hash; uv pins it by commit.
        hashes: if string("git").is_some() {
            Vec::new()
        } else {
            hashes
        },
        size,
        compiled: super::has_compiled_wheel(
            artifacts
                .wheels
                .iter()
                .filter_map(|w| w.url.as_deref().or(w.path.as_deref())),
            target,
        ),
        marker,
        sdist_only: artifacts.sdist.is_some() && !artifacts.wheels.iter().any(|w| fits(&w)),
        wheels: locked_wheels,
    }
}

/// The local directory (normalised) a locked package comes from: a `registry` source that is
/// a path (`find-links = ["./wheels"]`, a flat index with a path), not a URL.
pub fn local_dir(pkg: &UvPackage) -> Option<String> {
    let dir = pkg.source.get("registry")?.as_str()?;
    (!dir.contains("://")).then(|| normalize_dir(dir))
}

/// A local directory as a lock writes it, without `./` in front or `/` at the end:
/// `./wheels/` and `wheels` are the same directory.
pub fn normalize_dir(dir: &str) -> String {
    let mut d = dir.trim_end_matches('/');
    while let Some(rest) = d.strip_prefix("./") {
        d = rest.trim_start_matches('/');
    }
    if d.is_empty() {
        ".".to_owned()
    } else {
        d.to_owned()
    }
}

/// uv.lock's `https://host/repo?rev=main&subdirectory=x#<commit>` (or `ssh://git@host/repo…`)
/// as the PEP 508 URL `git+https://host/repo@<commit>#subdirectory=x`, as `uv export` writes it.
fn git_url(lock_url: &str) -> String {
    let (rest, commit) = lock_url.split_once('#').unwrap_or((lock_url, ""));
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let subdirectory = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("subdirectory="))
        // uv percent-encodes the `/` of a nested directory.
        .map(|s| s.replace("%2F", "/").replace("%2f", "/"));
    super::git::direct_url(base, commit, subdirectory.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, names, target};

    fn lock(path: &str) -> UvLock {
        UvLock::parse(&fixture(path)).unwrap()
    }

    #[test]
    fn the_project_its_extras_and_groups() {
        let lock = lock("testdata/uv-groups-extras/uv.lock");
        let t = target("linux/amd64", Some("3.11.2"));
        let base = Selection {
            root: Some("webapp".into()),
            ..Default::default()
        };
        let plain = select(&lock, &base, &t);
        assert_eq!(
            plain.locals,
            [LocalPackage {
                name: "webapp".into(),
                path: ".".into()
            }]
        );
        let with_all = select(
            &lock,
            &Selection {
                all_extras: true,
                groups: lock.packages[lock
                    .packages
                    .iter()
                    .position(|p| p.name == "webapp")
                    .unwrap()]
                .dev_dependencies
                .keys()
                .cloned()
                .collect(),
                ..base.clone()
            },
            &t,
        );
        assert!(
            names(&with_all).len() > names(&plain).len(),
            "{:?} {:?}",
            names(&with_all),
            names(&plain)
        );
        for p in &plain.packages {
            assert!(with_all.packages.contains(p));
            assert!(!p.hashes.is_empty(), "{}", p.name);
            assert!(p.size > 0, "{}", p.name);
        }
    }

    #[test]
    fn workspace_members_are_local_and_their_dependencies_third_party() {
        let lock = lock("testdata/uv-workspace/uv.lock");
        let env = select(
            &lock,
            &Selection {
                root: Some("app".into()),
                ..Default::default()
            },
            &target("linux/amd64", None),
        );
        assert_eq!(names(&env), ["idna==3.20", "six==1.17.0"]);
        let paths: Vec<&str> = env.locals.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths, [".", "packages/core"]);
    }

    #[test]
    fn forks_pick_one_version_per_python_and_keep_markers_when_it_is_unknown() {
        let lock = lock("bench/large-lock/uv.lock");
        let sel = Selection {
            root: Some("large-lock".into()),
            ..Default::default()
        };
        let versions = |env: &LockedEnv, name: &str| -> Vec<String> {
            env.packages
                .iter()
                .filter(|p| p.name == name)
                .map(|p| p.version.clone())
                .collect()
        };
        let py311 = select(&lock, &sel, &target("linux/amd64", Some("3.11.9")));
        let py312 = select(&lock, &sel, &target("linux/amd64", Some("3.12.4")));
        assert_eq!(versions(&py311, "django"), ["5.2.19"]);
        assert_eq!(versions(&py312, "django"), ["6.1.3"]);
        assert!(py311.packages.iter().all(|p| p.marker.is_none()));
        assert!(
            py311
                .excluded
                .iter()
                .any(|n| n == "colorama" || n == "pywin32"),
            "{:?}",
            py311.excluded
        );
        let unknown = select(&lock, &sel, &target("linux/amd64", None));
        assert_eq!(versions(&unknown, "django"), ["5.2.19", "6.1.3"]);
        assert!(unknown.packages.iter().any(|p| p.marker.is_some()));
        assert!(unknown.packages.len() >= py311.packages.len());
        assert_eq!(py311.locals, []);
    }

    #[test]
    fn git_urls_are_written_as_uv_export_writes_them() {
        assert_eq!(
            git_url("https://github.com/encode/httpx?rev=master#4b5a92e"),
            "git+https://github.com/encode/httpx@4b5a92e"
        );
        assert_eq!(
            git_url("https://github.com/a/b?subdirectory=pkg&rev=v1#abc"),
            "git+https://github.com/a/b@abc#subdirectory=pkg"
        );
        assert_eq!(
            git_url("ssh://git@github.com/org/private.git?rev=main#0123abc"),
            "git+ssh://git@github.com/org/private.git@0123abc"
        );
        // Locks of uv before 0.5 kept the `git+`.
        assert_eq!(
            git_url("git+ssh://git@host.example:2222/x.git?subdirectory=python%2Fbeta&rev=v1#ab"),
            "git+ssh://git@host.example:2222/x.git@ab#subdirectory=python/beta"
        );
    }
}
