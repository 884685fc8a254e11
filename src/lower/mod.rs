//! Lowering: plan → LLB states. Pure and deterministic: the same plan, base config and context
//! options always give the same graph. Each plan action has one lowering here.

use std::collections::BTreeMap;

use crate::image::{BaseConfig, merge_env};
use crate::llb::{self, CopyOptions, Exec, Mount, MountSource, Sharing, State, source};
use crate::plan::{Action, BUILDER_START, BindSource, Plan, Run, Stage};

/// Where the build context comes from: the `context` local of a session (frontend), or a
/// `--local context=DIR` given to `buildctl` (CLI output).
#[derive(Clone, Debug, Default)]
pub struct ContextSource {
    /// The local's name; `context` unless a named context replaced it.
    pub name: String,
    pub session: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct LowerOptions {
    pub base: BaseConfig,
    pub context: ContextSource,
    /// `image.resolvemode` for image sources (`local` on the docker driver, `pull` with --pull).
    pub resolve_mode: Option<String>,
}

impl LowerOptions {
    /// With no daemon (the CLI, golden tests): the context is `--local context=DIR` of
    /// `buildctl`, and the base image's config is not resolved.
    pub fn offline() -> Self {
        Self {
            base: BaseConfig::default(),
            context: ContextSource {
                name: "context".into(),
                session: None,
            },
            resolve_mode: None,
        }
    }
}

/// The lowered build: the final state, plus the builder's for `--target builder`-style reuse.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub runtime: State,
}

pub fn lower(plan: &Plan, opts: &LowerOptions) -> Lowered {
    let context_name = if opts.context.name.is_empty() {
        "context"
    } else {
        &opts.context.name
    };
    // Only the small files the dependency steps bind cross the session for them; their
    // content, not this source op, keys the steps.
    let manifest_files: Vec<String> = {
        let mut v: Vec<String> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Run(r) => Some(r.binds.iter().filter_map(|b| match &b.source {
                    BindSource::Context(p) => Some(p.clone()),
                    BindSource::StepOutput(_) => None,
                })),
                _ => None,
            })
            .flatten()
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let manifests = (!manifest_files.is_empty()).then(|| {
        source::local(
            context_name,
            &source::LocalOptions {
                session: opts.context.session.clone(),
                shared_key_hint: Some(format!("{context_name}-manifests")),
                include: manifest_files.clone(),
                ..Default::default()
            },
        )
    });
    let full_context = source::local(
        context_name,
        &source::LocalOptions {
            session: opts.context.session.clone(),
            shared_key_hint: Some(context_name.to_owned()),
            exclude: plan.context_excludes.clone(),
            ..Default::default()
        },
    );

    let image = source::image(&plan.base_image, opts.resolve_mode.as_deref());
    let mut l = Lowering {
        plan,
        opts,
        manifests,
        full_context,
        states: BTreeMap::from([(BUILDER_START.to_owned(), image.clone())]),
    };
    let mut builder = image.clone();
    for step in plan.stage_steps(Stage::Builder) {
        let out = l.step(step, &builder);
        if !step.side {
            builder = out.clone();
        }
        l.states.insert(step.id.clone(), out);
    }

    // The runtime stage: its own steps on the image, then the builder's files as layers.
    let mut runtime = image;
    let mut layers = Vec::new();
    for step in plan.stage_steps(Stage::Runtime) {
        match &step.action {
            Action::Graft { lower, upper } => layers.push(State::diff(
                &l.states[lower],
                &l.states[upper],
                Some(step.vertex_name()),
            )),
            _ => runtime = l.step(step, &runtime),
        }
    }
    layers.insert(0, runtime);
    let runtime = State::merge(&layers, Some("[runtime] merge layers".into()));
    Lowered { runtime }
}

/// What lowering one step needs besides the step: the plan, the options, the context
/// sources, and the states of the steps lowered so far.
struct Lowering<'a> {
    plan: &'a Plan,
    opts: &'a LowerOptions,
    /// The context's dependency manifests (lock and pyproject files), if any step binds them.
    manifests: Option<State>,
    full_context: State,
    states: BTreeMap<String, State>,
}

impl Lowering<'_> {
    fn step(&self, step: &crate::plan::Step, current: &State) -> State {
        let name = step.vertex_name();
        match &step.action {
            Action::Run(run) => self.run(step.stage, run, current, name),
            Action::CopySource {
                dest,
                include,
                exclude,
                mtime,
            } => {
                // Copied onto scratch and merged, not copied onto the builder: the copy then
                // creates the workdir itself, with the fixed mtime, instead of changing the mtime
                // of a directory that already exists.
                let source = State::scratch()
                    .file()
                    .copy(
                        &self.full_context,
                        "/",
                        dest,
                        CopyOptions {
                            follow_symlinks: true,
                            dir_copy_contents: true,
                            create_dest_path: true,
                            allow_wildcard: true,
                            allow_empty_wildcard: true,
                            include: include.clone(),
                            exclude: exclude.clone(),
                            mtime: Some(*mtime),
                            ..Default::default()
                        },
                    )
                    .named(name)
                    .into_state();
                State::merge(
                    &[current.clone(), source],
                    Some("merge source into the builder".into()),
                )
            }
            Action::CopyFromImage { image, src, dest } => {
                let from = source::image(image, self.opts.resolve_mode.as_deref());
                current
                    .file()
                    .copy(
                        &from,
                        src,
                        dest,
                        CopyOptions {
                            follow_symlinks: true,
                            create_dest_path: true,
                            ..Default::default()
                        },
                    )
                    .named(name)
                    .into_state()
            }
            Action::Graft { .. } => unreachable!("grafts are lowered with the runtime stage"),
        }
    }

    fn run(&self, stage: Stage, run: &Run, current: &State, name: String) -> State {
        let mut mounts = Vec::new();
        for b in &run.binds {
            let (state, selector) = match &b.source {
                BindSource::Context(path) => (
                    self.manifests
                        .clone()
                        .expect("manifests exist when binds do"),
                    Some(path.clone()),
                ),
                BindSource::StepOutput(id) => (self.states[id].clone(), None),
            };
            mounts.push(Mount {
                dest: b.target.clone(),
                source: MountSource::Bind {
                    state,
                    selector,
                    readonly: true,
                },
            });
        }
        for c in &run.caches {
            let sharing = match c.sharing {
                crate::plan::Sharing::Shared => Sharing::Shared,
                crate::plan::Sharing::Private => Sharing::Private,
                crate::plan::Sharing::Locked => Sharing::Locked,
            };
            mounts.push(Mount {
                dest: c.target.clone(),
                source: MountSource::Cache {
                    id: c.id.clone(),
                    sharing,
                },
            });
        }
        // Scratch files of install tools must not reach a layer: even a deleted one changes
        // /tmp's mtime, which a diff would carry.
        mounts.push(Mount {
            dest: "/tmp".into(),
            source: MountSource::Tmpfs,
        });
        if let Some(out) = &run.side_output {
            mounts.push(Mount {
                dest: out.clone(),
                source: MountSource::Scratch,
            });
        }
        let opts = self.opts;
        let mut args = if opts.base.shell.is_empty() {
            vec!["/bin/sh".to_owned(), "-c".to_owned()]
        } else {
            opts.base.shell.clone()
        };
        args.push(run.script.clone());
        let exec = Exec {
            args,
            env: merge_env(&opts.base.env, &run.env),
            // Runtime steps run at /: the workdir reaches the image only with the builder's layers.
            cwd: if stage == Stage::Runtime {
                "/".into()
            } else {
                self.plan.workdir.clone()
            },
            // Build steps run as root whatever the base image's USER: they install system files.
            user: if opts.base.user.is_empty() {
                String::new()
            } else {
                "0:0".into()
            },
            network_none: false,
            mounts,
            name: Some(name),
        };
        let result = current.run(exec);
        match &run.side_output {
            Some(out) => result.mount(out).expect("side output mount exists"),
            None => result.root(),
        }
    }
}

/// The platform message of a plan, for marshalling.
pub fn platform(plan: &Plan) -> llb::pb::Platform {
    llb::platform(
        &plan.platform.os,
        &plan.platform.architecture,
        plan.platform.variant.as_deref(),
    )
}
