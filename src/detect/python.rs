//! Which Python the default base image should carry: `.python-version` if present, else the
//! newest CPython release line that `requires-python` allows.

/// Release lines with official `python:3.X-slim` images, newest first.
const KNOWN_MINORS: &[u32] = &[13, 12, 11, 10, 9];
pub const FALLBACK: &str = "3.12";

/// `"3.12"` for `.python-version` text `3.12.4`, or the newest known line that satisfies
/// `requires_python`.
pub fn choose(python_version_file: Option<&str>, requires_python: Option<&str>) -> String {
    if let Some(text) = python_version_file
        && let Some(line) = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut parts = line.trim_start_matches("cpython-").split('.');
        if let (Some(a), Some(b)) = (parts.next(), parts.next())
            && a.parse::<u32>().is_ok()
            && let Ok(minor) = b.parse::<u32>()
        {
            return format!("{a}.{minor}");
        }
    }
    if let Some(spec) = requires_python {
        for &minor in KNOWN_MINORS {
            if satisfies(spec, minor) {
                return format!("3.{minor}");
            }
        }
    }
    FALLBACK.to_owned()
}

fn parse_version(v: &str) -> Vec<u32> {
    v.split('.').map_while(|p| p.parse().ok()).collect()
}

/// Whether the latest patch release of 3.`minor` satisfies a PEP 440 specifier set.
fn satisfies(spec: &str, minor: u32) -> bool {
    let have = [3, minor, 999];
    spec.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .all(|clause| {
            let op_end = clause
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(clause.len());
            let (op, version) = (clause[..op_end].trim(), clause[op_end..].trim());
            let wildcard = version.ends_with(".*");
            let want = parse_version(version.trim_end_matches(".*"));
            let prefix_eq = || have.iter().zip(&want).all(|(h, w)| h == w);
            let cmp = have[..want.len().min(3)].cmp(&want[..want.len().min(3)]);
            match op {
                ">=" => cmp.is_ge(),
                ">" => cmp.is_gt() || (cmp.is_eq() && want.len() < 3),
                "<=" => cmp.is_le(),
                "<" => cmp.is_lt(),
                "==" | "===" if wildcard => prefix_eq(),
                "==" | "===" => prefix_eq() && want.len() <= 2,
                "!=" => !prefix_eq(),
                "~=" => cmp.is_ge() && have[..want.len() - 1] == want[..want.len() - 1],
                _ => true,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_allowed_line() {
        assert_eq!(choose(None, Some(">=3.11")), "3.13");
        assert_eq!(choose(None, Some(">=3.10,<3.12")), "3.11");
        assert_eq!(choose(None, Some("==3.10.*")), "3.10");
        assert_eq!(choose(None, Some("~=3.9")), "3.13");
        assert_eq!(choose(None, Some(">=3.11, !=3.13.*")), "3.12");
        assert_eq!(choose(Some("3.11.7\n"), Some(">=3.9")), "3.11");
        assert_eq!(choose(None, None), FALLBACK);
    }
}
