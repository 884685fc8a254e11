//! Poetry's version constraints (`^1.2`, `~1.2`, `1.*`, `>=1,<2 || 3`) as PEP 440 specifier sets.

use std::str::FromStr;

use pep508_rs::pep440_rs::{Version, VersionSpecifiers};

/// A Poetry version constraint as PEP 440 specifier sets, one per `||` alternative:
/// `^1.2` is `>=1.2,<2.0`, `~1.2` is `>=1.2,<1.3`, a bare version is `==`; `*` is any
/// (no alternatives). `None` when it cannot be read.
pub fn poetry_constraint(text: &str) -> Option<Vec<VersionSpecifiers>> {
    let text = text.trim();
    if text.is_empty() || text == "*" {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for alternative in text.split("||").flat_map(|a| a.split('|')) {
        // Clauses are separated by commas or spaces; an operator may stand apart from its
        // version (`>= 1.2`).
        let mut clauses: Vec<String> = Vec::new();
        let mut pending = String::new();
        for word in alternative.split([',', ' ']).filter(|w| !w.is_empty()) {
            pending.push_str(word);
            if word.chars().all(|c| "<>=!~^".contains(c)) {
                continue;
            }
            clauses.push(std::mem::take(&mut pending));
        }
        let mut pep440: Vec<String> = Vec::new();
        for clause in clauses {
            if clause == "*" {
                continue;
            }
            if let Some(v) = clause.strip_prefix('^') {
                pep440.push(format!(">={v}"));
                pep440.push(format!("<{}", caret_bound(v)?));
            } else if let Some(v) = clause.strip_prefix('~').filter(|v| !v.starts_with('=')) {
                pep440.push(format!(">={v}"));
                pep440.push(format!("<{}", tilde_bound(v)?));
            } else if clause.starts_with(['<', '>', '=', '!', '~']) {
                pep440.push(clause);
            } else {
                pep440.push(format!("=={clause}"));
            }
        }
        if pep440.is_empty() {
            return Some(Vec::new());
        }
        out.push(VersionSpecifiers::from_str(&pep440.join(",")).ok()?);
    }
    Some(out)
}

/// The release numbers of a version (`1.2.3` → `[1, 2, 3]`).
fn release(v: &str) -> Option<Vec<u64>> {
    Some(Version::from_str(v).ok()?.release().to_vec())
}

/// `^v`'s upper bound: the first non-zero release number goes up.
fn caret_bound(v: &str) -> Option<String> {
    let r = release(v)?;
    let first = r.iter().position(|&n| n != 0).unwrap_or(r.len() - 1);
    Some(bump(&r, first))
}

/// `~v`'s upper bound: the minor goes up (the major with a one-number version).
fn tilde_bound(v: &str) -> Option<String> {
    let r = release(v)?;
    Some(bump(&r, if r.len() > 1 { 1 } else { 0 }))
}

/// `release` up to `at`, with `at` incremented: `bump([1, 2, 3], 1)` is `1.3`.
fn bump(release: &[u64], at: usize) -> String {
    let mut parts: Vec<u64> = release[..=at].to_vec();
    parts[at] += 1;
    if parts.len() == 1 {
        parts.push(0);
    }
    let parts: Vec<String> = parts.iter().map(u64::to_string).collect();
    parts.join(".")
}
