//! The fast reader of `uv.lock`: one pass over the text, package sections and their artifact
//! lines read by hand; anything it does not follow exactly is handed to the TOML parser.

use super::*;

/// How deep the fast reader follows nested arrays and inline tables.
const MAX_NESTING: usize = 16;

/// Where the first `[[package]]` line at or after `from` begins, or the end.
pub(super) fn section_start(text: &str, from: usize) -> usize {
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
pub(super) fn is_package_header(line: &str) -> bool {
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
pub(super) fn toml_package(section: &str, offset: usize) -> Result<LockedPackage, LockError> {
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
pub(super) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    pub(super) fn at_end(&self) -> bool {
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
                "path" => artifact.path = Some(c.string()?),
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
    pub(super) fn package(
        &mut self,
        mut artifacts: Option<&mut Artifacts>,
    ) -> Option<LockedPackage> {
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
    path: Option<&'a str>,
    hash: Option<&'a str>,
    size: Option<u64>,
}

impl ArtifactText<'_> {
    fn to_artifact(&self) -> Artifact {
        Artifact {
            url: self.url.map(str::to_owned),
            path: self.path.map(str::to_owned),
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
