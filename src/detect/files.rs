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
    "poetry.lock",
    "pylock.toml",
    "pylock.*.toml",
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
                    || (name.starts_with("pylock.")
                        && name.ends_with(".toml")
                        && name.len() >= 11)
                    || matches!(
                        name,
                        "uv.lock"
                            | "poetry.lock"
                            | ".python-version"
                            | ".dockerignore"
                            | "setup.py"
                            | "setup.cfg"
                    )))
    }

    /// Reads the detection files below `dir` from disk.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        let mut out = Self::default();
        let mut walk = Walk::default();
        while let Some(rel) = walk.next_dir() {
            let mut entries = Vec::new();
            for entry in std::fs::read_dir(dir.join(&rel))? {
                let entry = entry?;
                let ty = entry.file_type()?;
                let kind = if ty.is_dir() {
                    EntryKind::Dir
                } else if ty.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                };
                entries.push(DirEntry {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    kind,
                    size: if kind == EntryKind::File {
                        entry.metadata()?.len()
                    } else {
                        0
                    },
                });
            }
            for path in walk.visit(&rel, entries) {
                if let Ok(text) = std::fs::read_to_string(dir.join(&path)) {
                    out.insert(path, text);
                }
            }
        }
        Ok(out)
    }
}

/// What a directory listing says of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    /// Symlinks, devices, pipes, sockets: never read.
    Other,
}

#[derive(Clone, Debug)]
pub struct DirEntry {
    /// The entry's name within its directory.
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
}

/// The detection walk, without I/O: which directories to list and which files to read. The
/// CLI drives it over the disk and the frontend over the daemon's `ReadDir`/`ReadFile`, so both
/// see the same project.
#[derive(Clone, Debug)]
pub struct Walk {
    /// Directories still to list, with their depth below the root.
    pending: Vec<(String, usize)>,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            pending: vec![(String::new(), 0)],
        }
    }
}

impl Walk {
    /// The next directory to list, `/`-separated and relative to the root (`""` for the root).
    pub fn next_dir(&mut self) -> Option<String> {
        self.pending.last().map(|(dir, _)| dir.clone())
    }

    /// Takes the listing of `dir` (the value [`Self::next_dir`] gave); returns the paths of the
    /// files in it to read, and queues its subdirectories.
    pub fn visit(&mut self, dir: &str, entries: Vec<DirEntry>) -> Vec<String> {
        let depth = match self.pending.iter().position(|(d, _)| d == dir) {
            Some(i) => self.pending.remove(i).1,
            None => return Vec::new(),
        };
        let mut files = Vec::new();
        for entry in entries {
            let rel = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            match entry.kind {
                EntryKind::Dir => {
                    if !SKIP_DIRS.contains(&entry.name.as_str()) && depth < MAX_DEPTH {
                        self.pending.push((rel, depth + 1));
                    }
                }
                EntryKind::File if ProjectFiles::wanted(&rel) && entry.size < MAX_FILE_SIZE => {
                    files.push(rel)
                }
                EntryKind::File | EntryKind::Other => {}
            }
        }
        files.sort();
        files
    }
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
        // Every literal pattern, and near misses.
        let literal = DETECTION_PATTERNS.iter().filter(|p| !p.contains('*'));
        let names = literal.copied().chain([
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
            "poetry.lock",
            "poetry.lock.bak",
            "pylock.toml",
            "pylock.prod.toml",
            "pylock..toml",
            "pylock.a.b.toml",
            "pylock.toml.bak",
            "pylock-toml",
            "xpylock.toml",
            "Setup.py",
            "main.py",
            "README.md",
        ]);
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
            for name in names.clone() {
                let path = format!("{dir}{name}");
                assert_eq!(ProjectFiles::wanted(&path), globs.is_match(&path), "{path}");
            }
        }
    }

    #[test]
    fn walk_skips_deep_special_and_ignored_entries() {
        let file = |name: &str, size| DirEntry {
            name: name.into(),
            kind: EntryKind::File,
            size,
        };
        let dir = |name: &str| DirEntry {
            name: name.into(),
            kind: EntryKind::Dir,
            size: 0,
        };
        let mut walk = Walk::default();
        assert_eq!(walk.next_dir().as_deref(), Some(""));
        let read = walk.visit(
            "",
            vec![
                file("uv.lock", 10),
                file("main.py", 10),
                file("requirements.txt", MAX_FILE_SIZE),
                DirEntry {
                    name: "pyproject.toml".into(),
                    kind: EntryKind::Other,
                    size: 1,
                },
                dir(".git"),
                dir("pkg"),
            ],
        );
        assert_eq!(read, ["uv.lock"]);
        assert_eq!(walk.next_dir().as_deref(), Some("pkg"));
        let mut depth = 0;
        let mut current = "pkg".to_owned();
        while let Some(next) = walk.next_dir() {
            assert_eq!(next, current);
            let read = walk.visit(&next, vec![file("pyproject.toml", 1), dir("d")]);
            assert_eq!(read, [format!("{next}/pyproject.toml")]);
            current = format!("{next}/d");
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(
            walk.visit("never-asked", vec![file("uv.lock", 1)])
                .is_empty()
        );
    }
}
