//! The recipe's groups and extras against those the project has.

use super::*;

/// The groups and extras a project defines, and where, for [`check_selection`].
pub(super) struct Known<'a> {
    pub(super) file: &'a str,
    pub(super) groups: &'a [String],
    pub(super) group_section: &'a str,
    pub(super) extras: &'a [String],
    pub(super) extra_section: &'a str,
}

/// Groups and extras named in the recipe (top level and targets) must exist in the project.
pub(super) fn check_selection(recipe: &Recipe, known: &Known, diags: &mut Diagnostics) {
    let top = [
        (&recipe.python.groups, "group"),
        (&recipe.python.extras, "extra"),
    ];
    let targets = recipe.targets.values().flat_map(|t| {
        let t = t.get_ref();
        [(t.groups.as_ref(), "group"), (t.extras.as_ref(), "extra")]
    });
    let all = top
        .into_iter()
        .map(|(l, k)| (Some(l), k))
        .chain(targets)
        .filter_map(|(l, k)| Some((l?, k)));
    for (list, kind) in all {
        let (names, section) = if kind == "group" {
            (known.groups, known.group_section)
        } else {
            (known.extras, known.extra_section)
        };
        for item in list {
            if names
                .iter()
                .any(|k| normalize_name(k) == normalize_name(item.get_ref()))
            {
                continue;
            }
            let file = known.file;
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let help = match crate::diag::did_you_mean(item.get_ref(), &refs) {
                Some(k) => format!("did you mean `{k}`?"),
                None if names.is_empty() => format!("{file} has no {section}"),
                None => format!("{file} defines: {}", names.join(", ")),
            };
            diags.push(
                Diagnostic::new(
                    &recipe.file,
                    format!(
                        "unknown {kind} `{}`: not in {file} {section}",
                        item.get_ref()
                    ),
                )
                .at(&recipe.source, item.span())
                .help(help),
            );
        }
    }
}
