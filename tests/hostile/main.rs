//! The hostile-input corpus: recipes and project files written as an attacker or an unlucky
//! user would (injection through every field, control characters, special and huge files,
//! CRLF and non-ASCII text, broken locks), each in `cases/<name>/` with a `case.toml` saying
//! what must happen. Every case runs through the CLI (`pycache check`: exit 2, nothing on
//! stdout, a bounded message naming the file, the line and the fix) and through the frontend
//! against a fake daemon serving the case's directory (a failed build whose error says the
//! same). A case marked `harmless` is accepted, and its marker must reach every shell only
//! inside single quotes. `injection_through_every_recipe_field` tries payloads through each
//! key of the recipe. The table of cases and outcomes is in docs/testing.md.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use pycache::gateway::{frontend, pb};
use pycache::llb::pb as llb_pb;
use serde::Deserialize;
use support::{LlbBridge, serve_in_process};
use tonic::{Request, Response, Status};

/// What a case expects, from its `case.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Spec {
    /// What was tried, for the table in docs/testing.md.
    what: String,
    /// A `testdata/` case copied first; the case's own files go over it.
    base: Option<String>,
    /// The file the message must name, and the line (none for whole-file problems).
    file: Option<String>,
    line: Option<usize>,
    /// Text the message must contain.
    message: Option<String>,
    /// Extra CLI arguments (after the directory).
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    /// Files made at run time: `fifo:PATH`, `socket:PATH`, `symlink:PATH=TARGET`,
    /// `sparse:PATH=BYTES`, `gen:PATH=GENERATOR` (see [`generate`]).
    #[serde(default)]
    setup: Vec<String>,
    /// The CLI only (e.g. `-f /dev/zero`: the daemon never hands the frontend a device).
    #[serde(default)]
    cli_only: bool,
    /// Accepted: this marker must reach shells only quoted, and appear in the output.
    harmless: Option<String>,
}

struct Case {
    name: String,
    dir: PathBuf,
    spec: Spec,
}

/// Upper bounds whatever the input: the CLI's whole stderr, and one run.
const MAX_STDERR: usize = 64 << 10;
const MAX_RUN: Duration = Duration::from_secs(30);

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/cases")
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.toml").exists())
        .map(|dir| {
            let text = std::fs::read_to_string(dir.join("case.toml")).unwrap();
            let spec: Spec = toml::from_str(&text)
                .unwrap_or_else(|e| panic!("{}/case.toml: {e}", dir.display()));
            Case {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                dir,
                spec,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "case.toml" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Inputs too large or too odd to keep in git, made when the case runs.
fn generate(name: &str) -> Vec<u8> {
    match name {
        "unknown-keys" => {
            let mut s = String::from("[image]\n");
            for i in 0..10_000 {
                s.push_str(&format!("unknown_key_{i} = 1\n"));
            }
            s.into_bytes()
        }
        "long-line-of-bad-values" => {
            let items = vec!["1"; 200_000].join(", ");
            format!("[apt]\npackages = [{items}]\n").into_bytes()
        }
        "deep-nesting" => {
            let depth = 100_000;
            format!(
                "[image]\nbase = {}{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            )
            .into_bytes()
        }
        "huge-string" => format!("[image]\nbase = \"{}\"\n", "x".repeat(900_000)).into_bytes(),
        "huge-recipe" => {
            let mut s = String::from("[python]\n");
            while s.len() <= 2 << 20 {
                s.push_str("# padding padding padding padding padding padding padding\n");
            }
            s.into_bytes()
        }
        "many-local-packages" => many_local_packages_lock(),
        "many-local-packages-pyproject" => {
            let deps: Vec<String> = (0..LOCAL_PACKAGES)
                .map(|i| format!("\"local-package-number-{i:05}\""))
                .collect();
            format!(
                "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [{}]\n[build-system]\nrequires = [\"uv_build\"]\nbuild-backend = \"uv_build\"\n",
                deps.join(", ")
            )
            .into_bytes()
        }
        other => panic!("unknown generator {other}"),
    }
}

const LOCAL_PACKAGES: usize = 4000;

/// A lock whose root depends on 4,000 local path packages: the project step's
/// command would be one argument over Linux's 128 KiB limit.
fn many_local_packages_lock() -> Vec<u8> {
    let n = LOCAL_PACKAGES;
    let mut s = String::from(
        "version = 1\nrevision = 3\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "    {{ name = \"local-package-number-{i:05}\" }},\n"
        ));
    }
    s.push_str("]\n\n[package.metadata]\nrequires-dist = [\n");
    for i in 0..n {
        s.push_str(&format!(
            "    {{ name = \"local-package-number-{i:05}\", directory = \"libs/local-package-number-{i:05}\" }},\n"
        ));
    }
    s.push_str("]\n");
    for i in 0..n {
        s.push_str(&format!(
            "\n[[package]]\nname = \"local-package-number-{i:05}\"\nversion = \"0.1.0\"\nsource = {{ directory = \"libs/local-package-number-{i:05}\" }}\n"
        ));
    }
    s.into_bytes()
}

/// The case's project in a fresh directory: base, own files, then the setup.
fn prepare(case: &Case, runner: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pycache-hostile-{}-{runner}-{}",
        std::process::id(),
        case.name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(base) = &case.spec.base {
        copy_dir(&common::testdata().join(base), &dir);
        for generated in ["llb.json", "explain.txt", "image-config.json", "error.txt"] {
            let _ = std::fs::remove_file(dir.join(generated));
        }
    }
    copy_dir(&case.dir, &dir);
    for step in &case.spec.setup {
        let (kind, rest) = step.split_once(':').expect("KIND:ARG");
        let (path, arg) = rest.split_once('=').unwrap_or((rest, ""));
        let path = dir.join(path);
        let _ = std::fs::remove_file(&path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        match kind {
            "fifo" => {
                let status = Command::new("mkfifo").arg(&path).status().unwrap();
                assert!(status.success(), "mkfifo {}", path.display());
            }
            "socket" => {
                // The listener is dropped; the socket file stays.
                std::os::unix::net::UnixListener::bind(&path).unwrap();
            }
            "symlink" => std::os::unix::fs::symlink(arg, &path).unwrap(),
            "sparse" => {
                let f = std::fs::File::create(&path).unwrap();
                f.set_len(arg.parse().unwrap()).unwrap();
            }
            "gen" => std::fs::write(&path, generate(arg)).unwrap(),
            other => panic!("{}: unknown setup {other}", case.name),
        }
    }
    dir
}

struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
}

/// `pycache ARGS` in `dir`, killed past [`MAX_RUN`].
fn pycache(dir: &Path, args: &[String]) -> Ran {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pycache"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).unwrap();
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        stderr.read_to_end(&mut b).unwrap();
        b
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > MAX_RUN {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ran {
        code,
        stdout: out.join().unwrap(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        took: start.elapsed(),
    }
}

/// The CLI's arguments for `command` on a case, run in its directory (so that messages name
/// `pycache.toml` as users see it).
fn cli_args(case: &Case, command: &str) -> Vec<String> {
    let mut args = vec![command.to_owned(), ".".to_owned()];
    args.extend(case.spec.args.iter().cloned());
    for (k, v) in &case.spec.build_args {
        args.push("--build-arg".into());
        args.push(format!("{k}={v}"));
    }
    args
}

/// Where a message must point: `file:line:` or, for a whole-file problem, `file`.
fn expected_location(spec: &Spec) -> String {
    let file = spec.file.as_deref().expect("an error case names its file");
    match spec.line {
        Some(line) => format!("{file}:{line}:"),
        None => file.to_owned(),
    }
}

/// The CLI on one case: `Err` says what is wrong.
fn check_cli(case: &Case) -> Result<String, String> {
    let dir = prepare(case, "cli");
    if let Some(marker) = &case.spec.harmless {
        let ran = pycache(&dir, &cli_args(case, "llb"));
        if ran.code != Some(0) {
            return Err(format!("llb exited {:?}: {}", ran.code, ran.stderr));
        }
        let def = llb_pb::Definition::decode(ran.stdout.as_slice()).map_err(|e| e.to_string())?;
        common::only_quoted(&def, marker)?;
        let config = pycache(&dir, &cli_args(case, "config"));
        let seen = String::from_utf8_lossy(&ran.stdout).contains(marker.as_str())
            || String::from_utf8_lossy(&config.stdout).contains(marker.as_str());
        if !seen {
            return Err(format!(
                "`{marker}` is nowhere in the LLB or the config: vacuous"
            ));
        }
        return Ok(format!("accepted, `{marker}` only quoted"));
    }
    let ran = pycache(&dir, &cli_args(case, "check"));
    let location = expected_location(&case.spec);
    let mut problems = Vec::new();
    if ran.code != Some(2) {
        problems.push(format!("exit {:?}, not 2", ran.code));
    }
    if !ran.stdout.is_empty() {
        problems.push(format!("{} bytes on stdout", ran.stdout.len()));
    }
    if ran.stderr.len() > MAX_STDERR {
        problems.push(format!("{} bytes on stderr", ran.stderr.len()));
    }
    if !ran.stderr.contains(&format!("--> {location}")) {
        problems.push(format!("no `--> {location}`"));
    }
    if let Some(m) = &case.spec.message
        && !ran.stderr.contains(m.as_str())
    {
        problems.push(format!("no `{m}`"));
    }
    if !ran.stderr.contains("= help:") {
        problems.push("no help".into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    if problems.is_empty() {
        let first = ran.stderr.lines().next().unwrap_or("").to_owned();
        Ok(format!("exit 2 in {:?}: {first}", ran.took))
    } else {
        Err(format!("{}\n{}", problems.join("; "), head(&ran.stderr)))
    }
}

fn head(s: &str) -> String {
    s.lines().take(12).collect::<Vec<_>>().join("\n")
}

/// Runs `check` over every case and fails with all the failures at once.
fn run_all(what: &str, check: impl Fn(&Case) -> Result<String, String>) {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        match check(case) {
            Ok(outcome) => eprintln!("ok   {}: {outcome}", case.name),
            Err(why) => failures.push(format!("{}: {why}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed ({what}):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_corpus_has_at_least_60_cases() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in &cases {
        let spec = &case.spec;
        assert!(!spec.what.is_empty(), "{}", case.name);
        assert!(
            spec.harmless.is_some() != spec.file.is_some(),
            "{}: either an error (file, line, message) or harmless",
            case.name
        );
    }
}

#[test]
fn every_case_fails_in_the_cli_with_its_file_line_and_fix() {
    run_all("CLI", check_cli);
}

/// A daemon serving one directory as both the `dockerfile` and `context` locals, with file
/// types as BuildKit's `Stat` reports them (Go `os.FileMode`), recording what it is asked.
#[derive(Default)]
struct DirDaemon {
    root: PathBuf,
    recorded: Mutex<DirRecord>,
}

#[derive(Default)]
struct DirRecord {
    /// Ref id → whether it is a local (else a build).
    locals: BTreeMap<String, bool>,
    builds: Vec<llb_pb::Definition>,
    returns: Vec<pb::ReturnRequest>,
}

fn go_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::FileTypeExt;
    let ty = meta.file_type();
    let perm = 0o644;
    if ty.is_dir() {
        (1 << 31) | 0o755
    } else if ty.is_symlink() {
        (1 << 27) | 0o777
    } else if ty.is_fifo() {
        (1 << 25) | perm
    } else if ty.is_socket() {
        (1 << 24) | perm
    } else if ty.is_char_device() {
        (1 << 26) | (1 << 21) | perm
    } else if ty.is_block_device() {
        (1 << 26) | perm
    } else {
        perm
    }
}

impl DirDaemon {
    fn path(&self, ref_id: &str, path: &str) -> Result<PathBuf, Status> {
        let recorded = self.recorded.lock().unwrap();
        match recorded.locals.get(ref_id) {
            Some(true) => Ok(self.root.join(path.trim_start_matches('/'))),
            Some(false) => Err(Status::unimplemented("the fake cannot read build results")),
            None => Err(Status::not_found(format!("no such ref {ref_id}"))),
        }
    }
}

#[tonic::async_trait]
impl LlbBridge for DirDaemon {
    async fn ping(
        &self,
        _: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PongResponse>, Status> {
        Ok(Response::new(pb::PongResponse::default()))
    }

    async fn solve(
        &self,
        request: Request<pb::SolveRequest>,
    ) -> Result<Response<pb::SolveResponse>, Status> {
        let def = request.into_inner().definition.unwrap_or_default();
        let ops = common::ops(&def);
        let local = matches!(
            ops.first().and_then(|o| o.op.as_ref()),
            Some(llb_pb::op::Op::Source(s)) if s.identifier.starts_with("local://")
        ) && ops.len() == 2;
        let mut recorded = self.recorded.lock().unwrap();
        let id = format!("ref-{}", recorded.locals.len());
        recorded.locals.insert(id.clone(), local);
        if !local {
            recorded.builds.push(def);
        }
        Ok(Response::new(pb::SolveResponse {
            result: Some(pb::Result {
                result: Some(pb::result::Result::Ref(pb::Ref { id, def: None })),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn read_file(
        &self,
        request: Request<pb::ReadFileRequest>,
    ) -> Result<Response<pb::ReadFileResponse>, Status> {
        let req = request.into_inner();
        let path = self.path(&req.r#ref, &req.file_path)?;
        let meta = std::fs::metadata(&path)
            .map_err(|e| Status::unknown(format!("open {}: {e}", req.file_path)))?;
        if !meta.is_file() {
            return Err(Status::unknown(format!("{} is not a file", req.file_path)));
        }
        let mut file = std::fs::File::open(&path).map_err(|e| Status::unknown(e.to_string()))?;
        let range = req.range.unwrap_or(pb::FileRange {
            offset: 0,
            length: i64::MAX,
        });
        file.seek(SeekFrom::Start(range.offset as u64)).unwrap();
        let mut data = Vec::new();
        file.take(range.length as u64)
            .read_to_end(&mut data)
            .unwrap();
        Ok(Response::new(pb::ReadFileResponse { data }))
    }

    async fn read_dir(
        &self,
        request: Request<pb::ReadDirRequest>,
    ) -> Result<Response<pb::ReadDirResponse>, Status> {
        let req = request.into_inner();
        let dir = self.path(&req.r#ref, &req.dir_path)?;
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Status::unknown(e.to_string()))? {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            entries.push(pb::Stat {
                path: entry.file_name().to_string_lossy().into_owned(),
                mode: go_mode(&meta),
                size: if meta.is_file() { meta.len() as i64 } else { 0 },
                ..Default::default()
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Response::new(pb::ReadDirResponse { entries }))
    }

    async fn resolve_image_config(
        &self,
        request: Request<pb::ResolveImageConfigRequest>,
    ) -> Result<Response<pb::ResolveImageConfigResponse>, Status> {
        let req = request.into_inner();
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Env": ["PATH=/usr/bin:/bin", "PYTHON_VERSION=3.11.9"] },
            "rootfs": { "type": "layers", "diff_ids": [] },
        });
        Ok(Response::new(pb::ResolveImageConfigResponse {
            digest: format!("sha256:{}", "0".repeat(64)),
            config: serde_json::to_vec(&config).unwrap(),
            r#ref: req.r#ref,
        }))
    }

    async fn r#return(
        &self,
        request: Request<pb::ReturnRequest>,
    ) -> Result<Response<pb::ReturnResponse>, Status> {
        self.recorded
            .lock()
            .unwrap()
            .returns
            .push(request.into_inner());
        Ok(Response::new(pb::ReturnResponse {}))
    }
}

/// The frontend's environment for a case: options as BuildKit passes them.
fn frontend_env(case: &Case) -> Vec<(String, String)> {
    let mut options = vec![("filename".to_owned(), "pycache.toml".to_owned())];
    for (k, v) in &case.spec.build_args {
        options.push((format!("build-arg:{k}"), v.clone()));
    }
    let mut vars: Vec<(String, String)> = options
        .iter()
        .enumerate()
        .map(|(i, (k, v))| (format!("BUILDKIT_FRONTEND_OPT_{i}"), format!("{k}={v}")))
        .collect();
    vars.push(("BUILDKIT_SESSION_ID".into(), "hostile".into()));
    vars.push((
        "BUILDKIT_WORKERS".into(),
        r#"[{"ID":"w0","Platforms":[{"architecture":"amd64","os":"linux"}]}]"#.into(),
    ));
    vars
}

/// The frontend on one case, against a daemon serving its directory.
async fn check_frontend(case: &Case) -> Result<String, String> {
    if case.spec.cli_only {
        return Ok("CLI only".into());
    }
    let dir = prepare(case, "frontend");
    let daemon = Arc::new(DirDaemon {
        root: dir.clone(),
        ..Default::default()
    });
    let (mut client, server) = serve_in_process(Arc::clone(&daemon)).await;
    let start = Instant::now();
    let run =
        tokio::time::timeout(MAX_RUN, frontend::run_env(&mut client, frontend_env(case))).await;
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    run.map_err(|_| "the frontend did not finish".to_owned())?
        .map_err(|e| format!("Return failed: {e}"))?;
    let recorded = daemon.recorded.lock().unwrap();
    let [ret] = recorded.returns.as_slice() else {
        return Err(format!("{} Returns", recorded.returns.len()));
    };
    if let Some(marker) = &case.spec.harmless {
        if let Some(e) = &ret.error {
            return Err(format!("the build failed: {}", head(&e.message)));
        }
        for def in &recorded.builds {
            common::only_quoted(def, marker)?;
        }
        return Ok(format!("built, `{marker}` only quoted"));
    }
    let Some(error) = &ret.error else {
        return Err("the build succeeded".into());
    };
    let location = expected_location(&case.spec);
    let mut problems = Vec::new();
    let first = error.message.lines().next().unwrap_or("");
    if !first.starts_with(&location) {
        problems.push(format!("the first line does not start with `{location}`"));
    }
    if let Some(m) = &case.spec.message
        && !error.message.contains(m.as_str())
    {
        problems.push(format!("no `{m}`"));
    }
    if !error.message.contains("help:") {
        problems.push("no help".into());
    }
    if error.message.len() > MAX_STDERR {
        problems.push(format!("a message of {} bytes", error.message.len()));
    }
    if problems.is_empty() {
        Ok(format!("failed build in {:?}: {first}", start.elapsed()))
    } else {
        Err(format!("{}\n{}", problems.join("; "), head(&error.message)))
    }
}

#[tokio::test]
async fn every_case_fails_the_frontend_build_with_its_file_line_and_fix() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        match check_frontend(case).await {
            Ok(outcome) => eprintln!("ok   {}: {outcome}", case.name),
            Err(why) => failures.push(format!("{}: {why}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed (frontend):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Payloads a hostile recipe puts in a value; `PWNED` marks them.
const PAYLOADS: &[&str] = &[
    "$(touch /PWNED)",
    "`touch /PWNED`",
    "x'; touch /PWNED; echo '",
    "x\"; touch /PWNED; echo \"",
    "-PWNED",
    "--PWNED=1",
    "a b PWNED",
    "PWNED\n touch /PWNED",
    "PWNED\u{0}x",
    "../../PWNED",
    "/PWNED; touch /PWNED",
];

/// Every key of the recipe that takes a string, as a TOML line (`{}` is the payload) in its
/// section, over the uv-minimal project.
const FIELDS: &[(&str, &str)] = &[
    ("image", "base = {}"),
    ("image", "workdir = {}"),
    ("image", "workdir = \"/app/{}\""),
    ("image", "user = {}"),
    ("image", "entrypoint = [{}]"),
    ("image", "cmd = [{}]"),
    ("image", "env = { A = {} }"),
    ("image", "env = { {} = \"x\" }"),
    ("image", "labels = { a = {} }"),
    ("image", "labels = { {} = \"x\" }"),
    ("image", "expose = [{}]"),
    ("apt", "packages = [{}]"),
    ("apt", "build-packages = [{}]"),
    ("python", "manager = {}"),
    ("python", "uv = {}"),
    ("python", "uv-image = {}"),
    ("python", "groups = [{}]"),
    ("python", "extras = [{}]"),
    ("python", "index-url = {}"),
    ("python", "index-url = \"https://example.com/{}\""),
    ("python", "extra-index-urls = [{}]"),
    ("python", "layers = {}"),
    // Index secrets, for the index the steps install from: the secret is then mounted and its
    // id, URL and user name reach the steps.
    (
        "python.index-secrets",
        "{} = { url = \"https://example.com/simple\" }\n[python]\nindex-url = \"https://example.com/simple\"",
    ),
    (
        "python.index-secrets",
        "s = { url = \"https://example.com/{}\" }\n[python]\nindex-url = \"https://example.com/{}\"",
    ),
    (
        "python.index-secrets",
        "s = { url = \"https://example.com/simple\", username = {} }\n[python]\nindex-url = \"https://example.com/simple\"",
    ),
    ("source", "include = [{}]"),
    ("source", "exclude = [{}]"),
    ("targets.t", "groups = [{}]"),
    ("targets.t", "packages = [{}]"),
    ("targets.t", "env = { A = {} }"),
    ("targets.t", "cmd = [{}]"),
    ("targets.t", "user = {}"),
    ("args", "A = {}\n[image]\nbase = \"${A}\""),
    ("args", "A = {}\n[image]\nworkdir = \"/app/${A}\""),
];

/// The keys of git dependencies over SSH, over the uv-git-ssh project (whose lock fetches one),
/// so that the id and the host keys reach its install step.
const SSH_FIELDS: &[(&str, &str)] = &[
    ("python", "ssh = {}"),
    ("python", "known-hosts = [{}]"),
    // The payload as the comment of a valid line, through a build arg.
    (
        "args",
        "A = {}\n[python]\nknown-hosts = [\"[h.example]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI ${A}\"]",
    ),
];

/// Each payload through each field: the recipe is refused with a location in it and a fix,
/// or accepted with the payload reaching every shell only inside single quotes.
#[test]
fn injection_through_every_recipe_field_is_refused_or_quoted() {
    let (mut refused, mut quoted, mut failures) = (0, 0, Vec::new());
    for (case, fields) in [("uv-minimal", FIELDS), ("uv-git-ssh", SSH_FIELDS)] {
        let (r, q, f) = matrix(case, fields);
        refused += r;
        quoted += q;
        failures.extend(f);
    }
    eprintln!(
        "{} payloads through {} fields: {refused} refused with a location, {quoted} accepted and only quoted",
        PAYLOADS.len(),
        FIELDS.len() + SSH_FIELDS.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(quoted > 0 && refused > 0);
}

/// Every payload through `fields` over the project of golden case `case`: how many recipes
/// were refused with a location, accepted and only quoted, and what failed.
fn matrix(case: &str, fields: &[(&str, &str)]) -> (usize, usize, Vec<String>) {
    let project = common::testdata().join(case);
    let files = pycache::detect::ProjectFiles::from_dir(&project).unwrap();
    let (mut refused, mut quoted, mut failures) = (0, 0, Vec::new());
    for (section, line) in fields {
        for payload in PAYLOADS {
            let value = toml::Value::String((*payload).to_owned()).to_string();
            let recipe = format!("[{section}]\n{}\n", line.replace("{}", &value));
            let build_args = BTreeMap::new();
            let inputs = pycache::Inputs {
                recipe_file: "pycache.toml",
                recipe_text: &recipe,
                recipe_dockerignore: None,
                files: &files,
                target: if section.starts_with("targets") {
                    "t"
                } else {
                    ""
                },
                build_args: &build_args,
                platform: common::amd64(),
                facts: Default::default(),
            };
            match pycache::plan_build(&inputs) {
                Err(diags) => {
                    let located = diags.iter().any(|d| {
                        d.file == "pycache.toml" && d.line_col().is_some() && d.help.is_some()
                    });
                    if located {
                        refused += 1;
                    } else {
                        failures.push(format!("{recipe}→ refused without a location:\n{diags}"));
                    }
                }
                Ok(plan) => {
                    let def = pycache::definition(&plan, &common::lower_options());
                    match common::only_quoted(&def, "PWNED") {
                        Ok(()) => quoted += 1,
                        Err(e) => failures.push(format!("{recipe}→ {e}")),
                    }
                }
            }
        }
    }
    (refused, quoted, failures)
}

#[test]
fn the_quoting_check_sees_unquoted_values() {
    assert_eq!(
        common::unquoted_shell("a 'b $(x)' c 'it'\\''s' <<'E'\n$(y)\nE\nd"),
        "a  c  d"
    );
    assert!(common::unquoted_shell("echo $(PWNED)").contains("PWNED"));
}
