//! `pycache init`: a commented `pycache.toml` for an existing project, written from what the
//! frontend itself detects ([`crate::detect`]) and plans ([`crate::plan`]): the lock and its
//! manager, the Python line, the console script, and the apt packages that locked packages
//! built from source are known to need. What it writes is checked like `pycache check` before
//! it is returned, so it never hands out a recipe the frontend would refuse.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::detect::{self, Project, ProjectFiles, ProjectKind, python};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Facts, Plan, find_links};
use crate::platform::Platform;
use crate::{DEFAULT_RECIPE, Inputs, recipe};

/// What `init` is told besides the project.
#[derive(Clone, Debug)]
pub struct Options {
    /// The frontend image of the `# syntax=` line.
    pub syntax: String,
    /// The base image, instead of `python:3.X-slim`.
    pub base: Option<String>,
}

/// A package without wheels for Linux on PyPI (so built from its sdist) and the Debian packages
/// it needs: headers to build it, shared libraries to run it. Names valid on Debian 12 and 13,
/// the bases of the `python:3.X-slim` images.
struct Native {
    package: &'static str,
    build: &'static [&'static str],
    runtime: &'static [&'static str],
}

const NATIVE: &[Native] = &[
    Native {
        package: "psycopg2",
        build: &["libpq-dev"],
        runtime: &["libpq5"],
    },
    Native {
        package: "psycopg-c",
        build: &["libpq-dev"],
        runtime: &["libpq5"],
    },
    Native {
        package: "mysqlclient",
        build: &["default-libmysqlclient-dev", "pkg-config"],
        runtime: &["libmariadb3"],
    },
    Native {
        package: "pycairo",
        build: &["libcairo2-dev", "pkg-config"],
        runtime: &["libcairo2"],
    },
    Native {
        package: "pygraphviz",
        build: &["graphviz-dev", "pkg-config"],
        runtime: &["libcgraph6", "libgvc6"],
    },
    Native {
        package: "lxml",
        build: &["libxml2-dev", "libxslt1-dev"],
        runtime: &["libxml2", "libxslt1.1"],
    },
    Native {
        package: "pyodbc",
        build: &["unixodbc-dev"],
        runtime: &["libodbc2"],
    },
    Native {
        package: "gssapi",
        build: &["libkrb5-dev"],
        runtime: &["libgssapi-krb5-2"],
    },
];

/// What every C extension needs to build (with `--no-install-recommends`, `gcc` alone has no
/// libc headers).
const COMPILER: &[&str] = &["gcc", "libc6-dev"];

/// The platforms whose locked packages decide the apt packages: what `pycache ci github`
/// builds by default.
const PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64"];

/// Why `init` wrote nothing.
#[derive(Debug)]
pub enum InitError {
    /// A recipe is there already (`--force` replaces it).
    Exists(PathBuf),
    /// The project cannot be built as it is (no lock, a stale lock, …).
    Invalid(Diagnostics),
    Io(std::io::Error),
}

/// Writes `dir/pycache.toml` for the project in `dir`; never over an existing one unless `force`.
pub fn init_dir(dir: &Path, opts: &Options, force: bool) -> Result<PathBuf, InitError> {
    let path = dir.join(DEFAULT_RECIPE);
    if path.exists() && !force {
        return Err(InitError::Exists(path));
    }
    let files = ProjectFiles::from_dir(dir).map_err(InitError::Io)?;
    let text = recipe_text(&files, opts).map_err(InitError::Invalid)?;
    std::fs::write(&path, text).map_err(InitError::Io)?;
    Ok(path)
}

/// The recipe for the project in `files`, checked as `pycache check` checks it.
pub fn recipe_text(files: &ProjectFiles, opts: &Options) -> Result<String, Diagnostics> {
    let refused: Diagnostics = files.refusals().into_iter().collect();
    refused.finish(())?;
    let no_args = BTreeMap::new();
    let bare = recipe::parse(
        DEFAULT_RECIPE,
        &format!("# syntax={}\n", opts.syntax),
        &no_args,
    )?;
    let project = detect::detect(files, &bare, None)?;
    // The lock's local wheel directories come from named contexts the recipe must name.
    let contexts = find_links::contexts_for(&local_dirs(&project));
    let find_links = find_links::recipe_value(&contexts);
    let seed_text = match &find_links {
        Some(value) => format!("# syntax={}\n[python]\nfind-links = {value}\n", opts.syntax),
        None => format!("# syntax={}\n", opts.syntax),
    };
    let seed = recipe::parse(DEFAULT_RECIPE, &seed_text, &no_args)?;
    let mut from_source: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut first_plan = None;
    for id in PLATFORMS {
        let platform = Platform::parse(id).unwrap_or_else(|_| Platform::host());
        let plan = crate::plan::plan(&seed, &project, "", &platform, &Facts::default())?;
        for name in plan.env.from_source() {
            from_source.entry(name).or_default().push(id);
        }
        first_plan.get_or_insert(plan);
    }
    let Some(plan) = first_plan else {
        return Err(Diagnostic::new(DEFAULT_RECIPE, "no platform to plan for").into());
    };
    let text = write(files, &project, &plan, &from_source, &contexts, opts);
    let inputs = Inputs {
        recipe_file: DEFAULT_RECIPE,
        recipe_text: &text,
        recipe_dockerignore: None,
        files,
        target: "",
        build_args: &no_args,
        platform: Platform::host(),
        facts: Facts::default(),
    };
    crate::check_all(&inputs)?;
    Ok(text)
}

fn write(
    files: &ProjectFiles,
    project: &Project,
    plan: &Plan,
    from_source: &BTreeMap<String, Vec<&str>>,
    contexts: &[(String, String)],
    opts: &Options,
) -> String {
    let mut out = String::new();
    let flags: String = contexts
        .iter()
        .map(|(name, dir)| format!("{} ", find_links::build_context_flag(name, dir)))
        .collect();
    let name = project.name.as_deref().unwrap_or("app");
    let _ = writeln!(out, "# syntax={}", opts.syntax);
    let _ = writeln!(
        out,
        "# The pycache recipe of {name}, written by `pycache init`. Every key: docs/recipe.md.\n\
         # Build: docker buildx build -f {DEFAULT_RECIPE} {flags}-t {} .\n\
         # Check: pycache check (or docker buildx build -f {DEFAULT_RECIPE} --call check .)",
        image_name(name)
    );
    image_section(&mut out, files, project, opts);
    apt_section(&mut out, from_source);
    python_section(&mut out, project, plan);
    if let Some(value) = find_links::recipe_value(contexts) {
        let _ = writeln!(
            out,
            "# The lock takes packages from local wheel directories: the build gets each as a named\n\
             # context ({}).\nfind-links = {value}",
            flags.trim_end()
        );
    }
    out
}

/// The local wheel directories the project's lock installs from (uv's `find-links`, a flat
/// index with a path).
fn local_dirs(project: &Project) -> BTreeSet<String> {
    match &project.kind {
        ProjectKind::Uv(uv) => uv
            .lock
            .packages
            .iter()
            .filter_map(crate::lock::uv::local_dir)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// A name usable as an image repository: lower case, `[a-z0-9._-]`.
pub fn image_name(name: &str) -> String {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if s.is_empty() { "app".into() } else { s }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn toml_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml_string(s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

fn image_section(out: &mut String, files: &ProjectFiles, project: &Project, opts: &Options) {
    out.push_str("\n[image]\n");
    let line = &project.python;
    let requires = files
        .get("pyproject.toml")
        .and_then(|t| detect::pyproject::PyProject::parse(t).ok())
        .and_then(|p| p.project?.requires_python.map(|r| r.into_inner()));
    let why = if files
        .get(".python-version")
        .and_then(python::python_version_line)
        .is_some()
    {
        "from .python-version".to_owned()
    } else if let Some(spec) = requires {
        format!(
            "the newest line requires-python {} allows",
            toml_string(&spec)
        )
    } else if matches!(project.kind, ProjectKind::Poetry(_)) {
        "from [tool.poetry.dependencies] python, or the default".to_owned()
    } else {
        "nothing names one (add .python-version or requires-python)".to_owned()
    };
    match &opts.base {
        Some(base) => {
            let _ = writeln!(
                out,
                "# The base image, as given to init; it must carry Python {line} ({why}).\nbase = {}",
                toml_string(base)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# Python {line}: {why}.\nbase = {}",
                toml_string(&format!("python:{line}-slim"))
            );
        }
    }
    let scripts = &project.scripts;
    let named = project.name.as_ref().filter(|n| scripts.contains(n));
    match (scripts.as_slice(), named) {
        ([], _) => out.push_str(
            "# The project has no console scripts: the image runs `python`. Say what it runs:\n# cmd = [\"python\", \"-m\", \"yourapp\"]\n",
        ),
        ([one], _) => {
            let _ = writeln!(
                out,
                "# The project's console script.\ncmd = {}",
                toml_list(&[one])
            );
        }
        (many, Some(n)) => {
            let _ = writeln!(
                out,
                "# The console script named like the project (of {}).\ncmd = {}",
                many.join(", "),
                toml_list(&[n])
            );
        }
        (many, None) => {
            let _ = writeln!(
                out,
                "# The project has several console scripts ({}): the image runs `python` until one is chosen.\n# cmd = {}",
                many.join(", "),
                toml_list(&[&many[0]])
            );
        }
    }
    let _ = writeln!(
        out,
        "# It runs as the non-root user {} (uid {}); user = \"root\" opts out.",
        recipe::DEFAULT_USER,
        crate::plan::UID
    );
}

fn apt_section(out: &mut String, from_source: &BTreeMap<String, Vec<&str>>) {
    let mut build: BTreeSet<&str> = BTreeSet::new();
    let mut runtime: BTreeSet<&str> = BTreeSet::new();
    let mut known = Vec::new();
    let mut other = Vec::new();
    for (name, platforms) in from_source {
        let on = if platforms.len() == PLATFORMS.len() {
            String::new()
        } else {
            format!(" on {}", platforms.join(", "))
        };
        match NATIVE.iter().find(|n| n.package == name) {
            Some(native) => {
                build.extend(COMPILER);
                build.extend(native.build);
                runtime.extend(native.runtime);
                known.push(format!(
                    "# {name} is built from source{on} (the lock has no wheel for it): {} to build, {} to run.",
                    native.build.join(", "),
                    if native.runtime.is_empty() {
                        "nothing more".to_owned()
                    } else {
                        native.runtime.join(", ")
                    }
                ));
            }
            None => other.push(format!("{name}{on}")),
        }
    }
    if known.is_empty() && other.is_empty() {
        return;
    }
    out.push_str("\n[apt]\n");
    for line in known {
        let _ = writeln!(out, "{line}");
    }
    if !other.is_empty() {
        let _ = writeln!(
            out,
            "# Also built from source: {}. A C extension among them needs a compiler and its\n# library's headers in build-packages, and the library in packages.",
            other.join(", ")
        );
    }
    if !runtime.is_empty() {
        let list: Vec<&str> = runtime.into_iter().collect();
        let _ = writeln!(out, "packages = {}", toml_list(&list));
    }
    if !build.is_empty() {
        let list: Vec<&str> = build.into_iter().collect();
        let _ = writeln!(out, "build-packages = {}", toml_list(&list));
    }
}

fn python_section(out: &mut String, project: &Project, plan: &Plan) {
    out.push_str("\n[python]\n");
    let groups: Vec<String> = match &project.kind {
        ProjectKind::Uv(uv) => {
            let _ = writeln!(
                out,
                "# uv.lock, installed with uv: a layer per locked package, grouped past 40 (layers = \"auto\").\nlock = \"uv.lock\""
            );
            uv.pyproject.group_names()
        }
        ProjectKind::Poetry(poetry) => {
            let _ = writeln!(
                out,
                "# poetry.lock, installed with uv (no Poetry in the image): each locked package a layer.\nlock = \"poetry.lock\""
            );
            poetry.groups.keys().cloned().collect()
        }
        ProjectKind::Pylock(pylock) => {
            let _ = writeln!(
                out,
                "# A PEP 751 lock, installed with uv: each locked package a layer.\nlock = {}",
                toml_string(&pylock.file)
            );
            Vec::new()
        }
        ProjectKind::Pip(pip) => {
            match &plan.env.single_layer_reason {
                None => out.push_str(
                    "# Pinned and hashed requirements: installed like a lock, each package a layer.\n",
                ),
                Some(why) => {
                    let _ = writeln!(
                        out,
                        "# Requirements installed as written, in one layer: {why}."
                    );
                }
            }
            let _ = writeln!(
                out,
                "manager = \"pip\"\nrequirements = {}",
                toml_list(&pip.entry_files)
            );
            Vec::new()
        }
    };
    if !groups.is_empty() {
        let _ = writeln!(
            out,
            "# Dependency groups of the project: {}. The default ones are installed, but dev;\n# add others with groups = [...].",
            groups.join(", ")
        );
    }
    if groups.iter().any(|g| g == "dev") {
        out.push_str(
            "\n# An image with the dev group too: docker buildx build --target dev …\n# [targets.dev]\n# no-dev = false\n",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            syntax: "local/pycache-frontend:dev".into(),
            base: None,
        }
    }

    fn files(entries: &[(&str, &str)]) -> ProjectFiles {
        let mut f = ProjectFiles::default();
        for (p, t) in entries {
            f.insert(*p, *t);
        }
        f
    }

    #[test]
    fn image_names_are_repository_names() {
        assert_eq!(image_name("My_App"), "my_app");
        assert_eq!(image_name("hello world!"), "hello-world");
        assert_eq!(image_name("--"), "app");
    }

    #[test]
    fn a_project_without_a_lock_gets_no_recipe_but_what_to_run() {
        let f = files(&[(
            "pyproject.toml",
            "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"six\"]\n",
        )]);
        let err = recipe_text(&f, &opts()).unwrap_err().to_string();
        assert!(err.contains("uv lock"), "{err}");
    }

    #[test]
    fn a_pip_project_names_its_requirements_and_why_they_are_one_layer() {
        let f = files(&[
            ("requirements.txt", "six>=1.16\n"),
            ("app.py", "print('hi')\n"),
        ]);
        let text = recipe_text(&f, &opts()).unwrap();
        assert!(text.contains("manager = \"pip\""), "{text}");
        assert!(
            text.contains("requirements = [\"requirements.txt\"]"),
            "{text}"
        );
        assert!(text.contains("in one layer"), "{text}");
        assert!(text.contains("base = \"python:3.12-slim\""), "{text}");
        assert!(text.starts_with("# syntax=local/pycache-frontend:dev\n"));
    }

    /// A PEP 751 lock (no freshness check against pyproject.toml to satisfy) with `six` as a
    /// wheel and `psycopg2` as an sdist only, as PyPI has it for Linux.
    const PYLOCK: &str = r#"lock-version = "1.0"
created-by = "test"

[[packages]]
name = "psycopg2"
version = "2.9.10"
index = "https://pypi.org/simple"
sdist = { url = "https://files.pythonhosted.org/packages/62/51/2007ea29e605957a17ac6357115d0c1a1b60c8c984951c19419b3474cdfd/psycopg2-2.9.10.tar.gz", size = 385672, hashes = { sha256 = "12ec0b40b0273f95296233e8750441339298e6a572f7039da5b260e3c8b60e11" } }
wheels = [{ url = "https://files.pythonhosted.org/packages/0a/a4/psycopg2-2.9.10-cp311-cp311-win_amd64.whl", size = 1163864, hashes = { sha256 = "0435034157049f6846e95103bd8f5a668788dd913a7c30162ca9503fdf542cb4" } }]

[[packages]]
name = "six"
version = "1.17.0"
index = "https://pypi.org/simple"
wheels = [{ url = "https://files.pythonhosted.org/packages/b7/ce/149a00dd41f10bc29e5921b496af8b574d8413afcd5e30dfa0ed46c2cc5e/six-1.17.0-py2.py3-none-any.whl", size = 11050, hashes = { sha256 = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274" } }]
"#;

    #[test]
    fn a_package_built_from_source_brings_its_headers_and_its_library() {
        let f = files(&[
            ("pylock.toml", PYLOCK),
            (".python-version", "3.11.9\n"),
            (
                "pyproject.toml",
                "[project]\nname = \"db-app\"\nversion = \"1\"\n[project.scripts]\ndb-app = \"db_app:main\"\nother = \"db_app:other\"\n",
            ),
        ]);
        let text = recipe_text(&f, &opts()).unwrap();
        assert!(text.contains("packages = [\"libpq5\"]"), "{text}");
        assert!(
            text.contains("build-packages = [\"gcc\", \"libc6-dev\", \"libpq-dev\"]"),
            "{text}"
        );
        assert!(text.contains("# psycopg2 is built from source"), "{text}");
        assert!(!text.contains("six is built"), "{text}");
        assert!(text.contains("base = \"python:3.11-slim\""), "{text}");
        assert!(text.contains("Python 3.11: from .python-version"), "{text}");
        assert!(text.contains("cmd = [\"db-app\"]"), "{text}");
        assert!(text.contains("lock = \"pylock.toml\""), "{text}");
    }

    #[test]
    fn a_wheel_for_the_platform_needs_no_apt_package() {
        let with_wheel = PYLOCK.replace(
            "psycopg2-2.9.10-cp311-cp311-win_amd64.whl",
            "psycopg2-2.9.10-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        );
        let f = files(&[("pylock.toml", with_wheel.as_str())]);
        let text = recipe_text(&f, &opts()).unwrap();
        // amd64 has a wheel now; arm64 still builds it.
        assert!(
            text.contains("psycopg2 is built from source on linux/arm64"),
            "{text}"
        );
    }

    #[test]
    fn an_existing_recipe_is_kept_without_force() {
        let dir = std::env::temp_dir().join(format!("pycache-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("requirements.txt"), "six\n").unwrap();
        std::fs::write(dir.join(DEFAULT_RECIPE), "# mine\n").unwrap();
        let kept = init_dir(&dir, &opts(), false);
        assert!(matches!(kept, Err(InitError::Exists(_))), "{kept:?}");
        assert_eq!(
            std::fs::read_to_string(dir.join(DEFAULT_RECIPE)).unwrap(),
            "# mine\n"
        );
        let written = init_dir(&dir, &opts(), true).unwrap();
        let text = std::fs::read_to_string(written).unwrap();
        assert!(text.contains("manager = \"pip\""), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
