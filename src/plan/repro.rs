//! Reproducible layers: the shell lines and environment that make two clean builders write
//! the same bytes (file times, `.pyc` flavour, uv's own build records).

use super::{VENV, shell};

/// The mtime every file of the environment and source gets: the Unix epoch. Install tools
/// stamp files with the time they ran; without this, two clean builders give different layers.
pub const FILE_EPOCH: i64 = 0;

/// Shell lines that set every file changed by a step under the venv's and workdir's parents to
/// `FILE_EPOCH`. Only files newer than it are touched: touching an unchanged file would copy it
/// up into the step's layer.
pub(super) fn normalize_mtimes(workdir: &str) -> String {
    let venv_parent = VENV.rsplit_once('/').map_or("/", |(p, _)| p);
    let mut roots = vec![venv_parent.to_owned()];
    if workdir != venv_parent {
        roots.push(workdir.to_owned());
    }
    format!(
        "find {} -newermt @{FILE_EPOCH} -exec touch -h -d @{FILE_EPOCH} {{}} +",
        shell::join(&roots)
    )
}

/// uv writes `uv_cache.json` (with the build's or the file's time) into the dist-info of local
/// packages it builds and of wheels it installs from local files, and lists it in `RECORD`:
/// drop both, so the project and dependency layers are reproducible and their `RECORD`s those
/// of `uv sync`. Only uv reads the file, to decide whether to reinstall, and the image has no
/// uv.
pub(super) fn drop_uv_cache_info() -> String {
    format!(
        "for f in {VENV}/lib/python*/site-packages/*.dist-info/uv_cache.json; do [ -e \"$f\" ] || continue; rm \"$f\"; sed -i '/uv_cache\\.json,/d' \"${{f%/*}}/RECORD\"; done"
    )
}

/// Shell line that marks the start of a step for [`normalize_since_start`], one second early:
/// some tools (shadow's backup files) keep times to the second, which would otherwise look
/// older than a mark taken in the same second.
pub(super) fn mark_start() -> &'static str {
    "touch -d \"@$(( $(date +%s) - 1 ))\" /tmp/.pycache-start"
}

/// Shell line that sets files changed since the step began (`/tmp/.pycache-start`, on the
/// step's tmpfs) under `roots` to `FILE_EPOCH`, for steps that edit files of the base image.
/// The files BuildKit mounts read-only into every step (`/etc/hosts` …) are left alone.
pub(super) fn normalize_since_start(roots: &[&str]) -> String {
    format!(
        "find {} -xdev -newer /tmp/.pycache-start ! -path /etc/hosts ! -path /etc/hostname ! -path /etc/resolv.conf -exec touch -h -d @{FILE_EPOCH} {{}} +",
        roots.join(" ")
    )
}

/// Env of steps that write the environment or the runtime user: `SOURCE_DATE_EPOCH` makes
/// Python write hash-checked `.pyc` files, which do not depend on mtimes, and shadow-utils
/// date a password's last change by it rather than by the day of the build.
pub(super) fn reproducible_env(env: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("SOURCE_DATE_EPOCH".into(), FILE_EPOCH.to_string()));
    env.sort();
    env
}
