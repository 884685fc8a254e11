//! Reading the project: which package manager, which lock or requirements files, which groups
//! and extras exist, whether the lock is up to date, what `.dockerignore` excludes.
//!
//! Which lock, when the context has several ([`choose`]): the recipe's `lock`, else its
//! `manager`, else what is there. `uv.lock` and `poetry.lock` are the lock files of their
//! tools; a `pylock.toml` beside one of them is taken for an export of it and left alone; both
//! `uv.lock` and `poetry.lock` is conflicting evidence, an error listing them. A lock of any
//! kind wins over `requirements*.txt` (often exported from it), unless the recipe lists
//! `requirements`.

mod choose;
mod files;
pub mod freshness;
pub mod pep508;
mod pip_project;
mod poetry_project;
mod pylock_project;
pub mod pyproject;
pub mod python;
pub mod requirements;
mod selection;
mod uv_project;
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
use choose::{Choice, choose};
use pip_project::detect_pip;
use poetry_project::detect_poetry;
use pylock_project::detect_pylock;
use selection::{Known, check_selection};
use uv_project::detect_uv;

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

/// The recipe's `manager` names a tool whose files the project lacks: at the `manager` key.
fn manager_without(recipe: &Recipe, missing: &str, help: &str) -> Diagnostic {
    let manager = recipe.python.manager.get_ref().key();
    Diagnostic::new(
        &recipe.file,
        format!("manager = \"{manager}\" but the project has no {missing}"),
    )
    .at(&recipe.source, recipe.python.manager.span())
    .help(help)
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
