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

/// A uv.lock parse error, with its byte range in the whole file.
#[derive(Clone, Debug)]
pub struct LockError {
    pub message: String,
    pub span: Option<std::ops::Range<usize>>,
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

/// The text after `pattern` up to the next `"`, by plain search.
fn quoted_after<'a>(line: &'a str, pattern: &str) -> Option<&'a str> {
    let start = line.find(pattern)? + pattern.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

fn scan_artifact(line: &str) -> Artifact {
    let size = line.find("size = ").and_then(|i| {
        let digits = &line[i + 7..];
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        digits[..end].parse().ok()
    });
    Artifact {
        url: quoted_after(line, "url = \"").map(str::to_owned),
        hash: quoted_after(line, "hash = \"").map(str::to_owned),
        size,
    }
}

/// One `[[package]]` section being read: everything but its artifacts, as TOML text.
struct Section {
    offset: usize,
    toml: String,
    wheels: Vec<Artifact>,
    sdist: Option<Artifact>,
}

impl Section {
    /// Registry packages, nearly all of a lock, are read by a line scan of what uv writes
    /// (`name`, `version`, `source`, `dependencies`); anything else goes through TOML.
    fn scan_registry(&self) -> Option<LockedPackage> {
        let mut lines = self.toml.lines().skip(1);
        let name = quoted_after(lines.next()?, "name = \"")?.to_owned();
        let version = quoted_after(lines.next()?, "version = \"")?.to_owned();
        let source_line = lines.next()?;
        let registry = quoted_after(source_line, "source = { registry = \"")?;
        let mut pkg = LockedPackage {
            name,
            version: Some(version),
            ..Default::default()
        };
        pkg.source
            .insert("registry".into(), toml::Value::String(registry.to_owned()));
        let mut rest = lines.filter(|l| !l.is_empty());
        while let Some(line) = rest.next() {
            if line == "dependencies = [" {
                for dep in rest.by_ref().take_while(|l| *l != "]") {
                    let name = quoted_after(dep, "{ name = \"")?.to_owned();
                    // Markers and extras need real TOML string handling.
                    if dep.contains("marker = ") || dep.contains("extra = ") {
                        return None;
                    }
                    pkg.dependencies.push(LockedDependency {
                        name,
                        marker: None,
                        extra: Vec::new(),
                    });
                }
            } else {
                return None;
            }
        }
        pkg.wheels = self.wheels.clone();
        pkg.sdist = self.sdist.clone();
        Some(pkg)
    }

    fn finish(self) -> Result<LockedPackage, LockError> {
        if let Some(pkg) = self.scan_registry() {
            return Ok(pkg);
        }
        let mut one: OnePackage =
            toml::from_str(&self.toml).map_err(|e| LockError::at(e, self.offset))?;
        let mut pkg = one.package.pop().ok_or(LockError {
            message: "empty [[package]]".into(),
            span: None,
        })?;
        pkg.wheels.extend(self.wheels);
        if pkg.sdist.is_none() {
            pkg.sdist = self.sdist;
        }
        Ok(pkg)
    }
}

impl UvLock {
    /// Parses uv.lock. The file is mostly artifact lists (a 300-package lock is ~2 MB), which
    /// uv writes one artifact per line: those lines are scanned as text in one pass, and the
    /// rest is parsed as TOML section by section, several times faster than parsing it whole.
    pub fn parse(text: &str) -> Result<Self, LockError> {
        let mut header_end = text.len();
        let mut sections: Vec<Section> = Vec::new();
        let mut in_wheels = false;
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let line_start = pos;
            pos += line.len();
            if line.starts_with("[[package]]") {
                header_end = header_end.min(line_start);
                in_wheels = false;
                sections.push(Section {
                    offset: line_start,
                    toml: String::with_capacity(1024),
                    wheels: Vec::new(),
                    sdist: None,
                });
            }
            let Some(section) = sections.last_mut() else {
                continue;
            };
            if in_wheels {
                if line.trim() == "]" {
                    in_wheels = false;
                } else {
                    section.wheels.push(scan_artifact(line));
                }
                section.toml.push('\n');
            } else if line.starts_with("wheels = [") && !line.trim_end().ends_with(']') {
                in_wheels = true;
                section.toml.push('\n');
            } else if line.starts_with("sdist = {") {
                section.sdist = Some(scan_artifact(line));
                section.toml.push('\n');
            } else {
                // Blank lines stand in for skipped ones, so TOML error lines match the file.
                section.toml.push_str(line);
            }
        }
        let mut lock: UvLock =
            toml::from_str(&text[..header_end]).map_err(|e| LockError::at(e, 0))?;
        lock.packages = sections
            .into_iter()
            .map(Section::finish)
            .collect::<Result<_, _>>()?;
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
            .map(normalize_name)
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
    fn fast_parse_equals_full_toml_parse() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/uv-groups-extras/uv.lock"
        ))
        .unwrap();
        let fast = UvLock::parse(&text).unwrap();
        let full: UvLock = toml::from_str(&text).unwrap();
        assert_eq!(fast.packages.len(), full.packages.len());
        for (a, b) in fast.packages.iter().zip(&full.packages) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        assert!(
            fast.packages
                .iter()
                .any(|p| !p.wheels.is_empty() && p.wheels[0].size.is_some())
        );
    }

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
