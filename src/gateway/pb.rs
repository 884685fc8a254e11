//! Prost messages for the LLBBridge gateway API, hand-transcribed (no protoc/prost-build)
//! from moby/buildkit at commit 73ed6825c4b7569379ef89df0aedcdbe64473d31:
//!
//! - `frontend/gateway/pb/gateway.proto` (package `moby.buildkit.v1.frontend`): the messages
//!   of the unary RPCs a frontend uses (ResolveImageConfig, Solve, ReadFile, ReadDir,
//!   StatFile, Evaluate, Ping, Return, Inputs, Warn);
//! - `util/apicaps/pb/caps.proto` ([`ApiCap`]), `api/types/worker.proto` ([`WorkerRecord`],
//!   [`GcPolicy`], [`BuildkitVersion`]);
//! - `vendor/github.com/tonistiigi/fsutil/types/stat.proto` ([`Stat`]);
//! - `google/rpc/status.proto` ([`Status`]) and `google/protobuf/any.proto` ([`Any`]).
//!
//! Messages imported from `solver/pb/ops.proto` are reused from [`crate::llb::pb`].
//!
//! Left out (prost skips unknown fields on decode, so replies carrying them still parse):
//! `SourcePolicies` (`ResolveImageConfigRequest` = 8, `SolveRequest` = 15),
//! `WorkerRecord.CDIDevices` = 6, and everything for ResolveSourceMeta and the container RPCs
//! (NewContainer, ReleaseContainer, ExecProcess, *Container file access).
//!
//! Every proto `map<…>` is a [`BTreeMap`] for deterministic encoding. Naming follows
//! prost-build (`APICap` → [`ApiCap`], oneofs as enums in snake_case modules). Note that
//! [`Result`] and [`Status`] shadow the std/tonic names: refer to them as `pb::Result` /
//! `pb::Status`.

use std::collections::BTreeMap;

use crate::llb::pb as llb;

/// The outcome of a build: one ref or a map of refs, plus exporter metadata.
///
/// moby/buildkit frontend/gateway/pb/gateway.proto, message Result.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    /// `oneof result`, tags 1–4 (1 and 2 are the deprecated non-array forms).
    #[prost(oneof = "result::Result", tags = "1, 2, 3, 4")]
    pub result: Option<result::Result>,
    #[prost(btree_map = "string, bytes", tag = "10")]
    pub metadata: BTreeMap<String, Vec<u8>>,
    // tag 11 is reserved (old attestation format).
    #[prost(btree_map = "string, message", tag = "12")]
    pub attestations: BTreeMap<String, Attestations>,
}

/// The `oneof result` of [`Result`].
pub mod result {
    /// moby/buildkit frontend/gateway/pb/gateway.proto, message Result, `oneof result`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Result {
        /// Deprecated: a bare ref id.
        #[prost(string, tag = "1")]
        RefDeprecated(String),
        /// Deprecated: a map of bare ref ids.
        #[prost(message, tag = "2")]
        RefsDeprecated(super::RefMapDeprecated),
        #[prost(message, tag = "3")]
        Ref(super::Ref),
        /// Multi-platform results, keyed by platform string.
        #[prost(message, tag = "4")]
        Refs(super::RefMap),
    }
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message RefMapDeprecated.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefMapDeprecated {
    #[prost(btree_map = "string, string", tag = "1")]
    pub refs: BTreeMap<String, String>,
}

/// A result reference: an id known to the daemon and/or the definition producing it.
///
/// moby/buildkit frontend/gateway/pb/gateway.proto, message Ref.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ref {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub def: Option<llb::Definition>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message RefMap.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefMap {
    #[prost(btree_map = "string, message", tag = "1")]
    pub refs: BTreeMap<String, Ref>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message Attestations.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Attestations {
    #[prost(message, repeated, tag = "1")]
    pub attestation: Vec<Attestation>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message Attestation.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Attestation {
    #[prost(enumeration = "AttestationKind", tag = "1")]
    pub kind: i32,
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub metadata: BTreeMap<String, Vec<u8>>,
    #[prost(message, optional, tag = "3")]
    pub r#ref: Option<Ref>,
    #[prost(string, tag = "4")]
    pub path: String,
    #[prost(string, tag = "5")]
    pub in_toto_predicate_type: String,
    #[prost(message, repeated, tag = "6")]
    pub in_toto_subjects: Vec<InTotoSubject>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, enum AttestationKind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AttestationKind {
    InToto = 0,
    Bundle = 1,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message InTotoSubject.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InTotoSubject {
    #[prost(enumeration = "InTotoSubjectKind", tag = "1")]
    pub kind: i32,
    #[prost(string, repeated, tag = "2")]
    pub digest: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, enum InTotoSubjectKind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum InTotoSubjectKind {
    /// proto name `Self` (a Rust keyword).
    SelfSubject = 0,
    Raw = 1,
}

/// The frontend's final answer: a result or an error (exactly one should be set).
///
/// moby/buildkit frontend/gateway/pb/gateway.proto, message ReturnRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReturnRequest {
    #[prost(message, optional, tag = "1")]
    pub result: Option<Result>,
    #[prost(message, optional, tag = "2")]
    pub error: Option<Status>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ReturnResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReturnResponse {}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message InputsRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InputsRequest {}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message InputsResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InputsResponse {
    #[prost(btree_map = "string, message", tag = "1")]
    pub definitions: BTreeMap<String, llb::Definition>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ResolveImageConfigRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResolveImageConfigRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(message, optional, tag = "2")]
    pub platform: Option<llb::Platform>,
    /// `default`, `pull` or `local`.
    #[prost(string, tag = "3")]
    pub resolve_mode: String,
    #[prost(string, tag = "4")]
    pub log_name: String,
    /// 0 = registry, 1 = OCI layout (a plain int32 in the proto, not an enum).
    #[prost(int32, tag = "5")]
    pub resolver_type: i32,
    #[prost(string, tag = "6")]
    pub session_id: String,
    #[prost(string, tag = "7")]
    pub store_id: String,
    // tag 8 (SourcePolicies) is not transcribed.
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ResolveImageConfigResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResolveImageConfigResponse {
    #[prost(string, tag = "1")]
    pub digest: String,
    /// The image config JSON.
    #[prost(bytes = "vec", tag = "2")]
    pub config: Vec<u8>,
    #[prost(string, tag = "3")]
    pub r#ref: String,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message SolveRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SolveRequest {
    #[prost(message, optional, tag = "1")]
    pub definition: Option<llb::Definition>,
    #[prost(string, tag = "2")]
    pub frontend: String,
    #[prost(btree_map = "string, string", tag = "3")]
    pub frontend_opt: BTreeMap<String, String>,
    // tag 4 was removed in BuildKit v0.11.0.
    #[prost(bool, tag = "5")]
    pub allow_result_return: bool,
    #[prost(bool, tag = "6")]
    pub allow_result_array_ref: bool,
    /// Deprecated (CapSolveInlineReturn).
    #[prost(bool, tag = "10")]
    pub r#final: bool,
    #[prost(bytes = "vec", tag = "11")]
    pub exporter_attr: Vec<u8>,
    #[prost(message, repeated, tag = "12")]
    pub cache_imports: Vec<CacheOptionsEntry>,
    #[prost(btree_map = "string, message", tag = "13")]
    pub frontend_inputs: BTreeMap<String, llb::Definition>,
    #[prost(bool, tag = "14")]
    pub evaluate: bool,
    // tag 15 (SourcePolicies) is not transcribed.
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message CacheOptionsEntry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CacheOptionsEntry {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(btree_map = "string, string", tag = "2")]
    pub attrs: BTreeMap<String, String>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message SolveResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SolveResponse {
    /// Deprecated bare ref id (set when `allow_result_return` is false).
    #[prost(string, tag = "1")]
    pub r#ref: String,
    // tag 2 (ExporterAttr) was removed.
    #[prost(message, optional, tag = "3")]
    pub result: Option<Result>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ReadFileRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadFileRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub file_path: String,
    #[prost(message, optional, tag = "3")]
    pub range: Option<FileRange>,
    /// Only for the *Container variants.
    #[prost(int32, tag = "4")]
    pub mount_index: i32,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message FileRange.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileRange {
    #[prost(int64, tag = "1")]
    pub offset: i64,
    #[prost(int64, tag = "2")]
    pub length: i64,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ReadFileResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadFileResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ReadDirRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadDirRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub dir_path: String,
    #[prost(string, tag = "3")]
    pub include_pattern: String,
    /// Only for the *Container variants.
    #[prost(int32, tag = "4")]
    pub mount_index: i32,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message ReadDirResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadDirResponse {
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Stat>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message StatFileRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatFileRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub path: String,
    /// Only for the *Container variants.
    #[prost(int32, tag = "3")]
    pub mount_index: i32,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message StatFileResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatFileResponse {
    #[prost(message, optional, tag = "1")]
    pub stat: Option<Stat>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message EvaluateRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EvaluateRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message EvaluateResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EvaluateResponse {}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message PingRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PingRequest {}

/// The daemon's capabilities and workers.
///
/// moby/buildkit frontend/gateway/pb/gateway.proto, message PongResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PongResponse {
    #[prost(message, repeated, tag = "1")]
    pub frontend_api_caps: Vec<ApiCap>,
    #[prost(message, repeated, tag = "2")]
    pub llb_caps: Vec<ApiCap>,
    #[prost(message, repeated, tag = "3")]
    pub workers: Vec<WorkerRecord>,
}

/// A build warning attached to a vertex.
///
/// moby/buildkit frontend/gateway/pb/gateway.proto, message WarnRequest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WarnRequest {
    /// Op digest the warning belongs to.
    #[prost(string, tag = "1")]
    pub digest: String,
    #[prost(int64, tag = "2")]
    pub level: i64,
    #[prost(bytes = "vec", tag = "3")]
    pub short: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub detail: Vec<Vec<u8>>,
    #[prost(string, tag = "5")]
    pub url: String,
    #[prost(message, optional, tag = "6")]
    pub info: Option<llb::SourceInfo>,
    #[prost(message, repeated, tag = "7")]
    pub ranges: Vec<llb::Range>,
}

/// moby/buildkit frontend/gateway/pb/gateway.proto, message WarnResponse.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WarnResponse {}

/// A capability the daemon supports (or not).
///
/// moby/buildkit util/apicaps/pb/caps.proto, message APICap.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct ApiCap {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(bool, tag = "2")]
    pub enabled: bool,
    /// Unused by BuildKit.
    #[prost(bool, tag = "3")]
    pub deprecated: bool,
    #[prost(string, tag = "4")]
    pub disabled_reason: String,
    #[prost(string, tag = "5")]
    pub disabled_reason_msg: String,
    #[prost(string, tag = "6")]
    pub disabled_alternative: String,
}

/// moby/buildkit api/types/worker.proto, message WorkerRecord.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkerRecord {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(btree_map = "string, string", tag = "2")]
    pub labels: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "3")]
    pub platforms: Vec<llb::Platform>,
    #[prost(message, repeated, tag = "4")]
    pub gc_policy: Vec<GcPolicy>,
    #[prost(message, optional, tag = "5")]
    pub buildkit_version: Option<BuildkitVersion>,
    // tag 6 (CDIDevices) is not transcribed.
}

/// moby/buildkit api/types/worker.proto, message GCPolicy.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GcPolicy {
    #[prost(bool, tag = "1")]
    pub all: bool,
    #[prost(int64, tag = "2")]
    pub keep_duration: i64,
    /// Renamed from `freeBytes`.
    #[prost(int64, tag = "3")]
    pub reserved_space: i64,
    #[prost(string, repeated, tag = "4")]
    pub filters: Vec<String>,
    #[prost(int64, tag = "5")]
    pub max_used_space: i64,
    #[prost(int64, tag = "6")]
    pub min_free_space: i64,
}

/// moby/buildkit api/types/worker.proto, message BuildkitVersion.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BuildkitVersion {
    #[prost(string, tag = "1")]
    pub package: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(string, tag = "3")]
    pub revision: String,
    /// Added after v0.25.0.
    #[prost(string, tag = "4")]
    pub dockerfile_version: String,
}

/// A file's metadata as returned by ReadDir/StatFile.
///
/// tonistiigi/fsutil types/stat.proto (vendored in moby/buildkit), message Stat.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stat {
    #[prost(string, tag = "1")]
    pub path: String,
    /// Go `os.FileMode` bits (not raw `st_mode`).
    #[prost(uint32, tag = "2")]
    pub mode: u32,
    #[prost(uint32, tag = "3")]
    pub uid: u32,
    #[prost(uint32, tag = "4")]
    pub gid: u32,
    #[prost(int64, tag = "5")]
    pub size: i64,
    /// Nanoseconds since the Unix epoch.
    #[prost(int64, tag = "6")]
    pub mod_time: i64,
    #[prost(string, tag = "7")]
    pub linkname: String,
    #[prost(int64, tag = "8")]
    pub devmajor: i64,
    #[prost(int64, tag = "9")]
    pub devminor: i64,
    #[prost(btree_map = "string, bytes", tag = "10")]
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// A gRPC error status carried inside a message (e.g. `ReturnRequest.error`).
///
/// google/rpc/status.proto, message Status.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// A `google.rpc.Code` value.
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// google/protobuf/any.proto, message Any.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn return_request_round_trips() {
        let req = ReturnRequest {
            result: Some(Result {
                result: Some(result::Result::Refs(RefMap {
                    refs: BTreeMap::from([(
                        "linux/amd64".to_string(),
                        Ref {
                            id: "r1".into(),
                            def: Some(llb::Definition {
                                def: vec![vec![1, 2, 3]],
                                ..Default::default()
                            }),
                        },
                    )]),
                })),
                metadata: BTreeMap::from([(
                    "containerimage.config/linux/amd64".to_string(),
                    b"{}".to_vec(),
                )]),
                attestations: BTreeMap::new(),
            }),
            error: Some(Status {
                code: 2,
                message: "boom".into(),
                details: vec![Any {
                    type_url: "type.googleapis.com/x".into(),
                    value: vec![9],
                }],
            }),
        };
        let bytes = req.encode_to_vec();
        assert_eq!(ReturnRequest::decode(bytes.as_slice()).unwrap(), req);
    }

    #[test]
    fn well_known_field_numbers() {
        // Result.ref = 3 (LEN) → 0x1a; Ref.id = 1 → 0x0a.
        let r = Result {
            result: Some(result::Result::Ref(Ref {
                id: "x".into(),
                def: None,
            })),
            ..Default::default()
        };
        assert_eq!(r.encode_to_vec(), [0x1a, 0x03, 0x0a, 0x01, b'x']);

        // Result.metadata = 10 (LEN) → 0x52.
        let r = Result {
            metadata: BTreeMap::from([("k".to_string(), vec![7])]),
            ..Default::default()
        };
        assert_eq!(
            r.encode_to_vec(),
            [0x52, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, 0x07]
        );

        // SolveRequest.Final = 10 (VARINT) → 0x50; Evaluate = 14 → 0x70.
        let s = SolveRequest {
            r#final: true,
            evaluate: true,
            ..Default::default()
        };
        assert_eq!(s.encode_to_vec(), [0x50, 0x01, 0x70, 0x01]);

        // ReadFileRequest.Range = 3 (LEN) → 0x1a; FileRange.Length = 2 → 0x10.
        let f = ReadFileRequest {
            range: Some(FileRange {
                offset: 0,
                length: 5,
            }),
            ..Default::default()
        };
        assert_eq!(f.encode_to_vec(), [0x1a, 0x02, 0x10, 0x05]);

        // Stat.modTime = 6 (VARINT) → 0x30.
        let st = Stat {
            mod_time: 1,
            ..Default::default()
        };
        assert_eq!(st.encode_to_vec(), [0x30, 0x01]);
    }

    #[test]
    fn skipped_fields_are_tolerated() {
        // A ResolveImageConfigRequest with SourcePolicies (tag 8, LEN) set decodes fine.
        let mut bytes = ResolveImageConfigRequest {
            r#ref: "python:3.12".into(),
            ..Default::default()
        }
        .encode_to_vec();
        bytes.extend([0x42, 0x02, 0x08, 0x01]);
        let decoded = ResolveImageConfigRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.r#ref, "python:3.12");
    }
}
