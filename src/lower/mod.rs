//! Lowering: plan → LLB states. Pure and deterministic: the same plan, base config and context
//! options always give the same graph. The plan's structure says what each step runs on; each
//! plan action has one lowering here.

use crate::image::{BaseConfig, merge_env};
use crate::llb::{
    self, CopyOptions, Exec, ExecState, Mount, MountSource, OpMeta, Sharing, State, source,
};
use crate::plan::{Action, BindSource, Join, LayerKind, Plan, Run, Stage, Step, VENV, check};

/// Where the build context comes from: the `context` local of a session (frontend), or a
/// `--local context=DIR` given to `buildctl` (CLI output).
#[derive(Clone, Debug, Default)]
pub struct ContextSource {
    /// The local's name; `context` unless a named context replaced it.
    pub name: String,
    pub session: Option<String>,
}

/// Where a named build context comes from (the frontend's `context:NAME` option).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedSource {
    /// A directory of the client: `local:NAME` (buildx's `--build-context NAME=DIR`), or
    /// `buildctl --local NAME=DIR`.
    Local {
        name: String,
        session: Option<String>,
    },
    /// An image: `docker-image://REF`, normalised.
    Image { reference: String },
}

/// Where a [`BindSource::Text`] file is written, in the scratch state bind-mounted from.
const TEXT_FILE: &str = "/content";

/// `--no-cache`: nothing, everything, or the ops of some stages (`--no-cache-filter`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NoCache {
    #[default]
    Off,
    All,
    Stages(Vec<String>),
}

impl NoCache {
    /// Whether ops of `stage` (`None`: ops of no stage, such as sources) ignore the cache.
    fn applies_to(&self, stage: Option<Stage>) -> bool {
        match self {
            NoCache::Off => false,
            NoCache::All => true,
            NoCache::Stages(names) => stage.is_some_and(|s| names.iter().any(|n| n == s.name())),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct LowerOptions {
    pub base: BaseConfig,
    pub context: ContextSource,
    /// `image.resolvemode` for image sources (`local` on the docker driver, `pull` with --pull).
    pub resolve_mode: Option<String>,
    pub no_cache: NoCache,
    /// The named contexts the plan's steps read ([`Plan::named_contexts`]), by name; one not
    /// here is the local of that name of no particular session (`buildctl --local NAME=DIR`).
    pub named: std::collections::BTreeMap<String, NamedSource>,
    /// Images of the plan (the base, `uv-image`) replaced by a named context, by the
    /// reference the plan names them with, as the Dockerfile frontend replaces a `FROM`.
    pub images: std::collections::BTreeMap<String, NamedSource>,
}

impl LowerOptions {
    /// With no daemon (the CLI, golden tests): the context is `--local context=DIR` of
    /// `buildctl`, and the base image's config is not resolved.
    pub fn offline() -> Self {
        Self {
            context: ContextSource {
                name: "context".into(),
                session: None,
            },
            ..Self::default()
        }
    }
}

/// The runtime image's state for `plan`.
pub fn lower(plan: &Plan, opts: &LowerOptions) -> State {
    let l = Lowering::new(plan, opts);
    let image = l.image(&plan.base_image);

    // The builder: the toolchain, the empty environment, then each dependency layer and the
    // project on that environment alone.
    let toolchain = plan
        .toolchain
        .iter()
        .fold(image.clone(), |state, step| l.step(step, &state));
    let env = &plan.env;
    let skeleton = l.step(&env.skeleton, &toolchain);
    // Each layer's install, and the RECORD files it writes apart (`Run::output`).
    let (dependencies, records): (Vec<State>, Vec<State>) = env
        .dependencies
        .iter()
        .map(|d| l.step_with_output(&d.step, &skeleton))
        .unzip();
    let l = Lowering { records, ..l };
    let check = env.check.as_ref().map(|step| l.step(step, &skeleton));
    let project = [&env.source]
        .into_iter()
        .chain(&env.project)
        .fold(skeleton.clone(), |state, step| l.step(step, &state));

    // The runtime: its own steps on the image, then the environment's layers.
    let runtime = plan
        .runtime
        .iter()
        .fold(image, |state, step| l.step(step, &state));
    let layers = plan.layers();
    let lock_files = env
        .lock_files
        .as_ref()
        .map(|step| l.step(step, &State::scratch()));
    let upper = |kind: LayerKind| match kind {
        LayerKind::Skeleton => &skeleton,
        LayerKind::Dependencies(i) => &dependencies[i],
        LayerKind::Check => check.as_ref().unwrap_or(&skeleton),
        LayerKind::LockFiles => lock_files.as_ref().unwrap_or(&skeleton),
        LayerKind::Project => &project,
    };
    match plan.join {
        Join::Merge => {
            let diffs = layers.iter().map(|layer| {
                let lower = match layer.kind {
                    LayerKind::Skeleton => &toolchain,
                    // Already on nothing: the layer is the copy itself.
                    LayerKind::LockFiles => return upper(layer.kind).clone(),
                    _ => &skeleton,
                };
                let meta = l.meta(Stage::Runtime, layer.vertex_name());
                State::diff(lower, upper(layer.kind), meta)
            });
            let states: Vec<State> = std::iter::once(runtime).chain(diffs).collect();
            State::merge(
                &states,
                l.meta(Stage::Runtime, "[runtime] merge layers".into()),
            )
        }
        // Each layer's directories copied from its step's result: the environment (with the
        // skeleton's few files again, identical) or, for the project, the workdir too.
        Join::Copy => layers.iter().fold(runtime, |image, layer| {
            if let (LayerKind::LockFiles, Some(step)) = (layer.kind, &env.lock_files) {
                return l.step(step, &image);
            }
            let roots = match layer.kind {
                LayerKind::Project => project_roots(&plan.workdir),
                LayerKind::Check => vec![check::REPORT.to_owned()],
                _ => vec![VENV.to_owned()],
            };
            let mut ops = image.file();
            for root in roots {
                ops = ops.copy(
                    upper(layer.kind),
                    &root,
                    &root,
                    CopyOptions {
                        dir_copy_contents: true,
                        create_dest_path: true,
                        allow_wildcard: false,
                        ..Default::default()
                    },
                );
            }
            ops.meta(l.meta(Stage::Runtime, layer.vertex_name()))
                .into_state()
        }),
    }
}

/// The file name a download is kept under: the URL's last segment.
fn download_name(url: &str) -> &str {
    url.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("download")
}

/// The directories a project layer copies: the workdir, and the venv when it is elsewhere.
pub(crate) fn project_roots(workdir: &str) -> Vec<String> {
    let under = |dir: &str, root: &str| {
        root == "/" || dir == root || dir.starts_with(&format!("{}/", root.trim_end_matches('/')))
    };
    if under(VENV, workdir) {
        vec![workdir.to_owned()]
    } else {
        vec![VENV.to_owned(), workdir.to_owned()]
    }
}

/// What lowering a step needs besides the step: the plan, the options, the context sources.
struct Lowering<'a> {
    plan: &'a Plan,
    opts: &'a LowerOptions,
    /// The context's dependency manifests (lock and pyproject files), if any step binds them.
    manifests: Option<State>,
    full_context: State,
    /// Each dependency layer's `RECORD` files (its step's `Run::output`), once the layers are
    /// lowered.
    records: Vec<State>,
    /// The named contexts the steps bind files of, by name.
    named: std::collections::BTreeMap<String, State>,
}

/// One source per named context the plan reads: for a local directory, only the files the
/// steps bind cross the session (as with the manifests); an image is taken whole.
fn named_contexts(
    plan: &Plan,
    opts: &LowerOptions,
    ignore_cache: bool,
) -> std::collections::BTreeMap<String, State> {
    plan.named_contexts()
        .into_iter()
        .map(|name| {
            let mut files: Vec<String> = plan
                .steps()
                .filter_map(|s| match &s.action {
                    Action::Run(r) => Some(r.binds.iter().filter_map(|b| match &b.source {
                        BindSource::NamedContext { context, path } if context == name => {
                            Some(path.clone())
                        }
                        _ => None,
                    })),
                    _ => None,
                })
                .flatten()
                .collect();
            files.sort();
            files.dedup();
            let default = NamedSource::Local {
                name: name.to_owned(),
                session: None,
            };
            let state = match opts.named.get(name).unwrap_or(&default) {
                NamedSource::Local {
                    name: local,
                    session,
                } => source::local(
                    local,
                    &source::LocalOptions {
                        session: session.clone(),
                        shared_key_hint: Some(format!("context:{name}")),
                        include: files,
                        ignore_cache,
                        ..Default::default()
                    },
                ),
                NamedSource::Image { reference } => {
                    source::image(reference, opts.resolve_mode.as_deref(), ignore_cache)
                }
            };
            (name.to_owned(), state)
        })
        .collect()
}

impl<'a> Lowering<'a> {
    fn new(plan: &'a Plan, opts: &'a LowerOptions) -> Self {
        let context_name = if opts.context.name.is_empty() {
            "context"
        } else {
            &opts.context.name
        };
        let ignore_cache = opts.no_cache.applies_to(None);
        // Only the small files the dependency steps bind cross the session for them; their
        // content, not this source op, keys the steps.
        let mut manifest_files: Vec<String> = plan
            .steps()
            .filter_map(|s| match &s.action {
                Action::Run(r) => Some(r.binds.iter().filter_map(|b| match &b.source {
                    BindSource::Context(p) => Some(p.clone()),
                    BindSource::Text(_)
                    | BindSource::LayerRecords(_)
                    | BindSource::NamedContext { .. }
                    | BindSource::Download { .. } => None,
                })),
                _ => None,
            })
            .flatten()
            .collect();
        manifest_files.sort();
        manifest_files.dedup();
        let manifests = (!manifest_files.is_empty()).then(|| {
            source::local(
                context_name,
                &source::LocalOptions {
                    session: opts.context.session.clone(),
                    shared_key_hint: Some(format!("{context_name}-manifests")),
                    include: manifest_files,
                    ignore_cache,
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
                ignore_cache,
                ..Default::default()
            },
        );
        Self {
            plan,
            opts,
            manifests,
            full_context,
            named: named_contexts(plan, opts, ignore_cache),
            records: Vec::new(),
        }
    }

    /// The image `reference` of the plan, or the named context that replaces it.
    fn image(&self, reference: &str) -> State {
        let ignore_cache = self.opts.no_cache.applies_to(None);
        match self.opts.images.get(reference) {
            None => source::image(reference, self.opts.resolve_mode.as_deref(), ignore_cache),
            Some(NamedSource::Image { reference: other }) => {
                source::image(other, self.opts.resolve_mode.as_deref(), ignore_cache)
            }
            // A directory as the root filesystem, as `FROM` of a `local:` context is.
            Some(NamedSource::Local { name, session }) => source::local(
                name,
                &source::LocalOptions {
                    session: session.clone(),
                    shared_key_hint: Some(format!("context:{name}")),
                    ignore_cache,
                    ..Default::default()
                },
            ),
        }
    }

    /// The metadata of an op of `stage`.
    fn meta(&self, stage: Stage, name: String) -> OpMeta {
        OpMeta::named(name).ignore_cache(self.opts.no_cache.applies_to(Some(stage)))
    }

    /// `step` on `current`, and what it writes to its `Run::output` (nothing for a step without
    /// one).
    fn step_with_output(&self, step: &Step, current: &State) -> (State, State) {
        let meta = self.meta(step.stage, step.vertex_name());
        let copied = match &step.action {
            Action::Run(run) => {
                let exec = self.run(step.stage, run, current, meta);
                let output = run.output.as_deref().and_then(|dest| exec.mount(dest));
                return (exec.root(), output.unwrap_or_default());
            }
            Action::CopySource {
                dest,
                include,
                exclude,
                mtime,
            } => {
                // Copied onto scratch and merged, not copied onto the builder: the copy then
                // creates the workdir itself, with the fixed mtime, instead of changing the mtime
                // of a directory that already exists.
                // Without MergeOp, copied onto the builder (the workdir's own time changes,
                // and the project step sets it back).
                let onto = match self.plan.join {
                    Join::Merge => State::scratch(),
                    Join::Copy => current.clone(),
                };
                let source = onto
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
                    .meta(meta)
                    .into_state();
                match self.plan.join {
                    Join::Merge => State::merge(
                        &[current.clone(), source],
                        self.meta(step.stage, "merge source into the builder".into()),
                    ),
                    Join::Copy => source,
                }
            }
            Action::CopyFromImage { image, src, dest } => {
                let from = self.image(image);
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
                    .meta(meta)
                    .into_state()
            }
        };
        (copied, State::scratch())
    }

    /// `step` on `current`.
    fn step(&self, step: &Step, current: &State) -> State {
        self.step_with_output(step, current).0
    }

    fn run(&self, stage: Stage, run: &Run, current: &State, meta: OpMeta) -> ExecState {
        let mut mounts = Vec::new();
        if let Some(dest) = &run.output {
            mounts.push(Mount {
                dest: dest.clone(),
                source: MountSource::Bind {
                    state: State::scratch(),
                    selector: None,
                    readonly: false,
                },
            });
        }
        for b in &run.binds {
            let (state, selector) = match &b.source {
                // The manifests exist whenever a step binds a context file (see `new`).
                BindSource::Context(path) => {
                    (self.manifests.clone().unwrap_or_default(), path.clone())
                }
                BindSource::LayerRecords(i) => (
                    self.records.get(*i).cloned().unwrap_or_default(),
                    "/".into(),
                ),
                // Every context a step binds has a source (see `named_contexts`).
                BindSource::NamedContext { context, path } => (
                    self.named.get(context).cloned().unwrap_or_default(),
                    path.clone(),
                ),
                BindSource::Download { url, sha256 } => {
                    let file = download_name(url);
                    (
                        source::http(
                            url,
                            &format!("sha256:{sha256}"),
                            file,
                            self.opts.no_cache.applies_to(Some(stage)),
                        ),
                        file.to_owned(),
                    )
                }
                BindSource::Text(text) => {
                    let file = State::scratch()
                        .file()
                        .mkfile(TEXT_FILE, 0o644, text.as_bytes(), None)
                        .meta(self.meta(
                            stage,
                            format!(
                                "{}: write {}",
                                meta.name.as_deref().unwrap_or_default(),
                                b.target
                            ),
                        ))
                        .into_state();
                    (file, TEXT_FILE.to_owned())
                }
            };
            mounts.push(Mount {
                dest: b.target.clone(),
                source: MountSource::Bind {
                    state,
                    selector: Some(selector),
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
        for secret in &run.secrets {
            mounts.push(Mount {
                dest: secret.target.clone(),
                source: MountSource::Secret {
                    id: secret.id.clone(),
                    // Build steps run as root (see `user` below); only root reads it.
                    uid: 0,
                    gid: 0,
                    mode: 0o400,
                    // Optional for BuildKit, required by the step: its script checks the file
                    // and, when the build has no such secret, says which `--secret` to pass.
                    // BuildKit's own error ("secret X: not found") names no flag, and comes
                    // after the frontend has returned, too late to add one.
                    optional: true,
                },
            });
        }
        if let Some(ssh) = &run.ssh {
            mounts.push(Mount {
                dest: ssh.target.clone(),
                source: MountSource::Ssh {
                    id: ssh.id.clone(),
                    // Optional for BuildKit, required by the step, as for secrets: its script
                    // checks the socket and names the package and the `--ssh` flag to pass.
                    optional: true,
                },
            });
        }
        // Scratch files of install tools must not reach a layer: even a deleted one changes
        // /tmp's mtime, which a diff would carry.
        mounts.push(Mount {
            dest: "/tmp".into(),
            source: MountSource::Tmpfs,
        });
        let base = &self.opts.base;
        let mut args = if base.shell.is_empty() {
            vec!["/bin/sh".to_owned(), "-c".to_owned()]
        } else {
            base.shell.clone()
        };
        args.push(run.script.clone());
        let exec = Exec {
            args,
            env: merge_env(&base.env, &run.env),
            // Runtime steps run at /: the workdir reaches the image only with the builder's layers.
            cwd: if stage == Stage::Runtime {
                "/".into()
            } else {
                self.plan.workdir.clone()
            },
            // Build steps run as root whatever the base image's USER: they install system files.
            user: if base.user.is_empty() {
                String::new()
            } else {
                "0:0".into()
            },
            network_none: run.offline,
            mounts,
            meta,
        };
        current.run(exec)
    }
}

/// The Definition of `plan`'s runtime image.
pub fn definition(plan: &Plan, opts: &LowerOptions) -> llb::pb::Definition {
    llb::marshal(&lower(plan, opts), &plan.platform.to_llb())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::pb;

    /// A uv project's plan, lowered with `no_cache`: (vertex name, ignore_cache) of each op.
    fn marks(no_cache: NoCache) -> Vec<(String, bool)> {
        let plan = crate::testing::case_plan("uv-minimal", "");
        let opts = LowerOptions {
            no_cache,
            ..LowerOptions::offline()
        };
        let def = definition(&plan, &opts);
        let ops = def.def.len() - 1;
        def.def[..ops]
            .iter()
            .map(|bytes| {
                let meta: &pb::OpMetadata = &def.metadata[&llb::digest(bytes)];
                (
                    meta.description["llb.customname"].clone(),
                    meta.ignore_cache,
                )
            })
            .collect()
    }

    #[test]
    fn no_cache_marks_every_op_and_no_cache_filter_marks_its_stage() {
        assert!(marks(NoCache::Off).iter().all(|(_, ignore)| !ignore));
        assert!(marks(NoCache::All).iter().all(|(_, ignore)| *ignore));
        for (name, ignore) in marks(NoCache::Stages(vec!["runtime".into()])) {
            assert_eq!(ignore, name.starts_with("[runtime]"), "{name}");
        }
        let builder = marks(NoCache::Stages(vec!["builder".into()]));
        assert!(
            builder
                .iter()
                .any(|(n, i)| n.starts_with("[builder] deps: ") && *i)
        );
        assert!(builder.iter().any(|(n, i)| n.starts_with("[image]") && !*i));
    }
}
