//! What a parsed recipe must also be: names the tools and the shell take safely, a workdir and
//! user that cannot escape, index URLs without credentials, consistent index secrets.

use super::*;

pub(super) fn is_identifier(s: &str) -> bool {
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
pub(super) enum UserProblem {
    /// `name:group`, or a name with a group: pycache creates the user and its group itself.
    NamedGroup,
    /// Not a POSIX user name (letters, digits, `_`, `-`, not first; at most 32).
    NotAName,
}

pub(super) fn check_user(s: &str) -> Result<(), UserProblem> {
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
pub(super) fn validate(recipe: &Recipe, r: &mut Reader) {
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
    validate_ssh(&recipe.python, r);
    validate_find_links(&recipe.python.find_links, r);
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

/// Context names buildx can pass and a mount path can hold, each once, none of BuildKit's own.
fn validate_find_links(links: &[super::FindLinks], r: &mut Reader) {
    let mut contexts: BTreeMap<&str, ()> = BTreeMap::new();
    let mut dirs: BTreeMap<&str, &str> = BTreeMap::new();
    for link in links {
        let name = link.context.get_ref().as_str();
        if !is_context_name(name) {
            let msg = format!("`{name}` is not a usable build context name");
            r.error(link.context.span(), msg).help = Some(
                "name the context with letters, digits, `-`, `_` and `.` (at most 64, a letter or digit first), e.g. \"wheels\", and pass it as --build-context wheels=DIR".into(),
            );
            continue;
        }
        if super::RESERVED_CONTEXTS.contains(&name) {
            let msg = format!("`{name}` is the name of BuildKit's own {name} local");
            r.error(link.context.span(), msg).help =
                Some("give the directory of wheels a name of its own, e.g. \"wheels\"".into());
            continue;
        }
        if contexts.insert(name, ()).is_some() {
            let msg = format!("build context `{name}` is in find-links twice");
            r.error(link.context.span(), msg).help = Some("remove one of them".into());
            continue;
        }
        if link.lock_dir.contains("://") || link.lock_dir.starts_with('/') {
            let msg = format!(
                "`{}` is not a directory the lock can name: find-links maps a build context to a local directory, relative to the project",
                link.lock_dir
            );
            r.error(link.context.span(), msg).help = Some(
                "write the directory as uv.lock's `source = { registry = \"…\" }` of the package says it, e.g. \"wheels\" or \"../vendor/wheels\"".into(),
            );
            continue;
        }
        if let Some(other) = dirs.insert(&link.lock_dir, name) {
            let msg = format!(
                "build contexts `{other}` and `{name}` both serve the directory `{}`",
                link.lock_dir
            );
            r.error(link.context.span(), msg).help =
                Some("a directory comes from one context: keep one of them".into());
        }
    }
}

/// A named build context's name as pycache takes it: a word no shell, mount path or buildx
/// flag interprets.
pub(super) fn is_context_name(s: &str) -> bool {
    s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
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

/// Key types a `known-hosts` line may name: OpenSSH's host key algorithms.
const HOST_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// What is wrong with a `known_hosts` line (`[marker] hosts key-type base64 [comment]`), if
/// anything: it reaches a file ssh reads, so it must be one line ssh reads as a key.
pub fn known_hosts_problem(line: &str) -> Option<String> {
    if line.chars().any(char::is_control) {
        return Some(
            "it has a newline or another control character: give one line per entry".into(),
        );
    }
    let mut fields = line.split_whitespace();
    let mut hosts = fields.next()?;
    if matches!(hosts, "@cert-authority" | "@revoked") {
        hosts = fields.next().unwrap_or("");
    }
    let (Some(kind), Some(key)) = (fields.next(), fields.next()) else {
        return Some("it is not `HOST KEY-TYPE KEY`, as ssh-keyscan prints it".into());
    };
    if hosts.is_empty() || hosts.starts_with('#') {
        return Some("it names no host".into());
    }
    if !HOST_KEY_TYPES.contains(&kind) {
        return Some(format!(
            "`{kind}` is not an SSH host key type ({})",
            HOST_KEY_TYPES.join(", ")
        ));
    }
    let base64 = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    if !base64 || key.len() < 16 {
        return Some("its key is not base64".into());
    }
    None
}

/// `ssh` is an id `--ssh` takes; `known-hosts` lines are keys ssh reads.
pub(super) fn validate_ssh(python: &PythonSection, r: &mut Reader) {
    if let Some(id) = &python.ssh
        && !is_secret_id(id.get_ref())
    {
        let msg = format!("`{}` is not a usable --ssh id", id.get_ref());
        r.error(id.span(), msg).help = Some(
            "name it with letters, digits, `-`, `_` and `.` (at most 64, a letter or digit first), e.g. \"deploy-key\", and pass --ssh deploy-key=$SSH_AUTH_SOCK".into(),
        );
    }
    for line in &python.known_hosts {
        if let Some(why) = known_hosts_problem(line.get_ref()) {
            let msg = format!(
                "known-hosts line `{}` cannot be used: {why}",
                line.get_ref()
            );
            r.error(line.span(), msg).help = Some(
                "give each host key as ssh-keyscan prints it, e.g. \"git.example.com ssh-ed25519 AAAAC3Nza…\" or \"[git.example.com]:2222 ssh-ed25519 AAAA…\", after checking its fingerprint (ssh-keygen -lf) against the one the server's operator publishes".into(),
            );
        }
    }
}
