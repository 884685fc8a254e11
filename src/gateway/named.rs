//! Named contexts: `docker buildx build --build-context NAME=…` reaches the frontend as the
//! option `context:NAME` (or `context:NAME::<platform>`), valued `local:NAME` (a directory,
//! sent as the local `NAME`), `docker-image://REF`, `oci-layout://…`, `input:…` or a git or
//! HTTP URL (moby/buildkit `frontend/dockerui/namedcontext.go`). pycache takes them where the
//! Dockerfile frontend would: an image the recipe names (`[image] base`, `[python] uv-image`)
//! is replaced by a context of its name, as `FROM` is; and `[python] find-links` names the
//! contexts holding local wheels.

use super::options::FrontendOptions;
use crate::image_ref::ImageRef;
use crate::lower::NamedSource;
use crate::platform::Platform;

/// The longest part of an option's value quoted in an error.
const QUOTE_LIMIT: usize = 200;

/// What a `context:NAME` option says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextSpec {
    /// `local:NAME`: a directory of the client, sent as local `NAME`.
    Local(String),
    /// `docker-image://REF`, as written.
    Image(String),
    /// Any other kind (`oci-layout`, `input`, `git`, `https`, …), which pycache does not take.
    Unsupported { kind: String, value: String },
}

impl ContextSpec {
    pub fn parse(value: &str) -> Self {
        match value.split_once(':') {
            Some(("local", name)) => ContextSpec::Local(name.to_owned()),
            Some(("docker-image", reference)) => {
                ContextSpec::Image(reference.trim_start_matches("//").to_owned())
            }
            other => ContextSpec::Unsupported {
                kind: other.map_or("", |(kind, _)| kind).to_owned(),
                value: value.to_owned(),
            },
        }
    }
}

/// A named context the build was given: under which option key, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    /// The context's name as buildx sent it (after `context:`), with `::<platform>` if any.
    pub key: String,
    pub spec: ContextSpec,
}

/// The context named `name` for `platform`: `context:NAME::<platform>` first, then
/// `context:NAME`, as the Dockerfile frontend looks them up.
pub fn lookup(opts: &FrontendOptions, name: &str, platform: &Platform) -> Option<Given> {
    let with_platform = format!("{name}::{}", platform.id());
    [with_platform, name.to_owned()]
        .into_iter()
        .find_map(|key| {
            let value = opts.named_contexts.get(&key)?;
            Some(Given {
                spec: ContextSpec::parse(value),
                key,
            })
        })
}

/// The context replacing the image `reference` of the recipe: one named as the recipe writes
/// it, or as Docker shows it (`docker.io/library/python:3.12-slim` and `python:3.12-slim` are
/// one image; a `:latest` tag is implied).
pub fn for_image(opts: &FrontendOptions, reference: &str, platform: &Platform) -> Option<Given> {
    lookup(opts, reference, platform).or_else(|| {
        let familiar = ImageRef::parse(reference).ok()?.familiar();
        (familiar != reference)
            .then(|| lookup(opts, &familiar, platform))
            .flatten()
    })
}

/// How pycache lowers a given context, or why it cannot: a sentence saying what to pass instead.
pub fn source(given: &Given, opts: &FrontendOptions) -> Result<NamedSource, String> {
    match &given.spec {
        ContextSpec::Local(name) => Ok(NamedSource::Local {
            name: name.clone(),
            session: Some(opts.session_for(name)),
        }),
        ContextSpec::Image(reference) => match ImageRef::parse(reference) {
            Ok(r) => Ok(NamedSource::Image {
                reference: r.to_string(),
            }),
            Err(e) => Err(format!(
                "the build context `{}` is docker-image://{}, which is not a valid image reference: {e}",
                quoted(&given.key),
                quoted(reference)
            )),
        },
        ContextSpec::Unsupported { kind, value } => Err(format!(
            "the build context `{}` is `{}`: pycache takes a named context from a directory (--build-context {0}=DIR) or an image (--build-context {0}=docker-image://REF), not {}",
            quoted(&given.key),
            quoted(value),
            match kind.as_str() {
                "oci-layout" => "an OCI layout (load it into the engine's image store, e.g. `docker load`, and pass docker-image://)".to_owned(),
                "input" => "a frontend input (another bake target's result)".to_owned(),
                "" => "a value without a kind".to_owned(),
                other => format!("a `{}` source", quoted(other)),
            }
        )),
    }
}

/// `s` shortened for a message, with control characters escaped.
fn quoted(s: &str) -> String {
    let escaped = crate::diag::escape_controls(s);
    if escaped.chars().count() <= QUOTE_LIMIT {
        escaped
    } else {
        let mut short: String = escaped.chars().take(QUOTE_LIMIT).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn opts(contexts: &[(&str, &str)]) -> FrontendOptions {
        let raw: BTreeMap<String, String> = contexts
            .iter()
            .map(|(k, v)| (format!("context:{k}"), (*v).to_owned()))
            .collect();
        FrontendOptions::from_options(raw, "s".into(), Vec::new()).unwrap()
    }

    #[test]
    fn values_are_read_as_buildx_sends_them() {
        assert_eq!(
            ContextSpec::parse("local:wheels"),
            ContextSpec::Local("wheels".into())
        );
        assert_eq!(
            ContextSpec::parse("docker-image://python:3.12"),
            ContextSpec::Image("python:3.12".into())
        );
        assert!(matches!(
            ContextSpec::parse("oci-layout://store@sha256:ab"),
            ContextSpec::Unsupported { kind, .. } if kind == "oci-layout"
        ));
    }

    #[test]
    fn images_are_found_as_written_normalised_and_per_platform() {
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let arm64 = Platform::parse("linux/arm64").unwrap();
        let o = opts(&[
            ("python:3.12-slim", "docker-image://local/py:a"),
            (
                "python:3.12-slim::linux/arm64",
                "docker-image://local/py:arm",
            ),
            ("ghcr.io/astral-sh/uv:0.9", "local:uvdir"),
        ]);
        let got = |r: &str, p: &Platform| for_image(&o, r, p).map(|g| g.spec);
        assert_eq!(
            got("docker.io/library/python:3.12-slim", &amd64),
            Some(ContextSpec::Image("local/py:a".into()))
        );
        assert_eq!(
            got("python:3.12-slim", &arm64),
            Some(ContextSpec::Image("local/py:arm".into()))
        );
        assert_eq!(
            got("ghcr.io/astral-sh/uv:0.9", &amd64),
            Some(ContextSpec::Local("uvdir".into()))
        );
        assert_eq!(got("python:3.13-slim", &amd64), None);
    }

    #[test]
    fn unsupported_kinds_say_what_to_pass_and_are_bounded() {
        let o = opts(&[]);
        let long = format!("oci-layout://{}", "x".repeat(10_000));
        let given = Given {
            key: "wheels".into(),
            spec: ContextSpec::parse(&long),
        };
        let err = source(&given, &o).unwrap_err();
        assert!(err.contains("--build-context wheels=DIR"), "{err}");
        assert!(err.contains("docker load"), "{err}");
        assert!(err.len() < 1000, "{}", err.len());
        let local = Given {
            key: "wheels".into(),
            spec: ContextSpec::Local("wheels".into()),
        };
        assert_eq!(
            source(&local, &o),
            Ok(NamedSource::Local {
                name: "wheels".into(),
                session: Some("s".into())
            })
        );
    }
}
