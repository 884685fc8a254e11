//! Which lock, when the context has several: the recipe's `lock`, else its `manager`, else
//! what is there.

use super::*;

/// Which lock (so which reader), or pip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Choice {
    Uv,
    Poetry,
    /// The lock's file name.
    Pylock(String),
    Pip,
}

/// The `pylock.toml` and `pylock.<name>.toml` files at the root of the context, sorted.
fn pylock_files(files: &ProjectFiles) -> Vec<&str> {
    files
        .files
        .keys()
        .map(String::as_str)
        .filter(|k| Manager::of_lock_file(k) == Some(Manager::Pylock))
        .collect()
}

/// Decides which lock the project installs from: the recipe's `lock`, else its `manager`,
/// else the lock files found (see the module's documentation). `None` after reporting why
/// none can be chosen.
pub(super) fn choose(
    files: &ProjectFiles,
    recipe: &Recipe,
    root_requirements: &[&String],
    pyproject: Option<&PyProject>,
    diags: &mut Diagnostics,
) -> Option<Choice> {
    let py = &recipe.python;
    if let Some(lock) = &py.lock {
        if files.get(lock.get_ref()).is_none() {
            diags.push(
                Diagnostic::new(
                    &recipe.file,
                    format!("lock = \"{}\" is not in the build context", lock.get_ref()),
                )
                .at(&recipe.source, lock.span())
                .help("check the name (a file at the root of the context) and .dockerignore"),
            );
            return None;
        }
        return match Manager::of_lock_file(lock.get_ref()) {
            Some(Manager::Uv) => Some(Choice::Uv),
            Some(Manager::Poetry) => Some(Choice::Poetry),
            _ => Some(Choice::Pylock(lock.get_ref().clone())),
        };
    }
    let pylocks = pylock_files(files);
    let one_pylock = |diags: &mut Diagnostics, why: &str| -> Option<Choice> {
        if pylocks.contains(&"pylock.toml") {
            return Some(Choice::Pylock("pylock.toml".into()));
        }
        match pylocks.as_slice() {
            [one] => Some(Choice::Pylock((*one).to_owned())),
            [] => {
                let span = py.manager.span();
                let mut d = Diagnostic::new(&recipe.file, why.to_owned());
                if span != (0..0) {
                    d = d.at(&recipe.source, span);
                }
                diags.push(d.help("export one: `uv export --format pylock.toml -o pylock.toml`, `pip lock`, or `pdm export -f pylock`"));
                None
            }
            several => {
                diags.push(
                    Diagnostic::new(
                        &recipe.file,
                        format!(
                            "several lock files and no pylock.toml: {}",
                            several.join(", ")
                        ),
                    )
                    .help(format!(
                        "say which to install: [python] lock = \"{}\"",
                        several[0]
                    )),
                );
                None
            }
        }
    };
    match py.manager.get_ref() {
        Manager::Uv => return Some(Choice::Uv),
        Manager::Poetry => return Some(Choice::Poetry),
        Manager::Pip => return Some(Choice::Pip),
        Manager::Pylock => {
            return one_pylock(
                diags,
                "manager = \"pylock\" but the project has no pylock.toml",
            );
        }
        Manager::Auto => {}
    }
    if py.requirements.is_some() {
        return Some(Choice::Pip);
    }
    let uv = files.get("uv.lock").is_some();
    let poetry = files.get("poetry.lock").is_some();
    if uv && poetry {
        let mut found = vec!["uv.lock (uv)", "poetry.lock (Poetry)"];
        found.extend(pylocks.iter().copied());
        diags.push(
            Diagnostic::new(
                &recipe.file,
                format!(
                    "cannot tell how to install this project: it has several lock files: {}",
                    found.join(", ")
                ),
            )
            .help("say which one: [python] manager = \"uv\" or manager = \"poetry\" (or remove the lock that is no longer used)"),
        );
        return None;
    }
    if uv {
        return Some(Choice::Uv);
    }
    if poetry {
        return Some(Choice::Poetry);
    }
    if !pylocks.is_empty() {
        return one_pylock(diags, "");
    }
    if !root_requirements.is_empty() {
        return Some(Choice::Pip);
    }
    let poetry_project = pyproject.is_some_and(|p| p.poetry().is_some());
    let (what, help) = if poetry_project {
        (
            "found pyproject.toml with [tool.poetry] but no poetry.lock",
            "run `poetry lock` and commit poetry.lock",
        )
    } else if pyproject.is_some() {
        (
            "found pyproject.toml but no lock file (uv.lock, poetry.lock or pylock.toml)",
            "run `uv lock` (uv) or `poetry lock` (Poetry) and commit the lock, or add a requirements.txt (pip)",
        )
    } else {
        (
            "found neither a lock file (uv.lock, poetry.lock, pylock.toml) nor requirements*.txt",
            "run `uv lock` (uv) or `poetry lock` (Poetry), or add a requirements.txt (pip)",
        )
    };
    let span = py.manager.span();
    let mut d = Diagnostic::new(
        &recipe.file,
        format!("cannot tell how to install this project: {what}"),
    );
    if span != (0..0) {
        d = d.at(&recipe.source, span);
    }
    diags.push(d.help(help));
    None
}
