//! File ops: mkdir, mkfile, rm, copy, chained in one op (moby/buildkit solver/pb/ops.proto
//! `FileOp`, `FileAction*`). Action k's input is `len(inputs) + k - 1` for k > 0, i.e. the
//! previous action's result; only the last action has an output.

use super::pb;
use super::state::{OpMeta, Output, State};

/// `uid:gid` owner of created or copied files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    fn to_pb(self) -> pb::ChownOpt {
        let id = |n| pb::UserOpt {
            user: Some(pb::user_opt::User::ById(n)),
        };
        pb::ChownOpt {
            user: Some(id(self.uid)),
            group: Some(id(self.gid)),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    pub owner: Option<Owner>,
    pub mode: Option<i32>,
    pub follow_symlinks: bool,
    pub dir_copy_contents: bool,
    pub create_dest_path: bool,
    pub allow_wildcard: bool,
    pub allow_empty_wildcard: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// mtime of every copied file, seconds since the epoch; `None` keeps the source's.
    pub mtime: Option<i64>,
}

#[derive(Clone, Debug)]
enum Action {
    Mkdir {
        path: String,
        mode: i32,
        parents: bool,
        owner: Option<Owner>,
    },
    Mkfile {
        path: String,
        mode: i32,
        data: Vec<u8>,
        owner: Option<Owner>,
    },
    Rm {
        path: String,
        allow_not_found: bool,
    },
    Copy {
        from: State,
        src: String,
        dest: String,
        opts: CopyOptions,
    },
}

/// A chain of file actions applied to a base state, finished with `into_state`.
#[derive(Clone, Debug)]
pub struct FileOps {
    base: State,
    actions: Vec<Action>,
    meta: OpMeta,
}

/// `-1`: timestamps are left to the daemon (the Go client's `marshalTime(nil)`).
const NO_TIMESTAMP: i64 = -1;

impl State {
    pub fn file(&self) -> FileOps {
        FileOps {
            base: self.clone(),
            actions: Vec::new(),
            meta: OpMeta::default(),
        }
    }
}

impl FileOps {
    pub fn mkdir(mut self, path: &str, mode: i32, parents: bool, owner: Option<Owner>) -> Self {
        self.actions.push(Action::Mkdir {
            path: path.into(),
            mode,
            parents,
            owner,
        });
        self
    }

    pub fn mkfile(
        mut self,
        path: &str,
        mode: i32,
        data: impl Into<Vec<u8>>,
        owner: Option<Owner>,
    ) -> Self {
        self.actions.push(Action::Mkfile {
            path: path.into(),
            mode,
            data: data.into(),
            owner,
        });
        self
    }

    pub fn rm(mut self, path: &str, allow_not_found: bool) -> Self {
        self.actions.push(Action::Rm {
            path: path.into(),
            allow_not_found,
        });
        self
    }

    pub fn copy(mut self, from: &State, src: &str, dest: &str, opts: CopyOptions) -> Self {
        self.actions.push(Action::Copy {
            from: from.clone(),
            src: src.into(),
            dest: dest.into(),
            opts,
        });
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.meta.name = Some(name.into());
        self
    }

    pub fn meta(mut self, meta: OpMeta) -> Self {
        self.meta = meta;
        self
    }

    pub fn into_state(self) -> State {
        assert!(
            !self.actions.is_empty(),
            "a file op needs at least one action"
        );
        let mut inputs: Vec<Output> = Vec::new();
        let base_index = match &self.base.output {
            Some(o) => {
                inputs.push(o.clone());
                0
            }
            None => -1,
        };
        // Secondary inputs (copy sources) come after the base, in action order.
        let mut secondary = Vec::new();
        for a in &self.actions {
            if let Action::Copy { from, .. } = a {
                secondary.push(match &from.output {
                    Some(o) => {
                        inputs.push(o.clone());
                        inputs.len() as i64 - 1
                    }
                    None => -1,
                });
            }
        }
        let n_inputs = inputs.len() as i64;
        let last = self.actions.len() - 1;
        let mut copies = secondary.into_iter();
        let actions = self
            .actions
            .into_iter()
            .enumerate()
            .map(|(k, a)| {
                let input = if k == 0 {
                    base_index
                } else {
                    n_inputs + k as i64 - 1
                };
                let output = if k == last { 0 } else { -1 };
                let mut secondary_input = -1;
                let action = match a {
                    Action::Mkdir {
                        path,
                        mode,
                        parents,
                        owner,
                    } => pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                        path,
                        mode,
                        make_parents: parents,
                        owner: owner.map(Owner::to_pb),
                        timestamp: NO_TIMESTAMP,
                    }),
                    Action::Mkfile {
                        path,
                        mode,
                        data,
                        owner,
                    } => pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                        path,
                        mode,
                        data,
                        owner: owner.map(Owner::to_pb),
                        timestamp: NO_TIMESTAMP,
                    }),
                    Action::Rm {
                        path,
                        allow_not_found,
                    } => pb::file_action::Action::Rm(pb::FileActionRm {
                        path,
                        allow_not_found,
                        allow_wildcard: false,
                    }),
                    Action::Copy {
                        src, dest, opts, ..
                    } => {
                        secondary_input = copies.next().expect("one per copy");
                        pb::file_action::Action::Copy(pb::FileActionCopy {
                            src,
                            dest,
                            owner: opts.owner.map(Owner::to_pb),
                            mode: opts.mode.unwrap_or(-1),
                            follow_symlink: opts.follow_symlinks,
                            dir_copy_contents: opts.dir_copy_contents,
                            create_dest_path: opts.create_dest_path,
                            allow_wildcard: opts.allow_wildcard,
                            allow_empty_wildcard: opts.allow_empty_wildcard,
                            // The proto wants nanoseconds (Go's `time.UnixNano`).
                            timestamp: opts.mtime.map_or(NO_TIMESTAMP, |s| s * 1_000_000_000),
                            include_patterns: opts.include,
                            exclude_patterns: opts.exclude,
                            ..Default::default()
                        })
                    }
                };
                pb::FileAction {
                    input,
                    secondary_input,
                    output,
                    action: Some(action),
                }
            })
            .collect();
        State::new_vertex(pb::op::Op::File(pb::FileOp { actions }), inputs, self.meta)
    }
}
