//! The standard parsers (image references, `requires-python`, PEP 508 requirements and
//! markers) on randomly edited inputs: they may refuse anything, but never panic, and what they
//! accept prints back to something they accept the same way.

use pycache::detect::freshness::requirement_key;
use pycache::detect::python;
use pycache::image_ref::ImageRef;
use pycache::lock::markers;

/// Small edits of each seed: a character replaced, inserted or removed, a slice doubled.
fn edits(seeds: &[&str], count: usize) -> Vec<String> {
    let pieces = [
        "", " ", "\n", "\t", ",", ";", ":", "@", "/", ".", "*", "=", "==", ">=", "~=", "!", "[",
        "]", "(", ")", "'", "\"", "-", "_", "0", "9", "a", "Z", "é", "\u{0}", "sha256:", " and ",
        " or ", "extra", "3.", "..",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let base: Vec<char> = seeds[i % seeds.len()].chars().collect();
        let at = random(base.len() + 1);
        let end = (at + random(3)).min(base.len());
        let head: String = base[..at].iter().collect();
        let mid: String = base[at..end].iter().collect();
        let tail: String = base[end..].iter().collect();
        out.push(match random(4) {
            0 => format!("{head}{tail}"),
            1 => format!("{head}{mid}{mid}{tail}"),
            _ => format!("{head}{}{tail}", pieces[random(pieces.len())]),
        });
    }
    out
}

#[test]
fn image_references() {
    let seeds = [
        "python:3.12-slim",
        "ghcr.io/astral-sh/uv:0.9.9",
        "localhost:5000/team/app:1@sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa",
        "[fc00::1]:5000/docker",
    ];
    for input in edits(&seeds, 3000) {
        if let Ok(r) = ImageRef::parse(&input) {
            let again = ImageRef::parse(&r.to_string())
                .unwrap_or_else(|e| panic!("{input:?} → {r} does not parse: {e}"));
            assert_eq!(again, r, "{input:?}");
        }
    }
}

#[test]
fn requires_python() {
    let seeds = [">=3.10,<3.13", "~=3.11.0", "==3.12.*", ">=3.8, !=3.9.*"];
    for input in edits(&seeds, 3000) {
        let chosen = python::choose(None, Some(&input));
        assert!(chosen.starts_with("3."), "{input:?}: {chosen}");
        if let Ok(line) = python::line_for(&input) {
            assert_eq!(chosen, line, "{input:?}");
        }
    }
}

#[test]
fn requirements() {
    let seeds = [
        "Flask[async,dotenv]>=2.0,<3; python_version < '3.12'",
        "foo @ https://example.com/foo-1.0-py3-none-any.whl ; sys_platform == 'linux'",
        "zope.interface ~= 6.0",
        "requests (>=2.31, !=2.32.*)",
    ];
    for input in edits(&seeds, 3000) {
        if let Ok(key) = requirement_key(&input) {
            let again = requirement_key(&format!("{key}{}", spec(&key.constraint())))
                .unwrap_or_else(|e| panic!("{input:?} → {key}: {e}"));
            assert_eq!(again, key, "{input:?}");
        }
    }
}

fn spec(constraint: &str) -> &str {
    if constraint == "any version" {
        ""
    } else {
        constraint
    }
}

#[test]
fn markers() {
    let seeds = [
        "python_full_version >= '3.10' and sys_platform == 'linux'",
        "platform_machine == 'x86_64' or extra == 'cli'",
        "(os_name == 'nt' and python_version < '3.11') or implementation_name != 'pypy'",
    ];
    for input in edits(&seeds, 3000) {
        if let Some(m) = markers::parse(&input) {
            // Printed, parsed and printed again gives the same text. (Not always an equal
            // marker: deprecated spellings such as `platform.machine` print in the new form but
            // stay distinct variables in the tree.)
            let printed = markers::to_text(&m).unwrap_or_default();
            let again = markers::parse(&printed).unwrap_or_else(|| panic!("{input:?} → {printed}"));
            assert_eq!(
                markers::to_text(&again).unwrap_or_default(),
                printed,
                "{input:?}"
            );
        }
    }
}

/// The lock readers parse through the same guard: these panicked inside `pep508_rs`.
#[test]
fn lock_markers_that_panicked_are_unparsable() {
    for m in ["python_version < '3.11'é", "extra == ''cli'é"] {
        assert!(pycache::lock::markers::parse(m).is_none(), "{m:?}");
    }
}
