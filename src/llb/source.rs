//! Source ops: images and local directories (moby/buildkit solver/pb/ops.proto `SourceOp`,
//! attribute names from solver/pb/attr.go).

use std::collections::BTreeMap;

use super::pb;
use super::state::{OpMeta, State};

/// `docker.io/library/python:3.12-slim` for `python:3.12-slim`, as Docker normalises names.
pub fn normalize_image_ref(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let first = name.split('/').next().unwrap_or("");
    let has_domain =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_domain {
        name.to_owned()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    let last = full.rsplit('/').next().unwrap_or("");
    if !last.contains(':') && digest.is_none() {
        full.push_str(":latest");
    }
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => full,
    }
}

/// How the daemon resolves an image: `default`, `pull` or `local` (attr `image.resolvemode`).
pub fn image(reference: &str, resolve_mode: Option<&str>, ignore_cache: bool) -> State {
    let mut attrs = BTreeMap::new();
    if let Some(mode) = resolve_mode.filter(|m| !m.is_empty()) {
        attrs.insert("image.resolvemode".to_owned(), mode.to_owned());
    }
    let op = pb::op::Op::Source(pb::SourceOp {
        identifier: format!("docker-image://{}", normalize_image_ref(reference)),
        attrs,
    });
    let meta = OpMeta::named(format!("[image] {reference}")).ignore_cache(ignore_cache);
    State::new_vertex(op, Vec::new(), meta)
}

/// Options of a `local://` source.
#[derive(Clone, Debug, Default)]
pub struct LocalOptions {
    /// `local.session`: the session that owns the directory.
    pub session: Option<String>,
    /// `local.sharedkeyhint`: lets the daemon reuse a previous transfer's files.
    pub shared_key_hint: Option<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub follow_paths: Vec<String>,
    /// `local.differ`: `none` for tiny reads that should always be re-sent.
    pub differ: Option<String>,
    /// `--no-cache`: transfer and checksum the files again.
    pub ignore_cache: bool,
}

pub fn local(name: &str, opts: &LocalOptions) -> State {
    let mut attrs = BTreeMap::new();
    let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialise");
    if let Some(s) = &opts.session {
        attrs.insert("local.session".to_owned(), s.clone());
    }
    if let Some(h) = &opts.shared_key_hint {
        attrs.insert("local.sharedkeyhint".to_owned(), h.clone());
    }
    if !opts.include.is_empty() {
        attrs.insert("local.includepattern".to_owned(), json(&opts.include));
    }
    if !opts.exclude.is_empty() {
        attrs.insert("local.excludepatterns".to_owned(), json(&opts.exclude));
    }
    if !opts.follow_paths.is_empty() {
        attrs.insert("local.followpaths".to_owned(), json(&opts.follow_paths));
    }
    if let Some(d) = &opts.differ {
        attrs.insert("local.differ".to_owned(), d.clone());
    }
    let op = pb::op::Op::Source(pb::SourceOp {
        identifier: format!("local://{name}"),
        attrs,
    });
    let meta = OpMeta::named(format!("[local] {name}")).ignore_cache(opts.ignore_cache);
    State::new_vertex(op, Vec::new(), meta)
}

#[cfg(test)]
mod tests {
    use super::normalize_image_ref as n;

    #[test]
    fn image_names_normalise_like_docker() {
        assert_eq!(n("python:3.12-slim"), "docker.io/library/python:3.12-slim");
        assert_eq!(n("local/python:3.11"), "docker.io/local/python:3.11");
        assert_eq!(n("ghcr.io/astral-sh/uv:0.9"), "ghcr.io/astral-sh/uv:0.9");
        assert_eq!(n("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(n("debian"), "docker.io/library/debian:latest");
        assert_eq!(n("a/b@sha256:00"), "docker.io/a/b@sha256:00");
    }
}
