//! The effective selection of a target: the top-level recipe values with the `[targets.X]`
//! overrides applied.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::recipe::{self, Recipe, Sp};

pub(super) struct Selection<'r> {
    pub groups: Vec<&'r Sp<String>>,
    pub extras: Vec<&'r Sp<String>>,
    pub no_dev: bool,
    pub runtime_packages: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<&'r Sp<String>>,
}

fn strings(v: &Sp<Vec<Sp<String>>>) -> Vec<String> {
    v.get_ref().iter().map(|s| s.get_ref().clone()).collect()
}

pub(super) fn select<'r>(recipe: &'r Recipe, target: &str) -> Result<Selection<'r>, Diagnostic> {
    let py = &recipe.python;
    let mut sel = Selection {
        groups: py.groups.iter().collect(),
        extras: py.extras.iter().collect(),
        no_dev: py.no_dev.as_ref().is_none_or(|b| *b.get_ref()),
        runtime_packages: recipe::values(&recipe.apt.packages),
        env: recipe
            .image
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect(),
        entrypoint: recipe.image.entrypoint.as_ref().map(strings),
        cmd: recipe.image.cmd.as_ref().map(strings),
        user: recipe.image.user.as_ref(),
    };
    if target == recipe::RUNTIME_TARGET || target.is_empty() {
        return Ok(sel);
    }
    let Some(t) = recipe.targets.get(target) else {
        let mut names: Vec<&str> = vec![recipe::RUNTIME_TARGET];
        names.extend(recipe.targets.keys().map(String::as_str));
        let help = match crate::diag::did_you_mean(target, &names) {
            Some(n) => format!("did you mean `{n}`?"),
            None => format!("targets in this recipe: {}", names.join(", ")),
        };
        return Err(
            Diagnostic::new(&recipe.file, format!("target `{target}` is not defined")).help(help),
        );
    };
    let t = t.get_ref();
    if let Some(g) = &t.groups {
        sel.groups = g.iter().collect();
    }
    if let Some(e) = &t.extras {
        sel.extras = e.iter().collect();
    }
    if let Some(nd) = &t.no_dev {
        sel.no_dev = *nd.get_ref();
    }
    sel.runtime_packages
        .extend(t.packages.iter().map(|p| p.get_ref().clone()));
    for (k, v) in &t.env {
        sel.env.insert(k.clone(), v.get_ref().clone());
    }
    if let Some(e) = &t.entrypoint {
        sel.entrypoint = Some(strings(e));
    }
    if let Some(c) = &t.cmd {
        sel.cmd = Some(strings(c));
    }
    if let Some(u) = &t.user {
        sel.user = Some(u);
    }
    Ok(sel)
}
