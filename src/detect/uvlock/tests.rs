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
    let count = |f: &dyn Fn(&LockedPackage) -> bool| lock.packages.iter().filter(|p| f(p)).count();
    assert!(count(&|p| p.dependencies.iter().any(|d| d.marker.is_some())) > 10);
    assert!(count(&|p| p.dependencies.iter().any(|d| !d.extra.is_empty())) > 0);
    assert!(count(&|p| !p.optional_dependencies.is_empty()) > 0);
    assert_eq!(
        count(&|p| matches!(p.source_kind(), SourceKind::Local(_))),
        1
    );
    let artifacts = |f: &dyn Fn(&Artifacts) -> bool| count(&|p| f(&p.artifacts));
    assert!(artifacts(&|a| a.wheels.len() > 10 && a.wheels.iter().all(|w| w.hash.is_some())) > 10);
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
