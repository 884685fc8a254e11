//! Local directories of distributions (uv's `find-links = ["./wheels"]`, a `format = "flat"`
//! index with a path): the lock names them relative to the project, but the build sees only
//! what it is given. The recipe's `find-links` maps each to a named build context
//! (`--build-context wheels=./wheels`); a dependency layer mounts only its own packages'
//! files of it, read-only, so a layer is keyed on its own wheels and on nothing else of the
//! directory.

use std::collections::BTreeSet;

use super::{Bind, BindSource, Environment, FIND_LINKS_DIR, shell};
use crate::diag::{Diagnostic, Diagnostics};
use crate::lock::{LockedPackage, PackageSource};
use crate::recipe::Recipe;

/// The named context serving the lock's directory `dir`, if the recipe maps one.
pub(super) fn context_for<'r>(recipe: &'r Recipe, dir: &str) -> Option<&'r str> {
    recipe
        .python
        .find_links
        .iter()
        .find(|l| l.lock_dir == dir)
        .map(|l| l.context.get_ref().as_str())
}

/// What a dependency layer needs of local directories: a bind per file of its packages', and
/// a `--find-links` per context.
#[derive(Debug, Default)]
pub(super) struct LayerLinks {
    pub binds: Vec<Bind>,
    /// `--find-links=<FIND_LINKS_DIR>/<context>`, sorted.
    pub args: Vec<String>,
}

pub(super) fn layer_links(recipe: &Recipe, packages: &[&LockedPackage]) -> LayerLinks {
    let mut contexts = BTreeSet::new();
    let mut binds = Vec::new();
    for p in packages {
        let PackageSource::Directory { path, files } = &p.source else {
            continue;
        };
        // Unmapped directories fail the plan in `check`.
        let Some(context) = context_for(recipe, path) else {
            continue;
        };
        contexts.insert(context);
        binds.extend(files.iter().map(|file| Bind {
            source: BindSource::NamedContext {
                context: context.to_owned(),
                path: file.clone(),
            },
            target: format!("{FIND_LINKS_DIR}/{context}/{file}"),
        }));
    }
    binds.sort_by(|a, b| a.target.cmp(&b.target));
    binds.dedup();
    LayerLinks {
        binds,
        args: contexts
            .into_iter()
            .map(|c| format!("--find-links={FIND_LINKS_DIR}/{c}"))
            .collect(),
    }
}

/// Every local directory the lock installs from is served by a context of the recipe's.
pub(super) fn check(recipe: &Recipe, env: &Environment) -> Result<(), Diagnostics> {
    let Some((lock_file, locked)) = &env.locked else {
        return Ok(());
    };
    let mut problems = Diagnostics::default();
    let mut seen = BTreeSet::new();
    for p in &locked.packages {
        let PackageSource::Directory { path, files } = &p.source else {
            continue;
        };
        if context_for(recipe, path).is_some() || !seen.insert(path.as_str()) {
            continue;
        }
        let name = suggested_name(path);
        let line = if name == *path {
            format!("find-links = [\"{name}\"]")
        } else {
            format!("find-links = {{ {name} = \"{path}\" }}")
        };
        let what = files.first().map_or(String::new(), |f| format!(" ({f})"));
        problems.push(
            Diagnostic::new(
                lock_file,
                format!(
                    "package `{} {}` comes from the local directory `{path}`{what}, which the build cannot see",
                    p.name, p.version
                ),
            )
            .help(format!(
                "give the directory to the build as a named context: add {line} to [python] in {} and pass {} to docker buildx build",
                recipe.file,
                build_context_flag(&name, path)
            )),
        );
    }
    problems.finish(())
}

/// A context for each of the lock's local directories `dirs`: `(name, directory)`, the name
/// made from the directory, unique and never a reserved one.
pub fn contexts_for(dirs: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut taken: BTreeSet<String> = crate::recipe::RESERVED_CONTEXTS
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    let mut out = Vec::new();
    for dir in dirs {
        let base = suggested_name(dir);
        let name = (1..)
            .map(|i| {
                if i == 1 {
                    base.clone()
                } else {
                    format!("{base}-{i}")
                }
            })
            .find(|n| !taken.contains(n))
            .unwrap_or(base);
        taken.insert(name.clone());
        out.push((name, dir.clone()));
    }
    out
}

/// The recipe's `find-links` value for `contexts` (from [`contexts_for`]): `["wheels"]`, or
/// `{ wheels = "../vendor/wheels" }` where a name is not its directory. `None` for none.
pub fn recipe_value(contexts: &[(String, String)]) -> Option<String> {
    if contexts.is_empty() {
        None
    } else if contexts.iter().all(|(name, dir)| name == dir) {
        let names: Vec<String> = contexts.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        Some(format!("[{}]", names.join(", ")))
    } else {
        let pairs: Vec<String> = contexts
            .iter()
            .map(|(n, d)| format!("{n} = \"{}\"", d.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        Some(format!("{{ {} }}", pairs.join(", ")))
    }
}

/// The `--build-context` flag serving the lock's directory `dir` from context `name`.
pub fn build_context_flag(name: &str, dir: &str) -> String {
    let path = if dir.starts_with("..") || dir.starts_with('/') {
        dir.to_owned()
    } else {
        format!("./{dir}")
    };
    format!("--build-context {name}={}", shell::quote(&path))
}

/// A context name for a lock directory: its last component, made a usable name.
fn suggested_name(dir: &str) -> String {
    let last = dir
        .rsplit('/')
        .find(|c| !c.is_empty() && *c != "." && *c != "..");
    let name: String = last
        .unwrap_or("wheels")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name
    } else {
        "wheels".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, StepId};

    #[test]
    fn a_layer_of_local_wheels_mounts_its_own_files_and_needs_no_index() {
        let plan = crate::testing::case_plan("uv-find-links", "");
        assert_eq!(plan.named_contexts(), ["wheels"]);
        let run = |id| match &plan.step(id).unwrap().action {
            Action::Run(run) => run.clone(),
            other => panic!("{other:?}"),
        };
        // Layers are ordered by bytes per package: find each by what it installs.
        let layer_of = |name: &str| {
            let i = plan
                .env
                .dependencies
                .iter()
                .position(|d| d.packages.iter().any(|(p, _)| p.starts_with(name)))
                .unwrap();
            run(StepId::Dependencies(i))
        };
        let local = layer_of("localgreet ");
        assert!(local.script.contains(
            "--no-deps --no-index --find-links=/pycache/find-links/wheels --refresh-package=localgreet --requirement="
        ));
        assert!(local.offline);
        let files: Vec<&Bind> = local
            .binds
            .iter()
            .filter(|b| matches!(b.source, BindSource::NamedContext { .. }))
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].target,
            "/pycache/find-links/wheels/localgreet-1.0.0-py3-none-any.whl"
        );
        // six comes from PyPI, hashed, with no local directory mounted (its wheel by the
        // lock's URL).
        let six = layer_of("six ");
        assert!(six.script.contains("--require-hashes"));
        assert!(!six.script.contains("/pycache/find-links"));
        assert!(six.script.contains("--find-links=/pycache/links.html"));
        assert!(
            six.binds
                .iter()
                .all(|b| !matches!(b.source, BindSource::NamedContext { .. }))
        );
        assert!(!six.offline);
    }

    #[test]
    fn recipe_values_name_every_directory_once() {
        let dirs = |d: &[&str]| d.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        let value = |d: &[&str]| recipe_value(&contexts_for(&dirs(d)));
        assert_eq!(value(&[]), None);
        assert_eq!(
            value(&["wheels", "dist"]).as_deref(),
            Some("[\"dist\", \"wheels\"]")
        );
        assert_eq!(
            build_context_flag("wheels", "wheels"),
            "--build-context wheels=./wheels"
        );
        assert_eq!(
            value(&["a/wheels", "b/wheels", "context"]).as_deref(),
            Some("{ wheels = \"a/wheels\", wheels-2 = \"b/wheels\", context-2 = \"context\" }")
        );
    }

    #[test]
    fn suggested_names_are_usable_context_names() {
        assert_eq!(suggested_name("wheels"), "wheels");
        assert_eq!(suggested_name("../vendor/wheels/"), "wheels");
        assert_eq!(suggested_name(".."), "wheels");
        assert_eq!(suggested_name("my wheels"), "my-wheels");
    }
}
