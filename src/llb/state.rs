//! The immutable, chainable `State`: a handle on one output of one vertex of the LLB graph.
//! Vertices are shared (`Arc`), so building a graph never copies it and never mutates it.

use std::sync::Arc;

use super::pb;

/// One vertex: the op without its inputs (those are filled in at marshal time from `inputs`).
#[derive(Debug)]
pub struct Vertex {
    pub(crate) op: pb::op::Op,
    pub(crate) inputs: Vec<Output>,
    pub(crate) name: Option<String>,
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

    pub(crate) fn new_vertex(op: pb::op::Op, inputs: Vec<Output>, name: Option<String>) -> Self {
        Self::from_vertex(Vertex { op, inputs, name }, 0)
    }
}
