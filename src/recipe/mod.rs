//! The recipe: `pycache.toml` parsed into typed sections, with every problem reported at once,
//! each pointing at its line. Documented key by key in `docs/recipe.md`.

mod reader;
mod validate;

use std::collections::BTreeMap;
use std::str::FromStr;

use toml::Spanned;
use toml::de::DeTable;

use crate::diag::{Diagnostic, Diagnostics, LineIndex};
use crate::image_ref::ImageRef;
pub use reader::Sp;
use reader::{Reader, Section};
use validate::{is_identifier, validate};
pub use validate::{known_hosts_problem, redact_userinfo};

/// The uv version installed when the recipe names none. Pinned so builds are reproducible.
pub const DEFAULT_UV_VERSION: &str = "0.13.9";
pub const DEFAULT_WORKDIR: &str = "/app";
/// The non-root user created and used by default.
pub const DEFAULT_USER: &str = "app";
/// The default target: the runtime image.
pub const RUNTIME_TARGET: &str = "runtime";

#[derive(Clone, Debug)]
pub struct Recipe {
    /// The file name the recipe was read from, for diagnostics.
    pub file: String,
    /// The recipe's text, for diagnostics that point into it later (plan, detect).
    pub source: String,
    /// The image named by a leading `# syntax=` line, if any.
    pub syntax: Option<String>,
    pub args: BTreeMap<String, Sp<String>>,
    pub image: ImageSection,
    pub apt: AptSection,
    pub python: PythonSection,
    pub source_files: SourceSection,
    pub targets: BTreeMap<String, Sp<TargetSection>>,
}

#[derive(Clone, Debug, Default)]
pub struct ImageSection {
    pub base: Option<Sp<String>>,
    pub workdir: Option<Sp<String>>,
    pub user: Option<Sp<String>>,
    pub entrypoint: Option<Sp<Vec<Sp<String>>>>,
    pub cmd: Option<Sp<Vec<Sp<String>>>>,
    pub env: BTreeMap<String, Sp<String>>,
    pub expose: Vec<Sp<String>>,
    pub labels: BTreeMap<String, Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct AptSection {
    pub packages: Vec<Sp<String>>,
    pub build_packages: Vec<Sp<String>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Manager {
    #[default]
    Auto,
    Uv,
    Pip,
    /// `poetry.lock`, installed with uv.
    Poetry,
    /// A PEP 751 `pylock.toml` (or `pylock.<name>.toml`), installed with uv.
    Pylock,
}

impl Manager {
    /// The manager a lock file belongs to, by its name: `uv.lock`, `poetry.lock`,
    /// `pylock.toml`, `pylock.<name>.toml` (a name without dots, as PEP 751 has it).
    pub fn of_lock_file(name: &str) -> Option<Manager> {
        match name {
            "uv.lock" => Some(Manager::Uv),
            "poetry.lock" => Some(Manager::Poetry),
            "pylock.toml" => Some(Manager::Pylock),
            _ => name
                .strip_prefix("pylock.")
                .and_then(|n| n.strip_suffix(".toml"))
                .filter(|n| !n.is_empty() && !n.contains(['.', '/']))
                .map(|_| Manager::Pylock),
        }
    }

    /// How the recipe spells it.
    pub fn key(self) -> &'static str {
        match self {
            Manager::Auto => "auto",
            Manager::Uv => "uv",
            Manager::Pip => "pip",
            Manager::Poetry => "poetry",
            Manager::Pylock => "pylock",
        }
    }
}

#[derive(Clone, Debug)]
pub struct PythonSection {
    pub manager: Sp<Manager>,
    /// The lock file to install from, when the context has several.
    pub lock: Option<Sp<String>>,
    pub uv: Option<Sp<String>>,
    pub uv_image: Option<Sp<String>>,
    pub requirements: Option<Sp<Vec<Sp<String>>>>,
    pub groups: Vec<Sp<String>>,
    pub extras: Vec<Sp<String>>,
    pub all_extras: bool,
    pub no_dev: Option<Sp<bool>>,
    pub compile_bytecode: Option<bool>,
    pub index_url: Option<Sp<String>>,
    pub extra_index_urls: Vec<Sp<String>>,
    pub layers: Option<Sp<Layers>>,
    /// `[python.index-secrets]`: the password of a private index, by the id of the
    /// `--secret` that carries it.
    pub index_secrets: BTreeMap<String, Sp<IndexSecret>>,
    /// `ssh`: the id of the `--ssh` agent that git dependencies over SSH are fetched with;
    /// [`DEFAULT_SSH_ID`] when the recipe names none.
    pub ssh: Option<Sp<String>>,
    /// `known-hosts`: `known_hosts` lines of SSH servers besides the forges pycache knows.
    pub known_hosts: Vec<Sp<String>>,
    /// `find-links`: local directories of distributions, each from a named build context
    /// (`--build-context NAME=DIR`), that the lock's packages may come from.
    pub find_links: Vec<FindLinks>,
}

/// The `--ssh` id git dependencies over SSH use unless `[python] ssh` names another: what
/// `docker buildx build --ssh default` gives.
pub const DEFAULT_SSH_ID: &str = "default";

/// A directory of wheels (or sdists) given to the build as a named context and mounted,
/// read-only, into the dependency steps that install from it, as uv's `--find-links`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindLinks {
    /// The named context: `--build-context <context>=DIR` (buildx), `context:<context>`
    /// (the frontend option). Its span is where the recipe names it.
    pub context: Sp<String>,
    /// The directory the lock names (uv's `find-links` entry or flat index path, relative to
    /// the project, normalised as [`crate::lock::uv::normalize_dir`]): the context's name
    /// unless the recipe says otherwise (`find-links = { wheels = "../vendor/wheels" }`).
    pub lock_dir: String,
}

/// The local names BuildKit gives the build context and the recipe's directory: no named
/// context of the recipe's may take them.
pub const RESERVED_CONTEXTS: &[&str] = &["context", "dockerfile"];

/// A private index's credentials: the URL and user name are in the recipe, the password or
/// token only in the `--secret` whose id is the entry's key, mounted into the steps that
/// install from that index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSecret {
    pub url: Sp<String>,
    /// The user name; [`DEFAULT_INDEX_USERNAME`] when the recipe names none.
    pub username: Option<Sp<String>>,
}

/// The user name sent with a token when the recipe names none, as PyPI, GitLab and most
/// token-based indexes take it.
pub const DEFAULT_INDEX_USERNAME: &str = "__token__";

impl PythonSection {
    /// The `--ssh` id of git dependencies over SSH.
    pub fn ssh_id(&self) -> &str {
        self.ssh
            .as_ref()
            .map_or(DEFAULT_SSH_ID, |s| s.get_ref().as_str())
    }
}

impl IndexSecret {
    pub fn username(&self) -> &str {
        self.username
            .as_ref()
            .map_or(DEFAULT_INDEX_USERNAME, |u| u.get_ref().as_str())
    }
}

/// The most dependency layers a recipe may ask for: images stay well under the ~127 layers
/// some drivers and registries refuse.
pub const MAX_LAYERS: u64 = 100;

/// `[python] layers`: how the locked dependencies are split into image layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layers {
    /// As many as pay off (large wheels alone, small packages in buckets), where the engine
    /// can merge layers.
    Auto,
    /// Everything in one layer.
    Single,
    /// At most this many dependency layers.
    Max(u32),
}

impl Default for PythonSection {
    fn default() -> Self {
        Self {
            manager: Spanned::new(0..0, Manager::Auto),
            lock: None,
            uv: None,
            uv_image: None,
            requirements: None,
            groups: Vec::new(),
            extras: Vec::new(),
            all_extras: false,
            no_dev: None,
            compile_bytecode: None,
            index_url: None,
            extra_index_urls: Vec::new(),
            layers: None,
            index_secrets: BTreeMap::new(),
            ssh: None,
            known_hosts: Vec::new(),
            find_links: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct SourceSection {
    pub include: Vec<Sp<String>>,
    pub exclude: Vec<Sp<String>>,
}

/// A named variant of the runtime image; every key overrides the top-level one.
#[derive(Clone, Debug, Default)]
pub struct TargetSection {
    pub groups: Option<Vec<Sp<String>>>,
    pub extras: Option<Vec<Sp<String>>>,
    pub no_dev: Option<Sp<bool>>,
    pub packages: Vec<Sp<String>>,
    pub env: BTreeMap<String, Sp<String>>,
    pub entrypoint: Option<Sp<Vec<Sp<String>>>>,
    pub cmd: Option<Sp<Vec<Sp<String>>>>,
    pub user: Option<Sp<String>>,
}

/// The image named by the first `# syntax=` line among the leading comment lines.
pub fn syntax_directive(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let comment = line.strip_prefix('#')?;
        if let Some((key, value)) = comment.split_once('=')
            && key.trim().eq_ignore_ascii_case("syntax")
        {
            return Some(value.trim().to_owned());
        }
    }
    None
}

/// Build args any build may be given without declaring them: BuildKit's own (`BUILDKIT_*`),
/// `SOURCE_DATE_EPOCH`, and Docker's predefined proxy args.
const IMPLICIT_ARGS: &[&str] = &[
    "SOURCE_DATE_EPOCH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// The given build args the recipe does not declare in `[args]` (nor takes implicitly), which
/// are therefore ignored: worth a warning, as the Dockerfile frontend gives one.
pub fn unused_build_args<'a>(recipe: &Recipe, given: &'a BTreeMap<String, String>) -> Vec<&'a str> {
    given
        .keys()
        .map(String::as_str)
        .filter(|name| {
            !recipe.args.contains_key(*name)
                && !name.starts_with("BUILDKIT_")
                && !IMPLICIT_ARGS.contains(&name.to_ascii_uppercase().as_str())
        })
        .collect()
}

/// Parses and validates a recipe. `build_args` are `--build-arg` values; only args declared
/// in `[args]` are substituted into `${NAME}` references.
pub fn parse(
    file: &str,
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Recipe, Diagnostics> {
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let msg = format!("invalid TOML: {}", e.message().trim_end());
            return Err(Diagnostic::new(file, msg)
                .at(text, span)
                .help("fix the TOML at the caret: tables in [brackets], keys = values, strings in quotes")
                .into());
        }
    };
    let mut r = Reader {
        file,
        source: LineIndex::new(text),
        diags: Diagnostics::default(),
        args: BTreeMap::new(),
        scratch: Diagnostic::new(file, ""),
    };
    let mut root = Section::new("", doc.get_ref());

    let mut args = BTreeMap::new();
    if let Some(mut sec) = r.table(&mut root, "args") {
        // Defaults may not refer to other args: read them before substitution is enabled.
        for (name, value) in sec.table.iter() {
            let name = name.get_ref().to_string();
            if !is_identifier(&name) {
                let msg = format!("`{name}` is not a valid build arg name");
                r.error(value.span(), msg).help =
                    Some("use letters, digits and underscores, e.g. PYTHON_VERSION".into());
            }
        }
        let declared = r.string_map_all(&mut sec);
        for (name, default) in declared {
            let value = build_args
                .get(&name)
                .cloned()
                .unwrap_or(default.get_ref().clone());
            r.args.insert(name.clone(), value.clone());
            args.insert(name, Spanned::new(default.span(), value));
        }
    }

    let image = r.table(&mut root, "image").map(|mut sec| {
        let image = ImageSection {
            base: r.string(&mut sec, "base"),
            workdir: r.string(&mut sec, "workdir"),
            user: r.string(&mut sec, "user"),
            entrypoint: r.strings(&mut sec, "entrypoint"),
            cmd: r.strings(&mut sec, "cmd"),
            env: r.string_map(&mut sec, "env"),
            expose: r.ports(&mut sec, "expose"),
            labels: r.string_map(&mut sec, "labels"),
        };
        r.finish(sec);
        image
    });

    let apt = r.table(&mut root, "apt").map(|mut sec| {
        let apt = AptSection {
            packages: list(r.strings(&mut sec, "packages")),
            build_packages: list(r.strings(&mut sec, "build-packages")),
        };
        r.finish(sec);
        apt
    });

    let python = r.table(&mut root, "python").map(|mut sec| {
        let manager = match r.string(&mut sec, "manager") {
            None => Spanned::new(0..0, Manager::Auto),
            Some(m) => {
                let value = match m.get_ref().as_str() {
                    "auto" => Manager::Auto,
                    "uv" => Manager::Uv,
                    "pip" => Manager::Pip,
                    "poetry" => Manager::Poetry,
                    "pylock" => Manager::Pylock,
                    other => {
                        let msg = format!("unknown package manager `{other}`");
                        r.error(m.span(), msg).help =
                            Some("use \"auto\", \"uv\", \"poetry\", \"pylock\" or \"pip\"".into());
                        Manager::Auto
                    }
                };
                Spanned::new(m.span(), value)
            }
        };
        let python = PythonSection {
            manager,
            lock: r.string(&mut sec, "lock"),
            uv: r.string(&mut sec, "uv"),
            uv_image: r.string(&mut sec, "uv-image"),
            requirements: r.strings(&mut sec, "requirements"),
            groups: list(r.strings(&mut sec, "groups")),
            extras: list(r.strings(&mut sec, "extras")),
            all_extras: r.bool(&mut sec, "all-extras").is_some_and(|b| *b.get_ref()),
            no_dev: r.bool(&mut sec, "no-dev"),
            compile_bytecode: r.bool(&mut sec, "compile-bytecode").map(|b| *b.get_ref()),
            index_url: r.string(&mut sec, "index-url"),
            extra_index_urls: list(r.strings(&mut sec, "extra-index-urls")),
            layers: layers(&mut r, &mut sec),
            index_secrets: index_secrets(&mut r, &mut sec),
            ssh: r.string(&mut sec, "ssh"),
            known_hosts: list(r.strings(&mut sec, "known-hosts")),
            find_links: find_links(&mut r, &mut sec),
        };
        r.finish(sec);
        python
    });

    let source_files = r.table(&mut root, "source").map(|mut sec| {
        let s = SourceSection {
            include: list(r.strings(&mut sec, "include")),
            exclude: list(r.strings(&mut sec, "exclude")),
        };
        r.finish(sec);
        s
    });

    let mut targets = BTreeMap::new();
    if let Some(sec) = r.table(&mut root, "targets") {
        for (name, value) in sec.table.iter() {
            let name_str = name.get_ref().to_string();
            let toml::de::DeValue::Table(t) = value.get_ref() else {
                let msg = format!("target `{name_str}` must be a table");
                r.error(value.span(), msg).help = Some(format!("write it as [targets.{name_str}]"));
                continue;
            };
            let mut tsec = Section::new(format!("targets.{name_str}"), t);
            let target = TargetSection {
                groups: r.strings(&mut tsec, "groups").map(|s| s.into_inner()),
                extras: r.strings(&mut tsec, "extras").map(|s| s.into_inner()),
                no_dev: r.bool(&mut tsec, "no-dev"),
                packages: list(r.strings(&mut tsec, "packages")),
                env: r.string_map(&mut tsec, "env"),
                entrypoint: r.strings(&mut tsec, "entrypoint"),
                cmd: r.strings(&mut tsec, "cmd"),
                user: r.string(&mut tsec, "user"),
            };
            r.finish(tsec);
            targets.insert(name_str, Spanned::new(name.span(), target));
        }
    }
    r.finish(root);

    let recipe = Recipe {
        file: file.to_owned(),
        source: text.to_owned(),
        syntax: syntax_directive(text),
        args,
        image: image.unwrap_or_default(),
        apt: apt.unwrap_or_default(),
        python: python.unwrap_or_default(),
        source_files: source_files.unwrap_or_default(),
        targets,
    };
    validate(&recipe, &mut r);
    r.diags.finish(recipe)
}

/// `layers = "auto" | "single" | <1..=MAX_LAYERS>`.
fn layers(r: &mut Reader, sec: &mut Section) -> Option<Sp<Layers>> {
    let want = "\"auto\", \"single\" or a number of layers";
    let v = r.string_or_count(sec, "layers", want)?;
    let span = v.span();
    let value = match v.get_ref() {
        (s, None) if s == "auto" => Layers::Auto,
        (s, None) if s == "single" => Layers::Single,
        (_, Some(n)) if (1..=MAX_LAYERS).contains(n) => Layers::Max(*n as u32),
        (s, None) => {
            let msg = format!("unknown layers setting `{s}`");
            r.error(span, msg).help = Some(format!("use {want}"));
            return None;
        }
        (_, Some(n)) => {
            let msg = format!("layers = {n} is out of range");
            r.error(span, msg).help = Some(format!(
                "use 1 to {MAX_LAYERS} (images past ~127 layers fail on some registries), or \"auto\""
            ));
            return None;
        }
    };
    Some(Spanned::new(span, value))
}

/// `find-links = ["wheels"]` (each a named context serving the lock's directory of the same
/// name) or `find-links = { wheels = "../vendor/wheels" }` (context → the lock's directory).
fn find_links(r: &mut Reader, sec: &mut Section) -> Vec<FindLinks> {
    let want = "an array of build context names, e.g. [\"wheels\"], or a table of context names to the directories the lock names, e.g. { wheels = \"../vendor/wheels\" }";
    r.names_or_table(sec, "find-links", want)
        .unwrap_or_default()
        .into_iter()
        .map(|(context, dir)| FindLinks {
            lock_dir: crate::lock::uv::normalize_dir(dir.as_ref().unwrap_or(&context).get_ref()),
            context,
        })
        .collect()
}

/// `[python.index-secrets]`: `<secret id> = { url = "…", username = "…" }`.
fn index_secrets(r: &mut Reader, sec: &mut Section) -> BTreeMap<String, Sp<IndexSecret>> {
    let mut out = BTreeMap::new();
    let Some(table) = r.table(sec, "index-secrets") else {
        return out;
    };
    for (id, value) in table.table.iter() {
        let id_str = id.get_ref().to_string();
        r.plain_text("a key", &id_str, id.span());
        let toml::de::DeValue::Table(t) = value.get_ref() else {
            let msg = format!("index secret `{id_str}` must be a table");
            r.error(value.span(), msg).help = Some(format!(
                "write `{id_str} = {{ url = \"https://pypi.example.com/simple\", username = \"deploy\" }}`"
            ));
            continue;
        };
        let mut entry = Section::new(format!("{}.{id_str}", table.name), t);
        let url = r.string(&mut entry, "url");
        let username = r.string(&mut entry, "username");
        r.finish(entry);
        let Some(url) = url else {
            let msg = format!("index secret `{id_str}` has no `url`");
            r.error(value.span(), msg).help =
                Some("say which index the secret is the password of: url = \"https://pypi.example.com/simple\"".into());
            continue;
        };
        out.insert(
            id_str,
            Spanned::new(id.span(), IndexSecret { url, username }),
        );
    }
    // Its keys are the user's own secret ids: none is unknown.
    out
}

/// What a `--secret` id may be: a uv index name (letters, digits, `-`, `_`, `.`), which is
/// also a file name under `/run/secrets` and a word no shell interprets.
fn is_secret_id(s: &str) -> bool {
    s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The name uv derives from an index name for its credential variables
/// (`UV_INDEX_<NAME>_USERNAME`): upper case, every other character `_`.
pub fn uv_index_env_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The values of a list of spanned strings, without their spans.
pub fn values<'a>(list: impl IntoIterator<Item = &'a Sp<String>>) -> Vec<String> {
    list.into_iter().map(|s| s.get_ref().clone()).collect()
}

fn list(v: Option<Sp<Vec<Sp<String>>>>) -> Vec<Sp<String>> {
    v.map(Spanned::into_inner).unwrap_or_default()
}

/// An index URL as compared with the lock's and the recipe's: without a trailing `/`.
pub fn normalize_index_url(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

impl Reader<'_> {
    /// Every entry of `sec` as a string; used for `[args]`, whose keys are the user's own.
    fn string_map_all(&mut self, sec: &mut Section) -> BTreeMap<String, Sp<String>> {
        let mut out = BTreeMap::new();
        for (k, v) in sec.table.iter() {
            match v.get_ref() {
                toml::de::DeValue::String(s) => {
                    out.insert(
                        k.get_ref().to_string(),
                        Spanned::new(v.span(), s.to_string()),
                    );
                }
                toml::de::DeValue::Integer(i) => {
                    out.insert(
                        k.get_ref().to_string(),
                        Spanned::new(v.span(), i.as_str().to_owned()),
                    );
                }
                _ => {
                    let msg = format!("build arg `{}` must have a string default", k.get_ref());
                    self.error(v.span(), msg).help =
                        Some(format!("write `{} = \"default\"`", k.get_ref()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
