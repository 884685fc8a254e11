//! One model of a locked environment: what a lock says to install for one target, whatever
//! lock it came from. Each lock format is one reader module that turns its file and the
//! recipe's selection (groups, extras) into a [`LockedEnv`] for a [`Target`]; the plan, the
//! dependency layers and `explain` read only this model.
//!
//! - [`uv`]: `uv.lock`, walked from the project like `uv export` does;
//! - [`poetry`]: `poetry.lock` (Poetry 1.x and 2.x), by its groups and markers or, in locks
//!   before 2.1, walked from `pyproject.toml`'s dependencies like Poetry's installer does;
//! - [`pylock`]: PEP 751 `pylock.toml`, each package by its marker;
//! - [`requirements`]: fully pinned, hashed `requirements*.txt`.

pub mod git;
pub mod markers;
pub mod poetry;
pub mod pylock;
pub mod requirements;
pub mod uv;

use std::fmt::{self, Write};
use std::ops::Range;

pub use markers::Target;

/// The Python Package Index, where packages come from unless the lock says otherwise.
pub const PYPI: &str = "https://pypi.org/simple";

/// Where a third-party package comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PackageSource {
    /// A package index (its simple API URL, e.g. `https://pypi.org/simple`).
    Registry(String),
    /// A direct reference, as a PEP 508 URL: `git+https://…@<commit>`, `https://…/x.whl`.
    Direct(String),
    /// A local directory of distributions: uv's `find-links = ["./wheels"]`, or an index with
    /// `format = "flat"` and a path. `path` is as the lock writes it (relative to the project
    /// root, e.g. `wheels`); `files` are the distributions of the package in it that the target
    /// may install (its wheels for the platform, and the sdist), as file names.
    Directory { path: String, files: Vec<String> },
}

/// A third-party package the environment installs, pinned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    /// PEP 503-normalised.
    pub name: String,
    pub version: String,
    pub source: PackageSource,
    /// `sha256:…` of every artifact the lock allows that the target could install (its
    /// platform's wheels and the sdist), sorted: wheels for other systems never key a layer.
    pub hashes: Vec<String>,
    /// Bytes of the wheel the target would install (an estimate from the lock); 0 if unknown.
    pub size: u64,
    /// A wheel the target could install is built for its platform (an extension module, not
    /// `none-any`): where the lock records no sizes (poetry.lock), these are the packages that
    /// hold most of an environment's bytes.
    pub compiled: bool,
    /// The PEP 508 marker under which it is installed; `None` when always.
    pub marker: Option<String>,
    /// The lock lists no wheel that fits the target but an sdist: it is built from source,
    /// which may need compilers and headers (`pycache init` names the apt packages).
    pub sdist_only: bool,
    /// The wheels of a package from an index that fit the target, when the lock names them by
    /// URL with a hash (uv.lock and pylock.toml do; poetry.lock and requirements files do
    /// not): its layer installs them from there, as `uv sync` does, without asking the index.
    pub wheels: Vec<LockedWheel>,
}

/// A wheel as the lock names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedWheel {
    pub url: String,
    /// `algorithm:value`, as in [`LockedPackage::hashes`].
    pub hash: String,
}

impl LockedPackage {
    /// The package as a line of a requirements file, in the shape `uv export` writes:
    /// `name==version ; marker --hash=…`, or `name @ url ; marker`.
    pub fn requirement_line(&self) -> String {
        let mut line = match &self.source {
            PackageSource::Registry(_) | PackageSource::Directory { .. } => {
                format!("{}=={}", self.name, self.version)
            }
            PackageSource::Direct(url) => format!("{} @ {url}", self.name),
        };
        if let Some(marker) = &self.marker {
            let _ = write!(line, " ; {marker}");
        }
        for hash in &self.hashes {
            let _ = write!(line, " \\\n    --hash={hash}");
        }
        line
    }

    /// The SSH server its git repository is fetched from, when it is one (`git+ssh://…`).
    pub fn ssh_remote(&self) -> Option<git::SshRemote> {
        match &self.source {
            PackageSource::Direct(url) => git::ssh_remote(url),
            PackageSource::Registry(_) | PackageSource::Directory { .. } => None,
        }
    }

    /// The index to install it from, when it comes from one.
    pub fn registry(&self) -> Option<&str> {
        match &self.source {
            PackageSource::Registry(url) => Some(url),
            PackageSource::Direct(_) | PackageSource::Directory { .. } => None,
        }
    }

    /// The local directory of distributions to install it from, when it comes from one.
    pub fn directory(&self) -> Option<&str> {
        match &self.source {
            PackageSource::Directory { path, .. } => Some(path),
            PackageSource::Registry(_) | PackageSource::Direct(_) => None,
        }
    }
}

/// A package of the project itself (the project, a workspace member, a path dependency):
/// installed from the source, after the dependencies.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalPackage {
    pub name: String,
    /// Relative to the project root, `/`-separated (`.` for the project itself).
    pub path: String,
}

/// What one target installs, from one lock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockedEnv {
    /// Third-party packages, sorted by name then version.
    pub packages: Vec<LockedPackage>,
    /// Local packages to build and install, sorted by path.
    pub locals: Vec<LocalPackage>,
    /// Packages the lock has but the target leaves out (their marker is false there), by name.
    pub excluded: Vec<String>,
}

impl LockedEnv {
    /// In the order every reader returns: packages by name then version, locals by path,
    /// excluded names sorted, without repeats.
    pub fn sorted(mut self) -> Self {
        self.packages
            .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        self.locals.sort();
        self.locals.dedup();
        self.excluded.sort();
        self.excluded.dedup();
        self
    }
}

/// A lock file that is not valid TOML of its format, with the byte range of the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl From<toml::de::Error> for ParseError {
    fn from(e: toml::de::Error) -> Self {
        Self {
            message: e.message().trim_end().to_owned(),
            span: e.span(),
        }
    }
}

/// Something a lock asks to install that pycache cannot install as the lock says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The package, when it is about one.
    pub package: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.package {
            Some(p) => write!(f, "package `{p}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The file name at the end of a URL or path.
pub fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Whether a distribution file (by its URL or name) is a source distribution.
pub fn is_sdist(url: &str) -> bool {
    let name = file_name(url);
    name.ends_with(".tar.gz") || name.ends_with(".zip") || name.ends_with(".tar.bz2")
}

/// The platform tag of a wheel (by its URL or file name), compressed as it is written
/// (`manylinux_2_17_x86_64.manylinux2014_x86_64`); `None` for anything but a wheel.
/// name-version(-build)?-python-abi-platform.whl.
fn wheel_platforms(url: &str) -> Option<&str> {
    file_name(url).strip_suffix(".whl")?.rsplit('-').next()
}

/// Whether a compressed platform tag names any platform, or one of `families` (tag prefixes)
/// on `machine`.
fn platform_fits(platforms: &str, machine: &str, families: &[&str]) -> bool {
    platforms.split('.').any(|tag| {
        tag == "any"
            || families.iter().any(|p| tag.starts_with(p))
                && tag.strip_suffix(machine).is_some_and(|t| t.ends_with('_'))
    })
}

/// Whether a wheel (by its URL or file name) is built for one platform: its platform tag is
/// not `any`, so it carries compiled code.
pub fn wheel_is_compiled(url: &str) -> bool {
    wheel_platforms(url).is_some_and(|platforms| platforms.split('.').all(|tag| tag != "any"))
}

/// Whether any of a package's files (URLs or names) is a compiled wheel that fits `target`
/// ([`LockedPackage::compiled`]).
pub fn has_compiled_wheel<'a>(files: impl IntoIterator<Item = &'a str>, target: &Target) -> bool {
    files
        .into_iter()
        .any(|f| wheel_is_compiled(f) && wheel_fits(f, target))
}

/// Whether a wheel (by its URL or file name) can be installed on `target`'s platform: built
/// for any platform, or for Linux on the target's machine. Python tags are not looked at.
pub fn wheel_fits(url: &str, target: &Target) -> bool {
    wheel_platforms(url).is_some_and(|platforms| {
        platform_fits(
            platforms,
            target.platform_machine(),
            &["manylinux", "musllinux", "linux_"],
        )
    })
}

/// Whether CPython on glibc Linux, the target's machine and Python (its full version must be
/// known), could install a wheel (by URL or file name), by all three of its tags: a superset of
/// what uv would pick there, so a layer given only these wheels installs what it would from
/// all of them. Not musllinux wheels, other interpreters (`pp`, `graalpy`), or free-threaded and
/// debug builds (`cp313t`, `cp311d`): where the base image needs one of those, the layer's
/// install from these wheels fails and it asks the index instead.
pub fn wheel_fits_cpython_glibc(url: &str, target: &Target) -> bool {
    let Some(minor) = target.python.as_ref().and_then(|v| match v.release() {
        [3, minor, ..] => Some(*minor),
        _ => None,
    }) else {
        return false;
    };
    let Some(stem) = file_name(url).strip_suffix(".whl") else {
        return false;
    };
    let mut tags = stem.rsplit('-');
    let (Some(platforms), Some(abis), Some(pythons)) = (tags.next(), tags.next(), tags.next())
    else {
        return false;
    };
    let platform_fits = platform_fits(
        platforms,
        target.platform_machine(),
        &["manylinux", "linux_"],
    );
    // `py3`, `py311`, `cp311`: the minor version a tag names (`py3`: any), if Python 3's.
    let minor_of = |tag: &str, prefix: &str| -> Option<Option<u64>> {
        let digits = tag.strip_prefix(prefix)?.strip_prefix('3')?;
        if digits.is_empty() {
            return Some(None);
        }
        digits.parse().ok().map(Some)
    };
    let exact = format!("cp3{minor}");
    let python_fits = pythons.split('.').any(|py| {
        abis.split('.').any(|abi| match abi {
            "none" => minor_of(py, "py")
                .or_else(|| minor_of(py, "cp"))
                .is_some_and(|m| m.is_none_or(|m| m <= minor)),
            "abi3" => minor_of(py, "cp").is_some_and(|m| m.is_some_and(|m| m <= minor)),
            abi => (abi == exact || abi == format!("{exact}m")) && py == exact,
        })
    });
    platform_fits && python_fits
}

/// The size of the wheel of `artifacts` that `target` would install, estimated from wheel file
/// names: the largest wheel built for the target's architecture (or for any), else the sdist.
pub fn estimated_size<'a>(
    wheels: impl IntoIterator<Item = (&'a str, u64)>,
    sdist: Option<u64>,
    target: &Target,
) -> u64 {
    wheels
        .into_iter()
        .filter(|(url, _)| wheel_fits(url, target))
        .map(|(_, size)| size)
        .max()
        .or(sdist)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    #[test]
    fn compiled_wheels_are_those_of_one_platform() {
        assert!(wheel_is_compiled(
            "sqlalchemy-2.0.41-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        ));
        assert!(wheel_is_compiled(
            "https://x/pyyaml-6.0.3-cp311-cp311-musllinux_1_2_aarch64.whl"
        ));
        assert!(!wheel_is_compiled("tenacity-9.0.0-py3-none-any.whl"));
        assert!(!wheel_is_compiled("six-1.17.0-py2.py3-none-any.whl"));
        assert!(!wheel_is_compiled("tenacity-9.0.0.tar.gz"));
    }

    #[test]
    fn requirement_lines_look_like_uv_export() {
        let mut p = LockedPackage {
            name: "typing-extensions".into(),
            version: "4.12.2".into(),
            source: PackageSource::Registry("https://pypi.org/simple".into()),
            hashes: vec!["sha256:aa".into(), "sha256:bb".into()],
            sdist_only: false,
            size: 1,
            compiled: false,
            marker: Some("python_full_version < '3.13'".into()),
            wheels: Vec::new(),
        };
        assert_eq!(
            p.requirement_line(),
            "typing-extensions==4.12.2 ; python_full_version < '3.13' \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb"
        );
        p.source = PackageSource::Direct("git+https://github.com/a/b@0123".into());
        p.hashes.clear();
        p.marker = None;
        assert_eq!(
            p.requirement_line(),
            "typing-extensions @ git+https://github.com/a/b@0123"
        );
    }

    #[test]
    fn sizes_come_from_the_wheel_for_the_target() {
        let wheels = [
            (
                "https://x/numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                16,
            ),
            (
                "https://x/numpy-2.1.3-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                14,
            ),
            ("https://x/numpy-2.1.3-cp311-cp311-win_amd64.whl", 12),
            (
                "https://x/numpy-2.1.3-cp311-cp311-macosx_14_0_x86_64.whl",
                99,
            ),
        ];
        let amd64 = Target::new(Platform::parse("linux/amd64").unwrap(), None);
        let arm64 = Target::new(Platform::parse("linux/arm64").unwrap(), None);
        assert_eq!(estimated_size(wheels, Some(5), &amd64), 16);
        assert_eq!(estimated_size(wheels, Some(5), &arm64), 14);
        let pure = [("https://x/six-1.17.0-py2.py3-none-any.whl", 11)];
        assert_eq!(estimated_size(pure, Some(34), &arm64), 11);
        assert_eq!(estimated_size([], Some(34), &arm64), 34);
    }

    #[test]
    fn wheels_fit_cpython_on_glibc_by_all_three_tags() {
        let target = |arch: &str, python: &str| {
            Target::new(
                Platform::parse(&format!("linux/{arch}")).unwrap(),
                Some(python.parse().unwrap()),
            )
        };
        let cp311 = target("amd64", "3.11.7");
        for (file, fits) in [
            (
                "x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                true,
            ),
            ("x-1-cp311-cp311-manylinux_2_28_x86_64.whl", true),
            ("x-1-cp311-cp311-linux_x86_64.whl", true),
            ("x-1-cp311-cp311-musllinux_1_2_x86_64.whl", false),
            ("x-1-cp312-cp312-manylinux_2_17_x86_64.whl", false),
            ("x-1-cp310-cp310-manylinux_2_17_x86_64.whl", false),
            ("x-1-cp39-abi3-manylinux_2_17_x86_64.whl", true),
            ("x-1-cp312-abi3-manylinux_2_17_x86_64.whl", false),
            ("x-1-cp313-cp313t-manylinux_2_17_x86_64.whl", false),
            ("x-1-cp311-cp311d-manylinux_2_17_x86_64.whl", false),
            ("x-1-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", false),
            ("x-1-py3-none-any.whl", true),
            ("x-1-py2.py3-none-any.whl", true),
            ("x-1-py2-none-any.whl", false),
            ("x-1-py311-none-any.whl", true),
            ("x-1-py312-none-any.whl", false),
            ("x-1-cp311-none-any.whl", true),
            ("x-1-3-py3-none-any.whl", true),
            ("x-1-cp311-cp311-manylinux_2_17_aarch64.whl", false),
            ("x-1-cp311-cp311-win_amd64.whl", false),
            ("x-1-cp311-cp311-macosx_11_0_x86_64.whl", false),
            ("x-1.tar.gz", false),
            ("x-1-any.whl", false),
        ] {
            assert_eq!(wheel_fits_cpython_glibc(file, &cp311), fits, "{file}");
        }
        let arm = target("arm64", "3.12.1");
        assert!(wheel_fits_cpython_glibc(
            "https://x/y/x-1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
            &arm
        ));
        // Without the exact Python, nothing is picked: the layer reads the lock's URLs.
        let unknown = Target::new(Platform::parse("linux/amd64").unwrap(), None);
        assert!(!wheel_fits_cpython_glibc("x-1-py3-none-any.whl", &unknown));
    }

    #[test]
    fn wheels_fit_by_platform_tag() {
        let amd64 = Target::new(Platform::parse("linux/amd64").unwrap(), None);
        let armv7 = Target::new(Platform::parse("linux/arm/v7").unwrap(), None);
        for (wheel, on_amd64, on_armv7) in [
            ("six-1.17.0-py2.py3-none-any.whl", true, true),
            (
                "x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                true,
                false,
            ),
            ("x-1-cp311-cp311-musllinux_1_2_x86_64.whl", true, false),
            ("x-1-cp311-cp311-manylinux1_i686.whl", false, false),
            ("x-1-cp311-cp311-manylinux_2_31_armv7l.whl", false, true),
            ("x-1-cp311-cp311-linux_x86_64.whl", true, false),
            ("x-1-cp311-cp311-win_amd64.whl", false, false),
            ("x-1-cp311-cp311-macosx_11_0_x86_64.whl", false, false),
            ("x-1-cp311-cp311-manylinux2014_ppc64le.whl", false, false),
            ("x-1.tar.gz", false, false),
        ] {
            assert_eq!(wheel_fits(wheel, &amd64), on_amd64, "{wheel}");
            assert_eq!(wheel_fits(wheel, &armv7), on_armv7, "{wheel}");
        }
    }
}
