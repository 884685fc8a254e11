//! PEP 508 markers against the target an image is built for: a Linux platform and, when known,
//! the base image's CPython version. Markers are parsed and combined with `pep508_rs` (the
//! marker algebra uv itself grew from: canonical decision diagrams, so equal markers compare
//! equal and `or`/`and` simplify).
//!
//! The Python version is known in the frontend (the base image's `PYTHON_VERSION`) and not in
//! the CLI; without it a marker is decided only when it has the same value for every CPython
//! release the project allows, and is otherwise left for the installer to evaluate.

use std::collections::BTreeSet;

use pep508_rs::marker::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerExpression};
use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerTree};

use crate::platform::Platform;

/// CPython lines considered when the Python version is unknown.
const PYTHON_MINORS: std::ops::RangeInclusive<u64> = 6..=16;

/// What markers are evaluated against.
#[derive(Clone, Debug)]
pub struct Target {
    pub platform: Platform,
    /// The full CPython version (`3.11.2`), if known.
    pub python: Option<Version>,
    /// Every candidate CPython version: `python` alone, or a spread of releases.
    candidates: Vec<MarkerEnvironment>,
}

impl Target {
    pub fn new(platform: Platform, python: Option<Version>) -> Self {
        Self::allowing(platform, python, None)
    }

    /// Like [`Target::new`]; when the version is unknown, only releases `requires_python`
    /// allows are candidates.
    pub fn allowing(
        platform: Platform,
        python: Option<Version>,
        requires_python: Option<&VersionSpecifiers>,
    ) -> Self {
        let versions: Vec<Version> = match &python {
            Some(v) => vec![v.clone()],
            None => {
                let all = PYTHON_MINORS
                    .flat_map(|minor| [0, 99].map(|patch| Version::new([3, minor, patch])));
                let allowed: Vec<Version> = all
                    .clone()
                    .filter(|v| requires_python.is_none_or(|r| r.contains(v)))
                    .collect();
                if allowed.is_empty() {
                    all.collect()
                } else {
                    allowed
                }
            }
        };
        let candidates = versions
            .iter()
            .filter_map(|v| environment(&platform, v))
            .collect();
        Self {
            platform,
            python,
            candidates,
        }
    }

    /// `platform_machine` on this platform, as Python reports it on Linux.
    pub fn platform_machine(&self) -> &'static str {
        match (
            self.platform.architecture.as_str(),
            self.platform.variant.as_deref(),
        ) {
            ("amd64", _) => "x86_64",
            ("arm64", _) => "aarch64",
            ("arm", Some("v8")) => "armv8l",
            ("arm", Some("v6")) => "armv6l",
            ("arm", Some("v5")) => "armv5tel",
            ("arm", _) => "armv7l",
            ("386", _) => "i686",
            ("ppc64le", _) => "ppc64le",
            ("s390x", _) => "s390x",
            ("riscv64", _) => "riscv64",
            ("mips64le", _) => "mips64",
            // Platform::parse admits no other architecture.
            _ => "x86_64",
        }
    }

    /// `Some(value)` when `marker` has that value for every candidate with `extras` active,
    /// `None` when it depends on what is not known.
    pub fn decide(&self, marker: &MarkerTree, extras: &[ExtraName]) -> Option<bool> {
        if marker.is_true() {
            return Some(true);
        }
        if marker.is_false() {
            return Some(false);
        }
        let mut values = self
            .candidates
            .iter()
            .map(|env| marker.evaluate(env, extras));
        let first = values.next()?;
        values.all(|v| v == first).then_some(first)
    }
}

/// The marker environment of CPython `version` on Linux `platform`.
pub fn environment(platform: &Platform, version: &Version) -> Option<MarkerEnvironment> {
    let release = version.release();
    let short = format!(
        "{}.{}",
        release.first().copied().unwrap_or(3),
        release.get(1).copied().unwrap_or(0)
    );
    let full = version.to_string();
    let target = Target {
        platform: platform.clone(),
        python: None,
        candidates: Vec::new(),
    };
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: &full,
        os_name: "posix",
        platform_machine: target.platform_machine(),
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: &full,
        python_version: &short,
        sys_platform: "linux",
    })
    .ok()
}

/// Parses a marker as a lock writes it; `None` for an unparsable one.
pub fn parse(marker: &str) -> Option<MarkerTree> {
    crate::detect::pep508::marker(marker).ok()
}

/// `marker` with every `extra == '…'` decided: true for the names in `active`, false for the
/// rest. Locks use extras in markers for conflicting extras and groups; an installer reading a
/// requirements file has no extras, so none may be left.
pub fn without_extras(marker: &MarkerTree, active: &BTreeSet<ExtraName>) -> MarkerTree {
    // Cheap: a marker that setting every extra true leaves as it is has none.
    if marker.clone().simplify_extras_with(|_| true) == *marker {
        return marker.clone();
    }
    let mut out = MarkerTree::FALSE;
    'clauses: for clause in marker.to_dnf() {
        let mut conjunction = MarkerTree::TRUE;
        for expr in clause {
            if let MarkerExpression::Extra { operator, name } = &expr {
                let on = name
                    .to_string()
                    .parse::<ExtraName>()
                    .is_ok_and(|n| active.contains(&n));
                let holds = match operator {
                    pep508_rs::marker::ExtraOperator::Equal => on,
                    pep508_rs::marker::ExtraOperator::NotEqual => !on,
                };
                if !holds {
                    continue 'clauses;
                }
            } else {
                conjunction.and(MarkerTree::expression(expr));
            }
        }
        out.or(conjunction);
    }
    out
}

/// The marker as PEP 508 text; `None` when it is always true.
pub fn to_text(marker: &MarkerTree) -> Option<String> {
    marker.try_to_string()
}

/// In a walk of a dependency graph: `or`s `marker` into what reaches `node`; whether that
/// changed anything (so whether the walk must go on from `node`).
pub fn grow<K: Ord>(
    reach: &mut std::collections::BTreeMap<K, MarkerTree>,
    node: K,
    marker: &MarkerTree,
) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(platform: &str, python: Option<&str>) -> Target {
        Target::new(
            Platform::parse(platform).unwrap(),
            python.map(|v| v.parse().unwrap()),
        )
    }

    fn decide(t: &Target, marker: &str) -> Option<bool> {
        t.decide(&parse(marker).unwrap(), &[])
    }

    #[test]
    fn markers_are_decided_for_the_platform_and_python() {
        let amd64 = target("linux/amd64", Some("3.11.2"));
        let arm64 = target("linux/arm64", Some("3.13.0"));
        assert_eq!(decide(&amd64, "sys_platform == 'win32'"), Some(false));
        assert_eq!(decide(&amd64, "sys_platform == 'linux'"), Some(true));
        assert_eq!(decide(&amd64, "platform_machine == 'x86_64'"), Some(true));
        assert_eq!(decide(&arm64, "platform_machine == 'x86_64'"), Some(false));
        assert_eq!(decide(&arm64, "platform_machine == 'aarch64'"), Some(true));
        assert_eq!(decide(&amd64, "python_full_version < '3.13'"), Some(true));
        assert_eq!(decide(&arm64, "python_full_version < '3.13'"), Some(false));
        assert_eq!(
            decide(&amd64, "python_version == '3.11' and os_name == 'posix'"),
            Some(true)
        );
        assert_eq!(decide(&amd64, "implementation_name == 'pypy'"), Some(false));
        for (platform, machine) in [
            ("linux/arm/v7", "armv7l"),
            ("linux/arm/v6", "armv6l"),
            ("linux/arm/v5", "armv5tel"),
            ("linux/386", "i686"),
            ("linux/ppc64le", "ppc64le"),
            ("linux/s390x", "s390x"),
        ] {
            let t = target(platform, Some("3.12.1"));
            assert_eq!(t.platform_machine(), machine);
            assert_eq!(
                decide(&t, &format!("platform_machine == '{machine}'")),
                Some(true)
            );
        }
    }

    #[test]
    fn without_the_python_version_only_what_every_release_agrees_on_is_decided() {
        let unknown = target("linux/amd64", None);
        assert_eq!(decide(&unknown, "sys_platform == 'win32'"), Some(false));
        assert_eq!(
            decide(
                &unknown,
                "python_full_version < '3.13' and sys_platform == 'win32'"
            ),
            Some(false)
        );
        assert_eq!(decide(&unknown, "python_full_version < '3.13'"), None);
        let modern = Target::allowing(
            Platform::parse("linux/amd64").unwrap(),
            None,
            Some(&">=3.11".parse().unwrap()),
        );
        assert_eq!(decide(&modern, "python_full_version >= '3.10'"), Some(true));
        assert_eq!(decide(&modern, "python_full_version < '3.11'"), Some(false));
    }

    #[test]
    fn extras_are_decided_and_removed() {
        let active: BTreeSet<ExtraName> = ["extra-4-proj-cpu".parse().unwrap()].into();
        let m = parse("(sys_platform == 'linux' and extra == 'extra-4-proj-cpu') or extra == 'extra-4-proj-gpu'")
            .unwrap();
        assert_eq!(
            to_text(&without_extras(&m, &active)).as_deref(),
            Some("sys_platform == 'linux'")
        );
        assert!(without_extras(&m, &BTreeSet::new()).is_false());
        let plain = parse("python_full_version < '3.12'").unwrap();
        assert_eq!(without_extras(&plain, &active), plain);
        assert_eq!(to_text(&MarkerTree::TRUE), None);
    }
}
