//! `uv.lock`: packages, versions, sources, wheels, and the recorded requirements of the
//! workspace's own packages, which tell whether the lock is up to date with `pyproject.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::pyproject::normalize_name;

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
    #[serde(default)]
    pub wheels: Vec<Artifact>,
    pub sdist: Option<Artifact>,
    pub metadata: Option<LockedMetadata>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LockedDependency {
    pub name: String,
    pub marker: Option<String>,
    #[serde(default)]
    pub extra: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Artifact {
    pub url: Option<String>,
    pub hash: Option<String>,
    pub size: Option<u64>,
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

    /// The largest wheel's size, a fair estimate of what installing it costs.
    pub fn wheel_size(&self) -> u64 {
        self.wheels.iter().filter_map(|w| w.size).max().unwrap_or(0)
    }
}

impl UvLock {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
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

/// Requirement strings reduced to comparable `(name, extras, specifier)` triples. Markers are
/// left out: uv rewrites them (`python_version` → `python_full_version`), so comparing them
/// textually would report fresh locks as stale.
pub fn requirement_key(req: &str) -> (String, Vec<String>, String) {
    let req = req.split(';').next().unwrap_or("").trim();
    let name_end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = normalize_name(&req[..name_end]);
    let mut rest = req[name_end..].trim();
    let mut extras = Vec::new();
    if let Some(inner) = rest.strip_prefix('[')
        && let Some(end) = inner.find(']')
    {
        extras = inner[..end]
            .split(',')
            .map(|e| normalize_name(e))
            .filter(|e| !e.is_empty())
            .collect();
        rest = inner[end + 1..].trim();
    }
    extras.sort();
    (name, extras, normalize_specifier(rest))
}

pub fn locked_requirement_key(req: &LockedRequirement) -> (String, Vec<String>, String) {
    let mut extras: Vec<String> = req.extras.iter().map(|e| normalize_name(e)).collect();
    extras.sort();
    (
        normalize_name(&req.name),
        extras,
        normalize_specifier(req.specifier.as_deref().unwrap_or("")),
    )
}

fn normalize_specifier(spec: &str) -> String {
    let spec = spec.trim().trim_start_matches('(').trim_end_matches(')');
    if spec.starts_with('@') {
        return "@".into();
    }
    let mut parts: Vec<String> = spec
        .split(',')
        .map(|p| p.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_keys_ignore_spacing_order_and_markers() {
        assert_eq!(
            requirement_key("Flask[b,a] >= 2.0, <3 ; python_version < '3.12'"),
            (
                "flask".into(),
                vec!["a".into(), "b".into()],
                "<3,>=2.0".into()
            )
        );
        let locked = LockedRequirement {
            name: "flask".into(),
            specifier: Some(">=2.0,<3".into()),
            extras: vec!["b".into(), "a".into()],
        };
        assert_eq!(
            locked_requirement_key(&locked),
            requirement_key("Flask[a,b]>=2.0,<3")
        );
    }
}
