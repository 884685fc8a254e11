//! `pycache explain`: the plan as text, step by step, with what invalidates each step.

use std::fmt::Write;

use super::{Action, BindSource, Join, Plan, RuntimeUser, Step, plural};

pub fn explain(plan: &Plan) -> String {
    let mut out = String::new();
    let user = match &plan.user {
        RuntimeUser::Root => "root".to_owned(),
        RuntimeUser::Created { name, uid } => format!("{name} (uid {uid}, created)"),
        RuntimeUser::Existing(u) => u.clone(),
    };
    let _ = writeln!(out, "target:   {}", plan.target);
    let _ = writeln!(out, "platform: {}", plan.platform.id());
    let _ = writeln!(out, "base:     {}", plan.base_image);
    let _ = writeln!(out, "manager:  {:?}", plan.manager);
    if let Some(lock) = &plan.env.lock {
        let _ = writeln!(out, "lock:     {lock}");
    }
    let _ = writeln!(out, "workdir:  {}", plan.workdir);
    let _ = writeln!(out, "user:     {user}");
    let mut n = 0;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "stage builder (FROM {}; never shipped)",
        plan.base_image
    );
    let env = &plan.env;
    for step in plan.toolchain.iter().chain([&env.skeleton]) {
        n += 1;
        step_lines(&mut out, n, step);
    }
    n += 1;
    dependency_lines(&mut out, n, plan);
    for step in env
        .check
        .iter()
        .chain(&env.lock_files)
        .chain([&env.source])
        .chain(&env.project)
    {
        n += 1;
        step_lines(&mut out, n, step);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "stage runtime (FROM {}; the image)", plan.base_image);
    for step in &plan.runtime {
        n += 1;
        step_lines(&mut out, n, step);
    }
    n += 1;
    let layers = plan.layers();
    let (how, rebuilt) = match plan.join {
        Join::Merge => (
            "joined without copies (MergeOp of DiffOps)",
            "a layer's own step changes; the others are reused as they are",
        ),
        Join::Copy => (
            "copied onto the image in turn (this engine has no MergeOp/DiffOp)",
            "a layer's own step changes, or any layer below it: each install is still reused, \
             but the copies above a changed layer are made and exported again",
        ),
    };
    let _ = writeln!(
        out,
        "  {n:>2}. the environment's {}, {how}:",
        plural(layers.len(), "layer", "layers")
    );
    for layer in &layers {
        let _ = writeln!(out, "        {}", layer.title);
    }
    let _ = writeln!(out, "      rebuilt when: {rebuilt}");
    let img = &plan.image;
    let _ = writeln!(out, "\nimage config");
    if let Some(e) = &img.entrypoint {
        let _ = writeln!(out, "  entrypoint: {e:?}");
    }
    if let Some(c) = &img.cmd {
        let _ = writeln!(out, "  cmd:        {c:?}");
    }
    if let Some(p) = &img.path_prefix {
        let _ = writeln!(out, "  PATH:       {p}:<base PATH>");
    }
    for (k, v) in &img.env {
        let _ = writeln!(out, "  env:        {k}={v}");
    }
    for p in &img.exposed_ports {
        let _ = writeln!(out, "  expose:     {p}");
    }
    for (k, v) in &img.labels {
        let _ = writeln!(out, "  label:      {k}={v}");
    }
    if !plan.context_excludes.is_empty() {
        let _ = writeln!(
            out,
            "\nsource excludes: {}",
            plan.context_excludes.join(", ")
        );
    }
    out
}

/// One step: its title, what invalidates it, why it is there, and its mounts.
fn step_lines(out: &mut String, n: usize, step: &Step) {
    let _ = writeln!(out, "  {n:>2}. {}", step.title);
    let _ = writeln!(out, "      rebuilt when: {}", step.keyed_on.join("; "));
    let _ = writeln!(out, "      why here:     {}", step.why);
    let Action::Run(run) = &step.action else {
        return;
    };
    for b in &run.binds {
        let from = match &b.source {
            BindSource::Context(p) => format!("context:{p}"),
            BindSource::Text(text) => {
                format!("{} lines written into the LLB", text.lines().count())
            }
            BindSource::LayerRecords(i) => format!("RECORD files of dependency layer {}", i + 1),
            BindSource::NamedContext { context, path } => {
                format!("build context {context}:{path} (--build-context {context}=DIR)")
            }
            BindSource::Download { url, sha256 } => format!("{url} (sha256 {sha256})"),
        };
        let _ = writeln!(
            out,
            "      mount:        {from} -> {} (read-only)",
            b.target
        );
    }
    for c in &run.caches {
        let _ = writeln!(
            out,
            "      cache:        {} (id {}, {:?}; never part of the image)",
            c.target, c.id, c.sharing
        );
    }
    secret_lines(out, run);
}

/// The secrets a step reads: where, and that their values key nothing.
fn secret_lines(out: &mut String, run: &super::Run) {
    for s in &run.secrets {
        let _ = writeln!(
            out,
            "      secret:       {} -> {} (--secret id={}; never in a layer, its value keys nothing)",
            s.id, s.target, s.id
        );
    }
    if let Some(ssh) = &run.ssh {
        let _ = writeln!(
            out,
            "      ssh:          {} -> {} (--ssh {}; the agent's socket, never in a layer; host keys checked)",
            ssh.id, ssh.target, ssh.id
        );
    }
}

/// The dependency layers: how they are made, then each with its packages and size.
fn dependency_lines(out: &mut String, n: usize, plan: &Plan) {
    let deps = &plan.env.dependencies;
    let total: u64 = deps.iter().map(|d| d.size()).sum();
    let size = if total == 0 {
        "sizes not in the lock".to_owned()
    } else {
        format!("{} of wheels", human(total))
    };
    let _ = writeln!(
        out,
        "  {n:>2}. dependencies: {}, {size}",
        plural(deps.len(), "layer", "layers"),
    );
    if let Some(first) = deps.first() {
        let _ = writeln!(
            out,
            "      each layer:   its own packages, pinned and hashed, installed --no-deps on the empty environment"
        );
        let _ = writeln!(
            out,
            "      rebuilt when: {}",
            first.step.keyed_on.join("; ")
        );
        let _ = writeln!(
            out,
            "      why here:     one changed dependency re-installs one layer; the source and the project never key them"
        );
        if let Action::Run(run) = &first.step.action {
            for c in &run.caches {
                let _ = writeln!(
                    out,
                    "      cache:        {} (id {}, {:?}; never part of the image)",
                    c.target, c.id, c.sharing
                );
            }
        }
    }
    if let Some(reason) = &plan.env.single_layer_reason {
        let _ = writeln!(out, "      one layer:    {reason}");
    }
    let downloads = |d: &super::DependencyLayer| match &d.step.action {
        Action::Run(run) => run
            .binds
            .iter()
            .filter(|b| matches!(b.source, BindSource::Download { .. }))
            .count(),
        _ => 0,
    };
    let (fetched, wheels) = deps
        .iter()
        .map(downloads)
        .fold((0, 0), |(l, w), n| (l + usize::from(n > 0), w + n));
    if fetched > 0 {
        let _ = writeln!(
            out,
            "      files:        {} of the lock, downloaded by the daemon for {} (each keyed by its sha256, fetched once), that {} install{} from",
            plural(wheels, "wheel", "wheels"),
            plan.platform,
            plural(fetched, "layer", "layers"),
            if fetched == 1 { "s" } else { "" },
        );
    }
    for (i, dep) in deps.iter().enumerate() {
        let what = dep
            .step
            .title
            .strip_prefix("deps: ")
            .unwrap_or(&dep.step.title);
        let _ = writeln!(
            out,
            "      {:>3}/{:<3} {:>9}  {what}",
            i + 1,
            deps.len(),
            human(dep.size())
        );
        if let Action::Run(run) = &dep.step.action
            && !run.secrets.is_empty()
        {
            let ids: Vec<&str> = run.secrets.iter().map(|s| s.id.as_str()).collect();
            let _ = writeln!(out, "                secrets: {}", ids.join(", "));
        }
        if let Action::Run(run) = &dep.step.action
            && let Some(ssh) = &run.ssh
        {
            let _ = writeln!(out, "                ssh: {} (--ssh {})", ssh.id, ssh.id);
        }
        if let Action::Run(run) = &dep.step.action {
            for b in &run.binds {
                if let BindSource::NamedContext { context, path } = &b.source {
                    let _ = writeln!(
                        out,
                        "                find-links: {path} of build context {context} (--build-context {context}=DIR; keyed on its content)"
                    );
                }
            }
        }
        if dep.packages.len() > 1 {
            for (name, size) in &dep.packages {
                let _ = writeln!(out, "                {:>9}    {name}", human(*size));
            }
        }
    }
}

/// `69.6 kB`, `16.9 MB`, as registries and Docker print sizes.
pub fn human(bytes: u64) -> String {
    match bytes {
        0 => "?".into(),
        b if b < 1000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        b if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.2} GB", b as f64 / 1e9),
    }
}
