//! Splitting the locked packages into dependency layers: bounded, and stable as the lock
//! changes, so that adding or bumping one package changes one layer and no other.
//!
//! Every layer costs a cold build one container, one installer start, one byte-compilation and
//! one blob to export and unpack (measured here: a container is about 0.2 s of CPU, where
//! installing a small package is a few tens of ms), so `auto` trades granularity for that cost:
//! - The largest wheels (at least [`LARGE`], up to [`AUTO_LARGE`] of them) keep layers of their
//!   own: they are most of the bytes a bump would ship again. A lock that records no sizes
//!   (poetry.lock) names its files: there the packages with a compiled wheel (a platform tag,
//!   not `none-any`) stand in for the large ones.
//! - Up to [`AUTO_ALONE`] other packages, each is a layer of its own too.
//! - Past that, they go into buckets chosen by a hash of the name, about
//!   [`AUTO_PER_BUCKET`] packages each, 2 to [`AUTO_MAX_BUCKETS`] ([`auto_buckets`]). A package
//!   always lands in the same bucket, whatever else the lock holds, and one bucket more splits
//!   one bucket in two and moves no other package (linear hashing, [`bucket`]).
//!
//! A number (`layers = N`) is a budget instead: up to `N` packages each get a layer; past it the
//! largest wheels keep theirs (up to a quarter of `N`) and the rest share the other three
//! quarters as buckets.
//!
//! So a bump touches one layer, and adding a package touches the bucket it joins and, when it
//! takes one bucket more, the bucket that splits (a package that crosses [`LARGE`], or the
//! count that ends "each alone", regroups more, once).
//!
//! The layers are ordered for what a change costs above it ([`order`]): an image store or a
//! `docker pull` unpacks every layer above a changed one again (chain ids), and that costs by
//! the bytes (measured here: 24 MB of small files above a change took 0.9 s, in one layer or
//! twenty; nothing above it, 0.05 s). So the layers that hold many bytes per package (one large
//! wheel) go first and those that hold few (a bucket of small packages, the likeliest to
//! change) last; the order moves only when a layer's bytes per package cross a power of two,
//! and moving a layer re-installs nothing.

use std::collections::BTreeMap;
use std::fmt::Write;

use sha2::{Digest, Sha256};

use super::{
    Action, Bind, BindSource, CacheMount, DependencyLayer, Run, SecretMount, Stage, Step, StepId,
    VENV,
};
use crate::lock::{self, LockedEnv, LockedPackage};

/// Where a dependency layer's requirements file is mounted in its step.
pub const REQUIREMENTS: &str = "/pycache/requirements.txt";

/// Where a layer reads [`Group::links`].
pub const LINKS: &str = "/pycache/links.html";

/// Where a layer finds the wheels of [`Group::downloads`], one bind mount each.
pub const WHEELS: &str = "/pycache/wheels";

/// Where a dependency layer's step copies its `RECORD` files, as `<python>/site-packages/…`: a
/// result of the step apart from its filesystem ([`Run::output`]), that the check mounts.
/// Copied by the step itself rather than by a file op with an include pattern: BuildKit keys
/// such a copy by walking the whole filesystem it copies from (the base image and the
/// environment), for every layer, which cost more CPU than all the layers' byte-compilation.
pub const RECORDS_OUT: &str = "/pycache/records-out";

/// How many layers the locked packages may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// As many as pay off (see the module's documentation).
    Auto,
    /// At most this many (1: every package in one layer).
    Max(u32),
}

/// The most large wheels `auto` gives a layer of their own.
pub const AUTO_LARGE: usize = 16;
/// Up to this many other packages, `auto` gives each a layer of its own.
pub const AUTO_ALONE: usize = 4;
/// About how many packages `auto` puts in a bucket, past [`AUTO_ALONE`].
pub const AUTO_PER_BUCKET: usize = 6;
/// The most buckets `auto` makes: at most `AUTO_LARGE + AUTO_MAX_BUCKETS` layers in all.
pub const AUTO_MAX_BUCKETS: u32 = 16;

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

    /// The lock's own wheels of the layer, as a flat index page (uv's `--find-links`): each
    /// link is a URL of the lock with its hash. `None` unless the lock names, for every
    /// package of the layer, an index it comes from and a wheel that fits the target.
    pub fn links(&self) -> Option<String> {
        if !self.named_by_the_lock() {
            return None;
        }
        let mut html = String::from("<!DOCTYPE html>\n<html><body>\n");
        for wheel in self.packages.iter().flat_map(|p| &p.wheels) {
            let (algorithm, value) = wheel.hash.split_once(':')?;
            let _ = writeln!(
                html,
                "<a href=\"{}#{algorithm}={value}\">{}</a><br/>",
                escape_html(&wheel.url),
                escape_html(lock::file_name(&wheel.url))
            );
        }
        html.push_str("</body></html>\n");
        Some(html)
    }
}

impl Group<'_> {
    /// Whether the lock names, for every package of the layer, an index it comes from, its
    /// hashes and a wheel that fits the target's platform.
    fn named_by_the_lock(&self) -> bool {
        self.all_hashed()
            && self
                .packages
                .iter()
                .all(|p| p.registry().is_some() && !p.sdist_only && !p.wheels.is_empty())
    }

    /// The lock's wheels of the layer that CPython on glibc Linux could install on `target`
    /// (its exact Python known: [`lock::wheel_fits_cpython_glibc`]), as `(url, sha256 hex)`, for
    /// the daemon to download: each is then an HTTP source checked and keyed by its hash, cached
    /// once for every layer and build, fetched while the builder is still being made, and the
    /// layer installs from these files alone, with no name lookup or connection of its own.
    /// `None` unless every package of the layer has such a wheel with a sha256.
    pub fn downloads(&self, target: &lock::Target) -> Option<Vec<(&str, &str)>> {
        if !self.named_by_the_lock() {
            return None;
        }
        let mut files = Vec::new();
        for p in &self.packages {
            let before = files.len();
            for w in &p.wheels {
                if lock::wheel_fits_cpython_glibc(&w.url, target) {
                    files.push((w.url.as_str(), w.hash.strip_prefix("sha256:")?));
                }
            }
            if files.len() == before {
                return None;
            }
        }
        Some(files)
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
                script: format!(
                    "{}\n(cd {VENV}/lib && for r in */site-packages/*.dist-info/RECORD; do [ -e \"$r\" ] || continue; mkdir -p \"{RECORDS_OUT}/${{r%/RECORD}}\"; cp \"$r\" \"{RECORDS_OUT}/$r\"; done)\n",
                    script.trim_end()
                ),
                env,
                output: Some(RECORDS_OUT.into()),
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

/// `text` as HTML text or a quoted attribute value.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The layers of `env`'s packages, within `budget`.
pub fn group(env: &LockedEnv, budget: Budget) -> Vec<Group<'_>> {
    if env.packages.is_empty() {
        return Vec::new();
    }
    if budget == Budget::Max(0) || budget == Budget::Max(1) {
        return vec![Group {
            key: GroupKey::All,
            packages: env.packages.iter().collect(),
        }];
    }
    let mut by_name: BTreeMap<&str, Vec<&LockedPackage>> = BTreeMap::new();
    for p in &env.packages {
        by_name.entry(&p.name).or_default().push(p);
    }
    let mut large = largest(&by_name);
    let (slots, alone, buckets) = match budget {
        Budget::Auto => {
            let rest = by_name.len() - large.len().min(AUTO_LARGE);
            (AUTO_LARGE, rest <= AUTO_ALONE, auto_buckets(rest))
        }
        Budget::Max(n) => {
            let n = n as usize;
            // A quarter of the budget for large wheels, the rest for buckets: a package or two
            // more than the budget then still shares a layer with about one other.
            (n / 4, by_name.len() <= n, (n - n / 4) as u32)
        }
    };
    // Every package alone: every large one too. Else the largest fill the slots.
    if !alone {
        large.truncate(slots);
    }
    let own = |name: &str, packages| Group {
        key: GroupKey::Package(name.to_owned()),
        packages,
    };
    let mut layers: Vec<Group> = Vec::new();
    let mut small: Vec<Group> = Vec::new();
    let mut bucketed: BTreeMap<u32, Vec<&LockedPackage>> = BTreeMap::new();
    for (name, pkgs) in by_name {
        if large.contains(&name) {
            layers.push(own(name, pkgs));
        } else if alone {
            small.push(own(name, pkgs));
        } else {
            bucketed
                .entry(bucket(name, buckets))
                .or_default()
                .extend(pkgs);
        }
    }
    // Large first, then the others, each by name; then by bytes per package.
    layers.extend(small);
    layers.extend(bucketed.into_iter().map(|(b, packages)| Group {
        key: GroupKey::Bucket(b),
        packages,
    }));
    order(&mut layers);
    layers
}

/// How many buckets `auto` shares `rest` packages out to: about [`AUTO_PER_BUCKET`] a
/// bucket, 2 to [`AUTO_MAX_BUCKETS`].
pub fn auto_buckets(rest: usize) -> u32 {
    let want = rest.div_ceil(AUTO_PER_BUCKET);
    u32::try_from(want)
        .unwrap_or(u32::MAX)
        .clamp(2, AUTO_MAX_BUCKETS)
}

/// Orders `layers` (stably) by the bytes of wheel per package, most first, in powers of two:
/// a change is likeliest in a layer of many packages, and an image store unpacks again every
/// byte above a changed layer, so the layers a change costs least to re-unpack above go last.
/// A lock without sizes (requirements files) keeps the order it has.
fn order(layers: &mut [Group]) {
    let class = |g: &Group| {
        let mut by_name: BTreeMap<&str, u64> = BTreeMap::new();
        for p in &g.packages {
            let size = by_name.entry(&p.name).or_default();
            *size = (*size).max(p.size);
        }
        let names = by_name.len().max(1) as u64;
        (by_name.values().sum::<u64>() / names).max(1).ilog2()
    };
    layers.sort_by_key(|g| std::cmp::Reverse(class(g)));
}

/// The names of the packages with wheels of at least [`LARGE`], largest first; then, where
/// the lock records no size, those whose wheel is compiled for the platform, by name: with no
/// sizes to go by, extension modules are the likeliest to be most of the bytes.
fn largest<'n>(by_name: &BTreeMap<&'n str, Vec<&LockedPackage>>) -> Vec<&'n str> {
    let mut sized: Vec<(&str, u64)> = by_name
        .iter()
        .map(|(n, pkgs)| (*n, pkgs.iter().map(|p| p.size).max().unwrap_or(0)))
        .filter(|(_, s)| *s >= LARGE)
        .collect();
    sized.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let unsized_compiled = by_name
        .iter()
        .filter(|(_, pkgs)| pkgs.iter().all(|p| p.size == 0) && pkgs.iter().any(|p| p.compiled))
        .map(|(n, _)| *n);
    sized
        .into_iter()
        .map(|(n, _)| n)
        .chain(unsized_compiled)
        .collect()
}

/// The bucket of a package name among `buckets`: a hash that never changes between pycache
/// versions or builds, spread by linear hashing. With `2^k <= buckets < 2^(k+1)`, the hash
/// modulo `2^(k+1)`, or modulo `2^k` where that bucket does not exist yet: one bucket more
/// splits exactly one (bucket `buckets - 2^k`) and moves no other package; for a power of two it
/// is the hash modulo `buckets`.
fn bucket(name: &str, buckets: u32) -> u32 {
    let digest = Sha256::digest(name.as_bytes());
    let h = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let buckets = buckets.max(1);
    let low = 1u32 << buckets.ilog2();
    let b = h % low.saturating_mul(2).max(1);
    if b < buckets { b } else { h % low }
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
            compiled: false,
            marker: None,
            sdist_only: false,
            wheels: Vec::new(),
        }
    }

    #[test]
    fn without_sizes_compiled_wheels_keep_layers_of_their_own() {
        // poetry.lock: no sizes, but file names; 3 compiled packages among 20.
        let mut packages: Vec<LockedPackage> =
            (0..20).map(|i| pkg(&format!("p{i:02}"), 0)).collect();
        for i in [3, 11, 17] {
            packages[i].compiled = true;
        }
        let env = LockedEnv {
            packages,
            ..LockedEnv::default()
        };
        let groups = group(&env, Budget::Auto);
        let own: Vec<&GroupKey> = groups.iter().map(|g| &g.key).take(3).collect();
        assert_eq!(
            own,
            ["p03", "p11", "p17"]
                .map(|n| GroupKey::Package(n.into()))
                .iter()
                .collect::<Vec<_>>()
        );
        assert!(
            groups[3..]
                .iter()
                .all(|g| matches!(g.key, GroupKey::Bucket(_)))
        );
        // A lock that records sizes goes by them alone.
        let mut sized = env.clone();
        for p in &mut sized.packages {
            p.size = 1000;
        }
        assert!(
            group(&sized, Budget::Auto)
                .iter()
                .all(|g| matches!(g.key, GroupKey::Bucket(_)))
        );
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
        let g = group(&e, Budget::Max(10));
        let names: Vec<&str> = g.iter().map(|g| g.packages[0].name.as_str()).collect();
        assert_eq!(names, ["numpy", "pandas", "idna", "six"]);
        assert_eq!(group(&e, Budget::Max(1)).len(), 1);
        assert_eq!(group(&LockedEnv::default(), Budget::Auto), []);
    }

    /// The names of `n` packages, one in `every` of them a large wheel.
    fn sized(n: usize, every: usize) -> Vec<(String, u64)> {
        (0..n)
            .map(|i| {
                let size = if i % every == 0 { 5 << 20 } else { 1000 };
                (format!("pkg{i:03}"), size)
            })
            .collect()
    }

    fn env_of(sized: &[(String, u64)]) -> LockedEnv {
        let named: Vec<(&str, u64)> = sized.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        env(&named)
    }

    /// How many layers of `before` and `after` differ (added, removed or changed).
    fn changed(before: &LockedEnv, after: &LockedEnv, budget: Budget) -> usize {
        let (a, b) = (keys(&group(before, budget)), keys(&group(after, budget)));
        b.iter().filter(|k| !a.contains(k)).count() + a.iter().filter(|k| !b.contains(k)).count()
    }

    #[test]
    fn auto_gives_few_small_packages_a_layer_each_and_buckets_many() {
        // A data project: two large wheels and four small packages, each alone.
        let few = env(&[
            ("numpy", 16 << 20),
            ("pandas", 12 << 20),
            ("pyyaml", 700_000),
            ("six", 10),
            ("tzdata", 340_000),
            ("python-dateutil", 200_000),
        ]);
        let g = group(&few, Budget::Auto);
        assert_eq!(g.len(), 6);
        assert!(g.iter().all(|g| g.packages.len() == 1));
        assert_eq!(g[0].packages[0].name, "numpy");
        // A web project: 21 packages, 2 large; the other 19 in 4 buckets.
        let web = env_of(&sized(21, 11));
        let g = group(&web, Budget::Auto);
        assert!(g.len() <= 2 + 4, "{}", g.len());
        assert_eq!(
            g.iter()
                .filter(|g| matches!(g.key, GroupKey::Package(_)))
                .count(),
            2
        );
        // Hundreds of packages: at most 16 large and 16 buckets.
        let many = env_of(&sized(400, 10));
        let g = group(&many, Budget::Auto);
        assert!(
            g.len() <= AUTO_LARGE + AUTO_MAX_BUCKETS as usize,
            "{}",
            g.len()
        );
        assert_eq!(g.iter().map(|g| g.packages.len()).sum::<usize>(), 400);
    }

    #[test]
    fn auto_buckets_hold_about_six_packages() {
        let counts: Vec<u32> = [5, 12, 13, 18, 19, 60, 61, 96, 97, 5000]
            .iter()
            .map(|&n| auto_buckets(n))
            .collect();
        assert_eq!(counts, [2, 2, 3, 3, 4, 10, 11, 16, 16, 16]);
    }

    #[test]
    fn one_bucket_more_splits_one_bucket_and_moves_no_other_package() {
        let names: Vec<String> = (0..400).map(|i| format!("pkg{i:03}")).collect();
        for n in 1..40u32 {
            let moved: Vec<(u32, u32)> = names
                .iter()
                .map(|p| (bucket(p, n), bucket(p, n + 1)))
                .filter(|(a, b)| a != b)
                .collect();
            let split = n - (1 << n.ilog2());
            assert!(
                moved.iter().all(|&(a, b)| a == split && b == n),
                "{n}: {moved:?}"
            );
            assert!(!moved.is_empty(), "{n}");
            assert!(names.iter().all(|p| bucket(p, n) < n));
        }
    }

    #[test]
    fn layers_with_fewer_bytes_a_package_go_last() {
        // One large wheel, a bucket of small packages and one medium package alone: the
        // large wheel first, the medium one, then the bucket (the likeliest to change, and the
        // cheapest to unpack again).
        let mut names: Vec<(String, u64)> = (0..12).map(|i| (format!("s{i:02}"), 20_000)).collect();
        names.push(("big".into(), 30 << 20));
        let e = env_of(&names);
        let g = group(&e, Budget::Max(4));
        let per_package: Vec<u64> = g
            .iter()
            .map(|g| g.packages.iter().map(|p| p.size).sum::<u64>() / g.packages.len() as u64)
            .collect();
        assert_eq!(g[0].packages[0].name, "big");
        assert!(
            per_package.windows(2).all(|w| w[0].ilog2() >= w[1].ilog2()),
            "{per_package:?}"
        );
        // Requirements files carry no sizes: their order stays by name, then bucket.
        let no_sizes: Vec<(String, u64)> = (0..12).map(|i| (format!("r{i:02}"), 0)).collect();
        let keys: Vec<GroupKey> = group(&env_of(&no_sizes), Budget::Auto)
            .into_iter()
            .map(|g| g.key)
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn auto_adding_or_bumping_a_package_changes_one_layer() {
        for n in [5, 12, 21, 27, 60, 300] {
            let names = sized(n, 7);
            let before = env_of(&names);
            let mut more = names.clone();
            more.push(("zz-newcomer".into(), 1000));
            let after = env_of(&more);
            // Adding one: the bucket it joins, and the one that splits when it takes a bucket
            // more; everything only when it ends "each alone".
            let rest = n - n.div_ceil(7).min(AUTO_LARGE);
            let c = changed(&before, &after, Budget::Auto);
            let (b, a) = (group(&before, Budget::Auto), group(&after, Budget::Auto));
            if rest == AUTO_ALONE {
                assert!(a.len() < b.len(), "{n}");
                continue;
            }
            let added = a.len() - b.len();
            if auto_buckets(rest) == auto_buckets(rest + 1) {
                assert!(
                    c == 1 || (c == 2 && added == 0),
                    "{n}: {c} changed, {added} added"
                );
            } else {
                // The split bucket and the one joined (perhaps the same) give way to at most
                // three new layers: the split's two halves and the joined one's new text.
                let (ka, kb) = (keys(&a), keys(&b));
                let new = ka.iter().filter(|k| !kb.contains(k)).count();
                assert!(
                    new <= 3 && added == 1,
                    "{n}: {c} changed, {new} new, {added} added"
                );
            }
            let mut bumped = env_of(&names);
            bumped.packages[n / 2].version = "2.0".into();
            let (g1, g2) = (group(&before, Budget::Auto), group(&bumped, Budget::Auto));
            assert_eq!(g1.len(), g2.len());
            assert_eq!(g1.iter().zip(&g2).filter(|(x, y)| x != y).count(), 1, "{n}");
        }
    }

    #[test]
    fn links_name_the_lock_urls_with_their_hashes_only_when_every_package_has_them() {
        let mut six = pkg("six", 1);
        six.wheels = vec![crate::lock::LockedWheel {
            url: "https://files.example/p/six-1.0-py3-none-any.whl?a=1&b=\"2\"".into(),
            hash: "sha256:abc".into(),
        }];
        let group = |packages| Group {
            key: GroupKey::All,
            packages,
        };
        let html = group(vec![&six]).links().unwrap();
        assert!(
            html.contains("<a href=\"https://files.example/p/six-1.0-py3-none-any.whl?a=1&amp;b=&quot;2&quot;#sha256=abc\">"),
            "{html}"
        );
        // A package the lock names no wheel of (poetry.lock, requirements files) asks the index.
        let attrs = pkg("attrs", 1);
        assert_eq!(group(vec![&six, &attrs]).links(), None);
        let mut built = six.clone();
        built.sdist_only = true;
        assert_eq!(group(vec![&built]).links(), None);
        let mut direct = six.clone();
        direct.source = PackageSource::Direct("https://x.example/six.whl".into());
        assert_eq!(group(vec![&direct]).links(), None);
    }

    #[test]
    fn forks_of_one_name_share_a_layer() {
        let mut e = env(&[("django", 1), ("six", 1)]);
        let mut other = pkg("django", 1);
        other.version = "6.0".into();
        e.packages.insert(1, other);
        let g = group(&e, Budget::Max(10));
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
        let g = group(&before, Budget::Max(40));
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
        let (a, b) = (
            keys(&group(&before, Budget::Max(40))),
            keys(&group(&after, Budget::Max(40))),
        );
        let changed = b.iter().filter(|k| !a.contains(k)).count();
        assert_eq!(changed, 1, "{a:?}\n{b:?}");
        assert_eq!(a.len() + usize::from(a.len() < b.len()), b.len());
        // Bump one: only its layer's text changes (the key stays, its member changes).
        let mut bumped = env(&sized);
        bumped.packages[7].version = "2.0".into();
        let g1 = group(&before, Budget::Max(40));
        let g2 = group(&bumped, Budget::Max(40));
        let differ = g1.iter().zip(&g2).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 1);
    }
}
