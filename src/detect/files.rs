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

    /// Whether `path` matches one of the detection patterns.
    pub fn wanted(path: &str) -> bool {
        detection_globs().is_match(path)
    }

    /// Reads the detection files below `dir` from disk.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        let mut out = Self::default();
        let globs = detection_globs();
        walk(dir, "", &globs, &mut out, 0)?;
        Ok(out)
    }
}

fn detection_globs() -> globset::GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for p in DETECTION_PATTERNS {
        b.add(
            globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .expect("static pattern"),
        );
    }
    b.build().expect("static patterns")
}

fn walk(
    dir: &Path,
    prefix: &str,
    globs: &globset::GlobSet,
    out: &mut ProjectFiles,
    depth: usize,
) -> std::io::Result<()> {
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
                walk(&entry.path(), &rel, globs, out, depth + 1)?;
            }
        } else if ty.is_file()
            && globs.is_match(&rel)
            && entry.metadata()?.len() < MAX_FILE_SIZE
            && let Ok(text) = std::fs::read_to_string(entry.path())
        {
            out.insert(rel, text);
        }
    }
    Ok(())
}
