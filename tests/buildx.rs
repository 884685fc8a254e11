//! End-to-end: what `docker buildx build` users ask of a frontend beyond a plain build, on
//! pycache's own engines: `--call outline`, `--sbom`, several `--platform`s, a frontend image
//! and a cache in a registry. Ignored by a plain `cargo test`; `scripts/test.sh` runs them, and
//! then a missing engine, image or registry is a failure, never a skip.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::process::Output;

use serde_json::Value;

use support::*;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn call_outline_lists_the_recipes_args_and_target() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let dir = testdata("env-ports-labels");
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let call = |format: &str, extra: &[&str]| {
        let out = engine
            .docker()
            .args(["buildx", "build", "--progress=quiet", "--call"])
            .arg(format)
            .args(["--build-arg", &syntax])
            .args(extra)
            .arg("-f")
            .arg(dir.join("pycache.toml"))
            .arg(&dir)
            .output()
            .expect("docker runs");
        assert!(out.status.success(), "--call {format}: {}", stderr(&out));
        stdout(&out)
    };

    let json: Value = serde_json::from_str(&call(
        "outline,format=json",
        &["--build-arg", "MODE=staging"],
    ))
    .expect("buildx prints the outline's result.json");
    assert_eq!(json["name"], "runtime");
    let args: Vec<(&str, &str, &str)> = json["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["value"].as_str().unwrap(),
                a["description"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        args,
        [
            ("PORT", "8000", "The port the app listens on"),
            ("MODE", "staging", "production or staging"),
        ]
    );

    // What a user sees: buildx's own rendering of result.json.
    let text = call("outline", &[]);
    assert!(text.contains("TARGET:      runtime"), "{text}");
    let port = text
        .lines()
        .find(|l| l.starts_with("PORT"))
        .unwrap_or_else(|| panic!("no PORT row in:\n{text}"));
    assert_eq!(
        port.split_whitespace().collect::<Vec<_>>()[..2],
        ["PORT", "8000"]
    );
}

/// `docker buildx imagetools inspect REF --format '{{json .SBOM}}'`: the SBOM attestations of a
/// pushed image as buildx reads them back from the registry.
fn sbom_in_registry(engine: &Engine, reference: &str) -> Value {
    let out = engine
        .docker()
        .args(["buildx", "imagetools", "inspect", reference])
        .args(["--format", "{{json .SBOM}}"])
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "imagetools inspect: {}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: not JSON: {}", stdout(&out)))
}

/// The `(name, purl)` of every package of an SPDX document.
fn spdx_packages(doc: &Value) -> Vec<(String, String)> {
    doc["packages"]
        .as_array()
        .unwrap_or_else(|| panic!("no packages in {doc}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["externalRefs"][0]["referenceLocator"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn sbom_from_the_lock_is_pushed_with_the_image() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let registry = registry();
    let reference = format!("{registry}/pycache-e2e/sbom:{}", nonce());
    let b = build(
        &engine,
        &testdata("uv-minimal"),
        &reference,
        &[
            "--sbom=true",
            "--push",
            "--build-arg",
            "SOURCE_DATE_EPOCH=1700000000",
        ],
    );
    assert!(b.ok, "{}", log_tail(&b));
    assert!(
        !b.stderr.contains("generating sbom using"),
        "BuildKit ran its scanner although the frontend attached an SBOM"
    );
    let sbom = sbom_in_registry(&engine, &reference);
    let doc = &sbom["SPDX"];
    assert_eq!(doc["spdxVersion"], "SPDX-2.3", "{sbom}");
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    assert_eq!(
        spdx_packages(doc),
        [
            ("six".to_owned(), "pkg:pypi/six@1.17.0".to_owned()),
            ("hello".to_owned(), String::new()),
        ]
    );
    let checksums = doc["packages"][0]["checksums"].as_array().unwrap();
    assert!(
        checksums.iter().any(|c| c["checksumValue"]
            == "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"),
        "six's wheel hash from uv.lock: {checksums:?}"
    );
}

/// `docker run --platform PLATFORM IMAGE ARGS…`: its stdout.
fn run_platform(engine: &Engine, platform: &str, image: &str, args: &[&str]) -> String {
    let out = engine
        .docker()
        .args(["run", "--rm", "--platform", platform, image])
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker run --platform {platform} {image}: {}",
        stderr(&out)
    );
    stdout(&out)
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn multi_platform_index_runs_on_amd64_and_arm64() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let base = multiarch_base_image();
    engine.require(&[&base]);
    let registry = registry();
    let n = nonce();
    let dir = std::env::temp_dir().join(format!("pycache-e2e-multi-{n}"));
    copy_dir(&testdata("uv-minimal"), &dir);
    let recipe = dir.join("pycache.toml");
    let text = std::fs::read_to_string(&recipe).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("base = "))
        .expect("uv-minimal names its base");
    std::fs::write(&recipe, text.replace(line, &format!("base = \"{base}\""))).unwrap();

    let reference = format!("{registry}/pycache-e2e/multi:{n}");
    let b = build(
        &engine,
        &dir,
        &reference,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--push",
            "--sbom=true",
        ],
    );
    assert!(b.ok, "{}", log_tail(&b));

    // One index, an image per platform (and the SBOMs' attestation manifests).
    let out = engine
        .docker()
        .args(["buildx", "imagetools", "inspect", "--raw", &reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let index: Value = serde_json::from_slice(&out.stdout).unwrap();
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("not an index: {index}"))
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap_or(""),
                m["platform"]["architecture"].as_str().unwrap_or("")
            )
        })
        .filter(|p| p != "unknown/unknown")
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);

    // Both run, arm64 through QEMU.
    for (platform, machine) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
        let out = run_platform(
            &engine,
            platform,
            &reference,
            &["sh", "-c", "uname -m && hello"],
        );
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [machine, "hello from pycache (python 3.11, six 1.17.0)"],
            "{platform}"
        );
    }

    // Each image has its own SBOM.
    let sbom = sbom_in_registry(&engine, &reference);
    for platform in ["linux/amd64", "linux/arm64"] {
        let doc = &sbom[platform]["SPDX"];
        assert!(
            doc["name"].as_str().unwrap_or("").contains(platform),
            "{platform}: {sbom}"
        );
        assert_eq!(spdx_packages(doc)[0].1, "pkg:pypi/six@1.17.0");
    }

    // Cache mounts are never shared across platforms.
    let out = engine
        .docker()
        .args([
            "buildx",
            "du",
            "--verbose",
            "--filter",
            "type=exec.cachemount",
        ])
        .output()
        .unwrap();
    let du = stdout(&out);
    for id in ["pycache-uv-linux-amd64", "pycache-uv-linux-arm64"] {
        assert!(
            du.contains(&format!("with id \"{id}\"")),
            "no cache mount {id} in:\n{du}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn frontend_pulled_from_a_registry_and_a_registry_cache() {
    let _lock = one_at_a_time();
    let engine = containerd();
    let registry = registry();
    let n = nonce();
    // The frontend image, published as a user would, and not left in the local store: the
    // engine must pull it to resolve `# syntax=`.
    let published = format!("{registry}/pycache-frontend:e2e-{n}");
    for args in [
        vec!["tag", frontend_image().as_str(), published.as_str()],
        vec!["push", "--quiet", published.as_str()],
        vec!["image", "rm", published.as_str()],
    ] {
        let out = engine.docker().args(&args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
    }
    assert!(
        !engine
            .docker()
            .args(["image", "inspect", &published])
            .output()
            .unwrap()
            .status
            .success(),
        "{published} must not be in the local store"
    );

    let dir = std::env::temp_dir().join(format!("pycache-e2e-registry-{n}"));
    copy_dir(&testdata("uv-minimal"), &dir);
    let recipe = dir.join("pycache.toml");
    let text = std::fs::read_to_string(&recipe).unwrap();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("# syntax="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&recipe, format!("# syntax={published}\n{body}")).unwrap();
    let cache = format!("{registry}/pycache-e2e/cache:{n}");
    let tag = "pycache-e2e/registry:latest";

    let first = build_file(
        &engine,
        &recipe,
        &dir,
        tag,
        &["--cache-to", &format!("type=registry,ref={cache},mode=max")],
    );
    assert!(first.ok, "{}", log_tail(&first));
    assert!(
        first.stderr.contains(&published),
        "the frontend was not resolved from {published}"
    );
    assert!(
        !first.steps.is_empty(),
        "no pycache steps: the frontend did not run"
    );

    // A source edit on a runner with nothing but the registry cache (and the registry).
    let src = dir.join("src/hello/__init__.py");
    let code = std::fs::read_to_string(&src).unwrap();
    let greeting = format!("hello via the registry ({n})");
    std::fs::write(&src, code.replace("hello from pycache", &greeting)).unwrap();
    remove_image(&engine, tag);
    engine.prune_build_cache();
    let ci = build_file(
        &engine,
        &recipe,
        &dir,
        tag,
        &["--cache-from", &format!("type=registry,ref={cache}")],
    );
    assert!(ci.ok, "{}", log_tail(&ci));
    assert!(
        dependency_layers_run(&ci).is_empty() && step_cached(&ci, "[builder] install uv"),
        "dependencies re-installed: {:?}",
        ci.executed()
    );
    assert!(
        !step_cached(&ci, "[builder] install hello from source"),
        "the project must be rebuilt"
    );
    assert!(run(&engine, tag, &[]).contains(&greeting));
    let _ = std::fs::remove_dir_all(&dir);
}
