//! PEP 508 environment markers (`python_full_version >= '3.10' and sys_platform == 'linux'`)
//! evaluated for a build target: the platform BuildKit builds for and the Python the image
//! carries, not the machine pycache runs on. For deciding which locked packages a platform
//! installs; nothing in the plan uses it yet.
//!
//! Parsing, evaluation and the `and`/`or` algebra are `pep508_rs`'s (see [`super::pep508`]): the marker implementation
//! uv uses, so a marker means here what it means to the `uv sync` in the build. Its markers are
//! decision diagrams, so equivalent markers compare equal and print alike (normalised, e.g.
//! `python_version >= '3.10'` prints as `python_full_version >= '3.10'`), and
//! [`Marker::to_pep508`] gives that form back.
//!
//! ```
//! use pycache::detect::markers::{Implementation, Marker, TargetEnvironment};
//!
//! use pycache::platform::Platform;
//!
//! let arm64 = Platform::parse("linux/arm64").unwrap();
//! let env = TargetEnvironment::new(&arm64, "3.11.2", Implementation::CPython).unwrap();
//! let marker = Marker::parse("platform_machine == 'aarch64' and python_version >= '3.10'").unwrap();
//! assert!(marker.evaluate(&env, &[]));
//! ```

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;

use crate::platform::Platform;
pub use pep508_rs::ExtraName;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};

/// The Python implementation the image carries. Only CPython has official images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    CPython,
}

impl Implementation {
    /// `implementation_name` (`sys.implementation.name`).
    fn name(self) -> &'static str {
        match self {
            Self::CPython => "cpython",
        }
    }

    /// `platform_python_implementation` (`platform.python_implementation()`).
    fn platform_name(self) -> &'static str {
        match self {
            Self::CPython => "CPython",
        }
    }
}

/// Why no environment could be built for a target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    #[error("markers are evaluated for linux images only, not `{0}`")]
    UnsupportedOs(String),
    #[error("no known `platform.machine()` for the architecture `{0}`")]
    UnknownArchitecture(String),
    #[error("`{0}` is not a Python version like 3.11.2")]
    PythonVersion(String),
}

/// The values markers are tested against in an image for one platform and Python.
#[derive(Clone, Debug)]
pub struct TargetEnvironment {
    env: MarkerEnvironment,
}

impl TargetEnvironment {
    /// The environment of a Linux image for `platform` (`linux/amd64`, `linux/arm64`,
    /// `linux/arm/v7`, …) carrying Python `python_full_version` (`3.11.2`, or `3.13.0rc1`).
    ///
    /// `platform_release` and `platform_version` (the kernel's) are unknown before the build
    /// runs and are empty strings; markers comparing them see no match.
    pub fn new(
        platform: &Platform,
        python_full_version: &str,
        implementation: Implementation,
    ) -> Result<Self, EnvironmentError> {
        if platform.os != "linux" {
            return Err(EnvironmentError::UnsupportedOs(platform.os.clone()));
        }
        let machine = linux_machine(&platform.architecture, platform.variant.as_deref())
            .ok_or_else(|| EnvironmentError::UnknownArchitecture(platform.to_string()))?;
        let bad_version = || EnvironmentError::PythonVersion(python_full_version.to_owned());
        let version = Version::from_str(python_full_version).map_err(|_| bad_version())?;
        let [major, minor, ..] = version.release() else {
            return Err(bad_version());
        };
        if version.epoch() != 0 || version.is_post() || version.is_local() || version.is_dev() {
            return Err(bad_version());
        }
        let python_version = format!("{major}.{minor}");
        let full = version.to_string();
        let env = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: implementation.name(),
            // `implementation_version` is CPython's own version for CPython.
            implementation_version: &full,
            os_name: "posix",
            platform_machine: machine,
            platform_python_implementation: implementation.platform_name(),
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &full,
            python_version: &python_version,
            sys_platform: "linux",
        })
        .map_err(|_| bad_version())?;
        Ok(Self { env })
    }

    /// The `pep508_rs` environment, for APIs that take one.
    pub fn marker_environment(&self) -> &MarkerEnvironment {
        &self.env
    }
}

/// `platform.machine()` on Linux (the kernel's `uname -m`) for an OCI architecture and variant.
fn linux_machine(arch: &str, variant: Option<&str>) -> Option<&'static str> {
    Some(match (arch, variant) {
        ("amd64", _) => "x86_64",
        ("arm64", None | Some("v8")) => "aarch64",
        // An AArch32 userland on a 64-bit kernel.
        ("arm", Some("v8")) => "armv8l",
        // Docker's default `arm` variant is v7.
        ("arm", None | Some("v7")) => "armv7l",
        ("arm", Some("v6")) => "armv6l",
        ("arm", Some("v5")) => "armv5tel",
        // What a 32-bit kernel reports; a 386 container on an x86_64 kernel may see `x86_64`.
        ("386", _) => "i686",
        ("ppc64le", None) => "ppc64le",
        ("s390x", None) => "s390x",
        ("riscv64", None) => "riscv64",
        ("mips64le", None) => "mips64",
        ("loong64", None) => "loongarch64",
        _ => return None,
    })
}

/// A parsed marker expression. Equivalent markers are equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Marker(MarkerTree);

/// A marker that does not parse, with the parser's one-line message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid marker `{marker}`: {message}")]
pub struct MarkerError {
    pub marker: String,
    pub message: String,
}

impl Marker {
    /// The marker that always holds: what a requirement without `;` has.
    pub const TRUE: Self = Self(MarkerTree::TRUE);
    /// The marker that never holds.
    pub const FALSE: Self = Self(MarkerTree::FALSE);

    /// Parses a marker as PEP 508 and uv.lock write them. An empty or blank string is
    /// [`Marker::TRUE`], as a requirement without a marker.
    pub fn parse(marker: &str) -> Result<Self, MarkerError> {
        if marker.trim().is_empty() {
            return Ok(Self::TRUE);
        }
        super::pep508::marker(marker)
            .map(Self)
            .map_err(|message| MarkerError {
                marker: marker.to_owned(),
                message,
            })
    }

    /// Whether the marker holds in `env` with `extras` active: `extra == 'x'` holds when `x`
    /// (normalised, PEP 685) is among them.
    pub fn evaluate(&self, env: &TargetEnvironment, extras: &[ExtraName]) -> bool {
        self.0.evaluate(&env.env, extras)
    }

    /// Holds where both hold.
    #[must_use]
    pub fn and(&self, other: &Marker) -> Marker {
        let mut tree = self.0.clone();
        tree.and(other.0.clone());
        Self(tree)
    }

    /// Holds where either holds.
    #[must_use]
    pub fn or(&self, other: &Marker) -> Marker {
        let mut tree = self.0.clone();
        tree.or(other.0.clone());
        Self(tree)
    }

    /// Holds where this does not.
    #[must_use]
    pub fn negate(&self) -> Marker {
        Self(self.0.negate())
    }

    pub fn is_true(&self) -> bool {
        self.0.is_true()
    }

    pub fn is_false(&self) -> bool {
        self.0.is_false()
    }

    /// The marker as a PEP 508 string, normalised; `None` for [`Marker::TRUE`], which PEP 508
    /// writes as no marker at all. [`Marker::FALSE`] is `python_version < '0'`.
    pub fn to_pep508(&self) -> Option<String> {
        self.0.try_to_string()
    }

    /// The `pep508_rs` tree, for APIs that take one.
    pub fn tree(&self) -> &MarkerTree {
        &self.0
    }
}

/// The PEP 508 form, or `true` for the marker that always holds.
impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_pep508() {
            Some(s) => f.write_str(&s),
            None => f.write_str("true"),
        }
    }
}

impl fmt::Debug for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Marker({self})")
    }
}

impl FromStr for Marker {
    type Err = MarkerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Extra names from strings, normalised; an invalid name is an error.
pub fn extras<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ExtraName>, pep508_rs::InvalidNameError> {
    names.into_iter().map(ExtraName::from_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(platform: &str, python: &str) -> TargetEnvironment {
        let platform = Platform::parse(platform).unwrap();
        TargetEnvironment::new(&platform, python, Implementation::CPython).unwrap()
    }

    fn holds(marker: &str, env: &TargetEnvironment, extras: &[&str]) -> bool {
        let extras = super::extras(extras.iter().copied()).unwrap();
        Marker::parse(marker)
            .unwrap_or_else(|e| panic!("{e}"))
            .evaluate(env, &extras)
    }

    #[test]
    fn each_platform_has_its_machine() {
        for (platform, machine) in [
            ("linux/amd64", "x86_64"),
            ("linux/arm64", "aarch64"),
            ("linux/arm64/v8", "aarch64"),
            ("linux/arm/v7", "armv7l"),
            ("linux/arm", "armv7l"),
            ("linux/arm/v6", "armv6l"),
            ("linux/arm/v5", "armv5tel"),
            ("linux/arm/v8", "armv8l"),
            ("linux/amd64/v3", "x86_64"),
            ("linux/x86_64", "x86_64"),
            ("linux/aarch64", "aarch64"),
            ("linux/armhf", "armv7l"),
            ("linux/386", "i686"),
            ("linux/ppc64le", "ppc64le"),
            ("linux/s390x", "s390x"),
            ("linux/riscv64", "riscv64"),
        ] {
            let e = env(platform, "3.11.2");
            assert_eq!(e.marker_environment().platform_machine(), machine);
            let m = format!("platform_machine == '{machine}'");
            assert!(holds(&m, &e, &[]), "{platform}");
            assert!(!holds("platform_machine == 'AMD64'", &e, &[]), "{platform}");
            for common in [
                "os_name == 'posix'",
                "sys_platform == 'linux'",
                "platform_system == 'Linux'",
                "platform_python_implementation == 'CPython'",
                "implementation_name == 'cpython'",
                "python_version == '3.11'",
                "python_full_version == '3.11.2'",
                "implementation_version == '3.11.2'",
                "platform_release == ''",
                "platform_version == ''",
            ] {
                assert!(holds(common, &e, &[]), "{platform}: {common}");
            }
        }
    }

    #[test]
    fn markers_as_uv_lock_writes_them() {
        let amd64 = env("linux/amd64", "3.11.2");
        let arm64 = env("linux/arm64", "3.13.1");
        for (marker, on_amd64_311, on_arm64_313) in [
            (
                "python_full_version >= '3.10' and sys_platform == 'linux'",
                true,
                true,
            ),
            ("python_full_version < '3.12'", true, false),
            ("python_version < '3.12'", true, false),
            ("python_full_version >= '3.11.3'", false, true),
            ("platform_machine == 'x86_64'", true, false),
            (
                "platform_machine == 'aarch64' or platform_machine == 'arm64'",
                false,
                true,
            ),
            ("sys_platform == 'win32'", false, false),
            ("sys_platform == 'darwin' or os_name == 'nt'", false, false),
            (
                "sys_platform != 'win32' and implementation_name == 'cpython'",
                true,
                true,
            ),
            ("platform_python_implementation == 'PyPy'", false, false),
            ("'linux' in sys_platform", true, true),
            (
                "(platform_machine == 'x86_64' and python_full_version < '3.12') or (platform_machine == 'aarch64' and python_full_version >= '3.13')",
                true,
                true,
            ),
            ("", true, true),
        ] {
            assert_eq!(holds(marker, &amd64, &[]), on_amd64_311, "{marker}");
            assert_eq!(holds(marker, &arm64, &[]), on_arm64_313, "{marker}");
        }
    }

    #[test]
    fn extras_are_active_only_when_given() {
        let e = env("linux/amd64", "3.12.7");
        assert!(!holds("extra == 'cli'", &e, &[]));
        assert!(holds("extra == 'cli'", &e, &["cli"]));
        assert!(holds("extra == 'cli'", &e, &["CLI"]));
        assert!(holds("extra == 'my_extra'", &e, &["my-extra"]));
        assert!(!holds("extra == 'cli'", &e, &["web"]));
        let m = "extra == 'cli' and sys_platform == 'linux' or extra == 'web'";
        assert!(holds(m, &e, &["cli"]));
        assert!(holds(m, &e, &["web"]));
        assert!(!holds(m, &e, &[]));
        assert!(super::extras(["not an extra"]).is_err());
    }

    #[test]
    fn and_or_and_printing_back() {
        let linux = Marker::parse("sys_platform == 'linux'").unwrap();
        let old = Marker::parse("python_version < '3.11'").unwrap();
        let both = linux.and(&old);
        assert_eq!(
            both.to_pep508().as_deref(),
            Some("python_full_version < '3.11' and sys_platform == 'linux'")
        );
        assert!(!both.evaluate(&env("linux/amd64", "3.11.2"), &[]));
        assert!(both.evaluate(&env("linux/amd64", "3.10.14"), &[]));
        let either = linux.or(&old);
        assert!(either.evaluate(&env("linux/amd64", "3.12.0"), &[]));
        // Printed markers parse back to the same marker.
        for m in [&both, &either, &linux.negate()] {
            assert_eq!(&Marker::parse(&m.to_string()).unwrap(), m);
        }
        // The algebra knows equivalences.
        assert!(linux.or(&linux.negate()).is_true());
        assert!(linux.and(&linux.negate()).is_false());
        assert_eq!(old.and(&linux), both);
        assert_eq!(Marker::TRUE.and(&linux), linux);
        assert_eq!(Marker::TRUE.to_pep508(), None);
        assert_eq!(Marker::TRUE.to_string(), "true");
        assert_eq!(Marker::parse("").unwrap(), Marker::TRUE);
        assert_eq!(Marker::FALSE.to_string(), "python_version < '0'");
    }

    #[test]
    fn bad_input_is_an_error() {
        for m in [
            "python_version <",
            "sys_platform == 'linux",
            "foo == 'bar'",
            "python_version < '3.12' and",
            "(sys_platform == 'linux'",
        ] {
            let e = Marker::parse(m).unwrap_err();
            assert!(!e.message.contains('\n'), "{m}: {e}");
        }
        let amd64 = Platform::parse("linux/amd64").unwrap();
        for python in ["3", "three", "3.11.2+local", "1!3.11", "3.11.post1"] {
            assert!(
                TargetEnvironment::new(&amd64, python, Implementation::CPython).is_err(),
                "{python}"
            );
        }
        let odd = |os: &str, arch: &str| Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: None,
        };
        for platform in [odd("windows", "amd64"), odd("linux", "sparc")] {
            assert!(
                TargetEnvironment::new(&platform, "3.11.2", Implementation::CPython).is_err(),
                "{platform}"
            );
        }
        // uv's algebra reads `python_version` as a range of `python_full_version` and keeps
        // only the release part of versions in markers, so a pre-release Python is below its
        // own line, as it is for the `uv sync` in the build.
        let pre = env("linux/amd64", "3.13.0rc1");
        assert_eq!(pre.marker_environment().python_version().string, "3.13");
        assert!(holds("python_full_version < '3.13.0'", &pre, &[]));
        assert!(!holds("python_version == '3.13'", &pre, &[]));
    }
}
