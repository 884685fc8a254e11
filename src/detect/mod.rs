//! Reading the project: which package manager, which lock or requirements files, which groups
//! and extras exist, whether the lock is up to date, what `.dockerignore` excludes.
//!
//! Which lock, when the context has several ([`choose`]): the recipe's `lock`, else its
//! `manager`, else what is there. `uv.lock` and `poetry.lock` are the lock files of their
//! tools; a `pylock.toml` beside one of them is taken for an export of it and left alone; both
//! `uv.lock` and `poetry.lock` is conflicting evidence, an error listing them. A lock of any
//! kind wins over `requirements*.txt` (often exported from it), unless the recipe lists
//! `requirements`.

mod files;
pub mod freshness;
pub mod pep508;
pub mod pyproject;
pub mod python;
pub mod requirements;
pub mod uvlock;

use std::collections::{BTreeMap, BTreeSet};

pub use files::{
    DETECTION_PATTERNS, DirEntry, EntryKind, MAX_DEPTH, MAX_FILE_SIZE, MAX_RECIPE_SIZE,
    ProjectFiles, Refusal, SKIP_DIRS, Walk, read_text, utf8,
};
use pyproject::{ProjectTable, PyProject, normalize_name};
use requirements::RequirementsFile;
use uvlock::UvLock;

use crate::diag::{Diagnostic, Diagnostics};
use crate::lock::poetry::PoetryLock;
use crate::lock::pylock::Pylock;
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

/// The project's kind: which lock reader (uv, Poetry, pylock) or pip.
#[derive(Clone, Debug)]
pub enum ProjectKind {
    Uv(Box<UvProject>),
    Poetry(Box<PoetryProject>),
    Pylock(Box<PylockProject>),
    Pip(PipProject),
}

#[derive(Clone, Debug)]
pub struct PoetryProject {
    pub pyproject: PyProject,
    pub lock: PoetryLock,
    /// Not `package-mode = false`: the project is built from the source and installed.
    pub package: bool,
    /// Its dependency groups by normalised name, with whether each is `optional`.
    pub groups: BTreeMap<String, bool>,
}

#[derive(Clone, Debug)]
pub struct PylockProject {
    /// The lock's file name: `pylock.toml` or `pylock.<name>.toml`.
    pub file: String,
    pub lock: Pylock,
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
            ProjectKind::Poetry(_) => Manager::Poetry,
            ProjectKind::Pylock(_) => Manager::Pylock,
            ProjectKind::Pip(_) => Manager::Pip,
        }
    }

    /// Third-party packages the dependency layer installs.
    pub fn dependency_count(&self) -> usize {
        match &self.kind {
            ProjectKind::Uv(uv) => uv.lock.third_party().count(),
            ProjectKind::Poetry(poetry) => poetry.lock.third_party().count(),
            ProjectKind::Pylock(pylock) => pylock.lock.third_party().count(),
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
    let poetry_python = pyproject
        .as_ref()
        .and_then(PyProject::poetry)
        .and_then(|p| p.dependencies.get("python"))
        .and_then(toml::Value::as_str);
    let python = choose_python(
        files,
        recipe,
        project_table.as_ref(),
        poetry_python,
        &mut diags,
    );
    let dockerignore =
        parse_dockerignore(dockerignore.or(files.get(".dockerignore")).unwrap_or(""));

    let root_requirements: Vec<&String> = files
        .files
        .keys()
        .filter(|k| !k.contains('/') && k.starts_with("requirements") && k.ends_with(".txt"))
        .collect();
    let kind = match choose(
        files,
        recipe,
        &root_requirements,
        pyproject.as_ref(),
        &mut diags,
    ) {
        None => None,
        Some(Choice::Uv) => detect_uv(files, recipe, pyproject.clone(), &mut diags),
        Some(Choice::Poetry) => detect_poetry(files, recipe, pyproject.clone(), &mut diags),
        Some(Choice::Pylock(file)) => detect_pylock(files, recipe, &file, &mut diags),
        Some(Choice::Pip) => detect_pip(
            files,
            recipe,
            &root_requirements,
            pyproject.as_ref(),
            &mut diags,
        ),
    };
    // Poetry 1.x projects say it all in [tool.poetry].
    let poetry = pyproject
        .as_ref()
        .and_then(PyProject::poetry)
        .filter(|_| matches!(kind, Some(ProjectKind::Poetry(_))));
    let mut scripts: Vec<String> = project_table
        .as_ref()
        .map(|p| p.scripts.keys().cloned().collect())
        .unwrap_or_default();
    if project_table.is_none() {
        scripts.extend(poetry.iter().flat_map(|p| p.scripts.keys().cloned()));
    }
    let name = project_table
        .as_ref()
        .and_then(|p| p.name.clone())
        .or_else(|| poetry.and_then(|p| p.name.clone()));
    let version = project_table
        .as_ref()
        .and_then(|p| p.version.clone())
        .or_else(|| poetry.and_then(|p| p.version.clone()));
    let project = kind.map(|kind| Project {
        name,
        version,
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
    poetry_python: Option<&str>,
    diags: &mut Diagnostics,
) -> String {
    let from_file = files
        .get(".python-version")
        .and_then(python::python_version_line);
    let Some(spec) = project.and_then(|p| p.requires_python.as_ref()) else {
        // Poetry 1.x projects give their Python in `[tool.poetry.dependencies] python`.
        let poetry_line = || {
            crate::lock::poetry::poetry_constraint(poetry_python?)?
                .iter()
                .filter_map(|alternative| python::line_for(&alternative.to_string()).ok())
                .max_by_key(|line| {
                    let minor = line.split('.').nth(1).and_then(|m| m.parse::<u32>().ok());
                    minor.unwrap_or(0)
                })
        };
        return from_file
            .or_else(poetry_line)
            .unwrap_or_else(|| python::FALLBACK.to_owned());
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

/// Which lock (so which reader), or pip.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Choice {
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
fn choose(
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

fn detect_poetry(
    files: &ProjectFiles,
    recipe: &Recipe,
    pyproject: Option<PyProject>,
    diags: &mut Diagnostics,
) -> Option<ProjectKind> {
    let Some(lock_text) = files.get("poetry.lock") else {
        diags.push(
            Diagnostic::new(
                &recipe.file,
                "manager = \"poetry\" but the project has no poetry.lock",
            )
            .at(&recipe.source, recipe.python.manager.span())
            .help("run `poetry lock` and commit poetry.lock"),
        );
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

fn detect_pylock(
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

/// The groups and extras a project defines, and where, for [`check_selection`].
struct Known<'a> {
    file: &'a str,
    groups: &'a [String],
    group_section: &'a str,
    extras: &'a [String],
    extra_section: &'a str,
}

/// Groups and extras named in the recipe (top level and targets) must exist in the project.
fn check_selection(recipe: &Recipe, known: &Known, diags: &mut Diagnostics) {
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
        let (names, section) = if kind == "group" {
            (known.groups, known.group_section)
        } else {
            (known.extras, known.extra_section)
        };
        for item in list {
            if names
                .iter()
                .any(|k| normalize_name(k) == normalize_name(item.get_ref()))
            {
                continue;
            }
            let file = known.file;
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let help = match crate::diag::did_you_mean(item.get_ref(), &refs) {
                Some(k) => format!("did you mean `{k}`?"),
                None if names.is_empty() => format!("{file} has no {section}"),
                None => format!("{file} defines: {}", names.join(", ")),
            };
            diags.push(
                Diagnostic::new(
                    &recipe.file,
                    format!(
                        "unknown {kind} `{}`: not in {file} {section}",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(path: &str) -> String {
        std::fs::read_to_string(format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The manager detection chooses for files named after `testdata` files.
    fn chosen(recipe: &str, files: &[(&str, &str)]) -> Result<Manager, String> {
        let recipe = crate::recipe::parse("pycache.toml", recipe, &Default::default()).unwrap();
        let mut project = ProjectFiles::default();
        for (name, from) in files {
            project.insert(*name, testdata(from));
        }
        detect(&project, &recipe, None)
            .map(|p| p.manager())
            .map_err(|d| d.to_string())
    }

    const UV: (&str, &str) = ("uv.lock", "uv-minimal/uv.lock");
    const UV_PYPROJECT: (&str, &str) = ("pyproject.toml", "uv-minimal/pyproject.toml");
    const POETRY: (&str, &str) = ("poetry.lock", "poetry-app/poetry.lock");
    const POETRY_PYPROJECT: (&str, &str) = ("pyproject.toml", "poetry-app/pyproject.toml");
    const PYLOCK: (&str, &str) = ("pylock.toml", "pylock-app/pylock.toml");
    const REQUIREMENTS: (&str, &str) = ("requirements.txt", "pip-hashes/requirements.txt");

    #[test]
    fn a_tool_s_own_lock_wins_over_its_exports() {
        assert_eq!(chosen("", &[UV, UV_PYPROJECT, PYLOCK]), Ok(Manager::Uv));
        assert_eq!(
            chosen("", &[POETRY, POETRY_PYPROJECT, PYLOCK, REQUIREMENTS]),
            Ok(Manager::Poetry)
        );
        assert_eq!(chosen("", &[PYLOCK, REQUIREMENTS]), Ok(Manager::Pylock));
        assert_eq!(chosen("", &[REQUIREMENTS]), Ok(Manager::Pip));
        let named = ("pylock.prod.toml", "pylock-app/pylock.toml");
        assert_eq!(chosen("", &[named]), Ok(Manager::Pylock));
    }

    #[test]
    fn the_recipe_overrides_what_the_files_say() {
        let files = [UV, POETRY, POETRY_PYPROJECT, PYLOCK, REQUIREMENTS];
        let err = chosen("", &files).unwrap_err();
        assert!(
            err.contains("several lock files: uv.lock (uv), poetry.lock (Poetry), pylock.toml"),
            "{err}"
        );
        let poetry = chosen("[python]\nmanager = \"poetry\"\n", &files);
        assert_eq!(poetry, Ok(Manager::Poetry));
        assert_eq!(
            chosen("[python]\nlock = \"pylock.toml\"\n", &files),
            Ok(Manager::Pylock)
        );
        assert_eq!(
            chosen("[python]\nrequirements = [\"requirements.txt\"]\n", &files),
            Ok(Manager::Pip)
        );
        let missing = chosen("[python]\nlock = \"pylock.prod.toml\"\n", &files).unwrap_err();
        assert!(missing.contains("is not in the build context"), "{missing}");
    }

    #[test]
    fn a_poetry_project_without_its_lock_says_so() {
        let err = chosen("", &[POETRY_PYPROJECT]).unwrap_err();
        assert!(
            err.contains("found pyproject.toml with [tool.poetry] but no poetry.lock")
                && err.contains("run `poetry lock`"),
            "{err}"
        );
    }

    #[test]
    fn poetry_1_projects_take_name_version_and_scripts_from_tool_poetry() {
        let mut files = ProjectFiles::default();
        files.insert(
            "pyproject.toml",
            "[tool.poetry]\nname = \"Old_App\"\nversion = \"1.2.3\"\n\n[tool.poetry.dependencies]\npython = \"^3.10\"\n\n[tool.poetry.scripts]\nold = \"old_app:main\"\n\n[build-system]\nrequires = [\"poetry-core\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
        );
        files.insert(
            "poetry.lock",
            "[metadata]\nlock-version = \"2.0\"\ncontent-hash = \"x\"\n",
        );
        let recipe = crate::recipe::parse("pycache.toml", "", &Default::default()).unwrap();
        let err = detect(&files, &recipe, None).unwrap_err().to_string();
        assert!(err.contains("poetry.lock is out of date"), "{err}");
        let table: toml::Table = toml::from_str(files.get("pyproject.toml").unwrap()).unwrap();
        let hash = crate::lock::poetry::content_hash(&table, true);
        files.insert(
            "poetry.lock",
            format!("[metadata]\nlock-version = \"2.0\"\ncontent-hash = \"{hash}\"\n"),
        );
        let project = detect(&files, &recipe, None).unwrap();
        assert_eq!(project.name.as_deref(), Some("Old_App"));
        assert_eq!(project.version.as_deref(), Some("1.2.3"));
        assert_eq!(project.scripts, ["old"]);
        // ^3.10 allows the newest line pycache knows.
        assert_ne!(project.python, python::FALLBACK);
    }
}
