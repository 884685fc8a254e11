//! pycache: a BuildKit frontend that turns a short TOML recipe for a Python project into
//! cache-optimal, deterministic LLB.
//!
//! Data flows one way: recipe → plan → LLB → gateway. Everything but `gateway` is pure and
//! synchronous; `gateway` is the only module doing I/O against the BuildKit daemon.

pub mod cli;
pub mod detect;
pub mod diag;
pub mod gateway;
pub mod image;
pub mod llb;
pub mod lower;
pub mod plan;
pub mod platform;
pub mod recipe;

use std::collections::BTreeMap;

use detect::ProjectFiles;
use diag::Diagnostics;
use plan::Plan;
use platform::Platform;

/// The recipe file name when none is given: what `-f` defaults to.
pub const DEFAULT_RECIPE: &str = "pycache.toml";

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
}

/// Recipe → project → plan, with every problem of every stage that could run reported.
pub fn plan_build(inputs: &Inputs) -> Result<Plan, Diagnostics> {
    let recipe = recipe::parse(inputs.recipe_file, inputs.recipe_text, inputs.build_args)?;
    let project = detect::detect(inputs.files, &recipe, inputs.recipe_dockerignore)?;
    plan::plan(&recipe, &project, inputs.target, &inputs.platform)
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
    let recipe = recipe::parse(inputs.recipe_file, inputs.recipe_text, inputs.build_args)?;
    let project = detect::detect(inputs.files, &recipe, inputs.recipe_dockerignore)?;
    let targets: Vec<String> = std::iter::once(recipe::RUNTIME_TARGET.to_owned())
        .chain(recipe.targets.keys().cloned())
        .collect();
    let mut all = Diagnostics::default();
    for target in &targets {
        if let Err(d) = plan::plan(&recipe, &project, target, &inputs.platform) {
            all.0.extend(d.0);
        }
    }
    all.finish(CheckSummary {
        manager: project.manager(),
        dependencies: project.dependency_count(),
        targets,
    })
}
