//! PEP 751 `pylock.toml` (and `pylock.<name>.toml`) → [`LockedEnv`], as the specification's
//! installation steps say: every package whose `marker` holds is installed, with the marker
//! variables `extras` and `dependency_groups` set to the recipe's extras and to the lock's
//! `default-groups` plus the recipe's groups. The lock records no graph to walk
//! (`dependencies` is informational only).
//!
//! `pep508_rs` does not know those two variables (`'dev' in dependency_groups`): their clauses
//! are decided here against the selection first, and the rest of the marker is decided for the
//! target by [`super::markers`].
//!
//! What is installed from where: wheels and an sdist from an index (`index`, or PyPI when the
//! files are PyPI's), or, without one, the single file that fits the target by its URL; an
//! `archive` by its URL; a git `vcs` at its `commit-id`; a `directory` inside the build context
//! as a local package built from the source. Anything else (a local file or checkout, another
//! VCS, a package without a way to install it on the target) is a [`Problem`] naming the package.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep508_rs::pep440_rs::VersionSpecifiers;
use pep508_rs::{ExtraName, MarkerTree};
use serde::Deserialize;

use super::markers::{self, Target};
use super::{
    LocalPackage, LockedEnv, LockedPackage, LockedWheel, PYPI, PackageSource, ParseError, Problem,
    estimated_size, file_name, has_compiled_wheel, wheel_fits,
};
use crate::detect::pyproject::normalize_name;

/// The lock format major version this reader knows.
pub const READ_MAJOR: u64 = 1;

/// Where PyPI serves its files from: packages with no `index` whose files are all here come
/// from PyPI (what `pip lock` writes).
const PYPI_FILES: &str = "https://files.pythonhosted.org/";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Pylock {
    pub lock_version: String,
    pub requires_python: Option<String>,
    /// The extras this lock supports; `None` in a single-use lock.
    pub extras: Option<Vec<String>>,
    /// The dependency groups it supports; `None` in a single-use lock.
    pub dependency_groups: Option<Vec<String>>,
    /// The groups `dependency_groups` holds when none are asked for.
    #[serde(default)]
    pub default_groups: Vec<String>,
    pub created_by: Option<String>,
    #[serde(default)]
    pub packages: Vec<Package>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
    pub marker: Option<String>,
    pub requires_python: Option<String>,
    pub index: Option<String>,
    pub vcs: Option<Vcs>,
    pub directory: Option<Directory>,
    pub archive: Option<Archive>,
    pub sdist: Option<Distribution>,
    #[serde(default)]
    pub wheels: Vec<Distribution>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Vcs {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Option<String>,
    pub path: Option<String>,
    pub commit_id: Option<String>,
    pub subdirectory: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Directory {
    pub path: String,
    pub subdirectory: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Archive {
    pub url: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}

/// A wheel or an sdist.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Distribution {
    pub name: Option<String>,
    pub url: Option<String>,
    pub path: Option<String>,
    pub size: Option<u64>,
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}

impl Distribution {
    /// Its file name: `name`, else the end of its URL or path.
    fn file(&self) -> &str {
        self.name
            .as_deref()
            .or(self.url.as_deref().map(file_name))
            .or(self.path.as_deref().map(file_name))
            .unwrap_or("")
    }
}

impl Pylock {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Ok(toml::from_str(text)?)
    }

    /// The major version of `lock-version`.
    pub fn major(&self) -> Option<u64> {
        self.lock_version.split('.').next()?.trim().parse().ok()
    }

    /// Packages installed from an index, a URL or a VCS: all but directories.
    pub fn third_party(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.directory.is_none())
    }

    /// The extras and groups a selection may name (none in a single-use lock).
    pub fn extra_names(&self) -> Vec<String> {
        self.extras.clone().unwrap_or_default()
    }

    pub fn group_names(&self) -> Vec<String> {
        self.dependency_groups.clone().unwrap_or_default()
    }
}

/// What to install: the `extras` and, with the lock's `default-groups`, the
/// `dependency_groups` its markers are evaluated with.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub extras: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

/// The extra names standing for decided `extras`/`dependency_groups` clauses in a marker
/// handed to `pep508_rs` (see [`decide_lock_variables`]).
const HOLDS: &str = "pycache-lock-holds";
const FAILS: &str = "pycache-lock-fails";

/// The environment `lock` installs for `sel` on `target`.
pub fn select(lock: &Pylock, sel: &Selection, target: &Target) -> Result<LockedEnv, Vec<Problem>> {
    let extras: BTreeSet<String> = sel.extras.iter().map(|e| normalize_name(e)).collect();
    let groups: BTreeSet<String> = lock
        .default_groups
        .iter()
        .chain(&sel.groups)
        .map(|g| normalize_name(g))
        .collect();
    let holds: BTreeSet<ExtraName> = ExtraName::from_str(HOLDS).into_iter().collect();
    let mut problems = Vec::new();
    if let (Some(python), Some(requires)) = (&target.python, &lock.requires_python)
        && let Ok(spec) = VersionSpecifiers::from_str(requires)
        && !spec.contains(python)
    {
        problems.push(Problem {
            package: None,
            message: format!("the lock requires Python {requires}, the base image has {python}"),
        });
    }
    let mut env = LockedEnv::default();
    // Names installed whatever the Python version: a second entry of one is ambiguous.
    let mut certain: BTreeSet<String> = BTreeSet::new();
    for pkg in &lock.packages {
        let name = normalize_name(&pkg.name);
        let problem = |message: String| Problem {
            package: Some(name.clone()),
            message,
        };
        let marker = match &pkg.marker {
            None => MarkerTree::TRUE,
            Some(text) => {
                let decided = decide_lock_variables(text, &extras, &groups);
                match markers::parse(&decided) {
                    Some(m) => markers::without_extras(&m, &holds),
                    None => {
                        problems.push(problem(format!("its marker `{text}` cannot be read")));
                        continue;
                    }
                }
            }
        };
        let marker = match target.decide(&marker, &[]) {
            Some(false) => {
                env.excluded.push(name);
                continue;
            }
            Some(true) => None,
            None => markers::to_text(&marker),
        };
        if marker.is_none() && !certain.insert(name.clone()) {
            problems.push(problem(
                "several entries of it apply to this target: the lock is ambiguous".into(),
            ));
            continue;
        }
        if let (Some(python), Some(requires)) = (&target.python, &pkg.requires_python)
            && let Ok(spec) = VersionSpecifiers::from_str(requires)
            && !spec.contains(python)
        {
            problems.push(problem(format!(
                "it requires Python {requires}, the base image has {python}"
            )));
            continue;
        }
        match installed(pkg, &name, marker, target) {
            Ok(Installed::ThirdParty(p)) => env.packages.push(p),
            Ok(Installed::Local(l)) => env.locals.push(l),
            Err(message) => problems.push(problem(message)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(env.sorted())
}

/// `marker` with each `'<name>' in extras`, `'<name>' in dependency_groups` (and `not in`)
/// clause replaced by `extra == '…'` of [`HOLDS`] or [`FAILS`], as it holds for the selection.
fn decide_lock_variables(
    marker: &str,
    extras: &BTreeSet<String>,
    groups: &BTreeSet<String>,
) -> String {
    let mut out = String::new();
    let mut rest = marker;
    while let Some(start) = rest.find(['\'', '"']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let Some(len) = rest[start + 1..].find(quote) else {
            break;
        };
        let value = &rest[start + 1..start + 1 + len];
        let after = &rest[start + len + 2..];
        let clause = lock_variable_clause(after);
        match clause {
            Some((negated, variable, consumed)) => {
                let set = if variable == "extras" { extras } else { groups };
                let holds = set.contains(&normalize_name(value)) != negated;
                out.push_str(&rest[..start]);
                out.push_str(&format!("extra == '{}'", if holds { HOLDS } else { FAILS }));
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&rest[..start + len + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// After a quoted string: ` in extras` / ` not in dependency_groups` → (negated, variable,
/// bytes consumed).
fn lock_variable_clause(after: &str) -> Option<(bool, &'static str, usize)> {
    let trimmed = after.trim_start();
    let mut consumed = after.len() - trimmed.len();
    let (negated, rest) = match trimmed.strip_prefix("not") {
        Some(r) if r.starts_with(char::is_whitespace) => (true, r.trim_start()),
        _ => (false, trimmed),
    };
    consumed += trimmed.len() - rest.len();
    let rest2 = rest.strip_prefix("in")?;
    if !rest2.starts_with(char::is_whitespace) {
        return None;
    }
    let word_start = rest2.trim_start();
    consumed += 2 + (rest2.len() - word_start.len());
    for variable in ["extras", "dependency_groups"] {
        if let Some(end) = word_start.strip_prefix(variable)
            && !end.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            return Some((negated, variable, consumed + variable.len()));
        }
    }
    None
}

enum Installed {
    ThirdParty(LockedPackage),
    Local(LocalPackage),
}

/// How the environment installs `pkg`, or why it cannot.
fn installed(
    pkg: &Package,
    name: &str,
    marker: Option<String>,
    target: &Target,
) -> Result<Installed, String> {
    let sdist_only =
        pkg.sdist.is_some() && !pkg.wheels.iter().any(|w| wheel_fits(w.file(), target));
    let third_party = |source, hashes, size, wheels| {
        Installed::ThirdParty(LockedPackage {
            name: name.to_owned(),
            version: pkg.version.clone().unwrap_or_default(),
            source,
            hashes,
            size,
            compiled: has_compiled_wheel(pkg.wheels.iter().map(Distribution::file), target),
            marker: marker.clone(),
            sdist_only,
            wheels,
        })
    };
    if let Some(vcs) = &pkg.vcs {
        if vcs.kind != "git" {
            return Err(format!(
                "it comes from a `{}` repository; pycache installs git ones only",
                vcs.kind
            ));
        }
        let Some(url) = &vcs.url else {
            return Err("it comes from a local git checkout (`vcs.path`), not in the build".into());
        };
        let commit = vcs
            .commit_id
            .as_ref()
            .ok_or("its vcs table has no commit-id")?;
        let direct = super::git::direct_url(url, commit, vcs.subdirectory.as_deref());
        return Ok(third_party(
            PackageSource::Direct(direct),
            Vec::new(),
            0,
            Vec::new(),
        ));
    }
    if let Some(dir) = &pkg.directory {
        let mut path = dir
            .path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if let Some(sub) = &dir.subdirectory {
            path = format!("{path}/{sub}");
        }
        let path = path.trim_start_matches("./").trim_start_matches('/');
        if dir.path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(format!(
                "its directory `{}` is outside the build context",
                dir.path
            ));
        }
        return Ok(Installed::Local(LocalPackage {
            name: name.to_owned(),
            path: match path {
                "" | "." => ".".into(),
                p => p.into(),
            },
        }));
    }
    if let Some(archive) = &pkg.archive {
        let Some(url) = &archive.url else {
            return Err(
                "it installs a local archive (`archive.path`), which pycache does not".into(),
            );
        };
        return Ok(third_party(
            PackageSource::Direct(url.clone()),
            hashes(&archive.hashes),
            0,
            Vec::new(),
        ));
    }
    let fitting: Vec<&Distribution> = pkg
        .wheels
        .iter()
        .filter(|w| wheel_fits(w.file(), target))
        .collect();
    let files: Vec<&Distribution> = fitting.iter().copied().chain(&pkg.sdist).collect();
    if files.is_empty() {
        return Err(if pkg.wheels.is_empty() {
            "it has no vcs, directory, archive, sdist or wheels to install from".into()
        } else {
            format!(
                "none of its wheels is for linux/{}, and it has no sdist",
                target.platform_machine()
            )
        });
    }
    if let Some(local) = files.iter().find(|f| f.url.is_none()) {
        return Err(format!(
            "it installs `{}` from a local path, which pycache does not",
            local.file()
        ));
    }
    let mut all_hashes: Vec<String> = files.iter().flat_map(|f| hashes(&f.hashes)).collect();
    all_hashes.sort();
    all_hashes.dedup();
    let size = estimated_size(
        pkg.wheels.iter().filter_map(|w| Some((w.file(), w.size?))),
        pkg.sdist.as_ref().and_then(|s| s.size),
        target,
    );
    let on_pypi = files
        .iter()
        .all(|f| f.url.as_deref().is_some_and(|u| u.starts_with(PYPI_FILES)));
    let index = pkg.index.clone().or(on_pypi.then(|| PYPI.to_owned()));
    match (index, pkg.version.is_some()) {
        (Some(index), true) => Ok(third_party(
            PackageSource::Registry(index.trim_end_matches('/').to_owned()),
            all_hashes,
            size,
            fitting
                .iter()
                .filter_map(|w| {
                    Some(LockedWheel {
                        url: w.url.clone()?,
                        hash: preferred_hash(&w.hashes)?,
                    })
                })
                .collect(),
        )),
        // Without an index (or a version to ask it for), the one file to install is named by
        // its URL.
        _ => match files.as_slice() {
            [one] => Ok(third_party(
                PackageSource::Direct(one.url.clone().unwrap_or_default()),
                hashes(&one.hashes),
                size,
                Vec::new(),
            )),
            _ => Err(
                "it has no index and several files fit the target: the file to install cannot be told from its URL alone"
                    .into(),
            ),
        },
    }
}

/// A file's sha256 as `sha256:value`, else its first hash.
fn preferred_hash(table: &BTreeMap<String, String>) -> Option<String> {
    let all = hashes(table);
    all.iter()
        .find(|h| h.starts_with("sha256:"))
        .or(all.first())
        .cloned()
}

/// A file's `hashes` table as `algorithm:value`.
fn hashes(table: &BTreeMap<String, String>) -> Vec<String> {
    table
        .iter()
        .map(|(alg, value)| format!("{}:{value}", alg.to_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, names, target};

    fn fixture(path: &str) -> Pylock {
        Pylock::parse(&testing::fixture(path)).unwrap()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lock_variables_are_decided_for_the_selection() {
        let extras = set(&["fast"]);
        let groups = set(&["default"]);
        for (marker, decided) in [
            ("\"fast\" in extras", "extra == 'pycache-lock-holds'"),
            (
                "'dev' in dependency_groups and sys_platform == 'linux'",
                "extra == 'pycache-lock-fails' and sys_platform == 'linux'",
            ),
            (
                "'dev' not  in dependency_groups or 'Fast' in extras",
                "extra == 'pycache-lock-holds' or extra == 'pycache-lock-holds'",
            ),
            (
                "python_version < '3.12' and 'in' in extras_x",
                "python_version < '3.12' and 'in' in extras_x",
            ),
        ] {
            assert_eq!(
                decide_lock_variables(marker, &extras, &groups),
                decided,
                "{marker}"
            );
        }
    }

    #[test]
    fn a_multi_use_lock_installs_by_group_and_extra() {
        // Written by `pdm export -f pylock` (PDM 2.29): markers on `extras` and
        // `dependency_groups`.
        let lock = fixture("tests/fixtures/locks/pylock-pdm/pylock.toml");
        assert_eq!(lock.major(), Some(1));
        let t = target("linux/amd64", Some("3.11.2"));
        let default = select(&lock, &Selection::default(), &t).unwrap();
        assert_eq!(names(&default), ["idna==3.20", "six==1.17.0"]);
        let dev = Selection {
            extras: set(&["fast"]),
            groups: set(&["dev"]),
        };
        let all = select(&lock, &dev, &t).unwrap();
        let all = names(&all);
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(all.iter().any(|n| n.starts_with("certifi==")));
        assert!(all.contains(&"iniconfig==2.3.1".to_owned()));
        for p in &default.packages {
            assert_eq!(p.registry(), Some(PYPI));
            assert_eq!(p.hashes.len(), 2, "{}", p.name);
            assert_eq!(p.marker, None);
        }
    }

    #[test]
    fn single_use_locks_from_uv_and_pip() {
        let t = target("linux/arm64", None);
        let uv = fixture("testdata/pylock-app/pylock.toml");
        let env = select(&uv, &Selection::default(), &t).unwrap();
        assert_eq!(names(&env), ["idna==3.20", "six==1.17.0"]);
        assert_eq!(
            env.locals,
            [LocalPackage {
                name: "hello-lock".into(),
                path: ".".into()
            }]
        );
        assert!(env.packages.iter().all(|p| p.size > 0));
        // pip lock writes no index: the files are PyPI's.
        let pip = fixture("tests/fixtures/locks/pylock-pip/pylock.toml");
        let env = select(&pip, &Selection::default(), &t).unwrap();
        assert_eq!(names(&env), ["idna==3.20", "six==1.17.0"]);
        assert!(env.packages.iter().all(|p| p.registry() == Some(PYPI)));
        assert_eq!(env.locals.len(), 1);
    }

    #[test]
    fn unsupported_entries_are_errors_naming_the_package() {
        let text = r#"
lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "hg-pkg"
version = "1.0"
vcs = { type = "hg", url = "https://hg.example/x", commit-id = "abc" }

[[packages]]
name = "local-wheel"
version = "1.0"
wheels = [{ path = "dist/local_wheel-1.0-py3-none-any.whl", hashes = { sha256 = "aa" } }]

[[packages]]
name = "win-only"
version = "1.0"
wheels = [{ url = "https://x.example/win_only-1.0-cp311-cp311-win_amd64.whl", hashes = { sha256 = "bb" } }]

[[packages]]
name = "skipped"
version = "1.0"
marker = "sys_platform == 'win32'"
vcs = { type = "svn", url = "svn://x" }

[[packages]]
name = "git-pkg"
version = "2.0"
vcs = { type = "git", url = "https://github.com/a/b", commit-id = "0123", subdirectory = "pkg" }

[[packages]]
name = "private"
version = "3.0"
wheels = [{ url = "https://files.example/private-3.0-py3-none-any.whl", size = 10, hashes = { sha256 = "cc" } }]
"#;
        let lock = Pylock::parse(text).unwrap();
        let errors: Vec<String> =
            select(&lock, &Selection::default(), &target("linux/amd64", None))
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            errors,
            [
                "package `hg-pkg`: it comes from a `hg` repository; pycache installs git ones only",
                "package `local-wheel`: it installs `local_wheel-1.0-py3-none-any.whl` from a local path, which pycache does not",
                "package `win-only`: none of its wheels is for linux/x86_64, and it has no sdist",
            ]
        );
        let ok = Pylock {
            packages: lock.packages[3..].to_vec(),
            ..lock
        };
        let env = select(&ok, &Selection::default(), &target("linux/amd64", None)).unwrap();
        assert_eq!(env.excluded, ["skipped"]);
        assert_eq!(
            env.packages[0].source,
            PackageSource::Direct("git+https://github.com/a/b@0123#subdirectory=pkg".into())
        );
        assert_eq!(
            env.packages[1].source,
            PackageSource::Direct("https://files.example/private-3.0-py3-none-any.whl".into())
        );
        assert_eq!(env.packages[1].hashes, ["sha256:cc"]);
    }

    #[test]
    fn ssh_vcs_urls_keep_their_server_and_commit() {
        let text = r#"
lock-version = "1.0"
created-by = "pdm"

[[packages]]
name = "private"
version = "0.3.0"
vcs = { type = "git", url = "ssh://git@gitlab.example:2222/org/private.git", requested-revision = "main", commit-id = "9f1c2d3" }

[[packages]]
name = "scp"
version = "1.0"
vcs = { type = "git", url = "git@github.com:org/scp.git", commit-id = "abc" }
"#;
        let lock = Pylock::parse(text).unwrap();
        let env = select(&lock, &Selection::default(), &target("linux/amd64", None)).unwrap();
        let urls: Vec<String> = env
            .packages
            .iter()
            .map(LockedPackage::requirement_line)
            .collect();
        assert_eq!(
            urls,
            [
                "private @ git+ssh://git@gitlab.example:2222/org/private.git@9f1c2d3",
                "scp @ git+ssh://git@github.com/org/scp.git@abc",
            ]
        );
        let remotes: Vec<String> = env
            .packages
            .iter()
            .filter_map(|p| p.ssh_remote().map(|r| r.known_hosts_name()))
            .collect();
        assert_eq!(remotes, ["[gitlab.example]:2222", "github.com"]);
    }

    #[test]
    fn python_requirements_are_checked_when_the_version_is_known() {
        let text = "lock-version = \"1.0\"\nrequires-python = \">=3.12\"\ncreated-by = \"x\"\n";
        let lock = Pylock::parse(text).unwrap();
        let err = select(
            &lock,
            &Selection::default(),
            &target("linux/amd64", Some("3.11.2")),
        )
        .unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "the lock requires Python >=3.12, the base image has 3.11.2"
        );
        assert!(select(&lock, &Selection::default(), &target("linux/amd64", None)).is_ok());
    }
}
