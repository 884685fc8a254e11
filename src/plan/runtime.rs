//! The runtime stage's own parts: the user it runs as, and the image config the plan asks for.

use std::collections::BTreeMap;

use super::repro::{mark_start, normalize_since_start, reproducible_env};
use super::select::Selection;
use super::{Action, Run, Stage, Step, StepId, UID, VENV, shell, sorted_unique};
use crate::detect::Project;
use crate::recipe::{self, Recipe};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeUser {
    Root,
    /// Created by the plan with a fixed uid/gid, so files and cache mounts agree across builds.
    Created {
        name: String,
        uid: u32,
    },
    /// Named by the recipe as `uid[:gid]` or an existing name: used as given.
    Existing(String),
}

impl RuntimeUser {
    pub fn config_value(&self) -> String {
        match self {
            RuntimeUser::Root => String::new(),
            RuntimeUser::Created { name, .. } => name.clone(),
            RuntimeUser::Existing(u) => u.clone(),
        }
    }
}

/// The image config the plan asks for, before the base image's config is merged in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSpec {
    /// Variables set by pycache and the recipe, in order; `PATH` is prefixed, not replaced.
    pub env: Vec<(String, String)>,
    pub path_prefix: Option<String>,
    pub workdir: String,
    pub user: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// The runtime user for the recipe's `user` value (`None`: the default).
pub(super) fn user(value: Option<&str>) -> RuntimeUser {
    match value {
        None => RuntimeUser::Created {
            name: recipe::DEFAULT_USER.into(),
            uid: UID,
        },
        Some("root" | "0" | "0:0") => RuntimeUser::Root,
        Some(name) if name.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            RuntimeUser::Existing(name.into())
        }
        Some(name) => RuntimeUser::Created {
            name: name.into(),
            uid: UID,
        },
    }
}

/// Creates the user, when the plan creates one.
pub(super) fn user_step(user: &RuntimeUser) -> Option<Step> {
    let RuntimeUser::Created { name, uid } = user else {
        return None;
    };
    let n = shell::quote(name);
    Some(Step::new(
        StepId::User,
        Stage::Runtime,
        format!("create user {name} ({uid}:{uid})"),
        vec![format!("user name {name}, uid/gid {uid}")],
        "a fixed uid/gid keeps file ownership identical on every builder",
        Action::Run(Run {
            script: format!(
                "set -eu\n{}\ngroupadd --system --gid {uid} {n}\nuseradd --system --uid {uid} --gid {uid} --home-dir /home/{n} --create-home --shell /usr/sbin/nologin {n}\nchage --lastday -1 {n}\n{}",
                mark_start(),
                normalize_since_start(&["/etc", "/home", "/var"])
            ),
            // shadow-utils dates the password's last change (in /etc/shadow, and in the
            // /etc/shadow- backup `chage` leaves) by SOURCE_DATE_EPOCH when set, else by today:
            // without it the layer changes at midnight.
            env: reproducible_env(&[]),
            offline: true,
            ..Default::default()
        }),
    ))
}

pub(super) fn image_spec(
    recipe: &Recipe,
    project: &Project,
    sel: &Selection,
    workdir: &str,
    user: &RuntimeUser,
) -> ImageSpec {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("PYTHONUNBUFFERED".into(), "1".into());
    env.insert("VIRTUAL_ENV".into(), VENV.into());
    for (k, v) in &sel.env {
        env.insert(k.clone(), v.clone());
    }
    let path_prefix = (!env.contains_key("PATH")).then(|| format!("{VENV}/bin"));
    let cmd = match (&sel.cmd, &sel.entrypoint) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(match project.scripts.as_slice() {
            [one] => vec![one.clone()],
            many => match project.name.as_ref().filter(|n| many.contains(n)) {
                Some(n) => vec![n.clone()],
                None => vec!["python".into()],
            },
        }),
    };
    let mut labels: BTreeMap<String, String> = recipe
        .image
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect();
    if let Some(v) = &project.version {
        labels
            .entry("org.opencontainers.image.version".into())
            .or_insert_with(|| v.clone());
    }
    if let Some(n) = &project.name {
        labels
            .entry("org.opencontainers.image.title".into())
            .or_insert_with(|| n.clone());
    }
    ImageSpec {
        env: env.into_iter().collect(),
        path_prefix,
        workdir: workdir.into(),
        user: user.config_value(),
        entrypoint: sel.entrypoint.clone(),
        cmd,
        exposed_ports: sorted_unique(recipe::values(&recipe.image.expose)),
        labels,
    }
}
