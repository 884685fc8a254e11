//! A Poetry project: `poetry.lock` read, checked against `pyproject.toml` like `poetry check --lock`.

use super::*;

pub(super) fn detect_poetry(
    files: &ProjectFiles,
    recipe: &Recipe,
    pyproject: Option<PyProject>,
    diags: &mut Diagnostics,
) -> Option<ProjectKind> {
    let Some(lock_text) = files.get("poetry.lock") else {
        diags.push(manager_without(
            recipe,
            "poetry.lock",
            "run `poetry lock` and commit poetry.lock",
        ));
        return None;
    };
    let (Some(pyproject), Some(pyproject_text)) = (pyproject, files.get("pyproject.toml")) else {
        diags.push(
            Diagnostic::new(
                "pyproject.toml",
                "poetry.lock is present but pyproject.toml is missing",
            )
            .help("a Poetry project needs its pyproject.toml in the build context"),
        );
        return None;
    };
    let lock = match PoetryLock::parse(lock_text) {
        Ok(l) => l,
        Err(e) => {
            let mut d =
                Diagnostic::new("poetry.lock", format!("invalid poetry.lock: {}", e.message));
            if let Some(span) = e.span {
                d = d.at(lock_text, span);
            }
            diags.push(d.help("regenerate it with `poetry lock`"));
            return None;
        }
    };
    let (major, minor) = lock.version();
    if major > crate::lock::poetry::READ_MAJOR {
        diags.push(
            Diagnostic::new(
                "poetry.lock",
                format!("poetry.lock has lock-version {major}.{minor}, newer than pycache reads (1.x and 2.x)"),
            )
            .help("lock with a Poetry that writes lock-version 2.x (Poetry 1.3 to 2.x)"),
        );
        return None;
    }
    // The whole file as TOML values, as Poetry hashes them.
    let table: toml::Table = toml::from_str(pyproject_text).unwrap_or_default();
    if !lock.is_fresh(&table) {
        let mut d = Diagnostic::new(
            "poetry.lock",
            format!(
                "poetry.lock is out of date with pyproject.toml: pyproject.toml changed significantly since poetry.lock was last generated{}",
                stale_detail(&pyproject, &lock)
            ),
        );
        if let Some(at) = lock_text.find("content-hash") {
            let end = lock_text[at..]
                .find('\n')
                .map_or(lock_text.len(), |n| at + n);
            d = d.at(lock_text, at..end);
        }
        diags.push(d.help(
            "run `poetry lock` and commit the updated poetry.lock (`poetry check --lock` says the same)",
        ));
    }
    let poetry = pyproject.poetry();
    let package = poetry.and_then(|p| p.package_mode).unwrap_or(true);
    if package {
        let named = pyproject.name().is_some() || poetry.is_some_and(|p| p.name.is_some());
        if !named {
            diags.push(
                Diagnostic::new("pyproject.toml", "a Poetry package needs a name")
                    .help("set [project] name, or package-mode = false in [tool.poetry] if the project is not a package"),
            );
        }
        if pyproject.build_system.is_none() {
            diags.push(
                Diagnostic::new(
                    "pyproject.toml",
                    "pyproject.toml has no [build-system]: pycache builds the project with its build backend",
                )
                .help("add [build-system] requires = [\"poetry-core>=2.0\"] and build-backend = \"poetry.core.masonry.api\", or set package-mode = false in [tool.poetry]"),
            );
        }
    }
    let groups = crate::lock::poetry::groups(&pyproject);
    let group_names: Vec<String> = groups.keys().cloned().collect();
    let extras: Vec<String> = crate::lock::poetry::extras(&pyproject, &lock)
        .into_iter()
        .collect();
    check_selection(
        recipe,
        &Known {
            file: "pyproject.toml",
            groups: &group_names,
            group_section: "[tool.poetry.group]",
            extras: &extras,
            extra_section: "[project.optional-dependencies] or [tool.poetry.extras]",
        },
        diags,
    );
    Some(ProjectKind::Poetry(Box::new(PoetryProject {
        pyproject,
        lock,
        package,
        groups,
    })))
}

/// What a stale poetry.lock misses, when it is a dependency the lock has no package for.
fn stale_detail(pyproject: &PyProject, lock: &PoetryLock) -> String {
    let mut groups: BTreeSet<String> = crate::lock::poetry::groups(pyproject).into_keys().collect();
    groups.insert(crate::lock::poetry::MAIN.into());
    let extras = crate::lock::poetry::extras(pyproject, lock);
    let sel = crate::lock::poetry::Selection {
        groups,
        extras,
        root: None,
    };
    let locked: BTreeSet<String> = lock
        .packages
        .iter()
        .map(|p| normalize_name(&p.name))
        .collect();
    crate::lock::poetry::roots(pyproject, &sel)
        .into_iter()
        .find(|r| !locked.contains(&normalize_name(&r.name)))
        .map(|r| {
            format!(
                " (`{}` is required but not locked)",
                normalize_name(&r.name)
            )
        })
        .unwrap_or_default()
}
