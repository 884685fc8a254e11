//! A uv project: `uv.lock`, its workspace, whether it is up to date.

use super::*;

pub(super) fn detect_uv(
    files: &ProjectFiles,
    recipe: &Recipe,
    pyproject: Option<PyProject>,
    diags: &mut Diagnostics,
) -> Option<ProjectKind> {
    let Some(lock_text) = files.get("uv.lock") else {
        diags.push(manager_without(
            recipe,
            "uv.lock",
            "run `uv lock` and commit uv.lock",
        ));
        return None;
    };
    let Some(pyproject) = pyproject else {
        diags.push(
            Diagnostic::new(
                "pyproject.toml",
                "uv.lock is present but pyproject.toml is missing",
            )
            .help("a uv project needs its pyproject.toml in the build context"),
        );
        return None;
    };
    let lock = match UvLock::parse(lock_text) {
        Ok(l) => l,
        Err(e) => {
            let mut d = Diagnostic::new("uv.lock", format!("invalid uv.lock: {}", e.message));
            if let Some(span) = e.span {
                d = d.at(lock_text, span);
            }
            diags.push(d.help("regenerate it with `uv lock`"));
            return None;
        }
    };
    let problems = lock.validate("uv.lock", lock_text);
    if !problems.is_empty() {
        problems.into_iter().for_each(|d| diags.push(d));
        return None;
    }

    // Workspace members: directories matching `members` globs that hold a pyproject.toml.
    let mut manifest_files = vec!["pyproject.toml".to_owned(), "uv.lock".to_owned()];
    let mut members = Vec::new();
    if let Some(ws) = pyproject.workspace() {
        let glob = |patterns: &[String]| {
            let mut b = globset::GlobSetBuilder::new();
            for p in patterns {
                if let Ok(g) = globset::GlobBuilder::new(p.trim_end_matches('/'))
                    .literal_separator(true)
                    .build()
                {
                    b.add(g);
                }
            }
            b.build().unwrap_or_else(|_| globset::GlobSet::empty())
        };
        let (include, exclude) = (glob(&ws.members), glob(&ws.exclude));
        for path in files.files.keys() {
            if let Some(dir) = path.strip_suffix("/pyproject.toml")
                && include.is_match(dir)
                && !exclude.is_match(dir)
            {
                manifest_files.push(path.clone());
                match PyProject::parse(&files.files[path]) {
                    Ok(member) => members.push((path.clone(), member)),
                    Err(e) => {
                        let msg = format!("invalid workspace member {path}: {}", e.message());
                        let d = Diagnostic::new(path, msg);
                        let d = match e.span() {
                            Some(span) => d.at(&files.files[path], span),
                            None => d,
                        };
                        diags.push(d.help("fix the member's pyproject.toml, or leave it out with [tool.uv.workspace] exclude"));
                    }
                }
            }
        }
    }
    manifest_files.sort();

    let local_packages: Vec<String> = lock.local_packages().map(|(p, _)| p.name.clone()).collect();
    let root_text = files.get("pyproject.toml").unwrap_or("");
    freshness::check_lock_fresh(&pyproject, "pyproject.toml", root_text, &lock, diags);
    for (path, member) in &members {
        let text = files.get(path).unwrap_or("");
        freshness::check_lock_fresh(member, path, text, &lock, diags);
    }
    check_selection(
        recipe,
        &Known {
            file: "pyproject.toml",
            groups: &pyproject.group_names(),
            group_section: "[dependency-groups]",
            extras: &pyproject.extra_names(),
            extra_section: "[project.optional-dependencies]",
        },
        diags,
    );

    Some(ProjectKind::Uv(Box::new(UvProject {
        virtual_root: pyproject.project.is_none(),
        pyproject,
        lock,
        manifest_files,
        local_packages,
    })))
}
