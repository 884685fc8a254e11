//! Properties of the pipeline over generated recipes: any valid recipe for a `testdata/`
//! project plans, and its LLB is deterministic (the same bytes twice, and whatever the order
//! of the recipe's sections and keys), structurally valid (every op digest matches its bytes,
//! every input index names an existing output: `common::check_definition`), and reaches shells
//! only quoted. `PYCACHE_PROPERTY_CASES` sets how many recipes (default 300),
//! `PYCACHE_PROPERTY_SEED` the first seed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Rng;
use prost::Message;
use pycache::detect::ProjectFiles;
use pycache::plan::{Facts, Join};
use pycache::platform::Platform;

/// One `key = value` line of a section, as TOML.
type Entry = (String, String);

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn subset(rng: &mut Rng, items: &[&str]) -> Vec<String> {
    items
        .iter()
        .filter(|_| rng.chance(40))
        .map(|s| (*s).to_owned())
        .collect()
}

/// Values a recipe may hold that must still only ever reach a shell quoted.
const FREE_TEXT: &[&str] = &[
    "plain",
    "two words",
    "it's",
    "$(id)",
    "`id`",
    "a;b|c&d",
    "ünïcödé ☃",
    "multi\nline",
    "tab\there",
    "$HOME and ${A:-default}",
    "",
];

/// What a project allows: its groups and extras, and whether it is a uv project.
struct Project {
    name: &'static str,
    uv: bool,
    groups: Vec<String>,
    extras: Vec<String>,
}

fn projects() -> Vec<Project> {
    let uv = [
        "uv-minimal",
        "uv-groups-extras",
        "uv-workspace",
        "uv-layers",
        "apt-packages",
    ];
    let mut out: Vec<Project> = uv
        .iter()
        .map(|name| {
            let text =
                std::fs::read_to_string(common::testdata().join(name).join("pyproject.toml"))
                    .unwrap();
            let py = pycache::detect::pyproject::PyProject::parse(&text).unwrap();
            Project {
                name,
                uv: true,
                groups: py.group_names(),
                extras: py.extra_names(),
            }
        })
        .collect();
    for name in ["pip-hashes", "pip-includes"] {
        out.push(Project {
            name,
            uv: false,
            groups: Vec::new(),
            extras: Vec::new(),
        });
    }
    out
}

/// A valid recipe for `project`, as sections of entries (rendered in any order).
fn recipe(rng: &mut Rng, project: &Project) -> BTreeMap<String, Vec<Entry>> {
    let mut sections: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut add = |section: &str, key: &str, value: String| {
        sections
            .entry(section.to_owned())
            .or_default()
            .push((key.to_owned(), value));
    };
    add(
        "image",
        "base",
        toml_str(rng.pick(&[
            "local/python:3.11-slim",
            "python:3.12-slim",
            "ghcr.io/x/py@sha256:0123456789012345678901234567890123456789012345678901234567890123",
        ])),
    );
    if rng.chance(50) {
        add(
            "image",
            "workdir",
            toml_str(rng.pick(&["/app", "/srv/app", "/opt/my app", "/home/$(id)"])),
        );
    }
    if rng.chance(50) {
        add(
            "image",
            "user",
            toml_str(rng.pick(&["app", "root", "1000:1000", "svc-user", "_x", "0"])),
        );
    }
    if rng.chance(50) {
        let mut env = Vec::new();
        for i in 0..rng.below(4) {
            env.push(format!("V{i} = {}", toml_str(rng.pick(FREE_TEXT))));
        }
        if rng.chance(30) {
            add("args", "A", toml_str(rng.pick(FREE_TEXT)));
            env.push("FROM_ARG = \"${A}\"".into());
        }
        add("image", "env", format!("{{ {} }}", env.join(", ")));
    }
    if rng.chance(40) {
        let labels: Vec<String> = (0..rng.below(3))
            .map(|i| format!("\"l.{i}\" = {}", toml_str(rng.pick(FREE_TEXT))))
            .collect();
        add("image", "labels", format!("{{ {} }}", labels.join(", ")));
    }
    if rng.chance(40) {
        let cmd: Vec<String> = (0..1 + rng.below(3))
            .map(|_| rng.pick(FREE_TEXT).to_owned())
            .collect();
        add("image", rng.pick(&["cmd", "entrypoint"]), toml_list(&cmd));
    }
    if rng.chance(30) {
        add(
            "image",
            "expose",
            rng.pick(&["[8000]", "[8000, \"53/udp\"]", "[1, 65535]"])
                .to_string(),
        );
    }
    let apt = subset(rng, &["curl", "libpq5", "ca-certificates", "git"]);
    if !apt.is_empty() {
        add("apt", "packages", toml_list(&apt));
    }
    let build = subset(rng, &["gcc", "libpq-dev", "make"]);
    if !build.is_empty() {
        add("apt", "build-packages", toml_list(&build));
    }
    if project.uv {
        let groups: Vec<&str> = project.groups.iter().map(String::as_str).collect();
        let groups = subset(rng, &groups);
        if !groups.is_empty() {
            add("python", "groups", toml_list(&groups));
        }
        let extras: Vec<&str> = project.extras.iter().map(String::as_str).collect();
        let extras = subset(rng, &extras);
        if !extras.is_empty() && rng.chance(70) {
            add("python", "extras", toml_list(&extras));
        } else if rng.chance(20) {
            add("python", "all-extras", "true".into());
        }
        match rng.below(3) {
            0 => add(
                "python",
                "uv",
                toml_str(rng.pick(&["0.9.9", "0.8.22", "1.0.0rc1"])),
            ),
            1 => add("python", "uv-image", toml_str("ghcr.io/astral-sh/uv:0.9.9")),
            _ => {}
        }
        if rng.chance(30) {
            add("python", "no-dev", rng.pick(&["true", "false"]).to_string());
        }
    }
    if rng.chance(30) {
        add(
            "python",
            "compile-bytecode",
            rng.pick(&["true", "false"]).to_string(),
        );
    }
    if rng.chance(40) {
        add(
            "python",
            "layers",
            rng.pick(&["\"auto\"", "\"single\"", "1", "3", "100"])
                .to_string(),
        );
    }
    if rng.chance(30) {
        add(
            "python",
            "index-url",
            toml_str(rng.pick(&[
                "https://pypi.org/simple",
                "https://example.com/it's/$(x)/simple",
            ])),
        );
    }
    if rng.chance(30) {
        add(
            "source",
            "exclude",
            toml_list(&subset(rng, &["tests", "*.md", "docs/**"])),
        );
    }
    if rng.chance(30) {
        let t = "targets.dev";
        add(t, "cmd", toml_list(&[rng.pick(FREE_TEXT).to_owned()]));
        if rng.chance(50) {
            add(t, "packages", toml_list(&["curl".to_owned()]));
        }
        if rng.chance(50) {
            add(
                t,
                "env",
                format!("{{ D = {} }}", toml_str(rng.pick(FREE_TEXT))),
            );
        }
        if rng.chance(50) {
            add(t, "user", toml_str(rng.pick(&["root", "dev", "1:1"])));
        }
    }
    sections
}

/// The recipe as TOML, its sections and their keys in an order chosen by `rng`.
fn render(rng: &mut Rng, sections: &BTreeMap<String, Vec<Entry>>) -> String {
    let mut names: Vec<&String> = sections.keys().collect();
    shuffle(rng, &mut names);
    let mut out = String::new();
    for name in names {
        out.push_str(&format!("[{name}]\n"));
        let mut entries: Vec<&Entry> = sections[name].iter().collect();
        shuffle(rng, &mut entries);
        for (k, v) in entries {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
    out
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

fn definition(
    dir: &Path,
    files: &ProjectFiles,
    recipe: &str,
    target: &str,
    platform: &Platform,
    facts: &Facts,
) -> Result<pycache::llb::pb::Definition, String> {
    let build_args = BTreeMap::new();
    let inputs = pycache::Inputs {
        recipe_file: "pycache.toml",
        recipe_text: recipe,
        recipe_dockerignore: None,
        files,
        target,
        build_args: &build_args,
        platform: platform.clone(),
        facts: facts.clone(),
    };
    let plan = pycache::plan_build(&inputs).map_err(|d| {
        format!(
            "{}: a valid recipe was refused:\n{recipe}\n{d}",
            dir.display()
        )
    })?;
    Ok(pycache::definition(&plan, &common::lower_options()))
}

#[test]
fn any_valid_recipe_gives_deterministic_valid_quoted_llb() {
    let cases = common::env_number("PYCACHE_PROPERTY_CASES", 300);
    let seed = common::env_number("PYCACHE_PROPERTY_SEED", 0x5eed);
    let projects = projects();
    let files: Vec<ProjectFiles> = projects
        .iter()
        .map(|p| ProjectFiles::from_dir(&common::testdata().join(p.name)).unwrap())
        .collect();
    let platforms = [
        Platform::parse("linux/amd64").unwrap(),
        Platform::parse("linux/arm64").unwrap(),
    ];
    let mut ops = 0;
    for case in 0..cases {
        let mut rng = Rng::new(seed.wrapping_add(case));
        let which = rng.below(projects.len());
        let (project, files) = (&projects[which], &files[which]);
        let dir = common::testdata().join(project.name);
        let sections = recipe(&mut rng, project);
        let (a, b) = (render(&mut rng, &sections), render(&mut rng, &sections));
        let target = if sections.contains_key("targets.dev") && rng.chance(50) {
            "dev"
        } else {
            ""
        };
        let platform = platforms[rng.below(platforms.len())].clone();
        let facts = Facts {
            python: rng
                .chance(50)
                .then(|| rng.pick(&["3.11.9", "3.12.7", "3.13.0"]).parse().unwrap()),
            join: if rng.chance(30) {
                Join::Copy
            } else {
                Join::Merge
            },
        };
        let context = format!("case {case} (seed {}):\n{a}", seed.wrapping_add(case));
        let first = definition(&dir, files, &a, target, &platform, &facts)
            .unwrap_or_else(|e| panic!("{context}\n{e}"));
        let again = definition(&dir, files, &a, target, &platform, &facts).unwrap();
        let reordered = definition(&dir, files, &b, target, &platform, &facts)
            .unwrap_or_else(|e| panic!("{context}\n{e}"));
        let bytes = first.encode_to_vec();
        assert_eq!(
            bytes,
            again.encode_to_vec(),
            "{context}: differs between runs"
        );
        assert_eq!(
            bytes,
            reordered.encode_to_vec(),
            "{context}: differs when reordered as\n{b}"
        );
        common::check_definition(&first).unwrap_or_else(|e| panic!("{context}\n{e}"));
        common::only_quoted(&first, "$(id)").unwrap_or_else(|e| panic!("{context}\n{e}"));
        ops += first.def.len();
    }
    eprintln!("{cases} generated recipes, {ops} ops checked");
}
