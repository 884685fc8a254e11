//! Diagnostics: errors that point at a line of an input file, collected rather than thrown one at
//! a time, and rendered like rustc's (`file:line:col`, the line, a caret, a hint).

use std::fmt;
use std::ops::Range;

/// One problem in one input file (the recipe, `pyproject.toml`, `uv.lock`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// Byte range in `source`; `None` when the problem has no location (a missing file).
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: Option<String>,
    /// The text of the file the span refers to, for rendering the offending line.
    source: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            span: None,
            message: message.into(),
            help: None,
            source: None,
        }
    }

    pub fn at(mut self, source: &str, span: Range<usize>) -> Self {
        self.source = Some(source.to_owned());
        self.span = Some(span);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column of the span's start.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (source, span) = (self.source.as_deref()?, self.span.as_ref()?);
        let start = span.start.min(source.len());
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some((line, col))
    }

    /// `file:line:col` (or just `file`), the form editors and CI logs link.
    pub fn location(&self) -> String {
        match self.line_col() {
            Some((line, col)) => format!("{}:{line}:{col}", self.file),
            None => self.file.clone(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "  --> {}", self.location())?;
        if let (Some(source), Some(span), Some((line, col))) =
            (&self.source, &self.span, self.line_col())
        {
            let text = source.lines().nth(line - 1).unwrap_or("");
            let gutter = line.to_string().len();
            let width = source[span.start.min(source.len())..span.end.min(source.len())]
                .lines()
                .next()
                .map_or(1, |s| s.chars().count().max(1));
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{line} | {text}")?;
            writeln!(
                f,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(col - 1),
                "^".repeat(width)
            )?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// All the problems found in one pass, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was reported, else all the problems, sorted by file and position.
    pub fn finish<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            self.0
                .sort_by_key(|d| (d.file.clone(), d.span.as_ref().map(|s| s.start)));
            Err(self)
        }
    }

    /// The first problem's `file:line:col: message`, for one-line contexts (gRPC status).
    pub fn summary(&self) -> String {
        let first = &self.0[0];
        let more = match self.0.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        format!("{}: {}{more}", first.location(), first.message)
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(f, "\n{n} error{} found\n", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The closest known name to a misspelt one, for "did you mean" hints.
pub fn did_you_mean<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(given, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}
