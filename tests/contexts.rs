//! Named build contexts (`docker buildx build --build-context NAME=…`), end to end on pycache's
//! own engine (see `tests/e2e.rs` for how they run):
//!
//! - a uv project whose `uv.lock` takes a package from a local find-links directory installs
//!   it from `--build-context wheels=DIR` (a wheel made here, no network), mounted into that
//!   package's layer alone: a rebuild runs nothing, a new file in the directory runs nothing, a
//!   changed wheel runs its own layer and not the others; without the context the build fails
//!   at the recipe's line, saying the flag to pass;
//! - `--build-context <base>=docker-image://<other image>` replaces the recipe's base image,
//!   files and config (env) both, as `FROM` of the Dockerfile frontend is replaced.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/e2e.rs"]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// A scratch directory, removed on drop, failed test or not.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the wheel `localgreet-1.0.0-py3-none-any.whl` into `dir`, its `hello()` returning a
/// text with `marker`: a wheel of its own, built here with the standard library's zipfile
/// (no build backend, no network). uv.lock records no hash for a find-links wheel, so any
/// content of that name installs.
fn write_wheel(dir: &Path, name: &str, marker: &str) {
    const SCRIPT: &str = r#"
import base64, hashlib, os, sys, zipfile
name, marker, out = sys.argv[1], sys.argv[2], sys.argv[3]
version = "1.0.0"
dist = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"def hello():\n    return 'hello from {name} {version} {marker}'\n",
    f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: pycache-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{dist}/RECORD,,")
files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(os.path.join(out, f"{name}-{version}-py3-none-any.whl"), "w") as z:
    for path, text in files.items():
        info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        z.writestr(info, text)
"#;
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("python3")
        .args(["-c", SCRIPT, name, marker])
        .arg(dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "writing the wheel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_built(b: &Build, what: &str) {
    assert!(b.ok, "{what} failed:\n{}", log_tail(b));
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn find_links_wheels_from_a_build_context() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let n = nonce();
    let root = Scratch(std::env::temp_dir().join(format!("pycache-contexts-{n}")));
    let project = root.0.join("project");
    copy_dir(&testdata("uv-find-links"), &project);
    // The wheels live outside the build context: only the named context brings them.
    let wheels = root.0.join("wheels");
    write_wheel(&wheels, "localgreet", &format!("first-{n}"));
    let tag = format!("pycache-e2e-contexts-find-links:{n}");
    let context = format!("wheels={}", wheels.display());
    let with_wheels = ["--build-context", context.as_str()];

    let first = build(&engine, &project, &tag, &with_wheels);
    assert_built(&first, "the first build");
    assert!(
        !step_cached(&first, "[builder] deps: localgreet 1.0.0"),
        "{:?}",
        first.steps
    );
    let out = run(&engine, &tag, &[]);
    assert!(
        out.contains(&format!("hello from localgreet 1.0.0 first-{n}"))
            && out.contains("six 1.17.0"),
        "{out}"
    );

    // Nothing changed: nothing runs.
    let again = build(&engine, &project, &tag, &with_wheels);
    assert_built(&again, "the rebuild");
    assert_eq!(again.executed(), Vec::<&str>::new(), "{:?}", again.steps);
    eprintln!(
        "rebuild: {} of {} steps cached",
        again.cached(),
        again.steps.len()
    );

    // Another wheel in the directory: no layer mounts it, nothing runs.
    write_wheel(&wheels, "unrelated", &n.to_string());
    let other = build(&engine, &project, &tag, &with_wheels);
    assert_built(&other, "the build with an unrelated wheel");
    assert_eq!(other.executed(), Vec::<&str>::new(), "{:?}", other.steps);

    // A new build of the wheel: its layer runs, six's and the project's do not.
    write_wheel(&wheels, "localgreet", &format!("second-{n}"));
    let changed = build(&engine, &project, &tag, &with_wheels);
    assert_built(&changed, "the build with a changed wheel");
    assert!(!step_cached(&changed, "[builder] deps: localgreet 1.0.0"));
    assert!(step_cached(&changed, "[builder] deps: six 1.17.0"));
    assert!(step_cached(&changed, "[builder] install flapp from source"));
    assert!(step_cached(&changed, "[builder] uv venv"));
    eprintln!(
        "changed wheel: {} of {} steps cached; ran {:?}",
        changed.cached(),
        changed.steps.len(),
        changed.executed()
    );
    let out = run(&engine, &tag, &[]);
    assert!(out.contains(&format!("second-{n}")), "{out}");

    // Without the context: an error at the recipe's find-links line, with the flag.
    let missing = build(&engine, &project, &format!("{tag}-missing"), &[]);
    assert!(!missing.ok, "a build without --build-context succeeded");
    let log = log_tail(&missing);
    assert!(log.contains("pycache.toml:8"), "{log}");
    assert!(
        log.contains("which this build was not given")
            && log.contains("--build-context wheels=./wheels"),
        "{log}"
    );
    assert!(!log.contains("exit code: 101"), "{log}");
    remove_image(&engine, &tag);
}

#[test]
#[ignore = "needs the engine: scripts/test.sh runs it"]
fn base_image_replaced_by_a_named_context() {
    let _turn = one_at_a_time();
    let engine = containerd();
    let n = nonce();
    let root = Scratch(std::env::temp_dir().join(format!("pycache-contexts-base-{n}")));
    // Another local image: the base with a file and a variable of its own.
    let other = format!("local/pycache-e2e-other-base:{n}");
    let dockerfile_dir = root.0.join("other");
    std::fs::create_dir_all(&dockerfile_dir).unwrap();
    let mut f = std::fs::File::create(dockerfile_dir.join("Dockerfile")).unwrap();
    write!(
        f,
        "FROM {}\nENV PYCACHE_E2E_BASE=other-{n}\nRUN echo other-{n} > /etc/pycache-e2e-base\n",
        base_image()
    )
    .unwrap();
    drop(f);
    let made = engine
        .docker()
        .args(["build", "-q", "-t", &other])
        .arg(&dockerfile_dir)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "building {other}: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let project = root.0.join("project");
    copy_dir(&testdata("uv-minimal"), &project);
    let recipe = std::fs::read_to_string(project.join("pycache.toml")).unwrap();
    let base = base_image();
    assert!(recipe.contains(&format!("base = \"{base}\"")), "{recipe}");
    let tag = format!("pycache-e2e-contexts-base:{n}");
    let context = format!("{base}=docker-image://{other}");
    let b = build(&engine, &project, &tag, &["--build-context", &context]);
    assert_built(&b, "the build with the base replaced");

    let env = config(&engine, &tag)["Env"].clone();
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|v| v == &serde_json::json!(format!("PYCACHE_E2E_BASE=other-{n}"))),
        "{env}"
    );
    let out = engine
        .docker()
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "cat",
            &tag,
            "/etc/pycache-e2e-base",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("other-{n}"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run(&engine, &tag, &[]).contains("six"), "the image runs");
    remove_image(&engine, &tag);
    remove_image(&engine, &other);
}
