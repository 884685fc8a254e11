//! Private indexes, end to end on pycache's own engine (see `tests/e2e.rs` for how they run):
//! a uv and a pip project install from a password-protected pypiserver (`scripts/pypiserver.sh`)
//! with the password given as `--secret`, and the password is then looked for, and not found,
//! in the saved image (every layer decompressed, the config and its history), the provenance
//! attestation (`--provenance=mode=max`, which holds the LLB the frontend solved), the CLI's LLB
//! and every build log. A new password re-runs no step; a missing or empty secret fails naming
//! the secret and the flag to pass.
//!
//! Build steps run on the engine's bridge (`scripts/engine.sh`, 10.213.1.0/24), where the host is
//! 10.213.1.1: the index listens there, reachable only from this host and the engine's
//! containers. (On the build container's own 127.0.0.1 nothing of the host's answers.)

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use support::*;

/// The containerd engine's bridge gateway: the host, as build steps reach it.
const HOST: &str = "10.213.1.1";
const USER: &str = "deploy";
/// The secret id the test recipes name.
const SECRET_ID: &str = "e2e-index";
/// A line of six.py: proof that a search of the saved image saw the layers' files decompressed.
const SIX_MARKER: &str = "Utilities for writing code that runs on Python 2 and 3";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pypiserver.sh")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("PYCACHE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"))
}

/// A pypiserver serving six and idna wheels, every request behind a login; stopped on drop.
struct Index {
    server: Child,
    url: String,
    password: String,
    work: PathBuf,
    log: PathBuf,
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

impl Index {
    fn start(n: u128) -> Index {
        let wheels = cache_dir().join("pypiserver-packages");
        let have = |prefix: &str| {
            std::fs::read_dir(&wheels)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
                })
                .unwrap_or(false)
        };
        if !have("six-1.17.0-") || !have("idna-3.10-") {
            run_ok(
                Command::new(script())
                    .arg("download")
                    .arg(&wheels)
                    .args(["six==1.17.0", "idna==3.10"]),
                "pypiserver.sh download",
            );
        }
        let work = std::env::temp_dir().join(format!("pycache-secrets-index-{n}"));
        std::fs::create_dir_all(&work).unwrap();
        // Characters a shell would act on, and a nonce: found only where it leaked.
        let password = format!("pw-{n}-$HOME;&|*(x)");
        let htpasswd = work.join("htpasswd");
        let mut child = Command::new(script())
            .arg("htpasswd")
            .arg(&htpasswd)
            .arg(USER)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "pypiserver.sh htpasswd");
        let port = TcpListener::bind((HOST, 0))
            .unwrap_or_else(|e| panic!("e2e: cannot listen on {HOST} ({e}); run scripts/setup.sh, which makes the engine's bridge"))
            .local_addr()
            .unwrap()
            .port();
        let log = work.join("server.log");
        let server = Command::new(script())
            .arg("serve")
            .arg(&wheels)
            .arg(&htpasswd)
            .args([HOST, &port.to_string()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(work.join("server.err")).unwrap())
            .spawn()
            .unwrap();
        let index = Index {
            server,
            url: format!("http://{HOST}:{port}/simple"),
            password,
            work,
            log,
        };
        index.wait_ready(port);
        index
    }

    /// Waits until the index answers, and checks that it wants the login.
    fn wait_ready(&self, port: u16) {
        let start = Instant::now();
        loop {
            let reply = TcpStream::connect((HOST, port)).and_then(|mut s| {
                s.write_all(b"GET /simple/ HTTP/1.0\r\n\r\n")?;
                let mut r = String::new();
                s.read_to_string(&mut r)?;
                Ok(r)
            });
            match reply {
                Ok(r) if r.starts_with("HTTP/1.") => {
                    assert!(
                        r.contains(" 401 "),
                        "the index answers without a login: {r}"
                    );
                    return;
                }
                _ if start.elapsed() < Duration::from_secs(60) => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                other => panic!(
                    "the index did not start: {other:?}\n{}",
                    std::fs::read_to_string(self.work.join("server.err")).unwrap_or_default()
                ),
            }
        }
    }

    /// A file holding the password as `echo` writes it (the trailing newline is dropped).
    fn secret_file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.work.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn requests(&self) -> String {
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        let err = std::fs::read_to_string(self.work.join("server.err")).unwrap_or_default();
        out + &err
    }
}

/// The recipe's index secret for `url`.
fn index_secret(url: &str) -> String {
    format!(
        "\n[python.index-secrets]\n{SECRET_ID} = {{ url = \"{url}\", username = \"{USER}\" }}\n"
    )
}

/// `testdata/uv-minimal` in a scratch directory, its lock taking six from `url`.
fn uv_project(n: u128, url: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("pycache-secrets-uv-{n}"));
    copy_dir(&testdata("uv-minimal"), &dir);
    let lock = std::fs::read_to_string(dir.join("uv.lock")).unwrap();
    let private = lock.replace(
        "source = { registry = \"https://pypi.org/simple\" }",
        &format!("source = {{ registry = \"{url}\" }}"),
    );
    assert_ne!(private, lock);
    std::fs::write(dir.join("uv.lock"), private).unwrap();
    let mut recipe = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
    recipe.push_str(&index_secret(url));
    std::fs::write(dir.join("pycache.toml"), recipe).unwrap();
    Scratch(dir)
}

/// `testdata/pip-hashes` in a scratch directory, its requirements from `url`.
fn pip_project(n: u128, url: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("pycache-secrets-pip-{n}"));
    copy_dir(&testdata("pip-hashes"), &dir);
    let reqs = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    // pip takes plain http only from hosts it is told to trust.
    let reqs = format!("--index-url {url}\n--trusted-host {HOST}\n{reqs}");
    std::fs::write(dir.join("requirements.txt"), reqs).unwrap();
    let mut recipe = std::fs::read_to_string(dir.join("pycache.toml")).unwrap();
    recipe.push_str(&index_secret(url));
    std::fs::write(dir.join("pycache.toml"), recipe).unwrap();
    Scratch(dir)
}

/// Everything a build printed: rawjson's logs decoded, vertex names and errors, other lines.
fn full_log(b: &Build) -> String {
    let mut out = String::new();
    for line in b.stderr.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        for l in v["logs"].as_array().into_iter().flatten() {
            if let Some(bytes) = l["data"]
                .as_str()
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        for vx in v["vertexes"].as_array().into_iter().flatten() {
            for key in ["name", "error"] {
                if let Some(s) = vx[key].as_str() {
                    out.push_str(s);
                    out.push('\n');
                }
            }
        }
        for w in v["warnings"].as_array().into_iter().flatten() {
            out.push_str(&w.to_string());
        }
    }
    out
}

/// Builds `dir` with the index's password as `--secret`, then checks the image runs, the
/// password is nowhere, and a new password re-runs nothing. Returns the first build.
fn build_and_search(engine: &Engine, index: &Index, dir: &Path, tag: &str, expect: &str) {
    let secret_file = index.secret_file("password", &format!("{}\n", index.password));
    let secret = format!("id={SECRET_ID},src={}", secret_file.display());
    let built = build(engine, dir, tag, &["--secret", &secret]);
    assert!(
        built.ok,
        "build from the private index: {}",
        log_tail(&built)
    );
    let deps: Vec<&str> = dependency_layers_run(&built);
    assert!(
        !deps.is_empty(),
        "no dependency layer ran: {:?}",
        built.steps
    );
    let out = run(engine, tag, &[]);
    assert!(out.contains(expect), "{tag} printed {out:?}");

    // The saved image: every layer, the config and its history.
    let work = &index.work;
    let saved = work.join(format!("{}.tar", tag.replace([':', '/'], "-")));
    run_ok(
        engine.docker().args(["save", "-o"]).arg(&saved).arg(tag),
        "docker save",
    );
    let files = archive_files(&saved);
    assert!(
        files.iter().any(|(_, b)| holds(b, SIX_MARKER)),
        "six.py is in no file of the saved image: the search would see nothing"
    );
    assert!(
        files.iter().any(|(_, b)| holds(b, "\"history\"")),
        "no image config in the saved image"
    );
    nowhere(&files, &index.password, "the saved image");

    // The provenance attestation, with the LLB the frontend solved (mode=max), in an OCI
    // export of the same build (every step from the cache).
    let oci = work.join(format!("{}.oci.tar", tag.replace([':', '/'], "-")));
    let output = format!("type=oci,dest={}", oci.display());
    let exported = build(
        engine,
        dir,
        tag,
        &[
            "--secret",
            &secret,
            "--provenance=mode=max",
            "--output",
            &output,
        ],
    );
    assert!(exported.ok, "OCI export: {}", log_tail(&exported));
    let files = archive_files(&oci);
    let provenance: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(_, b)| holds(b, "https://slsa.dev/provenance"))
        .collect();
    assert!(
        !provenance.is_empty(),
        "no provenance attestation in {}",
        oci.display()
    );
    assert!(
        provenance
            .iter()
            .any(|(_, b)| holds(b, &index.url) && holds(b, "llbDefinition")),
        "the provenance holds neither the index URL nor the LLB: not mode=max"
    );
    nowhere(&files, &index.password, "the OCI export with provenance");

    // The CLI's LLB of the same project.
    let llb = run_ok(
        Command::new(env!("CARGO_BIN_EXE_pycache"))
            .args(["llb", "--json"])
            .arg(dir),
        "pycache llb",
    );
    assert!(
        holds(&llb, &format!("/run/secrets/{SECRET_ID}")),
        "no secret mount in the LLB"
    );
    nowhere(&[("llb".into(), llb)], &index.password, "the LLB");

    // A new password changes no cache key: every step is reused (the old one is wrong now).
    let rotated_file = index.secret_file("rotated", "another-password\n");
    let rotated = format!("id={SECRET_ID},src={}", rotated_file.display());
    let again = build(engine, dir, tag, &["--secret", &rotated]);
    assert!(
        again.ok,
        "rebuild with a new password: {}",
        log_tail(&again)
    );
    // `executed` leaves out the requirements writes BuildKit may run again (they write the same
    // bytes, so what reads them stays cached).
    let reran = again.executed();
    assert!(reran.is_empty(), "a new password re-ran {reran:?}");
    assert!(step_cached(&again, "[builder] deps: "), "{:?}", again.steps);

    for (what, b) in [
        ("build", &built),
        ("export", &exported),
        ("rebuild", &again),
    ] {
        assert!(
            !full_log(b).contains(&index.password),
            "the password is in the log of the {what} of {tag}"
        );
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn uv_and_pip_projects_install_from_a_password_protected_index_that_leaves_no_trace() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let n = nonce();
    let index = Index::start(n);

    let uv = uv_project(n, &index.url);
    build_and_search(
        &engine,
        &index,
        &uv.0,
        "pycache-e2e/secrets-uv:latest",
        "six 1.17.0",
    );
    let pip = pip_project(n, &index.url);
    build_and_search(
        &engine,
        &index,
        &pip.0,
        "pycache-e2e/secrets-pip:latest",
        "pip demo 1.17.0 example.com",
    );

    // The wheels came from this index, with the login.
    let requests = index.requests();
    for wheel in [
        "six-1.17.0-py2.py3-none-any.whl",
        "idna-3.10-py3-none-any.whl",
    ] {
        assert!(
            requests.contains(&format!("/packages/{wheel}")),
            "the index served no {wheel}:\n{requests}"
        );
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn a_missing_or_empty_secret_fails_naming_it_and_the_flag_to_pass() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let n = nonce();
    // A URL never built before (so the step runs); nothing needs to answer there: the step
    // stops before uv asks.
    let url = format!("http://{HOST}:9/simple-{n}");
    let scratch = uv_project(n, &url);
    let dir = &scratch.0;
    let tag = "pycache-e2e/secrets-missing:latest";

    let missing = build(&engine, dir, tag, &[]);
    assert!(!missing.ok, "a build without the secret succeeded");
    let log = full_log(&missing);
    let want = format!(
        "needs the secret `{SECRET_ID}` (its password or token), which this build was not given: pass --secret id={SECRET_ID},env=VARIABLE or --secret id={SECRET_ID},src=FILE to docker buildx build"
    );
    assert!(log.contains(&want), "{}", log_tail(&missing));

    let empty = dir.join("empty-secret");
    std::fs::write(&empty, "").unwrap();
    let secret = format!("id={SECRET_ID},src={}", empty.display());
    let blank = build(&engine, dir, tag, &["--secret", &secret]);
    assert!(!blank.ok, "a build with an empty secret succeeded");
    assert!(
        full_log(&blank).contains(&format!(
            "the secret `{SECRET_ID}` (the password or token of {url}) is empty"
        )),
        "{}",
        log_tail(&blank)
    );
}
