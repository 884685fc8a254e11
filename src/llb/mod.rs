//! Our own typed LLB: the prost messages generated from moby/buildkit's `solver/pb/ops.proto`
//! (as [`pb`], from `crate::proto`), an immutable `State` builder with one file per op kind,
//! deterministic marshalling, and a `buildctl debug dump-llb`-shaped JSON dump.
//!
//! Why not the `buildkit-llb` crate: it is from 2020 (prost 0.6, tonic 0.1), has no MergeOp or
//! DiffOp, and orders attributes with `HashMap`, so its bytes are not deterministic.

pub mod dump;
mod exec;
mod file;
mod marshal;
mod merge;
pub mod source;
mod state;

pub use crate::proto::pb;
pub use exec::{Exec, ExecState, Mount, MountSource, Sharing};
pub use file::{CopyOptions, FileOps, Owner};
pub use marshal::{digest, marshal};
pub use state::{OpMeta, State};
