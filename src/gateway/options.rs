//! The frontend's options, as BuildKit hands them over: only through the environment, as
//! `BUILDKIT_FRONTEND_OPT_<i>=<key>=<value>` (i in random order) plus `BUILDKIT_SESSION_ID` and
//! `BUILDKIT_WORKERS`. Parsed once, up front, into a typed [`FrontendOptions`], so a bad option
//! fails the build before any work and nothing later reads the environment.
//!
//! Keys follow moby/buildkit `frontend/dockerui/config.go` (what buildx and buildctl send).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::pb;
use crate::DEFAULT_RECIPE;
pub use crate::lower::NoCache;
use crate::platform::Platform;

const OPT_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";
const SESSION_ENV: &str = "BUILDKIT_SESSION_ID";
const WORKERS_ENV: &str = "BUILDKIT_WORKERS";

/// A worker of the daemon, from `BUILDKIT_WORKERS` (Go `client.WorkerInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Worker {
    pub id: String,
    pub platforms: Vec<Platform>,
}

/// Everything the daemon told the frontend, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontendOptions {
    /// `filename`: the recipe's name inside the `dockerfile` local (buildx sends the basename
    /// of `-f`, and `Dockerfile` when there is no `-f`).
    pub filename: String,
    /// `target`; empty for the default (runtime) image.
    pub target: String,
    /// `build-arg:NAME`.
    pub build_args: BTreeMap<String, String>,
    /// `label:NAME`, merged into the image config's `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `platform`, normalised; empty when not given (then [`Self::default_platform`]).
    pub platforms: Vec<Platform>,
    /// The first worker's first platform, else the host's.
    pub default_platform: Platform,
    /// `multi-platform` (or `build-arg:BUILDKIT_MULTI_PLATFORM`), or more than one platform:
    /// return a map of refs keyed by platform.
    pub multi_platform: bool,
    /// `image-resolve-mode`: `pull` or `local`; `None` for the default.
    pub image_resolve_mode: Option<String>,
    /// `cache-imports` (JSON) followed by the legacy `cache-from` refs: sent with every Solve.
    pub cache_imports: Vec<pb::CacheOptionsEntry>,
    /// `context:NAME` → the named context's source (not used yet).
    pub named_contexts: BTreeMap<String, String>,
    /// `local-sessionid:NAME` → the session owning local `NAME`.
    pub local_sessions: BTreeMap<String, String>,
    /// `requestid`: a `--call` subrequest such as `frontend.targets`.
    pub request_id: Option<String>,
    /// `frontend.caps`, comma-separated.
    pub frontend_caps: Vec<String>,
    pub no_cache: NoCache,
    /// `attest:sbom` (`--sbom=true`), unless it says `disabled=true`: attach an SBOM.
    pub sbom: bool,
    /// `contextsubdir` (only for non-local contexts; not used yet).
    pub context_subdir: Option<String>,
    /// `BUILDKIT_SESSION_ID`.
    pub session_id: String,
    /// `BUILDKIT_WORKERS`.
    pub workers: Vec<Worker>,
    /// Every `BUILDKIT_FRONTEND_OPT_*` key and value, including those not interpreted here.
    pub raw: BTreeMap<String, String>,
}

/// An option that cannot be understood; the build fails before it starts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid frontend option `{key}`: {message}")]
pub struct OptionsError {
    pub key: String,
    pub message: String,
}

impl OptionsError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Go's `ocispecs.Platform` JSON (only the fields pycache uses).
#[derive(Deserialize)]
struct OciPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: String,
}

/// Go's `client.WorkerInfo` JSON: no json tags, so the field names are capitalised.
#[derive(Deserialize)]
struct WorkerJson {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Platforms", default)]
    platforms: Option<Vec<OciPlatform>>,
}

/// Go's `CacheOptionsEntry` JSON, as in `cache-imports`.
#[derive(Deserialize)]
struct CacheEntryJson {
    #[serde(rename = "Type", alias = "type", default)]
    kind: String,
    #[serde(rename = "Attrs", alias = "attrs", default)]
    attrs: Option<BTreeMap<String, String>>,
}

impl FrontendOptions {
    /// Parses the process environment, given as `(name, value)` pairs (e.g. `std::env::vars()`);
    /// unrelated variables are ignored.
    pub fn from_env<I, K, V>(vars: I) -> Result<Self, OptionsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // Indices are random but keys are unique; sort by index anyway so that a repeated key
        // resolves the same way every time.
        let mut numbered: Vec<(u64, String, String)> = Vec::new();
        let mut session_id = String::new();
        let mut workers_json = None;
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            if let Some(index) = name.strip_prefix(OPT_PREFIX) {
                let index = index.parse().unwrap_or(u64::MAX);
                let (key, val) = value.split_once('=').unwrap_or((value, ""));
                numbered.push((index, key.to_owned(), val.to_owned()));
            } else if name == SESSION_ENV {
                session_id = value.to_owned();
            } else if name == WORKERS_ENV {
                workers_json = Some(value.to_owned());
            }
        }
        numbered.sort();
        let raw: BTreeMap<String, String> = numbered.into_iter().map(|(_, k, v)| (k, v)).collect();
        let workers = match workers_json.as_deref() {
            Some(json) if !json.trim().is_empty() => parse_workers(json)?,
            _ => Vec::new(),
        };
        Self::from_options(raw, session_id, workers)
    }

    /// Interprets the raw `key → value` options.
    pub fn from_options(
        raw: BTreeMap<String, String>,
        session_id: String,
        workers: Vec<Worker>,
    ) -> Result<Self, OptionsError> {
        let prefixed = |prefix: &str| -> BTreeMap<String, String> {
            raw.iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone())))
                .collect()
        };
        let get = |key: &str| raw.get(key).map(String::as_str);

        let filename = match get("filename") {
            Some(f) if !f.is_empty() => f.to_owned(),
            _ => DEFAULT_RECIPE.to_owned(),
        };

        let platforms = match get("platform") {
            Some(list) if !list.trim().is_empty() => parse_platforms(list)?,
            _ => Vec::new(),
        };
        let default_platform = workers
            .iter()
            .find_map(|w| w.platforms.first().cloned())
            .unwrap_or_else(Platform::host);

        let mut multi_platform = platforms.len() > 1;
        let multi_key = if get("build-arg:BUILDKIT_MULTI_PLATFORM").is_some_and(|v| !v.is_empty()) {
            "build-arg:BUILDKIT_MULTI_PLATFORM"
        } else {
            "multi-platform"
        };
        if let Some(v) = get(multi_key).filter(|v| !v.is_empty()) {
            let b = parse_bool(v)
                .ok_or_else(|| OptionsError::new(multi_key, format!("`{v}` is not a boolean")))?;
            if !b && multi_platform {
                return Err(OptionsError::new(
                    multi_key,
                    "false, but several target platforms were requested",
                ));
            }
            multi_platform = b;
        }

        let image_resolve_mode = match get("image-resolve-mode") {
            None | Some("") | Some("default") => None,
            Some(m @ ("pull" | "local")) => Some(m.to_owned()),
            Some(other) => {
                return Err(OptionsError::new(
                    "image-resolve-mode",
                    format!("`{other}` is not one of default, pull, local"),
                ));
            }
        };

        let mut cache_imports = match get("cache-imports") {
            Some(json) if !json.trim().is_empty() => parse_cache_imports(json)?,
            _ => Vec::new(),
        };
        if let Some(list) = get("cache-from") {
            for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                cache_imports.push(pb::CacheOptionsEntry {
                    r#type: "registry".into(),
                    attrs: BTreeMap::from([("ref".to_owned(), r.to_owned())]),
                });
            }
        }

        let no_cache = match get("no-cache") {
            None => NoCache::Off,
            Some("") => NoCache::All,
            Some(list) => NoCache::Stages(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        };

        // CSV of key=value attributes (moby/buildkit `frontend/attestations/parse.go`).
        let sbom = get("attest:sbom").is_some_and(|attrs| {
            !attrs.split(',').any(|kv| {
                let kv = kv.trim().trim_matches('"');
                kv.split_once('=')
                    .is_some_and(|(k, v)| k == "disabled" && parse_bool(v).unwrap_or(false))
            })
        });
        let non_empty = |key: &str| get(key).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(Self {
            filename,
            target: get("target").unwrap_or("").to_owned(),
            build_args: prefixed("build-arg:"),
            labels: prefixed("label:"),
            platforms,
            default_platform,
            multi_platform,
            image_resolve_mode,
            cache_imports,
            named_contexts: prefixed("context:"),
            local_sessions: prefixed("local-sessionid:"),
            request_id: non_empty("requestid"),
            frontend_caps: get("frontend.caps")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            no_cache,
            sbom,
            context_subdir: non_empty("contextsubdir"),
            session_id,
            workers,
            raw,
        })
    }

    /// The platforms to build: those asked for, else the default one.
    pub fn target_platforms(&self) -> Vec<Platform> {
        if self.platforms.is_empty() {
            vec![self.default_platform.clone()]
        } else {
            self.platforms.clone()
        }
    }

    /// The session that owns local `name`: `local-sessionid:NAME`, else the build's session.
    pub fn session_for(&self, name: &str) -> String {
        self.local_sessions
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.session_id.clone())
    }

    /// `ResolveImageConfigRequest.ResolveMode`: `default`, `pull` or `local`.
    pub fn resolve_mode_name(&self) -> &str {
        self.image_resolve_mode.as_deref().unwrap_or("default")
    }

    /// `SOURCE_DATE_EPOCH` as a build arg (buildx forwards the environment variable this way).
    pub fn source_date_epoch(&self) -> Option<i64> {
        self.build_args
            .get("SOURCE_DATE_EPOCH")
            .and_then(|s| s.trim().parse().ok())
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn parse_platforms(list: &str) -> Result<Vec<Platform>, OptionsError> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    Platform::parse_list(list).map_err(|e| OptionsError::new("platform", e))
}

fn parse_workers(json: &str) -> Result<Vec<Worker>, OptionsError> {
    let workers: Option<Vec<WorkerJson>> = serde_json::from_str(json)
        .map_err(|e| OptionsError::new(WORKERS_ENV, format!("not the expected JSON: {e}")))?;
    Ok(workers
        .unwrap_or_default()
        .into_iter()
        .map(|w| Worker {
            id: w.id,
            platforms: w
                .platforms
                .unwrap_or_default()
                .into_iter()
                // Platforms pycache cannot build for (another OS, an exotic CPU) are not ours
                // to offer; the rest are normalised as BuildKit keys results by them.
                .filter_map(|p| Platform::from_parts(&p.os, &p.architecture, Some(&p.variant)).ok())
                .collect(),
        })
        .collect())
}

fn parse_cache_imports(json: &str) -> Result<Vec<pb::CacheOptionsEntry>, OptionsError> {
    let entries: Option<Vec<CacheEntryJson>> = serde_json::from_str(json).map_err(|e| {
        OptionsError::new(
            "cache-imports",
            format!(
                "expected JSON like [{{\"Type\":\"registry\",\"Attrs\":{{\"ref\":\"…\"}}}}]: {e}"
            ),
        )
    })?;
    Ok(entries
        .unwrap_or_default()
        .into_iter()
        .map(|e| pb::CacheOptionsEntry {
            r#type: e.kind,
            attrs: e.attrs.unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[&str]) -> Vec<(String, String)> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, kv)| (format!("{OPT_PREFIX}{}", 100 - i), (*kv).to_owned()))
            .collect()
    }

    fn linux(arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.map(str::to_owned),
        }
    }

    #[test]
    fn typed_options_from_numbered_env() {
        let mut vars = env(&[
            "filename=app.toml",
            "target=dev",
            "build-arg:SOURCE_DATE_EPOCH=1700000000",
            "build-arg:EMPTY=",
            "build-arg:WITH_EQ=a=b",
            "label:org.example.team=core",
            "platform=linux/arm64",
            "image-resolve-mode=pull",
            "context:base=docker-image://python:3.12",
            "local-sessionid:context=ctx-session",
            "frontend.caps=moby.buildkit.frontend.subrequests+forward",
            "no-cache=",
            "contextsubdir=sub",
        ]);
        vars.push(("BUILDKIT_SESSION_ID".into(), "main-session".into()));
        vars.push(("HOME".into(), "/root".into()));
        let o = FrontendOptions::from_env(vars).unwrap();
        assert_eq!(o.filename, "app.toml");
        assert_eq!(o.target, "dev");
        assert_eq!(o.build_args["EMPTY"], "");
        assert_eq!(o.build_args["WITH_EQ"], "a=b");
        assert_eq!(o.source_date_epoch(), Some(1_700_000_000));
        assert_eq!(o.labels["org.example.team"], "core");
        assert_eq!(o.platforms, vec![linux("arm64", None)]);
        assert_eq!(o.target_platforms(), vec![linux("arm64", None)]);
        assert!(!o.multi_platform);
        assert_eq!(o.image_resolve_mode.as_deref(), Some("pull"));
        assert_eq!(o.resolve_mode_name(), "pull");
        assert_eq!(o.named_contexts["base"], "docker-image://python:3.12");
        assert_eq!(o.session_for("context"), "ctx-session");
        assert_eq!(o.session_for("dockerfile"), "main-session");
        assert_eq!(
            o.frontend_caps,
            vec!["moby.buildkit.frontend.subrequests+forward"]
        );
        assert_eq!(o.no_cache, NoCache::All);
        assert_eq!(o.context_subdir.as_deref(), Some("sub"));
        assert_eq!(o.request_id, None);
        assert!(o.raw.contains_key("filename"));
    }

    #[test]
    fn defaults_without_options() {
        let o = FrontendOptions::from_env(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(o.filename, DEFAULT_RECIPE);
        assert_eq!(o.target, "");
        assert!(o.platforms.is_empty());
        assert_eq!(o.target_platforms(), vec![Platform::host()]);
        assert_eq!(o.image_resolve_mode, None);
        assert_eq!(o.resolve_mode_name(), "default");
        assert!(o.cache_imports.is_empty());
        assert_eq!(o.no_cache, NoCache::Off);
    }

    #[test]
    fn default_platform_is_the_first_workers() {
        let workers = r#"[{"ID":"w0","Labels":{"a":"b"},"Platforms":[{"architecture":"arm64","os":"linux","variant":"v8"},{"architecture":"amd64","os":"linux"}]}]"#;
        let o = FrontendOptions::from_env([("BUILDKIT_WORKERS", workers)]).unwrap();
        assert_eq!(o.workers[0].id, "w0");
        assert_eq!(o.default_platform, linux("arm64", None));
        assert_eq!(o.target_platforms(), vec![linux("arm64", None)]);

        let o = FrontendOptions::from_env([("BUILDKIT_WORKERS", "null")]).unwrap();
        assert_eq!(o.default_platform, Platform::host());
    }

    #[test]
    fn platform_lists_normalise_and_imply_multi_platform() {
        let o = FrontendOptions::from_env(env(&[
            "platform=linux/amd64, linux/arm/v7,linux/aarch64,linux/arm",
        ]))
        .unwrap();
        assert_eq!(
            o.platforms,
            vec![
                linux("amd64", None),
                linux("arm", Some("v7")),
                linux("arm64", None)
            ]
        );
        assert!(o.multi_platform);

        let o = FrontendOptions::from_env(env(&["platform=linux/amd64", "multi-platform=true"]))
            .unwrap();
        assert!(o.multi_platform);

        let err = FrontendOptions::from_env(env(&[
            "platform=linux/amd64,linux/arm64",
            "multi-platform=false",
        ]))
        .unwrap_err();
        assert_eq!(err.key, "multi-platform");

        let err = FrontendOptions::from_env(env(&["platform=linux"])).unwrap_err();
        assert_eq!(err.key, "platform");
    }

    #[test]
    fn cache_imports_json_and_legacy_cache_from() {
        let o = FrontendOptions::from_env(env(&[
            r#"cache-imports=[{"Type":"registry","Attrs":{"ref":"r.example/app:cache"}},{"Type":"gha","Attrs":{"scope":"main"}}]"#,
            "cache-from=r.example/old:cache",
        ]))
        .unwrap();
        let got: Vec<(&str, Vec<(&str, &str)>)> = o
            .cache_imports
            .iter()
            .map(|e| {
                (
                    e.r#type.as_str(),
                    e.attrs
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("registry", vec![("ref", "r.example/app:cache")]),
                ("gha", vec![("scope", "main")]),
                ("registry", vec![("ref", "r.example/old:cache")]),
            ]
        );

        let err = FrontendOptions::from_env(env(&["cache-imports=not json"])).unwrap_err();
        assert_eq!(err.key, "cache-imports");
    }

    #[test]
    fn options_split_at_the_first_equals_and_keep_order_stable() {
        let vars = vec![
            (format!("{OPT_PREFIX}2"), "build-arg:X=second".to_owned()),
            (format!("{OPT_PREFIX}1"), "build-arg:X=first".to_owned()),
            (
                format!("{OPT_PREFIX}0"),
                "requestid=frontend.targets".to_owned(),
            ),
            (
                format!("{OPT_PREFIX}3"),
                "no-cache=builder, runtime".to_owned(),
            ),
        ];
        let o = FrontendOptions::from_env(vars).unwrap();
        assert_eq!(o.build_args["X"], "second");
        assert_eq!(o.request_id.as_deref(), Some("frontend.targets"));
        assert_eq!(
            o.no_cache,
            NoCache::Stages(vec!["builder".into(), "runtime".into()])
        );
    }

    #[test]
    fn sbom_is_asked_for_by_attest_sbom_unless_disabled() {
        let sbom = |opts: &[&str]| FrontendOptions::from_env(env(opts)).unwrap().sbom;
        assert!(!sbom(&[]));
        assert!(sbom(&["attest:sbom="]));
        assert!(sbom(&[
            "attest:sbom=generator=docker/buildkit-syft-scanner"
        ]));
        assert!(!sbom(&["attest:sbom=disabled=true"]));
        assert!(!sbom(&["attest:sbom=\"disabled=true\""]));
        assert!(sbom(&["attest:sbom=disabled=false"]));
    }

    #[test]
    fn bad_values_are_rejected_with_their_key() {
        for (opt, key) in [
            ("image-resolve-mode=always", "image-resolve-mode"),
            ("multi-platform=yes", "multi-platform"),
        ] {
            assert_eq!(FrontendOptions::from_env(env(&[opt])).unwrap_err().key, key);
        }
        let err = FrontendOptions::from_env([("BUILDKIT_WORKERS", "{")]).unwrap_err();
        assert_eq!(err.key, "BUILDKIT_WORKERS");
    }
}
