//! `pycache explain`: the plan as text, step by step, with what invalidates each step.

use std::fmt::Write;

use super::{Action, BindSource, Plan, RuntimeUser, Step};

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
    let _ = writeln!(out, "workdir:  {}", plan.workdir);
    let _ = writeln!(out, "user:     {user}");
    let mut n = 0;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "stage builder (FROM {}; never shipped)",
        plan.base_image
    );
    for step in plan.builder_steps() {
        n += 1;
        step_lines(&mut out, n, step);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "stage runtime (FROM {}; the image)", plan.base_image);
    for step in &plan.runtime {
        n += 1;
        step_lines(&mut out, n, step);
    }
    for layer in plan.layers() {
        n += 1;
        let _ = writeln!(out, "  {n:>2}. {}", layer.title);
        let _ = writeln!(out, "      rebuilt when: {}", layer.keyed_on);
        let _ = writeln!(out, "      why here:     {}", layer.why);
    }
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
    let side = matches!(&step.action, Action::Run(r) if r.side_output.is_some());
    let marker = if side { " (side output, no layer)" } else { "" };
    let _ = writeln!(out, "  {n:>2}. {}{marker}", step.title);
    let _ = writeln!(out, "      rebuilt when: {}", step.keyed_on.join("; "));
    let _ = writeln!(out, "      why here:     {}", step.why);
    let Action::Run(run) = &step.action else {
        return;
    };
    for b in &run.binds {
        let from = match &b.source {
            BindSource::Context(p) => format!("context:{p}"),
            BindSource::Export => "step:export".to_owned(),
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
}
