//! Source ops: images, local directories and downloads (moby/buildkit solver/pb/ops.proto `SourceOp`,
//! attribute names from solver/pb/attr.go).

use std::collections::BTreeMap;

use super::pb;
use super::state::{OpMeta, State};
use crate::image_ref::ImageRef;

/// An image source for `reference`, named `[image] <reference>` as written. How the daemon
/// resolves it: `default`, `pull` or `local` (attr `image.resolvemode`).
///
/// The identifier is the normalised reference ([`ImageRef`]), so every spelling of one image is
/// one op and one cache key. The recipe rejects invalid references before anything is planned;
/// one that reaches here anyway is passed on as written for BuildKit to refuse, since the
/// builder of a State has no way to report an error.
pub fn image(reference: &str, resolve_mode: Option<&str>, ignore_cache: bool) -> State {
    let identifier =
        ImageRef::parse(reference).map_or_else(|_| reference.to_owned(), |r| r.to_string());
    let mut attrs = BTreeMap::new();
    if let Some(mode) = resolve_mode.filter(|m| !m.is_empty()) {
        attrs.insert("image.resolvemode".to_owned(), mode.to_owned());
    }
    let op = pb::op::Op::Source(pb::SourceOp {
        identifier: format!("docker-image://{identifier}"),
        attrs,
    });
    let meta = OpMeta::named(format!("[image] {reference}")).ignore_cache(ignore_cache);
    State::new_vertex(op, Vec::new(), meta)
}

/// A file downloaded by the daemon from `url` (`https://…`), checked against `checksum`
/// (`sha256:…`, attr `http.checksum`) and named `filename` (attr `http.filename`) in the
/// result. With a checksum, the daemon keys the source by it: a download cached once is never
/// fetched again, whatever cache it came from.
pub fn http(url: &str, checksum: &str, filename: &str, ignore_cache: bool) -> State {
    let attrs = BTreeMap::from([
        ("http.checksum".to_owned(), checksum.to_owned()),
        ("http.filename".to_owned(), filename.to_owned()),
    ]);
    let op = pb::op::Op::Source(pb::SourceOp {
        identifier: url.to_owned(),
        attrs,
    });
    let meta = OpMeta::named(format!("[download] {filename}")).ignore_cache(ignore_cache);
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
    use super::*;

    fn identifier(state: &State) -> String {
        match &state.output.as_ref().expect("a vertex").vertex.op {
            pb::op::Op::Source(source) => source.identifier.clone(),
            other => panic!("not a source op: {other:?}"),
        }
    }

    #[test]
    fn image_ops_carry_the_normalised_reference() {
        for (reference, want) in [
            (
                "python:3.12-slim",
                "docker-image://docker.io/library/python:3.12-slim",
            ),
            (
                "docker.io/library/python:3.12-slim",
                "docker-image://docker.io/library/python:3.12-slim",
            ),
            (
                "local/python:3.11-slim",
                "docker-image://docker.io/local/python:3.11-slim",
            ),
            (
                "ghcr.io/astral-sh/uv:0.9",
                "docker-image://ghcr.io/astral-sh/uv:0.9",
            ),
            ("localhost:5000/x", "docker-image://localhost:5000/x:latest"),
        ] {
            assert_eq!(
                identifier(&image(reference, None, false)),
                want,
                "{reference}"
            );
        }
    }
}
