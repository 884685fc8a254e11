//! The handful of project files detection reads, held in memory. The CLI fills it from disk and
//! the frontend from the BuildKit `context` local, using the same patterns, so both see the same
//! project. Every read is bounded and refuses what is not a regular file; a file detection
//! relies on that cannot be read is an error naming it, never silently missing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::diag::Diagnostic;

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
/// The largest project file read. Real locks are large: one of 50,000 packages with their
/// wheels is 29 MB.
pub const MAX_FILE_SIZE: u64 = 64 << 20;
/// The largest recipe (or its `.dockerignore`) read.
pub const MAX_RECIPE_SIZE: u64 = 1 << 20;

/// Why a file was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    TooLarge {
        size: u64,
        limit: u64,
    },
    NotUtf8 {
        line: usize,
        offset: usize,
    },
    Symlink,
    /// A FIFO, device or socket: reading it could block forever or never end.
    Special(&'static str),
    /// The read itself failed.
    Io(String),
}

impl Refusal {
    /// `path` cannot be read, as a diagnostic with the fix.
    pub fn diagnostic(&self, path: &str) -> Diagnostic {
        let (message, help) = match self {
            Refusal::TooLarge { size, limit } => (
                format!(
                    "{path} is {}, over pycache's limit of {} for one input file",
                    mib(*size),
                    mib(*limit)
                ),
                "remove the file from the build context if it is not the project's (a real 50,000-package uv.lock is 29 MB)".to_owned(),
            ),
            Refusal::NotUtf8 { line, offset } => (
                format!("{path} is not UTF-8 text: line {line} has an invalid byte (offset {offset})"),
                "save it as UTF-8, as uv, pip and TOML require".to_owned(),
            ),
            Refusal::Symlink => (
                format!("{path} is a symbolic link; pycache reads only regular files of the build context"),
                format!("replace the link with the file it points to (e.g. `cp --remove-destination \"$(readlink -f {path})\" {path}`)"),
            ),
            Refusal::Special(kind) => (
                format!("{path} is {kind}, not a regular file; pycache never reads one"),
                "replace it with a regular file".to_owned(),
            ),
            Refusal::Io(e) => (
                format!("cannot read {path}: {e}"),
                "check the file's permissions".to_owned(),
            ),
        };
        Diagnostic::new(path, message).help(help)
    }
}

/// `n` bytes in MiB, for messages.
fn mib(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{n} bytes")
    }
}

/// What kind of special file `ty` is, or `None` for regular files, directories and links.
fn special_kind(ty: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ty.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if ty.is_char_device() {
        Some("a character device")
    } else if ty.is_block_device() {
        Some("a block device")
    } else if ty.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// `bytes` as text, or where they stop being UTF-8.
pub fn utf8(bytes: Vec<u8>) -> Result<String, Refusal> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        Refusal::NotUtf8 { line, offset }
    })
}

/// Reads a text file of at most `limit` bytes. Symbolic links are followed (the user named the
/// file); special files are refused without blocking: the file is opened non-blocking and
/// checked before any read, and the read stops past `limit` whatever the size said.
pub fn read_text(path: &Path, limit: u64) -> Result<String, Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| Refusal::Io(e.to_string()))?;
    let meta = file.metadata().map_err(|e| Refusal::Io(e.to_string()))?;
    if let Some(kind) = special_kind(&meta.file_type()) {
        return Err(Refusal::Special(kind));
    }
    if meta.is_dir() {
        return Err(Refusal::Special("a directory"));
    }
    if meta.len() > limit {
        return Err(Refusal::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(Refusal::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    utf8(bytes)
}

/// Text files of the project by `/`-separated path relative to the context root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    pub files: BTreeMap<String, String>,
    /// Files detection would have read but did not, and why.
    pub refused: BTreeMap<String, Refusal>,
}

impl ProjectFiles {
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// A problem for every file detection relies on that could not be read: without them it
    /// would tell a wrong story ("found pyproject.toml but no uv.lock"). Other `*.txt` files of
    /// the root are read only in case a requirements file includes them, and may be anything.
    pub fn refusals(&self) -> Vec<Diagnostic> {
        self.refused
            .iter()
            .filter(|(path, _)| Self::relied_on(path))
            .map(|(path, why)| why.diagnostic(path))
            .collect()
    }

    fn relied_on(path: &str) -> bool {
        let root_other_txt =
            !path.contains('/') && path.ends_with(".txt") && !path.starts_with("requirements");
        Self::wanted(path) && !root_other_txt
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
                } else if ty.is_symlink() {
                    EntryKind::Symlink
                } else {
                    EntryKind::Special(special_kind(&ty).unwrap_or("not a regular file"))
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
                match read_text(&dir.join(&path), MAX_FILE_SIZE) {
                    Ok(text) => out.insert(path, text),
                    Err(why) => {
                        out.refused.insert(path, why);
                    }
                }
            }
        }
        out.refused.append(&mut walk.refused);
        Ok(out)
    }
}

/// What a directory listing says of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    /// Never read: the same file must be seen by the CLI and the frontend, and a link may
    /// point anywhere.
    Symlink,
    /// A device, pipe or socket (what kind, for messages): never read.
    Special(&'static str),
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
    /// Wanted files not to be read, and why.
    pub refused: BTreeMap<String, Refusal>,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            pending: vec![(String::new(), 0)],
            refused: BTreeMap::new(),
        }
    }
}

impl Walk {
    /// The next directory to list, `/`-separated and relative to the root (`""` for the root).
    pub fn next_dir(&mut self) -> Option<String> {
        self.pending.last().map(|(dir, _)| dir.clone())
    }

    /// Takes the listing of `dir` (the value [`Self::next_dir`] gave); returns the paths of the
    /// files in it to read, queues its subdirectories, and records the wanted files it will not
    /// read in [`Self::refused`].
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
                _ if !ProjectFiles::wanted(&rel) => {}
                EntryKind::File if entry.size <= MAX_FILE_SIZE => files.push(rel),
                EntryKind::File => {
                    let why = Refusal::TooLarge {
                        size: entry.size,
                        limit: MAX_FILE_SIZE,
                    };
                    self.refused.insert(rel, why);
                }
                EntryKind::Symlink => {
                    self.refused.insert(rel, Refusal::Symlink);
                }
                EntryKind::Special(kind) => {
                    self.refused.insert(rel, Refusal::Special(kind));
                }
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
                file("requirements.txt", MAX_FILE_SIZE + 1),
                DirEntry {
                    name: "pyproject.toml".into(),
                    kind: EntryKind::Special("a named pipe (FIFO)"),
                    size: 1,
                },
                DirEntry {
                    name: ".python-version".into(),
                    kind: EntryKind::Symlink,
                    size: 1,
                },
                DirEntry {
                    name: "notes.md".into(),
                    kind: EntryKind::Symlink,
                    size: 1,
                },
                dir(".git"),
                dir("pkg"),
            ],
        );
        assert_eq!(read, ["uv.lock"]);
        let refused: Vec<&str> = walk.refused.keys().map(String::as_str).collect();
        assert_eq!(
            refused,
            [".python-version", "pyproject.toml", "requirements.txt"]
        );
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
