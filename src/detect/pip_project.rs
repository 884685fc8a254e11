//! A pip project: `requirements*.txt`.

use super::*;

pub(super) fn detect_pip(
    files: &ProjectFiles,
    recipe: &Recipe,
    root_requirements: &[&String],
    pyproject: Option<&PyProject>,
    diags: &mut Diagnostics,
) -> Option<ProjectKind> {
    let entry_files: Vec<String> = match &recipe.python.requirements {
        Some(list) => {
            for f in list.get_ref() {
                if files.get(f.get_ref()).is_none() {
                    diags.push(
                        Diagnostic::new(
                            &recipe.file,
                            format!(
                                "requirements file `{}` is not in the build context",
                                f.get_ref()
                            ),
                        )
                        .at(&recipe.source, f.span())
                        .help("check the path (relative to the context) and .dockerignore"),
                    );
                }
            }
            list.get_ref().iter().map(|f| f.get_ref().clone()).collect()
        }
        None if root_requirements.iter().any(|f| *f == "requirements.txt") => {
            vec!["requirements.txt".into()]
        }
        None if root_requirements.len() == 1 => vec![root_requirements[0].clone()],
        None if root_requirements.is_empty() => {
            diags.push(manager_without(
                recipe,
                "requirements*.txt",
                "add requirements.txt, or list files in [python] requirements",
            ));
            return None;
        }
        None => {
            let names: Vec<&str> = root_requirements.iter().map(|s| s.as_str()).collect();
            diags.push(
                Diagnostic::new(
                    &recipe.file,
                    format!(
                        "several requirements files and no requirements.txt: {}",
                        names.join(", ")
                    ),
                )
                .help(format!(
                    "say which to install: [python] requirements = [\"{}\"]",
                    names[0]
                )),
            );
            return None;
        }
    };
    // Follow -r/-c includes, each file once.
    let mut queue: Vec<String> = entry_files.clone();
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::new();
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(text) = files.get(&path) else {
            if !entry_files.contains(&path) {
                diags.push(
                    Diagnostic::new(
                        &path,
                        "included requirements file is not in the build context",
                    )
                    .help("check the -r/-c path and .dockerignore"),
                );
            }
            continue;
        };
        match requirements::parse(&path, text) {
            Ok(f) => {
                queue.extend(f.includes.iter().rev().cloned());
                parsed.push(f);
            }
            Err(d) => diags.push(d),
        }
    }
    parsed.sort_by(|a, b| a.path.cmp(&b.path));
    let reqs: Vec<_> = parsed
        .iter()
        .flat_map(|f| &f.requirements)
        .filter(|r| !r.local)
        .collect();
    let hashed = reqs.iter().filter(|r| !r.hashes.is_empty()).count();
    if hashed > 0 && hashed < reqs.len() {
        let r = reqs
            .iter()
            .find(|r| r.hashes.is_empty())
            .expect("some unhashed");
        let file = parsed
            .iter()
            .find(|f| f.requirements.iter().any(|x| std::ptr::eq(x, *r)))
            .expect("owner");
        let text = files.get(&file.path).unwrap_or("");
        diags.push(
            Diagnostic::new(&file.path, format!("`{}` has no --hash, but other requirements do", r.name))
                .at(text, r.span.clone())
                .help("pip's hash-checking mode needs a hash for every requirement: regenerate with `pip-compile --generate-hashes` or `uv pip compile --generate-hashes`"),
        );
    }
    let installable =
        pyproject.is_some_and(|p| p.build_system.is_some()) || files.get("setup.py").is_some();
    Some(ProjectKind::Pip(PipProject {
        entry_files,
        require_hashes: hashed > 0 && hashed == reqs.len(),
        files: parsed,
        installable,
    }))
}
