//! Exec ops: a command with mounts (moby/buildkit solver/pb/ops.proto `ExecOp`, `Meta`,
//! `Mount`, `CacheOpt`, `SecretOpt`, `SSHOpt`; -1 input/output from solver/pb/const.go).

use super::pb;
use super::state::{OpMeta, State, Vertex};

pub use pb::CacheSharingOpt as Sharing;

#[derive(Clone, Debug)]
pub enum MountSource {
    /// A bind mount of a state (or part of it, with `selector`).
    Bind {
        state: State,
        selector: Option<String>,
        readonly: bool,
    },
    /// A persistent cache shared between builds; never part of any result.
    Cache {
        id: String,
        sharing: Sharing,
    },
    Tmpfs,
    Secret {
        id: String,
        uid: u32,
        gid: u32,
        mode: u32,
        optional: bool,
    },
    Ssh {
        id: String,
        optional: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Mount {
    pub dest: String,
    pub source: MountSource,
}

#[derive(Clone, Debug, Default)]
pub struct Exec {
    pub args: Vec<String>,
    /// `KEY=value`, in the order given (the daemon keeps it).
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub network_none: bool,
    pub mounts: Vec<Mount>,
    pub meta: OpMeta,
}

/// The result of `State::run`: the root filesystem and any writable mounts' outputs.
#[derive(Clone, Debug)]
pub struct ExecState {
    root: State,
    mount_outputs: Vec<(String, State)>,
}

impl ExecState {
    pub fn root(&self) -> State {
        self.root.clone()
    }

    /// The output of the writable mount at `dest`.
    pub fn mount(&self, dest: &str) -> Option<State> {
        self.mount_outputs
            .iter()
            .find(|(d, _)| d == dest)
            .map(|(_, s)| s.clone())
    }
}

impl State {
    /// Runs `exec` with this state mounted writable at `/`.
    pub fn run(&self, exec: Exec) -> ExecState {
        let mut mounts = exec.mounts;
        mounts.push(Mount {
            dest: "/".into(),
            source: MountSource::Bind {
                state: self.clone(),
                selector: None,
                readonly: false,
            },
        });
        // Sorted by destination ("/" first) so the same mounts always marshal the same way.
        mounts.sort_by(|a, b| a.dest.cmp(&b.dest));
        let mut inputs = Vec::new();
        let mut pb_mounts = Vec::new();
        let mut outputs = Vec::new();
        let mut next_output = 0i64;
        for m in &mounts {
            let mut pm = pb::Mount {
                input: -1,
                output: -1,
                dest: m.dest.clone(),
                ..Default::default()
            };
            match &m.source {
                MountSource::Bind {
                    state,
                    selector,
                    readonly,
                } => {
                    if let Some(out) = &state.output {
                        pm.input = inputs.len() as i64;
                        inputs.push(out.clone());
                    }
                    pm.selector = selector.clone().unwrap_or_default();
                    pm.readonly = *readonly;
                    pm.mount_type = pb::MountType::Bind as i32;
                    if !readonly {
                        pm.output = next_output;
                        outputs.push(m.dest.clone());
                        next_output += 1;
                    }
                }
                MountSource::Cache { id, sharing } => {
                    pm.mount_type = pb::MountType::Cache as i32;
                    pm.cache_opt = Some(pb::CacheOpt {
                        id: id.clone(),
                        sharing: *sharing as i32,
                    });
                }
                MountSource::Tmpfs => {
                    pm.mount_type = pb::MountType::Tmpfs as i32;
                    pm.tmpfs_opt = Some(pb::TmpfsOpt::default());
                }
                MountSource::Secret {
                    id,
                    uid,
                    gid,
                    mode,
                    optional,
                } => {
                    pm.mount_type = pb::MountType::Secret as i32;
                    pm.secret_opt = Some(pb::SecretOpt {
                        id: id.clone(),
                        uid: *uid,
                        gid: *gid,
                        mode: *mode,
                        optional: *optional,
                    });
                }
                MountSource::Ssh { id, optional } => {
                    pm.mount_type = pb::MountType::Ssh as i32;
                    pm.ssh_opt = Some(pb::SshOpt {
                        id: id.clone(),
                        mode: 0o600,
                        optional: *optional,
                        ..Default::default()
                    });
                }
            }
            pb_mounts.push(pm);
        }
        let op = pb::op::Op::Exec(pb::ExecOp {
            meta: Some(pb::Meta {
                args: exec.args,
                env: exec.env,
                cwd: if exec.cwd.is_empty() {
                    "/".into()
                } else {
                    exec.cwd
                },
                user: exec.user,
                // Remove the directories created for mount points (e.g. `/pycache` for
                // `/pycache/export`) from the result, as the Dockerfile frontend does.
                remove_mount_stubs_recursive: true,
                ..Default::default()
            }),
            mounts: pb_mounts,
            network: if exec.network_none {
                pb::NetMode::None as i32
            } else {
                pb::NetMode::Unset as i32
            },
            ..Default::default()
        });
        let vertex = std::sync::Arc::new(Vertex {
            op,
            inputs,
            meta: exec.meta,
        });
        let state_at = |i: usize| State {
            output: Some(super::state::Output {
                vertex: vertex.clone(),
                index: i as i64,
            }),
        };
        let root_index = outputs
            .iter()
            .position(|d| d == "/")
            .expect("root is writable");
        ExecState {
            root: state_at(root_index),
            mount_outputs: outputs
                .iter()
                .enumerate()
                .map(|(i, d)| (d.clone(), state_at(i)))
                .collect(),
        }
    }
}
