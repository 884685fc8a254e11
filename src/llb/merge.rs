//! Merge and diff ops (moby/buildkit solver/pb/ops.proto `MergeOp`, `DiffOp`): layers joined
//! without copying, the way `COPY --link` works.

use super::pb;
use super::state::{OpMeta, State};

impl State {
    /// The states stacked in order, later ones winning; scratch inputs are dropped.
    pub fn merge(states: &[State], meta: OpMeta) -> State {
        let inputs: Vec<_> = states.iter().filter_map(|s| s.output.clone()).collect();
        match inputs.len() {
            0 => State::scratch(),
            1 => State {
                output: inputs.into_iter().next(),
            },
            n => {
                let op = pb::op::Op::Merge(pb::MergeOp {
                    inputs: (0..n as i64)
                        .map(|input| pb::MergeInput { input })
                        .collect(),
                });
                State::new_vertex(op, inputs, meta)
            }
        }
    }

    /// The changes that take `lower` to `upper`, as a state of their own.
    pub fn diff(lower: &State, upper: &State, meta: OpMeta) -> State {
        let mut inputs = Vec::new();
        let mut index = |s: &State| match &s.output {
            Some(o) => {
                inputs.push(o.clone());
                inputs.len() as i64 - 1
            }
            None => -1,
        };
        let (lower_i, upper_i) = (index(lower), index(upper));
        let op = pb::op::Op::Diff(pb::DiffOp {
            lower: Some(pb::LowerDiffInput { input: lower_i }),
            upper: Some(pb::UpperDiffInput { input: upper_i }),
        });
        State::new_vertex(op, inputs, meta)
    }
}
