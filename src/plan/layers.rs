//! Splitting the locked packages into dependency layers: bounded, and stable as the lock
//! changes, so that adding or bumping one package changes one layer and no other.
//!
//! - Up to the budget, every package (all locked versions of one name) is a layer of its own.
//! - Past it, the largest wheels (at least [`LARGE`]) keep layers of their own, up to a quarter
//!   of the budget, and the rest go into the other three quarters as buckets chosen by a hash of
//!   the name: a package always lands in the same bucket, whatever else the lock holds.
//!
//! Going over the budget regroups everything once; within either regime one change touches one
//! layer (two when a package crosses [`LARGE`]). Layers are ordered large first, then by name,
//! then buckets: a fixed order keeps the layers below a change identical.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{
    Action, Bind, BindSource, CacheMount, DependencyLayer, Run, SecretMount, Stage, Step, StepId,
};
use crate::lock::{LockedEnv, LockedPackage};

/// Where a dependency layer's requirements file is mounted in its step.
pub const REQUIREMENTS: &str = "/pycache/requirements.txt";

/// The most dependency layers `layers = "auto"` makes.
pub const AUTO_BUDGET: u32 = 40;

/// Wheels at least this big (compressed, as the lock records them) are installed first and,
/// past the budget, keep a layer of their own.
pub const LARGE: u64 = 2 << 20;

/// The packages of one dependency layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group<'e> {
    pub key: GroupKey,
    pub packages: Vec<&'e LockedPackage>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    /// Every package, in one layer.
    All,
    /// One package name (its locked versions).
    Package(String),
    /// A bucket of small packages, by the hash of their names.
    Bucket(u32),
}

impl Group<'_> {
    /// What the layer installs, for its step's title: `numpy 2.1.3`, or `12 packages (attrs…)`.
    pub fn title(&self) -> String {
        match self.packages.as_slice() {
            [one] => format!("{} {}", one.name, one.version),
            many if many.iter().all(|p| p.name == many[0].name) => {
                let versions: Vec<&str> = many.iter().map(|p| p.version.as_str()).collect();
                format!("{} {}", many[0].name, versions.join(" or "))
            }
            many => {
                let mut names: Vec<&str> = many.iter().map(|p| p.name.as_str()).collect();
                names.dedup();
                let shown: Vec<&str> = names.iter().copied().take(3).collect();
                let more = if names.len() > 3 { ", …" } else { "" };
                format!("{} packages ({}{more})", names.len(), shown.join(", "))
            }
        }
    }

    /// The layer's requirements file: one line per package, as `uv export` writes them,
    /// after `options` (global lines such as `--index-url`).
    pub fn requirements(&self, options: &[String]) -> String {
        let mut text = String::new();
        for o in options {
            text.push_str(o);
            text.push('\n');
        }
        for p in &self.packages {
            text.push_str(&p.requirement_line());
            text.push('\n');
        }
        text
    }

    /// Whether every package has a hash (the install can then require them).
    pub fn all_hashed(&self) -> bool {
        self.packages.iter().all(|p| !p.hashes.is_empty())
    }
}

/// Dependency layer `index`: the step installing `group` with `script`, which reads the
/// layer's requirements (`options`, then one line per package) at [`REQUIREMENTS`].
pub(super) fn layer(
    index: usize,
    group: &Group,
    options: &[String],
    script: String,
    env: Vec<(String, String)>,
    cache: CacheMount,
    secrets: Vec<SecretMount>,
) -> DependencyLayer {
    DependencyLayer {
        step: Step::new(
            StepId::Dependencies(index),
            Stage::Builder,
            format!("deps: {}", group.title()),
            vec!["its packages' names, versions and hashes".into()],
            "one layer per package (or bucket): a changed dependency re-installs only its layer",
            Action::Run(Run {
                script,
                env,
                binds: vec![Bind {
                    source: BindSource::Text(group.requirements(options)),
                    target: REQUIREMENTS.into(),
                }],
                caches: vec![cache],
                secrets,
                ..Default::default()
            }),
        ),
        packages: group
            .packages
            .iter()
            .map(|p| (format!("{} {}", p.name, p.version), p.size))
            .collect(),
    }
}

/// The layers of `env`'s packages, at most `budget` (at least 1) of them.
pub fn group(env: &LockedEnv, budget: u32) -> Vec<Group<'_>> {
    if env.packages.is_empty() {
        return Vec::new();
    }
    let budget = budget.max(1) as usize;
    if budget == 1 {
        return vec![Group {
            key: GroupKey::All,
            packages: env.packages.iter().collect(),
        }];
    }
    let mut by_name: BTreeMap<&str, Vec<&LockedPackage>> = BTreeMap::new();
    for p in &env.packages {
        by_name.entry(&p.name).or_default().push(p);
    }
    let size = |pkgs: &[&LockedPackage]| pkgs.iter().map(|p| p.size).max().unwrap_or(0);
    fn own<'e>(name: &str, packages: Vec<&'e LockedPackage>) -> Group<'e> {
        Group {
            key: GroupKey::Package(name.to_owned()),
            packages,
        }
    }
    let mut large: Vec<Group> = Vec::new();
    let mut rest: Vec<Group> = Vec::new();
    if by_name.len() <= budget {
        for (name, pkgs) in by_name {
            let big = size(&pkgs) >= LARGE;
            let g = own(name, pkgs);
            if big { large.push(g) } else { rest.push(g) }
        }
        large.extend(rest);
        return large;
    }
    // A quarter of the budget for large wheels, the rest for buckets: a package or two more
    // than the budget then still shares a layer with about one other.
    let slots = budget / 4;
    let buckets = (budget - slots) as u32;
    let mut by_size: Vec<(&str, u64)> = by_name
        .iter()
        .map(|(n, p)| (*n, size(p)))
        .filter(|(_, s)| *s >= LARGE)
        .collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    by_size.truncate(slots);
    let mut bucketed: BTreeMap<u32, Vec<&LockedPackage>> = BTreeMap::new();
    for (name, pkgs) in by_name {
        if by_size.iter().any(|(n, _)| *n == name) {
            large.push(own(name, pkgs));
        } else {
            bucketed
                .entry(bucket(name, buckets))
                .or_default()
                .extend(pkgs);
        }
    }
    large.extend(bucketed.into_iter().map(|(b, packages)| Group {
        key: GroupKey::Bucket(b),
        packages,
    }));
    large
}

/// The bucket of a package name: a hash that never changes between pycache versions or builds.
fn bucket(name: &str, buckets: u32) -> u32 {
    let digest = Sha256::digest(name.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    n % buckets.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::PackageSource;

    fn pkg(name: &str, size: u64) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1.0".into(),
            source: PackageSource::Registry("https://pypi.org/simple".into()),
            hashes: vec![format!("sha256:{name}")],
            size,
            marker: None,
            sdist_only: false,
        }
    }

    fn env(names: &[(&str, u64)]) -> LockedEnv {
        let mut packages: Vec<LockedPackage> = names.iter().map(|(n, s)| pkg(n, *s)).collect();
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        LockedEnv {
            packages,
            ..Default::default()
        }
    }

    fn keys(groups: &[Group]) -> Vec<String> {
        groups
            .iter()
            .map(|g| {
                let names: Vec<&str> = g.packages.iter().map(|p| p.name.as_str()).collect();
                format!("{:?}={}", g.key, names.join("+"))
            })
            .collect()
    }

    #[test]
    fn under_the_budget_every_package_is_a_layer_large_ones_first() {
        let e = env(&[
            ("six", 10),
            ("numpy", 16 << 20),
            ("idna", 70),
            ("pandas", 12 << 20),
        ]);
        let g = group(&e, 10);
        let names: Vec<&str> = g.iter().map(|g| g.packages[0].name.as_str()).collect();
        assert_eq!(names, ["numpy", "pandas", "idna", "six"]);
        assert_eq!(group(&e, 1).len(), 1);
        assert_eq!(group(&LockedEnv::default(), 10), []);
    }

    #[test]
    fn forks_of_one_name_share_a_layer() {
        let mut e = env(&[("django", 1), ("six", 1)]);
        let mut other = pkg("django", 1);
        other.version = "6.0".into();
        e.packages.insert(1, other);
        let g = group(&e, 10);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].packages.len(), 2);
    }

    #[test]
    fn past_the_budget_one_change_touches_one_layer() {
        let names: Vec<String> = (0..200).map(|i| format!("pkg{i:03}")).collect();
        let sized: Vec<(&str, u64)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), if i % 20 == 0 { 5 << 20 } else { 1000 }))
            .collect();
        let before = env(&sized);
        let g = group(&before, 40);
        assert!(g.len() <= 40, "{}", g.len());
        assert_eq!(
            g.iter()
                .filter(|g| matches!(g.key, GroupKey::Package(_)))
                .count(),
            10
        );
        // Add a package: exactly one layer differs (the bucket it joins).
        let mut more = sized.clone();
        more.push(("newcomer", 1000));
        let after = env(&more);
        let (a, b) = (keys(&group(&before, 40)), keys(&group(&after, 40)));
        let changed = b.iter().filter(|k| !a.contains(k)).count();
        assert_eq!(changed, 1, "{a:?}\n{b:?}");
        assert_eq!(a.len() + usize::from(a.len() < b.len()), b.len());
        // Bump one: only its layer's text changes (the key stays, its member changes).
        let mut bumped = env(&sized);
        bumped.packages[7].version = "2.0".into();
        let g1 = group(&before, 40);
        let g2 = group(&bumped, 40);
        let differ = g1.iter().zip(&g2).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 1);
    }
}
