//! Diagnostics: errors that point at a line of an input file, collected rather than thrown one at
//! a time, and rendered like rustc's (`file:line:col`, the line, a caret, a hint).
//!
//! Bounded whatever the input: a diagnostic keeps only its line's excerpt (cut around the
//! caret), never the file; a collection keeps the first [`MAX_KEPT`] problems and counts the
//! rest; rendering shows [`MAX_SHOWN`]. Input text is user-controlled, so offsets are clamped to
//! character boundaries and control characters are escaped before they reach a terminal.

use std::fmt;
use std::ops::Range;

/// Problems kept in one [`Diagnostics`]; past it they are only counted.
pub const MAX_KEPT: usize = 100;
/// Problems rendered in full; the rest are summed up in one line.
pub const MAX_SHOWN: usize = 20;
/// Characters of a message or hint shown: they quote values from the input, which can be long.
const MAX_MESSAGE: usize = 300;
/// Characters of the offending line shown before the caret, and in all.
const EXCERPT_BEFORE: usize = 40;
const EXCERPT_WIDTH: usize = 100;

/// One problem in one input file (the recipe, `pyproject.toml`, `uv.lock`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// Byte range in the file's text; `None` when the problem has no location (a missing file).
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: Option<String>,
    /// Where the span is and the text around it, for rendering.
    excerpt: Option<Box<Excerpt>>,
}

/// The located line of a diagnostic: its number, the caret's column, and the line's text cut
/// to at most [`EXCERPT_WIDTH`] characters around the caret.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Excerpt {
    line: usize,
    /// 1-based, in characters of the whole line.
    col: usize,
    /// The shown part of the line, control characters replaced.
    text: String,
    /// Characters of `text` before the caret, and the caret's width.
    caret: usize,
    width: usize,
}

/// Line starts of one text, computed once for the many diagnostics that may point into it.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// 1-based line of byte `offset` and that line's first byte.
    fn locate(&self, offset: usize) -> (usize, usize) {
        let i = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        (i + 1, self.starts[i])
    }
}

/// The largest character boundary at or before `offset`, within `text`.
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The smallest character boundary at or after `offset`, within `text`.
fn ceil_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset += 1;
    }
    offset
}

/// Characters in `bytes` (valid UTF-8): every byte that does not continue a character.
fn char_count(s: &str) -> usize {
    s.bytes().filter(|b| b & 0xC0 != 0x80).count()
}

/// `c` as shown in an excerpt: one character, so the caret stays aligned.
fn visible(c: char) -> char {
    match c {
        '\t' => ' ',
        c if c.is_control() => '\u{FFFD}',
        c => c,
    }
}

impl Excerpt {
    fn new(text: &str, span: &Range<usize>, line: usize, line_start: usize) -> Self {
        let start = floor_boundary(text, span.start);
        let end = ceil_boundary(text, span.end.max(start));
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let line_text = text[line_start..line_end]
            .strip_suffix('\r')
            .unwrap_or(&text[line_start..line_end]);
        let before = char_count(&text[line_start..start.min(line_start + line_text.len())]);
        let span_chars = char_count(&text[start..end.min(line_start + line_text.len()).max(start)]);
        let skip = before.saturating_sub(EXCERPT_BEFORE);
        let mut shown: String = line_text
            .chars()
            .skip(skip)
            .take(EXCERPT_WIDTH)
            .map(visible)
            .collect();
        let mut caret = before - skip;
        if skip > 0 {
            shown.insert(0, '…');
            caret += 1;
        }
        if char_count(line_text) > skip + EXCERPT_WIDTH {
            shown.push('…');
        }
        let room = char_count(&shown).saturating_sub(caret).max(1);
        Self {
            line,
            col: before + 1,
            text: shown,
            caret,
            width: span_chars.clamp(1, room),
        }
    }
}

impl Diagnostic {
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            span: None,
            message: message.into(),
            help: None,
            excerpt: None,
        }
    }

    /// Points at `span` of `source`, the file's text. Scans the text up to the span once; for
    /// many diagnostics into one large text, use [`Diagnostic::at_index`].
    pub fn at(mut self, source: &str, span: Range<usize>) -> Self {
        let start = floor_boundary(source, span.start);
        let line = source[..start].matches('\n').count() + 1;
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        self.excerpt = Some(Box::new(Excerpt::new(source, &span, line, line_start)));
        self.span = Some(span);
        self
    }

    /// [`Diagnostic::at`] with the text's lines already found.
    pub fn at_index(mut self, index: &LineIndex, span: Range<usize>) -> Self {
        let start = floor_boundary(index.text, span.start);
        let (line, line_start) = index.locate(start);
        self.excerpt = Some(Box::new(Excerpt::new(index.text, &span, line, line_start)));
        self.span = Some(span);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Hides the `user:password@` of every URL in the excerpt (as `***@`): the line shown
    /// under a message about credentials must not repeat them into a build log.
    pub fn redact_credentials(&mut self) {
        if let Some(e) = &mut self.excerpt {
            let redacted = redact_url_credentials(&e.text);
            if redacted != e.text {
                e.text = redacted;
                let room = char_count(&e.text).saturating_sub(e.caret).max(1);
                e.width = e.width.min(room);
            }
        }
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.excerpt.as_ref().map(|e| (e.line, e.col))
    }

    /// `file:line:col` (or just `file`), the form editors and CI logs link.
    pub fn location(&self) -> String {
        let file = shown(&self.file);
        match self.line_col() {
            Some((line, col)) => format!("{file}:{line}:{col}"),
            None => file,
        }
    }
}

/// `text` with the user information of every `scheme://user:password@host` replaced by `***`;
/// an authority cut off by the end of the text (an excerpt's `…`) is hidden whole.
pub fn redact_url_credentials(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| "/?#\"' ".contains(c) || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        if let Some((_, host)) = authority.rsplit_once('@') {
            out.push_str("***@");
            out.push_str(host);
        } else if end == tail.len() && authority.ends_with('…') {
            out.push_str("***…");
        } else {
            out.push_str(authority);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `s` as shown in a message: control characters escaped, and past [`MAX_MESSAGE`] characters
/// its middle cut out (a long value quoted in it), keeping how it starts and the reason it
/// ends with.
fn shown(s: &str) -> String {
    let s = escape_controls(s);
    let n = s.chars().count();
    if n <= MAX_MESSAGE {
        return s;
    }
    let keep = MAX_MESSAGE / 2;
    let head: String = s.chars().take(keep).collect();
    let tail: String = s.chars().skip(n - keep).collect();
    format!("{head}…({} characters cut)…{tail}", n - 2 * keep)
}

/// `s` with control characters written as escapes: input text must not drive the terminal or
/// break a log line.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", shown(&self.message))?;
        writeln!(f, "  --> {}", self.location())?;
        if let Some(e) = &self.excerpt {
            let gutter = e.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", e.line, e.text)?;
            writeln!(
                f,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(e.caret),
                "^".repeat(e.width)
            )?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {}", shown(help))?;
        }
        Ok(())
    }
}

/// All the problems found in one pass, in source order: the first [`MAX_KEPT`] of them, and how
/// many more there were.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    omitted: usize,
}

impl Diagnostics {
    /// Keeps `d`, or only counts it once [`MAX_KEPT`] problems are kept.
    pub fn push(&mut self, d: Diagnostic) {
        if self.is_full() {
            self.omitted += 1;
        } else {
            self.items.push(d);
        }
    }

    /// Whether a new problem would only be counted: callers with many may skip building it.
    pub fn is_full(&self) -> bool {
        self.items.len() >= MAX_KEPT
    }

    /// Counts a problem that was not built (see [`Self::is_full`]).
    pub fn count_omitted(&mut self) {
        self.omitted += 1;
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.items {
            self.push(d);
        }
        self.omitted += other.omitted;
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.omitted == 0
    }

    /// Every problem found, kept or not.
    pub fn len(&self) -> usize {
        self.items.len() + self.omitted
    }

    /// The problems kept.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn first(&self) -> Option<&Diagnostic> {
        self.items.first()
    }

    /// The problem kept last, to add to it (`None` when it was only counted).
    pub fn last_mut(&mut self) -> Option<&mut Diagnostic> {
        if self.omitted > 0 {
            return None;
        }
        self.items.last_mut()
    }

    /// `Ok(value)` when nothing was reported, else all the problems, sorted by file and position.
    pub fn finish<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            self.items.sort_by(|a, b| {
                (&a.file, a.span.as_ref().map(|s| s.start))
                    .cmp(&(&b.file, b.span.as_ref().map(|s| s.start)))
            });
            Err(self)
        }
    }

    /// The first problem's `file:line:col: message`, for one-line contexts (gRPC status).
    pub fn summary(&self) -> String {
        let Some(first) = self.items.first() else {
            return format!("{} problems", self.omitted);
        };
        let more = match self.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        format!("{}: {}{more}", first.location(), shown(&first.message))
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        let mut all = Self::default();
        for d in iter {
            all.push(d);
        }
        all
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self {
            items: vec![d],
            omitted: 0,
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().take(MAX_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.len();
        let shown = self.items.len().min(MAX_SHOWN);
        if n > shown {
            write!(
                f,
                "\n… and {} more error{} not shown: fix these first",
                n - shown,
                if n - shown == 1 { "" } else { "s" }
            )?;
        }
        write!(f, "\n{n} error{} found\n", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The closest known name to a misspelt one, for "did you mean" hints.
pub fn did_you_mean<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    // Long names are never typos of the short ones known here, and comparing them costs.
    if given.len() > 64 {
        return None;
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(given, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, span: Range<usize>) -> String {
        Diagnostic::new("f", "m").at(text, span).to_string()
    }

    #[test]
    fn crlf_and_non_ascii_point_at_the_right_character() {
        let text = "a = 1\r\nbé = \"x\"\r\nc = ?\r\n";
        let offset = text.find('?').unwrap();
        let d = Diagnostic::new("f", "m").at(text, offset..offset + 1);
        assert_eq!(d.line_col(), Some((3, 5)));
        assert!(render(text, offset..offset + 1).contains("3 | c = ?\n  |     ^\n"));
        let index = LineIndex::new(text);
        let e = Diagnostic::new("f", "m").at_index(&index, offset..offset + 1);
        assert_eq!(d, e);
    }

    #[test]
    fn spans_inside_characters_or_past_the_end_never_panic() {
        let text = "é\r\n€€\n";
        for start in 0..text.len() + 3 {
            for end in 0..text.len() + 3 {
                let out = render(text, start..end);
                assert!(out.contains("--> f:"), "{out}");
            }
        }
        assert!(render("", 5..9).contains("f:1:1"));
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let line = format!("k = [{}BAD{}]", "1, ".repeat(5000), ", 2".repeat(5000));
        let at = line.find("BAD").unwrap();
        let out = render(&line, at..at + 3);
        assert!(out.len() < 400, "{}", out.len());
        let lines: Vec<&str> = out.lines().collect();
        let text_col = lines[3].find("BAD").unwrap();
        let caret_col = lines[4].find('^').unwrap();
        assert_eq!(
            lines[3][..text_col].chars().count(),
            lines[4][..caret_col].chars().count()
        );
        assert!(lines[4].ends_with("^^^"));
        assert!(out.contains(&format!("f:1:{}", at + 1)));
    }

    #[test]
    fn control_characters_are_escaped() {
        let text = "x = \"\u{1b}[31mred\0\"\n";
        let out = Diagnostic::new("f", "bad `\u{1b}[31m`")
            .help("\u{7}")
            .at(text, 4..10)
            .to_string();
        assert!(!out.contains('\u{1b}') && !out.contains('\0') && !out.contains('\u{7}'));
        assert!(out.contains("\\u{1b}[31m"), "{out}");
    }

    #[test]
    fn collections_keep_a_bounded_number_and_count_the_rest() {
        let text = "k\n".repeat(10_000);
        let index = LineIndex::new(&text);
        let mut all = Diagnostics::default();
        for i in 0..10_000 {
            all.push(Diagnostic::new("f", "unknown").at_index(&index, 2 * i..2 * i + 1));
        }
        assert_eq!(all.len(), 10_000);
        assert_eq!(all.iter().count(), MAX_KEPT);
        let out = all.to_string();
        assert!(out.contains("… and 9980 more errors not shown"), "{out}");
        assert!(out.ends_with("10000 errors found\n"));
        assert!(out.len() < 4000, "{}", out.len());
        assert!(all.summary().ends_with("(and 9999 more)"));
    }
}
