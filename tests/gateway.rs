//! The frontend against an in-process fake of the BuildKit daemon's LLBBridge: what it asks the
//! daemon (Solve, ReadFile, ReadDir, ResolveImageConfig) and what it returns. The fake serves
//! files from in-memory locals, found through the `local://NAME` source of each solved
//! definition, and honours `local.includepattern` / `local.excludepatterns` like the daemon.
//! The last test runs the real binary with its stdin/stdout as the gRPC connection. The fake
//! is served by the LLBBridge server generated from gateway.proto (`support`).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use prost::Message;
use pycache::gateway::frontend;
use pycache::gateway::options::FrontendOptions;
use pycache::gateway::pb;
use pycache::llb::pb as llb_pb;
use serde_json::Value;
use support::{LlbBridge, serve_in_process};
use tonic::transport::Server;
use tonic::{Request, Response, Status};

const SESSION: &str = "session-1";
const GO_MODE_DIR: u32 = 1 << 31;
const CACHE_IMPORTS: &str =
    r#"[{"Type":"registry","Attrs":{"ref":"registry.example/app:buildcache"}}]"#;

/// What a solved local source shows: the local's name and its filters.
#[derive(Clone, Debug)]
struct LocalView {
    name: String,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl LocalView {
    /// Whether `path` or one of its parent directories matches `set` (like fsutil's filters).
    fn matches(set: &GlobSet, path: &str) -> bool {
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if set.is_match(&prefix) {
                return true;
            }
        }
        false
    }

    fn visible(&self, path: &str) -> bool {
        self.include.as_ref().is_none_or(|s| Self::matches(s, path))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|s| Self::matches(s, path))
    }
}

#[derive(Default)]
struct Recorded {
    solves: Vec<pb::SolveRequest>,
    /// Ref id → the local it shows (`None` for a build).
    refs: BTreeMap<String, Option<LocalView>>,
    resolves: Vec<pb::ResolveImageConfigRequest>,
    reads: Vec<String>,
    returns: Vec<pb::ReturnRequest>,
}

/// A fake daemon: locals by name (path → content), a base image config, and a record of
/// every request.
#[derive(Default)]
struct FakeDaemon {
    locals: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    llb_caps: Vec<&'static str>,
    recorded: Mutex<Recorded>,
}

fn glob_set(json: Option<&String>) -> Option<GlobSet> {
    let patterns: Vec<String> = serde_json::from_str(json?).expect("patterns are a JSON array");
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(
            GlobBuilder::new(&p)
                .literal_separator(true)
                .build()
                .expect("valid glob"),
        );
    }
    Some(b.build().expect("valid globs"))
}

/// The local source of a definition that is nothing but one (the frontend's reads).
fn local_view(def: &llb_pb::Definition) -> Option<LocalView> {
    let ops: Vec<llb_pb::Op> = def
        .def
        .iter()
        .map(|b| llb_pb::Op::decode(b.as_slice()).expect("ops decode"))
        .collect();
    let [source, _terminal] = ops.as_slice() else {
        return None;
    };
    let Some(llb_pb::op::Op::Source(src)) = &source.op else {
        return None;
    };
    let name = src.identifier.strip_prefix("local://")?.to_owned();
    Some(LocalView {
        name,
        include: glob_set(src.attrs.get("local.includepattern")),
        exclude: glob_set(src.attrs.get("local.excludepatterns")),
    })
}

impl FakeDaemon {
    fn with_local(mut self, name: &str, files: &[(&str, &str)]) -> Self {
        let local = self.locals.entry(name.to_owned()).or_default();
        for (path, text) in files {
            local.insert((*path).to_owned(), text.as_bytes().to_vec());
        }
        self
    }

    fn view(&self, ref_id: &str) -> Result<(LocalView, &BTreeMap<String, Vec<u8>>), Status> {
        let recorded = self.recorded.lock().unwrap();
        let view = recorded
            .refs
            .get(ref_id)
            .ok_or_else(|| Status::not_found(format!("no such ref {ref_id}")))?
            .clone()
            .ok_or_else(|| Status::unimplemented("the fake cannot read build results"))?;
        let files = self
            .locals
            .get(&view.name)
            .ok_or_else(|| Status::unknown(format!("no local {} in the session", view.name)))?;
        Ok((view, files))
    }
}

#[tonic::async_trait]
impl LlbBridge for FakeDaemon {
    async fn ping(
        &self,
        _: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PongResponse>, Status> {
        let caps = if self.llb_caps.is_empty() {
            vec!["source.local", "mergeop", "diffop"]
        } else {
            self.llb_caps.clone()
        };
        Ok(Response::new(pb::PongResponse {
            llb_caps: caps
                .into_iter()
                .map(|id| pb::ApiCap {
                    id: id.into(),
                    enabled: true,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn solve(
        &self,
        request: Request<pb::SolveRequest>,
    ) -> Result<Response<pb::SolveResponse>, Status> {
        let req = request.into_inner();
        let view = req.definition.as_ref().and_then(local_view);
        let mut recorded = self.recorded.lock().unwrap();
        recorded.solves.push(req);
        let id = format!("ref-{}", recorded.solves.len());
        recorded.refs.insert(id.clone(), view);
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
        let (view, files) = self.view(&req.r#ref)?;
        let path = req.file_path.trim_start_matches('/');
        self.recorded
            .lock()
            .unwrap()
            .reads
            .push(format!("{}:{path}", view.name));
        let data = files
            .get(path)
            .filter(|_| view.visible(path))
            .ok_or_else(|| Status::unknown(format!("open /{path}: no such file or directory")))?;
        let data = match req.range {
            Some(r) => {
                let start = (r.offset as usize).min(data.len());
                let end = (start + r.length as usize).min(data.len());
                data[start..end].to_vec()
            }
            None => data.clone(),
        };
        Ok(Response::new(pb::ReadFileResponse { data }))
    }

    async fn read_dir(
        &self,
        request: Request<pb::ReadDirRequest>,
    ) -> Result<Response<pb::ReadDirResponse>, Status> {
        let req = request.into_inner();
        let (view, files) = self.view(&req.r#ref)?;
        let dir = req.dir_path.trim_matches('/');
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut entries: BTreeMap<String, pb::Stat> = BTreeMap::new();
        for (path, data) in files.iter().filter(|(p, _)| view.visible(p)) {
            let Some(rest) = path.strip_prefix(&prefix) else {
                continue;
            };
            let stat = match rest.split_once('/') {
                Some((sub, _)) => pb::Stat {
                    path: sub.to_owned(),
                    mode: GO_MODE_DIR | 0o755,
                    ..Default::default()
                },
                None => pb::Stat {
                    path: rest.to_owned(),
                    mode: 0o644,
                    size: data.len() as i64,
                    ..Default::default()
                },
            };
            entries.insert(stat.path.clone(), stat);
        }
        Ok(Response::new(pb::ReadDirResponse {
            entries: entries.into_values().collect(),
        }))
    }

    async fn resolve_image_config(
        &self,
        request: Request<pb::ResolveImageConfigRequest>,
    ) -> Result<Response<pb::ResolveImageConfigResponse>, Status> {
        let req = request.into_inner();
        let platform = req.platform.clone().unwrap_or_default();
        let config = serde_json::json!({
            "architecture": platform.architecture,
            "os": platform.os,
            "config": {
                "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "PYTHON_VERSION=3.11.9"],
                "Cmd": ["python3"],
                "Labels": { "from.base": "yes" },
            },
            "rootfs": { "type": "layers", "diff_ids": [] },
            "history": [{ "created_by": "base image" }],
        });
        let reference = req.r#ref.clone();
        self.recorded.lock().unwrap().resolves.push(req);
        Ok(Response::new(pb::ResolveImageConfigResponse {
            digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
                .into(),
            config: serde_json::to_vec(&config).unwrap(),
            r#ref: reference,
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

/// The frontend's environment: `BUILDKIT_FRONTEND_OPT_<i>` for each option (in reverse, as
/// the daemon's order is random), the session, and one linux/amd64 worker.
fn env(options: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = options
        .iter()
        .rev()
        .enumerate()
        .map(|(i, (k, v))| (format!("BUILDKIT_FRONTEND_OPT_{i}"), format!("{k}={v}")))
        .collect();
    vars.push(("BUILDKIT_SESSION_ID".into(), SESSION.into()));
    vars.push((
        "BUILDKIT_WORKERS".into(),
        r#"[{"ID":"w0","Labels":{},"Platforms":[{"architecture":"amd64","os":"linux"}]}]"#.into(),
    ));
    vars
}

/// Runs the frontend once against `daemon` with `options`; returns the daemon to inspect.
async fn drive(daemon: FakeDaemon, options: &[(&str, &str)]) -> Arc<FakeDaemon> {
    let daemon = Arc::new(daemon);
    let (mut client, server) = serve_in_process(Arc::clone(&daemon)).await;
    frontend::run_env(&mut client, env(options))
        .await
        .expect("Return is acknowledged");
    server.abort();
    daemon
}

fn testdata(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/uv-minimal")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The demo uv project: the recipe in the `dockerfile` local, the project in `context`, plus
/// files detection must not see.
fn uv_project(recipe: &str) -> FakeDaemon {
    let (pyproject, lock, init) = (
        testdata("pyproject.toml"),
        testdata("uv.lock"),
        testdata("src/hello/__init__.py"),
    );
    FakeDaemon::default()
        .with_local("dockerfile", &[("pycache.toml", recipe)])
        .with_local(
            "context",
            &[
                ("pycache.toml", recipe),
                ("pyproject.toml", &pyproject),
                ("uv.lock", &lock),
                ("src/hello/__init__.py", &init),
                ("README.md", "# hello\n"),
                (
                    ".venv/lib/python3.11/site-packages/x/pyproject.toml",
                    "not toml [",
                ),
                ("node_modules/x/requirements.txt", "left-pad\n"),
            ],
        )
}

fn the_return(daemon: &FakeDaemon) -> pb::ReturnRequest {
    let recorded = daemon.recorded.lock().unwrap();
    assert_eq!(recorded.returns.len(), 1, "exactly one Return");
    recorded.returns[0].clone()
}

fn metadata_json(ret: &pb::ReturnRequest, key: &str) -> Value {
    let result = ret
        .result
        .as_ref()
        .unwrap_or_else(|| panic!("an error was returned: {:?}", ret.error));
    let bytes = result
        .metadata
        .get(key)
        .unwrap_or_else(|| panic!("no {key} metadata"));
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{key}: {e}"))
}

fn metadata_text(ret: &pb::ReturnRequest, key: &str) -> String {
    String::from_utf8(ret.result.as_ref().unwrap().metadata[key].clone()).unwrap()
}

fn source_op(req: &pb::SolveRequest) -> llb_pb::SourceOp {
    let def = req.definition.as_ref().expect("a definition");
    match llb_pb::Op::decode(def.def[0].as_slice()).unwrap().op {
        Some(llb_pb::op::Op::Source(s)) => s,
        other => panic!("not a source op: {other:?}"),
    }
}

fn error_of(ret: &pb::ReturnRequest) -> &pb::Status {
    assert!(ret.result.is_none(), "no result with an error");
    ret.error.as_ref().expect("an error")
}

#[tokio::test]
async fn uv_build_returns_the_ref_and_its_image_config() {
    let daemon = drive(
        uv_project(&testdata("pycache.toml")),
        &[
            ("filename", "pycache.toml"),
            ("label:org.example.team", "core"),
            ("cache-imports", CACHE_IMPORTS),
            ("image-resolve-mode", "local"),
        ],
    )
    .await;
    let ret = the_return(&daemon);
    assert_eq!(ret.error, None);
    let recorded = daemon.recorded.lock().unwrap();

    // Recipe, project files, build: the build's ref is returned.
    assert_eq!(recorded.solves.len(), 3);
    let Some(pb::result::Result::Ref(r)) = &ret.result.as_ref().unwrap().result else {
        panic!("expected a single ref");
    };
    assert_eq!(r.id, "ref-3");

    let config = metadata_json(&ret, "containerimage.config");
    assert_eq!(config["config"]["User"], "app");
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert_eq!(config["config"]["Labels"]["org.example.team"], "core");
    assert_eq!(config["config"]["Labels"]["from.base"], "yes");
    assert_eq!(config["architecture"], "amd64");
    assert!(
        config["config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&Value::from("LANG=C.UTF-8")),
        "the base image's env is kept: {}",
        config["config"]["Env"]
    );

    // Every Solve carries the cache imports, or the daemon ignores --cache-from.
    for solve in &recorded.solves {
        assert_eq!(solve.cache_imports.len(), 1);
        assert_eq!(solve.cache_imports[0].r#type, "registry");
        assert_eq!(
            solve.cache_imports[0].attrs["ref"],
            "registry.example/app:buildcache"
        );
        assert!(solve.allow_result_return && solve.allow_result_array_ref);
        assert!(!solve.evaluate);
    }

    let recipe_source = source_op(&recorded.solves[0]);
    assert_eq!(recipe_source.identifier, "local://dockerfile");
    assert_eq!(recipe_source.attrs["local.session"], SESSION);
    assert_eq!(recipe_source.attrs["local.differ"], "none");
    assert_eq!(recipe_source.attrs["local.sharedkeyhint"], "dockerfile");
    assert_eq!(
        recipe_source.attrs["local.includepattern"],
        r#"["pycache.toml","pycache.toml.dockerignore"]"#
    );
    let project_source = source_op(&recorded.solves[1]);
    assert_eq!(project_source.identifier, "local://context");
    assert_eq!(
        project_source.attrs["local.sharedkeyhint"],
        "context-detect"
    );
    let patterns: Vec<String> =
        serde_json::from_str(&project_source.attrs["local.includepattern"]).unwrap();
    assert_eq!(patterns, pycache::detect::DETECTION_PATTERNS);

    // Detection read the project's files and nothing under skipped directories.
    assert!(
        recorded
            .reads
            .contains(&"context:pyproject.toml".to_owned())
    );
    assert!(recorded.reads.contains(&"context:uv.lock".to_owned()));
    assert!(
        recorded
            .reads
            .iter()
            .all(|r| !r.contains(".venv") && !r.contains("node_modules") && !r.contains("README")),
        "{:?}",
        recorded.reads
    );

    // The base image's config was resolved for the build's platform and resolve mode.
    assert_eq!(recorded.resolves.len(), 1);
    let resolve = &recorded.resolves[0];
    assert_eq!(resolve.r#ref, "docker.io/local/python:3.11-slim");
    assert_eq!(resolve.resolve_mode, "local");
    assert_eq!(resolve.platform.as_ref().unwrap().architecture, "amd64");
    assert!(resolve.log_name.contains("load metadata for"));

    // The build's image sources carry the resolve mode, and the context its session.
    let build = recorded.solves[2].definition.as_ref().unwrap();
    let sources: Vec<llb_pb::SourceOp> = build
        .def
        .iter()
        .filter_map(|b| match llb_pb::Op::decode(b.as_slice()).unwrap().op {
            Some(llb_pb::op::Op::Source(s)) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        sources
            .iter()
            .any(|s| s.identifier.starts_with("docker-image://")
                && s.attrs.get("image.resolvemode").map(String::as_str) == Some("local"))
    );
    assert!(sources.iter().any(|s| s.identifier == "local://context"
        && s.attrs.get("local.session").map(String::as_str) == Some(SESSION)));
}

#[tokio::test]
async fn a_broken_recipe_returns_its_location() {
    let recipe = "[image]\nbase = 3\n";
    let daemon = drive(uv_project(recipe), &[("filename", "pycache.toml")]).await;
    let ret = the_return(&daemon);
    let error = error_of(&ret);
    assert_eq!(error.code, 3, "InvalidArgument");
    assert!(
        error.message.starts_with("pycache.toml:2:8: "),
        "{}",
        error.message
    );
    assert!(error.message.contains("\n"), "the full rendering follows");
    let source = error
        .details
        .iter()
        .find(|d| d.type_url == "github.com/moby/buildkit/errdefs.Source+json")
        .expect("an errdefs.Source detail");
    let source: Value = serde_json::from_slice(&source.value).unwrap();
    assert_eq!(source["info"]["filename"], "pycache.toml");
    assert_eq!(source["ranges"][0]["start"]["line"], 2);
    // Nothing was built.
    assert_eq!(daemon.recorded.lock().unwrap().solves.len(), 2);
}

#[tokio::test]
async fn the_filename_option_is_honoured() {
    let recipe = testdata("pycache.toml");
    let daemon = drive(
        uv_project(&recipe).with_local(
            "dockerfile",
            &[(
                "app.pycache.toml",
                "[image]\nbase = \"local/python:3.11-slim\"\nworkdir = \"/srv\"\n",
            )],
        ),
        &[("filename", "app.pycache.toml")],
    )
    .await;
    let ret = the_return(&daemon);
    let config = metadata_json(&ret, "containerimage.config");
    assert_eq!(config["config"]["WorkingDir"], "/srv");
    let recipe_solve = daemon.recorded.lock().unwrap().solves[0].clone();
    assert_eq!(
        source_op(&recipe_solve).attrs["local.includepattern"],
        r#"["app.pycache.toml","app.pycache.toml.dockerignore"]"#
    );

    // Errors name the file as given.
    let daemon = drive(
        uv_project(&recipe)
            .with_local("dockerfile", &[("app.pycache.toml", "[image]\nnope = 1\n")]),
        &[("filename", "app.pycache.toml")],
    )
    .await;
    let ret = the_return(&daemon);
    assert!(
        error_of(&ret).message.starts_with("app.pycache.toml:2:"),
        "{}",
        error_of(&ret).message
    );
}

#[tokio::test]
async fn buildx_default_filename_finds_the_pycache_recipe() {
    let daemon = drive(
        uv_project(&testdata("pycache.toml")),
        &[("filename", "Dockerfile")],
    )
    .await;
    let ret = the_return(&daemon);
    assert_eq!(ret.error, None);
    metadata_json(&ret, "containerimage.config");
}

#[tokio::test]
async fn a_missing_recipe_says_so() {
    let daemon = drive(
        uv_project("").with_local("dockerfile", &[]),
        &[("filename", "other.toml")],
    )
    .await;
    let ret = the_return(&daemon);
    let error = error_of(&ret);
    assert_eq!(error.code, 3);
    assert!(
        error
            .message
            .starts_with("other.toml: cannot read the recipe"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn invalid_options_are_returned_as_errors() {
    let daemon = drive(uv_project(""), &[("image-resolve-mode", "sometimes")]).await;
    let ret = the_return(&daemon);
    let error = error_of(&ret);
    assert_eq!(error.code, 3);
    assert!(
        error.message.contains("image-resolve-mode"),
        "{}",
        error.message
    );
    assert!(daemon.recorded.lock().unwrap().solves.is_empty());
}

#[tokio::test]
async fn daemons_without_merge_and_diff_get_copied_layers() {
    let mut daemon = uv_project(&testdata("pycache.toml"));
    daemon.llb_caps = vec!["source.local"];
    let daemon = drive(daemon, &[]).await;
    assert_eq!(the_return(&daemon).error, None);
    let recorded = daemon.recorded.lock().unwrap();
    let build = recorded.solves[2].definition.as_ref().unwrap();
    let ops: Vec<_> = build
        .def
        .iter()
        .filter_map(|b| llb_pb::Op::decode(b.as_slice()).unwrap().op)
        .collect();
    assert!(
        !ops.iter()
            .any(|op| matches!(op, llb_pb::op::Op::Merge(_) | llb_pb::op::Op::Diff(_))),
        "no MergeOp or DiffOp on an engine without them"
    );
    assert!(ops.iter().any(|op| matches!(op, llb_pb::op::Op::File(_))));
}

#[tokio::test]
async fn multi_platform_builds_return_refs_by_platform() {
    let daemon = drive(
        uv_project(&testdata("pycache.toml")),
        &[
            ("platform", "linux/amd64,linux/arm64"),
            ("cache-imports", CACHE_IMPORTS),
        ],
    )
    .await;
    let ret = the_return(&daemon);
    let Some(pb::result::Result::Refs(refs)) = &ret.result.as_ref().unwrap().result else {
        panic!("expected refs: {ret:?}");
    };
    assert_eq!(
        refs.refs.keys().collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"]
    );
    let arm = metadata_json(&ret, "containerimage.config/linux/arm64");
    assert_eq!(arm["architecture"], "arm64");
    let platforms = metadata_json(&ret, "refs.platforms");
    assert_eq!(platforms["Platforms"][1]["ID"], "linux/arm64");
    let recorded = daemon.recorded.lock().unwrap();
    assert_eq!(recorded.resolves.len(), 2);
    assert_eq!(recorded.solves.len(), 4);
    assert!(recorded.solves.iter().all(|s| s.cache_imports.len() == 1));
}

/// The content of the file the definition of `solve` writes (a one-file SBOM filesystem).
fn mkfile_data(solve: &pb::SolveRequest) -> (String, Vec<u8>) {
    let def = solve.definition.as_ref().expect("a definition");
    for op in def
        .def
        .iter()
        .map(|b| llb_pb::Op::decode(b.as_slice()).unwrap())
    {
        if let Some(llb_pb::op::Op::File(file)) = op.op {
            for action in file.actions {
                if let Some(llb_pb::file_action::Action::Mkfile(m)) = action.action {
                    return (m.path, m.data);
                }
            }
        }
    }
    panic!("no mkfile in {def:?}");
}

#[tokio::test]
async fn sbom_is_attached_per_platform_from_the_lock() {
    let daemon = drive(
        uv_project(&testdata("pycache.toml")),
        &[
            ("platform", "linux/amd64,linux/arm64"),
            ("attest:sbom", ""),
            ("build-arg:SOURCE_DATE_EPOCH", "1700000000"),
        ],
    )
    .await;
    let ret = the_return(&daemon);
    let result = ret.result.as_ref().expect("a result");
    assert_eq!(
        result.attestations.keys().collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"]
    );
    let solves = daemon.recorded.lock().unwrap().solves.clone();
    for (platform, atts) in &result.attestations {
        let [att] = atts.attestation.as_slice() else {
            panic!("one attestation for {platform}: {atts:?}");
        };
        assert_eq!(att.kind, pb::AttestationKind::InToto as i32);
        assert_eq!(att.in_toto_predicate_type, "https://spdx.dev/Document");
        assert!(att.in_toto_subjects.is_empty(), "the image itself");
        let id = &att.r#ref.as_ref().expect("a ref").id;
        let n: usize = id.strip_prefix("ref-").unwrap().parse().unwrap();
        let solve = &solves[n - 1];
        let (path, data) = mkfile_data(solve);
        assert_eq!(path, att.path);
        let doc: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
        assert!(doc["name"].as_str().unwrap().contains(platform.as_str()));
        let six = &doc["packages"][0];
        assert_eq!(six["name"], "six");
        assert_eq!(
            six["externalRefs"][0]["referenceLocator"],
            "pkg:pypi/six@1.17.0"
        );
        let arch = platform.rsplit('/').next().unwrap();
        let file_op =
            llb_pb::Op::decode(solve.definition.as_ref().unwrap().def[0].as_slice()).unwrap();
        assert_eq!(file_op.platform.unwrap().architecture, arch);
    }

    let without = drive(uv_project(&testdata("pycache.toml")), &[]).await;
    assert!(the_return(&without).result.unwrap().attestations.is_empty());
}

#[tokio::test]
async fn no_cache_marks_every_op() {
    let daemon = drive(uv_project(&testdata("pycache.toml")), &[("no-cache", "")]).await;
    assert_eq!(the_return(&daemon).error, None);
    let recorded = daemon.recorded.lock().unwrap();
    let build = recorded.solves[2].definition.as_ref().unwrap();
    let terminal = pycache::llb::digest(build.def.last().unwrap());
    for op in &build.def {
        let digest = pycache::llb::digest(op);
        if digest != terminal {
            assert!(build.metadata[&digest].ignore_cache, "{digest}");
        }
    }
}

#[tokio::test]
async fn describe_lists_the_subrequests() {
    let daemon = drive(
        uv_project(""),
        &[("requestid", "frontend.subrequests.describe")],
    )
    .await;
    let ret = the_return(&daemon);
    let json = metadata_json(&ret, "result.json");
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"frontend.targets"));
    assert!(names.contains(&"frontend.subrequests.describe"));
    assert_eq!(metadata_text(&ret, "version"), "1.0.0");
    assert!(metadata_text(&ret, "result.txt").starts_with("NAME"));
    assert!(daemon.recorded.lock().unwrap().solves.is_empty());
}

#[tokio::test]
async fn targets_lists_runtime_and_the_recipes_targets() {
    let recipe = format!(
        "{}\n\n# Python with a shell\n[targets.debug]\ncmd = [\"python\"]\n",
        testdata("pycache.toml")
    );
    let daemon = drive(uv_project(&recipe), &[("requestid", "frontend.targets")]).await;
    let ret = the_return(&daemon);
    let json = metadata_json(&ret, "result.json");
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets[0]["name"], "runtime");
    assert_eq!(targets[0]["default"], true);
    assert_eq!(targets[1]["name"], "debug");
    assert_eq!(targets[1]["description"], "Python with a shell");
    let line = recipe.lines().position(|l| l == "[targets.debug]").unwrap() + 1;
    assert_eq!(targets[1]["location"]["ranges"][0]["start"]["line"], line);
    assert_eq!(json["sources"].as_array().unwrap().len(), 1);
    assert!(metadata_text(&ret, "result.txt").contains("debug"));
}

/// A project whose lock fetches a git dependency over SSH: the outline lists the `--ssh` id
/// the build needs, as required, at the recipe's `ssh` key.
#[tokio::test]
async fn outline_lists_the_ssh_id_the_lock_needs() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/uv-git-ssh");
    let read = |name: &str| std::fs::read_to_string(case.join(name)).unwrap();
    let recipe = read("pycache.toml");
    let (pyproject, lock, init) = (
        read("pyproject.toml"),
        read("uv.lock"),
        read("src/sshapp/__init__.py"),
    );
    let daemon = FakeDaemon::default()
        .with_local("dockerfile", &[("pycache.toml", &recipe)])
        .with_local(
            "context",
            &[
                ("pycache.toml", &recipe),
                ("pyproject.toml", &pyproject),
                ("uv.lock", &lock),
                ("src/sshapp/__init__.py", &init),
            ],
        );
    let daemon = drive(daemon, &[("requestid", "frontend.outline")]).await;
    let ret = the_return(&daemon);
    let json = metadata_json(&ret, "result.json");
    assert_eq!(json["ssh"][0]["name"], "deploy-key");
    assert_eq!(json["ssh"][0]["required"], true);
    assert_eq!(json["ssh"][0]["location"]["ranges"][0]["start"]["line"], 5);
    assert!(
        metadata_text(&ret, "result.txt").contains("SSH          REQUIRED\ndeploy-key   true\n"),
        "{}",
        metadata_text(&ret, "result.txt")
    );
    // Without git over SSH, no ssh section.
    let plain = drive(
        uv_project(&testdata("pycache.toml")),
        &[("requestid", "frontend.outline")],
    )
    .await;
    let json = metadata_json(&the_return(&plain), "result.json");
    assert!(json.get("ssh").is_none(), "{json}");
}

#[tokio::test]
async fn outline_lists_the_args_and_the_target() {
    let recipe = "[args]\n# Which Python\nPY = \"3.11\"\n\n[image]\nbase = \"local/python:${PY}-slim\"\n\n# Python with a shell\n[targets.debug]\ncmd = [\"python\"]\n";
    let daemon = drive(
        uv_project(recipe),
        &[
            ("requestid", "frontend.outline"),
            ("target", "debug"),
            ("build-arg:PY", "3.12"),
        ],
    )
    .await;
    let ret = the_return(&daemon);
    let json = metadata_json(&ret, "result.json");
    assert_eq!(json["name"], "debug");
    assert_eq!(json["description"], "Python with a shell");
    assert_eq!(json["args"][0]["name"], "PY");
    assert_eq!(
        json["args"][0]["value"], "3.12",
        "the value the build would use"
    );
    assert_eq!(json["args"][0]["description"], "Which Python");
    assert_eq!(json["args"][0]["location"]["ranges"][0]["start"]["line"], 3);
    assert!(json.get("secrets").is_none() && json.get("ssh").is_none());
    assert_eq!(json["sources"].as_array().unwrap().len(), 1);
    assert_eq!(metadata_text(&ret, "version"), "1.0.0");
    assert!(metadata_text(&ret, "result.txt").starts_with("TARGET:      debug\n"));
    // The recipe and the project's files (for the `--ssh` ids the plan needs): no build.
    assert_eq!(
        daemon.recorded.lock().unwrap().solves.len(),
        2,
        "two solves: the recipe and the project files"
    );

    let unknown = drive(
        uv_project(recipe),
        &[("requestid", "frontend.outline"), ("target", "dbg")],
    )
    .await;
    let ret = the_return(&unknown);
    let message = &error_of(&ret).message;
    assert!(
        message.contains("target `dbg` is not defined") && message.contains("debug"),
        "{message}"
    );
}

#[tokio::test]
async fn lint_reports_every_problem_with_a_location() {
    let ok = drive(
        uv_project(&testdata("pycache.toml")),
        &[("requestid", "frontend.lint")],
    )
    .await;
    let ret = the_return(&ok);
    assert_eq!(metadata_text(&ret, "result.statuscode"), "0");
    assert_eq!(
        metadata_json(&ret, "result.json")["warnings"],
        Value::Array(vec![])
    );

    let broken = "[image]\nbase = 3\nworkdir = 4\n";
    let bad = drive(uv_project(broken), &[("requestid", "frontend.lint")]).await;
    let ret = the_return(&bad);
    assert_eq!(metadata_text(&ret, "result.statuscode"), "1");
    let json = metadata_json(&ret, "result.json");
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{json}");
    for w in warnings {
        assert!(
            w["location"].is_object(),
            "every warning has a location: {w}"
        );
        let index = w["location"]["sourceIndex"].as_i64().unwrap_or(0);
        assert!(index == -1 || (index as usize) < json["sources"].as_array().unwrap().len());
    }
    assert_eq!(json["sources"][0]["filename"], "pycache.toml");
}

#[tokio::test]
async fn unknown_subrequests_are_typed_as_unsupported() {
    let daemon = drive(uv_project(""), &[("requestid", "frontend.graph")]).await;
    let ret = the_return(&daemon);
    let error = error_of(&ret);
    let detail = &error.details[0];
    assert_eq!(
        detail.type_url,
        "github.com/moby/buildkit/errdefs.Subrequest+json"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&detail.value).unwrap()["name"],
        "frontend.graph"
    );
}

/// `Connected` for a child's stdout+stdin joined into one stream, so tonic can serve on it.
struct ChildIo(tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>);

impl tonic::transport::server::Connected for ChildIo {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl tokio::io::AsyncRead for ChildIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ChildIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, data)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The real binary as BuildKit runs it: gRPC on its stdin/stdout, options in its environment.
/// It must Return once and exit 0 by itself, although its stdin is never closed.
#[tokio::test]
async fn the_binary_serves_one_build_over_stdio_and_exits() {
    let daemon = Arc::new(uv_project(&testdata("pycache.toml")));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pycache"))
        .arg("frontend")
        .env_clear()
        .envs(env(&[("filename", "pycache.toml"), ("label:via", "stdio")]))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pycache frontend");
    let io = ChildIo(tokio::io::join(
        child.stdout.take().unwrap(),
        child.stdin.take().unwrap(),
    ));
    let server = tokio::spawn(
        Server::builder()
            .add_service(support::server(Arc::clone(&daemon)))
            .serve_with_incoming(tonic::codegen::tokio_stream::once(Ok::<_, std::io::Error>(
                io,
            ))),
    );
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the frontend exits by itself after Return")
        .expect("wait");
    server.abort();
    assert!(status.success(), "exit status {status}");
    let ret = the_return(&daemon);
    let config = metadata_json(&ret, "containerimage.config");
    assert_eq!(config["config"]["Labels"]["via"], "stdio");
}

/// Answers Ping; a Solve tells the test and then never answers, as a daemon that is going away.
struct VanishingDaemon {
    solving: tokio::sync::mpsc::Sender<()>,
}

#[tonic::async_trait]
impl LlbBridge for VanishingDaemon {
    async fn ping(
        &self,
        _: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PongResponse>, Status> {
        Ok(Response::new(pb::PongResponse::default()))
    }

    async fn solve(
        &self,
        _: Request<pb::SolveRequest>,
    ) -> Result<Response<pb::SolveResponse>, Status> {
        let _ = self.solving.send(()).await;
        std::future::pending().await
    }
}

type ChildPipes = tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>;

/// A child's stdio that the test can close while the server still holds it (tonic serves a
/// connection on a task of its own, which aborting the server does not end).
#[derive(Clone)]
struct ClosableIo(Arc<Mutex<Option<ChildPipes>>>);

impl ClosableIo {
    /// Closes both pipes: the child reads EOF and its writes fail.
    fn close(&self) {
        drop(self.0.lock().unwrap().take());
    }
}

impl tonic::transport::server::Connected for ClosableIo {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl tokio::io::AsyncRead for ClosableIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.0.lock().unwrap().as_mut() {
            Some(io) => std::pin::Pin::new(io).poll_read(cx, buf),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}

impl tokio::io::AsyncWrite for ClosableIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.0.lock().unwrap().as_mut() {
            Some(io) => std::pin::Pin::new(io).poll_write(cx, data),
            None => std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.0.lock().unwrap().as_mut() {
            Some(io) => std::pin::Pin::new(io).poll_flush(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.0.lock().unwrap().as_mut() {
            Some(io) => std::pin::Pin::new(io).poll_shutdown(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}

/// The daemon closing the stdio connection mid-build (BuildKit cancelled, or died): the
/// frontend notices at once and exits non-zero within a second, rather than hanging on.
#[tokio::test]
async fn the_binary_exits_non_zero_when_the_daemon_hangs_up() {
    let (solving, mut solves) = tokio::sync::mpsc::channel(1);
    let daemon = Arc::new(VanishingDaemon { solving });
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pycache"))
        .arg("frontend")
        .env_clear()
        .envs(env(&[("filename", "pycache.toml")]))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pycache frontend");
    let io = ClosableIo(Arc::new(Mutex::new(Some(tokio::io::join(
        child.stdout.take().unwrap(),
        child.stdin.take().unwrap(),
    )))));
    let server = tokio::spawn(
        Server::builder()
            .add_service(support::server(daemon))
            .serve_with_incoming(tonic::codegen::tokio_stream::once(Ok::<_, std::io::Error>(
                io.clone(),
            ))),
    );
    tokio::time::timeout(Duration::from_secs(30), solves.recv())
        .await
        .expect("the frontend asks for a Solve")
        .expect("a Solve");
    io.close();
    let hung_up = std::time::Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the frontend exits once the daemon is gone")
        .expect("wait");
    let took = hung_up.elapsed();
    server.abort();
    assert!(!status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(1), "took {took:?} to exit");
    eprintln!("the frontend exited with {status} {took:?} after the daemon hung up");
}

/// A panic anywhere in a build is caught and returned as an error with its source location,
/// and the one Return still reaches the daemon.
#[tokio::test]
async fn a_panic_is_returned_as_an_error_with_its_location() {
    pycache::gateway::guard::install_hook();
    let daemon = Arc::new(uv_project(&testdata("pycache.toml")));
    let (mut client, server) = serve_in_process(Arc::clone(&daemon)).await;
    let caught = pycache::gateway::guard::catch_panic(async {
        let files: Vec<&str> = Vec::new();
        files[files.len()]
    })
    .await
    .expect_err("it panics");
    frontend::send_return(&mut client, Err(frontend_error_panic(caught)))
        .await
        .expect("Return is acknowledged");
    server.abort();
    let ret = the_return(&daemon);
    let error = error_of(&ret);
    assert_eq!(error.code, 13, "INTERNAL");
    assert!(
        error
            .message
            .starts_with("internal error: pycache panicked at tests/gateway.rs:"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("index out of bounds"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("this is a bug in pycache"),
        "{}",
        error.message
    );
}

fn frontend_error_panic(
    p: pycache::gateway::guard::Panic,
) -> pycache::gateway::error::FrontendError {
    pycache::gateway::error::FrontendError::Panic(p)
}

#[test]
fn options_come_from_env_pairs_not_the_process_env() {
    let opts =
        FrontendOptions::from_env(env(&[("filename", "x.toml"), ("build-arg:A", "1")])).unwrap();
    assert_eq!(opts.filename, "x.toml");
    assert_eq!(opts.build_args["A"], "1");
    assert_eq!(opts.session_id, SESSION);
    assert_eq!(opts.default_platform.id(), "linux/amd64");
}

/// The generated client and server against each other: the raised message caps both ways,
/// errors, and the defaults of what a fake does not implement.
mod bridge_round_trip {
    use std::sync::{Arc, Mutex};

    use pycache::gateway::pb;
    use tonic::codegen::http::uri::PathAndQuery;
    use tonic::{Code, Request, Response, Status};

    use super::support::{LlbBridge, channel_in_process, serve_in_process};

    /// Answers Ping and ReadFile, records Return.
    #[derive(Default)]
    struct SmallDaemon {
        returned: Mutex<Vec<pb::ReturnRequest>>,
    }

    #[tonic::async_trait]
    impl LlbBridge for SmallDaemon {
        async fn ping(
            &self,
            _: Request<pb::PingRequest>,
        ) -> Result<Response<pb::PongResponse>, Status> {
            Ok(Response::new(pb::PongResponse {
                llb_caps: vec![pb::ApiCap {
                    id: "exec.mount.cache".into(),
                    enabled: true,
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }

        async fn read_file(
            &self,
            request: Request<pb::ReadFileRequest>,
        ) -> Result<Response<pb::ReadFileResponse>, Status> {
            let req = request.into_inner();
            if req.r#ref != "ctx" {
                return Err(Status::not_found(format!("no ref {}", req.r#ref)));
            }
            // Bigger than tonic's 4 MiB default, to exercise the raised limit.
            let mut data = vec![b'x'; 5 << 20];
            data.extend(req.file_path.into_bytes());
            Ok(Response::new(pb::ReadFileResponse { data }))
        }

        async fn r#return(
            &self,
            request: Request<pb::ReturnRequest>,
        ) -> Result<Response<pb::ReturnResponse>, Status> {
            self.returned.lock().unwrap().push(request.into_inner());
            Ok(Response::new(pb::ReturnResponse {}))
        }
    }

    #[tokio::test]
    async fn round_trip_over_in_process_duplex() {
        let daemon = Arc::new(SmallDaemon::default());
        let (mut client, server) = serve_in_process(Arc::clone(&daemon)).await;

        let pong = client.ping(pb::PingRequest {}).await.expect("ping");
        let pong = pong.into_inner();
        assert_eq!(pong.llb_caps.len(), 1);
        assert_eq!(pong.llb_caps[0].id, "exec.mount.cache");
        assert!(pong.llb_caps[0].enabled);

        let file = client
            .read_file(pb::ReadFileRequest {
                r#ref: "ctx".into(),
                file_path: "/pycache.toml".into(),
                ..Default::default()
            })
            .await
            .expect("read_file")
            .into_inner();
        assert_eq!(file.data.len(), (5 << 20) + "/pycache.toml".len());
        assert!(file.data.ends_with(b"/pycache.toml"));

        let err = client
            .read_file(pb::ReadFileRequest {
                r#ref: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);

        let ret = pb::ReturnRequest {
            result: Some(pb::Result {
                result: Some(pb::result::Result::Ref(pb::Ref {
                    id: "r1".into(),
                    def: None,
                })),
                metadata: [("k".to_string(), b"v".to_vec())].into(),
                ..Default::default()
            }),
            error: None,
        };
        client.r#return(ret.clone()).await.expect("return");
        assert_eq!(*daemon.returned.lock().unwrap(), vec![ret]);

        // Not implemented by the fake: the generated default.
        let err = client.solve(pb::SolveRequest::default()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);

        server.abort();
    }

    /// A method the service does not have at all gets `Unimplemented` from the router.
    #[tokio::test]
    async fn unknown_methods_are_unimplemented() {
        let (channel, server) = channel_in_process(Arc::new(SmallDaemon::default())).await;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let err = grpc
            .unary(
                Request::new(pb::PingRequest {}),
                PathAndQuery::from_static("/moby.buildkit.v1.frontend.LLBBridge/NoSuchMethod"),
                tonic_prost::ProstCodec::<pb::PingRequest, pb::PongResponse>::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        server.abort();
    }
}
