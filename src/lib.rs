//! pycache: a BuildKit frontend that turns a short TOML recipe for a Python project into
//! cache-optimal, deterministic LLB.
//!
//! Data flows one way: recipe → plan → LLB → gateway. Everything but `gateway` is pure and
//! synchronous; `gateway` is the only module doing I/O against the BuildKit daemon.

#![forbid(unsafe_code)]

pub mod ci;
pub mod cli;
pub mod detect;
pub mod diag;
pub mod dockerfile;
pub mod gateway;
pub mod image;
pub mod image_ref;
pub mod init;
pub mod llb;
pub mod lock;
pub mod lower;
pub mod plan;
pub mod platform;
pub mod proto;
pub mod recipe;
pub mod sbom;
#[cfg(test)]
mod testing;

use std::collections::BTreeMap;

use detect::ProjectFiles;
use diag::Diagnostics;
use plan::Plan;
use platform::Platform;

/// The recipe file name when none is given: what `-f` defaults to.
pub const DEFAULT_RECIPE: &str = "pycache.toml";

/// The frontend image `init` names in `# syntax=` unless told otherwise: the one
/// `scripts/frontend-image.sh` builds (`PYCACHE_FRONTEND_IMAGE` or `--syntax` for a published one).
pub const DEFAULT_FRONTEND_IMAGE: &str = "local/pycache-frontend:dev";

/// Everything the pure pipeline needs, whoever read it (CLI from disk, frontend from BuildKit).
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub recipe_file: &'a str,
    pub recipe_text: &'a str,
    /// `<recipe>.dockerignore` beside the recipe, which wins over the context's `.dockerignore`.
    pub recipe_dockerignore: Option<&'a str>,
    pub files: &'a ProjectFiles,
    pub target: &'a str,
    pub build_args: &'a BTreeMap<String, String>,
    pub platform: Platform,
    /// What is known of the engine and the base image (nothing, in the CLI).
    pub facts: plan::Facts,
}

/// The recipe and the project, read and checked once for any number of plans.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub recipe: recipe::Recipe,
    pub project: detect::Project,
}

impl Prepared {
    /// The plan of `target` for `platform`, given what is known of the build.
    pub fn plan(
        &self,
        target: &str,
        platform: &Platform,
        facts: &plan::Facts,
    ) -> Result<Plan, Diagnostics> {
        let plan = plan::plan(&self.recipe, &self.project, target, platform, facts)?;
        check_exec_limits(&plan, &self.recipe.file)?;
        Ok(plan)
    }
}

/// Linux's limit on one argument or environment string of an exec (`MAX_ARG_STRLEN`, 32
/// pages): a step's whole script is one argument of `sh -c`.
pub const MAX_ARG_BYTES: usize = 128 << 10;

/// Every step's script and environment strings fit one exec argument: past the limit the
/// build would fail inside BuildKit with a bare "argument list too long".
fn check_exec_limits(plan: &Plan, recipe_file: &str) -> Result<(), Diagnostics> {
    let mut problems = Diagnostics::default();
    for step in plan.steps() {
        let plan::Action::Run(run) = &step.action else {
            continue;
        };
        let longest = std::iter::once(run.script.len())
            .chain(run.env.iter().map(|(k, v)| k.len() + v.len() + 1))
            .max()
            .unwrap_or(0);
        if longest >= MAX_ARG_BYTES {
            problems.push(
                diag::Diagnostic::new(
                    recipe_file,
                    format!(
                        "step `{}` needs a command of {} KiB, over Linux's limit of {} KiB for one argument",
                        step.title,
                        longest >> 10,
                        MAX_ARG_BYTES >> 10
                    ),
                )
                .help("it installs too many local packages or indexes at once (thousands of workspace members or path dependencies): split the project, or install some of them as packages from an index"),
            );
        }
    }
    problems.finish(())
}

/// Recipe → project, with every problem of both reported.
pub fn prepare(inputs: &Inputs) -> Result<Prepared, Diagnostics> {
    let recipe = recipe::parse(inputs.recipe_file, inputs.recipe_text, inputs.build_args)?;
    let project = detect_readable(inputs, &recipe)?;
    Ok(Prepared { recipe, project })
}

/// Detection, unless a file it relies on could not be read: that is then the problem to
/// report, not what detection would make of the project without it.
fn detect_readable(
    inputs: &Inputs,
    recipe: &recipe::Recipe,
) -> Result<detect::Project, Diagnostics> {
    let refused: Diagnostics = inputs.files.refusals().into_iter().collect();
    refused.finish(())?;
    detect::detect(inputs.files, recipe, inputs.recipe_dockerignore)
}

/// Recipe → project → plan, with every problem of every stage that could run reported.
pub fn plan_build(inputs: &Inputs) -> Result<Plan, Diagnostics> {
    prepare(inputs)?.plan(inputs.target, &inputs.platform, &inputs.facts)
}

/// Plan → Definition for the plan's platform.
pub fn definition(plan: &Plan, opts: &lower::LowerOptions) -> llb::pb::Definition {
    lower::definition(plan, opts)
}

/// What `check` found in a valid recipe and project.
#[derive(Clone, Debug)]
pub struct CheckSummary {
    pub manager: recipe::Manager,
    pub dependencies: usize,
    /// The default target and every `[targets.X]`.
    pub targets: Vec<String>,
}

/// Recipe, project and every target (the default and each `[targets.X]`), all problems at
/// once. `inputs.target` is ignored.
pub fn check_all(inputs: &Inputs) -> Result<CheckSummary, Diagnostics> {
    let prepared = prepare(inputs)?;
    let targets: Vec<String> = std::iter::once(recipe::RUNTIME_TARGET.to_owned())
        .chain(prepared.recipe.targets.keys().cloned())
        .collect();
    let mut all = Diagnostics::default();
    for target in &targets {
        if let Err(d) = prepared.plan(target, &inputs.platform, &inputs.facts) {
            all.extend(d);
        }
    }
    all.finish(CheckSummary {
        manager: prepared.project.manager(),
        dependencies: prepared.project.dependency_count(),
        targets,
    })
}
