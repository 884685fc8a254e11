//! System packages with apt: runtime ones in the runtime stage, build-only ones in the builder,
//! each under `sharing=locked` cache mounts of apt's archives and lists, per platform.

use super::{
    Action, CacheMount, Run, Sharing, Stage, Step, StepId, env_pairs, shell, sorted_unique,
};
use crate::platform::Platform;
use crate::recipe::Recipe;

/// The runtime stage's packages, if any.
pub(super) fn runtime_step(packages: &[String], platform: &Platform) -> Option<Step> {
    (!packages.is_empty()).then(|| {
        step(
            StepId::AptRuntime,
            Stage::Runtime,
            packages.to_vec(),
            platform,
            "runtime system packages change rarely: first in the runtime stage, and not in the builder, so adding one never reinstalls the dependencies",
        )
    })
}

/// The builder's build-only packages (`[apt] build-packages`, and the `tools` the plan needs),
/// if any.
pub(super) fn build_step(recipe: &Recipe, platform: &Platform, tools: &[&str]) -> Option<Step> {
    let mut packages = crate::recipe::values(&recipe.apt.build_packages);
    packages.extend(tools.iter().map(|t| (*t).to_owned()));
    let why = if tools.is_empty() {
        "compilers and headers are needed only to build wheels: builder stage only"
    } else {
        "build packages, and git and an SSH client for the git dependencies over SSH: builder stage only"
    };
    (!packages.is_empty()).then(|| step(StepId::AptBuild, Stage::Builder, packages, platform, why))
}

fn step(id: StepId, stage: Stage, packages: Vec<String>, platform: &Platform, why: &str) -> Step {
    let packages = sorted_unique(packages);
    let suffix = platform.cache_suffix();
    let script = [
        "set -eu".to_owned(),
        "rm -f /etc/apt/apt.conf.d/docker-clean".to_owned(),
        "echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache".to_owned(),
        "apt-get update -qq".to_owned(),
        format!(
            "apt-get install -y -qq --no-install-recommends {}",
            shell::join(&packages)
        ),
    ]
    .join("\n");
    Step::new(
        id,
        stage,
        format!("apt-get install {}", packages.join(" ")),
        vec![format!("apt packages: {}", packages.join(", "))],
        why,
        Action::Run(Run {
            script,
            env: env_pairs([("DEBIAN_FRONTEND", "noninteractive")]),
            caches: vec![
                CacheMount {
                    id: format!("pycache-apt-cache-{suffix}"),
                    target: "/var/cache/apt".into(),
                    sharing: Sharing::Locked,
                },
                CacheMount {
                    id: format!("pycache-apt-lists-{suffix}"),
                    target: "/var/lib/apt".into(),
                    sharing: Sharing::Locked,
                },
            ],
            ..Default::default()
        }),
    )
}
