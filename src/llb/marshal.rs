//! Marshalling a `State` into a `Definition`: inputs before the ops that use them, each op
//! once, keyed by the sha256 of its exact bytes, then the terminal op. The same graph always
//! gives the same bytes: no maps with random order, no timestamps, no ids.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use sha2::{Digest, Sha256};

use super::pb;
use super::state::{OpMeta, Output, State, Vertex};

/// `sha256:<hex>` of some bytes: an op's digest.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

struct Marshaller<'p> {
    platform: &'p pb::Platform,
    /// Vertex address → digest. Only looked up, never iterated, so address order is harmless.
    done: BTreeMap<usize, String>,
    seen: BTreeSet<String>,
    def: pb::Definition,
}

impl Marshaller<'_> {
    fn visit(&mut self, vertex: &Vertex) -> String {
        let key = vertex as *const Vertex as usize;
        if let Some(d) = self.done.get(&key) {
            return d.clone();
        }
        let inputs = vertex
            .inputs
            .iter()
            .map(|o: &Output| pb::Input {
                digest: self.visit(&o.vertex),
                index: o.index,
            })
            .collect();
        let op = pb::Op {
            inputs,
            op: Some(vertex.op.clone()),
            platform: Some(self.platform.clone()),
            constraints: None,
        };
        let bytes = op.encode_to_vec();
        let d = digest(&bytes);
        if self.seen.insert(d.clone()) {
            self.def.def.push(bytes);
            let OpMeta { name, ignore_cache } = &vertex.meta;
            if name.is_some() || *ignore_cache {
                let meta = self.def.metadata.entry(d.clone()).or_default();
                if let Some(name) = name {
                    meta.description
                        .insert("llb.customname".into(), name.clone());
                }
                meta.ignore_cache = *ignore_cache;
            }
        }
        self.done.insert(key, d.clone());
        d
    }
}

/// The Definition of `state` for `platform`, ready for `SolveRequest.definition` or
/// `buildctl build`.
pub fn marshal(state: &State, platform: &pb::Platform) -> pb::Definition {
    let mut m = Marshaller {
        platform,
        done: BTreeMap::new(),
        seen: BTreeSet::new(),
        def: pb::Definition::default(),
    };
    if let Some(out) = &state.output {
        let d = m.visit(&out.vertex);
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: d,
                index: out.index,
            }],
            ..Default::default()
        };
        m.def.def.push(terminal.encode_to_vec());
    }
    m.def
}
