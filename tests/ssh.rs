//! `--ssh` for git dependencies, end to end on pycache's own engine (see `tests/e2e.rs` for how
//! they run): a real sshd (`scripts/sshd.sh`, Debian's, unprivileged as user `git`) serves a
//! bare repository of a tiny package as `ssh://git@10.213.1.1:<port>/…` to one throwaway key,
//! held by a throwaway `ssh-agent`. A uv project whose `uv.lock` pins that package at its
//! commit is built with `--ssh default=<agent socket>` and the sshd's host key in the recipe's
//! `known-hosts`; the image runs the package; a rebuild runs nothing; the private key and the
//! socket are in no layer, image config or LLB. Without the agent, or without the host key, the
//! build fails saying what to pass or add.
//!
//! Build steps run on the engine's bridge (`scripts/engine.sh`, 10.213.1.0/24), where the host
//! is 10.213.1.1: the sshd listens there, reachable only from this host and the engine's
//! containers.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// The containerd engine's bridge gateway: the host, as build steps reach it.
const HOST: &str = "10.213.1.1";
/// What the package in the repository says.
const HELLO: &str = "sshpkg says hello, fetched over SSH";
/// The commit and server of the golden case's lock, replaced by the test server's.
const LOCKED_COMMIT: &str = "e24042cdbc60340c9d626923c588695ea165a721";
const LOCKED_SERVER: &str = "git.corp.example:2222/org/sshpkg.git";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sshd.sh")
}

/// An sshd serving `sshpkg.git` and an agent holding the one key it accepts; both stopped and
/// everything removed on drop.
struct Server {
    sshd: Child,
    agent: Child,
    work: PathBuf,
    port: u16,
    commit: String,
    /// The sshd's host key as a `known_hosts` line.
    host_key: String,
    agent_socket: PathBuf,
    /// The private key's text: found only where it leaked.
    private_key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in [&mut self.sshd, &mut self.agent] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Server {
    fn start(n: u128) -> Server {
        run_text(Command::new(script()).arg("install"), "sshd.sh install");
        let work = std::env::temp_dir().join(format!("pycache-ssh-{n}"));
        std::fs::create_dir_all(work.join("client")).unwrap();
        let commit = run_text(
            Command::new(script()).arg("repo").arg(work.join("repos")),
            "sshd.sh repo",
        )
        .trim()
        .to_owned();
        let key = work.join("client/id_ed25519");
        run_text(
            Command::new("ssh-keygen")
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "pycache-e2e-client",
                    "-f",
                ])
                .arg(&key),
            "ssh-keygen",
        );
        let port = TcpListener::bind((HOST, 0))
            .unwrap_or_else(|e| panic!("e2e: cannot listen on {HOST} ({e}); run scripts/setup.sh, which makes the engine's bridge"))
            .local_addr()
            .unwrap()
            .port();
        let srv = work.join("srv");
        let sshd = Command::new(script())
            .arg("serve")
            .arg(&srv)
            .args([HOST, &port.to_string()])
            .arg(key.with_extension("pub"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let agent_socket = work.join("agent.sock");
        let agent = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&agent_socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server {
            sshd,
            agent,
            port,
            commit,
            host_key: String::new(),
            agent_socket,
            private_key: std::fs::read_to_string(&key).unwrap(),
            work,
        };
        wait_for("sshd", || {
            let mut banner = [0u8; 7];
            TcpStream::connect((HOST, port))
                .and_then(|mut s| s.read_exact(&mut banner))
                .is_ok_and(|()| &banner == b"SSH-2.0")
        });
        let public = std::fs::read_to_string(srv.join("host_ed25519.pub")).unwrap();
        let fields: Vec<&str> = public.split_whitespace().take(2).collect();
        server.host_key = format!("[{HOST}]:{port} {}", fields.join(" "));
        wait_for("ssh-agent", || server.agent_socket.exists());
        run_text(
            Command::new("ssh-add")
                .arg("-q")
                .arg(&key)
                .env("SSH_AUTH_SOCK", &server.agent_socket),
            "ssh-add",
        );
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.work.join("sshd.log")).unwrap_or_default()
    }

    /// The host key's fingerprint, as ssh-keygen prints it.
    fn fingerprint(&self) -> String {
        let out = run_text(
            Command::new("ssh-keygen")
                .arg("-lf")
                .arg(self.work.join("srv/host_ed25519.pub")),
            "ssh-keygen -lf",
        );
        out.split_whitespace().nth(1).unwrap().to_owned()
    }
}

/// `testdata/uv-git-ssh` in a scratch directory, its lock pinning sshpkg on `server` at its
/// commit; the recipe trusts the server's host key when `known` and takes the default `--ssh`.
fn project(n: u128, server: &Server, known: bool) -> Scratch {
    let dir = std::env::temp_dir().join(format!("pycache-ssh-project-{n}-{known}"));
    copy_dir(&testdata("uv-git-ssh"), &dir);
    for golden in [
        "llb.json",
        "explain.txt",
        "image-config.json",
        "Dockerfile.eject",
        "pycache.init.toml",
        "outline.json",
        "outline.txt",
    ] {
        let _ = std::fs::remove_file(dir.join(golden));
    }
    let repo = format!(
        "{HOST}:{}{}/repos/sshpkg.git",
        server.port,
        server.work.display()
    );
    for file in ["uv.lock", "pyproject.toml"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let text = text
            .replace(LOCKED_SERVER, &repo)
            .replace(LOCKED_COMMIT, &server.commit);
        std::fs::write(dir.join(file), text).unwrap();
    }
    let known_hosts = if known {
        format!("known-hosts = [\"{}\"]\n", server.host_key)
    } else {
        String::new()
    };
    let recipe = format!(
        "# syntax={}\n[python]\n{known_hosts}\n[image]\nbase = \"{}\"\n",
        frontend_image(),
        base_image()
    );
    std::fs::write(dir.join("pycache.toml"), recipe).unwrap();
    Scratch(dir)
}

/// Every file of `tag` as `docker save` writes it, blobs decompressed, by name.
fn saved_files(engine: &Engine, tag: &str, work: &Path) -> Vec<(String, Vec<u8>)> {
    let tar = work.join("image.tar");
    run_text(
        engine.docker().args(["save", "-o"]).arg(&tar).arg(tag),
        "docker save",
    );
    archive_files(&tar)
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn a_git_dependency_over_ssh_installs_with_the_agent_and_leaves_no_trace() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let n = nonce();
    let server = Server::start(n);
    let dir = project(n, &server, true);
    let tag = "pycache-e2e/ssh:latest";
    let ssh = format!("default={}", server.agent_socket.display());

    let built = build(&engine, &dir.0, tag, &["--ssh", &ssh]);
    assert!(built.ok, "build over ssh: {}", log_tail(&built));
    assert!(
        built
            .executed()
            .iter()
            .any(|s| s.starts_with("[builder] deps: sshpkg 0.1.0")),
        "sshpkg was not installed: {:?}",
        built.steps
    );
    let out = run(&engine, tag, &[]);
    assert!(out.contains(HELLO), "{tag} printed {out:?}");
    assert!(
        server.log().contains("Accepted publickey for git"),
        "the sshd saw no login:\n{}",
        server.log()
    );
    eprintln!(
        "ssh e2e: first build ran {} steps, {} cached",
        built.executed().len(),
        built.cached()
    );

    // Nothing of the agent or the key in the image, its config or the LLB.
    let private_key_body: String = server
        .private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let key_line = private_key_body
        .get(..60)
        .unwrap_or(&private_key_body)
        .to_owned();
    let socket = server.agent_socket.display().to_string();
    let files = saved_files(&engine, tag, &server.work);
    assert!(
        files.iter().any(|(_, b)| holds(b, HELLO)),
        "sshpkg is in no file of the saved image: the search would see nothing"
    );
    nowhere(&files, &key_line, "the saved image");
    nowhere(&files, &socket, "the saved image");
    // Mount points are removed from every layer, and no step writes ssh files of its own.
    for path in ["pycache/ssh/known_hosts", "ssh_agent.0", "root/.ssh/"] {
        nowhere(&files, path, "the saved image");
    }
    let config = config(&engine, tag).to_string();
    for word in ["SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "ssh_agent"] {
        assert!(!config.contains(word), "{word} is in the image config");
    }
    let llb = run_text(
        Command::new(env!("CARGO_BIN_EXE_pycache"))
            .args(["llb", "--json"])
            .arg(&dir.0),
        "pycache llb",
    );
    assert!(llb.contains("\"sshOpt\""), "no ssh mount in the LLB");
    assert!(!llb.contains(&key_line), "the private key is in the LLB");
    assert!(!llb.contains(&socket), "the agent's socket is in the LLB");

    // Rebuilt as is: every step from the cache, the agent given or not.
    let again = build(&engine, &dir.0, tag, &["--ssh", &ssh]);
    assert!(again.ok, "rebuild: {}", log_tail(&again));
    let reran = again.executed();
    assert!(reran.is_empty(), "the rebuild re-ran {reran:?}");
    assert!(
        step_cached(&again, "[builder] deps: sshpkg"),
        "{:?}",
        again.steps
    );
    eprintln!(
        "ssh e2e: rebuild ran {} steps, {} cached",
        reran.len(),
        again.cached()
    );
    for (what, b) in [("build", &built), ("rebuild", &again)] {
        assert!(
            !decoded_log(b).contains(&key_line),
            "the private key is in the log of the {what}"
        );
    }
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn without_the_agent_or_the_host_key_the_build_says_what_to_pass_or_add() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let n = nonce();
    let server = Server::start(n);

    // No --ssh: the install fails first, naming the package and the flag. (`--no-cache`: a
    // cached install needs no agent, as a cached step needs no secret.)
    let dir = project(n, &server, true);
    let tag = "pycache-e2e/ssh-fail:latest";
    let no_agent = build(&engine, &dir.0, tag, &["--no-cache"]);
    assert!(!no_agent.ok, "built without an agent");
    let log = decoded_log(&no_agent);
    let line = log
        .lines()
        .find(|l| l.contains("pycache: installing sshpkg fetches git over SSH"))
        .unwrap_or_else(|| panic!("no error naming sshpkg: {}", log_tail(&no_agent)));
    assert!(
        line.contains("pass --ssh default to docker buildx build")
            && line.contains("--ssh default=$SSH_AUTH_SOCK"),
        "{line}"
    );
    assert!(line.len() < 600, "an unbounded message: {line}");
    eprintln!("ssh e2e: without --ssh: {line}");

    // An unknown host: refused, never trusted on first use; the message names the host, the
    // recipe key and the key the server offers, with its fingerprint.
    let dir = project(n, &server, false);
    let ssh = format!("default={}", server.agent_socket.display());
    let unknown = build(&engine, &dir.0, tag, &["--ssh", &ssh]);
    assert!(!unknown.ok, "built from a host whose key is not known");
    let log = decoded_log(&unknown);
    let host = format!("the SSH host key of {HOST}:{} is not known", server.port);
    assert!(log.contains(&host), "{}", log_tail(&unknown));
    assert!(
        log.contains("[python] known-hosts"),
        "{}",
        log_tail(&unknown)
    );
    assert!(
        log.contains(&server.fingerprint()),
        "the offered key's fingerprint {} is not shown: {}",
        server.fingerprint(),
        log_tail(&unknown)
    );
    let start = log.find(&host).unwrap_or(0);
    // pycache's lines (the message, the offered key's fingerprint and key), not BuildKit's
    // echo of the step's script after them.
    let shown: String = log[start..]
        .lines()
        .take_while(|l| !l.contains(SCRIPT_ECHO))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(shown.len() < 2000, "an unbounded message: {shown}");
    eprintln!("ssh e2e: unknown host: {shown}");
    assert!(
        !server.log().contains("Accepted publickey"),
        "the agent logged in to a host it does not know:\n{}",
        server.log()
    );
}
