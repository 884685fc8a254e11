use super::content_hash::{python_float, write_value};
use super::*;
use crate::testing::{self, fixture, names};

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

fn target(python: Option<&str>) -> Target {
    testing::target("linux/amd64", python)
}

fn selection(groups: &[&str], extras: &[&str], root: Option<&str>) -> Selection {
    Selection {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        extras: extras.iter().map(|e| (*e).to_owned()).collect(),
        root: root.map(str::to_owned),
    }
}

#[test]
fn content_hashes_are_poetry_s() {
    // Written by Poetry 2.5.1 ([project] and [tool.poetry.group]) and 1.8.5 ([tool.poetry]
    // only, legacy keys as null).
    for dir in [
        "testdata/poetry-app",
        "testdata/poetry-no-package",
        "tests/fixtures/locks/poetry-1.8",
        "tests/fixtures/locks/poetry-2",
    ] {
        let lock = PoetryLock::parse(&fixture(&format!("{dir}/poetry.lock"))).unwrap();
        let pyproject = table(&fixture(&format!("{dir}/pyproject.toml")));
        assert_eq!(
            Some(content_hash(&pyproject, true)),
            lock.metadata.content_hash,
            "{dir}"
        );
        assert!(lock.is_fresh(&pyproject), "{dir}");
    }
}

#[test]
fn a_changed_dependency_section_makes_the_lock_stale() {
    let lock = PoetryLock::parse(&fixture("testdata/poetry-app/poetry.lock")).unwrap();
    let text = fixture("testdata/poetry-app/pyproject.toml");
    // The version and the description are not hashed; dependencies are.
    let bumped = text.replace("version = \"0.1.0\"", "version = \"0.2.0\"");
    assert!(lock.is_fresh(&table(&bumped)));
    let added = text.replace("\"six (>=1.16)\"", "\"six (>=1.16)\", \"click\"");
    assert!(!lock.is_fresh(&table(&added)));
    let group = format!("{text}\n[dependency-groups]\nlint = [\"ruff\"]\n");
    assert!(!lock.is_fresh(&table(&group)));
    // A lock of Poetry before 2.3 did not hash [dependency-groups].
    let mut old = lock.clone();
    old.generated_by = Some("2.1.3".into());
    old.metadata.content_hash = Some(content_hash(&table(&group), false));
    assert!(old.is_fresh(&table(&group)));
    old.generated_by = Some("2.3.0".into());
    assert!(!old.is_fresh(&table(&group)));
    old.metadata.content_hash = None;
    assert!(!old.is_fresh(&table(&text)));
}

#[test]
fn json_is_written_as_python_writes_it() {
    let value = |text: &str| {
        let t = table(&format!("v = {text}"));
        let mut out = String::new();
        write_value(&t["v"], &mut out);
        out
    };
    assert_eq!(value("\"a\\\"b\\\\c\\n\""), r#""a\"b\\c\n""#);
    assert_eq!(value("\"é😀\\u0001\""), r#""\u00e9\ud83d\ude00\u0001""#);
    assert_eq!(
        value("{ b = 1, a = [true, 1.5] }"),
        r#"{"a": [true, 1.5], "b": 1}"#
    );
    for (f, repr) in [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (1e16, "1e+16"),
        (123456789.0, "123456789.0"),
        (-2.5, "-2.5"),
        (1e15, "1000000000000000.0"),
    ] {
        assert_eq!(python_float(f), repr, "{f}");
    }
}

#[test]
fn poetry_constraints_read_as_pep_440() {
    let spec = |c: &str| -> Vec<String> {
        poetry_constraint(c)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(spec("^1.2.3"), [">=1.2.3, <2.0"]);
    assert_eq!(spec("^0.2.3"), [">=0.2.3, <0.3"]);
    assert_eq!(spec("^0.0.3"), [">=0.0.3, <0.0.4"]);
    assert_eq!(spec("^3.11"), [">=3.11, <4.0"]);
    assert_eq!(spec("~1.2.3"), [">=1.2.3, <1.3"]);
    assert_eq!(spec("~1"), [">=1, <2.0"]);
    assert_eq!(spec(">= 1.5, <2"), [">=1.5, <2"]);
    assert_eq!(spec(">=1.5 <2"), [">=1.5, <2"]);
    assert_eq!(spec("1.2.3"), ["==1.2.3"]);
    assert_eq!(spec("<3.9 || >=3.11"), ["<3.9", ">=3.11"]);
    assert!(spec("*").is_empty());
    assert_eq!(poetry_constraint("^x"), None);
}

#[test]
fn lock_2_1_installs_the_selected_groups_and_extras() {
    let lock = PoetryLock::parse(&fixture("testdata/poetry-app/poetry.lock")).unwrap();
    let pyproject = PyProject::parse(&fixture("testdata/poetry-app/pyproject.toml")).unwrap();
    assert!(lock.has_groups_and_markers());
    let t = target(Some("3.11.2"));
    let main = select(
        &lock,
        &pyproject,
        &selection(&["main"], &[], Some("greet")),
        &t,
    )
    .unwrap();
    assert_eq!(names(&main), ["idna==3.20", "six==1.17.0"]);
    assert_eq!(main.locals[0].path, ".");
    assert!(main.packages.iter().all(|p| p.marker.is_none()));
    assert!(main.packages.iter().all(|p| p.hashes.len() == 2));
    let all = select(
        &lock,
        &pyproject,
        &selection(&["main", "dev"], &["fast"], None),
        &t,
    )
    .unwrap();
    let all_names = names(&all);
    assert!(all_names.iter().any(|n| n.starts_with("certifi==")));
    assert!(all_names.iter().any(|n| n.starts_with("pytest==")));
    // colorama is a dev dependency on Windows only.
    assert!(!all_names.iter().any(|n| n.starts_with("colorama")));
    assert!(all.excluded.contains(&"colorama".to_owned()));
    assert!(all.locals.is_empty());
}

#[test]
fn older_locks_are_walked_to_the_same_packages_as_2_1_locks() {
    // The same project locked by Poetry 1.8 (format 2.0: a graph) and 2.5 (format 2.1:
    // groups and markers).
    let dir = "tests/fixtures/locks";
    let pyproject = PyProject::parse(&fixture(&format!("{dir}/poetry-2/pyproject.toml"))).unwrap();
    let old = PoetryLock::parse(&fixture(&format!("{dir}/poetry-1.8/poetry.lock"))).unwrap();
    let new = PoetryLock::parse(&fixture(&format!("{dir}/poetry-2/poetry.lock"))).unwrap();
    assert_eq!(old.version(), (2, 0));
    assert!(!old.has_groups_and_markers());
    for python in [Some("3.11.4"), Some("3.13.0"), None] {
        let t = target(python);
        for (groups, extras) in [
            (&["main"][..], &[][..]),
            (&["main"], &["http"]),
            (&["main", "dev"], &[]),
            (&["dev"], &[]),
            (&["main", "dev"], &["http"]),
        ] {
            let sel = selection(groups, extras, Some("old-app"));
            let a = select(&old, &pyproject, &sel, &t).unwrap();
            let b = select(&new, &pyproject, &sel, &t).unwrap();
            assert_eq!(names(&a), names(&b), "{groups:?} {extras:?} {python:?}");
            assert!(!names(&a).is_empty() || groups == ["dev"]);
        }
    }
    let sel = selection(&["main"], &["http"], None);
    let env = select(&old, &pyproject, &sel, &target(None)).unwrap();
    assert!(names(&env).iter().any(|n| n.starts_with("certifi==")));
}

#[test]
fn sources_become_urls_and_local_paths() {
    let text = r#"
[[package]]
name = "lib"
version = "1.0"
optional = false
groups = ["main"]
files = []
[package.source]
type = "directory"
url = "libs/lib"

[[package]]
name = "httpx"
version = "0.28.1"
optional = false
groups = ["main"]
files = []
[package.source]
type = "git"
url = "https://github.com/encode/httpx"
reference = "master"
resolved_reference = "4b5a92e"

[[package]]
name = "torch"
version = "2.5.1+cpu"
optional = false
groups = ["main"]
markers = { main = "sys_platform == \"linux\"" }
files = [
{file = "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl", hash = "sha256:aa"},
{file = "torch-2.5.1+cpu-cp311-cp311-win_amd64.whl", hash = "sha256:bb"},
]
[package.source]
type = "legacy"
url = "https://download.pytorch.org/whl/cpu"
reference = "torch-cpu"

[[package]]
name = "outside"
version = "1.0"
optional = false
groups = ["dev"]
files = []
[package.source]
type = "directory"
url = "../outside"

[metadata]
lock-version = "2.1"
python-versions = ">=3.11"
content-hash = "x"
"#;
    let lock = PoetryLock::parse(text).unwrap();
    let t = target(Some("3.11.2"));
    let env = select(
        &lock,
        &PyProject::default(),
        &selection(&["main"], &[], None),
        &t,
    )
    .unwrap();
    assert_eq!(
        env.locals,
        [LocalPackage {
            name: "lib".into(),
            path: "libs/lib".into()
        }]
    );
    let httpx = &env.packages[0];
    assert_eq!(
        httpx.source,
        PackageSource::Direct("git+https://github.com/encode/httpx@4b5a92e".into())
    );
    assert!(httpx.hashes.is_empty());
    let torch = &env.packages[1];
    assert_eq!(
        torch.registry(),
        Some("https://download.pytorch.org/whl/cpu")
    );
    assert_eq!(torch.hashes, ["sha256:aa"]);
    assert_eq!(torch.marker, None);
    let err = select(
        &lock,
        &PyProject::default(),
        &selection(&["dev"], &[], None),
        &t,
    )
    .unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "package `outside`: `../outside` is a path dependency outside the build context"
    );
}

#[test]
fn scp_like_git_sources_are_installed_over_ssh_at_the_locked_commit() {
    let text = r#"
[[package]]
name = "private"
version = "0.3.0"
optional = false
groups = ["main"]
files = []
[package.source]
type = "git"
url = "git@github.com:org/private.git"
reference = "main"
resolved_reference = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"
subdirectory = "python"

[metadata]
lock-version = "2.1"
python-versions = ">=3.11"
content-hash = "x"
"#;
    let lock = PoetryLock::parse(text).unwrap();
    let env = select(
        &lock,
        &PyProject::default(),
        &selection(&["main"], &[], None),
        &target(Some("3.11.2")),
    )
    .unwrap();
    let private = &env.packages[0];
    assert_eq!(
        private.source,
        PackageSource::Direct(
            "git+ssh://git@github.com/org/private.git@9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6#subdirectory=python".into()
        )
    );
    assert_eq!(private.ssh_remote().unwrap().host, "github.com");
    assert!(private.hashes.is_empty());
}
