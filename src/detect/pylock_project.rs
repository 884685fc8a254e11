//! A PEP 751 `pylock.toml` project.

use super::*;

pub(super) fn detect_pylock(
    files: &ProjectFiles,
    recipe: &Recipe,
    file: &str,
    diags: &mut Diagnostics,
) -> Option<ProjectKind> {
    let text = files.get(file)?;
    let lock = match Pylock::parse(text) {
        Ok(l) => l,
        Err(e) => {
            let mut d = Diagnostic::new(file, format!("invalid {file}: {}", e.message));
            if let Some(span) = e.span {
                d = d.at(text, span);
            }
            diags.push(d.help("regenerate it: `uv export --format pylock.toml`, `pip lock` or `pdm export -f pylock`"));
            return None;
        }
    };
    if lock.major() != Some(crate::lock::pylock::READ_MAJOR) {
        diags.push(
            Diagnostic::new(
                file,
                format!(
                    "{file} has lock-version {}; pycache reads PEP 751 lock-version 1.x",
                    lock.lock_version
                ),
            )
            .help("regenerate it with a tool that writes lock-version 1.0"),
        );
        return None;
    }
    let mut groups = lock.group_names();
    groups.extend(lock.default_groups.iter().cloned());
    let extras = lock.extra_names();
    check_selection(
        recipe,
        &Known {
            file,
            groups: &groups,
            group_section: "`dependency-groups`",
            extras: &extras,
            extra_section: "`extras`",
        },
        diags,
    );
    Some(ProjectKind::Pylock(Box::new(PylockProject {
        file: file.to_owned(),
        lock,
    })))
}
