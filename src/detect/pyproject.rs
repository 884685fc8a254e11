//! `pyproject.toml`: the parts that decide the image (PEP 621 `[project]`, PEP 735
//! `[dependency-groups]`, `[tool.uv]` workspace and dev dependencies, `[tool.poetry]`,
//! `[build-system]`).

use std::collections::BTreeMap;
use std::str::FromStr;

use pep508_rs::PackageName;
use serde::Deserialize;
use toml::Spanned;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PyProject {
    pub project: Option<ProjectTable>,
    #[serde(default)]
    pub dependency_groups: BTreeMap<String, Vec<toml::Value>>,
    pub build_system: Option<toml::Value>,
    pub tool: Option<ToolTable>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ProjectTable {
    pub name: Option<String>,
    pub version: Option<String>,
    pub requires_python: Option<Spanned<String>>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ToolTable {
    pub uv: Option<UvTool>,
    pub poetry: Option<PoetryTool>,
}

/// `[tool.poetry]`. Dependency specifications are kept as TOML values: Poetry allows a
/// version string, a table or an array of tables, and only the lock reader looks into them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoetryTool {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `package-mode = false`: the project is not a package, only its dependencies install.
    pub package_mode: Option<bool>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, toml::Value>,
    /// Poetry 1.0's dev dependencies: the `dev` group.
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub group: BTreeMap<String, PoetryGroup>,
    /// Extras by name, each listing optional dependencies of `dependencies` (Poetry 1.x).
    #[serde(default)]
    pub extras: BTreeMap<String, Vec<String>>,
    /// Console scripts: `"module:function"`, or a table (`{ reference = "…", type = "file" }`).
    #[serde(default)]
    pub scripts: BTreeMap<String, toml::Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PoetryGroup {
    pub optional: Option<bool>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, toml::Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UvTool {
    pub workspace: Option<Workspace>,
    #[serde(default)]
    pub dev_dependencies: Vec<String>,
    pub package: Option<bool>,
    #[serde(default)]
    pub sources: BTreeMap<String, toml::Value>,
    /// `default-groups`: a list, or `"all"`.
    pub default_groups: Option<toml::Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Workspace {
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl PyProject {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn name(&self) -> Option<&str> {
        self.project.as_ref()?.name.as_deref()
    }

    /// Whether uv builds and installs this project, rather than treating it as a virtual one.
    pub fn is_packaged(&self) -> bool {
        let explicit = self.tool.as_ref().and_then(|t| t.uv.as_ref()?.package);
        explicit.unwrap_or(self.build_system.is_some())
    }

    /// The groups `uv sync` installs unless told otherwise (`tool.uv.default-groups`, else
    /// `dev`).
    pub fn default_groups(&self) -> Vec<String> {
        let value = self
            .tool
            .as_ref()
            .and_then(|t| t.uv.as_ref()?.default_groups.as_ref());
        match value {
            None => vec!["dev".to_owned()],
            Some(toml::Value::String(s)) if s == "all" => self.group_names(),
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => vec!["dev".to_owned()],
        }
    }

    pub fn poetry(&self) -> Option<&PoetryTool> {
        self.tool.as_ref()?.poetry.as_ref()
    }

    pub fn workspace(&self) -> Option<&Workspace> {
        self.tool.as_ref()?.uv.as_ref()?.workspace.as_ref()
    }

    /// Names of dependency groups: PEP 735 groups plus uv's legacy `dev-dependencies` as `dev`.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.dependency_groups.keys().cloned().collect();
        let legacy_dev = self
            .tool
            .as_ref()
            .and_then(|t| t.uv.as_ref())
            .is_some_and(|uv| !uv.dev_dependencies.is_empty());
        if legacy_dev && !names.iter().any(|n| n == "dev") {
            names.push("dev".into());
        }
        names.sort();
        names
    }

    pub fn extra_names(&self) -> Vec<String> {
        self.project
            .as_ref()
            .map(|p| p.optional_dependencies.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Requirement strings of a group (include-group entries are skipped).
    pub fn group(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .dependency_groups
            .get(name)
            .map(|reqs| {
                reqs.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if name == "dev"
            && let Some(uv) = self.tool.as_ref().and_then(|t| t.uv.as_ref())
        {
            out.extend(uv.dev_dependencies.iter().cloned());
        }
        out
    }
}

/// PEP 503 normalised name (lower case, runs of `-_.` become `-`), as `pep508_rs`'s
/// `PackageName` has it; the same rule normalises extras (PEP 685) and dependency groups
/// (PEP 735). A string that is no valid name (`-x`, `a b`) is only trimmed and lower-cased,
/// so it still matches itself, and nothing else, when compared.
pub fn normalize_name(name: &str) -> String {
    let name = name.trim();
    PackageName::from_str(name).map_or_else(|_| name.to_lowercase(), |n| n.to_string())
}

/// The name of a PEP 508 requirement string (`"Flask[async]>=2; python_version<'3.12'"` → `flask`).
pub fn requirement_name(req: &str) -> String {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    normalize_name(&req[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise() {
        assert_eq!(normalize_name("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(
            normalize_name(" Foo__Bar--baz.. qux"),
            "foo__bar--baz.. qux"
        );
        assert_eq!(normalize_name("A-._B"), "a-b");
        assert_eq!(normalize_name("-x"), "-x");
        assert_eq!(
            requirement_name("Flask[async] >= 2.0; python_version < '3.12'"),
            "flask"
        );
        assert_eq!(requirement_name("requests"), "requests");
    }
}
