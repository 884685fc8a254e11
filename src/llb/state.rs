//! The immutable, chainable `State`: a handle on one output of one vertex of the LLB graph.
//! Vertices are shared (`Arc`), so building a graph never copies it and never mutates it.

use std::sync::Arc;

use super::pb;

/// What the daemon is told about a vertex besides its op (`OpMetadata`): set where the vertex
/// is made, by whoever knows what it is for, never recovered later from its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpMeta {
    /// `llb.customname`: the progress line users see. Not part of the cache key.
    pub name: Option<String>,
    /// Run the op even when a cached result exists (`--no-cache`, `--no-cache-filter`).
    pub ignore_cache: bool,
}

impl OpMeta {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ignore_cache: false,
        }
    }

    pub fn ignore_cache(mut self, ignore: bool) -> Self {
        self.ignore_cache = ignore;
        self
    }
}

/// One vertex: the op without its inputs (those are filled in at marshal time from `inputs`).
#[derive(Debug)]
pub struct Vertex {
    pub(crate) op: pb::op::Op,
    pub(crate) inputs: Vec<Output>,
    pub(crate) meta: OpMeta,
}

/// An output of a vertex: what an op's input or a mount points at.
#[derive(Clone, Debug)]
pub struct Output {
    pub(crate) vertex: Arc<Vertex>,
    pub(crate) index: i64,
}

/// A filesystem state: scratch (empty), or an output of a vertex.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub(crate) output: Option<Output>,
}

impl State {
    /// The empty filesystem.
    pub fn scratch() -> Self {
        Self::default()
    }

    pub fn is_scratch(&self) -> bool {
        self.output.is_none()
    }

    pub(crate) fn from_vertex(vertex: Vertex, index: i64) -> Self {
        Self {
            output: Some(Output {
                vertex: Arc::new(vertex),
                index,
            }),
        }
    }

    pub(crate) fn new_vertex(op: pb::op::Op, inputs: Vec<Output>, meta: OpMeta) -> Self {
        Self::from_vertex(Vertex { op, inputs, meta }, 0)
    }
}
