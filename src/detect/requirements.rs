//! pip requirements files: pins, `--hash` options, and `-r`/`-c` includes.
//!
//! Hand-written rather than `pep508_rs`: the plan needs only names, pins, hashes and includes,
//! and pip's file format (continuations, options, includes) is not PEP 508 anyway.

use crate::diag::Diagnostic;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequirementsFile {
    pub path: String,
    pub requirements: Vec<Requirement>,
    /// Files named by `-r`/`-c`, resolved relative to this file, in order.
    pub includes: Vec<String>,
    /// Global option lines (`--index-url …`, `--extra-index-url …`, `--find-links …`), which
    /// apply to every requirement of the install.
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirement {
    pub line: usize,
    /// Byte range of the requirement's logical line in the file (continuations included,
    /// line endings not).
    pub span: std::ops::Range<usize>,
    pub text: String,
    pub name: String,
    pub pinned: bool,
    pub hashes: Vec<String>,
    /// `-e` or a local path: needs the source, not just the file.
    pub local: bool,
}

/// One logical line: its first line's number, its byte range in the file, and its text with
/// continuations joined and the comment stripped.
struct LogicalLine {
    line: usize,
    span: std::ops::Range<usize>,
    text: String,
}

/// Joins `\` continuations and strips comments. Offsets come from the bytes themselves, so
/// `\r\n` line endings and non-ASCII text keep every span on the right characters.
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = (0, 0);
    let mut offset = 0;
    for (i, physical) in text.split_inclusive('\n').enumerate() {
        let at = offset;
        offset += physical.len();
        let raw = physical.trim_end_matches(['\n', '\r']);
        if current.is_empty() {
            start = (i + 1, at);
        }
        let line = match raw.find(" #").or_else(|| raw.starts_with('#').then_some(0)) {
            Some(pos) => &raw[..pos],
            None => raw,
        };
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let joined = current.trim();
        if !joined.is_empty() {
            out.push(LogicalLine {
                line: start.0,
                span: start.1..at + raw.len(),
                text: joined.to_owned(),
            });
        }
        current.clear();
    }
    if !current.trim().is_empty() {
        out.push(LogicalLine {
            line: start.0,
            span: start.1..text.len(),
            text: current.trim().to_owned(),
        });
    }
    out
}

fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

pub fn parse(path: &str, text: &str) -> Result<RequirementsFile, Diagnostic> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut file = RequirementsFile {
        path: path.to_owned(),
        ..Default::default()
    };
    for LogicalLine {
        line,
        span,
        text: content,
    } in logical_lines(text)
    {
        let mut words = content.split_whitespace().peekable();
        let first = *words.peek().expect("non-empty line");
        let include = ["-r", "--requirement", "-c", "--constraint"]
            .iter()
            .find_map(|flag| {
                if first == *flag {
                    content.split_whitespace().nth(1).map(str::to_owned)
                } else {
                    first
                        .strip_prefix(&format!("{flag}="))
                        .or_else(|| first.strip_prefix(flag).filter(|_| flag.len() == 2))
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                }
            });
        if let Some(inc) = include {
            file.includes.push(join(dir, &inc));
            continue;
        }
        let local = first == "-e"
            || first == "--editable"
            || first.starts_with('.')
            || first.starts_with('/');
        if first.starts_with('-') && !local {
            // Global options (--index-url, --extra-index-url, --no-binary, …) apply as written:
            // into the LLB, so never with a password in them.
            let redacted = crate::diag::redact_url_credentials(&content);
            if redacted != content {
                let mut d = Diagnostic::new(path, format!("`{redacted}` has credentials in it"))
                    .at(text, span)
                    .help("remove them: this line is stored in the build's LLB and cache, where anyone who can read them reads the password; give it with [python.index-secrets] in the recipe and `docker buildx build --secret` (docs/recipe.md#private-indexes)");
                d.redact_credentials();
                return Err(d);
            }
            file.options.push(content.clone());
            continue;
        }
        let mut req = Requirement {
            line,
            span: span.clone(),
            text: content.clone(),
            local,
            ..Default::default()
        };
        for word in content.split_whitespace() {
            if let Some(h) = word.strip_prefix("--hash=") {
                req.hashes.push(h.to_owned());
            }
        }
        let spec = content
            .split_whitespace()
            .find(|w| !w.starts_with('-'))
            .unwrap_or("");
        req.name = super::pyproject::requirement_name(spec);
        req.pinned = spec.contains("==") || spec.contains(" @ ") || content.contains(" @ ");
        if req.name.is_empty() && !local {
            return Err(
                Diagnostic::new(path, format!("cannot read requirement `{content}`"))
                    .at(text, span)
                    .help("write a PEP 508 requirement such as `requests==2.32.3`"),
            );
        }
        file.requirements.push(req);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pins_hashes_includes_and_continuations() {
        let text = "# top\n-r base.txt\n--index-url https://example.org/simple\nrequests==2.32.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb  # pinned\nflask>=3\n-e .\n";
        let f = parse("reqs/prod.txt", text).unwrap();
        assert_eq!(f.includes, vec!["reqs/base.txt"]);
        assert_eq!(f.requirements.len(), 3);
        let r = &f.requirements[0];
        assert_eq!((r.name.as_str(), r.pinned, r.line), ("requests", true, 4));
        assert_eq!(r.hashes, vec!["sha256:aa", "sha256:bb"]);
        assert!(!f.requirements[1].pinned);
        assert!(f.requirements[2].local);
    }

    #[test]
    fn credentials_in_option_lines_are_refused_and_never_shown() {
        let text = "--extra-index-url https://bob:hunter2@pkgs.example.com/simple\nsix==1.17.0\n";
        let d = parse("requirements.txt", text).unwrap_err();
        let shown = d.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("https://***@pkgs.example.com/simple"),
            "{shown}"
        );
        assert_eq!(d.line_col(), Some((1, 1)));
        assert!(
            parse(
                "requirements.txt",
                "--index-url https://pkgs.example.com/a@b\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn include_paths_resolve_relative_to_the_file() {
        let f = parse(
            "requirements/dev.txt",
            "-r ../requirements.txt\n-c=constraints.txt\n",
        )
        .unwrap();
        assert_eq!(
            f.includes,
            vec!["requirements.txt", "requirements/constraints.txt"]
        );
    }

    #[test]
    fn crlf_and_non_ascii_locations_come_from_the_bytes() {
        let text = "# é – ü\r\nrequests==2.32.3 \\\r\n  --hash=sha256:aa\r\n€€€ bad\r\n";
        let d = parse("requirements.txt", text).unwrap_err();
        assert_eq!(d.line_col(), Some((4, 1)));
        assert!(d.to_string().contains("4 | €€€ bad\n"), "{d}");
        let ok = parse("requirements.txt", &text.replace("€€€ bad", "flask==3")).unwrap();
        let r = &ok.requirements[0];
        assert_eq!(
            &text[r.span.clone()],
            "requests==2.32.3 \\\r\n  --hash=sha256:aa"
        );
    }
}
