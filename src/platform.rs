//! Target platforms (`linux/amd64`, `linux/arm/v7`): parsed and normalised once, at the edge
//! (CLI flags, frontend options, worker lists), the way containerd's `platforms.Normalize`
//! does, so `linux/x86_64` and `linux/amd64` are the same platform everywhere after that.

use std::fmt;

use crate::llb;

/// An OCI platform pycache can build for. Only Linux: the images it makes run Linux userlands.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses one `os/arch[/variant]`, normalising architecture aliases (`x86_64` → `amd64`,
    /// `aarch64` → `arm64`, `armhf` → `arm/v7`, …) and case, as containerd does.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.contains(',') {
            return Err(format!(
                "`{s}` names several platforms; give one here (e.g. linux/amd64)"
            ));
        }
        match s.split('/').collect::<Vec<_>>().as_slice() {
            [os, arch] => Self::from_parts(os, arch, None),
            [os, arch, variant] => Self::from_parts(os, arch, Some(variant)),
            _ => Err(format!(
                "`{s}` is not a platform: expected os/arch[/variant], e.g. linux/arm64"
            )),
        }
    }

    /// A platform from its parts, as OCI JSON carries them (an empty variant is none).
    pub fn from_parts(os: &str, arch: &str, variant: Option<&str>) -> Result<Self, String> {
        let spelled = match variant {
            Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
            _ => format!("{os}/{arch}"),
        };
        let os = os.to_ascii_lowercase();
        if os != "linux" {
            return Err(format!(
                "platform `{spelled}`: pycache builds Linux images only (e.g. linux/amd64, linux/arm64)"
            ));
        }
        let arch = arch.to_ascii_lowercase();
        let variant = variant
            .filter(|v| !v.is_empty())
            .map(str::to_ascii_lowercase);
        let (architecture, variant) = match (arch.as_str(), variant.as_deref()) {
            ("x86_64" | "x86-64" | "amd64", None | Some("v1")) => ("amd64", None),
            ("x86_64" | "x86-64" | "amd64", Some(v @ ("v2" | "v3" | "v4"))) => ("amd64", Some(v)),
            ("aarch64" | "arm64", None | Some("v8")) => ("arm64", None),
            ("armhf", None) => ("arm", Some("v7")),
            ("armel", None) => ("arm", Some("v6")),
            ("arm", None) => ("arm", Some("v7")),
            ("arm", Some(v @ ("v5" | "v6" | "v7" | "v8"))) => ("arm", Some(v)),
            ("i386" | "i686" | "x86" | "386", None) => ("386", None),
            ("ppc64le" | "s390x" | "riscv64" | "mips64le", None) => (arch.as_str(), None),
            _ => {
                return Err(format!(
                    "platform `{spelled}`: unknown architecture or variant (amd64, arm64, arm/v7, arm/v6, 386, ppc64le, s390x, riscv64)"
                ));
            }
        };
        Ok(Self {
            os,
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        })
    }

    /// A comma-separated list, as `--platform` and the frontend's `platform` option carry it.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let mut out: Vec<Self> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = Self::parse(part)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err("no platform given".into());
        }
        Ok(out)
    }

    /// The platform of the machine pycache runs on.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            "s390x" => "s390x",
            "powerpc64" => "ppc64le",
            "riscv64" => "riscv64",
            "x86" => "386",
            other => other,
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: (architecture == "arm").then(|| "v7".to_owned()),
        }
    }

    /// `linux/arm64` or `linux/arm/v7`.
    pub fn id(&self) -> String {
        self.to_string()
    }

    /// A cache-mount id suffix: cache mounts must never be shared across platforms.
    pub fn cache_suffix(&self) -> String {
        self.id().replace('/', "-")
    }

    /// The LLB `Platform` message of every op built for this platform.
    pub fn to_llb(&self) -> llb::pb::Platform {
        llb::pb::Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> String {
        Platform::parse(s).map(|p| p.id()).unwrap_or_else(|e| e)
    }

    #[test]
    fn aliases_and_case_normalise_like_containerd() {
        assert_eq!(id("linux/amd64"), "linux/amd64");
        assert_eq!(id("linux/x86_64"), "linux/amd64");
        assert_eq!(id("LINUX/AMD64"), "linux/amd64");
        assert_eq!(id("linux/aarch64"), "linux/arm64");
        assert_eq!(id("linux/arm64/v8"), "linux/arm64");
        assert_eq!(id("linux/arm"), "linux/arm/v7");
        assert_eq!(id("linux/armhf"), "linux/arm/v7");
        assert_eq!(id("linux/arm/v6"), "linux/arm/v6");
        assert_eq!(id(" linux/386 "), "linux/386");
    }

    #[test]
    fn other_systems_lists_and_garbage_are_refused() {
        for bad in [
            "windows/amd64",
            "linux/amd64,linux/arm64",
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v9/x",
            "linux/sparc",
            "",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_split_normalise_and_dedupe() {
        let list = Platform::parse_list("linux/amd64, linux/x86_64,linux/arm64").unwrap();
        let ids: Vec<String> = list.iter().map(Platform::id).collect();
        assert_eq!(ids, ["linux/amd64", "linux/arm64"]);
        assert!(Platform::parse_list(" , ").is_err());
        assert!(Platform::parse_list("linux/amd64,windows/amd64").is_err());
    }
}
