//! Image references (`python:3.12-slim`, `ghcr.io/astral-sh/uv:0.9@sha256:…`) parsed once and
//! shown in the fully qualified form BuildKit uses as a cache key and a `docker-image://`
//! identifier, so that `python:3.12-slim` and `docker.io/library/python:3.12-slim` are one image
//! everywhere.
//!
//! The rules are Docker's: distribution/reference `ParseNormalizedNamed` followed by
//! `TagNameOnly`, which is what BuildKit's `llb.Image` and Dockerfile `FROM` apply.
//!
//! - A first path component is a registry domain when it contains `.` or `:`, is `localhost`,
//!   or has an upper-case letter (repository paths are lower case, so such a component can only
//!   be a host, e.g. `LOCALDOMAIN/debian`); otherwise the registry is `docker.io`.
//! - `index.docker.io` is `docker.io`; a single-component name on `docker.io` gets `library/`.
//! - A reference with neither tag nor digest gets `:latest`; a tag and a digest are both kept.
//! - Upper case in the repository path, a bare 64-hex image id, spaces, control characters,
//!   non-ASCII tags and malformed or unsupported digests are errors, never "normalised".
//!
//! The grammar (domain, IPv6 hosts, ports, path components, tag, digest) is checked by
//! `container_image_dist_ref`, a dependency-free `no_std` port of distribution/reference's
//! grammar tested against the Go package. `oci-spec`'s `distribution::Reference` was the
//! other candidate; it was not taken because it does not normalise like Docker in several
//! cases: it files `Docker/docker` under `docker.io/Docker/docker` instead of reading
//! `Docker` as a registry, accepts non-ASCII tags (`python:é`, via Unicode `\w`), rejects
//! IPv6 registries, and brings `regex`, `derive_builder`, `getset` and `strum` with it. The
//! normalisation on top (~40 lines here) is Docker-specific and neither crate does it right.

use std::fmt;
use std::str::FromStr;

use container_image_dist_ref::ImgRef;
use container_image_dist_ref::err::Kind;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";

/// A parsed, normalised image reference. `Display` gives the fully qualified form,
/// `docker.io/library/python:3.12-slim` for `python:3.12-slim`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference. The messages follow Docker's where Docker has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("repository name must have at least one component")]
    Empty,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    #[error("invalid reference format{}", at_char(.0))]
    Format(Option<(usize, char)>),
    #[error("invalid tag format{}", at_char(.0))]
    Tag(Option<(usize, char)>),
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("unsupported digest algorithm `{0}` (sha256, sha384 or sha512)")]
    DigestAlgorithm(String),
    #[error("invalid checksum digest format `{0}`")]
    Digest(String),
}

fn at_char(at: &Option<(usize, char)>) -> String {
    match at {
        Some((i, c)) if c.is_control() || c.is_whitespace() => {
            format!(": unexpected {c:?} at character {}", i + 1)
        }
        Some((i, c)) => format!(": unexpected `{c}` at character {}", i + 1),
        None => String::new(),
    }
}

impl ImageRef {
    /// Parses and normalises a reference as `docker pull` and BuildKit do.
    pub fn parse(reference: &str) -> Result<Self, ImageRefError> {
        if reference.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if reference.len() == 64
            && reference
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ImageRefError::HexIdentifier(reference.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(reference);
        let remote = remainder.split(':').next().unwrap_or(&remainder);
        if remote.to_lowercase() != remote {
            return Err(ImageRefError::Uppercase(remote.to_owned()));
        }
        let full = format!("{domain}/{remainder}");
        let parsed = ImgRef::new(&full).map_err(|e| {
            // The crate's error offsets are not reliable enough to show; a character that no
            // reference may hold (a space, a newline, non-ASCII) is what users need pointed out.
            let at = reference.char_indices().find(|(_, c)| {
                !(c.is_ascii_alphanumeric()
                    || matches!(c, '.' | '_' | '-' | ':' | '/' | '@' | '[' | ']'))
            });
            match e.kind() {
                Kind::NameTooLong | Kind::HostOrPathTooLong | Kind::PathTooLong => {
                    ImageRefError::NameTooLong
                }
                Kind::TagTooLong | Kind::TagInvalidChar | Kind::TagMissing => {
                    ImageRefError::Tag(at)
                }
                Kind::AlgorithmMissing
                | Kind::InvalidOciAlgorithm
                | Kind::AlgorithmInvalidNumericPrefix
                | Kind::OciRegisteredAlgorithmWrongDigestLength
                | Kind::AlgorithmInvalidChar
                | Kind::AlgorithmTooLong
                | Kind::EncodedMissing
                | Kind::EncodedInvalidChar
                | Kind::EncodedNonLowerHex
                | Kind::OciRegisteredDigestInvalidChar
                | Kind::EncodingTooShort
                | Kind::EncodingTooLong
                    if at.is_none() && reference.contains('@') =>
                {
                    let digest = reference.split_once('@').map_or("", |(_, d)| d);
                    ImageRefError::Digest(digest.to_owned())
                }
                _ => ImageRefError::Format(at),
            }
        })?;
        // The grammar makes the domain optional, so a first component that Docker takes for a
        // domain but is not a valid host (`g_r.io/x`) parses as part of a path. Docker would
        // then pass on a name no registry resolves; here it is an error.
        if parsed.domain().map(|d| d.to_str()) != Some(domain.as_str()) {
            return Err(ImageRefError::Format(None));
        }
        let digest = parsed.digest().map(|d| d.to_str().to_owned());
        if let Some(digest) = &digest {
            check_digest(digest)?;
        }
        let tag = parsed.tag().map(str::to_owned);
        Ok(Self {
            domain,
            path: parsed.path().to_str().to_owned(),
            tag: if tag.is_none() && digest.is_none() {
                Some(DEFAULT_TAG.to_owned())
            } else {
                tag
            },
            digest,
        })
    }

    /// The registry: `docker.io`, `ghcr.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path in the registry: `library/python`, `astral-sh/uv`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag; `latest` when the reference named neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// `sha256:…`, when the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The short form Docker shows (distribution/reference's `FamiliarString`) without a
    /// `:latest`: `python:3.12-slim`, `local/python:3.11-slim`, `ghcr.io/astral-sh/uv:0.9`. The
    /// Dockerfile frontend looks named contexts up by it.
    pub fn familiar(&self) -> String {
        let mut name = if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_REPO_PREFIX)
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            format!("{}/{}", self.domain, self.path)
        };
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(digest);
        }
        name.strip_suffix(":latest")
            .map_or(name.clone(), str::to_owned)
    }
}

/// distribution/reference's `splitDockerDomain`.
fn split_docker_domain(name: &str) -> (String, String) {
    let (domain, remainder) = match name.split_once('/') {
        // Docker does not read a lone `localhost` or `example.com` as a domain either.
        None => (DEFAULT_DOMAIN, name),
        Some((first, rest))
            if first == "localhost"
                || first.contains(['.', ':'])
                || first.to_lowercase() != first =>
        {
            (first, rest)
        }
        Some(_) => (DEFAULT_DOMAIN, name),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let remainder = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{remainder}")
    } else {
        remainder.to_owned()
    };
    (domain.to_owned(), remainder)
}

/// Docker resolves only the digest algorithms go-digest registers, each with its length.
fn check_digest(digest: &str) -> Result<(), ImageRefError> {
    let (algorithm, encoded) = digest
        .split_once(':')
        .ok_or_else(|| ImageRefError::Digest(digest.to_owned()))?;
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        other => return Err(ImageRefError::DigestAlgorithm(other.to_owned())),
    };
    let lower_hex = encoded
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if encoded.len() != len || !lower_hex {
        return Err(ImageRefError::Digest(digest.to_owned()));
    }
    Ok(())
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    fn normal(s: &str) -> String {
        match ImageRef::parse(s) {
            Ok(r) => r.to_string(),
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn names_get_docker_hub_and_library() {
        for (input, want) in [
            ("python:3.12-slim", "docker.io/library/python:3.12-slim"),
            (
                "docker.io/library/python:3.12-slim",
                "docker.io/library/python:3.12-slim",
            ),
            (
                "docker.io/python:3.12-slim",
                "docker.io/library/python:3.12-slim",
            ),
            (
                "index.docker.io/library/python:3.12-slim",
                "docker.io/library/python:3.12-slim",
            ),
            ("index.docker.io/python", "docker.io/library/python:latest"),
            ("local/python:3.11-slim", "docker.io/local/python:3.11-slim"),
            ("org/team/app:1", "docker.io/org/team/app:1"),
            ("debian", "docker.io/library/debian:latest"),
            // As in Docker, a lone name is never a domain.
            ("localhost", "docker.io/library/localhost:latest"),
            ("example.com", "docker.io/library/example.com:latest"),
            ("example.com:5000", "docker.io/library/example.com:5000"),
        ] {
            assert_eq!(normal(input), want, "{input}");
        }
    }

    #[test]
    fn first_components_that_are_domains() {
        for (input, want) in [
            ("ghcr.io/astral-sh/uv:0.9", "ghcr.io/astral-sh/uv:0.9"),
            ("localhost/x", "localhost/x:latest"),
            ("localhost:5000/x", "localhost:5000/x:latest"),
            ("registry:5000/team/app", "registry:5000/team/app:latest"),
            ("127.0.0.1:5000/debian:12", "127.0.0.1:5000/debian:12"),
            ("[fc00::1]:5000/docker", "[fc00::1]:5000/docker:latest"),
            ("LOCALDOMAIN/debian", "LOCALDOMAIN/debian:latest"),
            ("Docker/docker", "Docker/docker:latest"),
            // Other registries get no `library/`.
            ("ghcr.io/uv", "ghcr.io/uv:latest"),
        ] {
            assert_eq!(normal(input), want, "{input}");
        }
    }

    #[test]
    fn tags_and_digests() {
        assert_eq!(
            normal(&format!("a/b@{SHA256}")),
            format!("docker.io/a/b@{SHA256}")
        );
        assert_eq!(
            normal(&format!("python:3.12@{SHA256}")),
            format!("docker.io/library/python:3.12@{SHA256}")
        );
        let sha512 = format!("sha512:{}", "f".repeat(128));
        assert_eq!(
            normal(&format!("ghcr.io/x/y@{sha512}")),
            format!("ghcr.io/x/y@{sha512}")
        );
        let r = ImageRef::parse(&format!("localhost:5000/x:1@{SHA256}")).unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.tag(), r.digest()),
            ("localhost:5000", "x", Some("1"), Some(SHA256))
        );
        let r = ImageRef::parse("python").unwrap();
        assert_eq!(
            (r.path(), r.tag(), r.digest()),
            ("library/python", Some("latest"), None)
        );
    }

    #[test]
    fn one_image_one_form() {
        let forms = [
            "python:3.12-slim",
            "docker.io/python:3.12-slim",
            "docker.io/library/python:3.12-slim",
            "index.docker.io/library/python:3.12-slim",
        ];
        let parsed: Vec<ImageRef> = forms.iter().map(|f| f.parse().unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(normal("python"), normal("python:latest"));
        // Normalising twice changes nothing.
        for f in forms
            .iter()
            .copied()
            .chain(["ghcr.io/astral-sh/uv", "Docker/docker"])
        {
            assert_eq!(normal(&normal(f)), normal(f));
        }
    }

    #[test]
    fn invalid_references_are_errors() {
        use ImageRefError as E;
        let long = format!("a/{}", "b".repeat(300));
        for (input, want) in [
            ("", E::Empty),
            ("Python:3.12", E::Uppercase("library/Python".into())),
            ("docker/Docker", E::Uppercase("docker/Docker".into())),
            (
                "docker.io/library/Python",
                E::Uppercase("library/Python".into()),
            ),
            ("ghcr.io/Astral/uv", E::Uppercase("Astral/uv".into())),
            ("python:3.12 slim", E::Tag(Some((11, ' ')))),
            ("py thon", E::Format(Some((2, ' ')))),
            ("python:3.12\n", E::Tag(Some((11, '\n')))),
            ("python:3.12-slim\nRUN x", E::Tag(Some((16, '\n')))),
            (" python", E::Format(Some((0, ' ')))),
            ("python:é", E::Tag(Some((7, 'é')))),
            ("python:", E::Tag(None)),
            (":3.12", E::Format(None)),
            ("-python", E::Format(None)),
            ("a//b", E::Format(None)),
            ("python:3.12$x", E::Tag(Some((11, '$')))),
            ("https://ghcr.io/x", E::Format(None)),
            ("g_r.io/astral-sh/uv", E::Format(None)),
            ("-ghcr.io/x", E::Format(None)),
            ("ghcr.io:/x", E::Format(None)),
            (&long, E::NameTooLong),
            ("a/b@sha256:00", E::Digest("sha256:00".into())),
            ("a/b@sha256:zz", E::Digest("sha256:zz".into())),
            (
                "a/b@md5:ffffffffffffffffffffffffffffffff",
                E::DigestAlgorithm("md5".into()),
            ),
            (
                "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
                E::HexIdentifier(
                    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a".into(),
                ),
            ),
        ] {
            assert_eq!(ImageRef::parse(input), Err(want), "{input:?}");
        }
        let upper = format!("a/b@sha256:{}", "F".repeat(64));
        assert!(ImageRef::parse(&upper).is_err(), "{upper}");
        let short384 = format!("a/b@sha384:{}", "f".repeat(64));
        assert_eq!(
            ImageRef::parse(&short384),
            Err(E::Digest(short384[4..].to_owned()))
        );
    }

    #[test]
    fn errors_read_like_dockers() {
        let e = |s: &str| ImageRef::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("Python:3"),
            "invalid reference format: repository name (library/Python) must be lowercase"
        );
        assert_eq!(
            e("python:3 slim"),
            "invalid tag format: unexpected ' ' at character 9"
        );
        assert_eq!(
            e("py\nthon"),
            "invalid reference format: unexpected '\\n' at character 3"
        );
    }
}
