//! The project's source: copied after the dependencies, since it changes most often.

use super::repro::FILE_EPOCH;
use super::{Action, Stage, Step, StepId};
use crate::recipe::Recipe;

pub(super) fn copy_step(recipe: &Recipe, workdir: &str) -> Step {
    Step {
        id: StepId::Source,
        stage: Stage::Builder,
        title: format!("copy source to {workdir}"),
        keyed_on: vec!["the project's files, less .dockerignore and [source].exclude".into()],
        why: "source changes most often: after the dependencies so they stay cached".into(),
        action: Action::CopySource {
            dest: workdir.into(),
            include: recipe
                .source_files
                .include
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            // The context's own excludes are applied when it is transferred; these are the
            // files the environment must never receive from the source, whatever the context has.
            exclude: vec![".venv".into(), "**/__pycache__".into()],
            mtime: FILE_EPOCH,
        },
    }
}
