//! Reading the project: which package manager, which lock or requirements files, which groups
//! and extras exist, whether the lock is up to date, what `.dockerignore` excludes.

mod files;
pub mod freshness;
pub mod pep508;
pub mod pyproject;
pub mod python;
pub mod requirements;
pub mod uvlock;

use std::collections::BTreeSet;

pub use files::{
    DETECTION_PATTERNS, DirEntry, EntryKind, MAX_DEPTH, MAX_FILE_SIZE, MAX_RECIPE_SIZE,
    ProjectFiles, Refusal, SKIP_DIRS, Walk, read_text, utf8,
};
use pyproject::{ProjectTable, PyProject, normalize_name};
use requirements::RequirementsFile;
use uvlock::UvLock;

use crate::diag::{Diagnostic, Diagnostics};
use crate::recipe::{Manager, Recipe};

#[derive(Clone, Debug)]
pub struct Project {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `3.12`-style Python line for the default base image.
    pub python: String,
    /// Console scripts from `[project.scripts]`, by name.
    pub scripts: Vec<String>,
    /// Patterns from `.dockerignore`, in file order.
    pub dockerignore: Vec<String>,
    pub kind: ProjectKind,
}

#[derive(Clone, Debug)]
pub enum ProjectKind {
    Uv(Box<UvProject>),
    Pip(PipProject),
}

#[derive(Clone, Debug)]
pub struct UvProject {
    pub pyproject: PyProject,
    pub lock: UvLock,
    /// `uv.lock` and every workspace `pyproject.toml`: all the dependency layer may read.
    pub manifest_files: Vec<String>,
    /// Names of local packages (the project, workspace members, path dependencies): installed
    /// with the source, never in the dependency layer.
    pub local_packages: Vec<String>,
    /// The root `pyproject.toml` has no `[project]`: a virtual workspace root.
    pub virtual_root: bool,
}

#[derive(Clone, Debug)]
pub struct PipProject {
    /// The files passed to `pip install -r`.
    pub entry_files: Vec<String>,
    /// Those files and all they include, in the order found.
    pub files: Vec<RequirementsFile>,
    /// Every requirement carries `--hash`: install with `--require-hashes`.
    pub require_hashes: bool,
    /// There is a `pyproject.toml` with a build system, or `setup.py`: install the project too.
    pub installable: bool,
}

impl Project {
    pub fn manager(&self) -> Manager {
        match self.kind {
            ProjectKind::Uv(_) => Manager::Uv,
            ProjectKind::Pip(_) => Manager::Pip,
        }
    }

    /// Third-party packages the dependency layer installs.
    pub fn dependency_count(&self) -> usize {
        match &self.kind {
            ProjectKind::Uv(uv) => uv.lock.third_party().count(),
            ProjectKind::Pip(pip) => pip.files.iter().map(|f| f.requirements.len()).sum(),
        }
    }
}

/// `.dockerignore` patterns: comments and blank lines dropped, leading `/` and `./` removed.
pub fn parse_dockerignore(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (neg, rest) = l.strip_prefix('!').map_or(("", l), |r| ("!", r));
            let rest = rest.trim_start_matches("./").trim_start_matches('/');
            format!("{neg}{rest}")
        })
        .collect()
}

/// Reads the project. `dockerignore` is the text of `<recipe>.dockerignore` when that exists
/// beside the recipe; otherwise the context's `.dockerignore` is used.
pub fn detect(
    files: &ProjectFiles,
    recipe: &Recipe,
    dockerignore: Option<&str>,
) -> Result<Project, Diagnostics> {
    let mut diags = Diagnostics::default();
    let pyproject = match files
        .get("pyproject.toml")
        .map(|t| (PyProject::parse(t), t))
    {
        None => None,
        Some((Ok(p), _)) => Some(p),
        Some((Err(e), text)) => {
            let mut d = Diagnostic::new(
                "pyproject.toml",
                format!("invalid pyproject.toml: {}", e.message()),
            );
            if let Some(span) = e.span() {
                d = d.at(text, span);
            }
            diags.push(d);
            None
        }
    };
    let project_table = pyproject.as_ref().and_then(|p| p.project.clone());
    let python = choose_python(files, recipe, project_table.as_ref(), &mut diags);
    let dockerignore =
        parse_dockerignore(dockerignore.or(files.get(".dockerignore")).unwrap_or(""));

    let manager = *recipe.python.manager.get_ref();
    let has_lock = files.get("uv.lock").is_some();
    let root_requirements: Vec<&String> = files
        .files
        .keys()
        .filter(|k| !k.contains('/') && k.starts_with("requirements") && k.ends_with(".txt"))
        .collect();
    let use_uv = match manager {
        Manager::Uv => true,
        Manager::Pip => false,
        Manager::Auto => has_lock && recipe.python.requirements.is_none(),
    };
    let use_pip = !use_uv
        && (manager == Manager::Pip
            || recipe.python.requirements.is_some()
            || !root_requirements.is_empty());

    let kind = if use_uv {
        detect_uv(files, recipe, pyproject.clone(), &mut diags)
    } else if use_pip {
        detect_pip(
            files,
            recipe,
            &root_requirements,
            pyproject.as_ref(),
            &mut diags,
        )
    } else {
        let what = if pyproject.is_some() {
            "found pyproject.toml but no uv.lock"
        } else {
            "found neither uv.lock nor requirements*.txt"
        };
        let span = recipe.python.manager.span();
        let mut d = Diagnostic::new(
            &recipe.file,
            format!("cannot tell how to install this project: {what}"),
        );
        if span != (0..0) {
            d = d.at(&recipe.source, span);
        }
        diags.push(d.help("run `uv lock` to create uv.lock (uv), or add a requirements.txt (pip)"));
        None
    };
    let scripts = project_table
        .as_ref()
        .map(|p| p.scripts.keys().cloned().collect())
        .unwrap_or_default();
    let project = kind.map(|kind| Project {
        name: project_table.as_ref().and_then(|p| p.name.clone()),
        version: project_table.as_ref().and_then(|p| p.version.clone()),
        python,
        scripts,
        dockerignore,
        kind,
    });
    match project {
        Some(p) => diags.finish(p),
        None => Err(diags),
    }
}

/// The `3.X` line of the default base image. A malformed `requires-python` is an error
/// wherever it is (uv and pip refuse the project too); one that allows no line with a default
/// image is an error only when the default image is used.
fn choose_python(
    files: &ProjectFiles,
    recipe: &Recipe,
    project: Option<&ProjectTable>,
    diags: &mut Diagnostics,
) -> String {
    let from_file = files
        .get(".python-version")
        .and_then(python::python_version_line);
    let Some(spec) = project.and_then(|p| p.requires_python.as_ref()) else {
        return from_file.unwrap_or_else(|| python::FALLBACK.to_owned());
    };
    let text = files.get("pyproject.toml").unwrap_or("");
    let error = match python::line_for(spec.get_ref()) {
        Ok(line) => return from_file.unwrap_or(line),
        Err(python::RequiresPythonError::NoKnownLine { .. })
            if from_file.is_some() || recipe.image.base.is_some() =>
        {
            return from_file.unwrap_or_else(|| python::FALLBACK.to_owned());
        }
        Err(e) => e,
    };
    // Narrow to the bad clause when the value is a plain string, written as it reads.
    let span = spec.span();
    let span = match &error {
        python::RequiresPythonError::Invalid { clause, .. }
            if text.get(span.start + 1..span.end - 1) == Some(spec.get_ref().as_str()) =>
        {
            span.start + 1 + clause.start..span.start + 1 + clause.end
        }
        _ => span,
    };
    let help = match error {
        python::RequiresPythonError::Invalid { .. } => {
            "write a PEP 440 specifier set, e.g. \">=3.11\" or \">=3.10,<3.14\""
        }
        python::RequiresPythonError::NoKnownLine { .. } => {
            "name a base image with a Python it allows in [image] base, or the line in .python-version"
        }
    };
    diags.push(
        Diagnostic::new("pyproject.toml", error.to_string())
            .at(text, span)
            .help(help),
    );
    from_file.unwrap_or_else(|| python::FALLBACK.to_owned())
}

fn detect_uv(
    files: &ProjectFiles,
    recipe: &Recipe,
    pyproject: Option<PyProject>,
    diags: &mut Diagnostics,
) -> Option<ProjectKind> {
    let Some(lock_text) = files.get("uv.lock") else {
        diags.push(
            Diagnostic::new(
                &recipe.file,
                "manager = \"uv\" but the project has no uv.lock",
            )
            .at(&recipe.source, recipe.python.manager.span())
            .help("run `uv lock` and commit uv.lock"),
        );
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
    check_selection(recipe, &pyproject, diags);

    Some(ProjectKind::Uv(Box::new(UvProject {
        virtual_root: pyproject.project.is_none(),
        pyproject,
        lock,
        manifest_files,
        local_packages,
    })))
}

/// Groups and extras named in the recipe (top level and targets) must exist in the project.
fn check_selection(recipe: &Recipe, pyproject: &PyProject, diags: &mut Diagnostics) {
    let groups = pyproject.group_names();
    let extras = pyproject.extra_names();
    let top = [
        (&recipe.python.groups, "group"),
        (&recipe.python.extras, "extra"),
    ];
    let targets = recipe.targets.values().flat_map(|t| {
        let t = t.get_ref();
        [(t.groups.as_ref(), "group"), (t.extras.as_ref(), "extra")]
    });
    let all = top
        .into_iter()
        .map(|(l, k)| (Some(l), k))
        .chain(targets)
        .filter_map(|(l, k)| Some((l?, k)));
    for (list, kind) in all {
        let known = if kind == "group" { &groups } else { &extras };
        for item in list {
            if known
                .iter()
                .any(|k| normalize_name(k) == normalize_name(item.get_ref()))
            {
                continue;
            }
            let section = if kind == "group" {
                "[dependency-groups]"
            } else {
                "[project.optional-dependencies]"
            };
            let refs: Vec<&str> = known.iter().map(String::as_str).collect();
            let help = match crate::diag::did_you_mean(item.get_ref(), &refs) {
                Some(k) => format!("did you mean `{k}`?"),
                None if known.is_empty() => format!("pyproject.toml has no {section}"),
                None => format!("pyproject.toml defines: {}", known.join(", ")),
            };
            diags.push(
                Diagnostic::new(
                    &recipe.file,
                    format!(
                        "unknown {kind} `{}`: not in pyproject.toml {section}",
                        item.get_ref()
                    ),
                )
                .at(&recipe.source, item.span())
                .help(help),
            );
        }
    }
}

fn detect_pip(
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
            diags.push(
                Diagnostic::new(
                    &recipe.file,
                    "manager = \"pip\" but the project has no requirements*.txt",
                )
                .at(&recipe.source, recipe.python.manager.span())
                .help("add requirements.txt, or list files in [python] requirements"),
            );
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
