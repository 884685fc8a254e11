use super::validate::{UserProblem, check_user};
use super::*;

#[test]
fn undeclared_build_args_are_reported_and_buildkits_own_are_not() {
    let text = "[args]\nVERSION = \"1\"\n";
    let given: BTreeMap<String, String> = [
        "VERSION",
        "TYPO",
        "",
        "BUILDKIT_SYNTAX",
        "SOURCE_DATE_EPOCH",
        "http_proxy",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), "x".to_owned()))
    .collect();
    let recipe = parse("pycache.toml", text, &given).unwrap();
    assert_eq!(unused_build_args(&recipe, &given), ["", "TYPO"]);
}

#[test]
fn users_are_posix_names_root_or_numeric() {
    for ok in ["app", "_svc", "a-b_1", "root", "0", "1000:1000"] {
        assert_eq!(check_user(ok), Ok(()), "{ok}");
    }
    assert_eq!(check_user("app:staff"), Err(UserProblem::NamedGroup));
    for bad in [
        "-o",
        "--help",
        "..",
        "a/b",
        "App",
        "",
        "1000:x",
        &"a".repeat(33),
    ] {
        assert_eq!(check_user(bad), Err(UserProblem::NotAName), "{bad}");
    }
}

#[test]
fn index_secrets_name_a_url_and_a_user() {
    let text = "[python.index-secrets]\ncorp = { url = \"https://pypi.corp.example/simple\", username = \"deploy\" }\ntoken = { url = \"https://gitlab.example/api/v4/projects/1/packages/pypi/simple\" }\n";
    let r = parse("pycache.toml", text, &BTreeMap::new()).unwrap();
    let s = &r.python.index_secrets;
    assert_eq!(s.len(), 2);
    assert_eq!(s["corp"].get_ref().username(), "deploy");
    assert_eq!(s["token"].get_ref().username(), DEFAULT_INDEX_USERNAME);
    assert_eq!(uv_index_env_name("corp-pypi.v2"), "CORP_PYPI_V2");
}

#[test]
fn index_secrets_are_checked() {
    let cases = [
        (
            "\"a b\" = { url = \"https://h.example/simple\" }",
            "`a b` is not a usable secret id",
        ),
        (
            "corp = \"https://h.example/simple\"",
            "index secret `corp` must be a table",
        ),
        (
            "corp = { username = \"x\" }",
            "index secret `corp` has no `url`",
        ),
        (
            "corp = { url = \"https://h.example/simple\", user = \"x\" }",
            "unknown key `user` in [python.index-secrets.corp]",
        ),
        (
            "corp = { url = \"https://u:hunter2@h.example/simple\" }",
            "url `https://***@h.example/simple` has credentials in it",
        ),
        (
            "corp = { url = \"https://h.example/simple\", username = \"a:b\" }",
            "username `a:b` cannot be sent to an index",
        ),
        (
            "a-b = { url = \"https://h.example/simple\" }\n\"a.b\" = { url = \"https://i.example/simple\" }",
            "give uv the same variables (UV_INDEX_A_B_PASSWORD)",
        ),
        (
            "a = { url = \"https://h.example/simple\" }\nb = { url = \"https://h.example/simple/\" }",
            "index secrets `a` and `b` are both for",
        ),
    ];
    for (entries, want) in cases {
        let text = format!("[python.index-secrets]\n{entries}\n");
        let err = parse("pycache.toml", &text, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{entries}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[test]
fn a_refused_url_is_not_shown_with_its_password() {
    let text = "[python]\nindex-url = \"https://bob:hunter2@pypi.example.com/simple\"\n";
    let err = parse("pycache.toml", text, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        err.contains("2 | index-url = \"https://***@pypi.example.com/simple\""),
        "{err}"
    );
}

#[test]
fn credentials_are_redacted() {
    assert_eq!(
        redact_userinfo("https://bob:pw@h.example/simple?x=@").as_deref(),
        Some("https://***@h.example/simple?x=@")
    );
    assert_eq!(redact_userinfo("https://h.example/a@b"), None);
}

#[test]
fn find_links_name_build_contexts_and_the_lock_directories_they_serve() {
    let r = parse(
        "pycache.toml",
        "[python]\nfind-links = [\"wheels\", \"vendor.x\"]\n",
        &BTreeMap::new(),
    )
    .unwrap();
    let got: Vec<(&str, &str)> = r
        .python
        .find_links
        .iter()
        .map(|l| (l.context.get_ref().as_str(), l.lock_dir.as_str()))
        .collect();
    assert_eq!(got, [("wheels", "wheels"), ("vendor.x", "vendor.x")]);
    let r = parse(
        "pycache.toml",
        "[python]\nfind-links = { wheels = \"./../vendor/wheels/\" }\n",
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(r.python.find_links[0].lock_dir, "../vendor/wheels");
}

#[test]
fn find_links_are_checked() {
    for (value, message) in [
        ("[\"a/b\"]", "`a/b` is not a usable build context name"),
        ("[\"-x\"]", "`-x` is not a usable build context name"),
        (
            "[\"context\"]",
            "`context` is the name of BuildKit's own context local",
        ),
        ("[\"w\", \"w\"]", "build context `w` is in find-links twice"),
        (
            "{ w = \"/abs\" }",
            "`/abs` is not a directory the lock can name",
        ),
        (
            "{ a = \"d\", b = \"./d\" }",
            "build contexts `a` and `b` both serve the directory `d`",
        ),
        (
            "\"wheels\"",
            "`find-links` in [python] must be an array of build context names",
        ),
        (
            "[1]",
            "`find-links` in [python] must be an array of strings, found an integer",
        ),
        (
            "{ w = 1 }",
            "`w` in [python.find-links] must be a string, found an integer",
        ),
    ] {
        let text = format!("[python]\nfind-links = {value}\n");
        let err = parse("pycache.toml", &text, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{value}: {err}");
        assert!(err.contains("pycache.toml:2:"), "{value}: {err}");
    }
}
