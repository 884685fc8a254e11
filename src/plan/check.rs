//! The check of the merged environment: two dependency layers must not write the same file
//! with different contents (a later layer would hide the earlier one's file). It reads only
//! each layer's `RECORD` files, copied out as tiny states, so it never needs the layers
//! themselves: on a fresh runner nothing large is pulled for it, and it re-runs only when a
//! layer changes. It writes the layers' contents to `REPORT`, a small layer of the image, and
//! prints a warning for every conflict.

use super::{Action, Bind, BindSource, DependencyLayer, Run, Stage, Step, StepId, VENV};

/// Where the check puts the layers' contents and conflicts, in the image.
pub const REPORT: &str = "/app/.venv/pycache-layers.txt";
/// Where each layer's `RECORD` files are mounted: `RECORDS/<index>/python*/site-packages/…`.
pub const RECORDS: &str = "/pycache/records";

const SCRIPT: &str = r##"import csv, glob, os
report = []
owners = {}
for layer in sorted(glob.glob("RECORDS/*")):
    n = int(os.path.basename(layer))
    dists = []
    for record in sorted(glob.glob(layer + "/python*/site-packages/*.dist-info/RECORD")):
        dist = os.path.basename(os.path.dirname(record))[: -len(".dist-info")]
        dists.append(dist)
        with open(record, newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 2 and row[1]:
                    owners.setdefault(os.path.normpath(row[0]), []).append((n, dist, row[1]))
    report.append("layer %d: %s" % (n, " ".join(dists)))
conflicts = 0
for path, owns in sorted(owners.items()):
    if len({h for _, _, h in owns}) > 1:
        conflicts += 1
        who = ", ".join("%s (layer %d)" % (d, n) for n, d, _ in owns)
        line = "conflict: %s is written with different contents by %s; the image has layer %d's" % (path, who, owns[-1][0])
        report.append(line)
        print("pycache: warning: " + line)
report.append("%d conflicting files" % conflicts)
with open("REPORT", "w") as f:
    f.write("# pycache: what each dependency layer installed\n" + "\n".join(report) + "\n")
"##;

/// The check of `layers`, when there are two or more to compare.
pub(super) fn step(layers: &[DependencyLayer], workdir: &str) -> Option<Step> {
    if layers.len() < 2 {
        return None;
    }
    let script = SCRIPT.replace("RECORDS", RECORDS).replace("REPORT", REPORT);
    let binds = (0..layers.len())
        .map(|i| Bind {
            source: BindSource::LayerRecords(i),
            target: format!("{RECORDS}/{:03}", i + 1),
        })
        .collect();
    Some(Step::new(
        StepId::Check,
        Stage::Builder,
        format!(
            "check {} dependency layers for conflicting files",
            layers.len()
        ),
        vec!["every dependency layer's RECORD files".into()],
        "layers are installed apart: a file two of them write differently is reported here, not lost silently",
        Action::Run(Run {
            script: format!(
                "set -eu\n{VENV}/bin/python - <<'PYCACHE_CHECK'\n{script}PYCACHE_CHECK\n{}",
                super::repro::normalize_mtimes(workdir)
            ),
            binds,
            offline: true,
            ..Default::default()
        }),
    ))
}
