//! What every E2E test binary shares: the private engines with our images, `docker buildx
//! build` runs read back from `--progress=rawjson` (steps run and cached, by vertex name), and
//! small helpers on images and scratch copies of test projects.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::Value;

pub use super::engine::Engine;

/// One build at a time in a test binary: two cores, and cache-hit counts must not see another
/// test's build.
pub static BUILDS: Mutex<()> = Mutex::new(());

/// Where test runs of every checkout on this machine take turns on the shared private engines
/// (`bench/bench.py` takes the same lock): a test that prunes or counts cache hits must not
/// overlap another checkout's builds.
pub const ENGINE_LOCK: &str = "/run/pycache-engines/e2e.lock";

/// A test's turn: [`BUILDS`] in this process and [`ENGINE_LOCK`] across processes, both held
/// until it is dropped.
pub struct Turn {
    _process: std::sync::MutexGuard<'static, ()>,
    _machine: std::fs::File,
}

/// Waits for this test's turn on the engines and holds it for the rest of the test.
pub fn one_at_a_time() -> Turn {
    let process = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(ENGINE_LOCK)
        .unwrap_or_else(|e| panic!("e2e: cannot open {ENGINE_LOCK}: {e}; run scripts/setup.sh"));
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .unwrap_or_else(|e| panic!("e2e: cannot lock {ENGINE_LOCK}: {e}"));
    Turn {
        _process: process,
        _machine: file,
    }
}

pub fn testdata(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(case)
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn frontend_image() -> String {
    std::env::var("PYCACHE_FRONTEND_IMAGE").unwrap_or_else(|_| "local/pycache-frontend:dev".into())
}

pub fn base_image() -> String {
    std::env::var("PYCACHE_BASE_IMAGE").unwrap_or_else(|_| "local/python:3.11-slim".into())
}

/// The base image for linux/amd64 and linux/arm64 under one tag (`scripts/base-image.sh
/// --multiarch`).
pub fn multiarch_base_image() -> String {
    std::env::var("PYCACHE_MULTIARCH_BASE_IMAGE")
        .unwrap_or_else(|_| "local/python:3.11-slim-multiarch".into())
}

/// The containerd-store engine with our images, or a panic saying how to get it.
pub fn containerd() -> Engine {
    let engine = Engine::containerd();
    engine.require(&[&frontend_image(), &base_image()]);
    engine
}

/// The classic-store engine with our images, or a panic saying how to get it.
pub fn classic() -> Engine {
    let engine = Engine::classic();
    engine.require(&[&frontend_image(), &base_image()]);
    engine
}

pub struct Build {
    pub ok: bool,
    pub stderr: String,
    /// Build steps of ours (vertex names starting with `[base]`, `[builder]`, `[runtime]`):
    /// (name, cached).
    pub steps: Vec<(String, bool)>,
    /// BuildKit warnings (`Warn` from the frontend), their short text.
    pub warnings: Vec<String>,
}

impl Build {
    pub fn cached(&self) -> usize {
        self.steps.iter().filter(|s| s.1).count()
    }
    /// The steps that ran, less the writes of dependency layers' requirements files
    /// (`…: write /pycache/requirements.txt`): BuildKit may run a file op with no input again
    /// on a cached build (in microseconds); it writes the same bytes, so the installs that read
    /// them stay cached, which is what the tests count.
    pub fn executed(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| !s.1 && !is_requirements_write(&s.0))
            .map(|s| s.0.as_str())
            .collect()
    }
}

/// `docker buildx build` of `dir` with its `pycache.toml` through our frontend (named by
/// `BUILDKIT_SYNTAX`), tagged `tag`, with rawjson progress.
pub fn build(engine: &Engine, dir: &Path, tag: &str, extra: &[&str]) -> Build {
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let args: Vec<&str> = ["--build-arg", syntax.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    build_file(engine, &dir.join("pycache.toml"), dir, tag, &args)
}

/// `docker buildx build -f file dir`, tagged `tag`, with rawjson progress; the frontend is the
/// file's own (a Dockerfile without `# syntax=` gets the engine's built-in one).
///
/// A build that fails on a transient fault (a download timing out or a name lookup refused
/// under the burst of parallel layer downloads, or the engine's own export race) is tried
/// again, up to three times, and says so on stderr: such a fault is not what any test is about.
/// A step that ran in a failed attempt counts as run in the result, though the next attempt
/// finds it in the cache: the steps are what this build ran.
pub fn build_file(engine: &Engine, file: &Path, dir: &Path, tag: &str, extra: &[&str]) -> Build {
    let mut attempt = 1;
    let mut ran: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    loop {
        let mut b = build_file_once(engine, file, dir, tag, extra);
        for (name, cached) in &mut b.steps {
            if ran.contains(name.as_str()) {
                *cached = false;
            }
        }
        // rawjson carries the steps' output base64-encoded: look in the decoded log.
        let log = if b.ok { String::new() } else { decoded_log(&b) };
        match transient_fault(&log) {
            Some(fault) if attempt < 3 => {
                eprintln!("build of {tag} failed on a transient fault ({fault}); trying again");
                ran.extend(b.steps.iter().filter(|(_, c)| !c).map(|(n, _)| n.clone()));
                attempt += 1;
            }
            _ => return b,
        }
    }
}

/// The transient fault that a failed build's (decoded) log shows, if any: of this machine's
/// network, a download timing out or a name lookup refused under a burst of parallel
/// downloads; of the engine, containerd's unpack of the exported image racing its own snapshot
/// clean-up (moby/buildkit#6521, containerd#10835: seen after prunes, here and on GitHub's
/// runners).
pub fn transient_fault(log: &str) -> Option<&'static str> {
    const TRANSIENT: [&str; 6] = [
        "network timeout",
        "Temporary failure in name resolution",
        "failed to lookup address",
        "operation timed out",
        // apt's words for a refused name lookup.
        "Temporary failure resolving",
        "failed to prepare extraction snapshot",
    ];
    // Not in BuildKit's echo of a failed step's script (`process "/bin/sh -c …"`): pycache's
    // install steps name these faults themselves, to retry on them.
    log.lines()
        .filter(|l| !l.contains(SCRIPT_ECHO))
        .find_map(|l| TRANSIENT.into_iter().find(|t| l.contains(t)))
}

/// What BuildKit's error for a failed step starts the step's script with.
pub const SCRIPT_ECHO: &str = "process \"/bin/sh -c ";

/// The step that writes a dependency layer's requirements file (`…: write
/// /pycache/requirements.txt`), which BuildKit may run again on a cached build.
pub fn is_requirements_write(step: &str) -> bool {
    step.contains(": write /pycache/")
}

/// `docker buildx build -f file dir`, tagged `tag`, with rawjson progress and no provenance.
pub fn build_command(
    engine: &Engine,
    file: &Path,
    dir: &Path,
    tag: &str,
    extra: &[&str],
) -> std::process::Command {
    let mut command = engine.docker();
    command
        .args([
            "buildx",
            "build",
            "--progress=rawjson",
            "--provenance=false",
        ])
        .arg("-f")
        .arg(file)
        .args(["-t", tag])
        .args(extra)
        .arg(dir);
    command
}

fn build_file_once(engine: &Engine, file: &Path, dir: &Path, tag: &str, extra: &[&str]) -> Build {
    let out = build_command(engine, file, dir, tag, extra)
        .output()
        .expect("docker runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // rawjson: one JSON status per line; a vertex appears several times, the last says most.
    let mut last: std::collections::BTreeMap<String, (String, bool, bool)> = Default::default();
    let mut warnings = Vec::new();
    for line in stderr.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for w in v
            .get("warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(short) = w["short"].as_str()
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(short)
            {
                warnings.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        for vx in v
            .get("vertexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let digest = vx["digest"].as_str().unwrap_or("").to_owned();
            let name = vx["name"].as_str().unwrap_or("").to_owned();
            let cached = vx["cached"].as_bool().unwrap_or(false);
            let completed = vx.get("completed").is_some();
            let e = last.entry(digest).or_insert((name, false, false));
            e.1 |= cached;
            e.2 |= completed;
        }
    }
    let steps = last
        .into_values()
        .filter(|(n, _, _)| {
            n.starts_with("[base]") || n.starts_with("[builder]") || n.starts_with("[runtime]")
        })
        .map(|(n, c, _)| (n, c))
        .collect();
    warnings.dedup();
    Build {
        ok: out.status.success(),
        stderr,
        steps,
        warnings,
    }
}

/// The non-JSON part of a rawjson log, plus the error lines, for failure messages.
pub fn log_tail(b: &Build) -> String {
    let text = decoded_log(b);
    text.chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// The whole log of a rawjson build: the steps' output (base64 in rawjson), vertex errors and
/// the client's own lines.
pub fn decoded_log(b: &Build) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for line in b.stderr.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => {
                for l in v
                    .get("logs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(data) = l["data"].as_str()
                        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data)
                    {
                        msgs.push(String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
                for vx in v
                    .get("vertexes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(e) = vx["error"].as_str() {
                        msgs.push(format!("vertex error: {e}"));
                    }
                }
            }
            Err(_) => msgs.push(line.to_owned()),
        }
    }
    msgs.concat()
}

pub fn run(engine: &Engine, tag: &str, args: &[&str]) -> String {
    let out = engine
        .docker()
        .args(["run", "--rm", tag])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker run {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn config(engine: &Engine, tag: &str) -> Value {
    let out = engine
        .docker()
        .args(["image", "inspect", tag])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["Config"].clone()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A value never used before: the engine keeps content-addressed results across runs, so
/// edits made with it are new content whose steps must really run.
pub fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Whether every step named `prefix…` was cached (requirements writes aside, see
/// [`Build::executed`]); panics when there is none.
pub fn step_cached(b: &Build, prefix: &str) -> bool {
    let matching: Vec<_> = b
        .steps
        .iter()
        .filter(|s| s.0.starts_with(prefix) && !is_requirements_write(&s.0))
        .collect();
    assert!(
        !matching.is_empty(),
        "no step named {prefix}… in {:?}",
        b.steps
    );
    matching.iter().all(|s| s.1)
}

pub fn layers(engine: &Engine, tag: &str) -> Vec<String> {
    let out = engine
        .docker()
        .args([
            "image",
            "inspect",
            tag,
            "--format",
            "{{json .RootFS.Layers}}",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every file and symlink under `/app/.venv` of image `tag`: `path mode sha256` or
/// `path -> target`, sorted.
pub fn venv_listing(engine: &Engine, tag: &str) -> Vec<String> {
    let script = r#"cd /app/.venv && find . \( -type f -o -type l \) | LC_ALL=C sort | while read -r f; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(stat -c %a "$f") $(sha256sum < "$f" | cut -c1-64)"; fi; done"#;
    root_sh(engine, tag, script)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The output of `sh -c script`, run as root in image `tag` (whatever its user and entrypoint).
pub fn root_sh(engine: &Engine, tag: &str, script: &str) -> String {
    let out = engine
        .docker()
        .args([
            "run",
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "sh",
            tag,
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sh -c in {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The local registry of `scripts/registry.sh`, or a panic saying how to start it.
pub fn registry() -> &'static str {
    const ADDR: &str = "127.0.0.1:5000";
    use std::io::{Read, Write};
    let answer = std::net::TcpStream::connect(ADDR).and_then(|mut s| {
        s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        Ok(reply)
    });
    match answer {
        Ok(reply) if reply.starts_with("HTTP/1.") && reply.contains(" 200 ") => ADDR,
        other => panic!(
            "e2e: no registry answers at http://{ADDR}/v2/ ({other:?}); run scripts/registry.sh (scripts/setup.sh does)"
        ),
    }
}

/// The names of the `[builder] deps: …` steps a build ran (not cached).
pub fn dependency_layers_run(b: &Build) -> Vec<&str> {
    b.executed()
        .into_iter()
        .filter(|s| s.starts_with("[builder] deps: "))
        .collect()
}

/// Removes image `tag` if it is there: an image keeps the build results it holds alive through
/// a prune, so a test playing a fresh runner removes its own first.
pub fn remove_image(engine: &Engine, tag: &str) {
    let _ = engine
        .docker()
        .args(["image", "rm", "--force", tag])
        .output();
}

/// Runs `cmd`, failing the test (naming `what`) unless it succeeds; its stdout.
pub fn run_ok(cmd: &mut std::process::Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A scratch copy of a test project, removed on drop, failed test or not.
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file of a tar archive of images (`docker save`, an OCI export), blobs decompressed,
/// by name: what a search for a leaked secret must look through.
pub fn archive_files(tar: &Path) -> Vec<(String, Vec<u8>)> {
    use std::process::Command;
    let dir = tar.with_extension("d");
    std::fs::create_dir_all(&dir).unwrap();
    run_ok(
        Command::new("tar").arg("-xf").arg(tar).arg("-C").arg(&dir),
        "tar -x",
    );
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let bytes = match bytes.get(..4) {
                Some([0x1f, 0x8b, ..]) => run_ok(
                    Command::new("gzip").arg("-dc").arg(&path),
                    "gzip -dc of a blob",
                ),
                Some([0x28, 0xb5, 0x2f, 0xfd]) => run_ok(
                    Command::new("zstd").arg("-dc").arg(&path),
                    "zstd -dc of a blob",
                ),
                _ => bytes,
            };
            let name = path.strip_prefix(&dir).unwrap().display().to_string();
            files.push((name, bytes));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    files
}

/// Whether `haystack` holds `needle`'s bytes.
pub fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Asserts that no file of `files` holds `needle` (`what` names the files in the message).
pub fn nowhere(files: &[(String, Vec<u8>)], needle: &str, what: &str) {
    let leaks: Vec<&str> = files
        .iter()
        .filter(|(_, b)| holds(b, needle))
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(leaks.is_empty(), "{needle:?} is in {what}: {leaks:?}");
}

/// [`run_ok`], its stdout as text.
pub fn run_text(cmd: &mut std::process::Command, what: &str) -> String {
    String::from_utf8_lossy(&run_ok(cmd, what)).into_owned()
}
