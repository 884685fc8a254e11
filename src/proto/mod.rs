//! The protocol code generated from BuildKit's own `.proto` files (vendored in `proto/`, whose
//! README names their commits): LLB (package `pb`), the LLBBridge gateway messages and client
//! (`moby.buildkit.v1.frontend`) and what they import. One generated file per package, nested
//! as the packages are, because generated code refers across packages by relative paths.
//!
//! The generated files live beside the `.proto` files, in `proto/gen/`, and are included here;
//! nothing in them is written by hand: `tests/proto_drift.rs` regenerates them and fails on any
//! difference (`UPDATE_GENERATED=1 cargo test --test proto_drift` rewrites them).
//! Every proto map is a `BTreeMap`, so encoding the same value always gives the same bytes.
//! The rest of pycache uses these through `crate::llb::pb` and `crate::gateway::pb`.

// Generated code follows the .proto files, not our lints (e.g. `large_enum_variant` on
// `Op.op`, doc comments copied verbatim from the .proto files).
#![allow(clippy::all, clippy::pedantic, rustdoc::all)]

include!("../../proto/gen/_includes.rs");

#[cfg(test)]
mod tests;
