//! The OCI image config of the result: the base image's config with the plan's env, user,
//! workdir, command, ports, labels and history applied. No wall-clock time: `created` is set
//! only from `SOURCE_DATE_EPOCH`.

use serde_json::{Map, Value, json};

use crate::plan::{Join, Plan};

/// What the base image's config says, as far as the build needs it. Filled from
/// `ResolveImageConfig` by the frontend; the CLI, with no daemon, uses `BaseConfig::default()`.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseConfig {
    pub env: Vec<String>,
    pub workdir: String,
    pub user: String,
    pub shell: Vec<String>,
    /// The whole config as the registry gave it, kept for fields we do not change.
    pub raw: Value,
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Default for BaseConfig {
    fn default() -> Self {
        Self {
            env: vec![format!("PATH={DEFAULT_PATH}")],
            workdir: String::new(),
            user: String::new(),
            shell: Vec::new(),
            raw: json!({}),
        }
    }
}

impl BaseConfig {
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: Value = serde_json::from_slice(bytes)?;
        let config = raw.get("config").cloned().unwrap_or(json!({}));
        let strings = |key: &str| -> Vec<String> {
            config
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let string = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let mut env = strings("Env");
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        Ok(Self {
            env,
            workdir: string("WorkingDir"),
            user: string("User"),
            shell: strings("Shell"),
            raw,
        })
    }

    /// The CPython version the image says it has (`PYTHON_VERSION`, as the official images
    /// set it), if it is a plain release like `3.12.7`.
    pub fn python_version(&self) -> Option<pep508_rs::pep440_rs::Version> {
        let v = self.get_env("PYTHON_VERSION")?;
        let version: pep508_rs::pep440_rs::Version = v.trim().parse().ok()?;
        (version.release().len() >= 2 && !version.any_prerelease()).then_some(version)
    }

    pub fn get_env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
    }
}

/// `env` with `overrides` applied: existing keys replaced in place, new ones appended.
pub fn merge_env(env: &[String], overrides: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = env.to_vec();
    for (k, v) in overrides {
        let entry = format!("{k}={v}");
        match out
            .iter_mut()
            .find(|e| e.split_once('=').map(|(ek, _)| ek) == Some(k))
        {
            Some(slot) => *slot = entry,
            None => out.push(entry),
        }
    }
    out
}

fn history_entry(created_by: String, empty: bool, created: Option<&str>) -> Value {
    let mut h = Map::new();
    if let Some(c) = created {
        h.insert("created".into(), Value::String(c.into()));
    }
    h.insert("created_by".into(), Value::String(created_by));
    h.insert("comment".into(), Value::String("pycache".into()));
    if empty {
        h.insert("empty_layer".into(), Value::Bool(true));
    }
    Value::Object(h)
}

/// RFC 3339 UTC for a Unix time, without a date library: days → civil date (H. Hinnant).
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The image config JSON for `plan` on top of `base`. `source_date_epoch` sets `created`.
pub fn image_config(plan: &Plan, base: &BaseConfig, source_date_epoch: Option<i64>) -> Value {
    let spec = &plan.image;
    let mut env_overrides = spec.env.clone();
    if let Some(prefix) = &spec.path_prefix {
        let path = base.get_env("PATH").unwrap_or(DEFAULT_PATH);
        env_overrides.insert(0, ("PATH".into(), format!("{prefix}:{path}")));
    }
    let env = merge_env(&base.env, &env_overrides);

    let mut root = match &base.raw {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let mut config = root
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    config.insert("Env".into(), json!(env));
    config.insert("WorkingDir".into(), json!(spec.workdir));
    if spec.user.is_empty() {
        config.remove("User");
    } else {
        config.insert("User".into(), json!(spec.user));
    }
    match &spec.entrypoint {
        Some(e) => config.insert("Entrypoint".into(), json!(e)),
        None => config.remove("Entrypoint"),
    };
    match &spec.cmd {
        Some(c) => config.insert("Cmd".into(), json!(c)),
        None => config.remove("Cmd"),
    };
    if !spec.exposed_ports.is_empty() {
        let ports: Map<String, Value> = spec
            .exposed_ports
            .iter()
            .map(|p| (p.clone(), json!({})))
            .collect();
        config.insert("ExposedPorts".into(), Value::Object(ports));
    }
    let mut labels = config
        .get("Labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &spec.labels {
        labels.insert(k.clone(), json!(v));
    }
    if !labels.is_empty() {
        config.insert("Labels".into(), Value::Object(labels));
    }

    let created = source_date_epoch.map(rfc3339);
    let mut history: Vec<Value> = root
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The runtime stage's own steps, then the environment's layers: merged, one per builder
    // step each DiffOp spans (BuildKit keeps the layer chain when lower is an ancestor of
    // upper); copied, one per copy.
    let runtime = plan.runtime.iter().map(|step| step.title.clone());
    let grafted = plan.layers().into_iter().flat_map(|layer| match plan.join {
        Join::Merge => layer
            .steps
            .into_iter()
            .map(|step| step.title.clone())
            .collect(),
        Join::Copy => vec![layer.title],
    });
    for title in runtime.chain(grafted) {
        history.push(history_entry(
            format!("pycache runtime: {title}"),
            false,
            created.as_deref(),
        ));
    }
    history.push(history_entry(
        "pycache: image config (env, user, workdir, command, labels)".into(),
        true,
        created.as_deref(),
    ));

    root.insert("architecture".into(), json!(plan.platform.architecture));
    root.insert("os".into(), json!(plan.platform.os));
    match &plan.platform.variant {
        Some(v) => root.insert("variant".into(), json!(v)),
        None => root.remove("variant"),
    };
    root.insert("config".into(), Value::Object(config));
    root.insert("history".into(), Value::Array(history));
    root.insert("rootfs".into(), json!({"type": "layers", "diff_ids": []}));
    match created {
        Some(c) => root.insert("created".into(), json!(c)),
        None => root.remove("created"),
    };
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn env_overrides_replace_in_place() {
        let env = vec!["PATH=/bin".to_owned(), "LANG=C".to_owned()];
        let out = merge_env(
            &env,
            &[("LANG".into(), "C.UTF-8".into()), ("X".into(), "1".into())],
        );
        assert_eq!(out, vec!["PATH=/bin", "LANG=C.UTF-8", "X=1"]);
    }
}
