//! The handful of project files detection reads, held in memory. The CLI fills it from disk and
//! the frontend from the BuildKit `context` local, using the same patterns, so both see the same
//! project.

use std::collections::BTreeMap;
use std::path::Path;

/// Patterns (relative to the context root) of every file detection may read. The frontend sends
/// them as `local.includepattern`, so only these small files cross the session first.
pub const DETECTION_PATTERNS: &[&str] = &[
    "pyproject.toml",
    "uv.lock",
    ".python-version",
    ".dockerignore",
    "setup.py",
    "setup.cfg",
    "*.txt",
    "requirements/**",
    "**/pyproject.toml",
];

/// Directories never worth walking for detection, whatever `.dockerignore` says.
pub const SKIP_DIRS: &[&str] = &[
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    "target",
    ".cache",
];

/// How deep the detection walk goes.
pub const MAX_DEPTH: usize = 8;
/// Files this big are not read for detection.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Text files of the project by `/`-separated path relative to the context root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    pub files: BTreeMap<String, String>,
}

impl ProjectFiles {
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }

    /// Whether `path` matches one of [`DETECTION_PATTERNS`] (`*` not matching `/`). Written
    /// out: compiling the patterns with globset costs more than the rest of detection of a
    /// small project. A test checks it against globset.
    pub fn wanted(path: &str) -> bool {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        name == "pyproject.toml"
            || path.starts_with("requirements/")
            || (dir.is_empty()
                && (name.ends_with(".txt")
                    || matches!(
                        name,
                        "uv.lock" | ".python-version" | ".dockerignore" | "setup.py" | "setup.cfg"
                    )))
    }

    /// Reads the detection files below `dir` from disk.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        let mut out = Self::default();
        walk(dir, "", &mut out, 0)?;
        Ok(out)
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut ProjectFiles, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(&entry.path(), &rel, out, depth + 1)?;
            }
        } else if ty.is_file()
            && ProjectFiles::wanted(&rel)
            && entry.metadata()?.len() < MAX_FILE_SIZE
            && let Ok(text) = std::fs::read_to_string(entry.path())
        {
            out.insert(rel, text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_matches_the_patterns() {
        let mut b = globset::GlobSetBuilder::new();
        for p in DETECTION_PATTERNS {
            b.add(
                globset::GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .unwrap(),
            );
        }
        let globs = b.build().unwrap();
        let names = [
            "pyproject.toml",
            "uv.lock",
            ".python-version",
            ".dockerignore",
            "setup.py",
            "setup.cfg",
            "requirements.txt",
            "requirements-dev.txt",
            ".txt",
            "a.txt",
            "a.txt.bak",
            "txt",
            "requirements",
            "requirements.in",
            "pyproject.toml.orig",
            "xpyproject.toml",
            "uv.lock.bak",
            "Setup.py",
            "main.py",
            "README.md",
        ];
        let dirs = [
            "",
            "requirements/",
            "requirements/dev/",
            "pkg/",
            "a/b/",
            "a/requirements/",
        ];
        // A path made from each pattern: a new pattern fails here until `wanted` follows.
        for pattern in DETECTION_PATTERNS {
            let path = pattern.replace("**", "x/y").replace('*', "x");
            assert!(
                ProjectFiles::wanted(&path) && globs.is_match(&path),
                "{path}"
            );
        }
        for dir in dirs {
            for name in names {
                let path = format!("{dir}{name}");
                assert_eq!(ProjectFiles::wanted(&path), globs.is_match(&path), "{path}");
            }
        }
    }
}
