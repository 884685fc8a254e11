//! `pycache dockerfile`: the plan printed as a Dockerfile for the built-in Dockerfile frontend,
//! for teams that want to leave pycache (or to read what it builds). It walks the same [`Plan`]
//! the frontend lowers to LLB, so the two cannot drift, and keeps as much of the layering as
//! the Dockerfile language can say:
//!
//! - every dependency layer is a stage of its own on the empty environment (`FROM venv AS
//!   deps-N`), installing only its packages from a requirements file written into the
//!   Dockerfile (`COPY <<EOF`, bind-mounted), so a changed package re-runs one stage;
//! - the runtime stage joins the stages with `COPY --link`, each its own layer, rebased
//!   without re-copying the layers below when one changes;
//! - cache mounts, `--network=none`, a tmpfs `/tmp` and the reproducibility steps as in the LLB.
//!
//! What it cannot say: a DiffOp. Each `COPY --link` layer of the environment also carries the
//! empty environment's few files again (identical, so the image's files are the same), and
//! a copied file keeps the checkout's mtime until a step resets it.
//!
//! Every value is checked before it is written: the Dockerfile frontend splits words at
//! spaces, strips quotes and expands `$` in `COPY`, `WORKDIR` and mount flags, and a newline
//! would start a new instruction. A value it cannot carry as it is (a newline in an `ENV`,
//! a space in a glob) is an error naming it, never a different Dockerfile.

use std::fmt::Write;

use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{
    Action, Bind, BindSource, CacheMount, LayerKind, Plan, RuntimeUser, Sharing, Stage, Step, VENV,
    check,
};

/// How `dockerfile` is asked to write.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A `# syntax=<image>` first line; none by default (the engine's built-in frontend).
    pub syntax: Option<String>,
    /// The recipe it comes from, for the header.
    pub recipe_file: String,
}

/// The stage names, one place. The last stage is always `runtime` (a name no recipe target
/// may take), so no `[targets.X]` collides with the others.
const BUILDER: &str = "builder";
const RUNTIME: &str = "runtime";
const VENV_STAGE: &str = "venv";
const CHECK: &str = "check";
const PROJECT: &str = "project";

/// Whether `name` is, or may be, the name of a stage the Dockerfile has.
fn is_stage_name(name: &str) -> bool {
    [BUILDER, RUNTIME, VENV_STAGE, CHECK, PROJECT, "deps"]
        .iter()
        .any(|s| name == *s || name.starts_with(&format!("{s}-")))
}

fn deps_stage(i: usize) -> String {
    format!("deps-{}", i + 1)
}

/// The Dockerfile of `plan`, or what in the plan a Dockerfile cannot say.
pub fn dockerfile(plan: &Plan, opts: &Options) -> Result<String, Diagnostics> {
    check_values(plan, &opts.recipe_file)?;
    let mut out = String::new();
    if let Some(syntax) = &opts.syntax {
        let _ = writeln!(out, "# syntax={syntax}");
    }
    header(&mut out, plan, opts);
    let env = &plan.env;
    for step in &plan.toolchain {
        text_inputs(&mut out, BUILDER, step);
    }

    stage_line(
        &mut out,
        &plan.base_image,
        BUILDER,
        "the toolchain: never shipped",
    );
    // Build steps run as root in the workdir, whatever the base image says.
    out.push_str("USER 0:0\n");
    let _ = writeln!(out, "WORKDIR {}", plan.workdir);
    for step in &plan.toolchain {
        step_text(&mut out, step);
    }

    stage_line(
        &mut out,
        BUILDER,
        VENV_STAGE,
        "the empty environment every layer installs into",
    );
    step_text(&mut out, &env.skeleton);

    let n = env.dependencies.len();
    for (i, dep) in env.dependencies.iter().enumerate() {
        let name = deps_stage(i);
        text_inputs(&mut out, &name, &dep.step);
        stage_line(
            &mut out,
            VENV_STAGE,
            &name,
            &format!("layer {}/{n}: {}", i + 1, dep.step.title),
        );
        step_text(&mut out, &dep.step);
    }

    if let Some(step) = &env.check {
        stage_line(&mut out, VENV_STAGE, CHECK, "the dependency layers' report");
        step_text(&mut out, step);
    }

    stage_line(
        &mut out,
        VENV_STAGE,
        PROJECT,
        "the source and the project, on the empty environment",
    );
    step_text(&mut out, &source_step(plan));
    if let Some(step) = &env.project {
        step_text(&mut out, step);
    }

    runtime(&mut out, plan);
    Ok(out)
}

/// The source copy with the context's excludes too: pycache applies `.dockerignore` (or
/// `pycache.toml.dockerignore`) and `[source] exclude` when the context is sent, the Dockerfile
/// frontend only `.dockerignore`. Re-includes (`!pattern`) stay the ignore file's business.
fn source_step(plan: &Plan) -> Step {
    let mut step = plan.env.source.clone();
    if let Action::CopySource { exclude, .. } = &mut step.action {
        let extra = plan
            .context_excludes
            .iter()
            .filter(|p| !p.starts_with('!') && !exclude.contains(p));
        let extra: Vec<String> = extra.cloned().collect();
        exclude.extend(extra);
    }
    step
}

/// Characters the Dockerfile frontend reads specially in a word of `COPY`, `WORKDIR` and
/// `--mount` flags: separators, quotes, escapes, variables, the CSV of mount options.
fn plain_word(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'\\$,`".contains(c))
}

/// Every value the Dockerfile holds outside a heredoc, checked (see the module's doc).
fn check_values(plan: &Plan, recipe_file: &str) -> Result<(), Diagnostics> {
    let mut problems = Diagnostics::default();
    for context in plan.named_contexts() {
        if is_stage_name(context) {
            problems.push(
                Diagnostic::new(
                    recipe_file,
                    format!("the build context `{context}` has the name of a stage of the Dockerfile pycache writes, so `--mount=from={context}` would mount that stage"),
                )
                .help("rename the context in [python] find-links (e.g. \"wheels\"), and pass it under that name"),
            );
        }
    }
    let mut word = |what: &str, value: &str| {
        if !plain_word(value) {
            problems.push(
                Diagnostic::new(
                    recipe_file,
                    format!("{what} `{}` cannot be written into a Dockerfile as it is", value.escape_debug()),
                )
                .help("the Dockerfile frontend splits words at spaces and reads quotes, `\\`, `$` and `,` itself: rename it, or build with pycache"),
            );
        }
    };
    word("the workdir", &plan.workdir);
    for glob in plan.context_excludes.iter().filter(|p| !p.starts_with('!')) {
        word("the source pattern", glob);
    }
    for step in plan.steps() {
        match &step.action {
            Action::CopySource {
                include, exclude, ..
            } => {
                for glob in include.iter().chain(exclude) {
                    word("the source pattern", glob);
                }
            }
            Action::Run(run) => {
                for bind in &run.binds {
                    match &bind.source {
                        BindSource::Context(path) => word("the requirements file", path),
                        BindSource::NamedContext { path, .. } => word("the find-links file", path),
                        _ => {}
                    }
                }
                for secret in &run.secrets {
                    word("the secret id", &secret.id);
                }
                if let Some(ssh) = &run.ssh {
                    word("the ssh id", &ssh.id);
                }
            }
            Action::CopyFromImage { .. } => {}
        }
    }
    let image = &plan.image;
    let values = image.env.iter().map(|(k, v)| (k, v)).chain(&image.labels);
    for (k, v) in values {
        if k.chars().chain(v.chars()).any(char::is_control) {
            problems.push(
                Diagnostic::new(
                    recipe_file,
                    format!("`{}` has a value with a newline or another control character: a Dockerfile's ENV and LABEL cannot hold one", k.escape_debug()),
                )
                .help("build with pycache, or set the value without it"),
            );
        }
    }
    problems.finish(())
}

fn header(out: &mut String, plan: &Plan, opts: &Options) {
    let _ = writeln!(
        out,
        "# Written by `pycache dockerfile` (pycache {}) from {}: target {}, platform {}.",
        env!("CARGO_PKG_VERSION"),
        opts.recipe_file,
        plan.target,
        plan.platform.id()
    );
    out.push_str(
        "# For the built-in Dockerfile frontend. The lock's markers were decided for that platform:\n\
         # eject again with --platform for another. Each dependency layer is a stage on the empty\n\
         # environment, joined onto the runtime image with COPY --link, so a changed package\n\
         # rebuilds one stage and one layer, also from a mode=max cache export on a fresh runner.\n",
    );
    let contexts = plan.named_contexts();
    if !contexts.is_empty() {
        let flags: Vec<String> = contexts
            .iter()
            .map(|c| format!("--build-context {c}=DIR"))
            .collect();
        let _ = writeln!(
            out,
            "# Needs the named build context{} {} (the recipe's find-links): build with\n# docker buildx build {} …",
            if contexts.len() == 1 { "" } else { "s" },
            contexts.join(", "),
            flags.join(" ")
        );
    }
}

fn stage_line(out: &mut String, from: &str, name: &str, what: &str) {
    let _ = write!(out, "\n# {what}\nFROM {from} AS {name}\n");
}

/// The scratch stages holding the files a step's [`BindSource::Text`] and
/// [`BindSource::Download`] binds mount.
fn text_inputs(out: &mut String, stage: &str, step: &Step) {
    let Action::Run(run) = &step.action else {
        return;
    };
    for bind in &run.binds {
        if let BindSource::Download { url, sha256 } = &bind.source {
            let _ = write!(
                out,
                "\n# {}, read by {stage}\nFROM scratch AS {}\nADD --checksum=sha256:{sha256} {url} /content\n",
                bind.target,
                input_stage(stage, step, bind)
            );
        }
        if let BindSource::Text(text) = &bind.source {
            let _ = write!(
                out,
                "\n# {}, read by {stage}\nFROM scratch AS {}\n",
                bind.target,
                input_stage(stage, step, bind)
            );
            let delim = delimiter(text);
            let _ = write!(out, "COPY <<'{delim}' /content\n{text}");
            if !text.ends_with('\n') {
                out.push('\n');
            }
            let _ = writeln!(out, "{delim}");
        }
    }
}

/// The stage holding what `bind` mounts: named after its file, or, for a wheel the daemon
/// downloads (several of one layer may share a stem: `numpy-2.1.3-…`, `numpy-2.2.0-…`), after
/// its place among the layer's downloads.
fn input_stage(stage: &str, step: &Step, bind: &Bind) -> String {
    if let (Action::Run(run), BindSource::Download { .. }) = (&step.action, &bind.source)
        && bind
            .target
            .starts_with(&format!("{}/", crate::plan::layers::WHEELS))
    {
        let n = run
            .binds
            .iter()
            .filter(|b| {
                b.target
                    .starts_with(&format!("{}/", crate::plan::layers::WHEELS))
            })
            .position(|b| b == bind)
            .unwrap_or(0);
        return format!("{stage}-wheel-{}", n + 1);
    }
    let file = bind.target.rsplit('/').next().unwrap_or("input");
    let stem = file.split('.').next().unwrap_or(file);
    format!("{stage}-{stem}")
}

/// A heredoc delimiter no line of `text` equals.
fn delimiter(text: &str) -> String {
    let mut delim = "PYCACHE".to_owned();
    while text.lines().any(|l| l == delim) {
        delim.push('_');
    }
    delim
}

/// One step of a stage, with the plan's reasons as comments.
fn step_text(out: &mut String, step: &Step) {
    let _ = writeln!(out, "# {}: {}", step.title, step.why);
    match &step.action {
        Action::Run(run) => {
            let mut flags: Vec<String> = Vec::new();
            if run.offline {
                flags.push("--network=none".into());
            }
            for bind in &run.binds {
                flags.push(bind_flag(step, bind));
            }
            flags.extend(run.caches.iter().map(cache_flag));
            // Not `required`: the step itself says which `--secret` to pass when one is missing.
            flags.extend(run.secrets.iter().map(|secret| {
                format!(
                    "--mount=type=secret,id={},target={},mode=0400",
                    secret.id, secret.target
                )
            }));
            // Not `required` either: the step says which `--ssh` to pass when it has none.
            flags.extend(
                run.ssh
                    .iter()
                    .map(|ssh| format!("--mount=type=ssh,id={},target={}", ssh.id, ssh.target)),
            );
            // A Dockerfile step has one result: what the step writes apart is dropped, and the
            // steps that read it mount the step's stage instead (see `bind_flag`).
            flags.extend(
                run.output
                    .iter()
                    .map(|dest| format!("--mount=type=tmpfs,target={dest}")),
            );
            flags.push("--mount=type=tmpfs,target=/tmp".into());
            let mut script = String::new();
            for (k, v) in &run.env {
                let _ = writeln!(script, "export {k}={}", quote(v));
            }
            script.push_str(&run.script);
            if !script.ends_with('\n') {
                script.push('\n');
            }
            let delim = delimiter(&script);
            let _ = write!(
                out,
                "RUN {} <<'{delim}'\n{script}{delim}\n",
                flags.join(" \\\n    ")
            );
        }
        Action::CopySource {
            dest,
            include,
            exclude,
            mtime: _,
        } => {
            let mut flags = vec!["--link".to_owned()];
            flags.extend(exclude.iter().map(|e| format!("--exclude={e}")));
            if include.is_empty() {
                let _ = writeln!(out, "COPY {} . {dest}", flags.join(" "));
            } else {
                // `--parents` keeps each path's directories, as the include filter does.
                flags.push("--parents".into());
                let _ = writeln!(
                    out,
                    "COPY {} {} {}/",
                    flags.join(" "),
                    include.join(" "),
                    dest.trim_end_matches('/')
                );
            }
        }
        Action::CopyFromImage { image, src, dest } => {
            let _ = writeln!(out, "COPY --from={image} {src} {dest}");
        }
    }
}

fn bind_flag(step: &Step, bind: &Bind) -> String {
    match &bind.source {
        BindSource::Context(path) => {
            format!("--mount=type=bind,source={path},target={}", bind.target)
        }
        BindSource::Text(_) | BindSource::Download { .. } => {
            let stage = match step.id {
                crate::plan::StepId::Dependencies(i) => deps_stage(i),
                _ => step.stage.name().to_owned(),
            };
            format!(
                "--mount=type=bind,from={},source=/content,target={}",
                input_stage(&stage, step, bind),
                bind.target
            )
        }
        // A named context is a stage name to `--mount=from`: `--build-context NAME=DIR`
        // gives it, as to pycache.
        BindSource::NamedContext { context, path } => {
            format!(
                "--mount=type=bind,from={context},source={path},target={}",
                bind.target
            )
        }
        // The RECORD files lie under the environment's lib directory of the layer's stage.
        BindSource::LayerRecords(i) => format!(
            "--mount=type=bind,from={},source={VENV}/lib,target={}",
            deps_stage(*i),
            bind.target
        ),
    }
}

fn cache_flag(c: &CacheMount) -> String {
    let sharing = match c.sharing {
        Sharing::Shared => "shared",
        Sharing::Private => "private",
        Sharing::Locked => "locked",
    };
    format!(
        "--mount=type=cache,id={},target={},sharing={sharing}",
        c.id, c.target
    )
}

/// The runtime stage: its own steps, the environment's layers, the image config.
fn runtime(out: &mut String, plan: &Plan) {
    stage_line(
        out,
        &plan.base_image,
        RUNTIME,
        &format!(
            "the image (target {}): the base, its packages and user, then the environment's layers",
            plan.target
        ),
    );
    if !plan.runtime.is_empty() {
        out.push_str("USER 0:0\n");
    }
    for step in &plan.runtime {
        debug_assert_eq!(step.stage, Stage::Runtime);
        step_text(out, step);
    }
    out.push_str("# the environment's layers, each rebased on its own (COPY --link)\n");
    for layer in plan.layers() {
        let copy = |from: &str, path: &str| format!("COPY --link --from={from} {path} {path}\n");
        match layer.kind {
            LayerKind::Skeleton => out.push_str(&copy(VENV_STAGE, VENV)),
            LayerKind::Dependencies(i) => out.push_str(&copy(&deps_stage(i), VENV)),
            LayerKind::Check => out.push_str(&copy(CHECK, check::REPORT)),
            LayerKind::LockFiles => {
                if let Some(Step {
                    action: Action::CopySource { dest, include, .. },
                    ..
                }) = &plan.env.lock_files
                {
                    let _ = writeln!(
                        out,
                        "COPY --link {} {}/",
                        include.join(" "),
                        dest.trim_end_matches('/')
                    );
                }
            }
            LayerKind::Project => {
                for root in crate::lower::project_roots(&plan.workdir) {
                    out.push_str(&copy(PROJECT, &root));
                }
            }
        }
    }
    config(out, plan);
}

fn config(out: &mut String, plan: &Plan) {
    let image = &plan.image;
    let _ = writeln!(out, "WORKDIR {}", image.workdir);
    if let Some(prefix) = &image.path_prefix {
        let _ = writeln!(out, "ENV PATH={}:$PATH", quote_env(prefix));
    }
    for (k, v) in &image.env {
        let _ = writeln!(out, "ENV {k}={}", quote_env(v));
    }
    for (k, v) in &image.labels {
        let _ = writeln!(out, "LABEL {}={}", quote_env(k), quote_env(v));
    }
    if !image.exposed_ports.is_empty() {
        let _ = writeln!(out, "EXPOSE {}", image.exposed_ports.join(" "));
    }
    match &plan.user {
        RuntimeUser::Root => out.push_str("USER root\n"),
        user => {
            let _ = writeln!(out, "USER {}", user.config_value());
        }
    }
    // Always set: pycache's config drops the base image's entrypoint when the recipe has none.
    let entrypoint = image.entrypoint.as_deref().unwrap_or_default();
    let _ = writeln!(out, "ENTRYPOINT {}", json(entrypoint));
    // ENTRYPOINT clears the base image's CMD, as pycache's config does without a cmd.
    if let Some(cmd) = &image.cmd {
        let _ = writeln!(out, "CMD {}", json(cmd));
    }
}

fn json(words: &[String]) -> String {
    serde_json::to_string(words).unwrap_or_default()
}

/// A value for `ENV`/`LABEL`: unquoted when plain, else double-quoted with `\`, `"` and `$`
/// escaped (so the Dockerfile frontend expands nothing in it).
fn quote_env(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@+,%=".contains(c))
    {
        return v.to_owned();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        if matches!(c, '\\' | '"' | '$') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

fn quote(v: &str) -> String {
    crate::plan::shell::quote(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eject(recipe: &str) -> Result<String, Diagnostics> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/uv-minimal");
        let files = crate::detect::ProjectFiles::from_dir(&dir).unwrap();
        let plan = crate::plan_build(&crate::Inputs {
            recipe_file: "pycache.toml",
            recipe_text: recipe,
            recipe_dockerignore: None,
            files: &files,
            target: "check",
            build_args: &Default::default(),
            platform: crate::platform::Platform::parse("linux/amd64").unwrap(),
            facts: Default::default(),
        })
        .unwrap();
        dockerfile(
            &plan,
            &Options {
                syntax: Some("docker/dockerfile:1".into()),
                recipe_file: "pycache.toml".into(),
            },
        )
    }

    #[test]
    fn a_target_named_like_a_stage_is_still_the_last_stage_runtime() {
        let text = eject("[targets.check]\ncmd = [\"true\"]\n").unwrap();
        assert!(text.starts_with("# syntax=docker/dockerfile:1\n"), "{text}");
        assert_eq!(text.matches(" AS check\n").count(), 0, "{text}");
        let last = text.rfind("\nFROM ").unwrap();
        assert!(text[last..].contains(" AS runtime\n"), "{text}");
        assert!(text.contains("(target check)"), "{text}");
        assert!(text.ends_with("CMD [\"true\"]\n"), "{text}");
    }

    #[test]
    fn what_a_dockerfile_cannot_hold_is_refused_by_name() {
        let newline =
            eject("[image]\nenv = { MOTD = \"a\\nFROM scratch\" }\n[targets.check]\n").unwrap_err();
        assert!(newline.to_string().contains("`MOTD`"), "{newline}");
        let space = eject("[source]\nexclude = [\"my notes\"]\n[targets.check]\n").unwrap_err();
        assert!(space.to_string().contains("`my notes`"), "{space}");
        let dollar = eject("[image]\nenv = { A = \"$HOME\" }\n[targets.check]\n").unwrap();
        assert!(dollar.contains("ENV A=\"\\$HOME\"\n"), "{dollar}");
    }

    #[test]
    fn values_are_quoted_for_the_dockerfile() {
        assert_eq!(quote_env("/app/.venv/bin"), "/app/.venv/bin");
        assert_eq!(quote_env("a b"), "\"a b\"");
        assert_eq!(quote_env("$HOME \"x\" \\"), "\"\\$HOME \\\"x\\\" \\\\\"");
        assert_eq!(quote_env(""), "\"\"");
    }

    #[test]
    fn heredoc_delimiters_never_end_the_text_early() {
        assert_eq!(delimiter("a\nb\n"), "PYCACHE");
        assert_eq!(delimiter("x\nPYCACHE\n"), "PYCACHE_");
        assert_eq!(delimiter("PYCACHE\nPYCACHE_\n"), "PYCACHE__");
    }
}
