//! The project's source: copied after the dependencies, since it changes most often.

use super::repro::FILE_EPOCH;
use super::{Action, Stage, Step, StepId};
use crate::recipe::Recipe;

/// Copies the source, less `lock_files` (see [`lock_step`]).
pub(super) fn copy_step(recipe: &Recipe, workdir: &str, lock_files: &[&str]) -> Step {
    Step::new(
        StepId::Source,
        Stage::Builder,
        format!("copy source to {workdir}"),
        vec!["the project's files, less .dockerignore and [source].exclude".into()],
        "source changes most often: after the dependencies so they stay cached",
        Action::CopySource {
            dest: workdir.into(),
            include: crate::recipe::values(&recipe.source_files.include),
            // The context's own excludes are applied when it is transferred; these are the
            // files the environment must never receive from the source, whatever the context has.
            exclude: [".venv", "**/__pycache__"]
                .iter()
                .chain(lock_files)
                .map(|s| (*s).to_owned())
                .collect(),
            mtime: FILE_EPOCH,
        },
    )
}

/// Copies the lock files alone, as their own layer below the source: a dependency bump that
/// changes only the lock then changes that tiny layer and its dependency layer, and neither
/// rebuilds the project (whose build never reads the lock). `None` when the recipe copies only
/// some of the source (`[source] include`), which then decides.
pub(super) fn lock_step(recipe: &Recipe, workdir: &str, lock_files: &[&str]) -> Option<Step> {
    if !recipe.source_files.include.is_empty() || lock_files.is_empty() {
        return None;
    }
    Some(Step::new(
        StepId::LockFiles,
        Stage::Builder,
        format!("copy {} to {workdir}", lock_files.join(", ")),
        lock_files.iter().map(|f| (*f).to_owned()).collect(),
        "the lock changes with every dependency change, the project's build never reads it: a layer of its own",
        Action::CopySource {
            dest: workdir.into(),
            include: lock_files.iter().map(|f| (*f).to_owned()).collect(),
            exclude: Vec::new(),
            mtime: FILE_EPOCH,
        },
    ))
}
