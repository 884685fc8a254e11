//! The lock a project installs from, read for one target: which file, which reader, and the
//! [`LockedEnv`] it gives for the target's groups and extras. Every lock format ends here;
//! [`super::uv::environment`] builds the environment from the result alone.

use std::collections::BTreeSet;

use super::EnvContext;
use super::select::Selection;
use crate::detect::pyproject::normalize_name;
use crate::detect::{PoetryProject, PylockProject, UvProject};
use crate::diag::{Diagnostic, Diagnostics};
use crate::lock::{self, LockedEnv, Problem};

/// A lock, read for the target.
pub(super) struct Locked {
    /// The lock file, relative to the context: copied as its own layer, left out of the source.
    pub file: String,
    /// What `explain` says of the lock and its reader; `None` for uv.lock, which the manager
    /// line already names.
    pub description: Option<String>,
    pub env: LockedEnv,
}

/// uv.lock's packages for the selection, as `uv sync` picks them.
pub(super) fn uv(uv: &UvProject, sel: &Selection, ctx: &EnvContext) -> Locked {
    let pyproject = &uv.pyproject;
    let mut groups: BTreeSet<String> = pyproject.default_groups().into_iter().collect();
    if sel.no_dev {
        groups.remove("dev");
    }
    groups.extend(sel.groups.iter().map(|g| g.get_ref().clone()));
    let selection = lock::uv::Selection {
        extras: sel.extras.iter().map(|e| e.get_ref().clone()).collect(),
        all_extras: ctx.recipe.python.all_extras,
        groups: groups.into_iter().collect(),
        all_packages: uv.virtual_root,
        root: pyproject.name().map(str::to_owned),
    };
    Locked {
        file: "uv.lock".into(),
        description: None,
        env: lock::uv::select(&uv.lock, &selection, &ctx.target),
    }
}

/// poetry.lock's packages for the selection, as `poetry install` picks them: the project's
/// dependencies and its non-optional groups but `dev` (unless `no-dev = false`), plus the
/// recipe's groups and extras; the project itself unless `package-mode = false`.
pub(super) fn poetry(
    poetry: &PoetryProject,
    sel: &Selection,
    ctx: &EnvContext,
) -> Result<Locked, Diagnostics> {
    let mut groups: BTreeSet<String> = poetry
        .groups
        .iter()
        .filter(|(_, optional)| !**optional)
        .map(|(g, _)| g.clone())
        .collect();
    if sel.no_dev {
        groups.remove("dev");
    }
    groups.insert(lock::poetry::MAIN.into());
    groups.extend(sel.groups.iter().map(|g| normalize_name(g.get_ref())));
    let extras = if ctx.recipe.python.all_extras {
        lock::poetry::extras(&poetry.pyproject, &poetry.lock)
    } else {
        sel.extras
            .iter()
            .map(|e| normalize_name(e.get_ref()))
            .collect()
    };
    let root = poetry.package.then(|| ctx.project.name.clone()).flatten();
    let selection = lock::poetry::Selection {
        groups,
        extras,
        root,
    };
    let (major, minor) = poetry.lock.version();
    let how = if poetry.lock.has_groups_and_markers() {
        "read by its groups and markers"
    } else {
        "walked from pyproject.toml's dependencies"
    };
    let env = lock::poetry::select(&poetry.lock, &poetry.pyproject, &selection, &ctx.target)
        .map_err(|p| problems("poetry.lock", p))?;
    Ok(Locked {
        file: "poetry.lock".into(),
        description: Some(format!(
            "poetry.lock (lock-version {major}.{minor}), {how}; installed with uv"
        )),
        env,
    })
}

/// A pylock.toml's packages whose markers hold for the selection and the target.
pub(super) fn pylock(
    pylock: &PylockProject,
    sel: &Selection,
    ctx: &EnvContext,
) -> Result<Locked, Diagnostics> {
    let extras = if ctx.recipe.python.all_extras {
        pylock.lock.extra_names().into_iter().collect()
    } else {
        sel.extras.iter().map(|e| e.get_ref().clone()).collect()
    };
    let selection = lock::pylock::Selection {
        extras,
        groups: sel.groups.iter().map(|g| g.get_ref().clone()).collect(),
    };
    let env = lock::pylock::select(&pylock.lock, &selection, &ctx.target)
        .map_err(|p| problems(&pylock.file, p))?;
    let by = pylock
        .lock
        .created_by
        .as_deref()
        .map(|c| format!(", created by {c}"))
        .unwrap_or_default();
    Ok(Locked {
        file: pylock.file.clone(),
        description: Some(format!(
            "{} (PEP 751, lock-version {}{by}), read by its markers; installed with uv",
            pylock.file, pylock.lock.lock_version
        )),
        env,
    })
}

/// What a lock asks that cannot be installed, one error each.
fn problems(file: &str, problems: Vec<Problem>) -> Diagnostics {
    problems
        .into_iter()
        .map(|p| {
            Diagnostic::new(file, format!("cannot install from {file}: {p}")).help(
                "pycache installs wheels and sdists from an index or URL, git commits, and directories inside the build context (docs/recipe.md#lock-files)",
            )
        })
        .collect()
}
