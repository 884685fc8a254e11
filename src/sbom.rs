//! The SBOM of an image, from its lock: an SPDX 2.3 JSON document listing every Python package
//! the plan installs into the environment, exactly as locked (name, version, the sha256 of
//! every artifact the lock allows for the target, a `pkg:pypi` purl), and the project's own
//! packages built from the source. Nothing is scanned: the document says what the lock says, so
//! it is exact for the environment and says nothing of the base image or apt packages.
//!
//! Deterministic: the same plan and creation time give the same bytes (ordered maps, sorted
//! packages, a namespace derived from the content). Pure; the gateway attaches it to the result
//! as an in-toto attestation.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::detect::Project;
use crate::lock::{LockedPackage, PackageSource};
use crate::plan::{Plan, VENV};

/// The in-toto predicate type of an SPDX document (`intoto.PredicateSPDX`), which tells
/// BuildKit the result already has its SBOM (no scanner is run).
pub const PREDICATE_TYPE: &str = "https://spdx.dev/Document";

/// The SPDX document of `plan`'s environment, created at `created` (Unix seconds; the build's
/// `SOURCE_DATE_EPOCH` when it has one). `None` when the plan's dependencies are not locked.
pub fn spdx(plan: &Plan, project: &Project, created: i64) -> Option<Value> {
    let (lock_file, locked) = plan.env.locked.as_ref()?;
    let mut ids = SpdxIds::default();
    let mut packages = Vec::new();
    let mut described = Vec::new();
    for p in &locked.packages {
        let id = ids.unique(&format!("SPDXRef-Package-pypi-{}-{}", p.name, p.version));
        packages.push(locked_package(p, &id));
        described.push(id);
    }
    for local in &locked.locals {
        let id = ids.unique(&format!("SPDXRef-Package-source-{}", local.name));
        let version = if local.path == "." {
            project.version.as_deref()
        } else {
            None
        };
        let mut package = json!({
            "SPDXID": id,
            "name": local.name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "APPLICATION",
            "comment": format!("built from the source in the build context (`{}`) and installed into {VENV}", local.path),
        });
        if let Some(v) = version {
            package["versionInfo"] = json!(v);
        }
        packages.push(package);
        described.push(id);
    }
    let name = project.name.as_deref().unwrap_or("python-environment");
    let relationships: Vec<Value> = described
        .iter()
        .map(|id| {
            json!({
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": id,
            })
        })
        .collect();
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{name} ({} image, {})", plan.target, plan.platform),
        "creationInfo": {
            "created": crate::image::rfc3339(created),
            "creators": [format!("Tool: pycache-{}", env!("CARGO_PKG_VERSION"))],
            "comment": format!(
                "The Python packages in {VENV} of the image for {}, as {lock_file} locks them; not a scan: the base image and system packages are not listed.",
                plan.platform
            ),
        },
        "packages": packages,
        "relationships": relationships,
    });
    // A namespace unique to the content, yet the same for the same content.
    let digest = hex::encode(Sha256::digest(doc.to_string().as_bytes()));
    doc["documentNamespace"] = json!(format!("https://pycache.invalid/spdx/{name}-{digest}"));
    Some(doc)
}

/// One locked package as an SPDX package.
fn locked_package(p: &LockedPackage, id: &str) -> Value {
    let checksums: Vec<Value> = p
        .hashes
        .iter()
        .filter_map(|h| h.strip_prefix("sha256:"))
        .map(|hex| json!({ "algorithm": "SHA256", "checksumValue": hex }))
        .collect();
    let mut purl = format!("pkg:pypi/{}@{}", p.name, purl_encode(&p.version));
    let download = match &p.source {
        PackageSource::Registry(_) | PackageSource::Directory { .. } => "NOASSERTION".to_owned(),
        PackageSource::Direct(url) => {
            purl.push_str("?download_url=");
            purl.push_str(&purl_encode(url));
            url.clone()
        }
    };
    let mut comment = match &p.source {
        PackageSource::Registry(index) => format!("from the index {index}"),
        PackageSource::Directory { path, .. } => format!("from the local directory {path}"),
        PackageSource::Direct(_) => "from its URL".to_owned(),
    };
    if checksums.len() > 1 {
        comment.push_str(
            "; the checksums are of every artifact the lock allows for this platform (its wheels and sdist): the one installed is among them",
        );
    }
    if let Some(marker) = &p.marker {
        comment.push_str(&format!("; installed when {marker}"));
    }
    json!({
        "SPDXID": id,
        "name": p.name,
        "versionInfo": p.version,
        "downloadLocation": download,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "LIBRARY",
        "checksums": checksums,
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        }],
        "comment": comment,
    })
}

/// Percent-encodes what a purl component may not hold as is (RFC 3986 unreserved characters
/// stay, so `1.0+local` is `1.0%2Blocal`).
fn purl_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SPDX ids, which allow only letters, digits, `.` and `-`, made unique.
#[derive(Default)]
struct SpdxIds(std::collections::BTreeSet<String>);

impl SpdxIds {
    fn unique(&mut self, raw: &str) -> String {
        let base: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut id = base.clone();
        let mut n = 2;
        while !self.0.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_encode_local_versions_and_urls() {
        assert_eq!(purl_encode("1.0+cpu"), "1.0%2Bcpu");
        assert_eq!(purl_encode("2.0.0rc1"), "2.0.0rc1");
        assert_eq!(
            purl_encode("git+https://x/y@ab"),
            "git%2Bhttps%3A%2F%2Fx%2Fy%40ab"
        );
    }

    #[test]
    fn spdx_ids_are_valid_and_unique() {
        let mut ids = SpdxIds::default();
        assert_eq!(ids.unique("SPDXRef-a_b+c"), "SPDXRef-a-b-c");
        assert_eq!(ids.unique("SPDXRef-a-b-c"), "SPDXRef-a-b-c-2");
    }
}
