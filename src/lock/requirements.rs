//! Fully pinned, hashed `requirements*.txt` → [`LockedEnv`]: such files are a lock (pip's
//! `--require-hashes` mode installs exactly them), so they get dependency layers like any
//! other. Files with an unpinned or unhashed line, a URL or a local path are not a lock: the
//! plan installs them in one step, as written.

use pep508_rs::VersionOrUrl;
use pep508_rs::pep440_rs::Operator;

use super::markers::Target;
use super::{LockedEnv, LockedPackage, PackageSource};
use crate::detect::requirements::RequirementsFile;

/// Why requirements files are not a lock, for the hint `explain` and the build give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotLocked {
    pub file: String,
    pub line: usize,
    pub why: String,
}

/// The packages of `files` (all of them, includes too), or why they are not a lock.
pub fn select(
    files: &[RequirementsFile],
    index: &str,
    target: &Target,
) -> Result<LockedEnv, NotLocked> {
    let mut env = LockedEnv::default();
    for file in files {
        for req in &file.requirements {
            let not_locked = |why: &str| NotLocked {
                file: file.path.clone(),
                line: req.line,
                why: why.to_owned(),
            };
            if req.local {
                return Err(not_locked("installs a local path"));
            }
            if req.hashes.is_empty() {
                return Err(not_locked("has no --hash"));
            }
            // The requirement without its options (`--hash=…`).
            let spec: Vec<&str> = req
                .text
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let parsed = crate::detect::pep508::requirement(&spec.join(" "))
                .map_err(|_| not_locked("is not a PEP 508 requirement"))?;
            let version = match &parsed.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(s)) => match s.iter().collect::<Vec<_>>()[..] {
                    [one] if *one.operator() == Operator::Equal => one.version().to_string(),
                    _ => return Err(not_locked("is not pinned with ==")),
                },
                _ => return Err(not_locked("is not pinned with ==")),
            };
            let marker = match target.decide(&parsed.marker, &[]) {
                Some(false) => {
                    env.excluded.push(parsed.name.to_string());
                    continue;
                }
                Some(true) => None,
                None => parsed.marker.try_to_string(),
            };
            let mut hashes = req.hashes.clone();
            hashes.sort();
            hashes.dedup();
            env.packages.push(LockedPackage {
                name: parsed.name.to_string(),
                version,
                source: PackageSource::Registry(index.to_owned()),
                hashes,
                size: 0,
                compiled: false,
                marker,
                // A requirements file does not say which files exist.
                sdist_only: false,
                wheels: Vec::new(),
            });
        }
    }
    Ok(env.sorted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::requirements::parse;
    use crate::platform::Platform;

    fn target() -> Target {
        Target::new(
            Platform::parse("linux/amd64").unwrap(),
            Some("3.11.2".parse().unwrap()),
        )
    }

    #[test]
    fn hashed_pins_are_a_lock() {
        let text = "idna==3.10 \\\n    --hash=sha256:bb --hash=sha256:aa\nSix==1.17.0 ; python_version >= '3' --hash=sha256:cc\npywin32==306 ; sys_platform == 'win32' --hash=sha256:dd\n";
        let file = parse("requirements.txt", text).unwrap();
        let env = select(&[file], "https://pypi.org/simple", &target()).unwrap();
        let lines: Vec<String> = env
            .packages
            .iter()
            .map(LockedPackage::requirement_line)
            .collect();
        assert_eq!(
            lines,
            [
                "idna==3.10 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb",
                "six==1.17.0 \\\n    --hash=sha256:cc"
            ]
        );
        assert_eq!(env.excluded, ["pywin32"]);
    }

    #[test]
    fn anything_else_is_not() {
        for (text, why) in [
            ("requests>=2\n", "has no --hash"),
            ("requests>=2 --hash=sha256:aa\n", "is not pinned with =="),
            ("-e .\n", "installs a local path"),
        ] {
            let file = parse("requirements.txt", text).unwrap();
            let err = select(&[file], "https://pypi.org/simple", &target()).unwrap_err();
            assert_eq!((err.line, err.why.as_str()), (1, why), "{text}");
        }
    }
}
