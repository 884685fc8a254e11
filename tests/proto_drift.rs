//! The protocol code is generated from the vendored `.proto` files in `proto/` and checked in:
//! `proto/gen/` (messages and the LLBBridge client, shipped, included by `src/proto/mod.rs`) and
//! `tests/support/llb_bridge_server.rs` (the LLBBridge server, for fake daemons in tests only).
//! This test regenerates both into a scratch directory and fails on any difference, so a
//! hand edit or a changed `.proto` cannot go unnoticed.
//!
//! `UPDATE_GENERATED=1 cargo test --test proto_drift` rewrites the checked-in files (never under
//! `CI=true`). Generation needs no `protoc`: `protox` compiles the descriptors in pure Rust and
//! `tonic-prost-build` turns them into Rust; both are dev-dependencies only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files code is generated from, relative to `proto/`. Their imports that are left out
/// (vtproto's `ext.proto`, `google/protobuf/descriptor.proto`) are resolved but generate nothing.
const PROTOS: &[&str] = &[
    "github.com/moby/buildkit/solver/pb/ops.proto",
    "github.com/moby/buildkit/frontend/gateway/pb/gateway.proto",
    "github.com/moby/buildkit/api/types/worker.proto",
    "github.com/moby/buildkit/sourcepolicy/pb/policy.proto",
    "github.com/moby/buildkit/util/apicaps/pb/caps.proto",
    "github.com/tonistiigi/fsutil/types/stat.proto",
    "google/rpc/status.proto",
    // Carried by protox; generated here rather than taken from `prost-types` (one crate less).
    "google/protobuf/any.proto",
    "google/protobuf/timestamp.proto",
];

/// Where the server's request and response types live, for the server pass (which must not
/// generate them again).
const EXTERN_PACKAGES: &[(&str, &str)] = &[
    (".pb", "::pycache::proto::pb"),
    (
        ".moby.buildkit.v1.frontend",
        "::pycache::proto::moby::buildkit::v1::frontend",
    ),
    (
        ".moby.buildkit.v1.types",
        "::pycache::proto::moby::buildkit::v1::types",
    ),
    (
        ".moby.buildkit.v1.apicaps",
        "::pycache::proto::moby::buildkit::v1::apicaps",
    ),
    (
        ".moby.buildkit.v1.sourcepolicy",
        "::pycache::proto::moby::buildkit::v1::sourcepolicy",
    ),
    (".fsutil.types", "::pycache::proto::fsutil::types"),
    (".google.rpc", "::pycache::proto::google::rpc"),
    (".google.protobuf", "::pycache::proto::google::protobuf"),
];

const HEADER: &str = "\
// @generated from the .proto files in proto/ by tonic-prost-build (descriptors compiled by
// protox). Do not edit: regenerate with `UPDATE_GENERATED=1 cargo test --test proto_drift`.
";

/// The server file, relative to the repository root.
const SERVER_FILE: &str = "tests/support/llb_bridge_server.rs";
/// The generated module directory, relative to the repository root: beside the protos, out of
/// `src/`, which holds only code written by hand.
const SRC_DIR: &str = "proto/gen";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The descriptors of [`PROTOS`] alone, with their comments (which become doc comments).
fn compiled() -> protox::Compiler {
    let mut compiler = protox::Compiler::new([root().join("proto")]).expect("proto/ exists");
    compiler.include_source_info(true).include_imports(false);
    compiler.open_files(PROTOS).expect("the protos compile");
    compiler
}

/// Runs both passes into `scratch` and returns repository-relative path → contents.
fn generate(scratch: &Path) -> BTreeMap<String, String> {
    let _ = std::fs::remove_dir_all(scratch);
    let (src, server) = (scratch.join("src"), scratch.join("server"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&server).unwrap();

    // Messages and the client. Maps are BTreeMaps so that encoding is deterministic (op digests
    // are hashes of the bytes); LLB messages also serialise to JSON for `llb::dump`.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .build_transport(false)
        .compile_well_known_types(true)
        .btree_map(".")
        .message_attribute(".pb", "#[derive(serde::Serialize)]")
        .message_attribute(".pb", "#[serde(rename_all = \"camelCase\")]")
        .enum_attribute(".pb", "#[derive(serde::Serialize)]")
        .enum_attribute(".pb", "#[serde(rename_all = \"camelCase\")]")
        .include_file("_includes.rs")
        .emit_rerun_if_changed(false)
        .out_dir(&src)
        .compile_fds(compiled().file_descriptor_set())
        .expect("generate messages and client");

    // The server alone: every package is extern, so no message is generated twice. Unary
    // methods default to `Unimplemented`, so a fake daemon implements only what it answers.
    let mut builder = tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        .generate_default_stubs(true)
        .compile_well_known_types(true)
        .btree_map(".")
        .emit_rerun_if_changed(false)
        .out_dir(&server);
    for (proto, rust) in EXTERN_PACKAGES {
        builder = builder.extern_path(*proto, *rust);
    }
    builder
        .compile_fds(compiled().file_descriptor_set())
        .expect("generate the server");

    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        files.insert(format!("{SRC_DIR}/{name}"), format!("{HEADER}{text}"));
    }
    let text =
        std::fs::read_to_string(server.join("moby.buildkit.v1.frontend.rs")).expect("server");
    files.insert(SERVER_FILE.to_owned(), format!("{HEADER}{text}"));
    files
}

/// The checked-in generated files: every `*.rs` of [`SRC_DIR`], and the server.
fn checked_in() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(root().join(SRC_DIR)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".rs") {
            files.insert(
                format!("{SRC_DIR}/{name}"),
                std::fs::read_to_string(&path).unwrap(),
            );
        }
    }
    if let Ok(text) = std::fs::read_to_string(root().join(SERVER_FILE)) {
        files.insert(SERVER_FILE.to_owned(), text);
    }
    files
}

fn updating() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1") && !ci
}

#[test]
fn generated_code_matches_protos() {
    let fresh = generate(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("proto_drift"));
    let old = checked_in();
    if updating() {
        for name in old.keys().filter(|name| !fresh.contains_key(*name)) {
            std::fs::remove_file(root().join(name)).unwrap();
        }
        for (name, text) in &fresh {
            std::fs::write(root().join(name), text).unwrap();
        }
        return;
    }
    let mut problems = Vec::new();
    for (name, text) in &fresh {
        match old.get(name) {
            None => problems.push(format!("{name}: missing")),
            Some(old) if old != text => {
                let line = old
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(old.lines().count().min(text.lines().count()));
                problems.push(format!(
                    "{name}: differs from line {} (checked in {:?}, generated {:?})",
                    line + 1,
                    old.lines().nth(line),
                    text.lines().nth(line)
                ));
            }
            Some(_) => {}
        }
    }
    for name in old.keys().filter(|name| !fresh.contains_key(*name)) {
        problems.push(format!("{name}: not generated any more"));
    }
    assert!(
        problems.is_empty(),
        "the generated protocol code is out of date; run \
         UPDATE_GENERATED=1 cargo test --test proto_drift and review the diff:\n{}",
        problems.join("\n")
    );
}
