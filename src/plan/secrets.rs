//! Private index credentials (`[python.index-secrets]`): which steps get which `--secret`, and
//! the shell lines that hand a mounted secret to uv or pip. The password exists only in the
//! file BuildKit mounts for the step and in that step's processes: the LLB, the cache keys,
//! the image, its history and the provenance hold the secret's id, the index URL and the user
//! name, never the value. BuildKit does not key a step on a secret's content, so a new
//! password re-runs nothing.
//!
//! - uv: the index is named after the secret (`--default-index=<id>=<url>`) and the step
//!   exports uv's own `UV_INDEX_<ID>_PASSWORD`, read from the secret file
//!   (`UV_INDEX_<ID>_USERNAME` is in the step's environment: it is not a secret).
//! - pip: the step writes a netrc on its tmpfs `/tmp` and points `NETRC` at it; pip reads it
//!   for every URL of that host (index pages, files, `--index-url` lines of requirements files).
//!
//! Only the steps that install from an index get a secret: the dependency layers and the
//! project (uv: only those whose indexes include the secret's), never apt, the user, the venv
//! or the check.

use super::{SecretMount, shell};
use crate::recipe::{self, IndexSecret, Recipe};

/// Where BuildKit mounts a step's secrets, as `RUN --mount=type=secret` does.
pub const SECRETS_DIR: &str = "/run/secrets";

/// Where a pip step writes its netrc: `/tmp` is a tmpfs in every step, never in a layer.
const NETRC: &str = "/tmp/pycache-netrc";

/// What a step needs to log in to private indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Credentials {
    /// Shell lines to run first (after `set -eu`).
    pub script: String,
    /// Environment of the step: user names only.
    pub env: Vec<(String, String)>,
    pub mounts: Vec<SecretMount>,
}

impl Credentials {
    /// `env` with these credentials' variables, sorted.
    pub fn env_with(&self, env: &[(String, String)]) -> Vec<(String, String)> {
        let mut env = env.to_vec();
        env.extend(self.env.iter().cloned());
        env.sort();
        env
    }
}

/// The recipe's index secrets, by id.
fn all(recipe: &Recipe) -> impl Iterator<Item = (&str, &IndexSecret)> {
    recipe
        .python
        .index_secrets
        .iter()
        .map(|(id, s)| (id.as_str(), s.get_ref()))
}

/// The secrets of the indexes among `urls`, by id.
fn for_urls<'r>(recipe: &'r Recipe, urls: &[&str]) -> Vec<(&'r str, &'r IndexSecret)> {
    let urls: Vec<String> = urls
        .iter()
        .map(|u| recipe::normalize_index_url(u))
        .collect();
    all(recipe)
        .filter(|(_, s)| urls.contains(&recipe::normalize_index_url(s.url.get_ref())))
        .collect()
}

/// The recipe's own index URLs (`index-url`, `extra-index-urls`).
pub(super) fn recipe_urls(recipe: &Recipe) -> Vec<&str> {
    recipe
        .python
        .index_url
        .iter()
        .chain(&recipe.python.extra_index_urls)
        .map(|u| u.get_ref().as_str())
        .collect()
}

/// An index as uv takes it on its command line or in `UV_DEFAULT_INDEX`/`UV_INDEX`: named
/// after its secret (`<id>=<url>`, so that uv reads `UV_INDEX_<ID>_*`), else the bare URL.
pub(super) fn uv_index(recipe: &Recipe, url: &str) -> String {
    match for_urls(recipe, &[url]).first() {
        Some((id, _)) => format!("{id}={url}"),
        None => url.to_owned(),
    }
}

/// uv's credentials for the indexes among `urls`.
pub(super) fn uv(recipe: &Recipe, urls: &[&str]) -> Credentials {
    let mut c = Credentials::default();
    for (id, secret) in for_urls(recipe, urls) {
        let name = recipe::uv_index_env_name(id);
        let file = mount(&mut c, id, secret);
        c.env.push((
            format!("UV_INDEX_{name}_USERNAME"),
            secret.username().to_owned(),
        ));
        c.script.push_str(&format!(
            "UV_INDEX_{name}_PASSWORD=$(cat {file})\nexport UV_INDEX_{name}_PASSWORD\n"
        ));
    }
    c
}

/// pip's credentials: a netrc with every index secret, one line per host (the first secret by
/// id wins a host). pip may read any index the requirements files name, so every secret.
pub(super) fn pip(recipe: &Recipe) -> Credentials {
    let mut c = Credentials::default();
    let secrets: Vec<_> = all(recipe).collect();
    if secrets.is_empty() {
        return c;
    }
    c.script.push_str(&format!(
        ": > {NETRC}\nchmod 600 {NETRC}\nexport NETRC={NETRC}\n"
    ));
    for (id, secret) in secrets {
        let file = mount(&mut c, id, secret);
        let unfit = shell::quote(&format!(
            "pycache: secret `{id}` has spaces, quotes or backslashes, which a netrc file cannot hold: pip reads index passwords from one"
        ));
        c.script.push_str(&format!(
            "p=$(cat {file})\ncase $p in *[[:space:]]*|*'\"'*|*'\\'*|'#'*) echo {unfit} >&2; exit 1;; esac\nprintf 'machine %s login %s password %s\\n' {} {} \"$p\" >> {NETRC}\nunset p\n",
            shell::quote(host(secret.url.get_ref())),
            shell::quote(secret.username()),
        ));
    }
    c
}

/// Mounts secret `id` in `c` and adds the check that the build was given it; returns the file.
fn mount(c: &mut Credentials, id: &str, secret: &IndexSecret) -> String {
    let target = format!("{SECRETS_DIR}/{id}");
    let file = shell::quote(&target);
    let url = secret.url.get_ref();
    let missing = shell::quote(&format!(
        "pycache: installing from {url} needs the secret `{id}` (its password or token), which this build was not given: pass --secret id={id},env=VARIABLE or --secret id={id},src=FILE to docker buildx build"
    ));
    let empty = shell::quote(&format!(
        "pycache: the secret `{id}` (the password or token of {url}) is empty: pass --secret id={id},env=VARIABLE with VARIABLE set, or --secret id={id},src=FILE"
    ));
    c.script.push_str(&format!(
        "[ -e {file} ] || {{ echo {missing} >&2; exit 1; }}\n[ -s {file} ] || {{ echo {empty} >&2; exit 1; }}\n"
    ));
    c.mounts.push(SecretMount {
        id: id.to_owned(),
        target,
    });
    file
}

/// The host of an index URL, as a netrc's `machine` names it (no port, no user).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(authority, |(h, _)| h),
        None => authority.split(':').next().unwrap_or(authority),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(text: &str) -> Recipe {
        recipe::parse("pycache.toml", text, &Default::default()).unwrap()
    }

    const TWO: &str = r#"
[python.index-secrets]
corp = { url = "https://pypi.corp.example/simple/", username = "deploy" }
"other.idx" = { url = "http://10.0.0.1:8080/simple" }
"#;

    #[test]
    fn uv_names_the_indexes_that_have_a_secret() {
        let r = recipe(TWO);
        assert_eq!(
            uv_index(&r, "https://pypi.corp.example/simple"),
            "corp=https://pypi.corp.example/simple"
        );
        assert_eq!(
            uv_index(&r, "https://pypi.org/simple"),
            "https://pypi.org/simple"
        );
        let c = uv(
            &r,
            &["http://10.0.0.1:8080/simple/", "https://pypi.org/simple"],
        );
        assert_eq!(c.mounts.len(), 1);
        assert_eq!(c.mounts[0].target, "/run/secrets/other.idx");
        assert_eq!(
            c.env,
            [("UV_INDEX_OTHER_IDX_USERNAME".into(), "__token__".into())]
        );
        assert!(c.script.contains(
            "UV_INDEX_OTHER_IDX_PASSWORD=$(cat /run/secrets/other.idx)\nexport UV_INDEX_OTHER_IDX_PASSWORD\n"
        ));
        assert_eq!(uv(&r, &["https://pypi.org/simple"]), Credentials::default());
    }

    #[test]
    fn pip_gets_a_netrc_of_every_secret() {
        let c = pip(&recipe(TWO));
        assert_eq!(c.mounts.len(), 2);
        assert!(c.env.is_empty());
        assert!(c.script.contains("export NETRC=/tmp/pycache-netrc\n"));
        assert!(c.script.contains(
            "printf 'machine %s login %s password %s\\n' pypi.corp.example deploy \"$p\" >> /tmp/pycache-netrc"
        ));
        assert!(c.script.contains("' 10.0.0.1 __token__ \"$p\""));
        assert_eq!(pip(&recipe("")), Credentials::default());
    }

    #[test]
    fn a_missing_secret_is_named_with_the_flag_to_pass() {
        let c = uv(&recipe(TWO), &["https://pypi.corp.example/simple"]);
        assert!(c.script.starts_with("[ -e /run/secrets/corp ] || { echo 'pycache: installing from https://pypi.corp.example/simple/ needs the secret `corp`"));
        assert!(c.script.contains("pass --secret id=corp,env=VARIABLE or --secret id=corp,src=FILE to docker buildx build' >&2; exit 1; }\n"));
    }

    /// The plan of golden case `case` with apt packages of both kinds added: each step's id
    /// and the ids of the secrets it mounts.
    fn mounted(case: &str) -> Vec<(super::super::StepId, Vec<String>)> {
        let plan = crate::testing::case_plan(
            case,
            "\n[apt]\npackages = [\"libpq5\"]\nbuild-packages = [\"gcc\"]\n",
        );
        plan.steps()
            .map(|step| {
                let ids = match &step.action {
                    super::super::Action::Run(run) => {
                        run.secrets.iter().map(|s| s.id.clone()).collect()
                    }
                    _ => Vec::new(),
                };
                (step.id, ids)
            })
            .collect()
    }

    #[test]
    fn only_the_steps_installing_from_an_index_get_its_secret() {
        use super::super::StepId;
        let uv = mounted("uv-private-index");
        let with: Vec<_> = uv.iter().filter(|(_, ids)| !ids.is_empty()).collect();
        // idna comes through the mirror, six from the company's index; the project's build
        // backend through the mirror.
        assert_eq!(
            with.iter()
                .map(|(id, ids)| (*id, ids.join(",")))
                .collect::<Vec<_>>(),
            [
                (StepId::Dependencies(0), "mirror".into()),
                (StepId::Dependencies(1), "corp,mirror".into()),
                (StepId::Project, "mirror".into()),
            ]
        );
        for id in [
            StepId::AptRuntime,
            StepId::AptBuild,
            StepId::User,
            StepId::Uv,
            StepId::Venv,
            StepId::Check,
        ] {
            assert!(
                uv.iter().any(|(s, ids)| *s == id && ids.is_empty()),
                "{id:?}: {uv:?}"
            );
        }
        let pip = mounted("pip-private-index");
        for (id, ids) in &pip {
            let installs = matches!(id, StepId::Dependencies(_) | StepId::Project);
            assert_eq!(ids.is_empty(), !installs, "{id:?}: {pip:?}");
        }
        assert!(pip.iter().any(|(id, _)| *id == StepId::Dependencies(1)));
    }

    #[test]
    fn netrc_hosts_have_no_port_or_user() {
        assert_eq!(
            host("https://pypi.corp.example/simple"),
            "pypi.corp.example"
        );
        assert_eq!(host("http://10.0.0.1:8080/simple"), "10.0.0.1");
        assert_eq!(host("http://[::1]:8080/simple"), "::1");
        assert_eq!(host("https://h.example"), "h.example");
    }
}
