//! Prost messages for LLB, hand-transcribed from moby/buildkit `solver/pb/ops.proto`
//! (package `pb`) at commit 73ed6825c4b7569379ef89df0aedcdbe64473d31.
//!
//! We may not run protoc/prost-build, so every message is a hand-written
//! `#[derive(prost::Message)]` struct whose tags, scalar types, `repeated`-ness and oneof
//! membership were checked field by field against the `.proto`. Naming follows what
//! prost-build would generate: types in UpperCamelCase (`SSHOpt` → [`SshOpt`], `HostIP` →
//! [`HostIp`]), fields in snake_case, enum variants without their type-name prefix, and each
//! oneof as an enum inside a snake_case module named after its message (`Op.op` →
//! [`op::Op`]).
//!
//! Determinism: every proto `map<…>` is a [`BTreeMap`], so encoding the same value always
//! yields the same bytes (prost writes fields in tag order and map entries in iteration
//! order). The op digest BuildKit uses is the sha256 of these bytes.
//!
//! Fields added after v0.25.0 (`Op.passthrough`, `OpMetadata.linux_resources`,
//! `FileActionCopy.required_paths`) are transcribed too; older daemons ignore them only when
//! they are left at their defaults.

use std::collections::BTreeMap;

/// A vertex of the LLB DAG.
///
/// moby/buildkit solver/pb/ops.proto, message Op.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Op {
    /// The input edges.
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<Input>,
    /// What the vertex does (`oneof op`, tags 2–8).
    #[prost(oneof = "op::Op", tags = "2, 3, 4, 5, 6, 7, 8")]
    pub op: Option<op::Op>,
    #[prost(message, optional, tag = "10")]
    pub platform: Option<Platform>,
    #[prost(message, optional, tag = "11")]
    pub constraints: Option<WorkerConstraints>,
}

/// The `oneof op` of [`Op`].
pub mod op {
    /// moby/buildkit solver/pb/ops.proto, message Op, `oneof op`.
    #[allow(clippy::large_enum_variant)]
    #[derive(Clone, PartialEq, prost::Oneof, serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Op {
        #[prost(message, tag = "2")]
        Exec(super::ExecOp),
        #[prost(message, tag = "3")]
        Source(super::SourceOp),
        #[prost(message, tag = "4")]
        File(super::FileOp),
        /// Experimental nested build.
        #[prost(message, tag = "5")]
        Build(super::BuildOp),
        #[prost(message, tag = "6")]
        Merge(super::MergeOp),
        #[prost(message, tag = "7")]
        Diff(super::DiffOp),
        /// Added after v0.25.0.
        #[prost(message, tag = "8")]
        Passthrough(super::PassthroughOp),
    }
}

/// An OCI platform (`github.com/opencontainers/image-spec/specs-go/v1.Platform`).
///
/// moby/buildkit solver/pb/ops.proto, message Platform.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    #[prost(string, tag = "1")]
    pub architecture: String,
    #[prost(string, tag = "2")]
    pub os: String,
    #[prost(string, tag = "3")]
    pub variant: String,
    #[prost(string, tag = "4")]
    pub os_version: String,
    /// Unused by BuildKit.
    #[prost(string, repeated, tag = "5")]
    pub os_features: Vec<String>,
}

/// An input edge: output `index` of the op whose marshalled bytes hash to `digest`.
///
/// moby/buildkit solver/pb/ops.proto, message Input.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    #[prost(string, tag = "1")]
    pub digest: String,
    #[prost(int64, tag = "2")]
    pub index: i64,
}

/// Runs a command in a container.
///
/// moby/buildkit solver/pb/ops.proto, message ExecOp.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecOp {
    #[prost(message, optional, tag = "1")]
    pub meta: Option<Meta>,
    #[prost(message, repeated, tag = "2")]
    pub mounts: Vec<Mount>,
    #[prost(enumeration = "NetMode", tag = "3")]
    pub network: i32,
    #[prost(enumeration = "SecurityMode", tag = "4")]
    pub security: i32,
    #[prost(message, repeated, tag = "5")]
    pub secretenv: Vec<SecretEnv>,
    #[prost(message, repeated, tag = "6")]
    pub cdi_devices: Vec<CdiDevice>,
}

/// The process arguments of an [`ExecOp`] (unrelated to LLB metadata).
///
/// moby/buildkit solver/pb/ops.proto, message Meta.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[prost(string, repeated, tag = "1")]
    pub args: Vec<String>,
    /// `KEY=value` entries.
    #[prost(string, repeated, tag = "2")]
    pub env: Vec<String>,
    #[prost(string, tag = "3")]
    pub cwd: String,
    #[prost(string, tag = "4")]
    pub user: String,
    #[prost(message, optional, tag = "5")]
    pub proxy_env: Option<ProxyEnv>,
    #[prost(message, repeated, tag = "6")]
    pub extra_hosts: Vec<HostIp>,
    #[prost(string, tag = "7")]
    pub hostname: String,
    // tag 8 is unused in ops.proto.
    #[prost(message, repeated, tag = "9")]
    pub ulimit: Vec<Ulimit>,
    #[prost(string, tag = "10")]
    pub cgroup_parent: String,
    #[prost(bool, tag = "11")]
    pub remove_mount_stubs_recursive: bool,
    #[prost(int32, repeated, tag = "12")]
    pub valid_exit_codes: Vec<i32>,
}

/// An `/etc/hosts` entry.
///
/// moby/buildkit solver/pb/ops.proto, message HostIP.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostIp {
    #[prost(string, tag = "1")]
    pub host: String,
    #[prost(string, tag = "2")]
    pub ip: String,
}

/// moby/buildkit solver/pb/ops.proto, message Ulimit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ulimit {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, tag = "2")]
    pub soft: i64,
    #[prost(int64, tag = "3")]
    pub hard: i64,
}

/// moby/buildkit solver/pb/ops.proto, enum NetMode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum NetMode {
    /// Sandboxed network (proto name `UNSET`).
    Unset = 0,
    Host = 1,
    None = 2,
}

/// moby/buildkit solver/pb/ops.proto, enum SecurityMode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SecurityMode {
    Sandbox = 0,
    /// Privileged mode.
    Insecure = 1,
}

/// An environment variable backed by a secret.
///
/// moby/buildkit solver/pb/ops.proto, message SecretEnv.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEnv {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(bool, tag = "3")]
    pub optional: bool,
}

/// moby/buildkit solver/pb/ops.proto, message CDIDevice.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CdiDevice {
    /// Fully qualified CDI device name, e.g. `vendor.com/gpu=gpudevice1`.
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(bool, tag = "2")]
    pub optional: bool,
}

/// Mounts an input (or a cache/tmpfs/secret/ssh) into an [`ExecOp`].
///
/// moby/buildkit solver/pb/ops.proto, message Mount.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// Index into `Op.inputs`, or -1 for scratch.
    #[prost(int64, tag = "1")]
    pub input: i64,
    #[prost(string, tag = "2")]
    pub selector: String,
    #[prost(string, tag = "3")]
    pub dest: String,
    /// Output index of the exec op, or -1 for no output.
    #[prost(int64, tag = "4")]
    pub output: i64,
    #[prost(bool, tag = "5")]
    pub readonly: bool,
    #[prost(enumeration = "MountType", tag = "6")]
    pub mount_type: i32,
    // tags 7..=18 are unused in ops.proto.
    #[prost(message, optional, tag = "19")]
    pub tmpfs_opt: Option<TmpfsOpt>,
    #[prost(message, optional, tag = "20")]
    pub cache_opt: Option<CacheOpt>,
    #[prost(message, optional, tag = "21")]
    pub secret_opt: Option<SecretOpt>,
    #[prost(message, optional, tag = "22")]
    pub ssh_opt: Option<SshOpt>,
    #[prost(string, tag = "23")]
    pub result_id: String,
    #[prost(enumeration = "MountContentCache", tag = "24")]
    pub content_cache: i32,
}

/// moby/buildkit solver/pb/ops.proto, enum MountType.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MountType {
    Bind = 0,
    Secret = 1,
    Ssh = 2,
    Cache = 3,
    Tmpfs = 4,
}

/// moby/buildkit solver/pb/ops.proto, enum MountContentCache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MountContentCache {
    Default = 0,
    On = 1,
    Off = 2,
}

/// moby/buildkit solver/pb/ops.proto, message TmpfsOpt.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TmpfsOpt {
    /// Upper limit on the size of the filesystem, in bytes.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// moby/buildkit solver/pb/ops.proto, message CacheOpt.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheOpt {
    /// Optional namespace of the cache mount.
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(enumeration = "CacheSharingOpt", tag = "2")]
    pub sharing: i32,
}

/// moby/buildkit solver/pb/ops.proto, enum CacheSharingOpt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CacheSharingOpt {
    /// Concurrent writers share one mount.
    Shared = 0,
    /// A second concurrent writer gets a new mount.
    Private = 1,
    /// A second writer waits for the first to release the mount.
    Locked = 2,
}

/// moby/buildkit solver/pb/ops.proto, message SecretOpt.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretOpt {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(uint32, tag = "2")]
    pub uid: u32,
    #[prost(uint32, tag = "3")]
    pub gid: u32,
    #[prost(uint32, tag = "4")]
    pub mode: u32,
    #[prost(bool, tag = "5")]
    pub optional: bool,
}

/// moby/buildkit solver/pb/ops.proto, message SSHOpt.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SshOpt {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(uint32, tag = "2")]
    pub uid: u32,
    #[prost(uint32, tag = "3")]
    pub gid: u32,
    #[prost(uint32, tag = "4")]
    pub mode: u32,
    #[prost(bool, tag = "5")]
    pub optional: bool,
}

/// A source: `local://`, `docker-image://`, `git://`, `https://`, ….
///
/// moby/buildkit solver/pb/ops.proto, message SourceOp.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceOp {
    #[prost(string, tag = "1")]
    pub identifier: String,
    #[prost(btree_map = "string, string", tag = "2")]
    pub attrs: BTreeMap<String, String>,
}

/// Nested build invocation (experimental in BuildKit).
///
/// moby/buildkit solver/pb/ops.proto, message BuildOp.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildOp {
    #[prost(int64, tag = "1")]
    pub builder: i64,
    #[prost(btree_map = "string, message", tag = "2")]
    pub inputs: BTreeMap<String, BuildInput>,
    #[prost(message, optional, tag = "3")]
    pub def: Option<Definition>,
    #[prost(btree_map = "string, string", tag = "4")]
    pub attrs: BTreeMap<String, String>,
}

/// moby/buildkit solver/pb/ops.proto, message BuildInput.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInput {
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// Per-vertex metadata; not part of the op digest.
///
/// moby/buildkit solver/pb/ops.proto, message OpMetadata.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpMetadata {
    #[prost(bool, tag = "1")]
    pub ignore_cache: bool,
    /// Free-form text, e.g. `llb.customname`.
    #[prost(btree_map = "string, string", tag = "2")]
    pub description: BTreeMap<String, String>,
    // tag 3 is reserved (old WorkerConstraint).
    #[prost(message, optional, tag = "4")]
    pub export_cache: Option<ExportCache>,
    #[prost(btree_map = "string, bool", tag = "5")]
    pub caps: BTreeMap<String, bool>,
    #[prost(message, optional, tag = "6")]
    pub progress_group: Option<ProgressGroup>,
    /// Added after v0.25.0.
    #[prost(message, optional, tag = "7")]
    pub linux_resources: Option<LinuxResources>,
}

/// Source-map description of the files a definition was generated from.
///
/// moby/buildkit solver/pb/ops.proto, message Source.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Keyed by op digest.
    #[prost(btree_map = "string, message", tag = "1")]
    pub locations: BTreeMap<String, Locations>,
    #[prost(message, repeated, tag = "2")]
    pub infos: Vec<SourceInfo>,
}

/// moby/buildkit solver/pb/ops.proto, message Locations.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Locations {
    #[prost(message, repeated, tag = "1")]
    pub locations: Vec<Location>,
}

/// moby/buildkit solver/pb/ops.proto, message SourceInfo.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    #[prost(string, tag = "1")]
    pub filename: String,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
    #[prost(message, optional, tag = "3")]
    pub definition: Option<Definition>,
    #[prost(string, tag = "4")]
    pub language: String,
}

/// moby/buildkit solver/pb/ops.proto, message Location.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Index into `Source.infos`.
    #[prost(int32, tag = "1")]
    pub source_index: i32,
    #[prost(message, repeated, tag = "2")]
    pub ranges: Vec<Range>,
}

/// moby/buildkit solver/pb/ops.proto, message Range.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    #[prost(message, optional, tag = "1")]
    pub start: Option<Position>,
    #[prost(message, optional, tag = "2")]
    pub end: Option<Position>,
}

/// moby/buildkit solver/pb/ops.proto, message Position.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    #[prost(int32, tag = "1")]
    pub line: i32,
    #[prost(int32, tag = "2")]
    pub character: i32,
}

/// moby/buildkit solver/pb/ops.proto, message ExportCache.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportCache {
    #[prost(bool, tag = "1")]
    pub value: bool,
}

/// moby/buildkit solver/pb/ops.proto, message ProgressGroup.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressGroup {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(bool, tag = "3")]
    pub weak: bool,
}

/// Cgroup limits for a step that do not affect its cache key (added after v0.25.0).
///
/// moby/buildkit solver/pb/ops.proto, message LinuxResources.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxResources {
    #[prost(int64, tag = "1")]
    pub memory: i64,
    #[prost(int64, tag = "2")]
    pub memory_swap: i64,
    #[prost(uint64, tag = "3")]
    pub cpu_shares: u64,
    #[prost(uint64, tag = "4")]
    pub cpu_period: u64,
    #[prost(int64, tag = "5")]
    pub cpu_quota: i64,
    #[prost(string, tag = "6")]
    pub cpuset_cpus: String,
    #[prost(string, tag = "7")]
    pub cpuset_mems: String,
}

/// moby/buildkit solver/pb/ops.proto, message ProxyEnv.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyEnv {
    #[prost(string, tag = "1")]
    pub http_proxy: String,
    #[prost(string, tag = "2")]
    pub https_proxy: String,
    #[prost(string, tag = "3")]
    pub ftp_proxy: String,
    #[prost(string, tag = "4")]
    pub no_proxy: String,
    #[prost(string, tag = "5")]
    pub all_proxy: String,
}

/// containerd-style worker filters.
///
/// moby/buildkit solver/pb/ops.proto, message WorkerConstraints.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerConstraints {
    #[prost(string, repeated, tag = "1")]
    pub filter: Vec<String>,
}

/// A marshalled LLB graph: the ops plus per-op metadata, keyed by op digest.
///
/// moby/buildkit solver/pb/ops.proto, message Definition.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    /// Marshalled [`Op`]s; the last one is the terminal (output-selecting) op.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub def: Vec<Vec<u8>>,
    /// Keyed by op digest (`sha256:…`).
    #[prost(btree_map = "string, message", tag = "2")]
    pub metadata: BTreeMap<String, OpMetadata>,
    #[prost(message, optional, tag = "3")]
    pub source: Option<Source>,
}

/// A sequence of file actions.
///
/// moby/buildkit solver/pb/ops.proto, message FileOp.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileOp {
    // tag 1 is unused in ops.proto.
    #[prost(message, repeated, tag = "2")]
    pub actions: Vec<FileAction>,
}

/// One action of a [`FileOp`]. `input`/`secondary_input` index `Op.inputs`; values at or
/// above the number of inputs refer to the output of an earlier action (`n + action index`);
/// -1 means scratch/none.
///
/// moby/buildkit solver/pb/ops.proto, message FileAction.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileAction {
    #[prost(int64, tag = "1")]
    pub input: i64,
    #[prost(int64, tag = "2")]
    pub secondary_input: i64,
    /// Output index of the op, or -1 if this action's result is not an output.
    #[prost(int64, tag = "3")]
    pub output: i64,
    /// `oneof action`, tags 4–8.
    #[prost(oneof = "file_action::Action", tags = "4, 5, 6, 7, 8")]
    pub action: Option<file_action::Action>,
}

/// The `oneof action` of [`FileAction`].
pub mod file_action {
    /// moby/buildkit solver/pb/ops.proto, message FileAction, `oneof action`.
    #[derive(Clone, PartialEq, prost::Oneof, serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Action {
        /// Copies from `secondary_input` on top of `input`.
        #[prost(message, tag = "4")]
        Copy(super::FileActionCopy),
        #[prost(message, tag = "5")]
        Mkfile(super::FileActionMkFile),
        #[prost(message, tag = "6")]
        Mkdir(super::FileActionMkDir),
        #[prost(message, tag = "7")]
        Rm(super::FileActionRm),
        #[prost(message, tag = "8")]
        Symlink(super::FileActionSymlink),
    }
}

/// moby/buildkit solver/pb/ops.proto, message FileActionCopy.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileActionCopy {
    #[prost(string, tag = "1")]
    pub src: String,
    #[prost(string, tag = "2")]
    pub dest: String,
    #[prost(message, optional, tag = "3")]
    pub owner: Option<ChownOpt>,
    /// Permission bits override; -1 keeps the source mode.
    #[prost(int32, tag = "4")]
    pub mode: i32,
    #[prost(bool, tag = "5")]
    pub follow_symlink: bool,
    #[prost(bool, tag = "6")]
    pub dir_copy_contents: bool,
    #[prost(bool, tag = "7")]
    pub attempt_unpack_docker_compatibility: bool,
    #[prost(bool, tag = "8")]
    pub create_dest_path: bool,
    #[prost(bool, tag = "9")]
    pub allow_wildcard: bool,
    #[prost(bool, tag = "10")]
    pub allow_empty_wildcard: bool,
    /// Created-time override; -1 means unset.
    #[prost(int64, tag = "11")]
    pub timestamp: i64,
    #[prost(string, repeated, tag = "12")]
    pub include_patterns: Vec<String>,
    #[prost(string, repeated, tag = "13")]
    pub exclude_patterns: Vec<String>,
    #[prost(bool, tag = "14")]
    pub always_replace_existing_dest_paths: bool,
    /// Mode in non-octal (e.g. `u+x`) form.
    #[prost(string, tag = "15")]
    pub mode_str: String,
    /// Added after v0.25.0; only used with `include_patterns`.
    #[prost(string, repeated, tag = "16")]
    pub required_paths: Vec<String>,
}

/// moby/buildkit solver/pb/ops.proto, message FileActionMkFile.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileActionMkFile {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(int32, tag = "2")]
    pub mode: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
    #[prost(message, optional, tag = "4")]
    pub owner: Option<ChownOpt>,
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
}

/// moby/buildkit solver/pb/ops.proto, message FileActionSymlink.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileActionSymlink {
    /// The link's target.
    #[prost(string, tag = "1")]
    pub oldpath: String,
    /// The link itself.
    #[prost(string, tag = "2")]
    pub newpath: String,
    #[prost(message, optional, tag = "3")]
    pub owner: Option<ChownOpt>,
    #[prost(int64, tag = "4")]
    pub timestamp: i64,
}

/// moby/buildkit solver/pb/ops.proto, message FileActionMkDir.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileActionMkDir {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(int32, tag = "2")]
    pub mode: i32,
    #[prost(bool, tag = "3")]
    pub make_parents: bool,
    #[prost(message, optional, tag = "4")]
    pub owner: Option<ChownOpt>,
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
}

/// moby/buildkit solver/pb/ops.proto, message FileActionRm.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileActionRm {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(bool, tag = "2")]
    pub allow_not_found: bool,
    #[prost(bool, tag = "3")]
    pub allow_wildcard: bool,
}

/// moby/buildkit solver/pb/ops.proto, message ChownOpt.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChownOpt {
    #[prost(message, optional, tag = "1")]
    pub user: Option<UserOpt>,
    #[prost(message, optional, tag = "2")]
    pub group: Option<UserOpt>,
}

/// moby/buildkit solver/pb/ops.proto, message UserOpt.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOpt {
    /// `oneof user`, tags 1–2.
    #[prost(oneof = "user_opt::User", tags = "1, 2")]
    pub user: Option<user_opt::User>,
}

/// The `oneof user` of [`UserOpt`].
pub mod user_opt {
    /// moby/buildkit solver/pb/ops.proto, message UserOpt, `oneof user`.
    #[derive(Clone, PartialEq, prost::Oneof, serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub enum User {
        /// Resolved through `/etc/passwd` / `/etc/group` of `NamedUserOpt.input`.
        #[prost(message, tag = "1")]
        ByName(super::NamedUserOpt),
        #[prost(uint32, tag = "2")]
        ById(u32),
    }
}

/// moby/buildkit solver/pb/ops.proto, message NamedUserOpt.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedUserOpt {
    #[prost(string, tag = "1")]
    pub name: String,
    /// Input whose `/etc/passwd` resolves the name, or -1.
    #[prost(int64, tag = "2")]
    pub input: i64,
}

/// moby/buildkit solver/pb/ops.proto, message MergeInput.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeInput {
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// moby/buildkit solver/pb/ops.proto, message MergeOp.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeOp {
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<MergeInput>,
}

/// moby/buildkit solver/pb/ops.proto, message LowerDiffInput.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LowerDiffInput {
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// moby/buildkit solver/pb/ops.proto, message UpperDiffInput.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpperDiffInput {
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// moby/buildkit solver/pb/ops.proto, message DiffOp.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffOp {
    #[prost(message, optional, tag = "1")]
    pub lower: Option<LowerDiffInput>,
    #[prost(message, optional, tag = "2")]
    pub upper: Option<UpperDiffInput>,
}

/// Added after v0.25.0.
///
/// moby/buildkit solver/pb/ops.proto, message PassthroughOp.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassthroughOp {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(int64, repeated, tag = "2")]
    pub outputs: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn root() -> Option<ChownOpt> {
        Some(ChownOpt {
            user: Some(UserOpt {
                user: Some(user_opt::User::ById(0)),
            }),
            group: Some(UserOpt {
                user: Some(user_opt::User::ByName(NamedUserOpt {
                    name: "root".into(),
                    input: -1,
                })),
            }),
        })
    }

    fn linux_amd64() -> Option<Platform> {
        Some(Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        })
    }

    fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
        let bytes = m.encode_to_vec();
        let back = M::decode(bytes.as_slice()).expect("decode");
        assert_eq!(&back, m);
        assert_eq!(
            back.encode_to_vec(),
            bytes,
            "re-encoding must be byte-identical"
        );
    }

    #[test]
    fn exec_op_round_trips() {
        let op = Op {
            inputs: vec![
                Input {
                    digest: "sha256:aaaa".into(),
                    index: 0,
                },
                Input {
                    digest: "sha256:bbbb".into(),
                    index: 1,
                },
            ],
            op: Some(op::Op::Exec(ExecOp {
                meta: Some(Meta {
                    args: vec!["/bin/sh".into(), "-c".into(), "pip install .".into()],
                    env: vec!["PATH=/usr/bin:/bin".into()],
                    cwd: "/src".into(),
                    user: "1000:1000".into(),
                    extra_hosts: vec![HostIp {
                        host: "pypi.local".into(),
                        ip: "10.0.0.1".into(),
                    }],
                    hostname: "builder".into(),
                    valid_exit_codes: vec![0, 1],
                    ..Default::default()
                }),
                mounts: vec![
                    Mount {
                        input: 0,
                        dest: "/".into(),
                        output: 0,
                        ..Default::default()
                    },
                    Mount {
                        input: -1,
                        dest: "/root/.cache/pip".into(),
                        output: -1,
                        mount_type: MountType::Cache as i32,
                        cache_opt: Some(CacheOpt {
                            id: "pip".into(),
                            sharing: CacheSharingOpt::Locked as i32,
                        }),
                        ..Default::default()
                    },
                    Mount {
                        input: 1,
                        selector: "/app".into(),
                        dest: "/src".into(),
                        output: -1,
                        readonly: true,
                        ..Default::default()
                    },
                ],
                network: NetMode::None as i32,
                security: SecurityMode::Sandbox as i32,
                ..Default::default()
            })),
            platform: linux_amd64(),
            constraints: None,
        };
        round_trip(&op);
        let Some(op::Op::Exec(exec)) = &op.op else {
            unreachable!()
        };
        assert_eq!(exec.mounts[1].mount_type(), MountType::Cache);
        assert_eq!(
            exec.mounts[1].cache_opt.as_ref().unwrap().sharing(),
            CacheSharingOpt::Locked
        );
        assert_eq!(exec.network(), NetMode::None);
    }

    #[test]
    fn file_op_round_trips() {
        let op = Op {
            inputs: vec![Input {
                digest: "sha256:cccc".into(),
                index: 0,
            }],
            op: Some(op::Op::File(FileOp {
                actions: vec![
                    FileAction {
                        input: -1,
                        secondary_input: -1,
                        output: -1,
                        action: Some(file_action::Action::Mkdir(FileActionMkDir {
                            path: "/app".into(),
                            mode: 0o755,
                            make_parents: true,
                            owner: root(),
                            timestamp: -1,
                        })),
                    },
                    FileAction {
                        input: 1,
                        secondary_input: 0,
                        output: -1,
                        action: Some(file_action::Action::Copy(FileActionCopy {
                            src: "/pyproject.toml".into(),
                            dest: "/app/pyproject.toml".into(),
                            owner: root(),
                            mode: -1,
                            follow_symlink: true,
                            create_dest_path: true,
                            allow_wildcard: true,
                            allow_empty_wildcard: true,
                            timestamp: -1,
                            include_patterns: vec!["*.toml".into()],
                            exclude_patterns: vec!["tests/**".into()],
                            ..Default::default()
                        })),
                    },
                    FileAction {
                        input: 2,
                        secondary_input: -1,
                        output: -1,
                        action: Some(file_action::Action::Mkfile(FileActionMkFile {
                            path: "/app/VERSION".into(),
                            mode: 0o644,
                            data: b"1.0\n".to_vec(),
                            owner: None,
                            timestamp: 0,
                        })),
                    },
                    FileAction {
                        input: 3,
                        secondary_input: -1,
                        output: -1,
                        action: Some(file_action::Action::Symlink(FileActionSymlink {
                            oldpath: "VERSION".into(),
                            newpath: "/app/VERSION.txt".into(),
                            owner: None,
                            timestamp: -1,
                        })),
                    },
                    FileAction {
                        input: 4,
                        secondary_input: -1,
                        output: 0,
                        action: Some(file_action::Action::Rm(FileActionRm {
                            path: "/app/*.pyc".into(),
                            allow_not_found: true,
                            allow_wildcard: true,
                        })),
                    },
                ],
            })),
            platform: None,
            constraints: Some(WorkerConstraints {
                filter: vec!["os==linux".into()],
            }),
        };
        round_trip(&op);
    }

    #[test]
    fn definition_and_merge_diff_round_trip() {
        let merge = Op {
            op: Some(op::Op::Merge(MergeOp {
                inputs: vec![MergeInput { input: 0 }, MergeInput { input: 1 }],
            })),
            ..Default::default()
        };
        let diff = Op {
            op: Some(op::Op::Diff(DiffOp {
                lower: Some(LowerDiffInput { input: 0 }),
                upper: Some(UpperDiffInput { input: 1 }),
            })),
            ..Default::default()
        };
        let source = Op {
            op: Some(op::Op::Source(SourceOp {
                identifier: "docker-image://docker.io/library/python:3.12".into(),
                attrs: BTreeMap::from([("image.recordtype".into(), "internal".into())]),
            })),
            platform: linux_amd64(),
            ..Default::default()
        };
        round_trip(&merge);
        round_trip(&diff);
        round_trip(&source);

        let def = Definition {
            def: vec![
                source.encode_to_vec(),
                merge.encode_to_vec(),
                diff.encode_to_vec(),
            ],
            metadata: BTreeMap::from([(
                "sha256:dddd".to_string(),
                OpMetadata {
                    ignore_cache: true,
                    description: BTreeMap::from([("llb.customname".into(), "install".into())]),
                    export_cache: Some(ExportCache { value: true }),
                    caps: BTreeMap::from([("exec.mount.cache".into(), true)]),
                    progress_group: Some(ProgressGroup {
                        id: "g".into(),
                        name: "deps".into(),
                        weak: false,
                    }),
                    linux_resources: None,
                },
            )]),
            source: Some(Source {
                locations: BTreeMap::from([(
                    "sha256:dddd".to_string(),
                    Locations {
                        locations: vec![Location {
                            source_index: 0,
                            ranges: vec![Range {
                                start: Some(Position {
                                    line: 1,
                                    character: 0,
                                }),
                                end: Some(Position {
                                    line: 2,
                                    character: 5,
                                }),
                            }],
                        }],
                    },
                )]),
                infos: vec![SourceInfo {
                    filename: "pycache.toml".into(),
                    data: b"[project]\n".to_vec(),
                    definition: None,
                    language: "toml".into(),
                }],
            }),
        };
        round_trip(&def);
        let back = Definition::decode(def.encode_to_vec().as_slice()).unwrap();
        assert_eq!(Op::decode(back.def[1].as_slice()).unwrap(), merge);
    }

    /// Expected bytes are derived by hand from the field numbers and wire types in ops.proto:
    /// a tag byte is `(field_number << 3) | wire_type` (0 = varint, 2 = length-delimited).
    #[test]
    fn well_known_field_numbers() {
        // Op.inputs = 1 (LEN) → 0x0a; Input.digest = 1 (LEN) → 0x0a; Input.index = 2 (VARINT) → 0x10.
        let op = Op {
            inputs: vec![Input {
                digest: "a".into(),
                index: 1,
            }],
            ..Default::default()
        };
        assert_eq!(
            op.encode_to_vec(),
            [0x0a, 0x05, 0x0a, 0x01, b'a', 0x10, 0x01]
        );

        // Op.platform = 10 (LEN) → 0x52; Platform.OS = 2 → 0x12.
        let op = Op {
            platform: Some(Platform {
                os: "linux".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            op.encode_to_vec(),
            [0x52, 0x07, 0x12, 0x05, b'l', b'i', b'n', b'u', b'x']
        );

        // Op.exec = 2 (LEN) → 0x12; ExecOp.meta = 1 (LEN) → 0x0a; Meta.args = 1 → 0x0a.
        let op = Op {
            op: Some(op::Op::Exec(ExecOp {
                meta: Some(Meta {
                    args: vec!["x".into()],
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            op.encode_to_vec(),
            [0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'x']
        );

        // Mount.mountType = 6 (VARINT) → 0x30; CACHE = 3.
        let mount = Mount {
            mount_type: MountType::Cache as i32,
            ..Default::default()
        };
        assert_eq!(mount.encode_to_vec(), [0x30, 0x03]);

        // Mount.cacheOpt = 20 (LEN) → (20 << 3 | 2) = 162 → varint 0xa2 0x01;
        // CacheOpt.sharing = 2 (VARINT) → 0x10; LOCKED = 2.
        let mount = Mount {
            cache_opt: Some(CacheOpt {
                id: String::new(),
                sharing: CacheSharingOpt::Locked as i32,
            }),
            ..Default::default()
        };
        assert_eq!(mount.encode_to_vec(), [0xa2, 0x01, 0x02, 0x10, 0x02]);

        // Negative int64 (Mount.input = -1) is a 10-byte varint, not zigzag.
        let mount = Mount {
            input: -1,
            ..Default::default()
        };
        let mut expected = vec![0x08];
        expected.extend([0xff; 9]);
        expected.push(0x01);
        assert_eq!(mount.encode_to_vec(), expected);

        // Op.file = 4 (LEN) → 0x22; FileOp.actions = 2 (LEN) → 0x12;
        // FileAction.mkdir = 6 (LEN) → 0x32; FileActionMkDir.makeParents = 3 → 0x18.
        let op = Op {
            op: Some(op::Op::File(FileOp {
                actions: vec![FileAction {
                    action: Some(file_action::Action::Mkdir(FileActionMkDir {
                        make_parents: true,
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
            })),
            ..Default::default()
        };
        assert_eq!(
            op.encode_to_vec(),
            [0x22, 0x06, 0x12, 0x04, 0x32, 0x02, 0x18, 0x01]
        );

        // UserOpt.byID = 2 (VARINT) → 0x10, and a set oneof field is written even when zero.
        let user = UserOpt {
            user: Some(user_opt::User::ById(0)),
        };
        assert_eq!(user.encode_to_vec(), [0x10, 0x00]);

        // Definition.def = 1 (LEN, repeated bytes) → 0x0a; metadata = 2 → 0x12 map entries
        // with key = 1, value = 2; OpMetadata.caps = 5 → 0x2a.
        let def = Definition {
            def: vec![vec![0xff]],
            metadata: BTreeMap::from([(
                "k".to_string(),
                OpMetadata {
                    caps: BTreeMap::from([("c".to_string(), true)]),
                    ..Default::default()
                },
            )]),
            source: None,
        };
        assert_eq!(
            def.encode_to_vec(),
            [
                0x0a, 0x01, 0xff, // def
                0x12, 0x0c, // metadata entry
                0x0a, 0x01, b'k', // key
                0x12, 0x07, // value: OpMetadata
                0x2a, 0x05, // caps entry
                0x0a, 0x01, b'c', // key
                0x10, 0x01, // value: true
            ]
        );
    }

    #[test]
    fn maps_encode_in_key_order() {
        let a = SourceOp {
            identifier: "local://context".into(),
            attrs: [("z", "1"), ("a", "2"), ("m", "3")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let b = SourceOp {
            identifier: "local://context".into(),
            attrs: [("m", "3"), ("z", "1"), ("a", "2")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(a.encode_to_vec(), b.encode_to_vec());
    }
}
