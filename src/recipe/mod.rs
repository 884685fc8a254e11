//! The recipe: `pycache.toml` parsed into typed sections, with every problem reported at once,
//! each pointing at its line. Documented key by key in `docs/recipe.md`.

mod reader;

use std::collections::BTreeMap;
use std::str::FromStr;

use toml::Spanned;
use toml::de::DeTable;

use crate::diag::{Diagnostic, Diagnostics, LineIndex};
use crate::image_ref::ImageRef;
pub use reader::Sp;
use reader::{Reader, Section};

/// The uv version installed when the recipe names none. Pinned so builds are reproducible.
pub const DEFAULT_UV_VERSION: &str = "0.9.9";
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
}

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
    /// As many as pay off, up to the default budget, where the engine can merge layers.
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

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Debian package names (policy §5.6.1), optionally pinned with `=version`.
fn is_apt_package(s: &str) -> bool {
    let name = s.split_once('=').map_or(s, |(n, _)| n);
    name.len() >= 2
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.:".contains(c))
}

/// What a recipe's `user` may be: `root`, a numeric `uid[:gid]` used as given, or a name
/// pycache creates with `groupadd`/`useradd`.
#[derive(Debug, PartialEq, Eq)]
enum UserProblem {
    /// `name:group`, or a name with a group: pycache creates the user and its group itself.
    NamedGroup,
    /// Not a POSIX user name (letters, digits, `_`, `-`, not first; at most 32).
    NotAName,
}

fn check_user(s: &str) -> Result<(), UserProblem> {
    let numeric = |p: &str| !p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some((uid, gid)) = s.split_once(':') {
        return if numeric(uid) && numeric(gid) {
            Ok(())
        } else if is_user_name(uid) {
            Err(UserProblem::NamedGroup)
        } else {
            Err(UserProblem::NotAName)
        };
    }
    if numeric(s) || is_user_name(s) {
        Ok(())
    } else {
        Err(UserProblem::NotAName)
    }
}

/// A portable user name as `useradd` takes it (`NAME_REGEX` of shadow-utils, POSIX's portable
/// file name characters): it can never be read as an option, a path or a `name:group` pair.
fn is_user_name(s: &str) -> bool {
    s.len() <= 32
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// What is wrong with a `workdir`, if anything.
fn workdir_problem(w: &str) -> Option<(String, String)> {
    if !w.starts_with('/') {
        return Some((
            format!("workdir `{w}` must be an absolute path"),
            format!("write \"/{}\"", w.trim_start_matches("./")),
        ));
    }
    if w.split('/').any(|seg| seg == ".." || seg == ".") {
        return Some((
            format!("workdir `{w}` has `.` or `..` in it"),
            "write the directory plainly, e.g. \"/app\"".into(),
        ));
    }
    if w.trim_end_matches('/').is_empty() {
        return Some((
            "workdir `/` would copy the build context over the image's root".into(),
            "use a directory of its own, e.g. \"/app\" (the default)".into(),
        ));
    }
    None
}

/// `url` with any `user:password@` replaced, for messages that must not repeat a secret.
pub fn redact_userinfo(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (_userinfo, host) = rest[..authority_end].rsplit_once('@')?;
    Some(format!("{scheme}://***@{host}{}", &rest[authority_end..]))
}

/// What is wrong with an index URL, if anything.
fn index_url_problem(key: &str, url: &str) -> Option<(String, String)> {
    if let Some(redacted) = redact_userinfo(url) {
        return Some((
            format!("{key} `{redacted}` has credentials in it"),
            "remove them: a URL in the recipe is stored in the build's LLB and cache, where anyone who can read them reads the password; give the password with [python.index-secrets] and `docker buildx build --secret` instead (docs/recipe.md#private-indexes)".into(),
        ));
    }
    let scheme_ok = ["https://", "http://", "file://"]
        .iter()
        .any(|p| url.starts_with(p) && url.len() > p.len());
    if !scheme_ok || url.chars().any(char::is_whitespace) {
        return Some((
            format!("{key} `{url}` is not an index URL"),
            "write an http(s) URL of a package index, e.g. \"https://pypi.org/simple\"".into(),
        ));
    }
    None
}

/// Rules that need more than one key: contradictions and values of the wrong shape.
fn validate(recipe: &Recipe, r: &mut Reader) {
    if let Some(w) = &recipe.image.workdir
        && let Some((msg, help)) = workdir_problem(w.get_ref())
    {
        r.error(w.span(), msg).help = Some(help);
    }
    let users = std::iter::once(&recipe.image.user)
        .chain(recipe.targets.values().map(|t| &t.get_ref().user));
    for user in users.flatten() {
        let (msg, help) = match check_user(user.get_ref()) {
            Ok(()) => continue,
            Err(UserProblem::NamedGroup) => (
                format!(
                    "`{}`: pycache creates the user and its group, which cannot be named",
                    user.get_ref()
                ),
                "write the user's name alone (its group has the same name), or a numeric \"uid:gid\" of an existing user",
            ),
            Err(UserProblem::NotAName) => (
                format!("`{}` is not a user name", user.get_ref()),
                "write a name like \"app\" (lower case letters, digits, `_` and `-`, not first), \"root\", or a numeric \"10001:10001\"",
            ),
        };
        r.error(user.span(), msg).help = Some(help.into());
    }
    if let Some(uv) = &recipe.python.uv
        && pep440_rs::Version::from_str(uv.get_ref()).is_err()
    {
        let msg = format!("uv = `{}` is not a version", uv.get_ref());
        r.error(uv.span(), msg).help =
            Some(format!("write a uv release, e.g. \"{DEFAULT_UV_VERSION}\""));
    }
    let urls = recipe
        .python
        .index_url
        .iter()
        .map(|u| ("index-url", u))
        .chain(
            recipe
                .python
                .extra_index_urls
                .iter()
                .map(|u| ("extra-index-urls", u)),
        );
    for (key, url) in urls {
        if let Some((msg, help)) = index_url_problem(key, url.get_ref()) {
            let d = r.error(url.span(), msg);
            d.help = Some(help);
            d.redact_credentials();
        }
    }
    validate_index_secrets(&recipe.python.index_secrets, r);
    let commands = [&recipe.image.entrypoint, &recipe.image.cmd]
        .into_iter()
        .chain(
            recipe
                .targets
                .values()
                .flat_map(|t| [&t.get_ref().entrypoint, &t.get_ref().cmd]),
        );
    for cmd in commands.flatten() {
        if cmd.get_ref().is_empty() {
            r.error(cmd.span(), "a command must not be empty").help =
                Some("remove the key to use the default, or name a program, e.g. [\"app\"]".into());
        }
    }
    let env_maps =
        std::iter::once(&recipe.image.env).chain(recipe.targets.values().map(|t| &t.get_ref().env));
    for env in env_maps {
        for (k, v) in env {
            if !is_identifier(k) {
                let msg = format!("`{k}` is not a valid environment variable name");
                r.error(v.span(), msg).help = Some("use letters, digits and underscores".into());
            }
        }
    }

    let apt_lists = [&recipe.apt.packages, &recipe.apt.build_packages]
        .into_iter()
        .chain(recipe.targets.values().map(|t| &t.get_ref().packages));
    for pkg in apt_lists.flatten() {
        if !is_apt_package(pkg.get_ref()) {
            let msg = format!("`{}` is not a Debian package name", pkg.get_ref());
            r.error(pkg.span(), msg).help =
                Some("package names are lower case, e.g. \"libpq5\" or \"curl=7.88.1-10\"".into());
        }
    }
    for list in [&recipe.apt.packages, &recipe.apt.build_packages] {
        let mut seen = BTreeMap::new();
        for pkg in list {
            if seen.insert(pkg.get_ref().clone(), pkg.span()).is_some() {
                let msg = format!("apt package `{}` is listed twice", pkg.get_ref());
                r.error(pkg.span(), msg).help = Some("remove one of them".into());
            }
        }
    }
    let images = [
        (&recipe.image.base, "[image] base"),
        (&recipe.python.uv_image, "[python] uv-image"),
    ];
    for (image, key) in images {
        if let Some(image) = image
            && let Err(e) = ImageRef::parse(image.get_ref())
        {
            let msg = format!(
                "{key} `{}` is not a valid image reference: {e}",
                image.get_ref()
            );
            r.error(image.span(), msg).help = Some(
                "write a reference as for `docker pull`, e.g. \"python:3.12-slim\" or \"ghcr.io/astral-sh/uv:0.9\""
                    .into(),
            );
        }
    }
    let py = &recipe.python;
    if *py.manager.get_ref() == Manager::Pip {
        let uv_only = [
            (py.groups.first().map(Spanned::span), "groups"),
            (py.uv.as_ref().map(Spanned::span), "uv"),
            (py.uv_image.as_ref().map(Spanned::span), "uv-image"),
        ];
        for (span, key) in uv_only {
            if let Some(span) = span {
                let msg = format!("`{key}` needs manager = \"uv\", but the recipe says \"pip\"");
                r.error(span, msg).help =
                    Some("remove the key, or use manager = \"uv\" with a uv.lock".into());
            }
        }
    }
    if let (Some(uv), Some(image)) = (&py.uv, &py.uv_image) {
        let _ = uv;
        r.error(image.span(), "`uv` and `uv-image` both say where uv comes from")
            .help = Some("keep `uv = \"<version>\"` (from PyPI) or `uv-image` (copies /uv from that image), not both".into());
    }
    if py.all_extras && !py.extras.is_empty() {
        r.error(
            py.extras[0].span(),
            "`extras` is redundant with all-extras = true",
        )
        .help = Some("remove one of them".into());
    }
    let locked = |m: Manager| match m {
        Manager::Uv => Some(("uv", "uv.lock")),
        Manager::Poetry => Some(("Poetry", "poetry.lock")),
        Manager::Pylock => Some(("pylock", "pylock.toml")),
        Manager::Auto | Manager::Pip => None,
    };
    if let Some(reqs) = &py.requirements
        && let Some((who, file)) = locked(*py.manager.get_ref())
    {
        r.error(
            reqs.span(),
            format!(
                "`requirements` is for pip projects, but manager = \"{}\"",
                py.manager.get_ref().key()
            ),
        )
        .help = Some(format!(
            "{who} projects install from {file}; remove `requirements` or use manager = \"pip\""
        ));
    }
    if let Some(lock) = &py.lock {
        match Manager::of_lock_file(lock.get_ref()) {
            None => {
                let msg = format!("`{}` is not a lock file pycache reads", lock.get_ref());
                r.error(lock.span(), msg).help = Some(
                    "name a lock at the root of the context: \"uv.lock\", \"poetry.lock\", \"pylock.toml\" or \"pylock.<name>.toml\"".into(),
                );
            }
            Some(m) if ![Manager::Auto, m].contains(py.manager.get_ref()) => {
                let msg = format!(
                    "lock = \"{}\" is a {} lock, but manager = \"{}\"",
                    lock.get_ref(),
                    m.key(),
                    py.manager.get_ref().key()
                );
                r.error(lock.span(), msg).help =
                    Some("remove `manager`: the lock file says which it is".into());
            }
            Some(_) => {}
        }
        if let Some(reqs) = &py.requirements {
            r.error(
                reqs.span(),
                "`requirements` and `lock` both say what to install",
            )
            .help = Some("keep one of them".into());
        }
    }
    for pattern in recipe
        .source_files
        .include
        .iter()
        .chain(&recipe.source_files.exclude)
    {
        if let Err(e) = globset::Glob::new(pattern.get_ref()) {
            let msg = format!("invalid glob `{}`: {}", pattern.get_ref(), e.kind());
            r.error(pattern.span(), msg).help =
                Some("write a glob relative to the context, e.g. \"src/**\" or \"*.md\"".into());
        }
    }
    for (name, target) in &recipe.targets {
        let valid = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if name == RUNTIME_TARGET || !valid {
            let msg = if valid {
                format!("`{RUNTIME_TARGET}` is the default target and cannot be redefined")
            } else {
                format!("`{name}` is not a valid target name")
            };
            r.error(target.span(), msg).help =
                Some("name targets with letters, digits, `-` and `_`, e.g. [targets.dev]".into());
        }
    }
}

/// Secret ids uv and the shell can use, index URLs without credentials, one secret per index,
/// user names that fit basic auth and a netrc.
fn validate_index_secrets(secrets: &BTreeMap<String, Sp<IndexSecret>>, r: &mut Reader) {
    let mut by_env_name: BTreeMap<String, &str> = BTreeMap::new();
    let mut by_url: BTreeMap<String, &str> = BTreeMap::new();
    for (id, secret) in secrets {
        if !is_secret_id(id) {
            let msg = format!("`{id}` is not a usable secret id");
            r.error(secret.span(), msg).help = Some(
                "name the secret with letters, digits, `-`, `_` and `.` (at most 64, a letter or digit first), e.g. \"pypi-internal\", and pass it as --secret id=pypi-internal,…".into(),
            );
            continue;
        }
        if let Some(other) = by_env_name.insert(uv_index_env_name(id), id) {
            let msg = format!(
                "index secrets `{other}` and `{id}` give uv the same variables (UV_INDEX_{}_PASSWORD)",
                uv_index_env_name(id)
            );
            r.error(secret.span(), msg).help =
                Some("rename one of them: uv names an index's variables in upper case, with `_` for `-` and `.`".into());
        }
        let IndexSecret { url, username } = secret.get_ref();
        if let Some((msg, help)) = index_url_problem("url", url.get_ref()) {
            let d = r.error(url.span(), msg);
            d.help = Some(help);
            d.redact_credentials();
        } else if let Some(other) = by_url.insert(normalize_index_url(url.get_ref()), id) {
            let msg = format!(
                "index secrets `{other}` and `{id}` are both for {}",
                url.get_ref()
            );
            r.error(url.span(), msg).help =
                Some("an index has one password: keep one of them".into());
        }
        if let Some(user) = username {
            let bad = user.get_ref().is_empty()
                || user
                    .get_ref()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "\"\\:#".contains(c));
            if bad {
                let msg = format!("username `{}` cannot be sent to an index", user.get_ref());
                r.error(user.span(), msg).help = Some(
                    "basic auth and netrc files take a user name without spaces, quotes, backslashes, `#` or `:`; remove `username` for a token (sent as __token__)".into(),
                );
            }
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn undeclared_build_args_are_reported_and_buildkits_own_are_not() {
        let text = "[args]\nVERSION = \"1\"\n";
        let given: BTreeMap<String, String> = [
            "VERSION",
            "TYPO",
            "",
            "BUILDKIT_SYNTAX",
            "SOURCE_DATE_EPOCH",
            "http_proxy",
        ]
        .iter()
        .map(|k| ((*k).to_owned(), "x".to_owned()))
        .collect();
        let recipe = parse("pycache.toml", text, &given).unwrap();
        assert_eq!(unused_build_args(&recipe, &given), ["", "TYPO"]);
    }

    #[test]
    fn users_are_posix_names_root_or_numeric() {
        for ok in ["app", "_svc", "a-b_1", "root", "0", "1000:1000"] {
            assert_eq!(check_user(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_user("app:staff"), Err(UserProblem::NamedGroup));
        for bad in [
            "-o",
            "--help",
            "..",
            "a/b",
            "App",
            "",
            "1000:x",
            &"a".repeat(33),
        ] {
            assert_eq!(check_user(bad), Err(UserProblem::NotAName), "{bad}");
        }
    }

    #[test]
    fn index_secrets_name_a_url_and_a_user() {
        let text = "[python.index-secrets]\ncorp = { url = \"https://pypi.corp.example/simple\", username = \"deploy\" }\ntoken = { url = \"https://gitlab.example/api/v4/projects/1/packages/pypi/simple\" }\n";
        let r = parse("pycache.toml", text, &BTreeMap::new()).unwrap();
        let s = &r.python.index_secrets;
        assert_eq!(s.len(), 2);
        assert_eq!(s["corp"].get_ref().username(), "deploy");
        assert_eq!(s["token"].get_ref().username(), DEFAULT_INDEX_USERNAME);
        assert_eq!(uv_index_env_name("corp-pypi.v2"), "CORP_PYPI_V2");
    }

    #[test]
    fn index_secrets_are_checked() {
        let cases = [
            (
                "\"a b\" = { url = \"https://h.example/simple\" }",
                "`a b` is not a usable secret id",
            ),
            (
                "corp = \"https://h.example/simple\"",
                "index secret `corp` must be a table",
            ),
            (
                "corp = { username = \"x\" }",
                "index secret `corp` has no `url`",
            ),
            (
                "corp = { url = \"https://h.example/simple\", user = \"x\" }",
                "unknown key `user` in [python.index-secrets.corp]",
            ),
            (
                "corp = { url = \"https://u:hunter2@h.example/simple\" }",
                "url `https://***@h.example/simple` has credentials in it",
            ),
            (
                "corp = { url = \"https://h.example/simple\", username = \"a:b\" }",
                "username `a:b` cannot be sent to an index",
            ),
            (
                "a-b = { url = \"https://h.example/simple\" }\n\"a.b\" = { url = \"https://i.example/simple\" }",
                "give uv the same variables (UV_INDEX_A_B_PASSWORD)",
            ),
            (
                "a = { url = \"https://h.example/simple\" }\nb = { url = \"https://h.example/simple/\" }",
                "index secrets `a` and `b` are both for",
            ),
        ];
        for (entries, want) in cases {
            let text = format!("[python.index-secrets]\n{entries}\n");
            let err = parse("pycache.toml", &text, &BTreeMap::new())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{entries}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn a_refused_url_is_not_shown_with_its_password() {
        let text = "[python]\nindex-url = \"https://bob:hunter2@pypi.example.com/simple\"\n";
        let err = parse("pycache.toml", text, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains("2 | index-url = \"https://***@pypi.example.com/simple\""),
            "{err}"
        );
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_userinfo("https://bob:pw@h.example/simple?x=@").as_deref(),
            Some("https://***@h.example/simple?x=@")
        );
        assert_eq!(redact_userinfo("https://h.example/a@b"), None);
    }
}
