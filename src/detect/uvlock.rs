//! `uv.lock`: packages, versions, sources, wheels, and the recorded requirements of the
//! workspace's own packages, which tell whether the lock is up to date with `pyproject.toml`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use serde::Deserialize;

use super::pyproject::normalize_name;
use crate::diag::Diagnostic;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UvLock {
    pub version: Option<u32>,
    pub requires_python: Option<String>,
    pub manifest: Option<Manifest>,
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedPackage {
    pub name: String,
    pub version: Option<String>,
    #[serde(default)]
    pub source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub dependencies: Vec<LockedDependency>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    pub metadata: Option<LockedMetadata>,
    /// Its sdist and wheels (read by [`UvLock::parse`] beside the rest).
    #[serde(skip)]
    pub artifacts: Artifacts,
    // The sdist and wheels, checked when a section is parsed as TOML; [`toml_package`] then
    // reads them into `artifacts`.
    #[serde(
        default,
        rename = "sdist",
        deserialize_with = "checked::<Option<Artifact>, _>"
    )]
    _sdist: (),
    #[serde(
        default,
        rename = "wheels",
        deserialize_with = "checked::<Vec<Artifact>, _>"
    )]
    _wheels: (),
}

/// Deserializes a `T` and drops it.
fn checked<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    T::deserialize(d).map(drop)
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LockedDependency {
    pub name: String,
    /// Given when the lock has several packages of this name (a forked resolution).
    pub version: Option<String>,
    /// Given with `version`, when versions alone do not tell the packages apart.
    pub source: Option<BTreeMap<String, toml::Value>>,
    pub marker: Option<String>,
    #[serde(default)]
    pub extra: Vec<String>,
}

/// A package's sdist and wheels.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Artifacts {
    pub sdist: Option<Artifact>,
    #[serde(default)]
    pub wheels: Vec<Artifact>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Artifact {
    pub url: Option<String>,
    pub hash: Option<String>,
    pub size: Option<u64>,
}

impl Artifacts {
    /// The largest wheel's size, a fair estimate of what installing it costs.
    pub fn wheel_size(&self) -> u64 {
        self.wheels.iter().filter_map(|w| w.size).max().unwrap_or(0)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedMetadata {
    #[serde(default)]
    pub requires_dist: Vec<LockedRequirement>,
    #[serde(default)]
    pub requires_dev: BTreeMap<String, Vec<LockedRequirement>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LockedRequirement {
    pub name: String,
    pub specifier: Option<String>,
    #[serde(default)]
    pub extras: Vec<String>,
}

/// Where a locked package comes from, reduced to what the plan cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Registry,
    /// The project itself or a workspace member (`editable`, `virtual`, or `directory`).
    Local(String),
    Git,
    Url,
}

impl LockedPackage {
    pub fn source_kind(&self) -> SourceKind {
        for key in ["editable", "virtual", "directory", "path"] {
            if let Some(path) = self.source.get(key).and_then(toml::Value::as_str) {
                return SourceKind::Local(path.to_owned());
            }
        }
        if self.source.contains_key("git") {
            SourceKind::Git
        } else if self.source.contains_key("url") {
            SourceKind::Url
        } else {
            SourceKind::Registry
        }
    }
}

/// A uv.lock parse error, with its byte range in the whole file.
#[derive(Clone, Debug)]
pub struct LockError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl LockError {
    fn at(e: toml::de::Error, offset: usize) -> Self {
        Self {
            message: e.message().trim_end().to_owned(),
            span: e.span().map(|s| s.start + offset..s.end + offset),
        }
    }
}

#[derive(Deserialize)]
struct OnePackage {
    package: Vec<LockedPackage>,
}

impl UvLock {
    /// Parses uv.lock. The file is mostly `[[package]]` sections in the layout uv writes (a
    /// 300-package lock is ~2 MB, nearly all of it artifact lists), which [`Cursor`] reads in
    /// one pass; a section it does not follow exactly is parsed as TOML instead, as is the
    /// header before the first section.
    pub fn parse(text: &str) -> Result<Self, LockError> {
        let header_end = section_start(text, 0);
        let mut lock: UvLock =
            toml::from_str(&text[..header_end]).map_err(|e| LockError::at(e, 0))?;
        let mut cursor = Cursor {
            text,
            pos: header_end,
        };
        while !cursor.at_end() {
            let start = cursor.pos;
            let mut artifacts = Artifacts::default();
            let pkg = match cursor.package(Some(&mut artifacts)) {
                Some(mut pkg) => {
                    pkg.artifacts = artifacts;
                    pkg
                }
                None => {
                    cursor.pos = section_start(text, start + 1);
                    toml_package(&text[start..cursor.pos], start)?
                }
            };
            lock.packages.push(pkg);
        }
        Ok(lock)
    }

    pub fn package(&self, name: &str) -> Option<&LockedPackage> {
        let name = normalize_name(name);
        self.packages.iter().find(|p| p.name == name)
    }
    /// Packages installed from an index, git or URL: everything but local ones.
    pub fn third_party(&self) -> impl Iterator<Item = &LockedPackage> {
        self.packages
            .iter()
            .filter(|p| !matches!(p.source_kind(), SourceKind::Local(_)))
    }

    /// Local packages that are not the project or a listed workspace member: path dependencies.
    pub fn local_packages(&self) -> impl Iterator<Item = (&LockedPackage, String)> {
        self.packages.iter().filter_map(|p| match p.source_kind() {
            SourceKind::Local(path) => Some((p, path)),
            _ => None,
        })
    }
}

/// How deep the fast reader follows nested arrays and inline tables.
const MAX_NESTING: usize = 16;

/// The lock format version pycache reads.
pub const LOCK_VERSION: u32 = 1;

impl UvLock {
    /// What a parsed lock must also be before pycache builds from it: its version known, every
    /// package name a PEP 508 name and every version a PEP 440 version (they reach commands and
    /// requirements files), sources without spaces or control characters, no package twice.
    pub fn validate(&self, file: &str, text: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let header = &text[..section_start(text, 0)];
        let version_line = key_line(header, 0, "version");
        match self.version {
            Some(LOCK_VERSION) => {}
            other => {
                let what = other.map_or("has no `version`".to_owned(), |v| {
                    format!("has version {v}, which pycache does not read")
                });
                let mut d = Diagnostic::new(
                    file,
                    format!("{file} {what} (it reads version {LOCK_VERSION})"),
                )
                .help(
                    "regenerate it with `uv lock` using a uv release that writes version 1 locks",
                );
                if let Some(span) = version_line {
                    d = d.at(text, span);
                }
                out.push(d);
            }
        }
        let mut starts = Vec::new();
        let mut pos = section_start(text, 0);
        while pos < text.len() {
            starts.push(pos);
            pos = section_start(text, pos + 1);
        }
        let section = |i: usize| -> Option<(usize, &str)> {
            let start = *starts.get(i)?;
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            Some((start, &text[start..end]))
        };
        let at = |d: Diagnostic, i: usize, key: &str| match section(i)
            .and_then(|(start, body)| key_line(body, start, key))
        {
            Some(span) => d.at(text, span),
            None => d,
        };
        let mut seen = BTreeMap::new();
        for (i, p) in self.packages.iter().enumerate() {
            if pep508_rs::PackageName::from_str(&p.name).is_err() {
                let d = Diagnostic::new(file, format!("`{}` is not a valid package name", p.name))
                    .help("package names are letters, digits, `-`, `_` and `.` (PEP 508); regenerate the lock with `uv lock`");
                out.push(at(d, i, "name"));
                continue;
            }
            if let Some(v) = &p.version
                && pep440_rs::Version::from_str(v).is_err()
            {
                let d = Diagnostic::new(
                    file,
                    format!("`{v}` is not a valid version of package `{}`", p.name),
                )
                .help(
                    "versions follow PEP 440, e.g. \"2.32.3\"; regenerate the lock with `uv lock`",
                );
                out.push(at(d, i, "version"));
                continue;
            }
            let local = matches!(p.source_kind(), SourceKind::Local(_));
            let bad_source = p.source.values().filter_map(toml::Value::as_str).find(|v| {
                v.chars()
                    .any(|c| c.is_control() || (!local && c.is_whitespace()))
            });
            if let Some(v) = bad_source {
                let d = Diagnostic::new(
                    file,
                    format!(
                        "the source of package `{}` has spaces or control characters: `{v}`",
                        p.name
                    ),
                )
                .help("regenerate the lock with `uv lock`");
                out.push(at(d, i, "source"));
                continue;
            }
            let key = (p.name.clone(), p.version.clone(), format!("{:?}", p.source));
            if seen.insert(key, i).is_some() {
                let d = Diagnostic::new(
                    file,
                    format!(
                        "package `{} {}` is in {file} twice",
                        p.name,
                        p.version.as_deref().unwrap_or("")
                    ),
                )
                .help("a lock lists each package once: regenerate it with `uv lock`");
                out.push(at(d, i, "name"));
            }
        }
        out
    }
}

/// The span of the first line of `body` (which starts at `offset` in the file) that sets `key`.
fn key_line(body: &str, offset: usize, key: &str) -> Option<Range<usize>> {
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let text = line.trim_end_matches(['\n', '\r']);
            return Some(offset + pos..offset + pos + text.len());
        }
        pos += line.len();
    }
    None
}

/// Where the first `[[package]]` line at or after `from` begins, or the end.
fn section_start(text: &str, from: usize) -> usize {
    let mut pos = text[..from].rfind('\n').map_or(0, |i| i + 1);
    for line in text[pos..].split_inclusive('\n') {
        if pos >= from && is_package_header(line) {
            return pos;
        }
        pos += line.len();
    }
    text.len()
}

/// Whether `line` starts with a `[[package]]` header, in any of the ways TOML allows.
fn is_package_header(line: &str) -> bool {
    let blank = [' ', '\t'];
    let Some(rest) = line.trim_start_matches(blank).strip_prefix("[[") else {
        return false;
    };
    rest.split_once("]]").is_some_and(|(name, _)| {
        matches!(
            name.trim_matches(blank),
            "package" | "\"package\"" | "'package'"
        )
    })
}

/// One `[[package]]` section parsed as TOML; `offset` places its errors in the whole file.
fn toml_package(section: &str, offset: usize) -> Result<LockedPackage, LockError> {
    #[derive(Deserialize)]
    struct PackageArtifacts {
        package: Vec<Artifacts>,
    }
    let one: OnePackage = toml::from_str(section).map_err(|e| LockError::at(e, offset))?;
    let mut pkg = one.package.into_iter().next_back().ok_or(LockError {
        message: "empty [[package]]".into(),
        span: None,
    })?;
    // Valid TOML with valid artifacts (checked above): this cannot fail, and an empty list
    // would only make the package's hashes unknown.
    pkg.artifacts = toml::from_str::<PackageArtifacts>(section)
        .ok()
        .and_then(|one| one.package.into_iter().next_back())
        .unwrap_or_default();
    Ok(pkg)
}

/// Reads `[[package]]` sections in the layout uv writes: one key per line, arrays of inline
/// tables one element per line, strings without escapes. Each method returns `None` on
/// anything else (escapes, comments, other value types or keys, duplicate keys), which sends
/// the section to the TOML parser; whatever the cursor accepts, TOML reads the same way.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, s: &str) -> bool {
        let found = self.rest().starts_with(s);
        if found {
            self.pos += s.len();
        }
        found
    }

    fn spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Spaces, then the end of the line or of the text.
    fn line_end(&mut self) -> Option<()> {
        self.spaces();
        (self.eat("\n") || self.eat("\r\n") || self.at_end()).then_some(())
    }

    /// Lines of nothing but spaces, up to the start of the next other line.
    fn blank_lines(&mut self) {
        loop {
            let start = self.pos;
            self.spaces();
            if !self.eat("\n") && !self.eat("\r\n") {
                self.pos = start;
                return;
            }
        }
    }

    /// Spaces and line breaks, as allowed between array elements.
    fn blank(&mut self) {
        loop {
            self.spaces();
            if !(self.eat("\n") || self.eat("\r\n")) {
                return;
            }
        }
    }

    /// A bare key, its `=` and the spaces around it.
    fn key(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-')
        ) {
            self.pos += 1;
        }
        let key = &self.text[start..self.pos];
        self.spaces();
        if key.is_empty() || !self.eat("=") {
            return None;
        }
        self.spaces();
        Some(key)
    }

    /// A basic string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat("\"") {
            return None;
        }
        let rest = self.rest().as_bytes();
        let mut len = 0;
        loop {
            len += plain_prefix(&rest[len..]);
            match rest.get(len)? {
                b'"' => break,
                b'\t' => len += 1,
                // Escapes need TOML; other control characters are errors there.
                _ => return None,
            }
        }
        let s = &self.rest()[..len];
        self.pos += len + 1;
        Some(s)
    }

    /// A decimal integer without sign, underscores or leading zeros.
    fn integer(&mut self) -> Option<i64> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        if digits.starts_with('0') && digits.len() > 1 {
            return None;
        }
        digits.parse().ok()
    }

    /// A string or an integer, as a TOML value.
    fn scalar(&mut self) -> Option<toml::Value> {
        if self.peek()? == b'"' {
            self.string().map(|s| toml::Value::String(s.to_owned()))
        } else {
            self.integer().map(toml::Value::Integer)
        }
    }

    /// Any value this cursor reads, checked and skipped.
    fn skip_value(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    /// [`Self::skip_value`] at `depth` arrays and tables down. uv nests three deep at most;
    /// past [`MAX_NESTING`] the section goes to the TOML parser, whose own limit reports it,
    /// rather than the recursion here overflowing the stack.
    fn skip_nested(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_NESTING {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'0'..=b'9' => self.integer().map(drop),
            b'[' => self.array(|c| c.skip_nested(depth + 1)),
            b'{' => self.table(|_, c| c.skip_nested(depth + 1)),
            _ => None,
        }
    }

    /// An array, `element` reading each element; elements may be on lines of their own.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if !self.eat("[") {
            return None;
        }
        loop {
            self.blank();
            if self.eat("]") {
                return Some(());
            }
            element(self)?;
            self.blank();
            if !self.eat(",") {
                self.blank();
                return self.eat("]").then_some(());
            }
        }
    }

    /// An inline table, `field` reading the value of each key.
    fn table(&mut self, mut field: impl FnMut(&'a str, &mut Self) -> Option<()>) -> Option<()> {
        if !self.eat("{") {
            return None;
        }
        self.spaces();
        if self.eat("}") {
            return Some(());
        }
        let mut keys = Keys::default();
        loop {
            let key = self.key()?;
            keys.insert(key)?;
            field(key, self)?;
            self.spaces();
            if self.eat("}") {
                return Some(());
            }
            if !self.eat(",") {
                return None;
            }
            self.spaces();
        }
    }

    /// `{ name = "…", version = "…", source = {…}, marker = "…", extra = […] }`.
    fn dependency(&mut self) -> Option<LockedDependency> {
        let mut name = None;
        let mut dep = LockedDependency::default();
        self.table(|key, c| {
            match key {
                "name" => name = Some(c.string()?.to_owned()),
                "version" => dep.version = Some(c.string()?.to_owned()),
                "source" => dep.source = Some(c.source()?),
                "marker" => dep.marker = Some(c.string()?.to_owned()),
                "extra" => c.array(|c| {
                    dep.extra.push(c.string()?.to_owned());
                    Some(())
                })?,
                _ => c.skip_value()?,
            }
            Some(())
        })?;
        dep.name = name?;
        Some(dep)
    }

    fn dependencies(&mut self) -> Option<Vec<LockedDependency>> {
        let mut deps = Vec::new();
        self.array(|c| {
            deps.push(c.dependency()?);
            Some(())
        })?;
        Some(deps)
    }

    /// `{ url = "…", hash = "…", size = …, upload-time = "…" }`, its strings borrowed.
    fn artifact(&mut self) -> Option<ArtifactText<'a>> {
        let mut artifact = ArtifactText::default();
        self.table(|key, c| {
            match key {
                "url" => artifact.url = Some(c.string()?),
                "hash" => artifact.hash = Some(c.string()?),
                "size" => artifact.size = Some(c.integer()?.try_into().ok()?),
                _ => c.skip_value()?,
            }
            Some(())
        })?;
        Some(artifact)
    }

    /// `{ registry = "…" }`, `{ git = "…" }`, `{ editable = "…" }`, …
    fn source(&mut self) -> Option<BTreeMap<String, toml::Value>> {
        let mut source = BTreeMap::new();
        self.table(|key, c| {
            source.insert(key.to_owned(), c.scalar()?);
            Some(())
        })?;
        Some(source)
    }

    /// One `[[package]]` section, up to the next one or the end of the text, its sdist and
    /// wheels checked and put in `artifacts` if given. Sections with other tables
    /// (`[package.metadata]`, the project's own) are left to TOML.
    fn package(&mut self, mut artifacts: Option<&mut Artifacts>) -> Option<LockedPackage> {
        if !self.eat("[[package]]") {
            return None;
        }
        self.line_end()?;
        let mut pkg = LockedPackage::default();
        let mut name = None;
        let mut keys = Keys::default();
        // Set after a `[package.optional-dependencies]` or `[package.dev-dependencies]` header.
        let mut subtable: Option<&mut BTreeMap<String, Vec<LockedDependency>>> = None;
        loop {
            // Keys and headers start their lines, as uv writes them.
            self.blank_lines();
            if self.at_end() {
                break;
            }
            if self.peek() == Some(b'[') {
                if is_package_header(self.rest()) {
                    break;
                }
                let (header, map) = if self.eat("[package.optional-dependencies]") {
                    ("optional-dependencies", &mut pkg.optional_dependencies)
                } else if self.eat("[package.dev-dependencies]") {
                    ("dev-dependencies", &mut pkg.dev_dependencies)
                } else {
                    return None;
                };
                keys.insert(header)?;
                subtable = Some(map);
                self.line_end()?;
                continue;
            }
            let key = self.key()?;
            if let Some(map) = &mut subtable {
                if map.insert(key.to_owned(), self.dependencies()?).is_some() {
                    return None;
                }
            } else {
                keys.insert(key)?;
                match key {
                    "name" => name = Some(self.string()?.to_owned()),
                    "version" => pkg.version = Some(self.string()?.to_owned()),
                    "source" => pkg.source = self.source()?,
                    "resolution-markers" => self.array(|c| c.string().map(drop))?,
                    "dependencies" => pkg.dependencies = self.dependencies()?,
                    "sdist" => {
                        let sdist = self.artifact()?;
                        if let Some(out) = &mut artifacts {
                            out.sdist = Some(sdist.to_artifact());
                        }
                    }
                    "wheels" => self.array(|c| {
                        let wheel = c.artifact()?;
                        if let Some(out) = &mut artifacts {
                            out.wheels.push(wheel.to_artifact());
                        }
                        Some(())
                    })?,
                    _ => return None,
                }
            }
            self.line_end()?;
        }
        pkg.name = name?;
        Some(pkg)
    }
}

/// How many bytes of `s` come before a quote, a backslash or a control character.
fn plain_prefix(s: &[u8]) -> usize {
    let special = |b: u8| {
        u8::from(b == b'"') | u8::from(b == b'\\') | u8::from(b < b' ') | u8::from(b == 0x7f)
    };
    // 32 bytes at a time while none is special (the compiler vectorizes this), then one by one.
    let mut len = 0;
    while let Some(chunk) = s.get(len..len + 32) {
        if chunk.iter().fold(0, |any, &b| any | special(b)) != 0 {
            break;
        }
        len += 32;
    }
    len + s[len..]
        .iter()
        .position(|&b| special(b) != 0)
        .unwrap_or(s.len() - len)
}

/// An [`Artifact`] as read, borrowing from the text.
#[derive(Default)]
struct ArtifactText<'a> {
    url: Option<&'a str>,
    hash: Option<&'a str>,
    size: Option<u64>,
}

impl ArtifactText<'_> {
    fn to_artifact(&self) -> Artifact {
        Artifact {
            url: self.url.map(str::to_owned),
            hash: self.hash.map(str::to_owned),
            size: self.size,
        }
    }
}

/// The keys of one table, to refuse duplicates (TOML errors) as the TOML parser would.
#[derive(Default)]
struct Keys<'a> {
    seen: [&'a str; 12],
    len: usize,
}

impl<'a> Keys<'a> {
    /// `None` if `key` was already seen, or there are too many keys to track.
    fn insert(&mut self, key: &'a str) -> Option<()> {
        if self.len == self.seen.len() || self.seen[..self.len].contains(&key) {
            return None;
        }
        self.seen[self.len] = key;
        self.len += 1;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parse, fast or plain TOML, as comparable text: the lock, its packages (their sections
    /// left out) and their sdists and wheels.
    fn outcome(text: &str, fast: bool) -> Option<String> {
        #[derive(Deserialize)]
        struct AllArtifacts {
            #[serde(default)]
            package: Vec<Artifacts>,
        }
        let (lock, artifacts) = if fast {
            let lock = UvLock::parse(text).ok()?;
            let artifacts: Vec<_> = lock.packages.iter().map(|p| p.artifacts.clone()).collect();
            (lock, artifacts)
        } else {
            let lock: UvLock = toml::from_str(text).ok()?;
            (lock, toml::from_str::<AllArtifacts>(text).ok()?.package)
        };
        let packages: Vec<_> = lock
            .packages
            .iter()
            .map(|p| LockedPackage {
                artifacts: Artifacts::default(),
                ..p.clone()
            })
            .collect();
        let UvLock {
            version,
            requires_python,
            manifest,
            ..
        } = lock;
        Some(format!(
            "{version:?} {requires_python:?} {manifest:?}\n{packages:?}\n{artifacts:?}"
        ))
    }

    fn assert_parses_like_toml(text: &str) -> UvLock {
        let fast = outcome(text, true);
        assert!(fast.is_some(), "{text}");
        assert_eq!(fast, outcome(text, false));
        UvLock::parse(text).unwrap()
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn fast_parse_equals_full_toml_parse() {
        for dir in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata")).unwrap() {
            let path = dir.unwrap().path().join("uv.lock");
            if let Ok(text) = std::fs::read_to_string(&path) {
                assert_parses_like_toml(&text);
            }
        }
        let text = read("testdata/uv-groups-extras/uv.lock");
        let lock = assert_parses_like_toml(&text);
        let idna = lock.package("idna").unwrap().artifacts.clone();
        assert_eq!(idna.wheel_size(), 69583);
        assert_eq!(idna.sdist.unwrap().size, Some(216463));
        assert_eq!(
            idna.wheels[0].hash.as_deref(),
            Some("sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c")
        );
        let webapp = lock.package("webapp").unwrap();
        assert_eq!(webapp.artifacts, Artifacts::default());
    }

    #[test]
    fn fast_parse_equals_full_toml_parse_on_a_large_lock() {
        let text = read("bench/large-lock/uv.lock");
        let lock = assert_parses_like_toml(&text);
        assert!(lock.packages.len() > 300);
        let count =
            |f: &dyn Fn(&LockedPackage) -> bool| lock.packages.iter().filter(|p| f(p)).count();
        assert!(count(&|p| p.dependencies.iter().any(|d| d.marker.is_some())) > 10);
        assert!(count(&|p| p.dependencies.iter().any(|d| !d.extra.is_empty())) > 0);
        assert!(count(&|p| !p.optional_dependencies.is_empty()) > 0);
        assert_eq!(
            count(&|p| matches!(p.source_kind(), SourceKind::Local(_))),
            1
        );
        let artifacts = |f: &dyn Fn(&Artifacts) -> bool| count(&|p| f(&p.artifacts));
        assert!(
            artifacts(&|a| a.wheels.len() > 10 && a.wheels.iter().all(|w| w.hash.is_some())) > 10
        );
        assert!(artifacts(&|a| a.sdist.as_ref().is_some_and(|s| s.size.is_some())) > 300);
        // All but the project's own section take the fast path.
        let mut cursor = Cursor {
            text: &text,
            pos: section_start(&text, 0),
        };
        let mut fast = 0;
        while !cursor.at_end() {
            let start = cursor.pos;
            match cursor.package(None) {
                Some(_) => fast += 1,
                None => cursor.pos = section_start(&text, start + 1),
            }
        }
        assert_eq!(fast, lock.packages.len() - 1);
    }

    /// Sections the cursor does not follow are parsed as TOML, with the same result, and
    /// errors in them point into the whole file.
    #[test]
    fn unusual_sections_fall_back_to_toml() {
        let head = "version = 1\n\n[[package]]\nname = \"a\"\nversion = \"1\"\n";
        for section in [
            "source = { registry = \"https://x\" }\n",
            "source = { registry = \"https://x\" } # comment\n",
            "source = { git = \"https://g\\u0041\" }\n",
            "source = { registry = 'https://x' }\n",
            "dependencies = [{ name = \"b\", extra = [\"x\",] }, { name = \"c\" }]\n",
            "dependencies = [\n    { name = \"b\" },\n\n    { name = \"c\", marker = \"os_name == 'nt'\" }\n]\n",
            "wheels = [{ url = \"u\", hash = \"h\", size = 1_000 }]\n",
            "wheels = []\nsdist = { url = \"u\", size = 0, upload-time = 2024-01-01 }\n",
            "sdist = {}\n[package.optional-dependencies]\nx = []\n[package.dev-dependencies]\nd = [{ name = \"e\" }]\n",
            "[package.metadata]\nrequires-dist = [{ name = \"b\", specifier = \">=1\" }]\n",
            "  source = { registry = \"https://x\" }\n  [package.optional-dependencies]\nx = []\n",
            "source = { registry = \"https://x\" }\r\nwheels = [\r\n  { url = \"u\" },\r\n]\r\n   \n",
        ] {
            let text = format!("{head}{section}\n[[package]]\nname = \"z\"\n");
            assert_parses_like_toml(&text);
        }
        for bad in [
            "version = \"2\"\n",
            "sdist = { url = \"u\", url = \"v\" }\n",
            "wheels = [{ size = -1 }]\n",
            "dependencies = [{ marker = \"m\" }]\n",
            "[package.optional-dependencies]\nx = []\nx = []\n",
            "wheels = [\n  { url = \"u\" }\n  { url = \"v\" }\n]\n",
        ] {
            let text = format!("{head}{bad}");
            assert!(toml::from_str::<UvLock>(&text).is_err(), "{bad}");
            let e = UvLock::parse(&text).unwrap_err();
            assert!(
                e.span.unwrap().start >= head.find("[[package]]").unwrap(),
                "{bad}"
            );
        }
    }

    /// Small edits anywhere in a lock (a character replaced or removed, a line doubled or
    /// dropped): the fast path accepts what TOML accepts, reads it the same, refuses the rest.
    #[test]
    fn edited_locks_parse_like_toml() {
        let large = read("bench/large-lock/uv.lock");
        let start = large.find("[[package]]\nname = \"fastapi\"").unwrap();
        let end = start
            + large[start..]
                .find("[[package]]\nname = \"fastapi-cli\"")
                .unwrap();
        let small = read("testdata/uv-groups-extras/uv.lock");
        let project = small.find("[[package]]\nname = \"six\"").unwrap();
        let base = format!("version = 1\n\n{}{}", &large[start..end], &small[project..]);
        assert!(outcome(&base, true).is_some());
        let mut edits: Vec<&str> = "\" \\ , { } [ ] = 0 - # ' é \"\"".split(' ').collect();
        edits.extend([
            " ",
            "\n",
            "\t",
            "\r",
            "\u{7f}",
            "",
            "x = 1\n",
            ", a = 1",
            "[[package]]\n",
        ]);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..800 {
            let mut at = random(base.len());
            while !base.is_char_boundary(at) {
                at -= 1;
            }
            let line_start = base[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = base[at..].find('\n').map_or(base.len(), |i| at + i + 1);
            let text = match random(5) {
                0 => [&base[..line_end], &base[line_start..]].concat(),
                1 => [&base[..line_start], &base[line_end..]].concat(),
                _ => {
                    let mut end = (at + random(3)).min(base.len());
                    while !base.is_char_boundary(end) {
                        end += 1;
                    }
                    [&base[..at], edits[random(edits.len())], &base[end..]].concat()
                }
            };
            assert_eq!(outcome(&text, true), outcome(&text, false), "{text}");
        }
    }
}
