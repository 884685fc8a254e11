//! Git dependencies over SSH (`git+ssh://…` in the lock or the requirements): which steps get
//! the build's SSH agent (`docker buildx build --ssh default`), and what they need to use it.
//!
//! - Only the installs of such packages get the agent, as `RUN --mount=type=ssh` gives it: a
//!   socket BuildKit forwards to the client's agent for the step alone. Neither the socket nor
//!   any key is in the LLB, a layer or the image config: the LLB holds the id and the path.
//! - Host keys are checked, never trusted on first use: ssh reads the forges' published keys
//!   ([`FORGES`]) and the recipe's `known-hosts` lines from a file mounted for the step, with
//!   `StrictHostKeyChecking=yes`. Before uv or pip runs, the step checks that every SSH server
//!   it fetches from has a key there, and otherwise says which host, what key it offers (its
//!   fingerprint, to check) and which recipe key to add it to.
//! - Without an agent for the id the step fails first, naming the packages and the flag.
//! - The builder gets `git` and `openssh-client` with the build packages (apt, cached).

use super::{Bind, BindSource, Run, SshMount, shell};
use crate::lock::git::SshRemote;
use crate::recipe::Recipe;

/// Where the agent's socket is mounted, as the Dockerfile frontend mounts the first one.
pub const AGENT_SOCKET: &str = "/run/buildkit/ssh_agent.0";

/// Where the step's known hosts are mounted (outside the workdir, never in a layer).
pub const KNOWN_HOSTS: &str = "/pycache/ssh/known_hosts";

/// The host keys of GitHub, GitLab.com and Bitbucket Cloud, as they publish them (sources
/// and fingerprints in the file).
pub const FORGES: &str = include_str!("known_hosts");

/// The Debian packages a step fetching over SSH runs: `git` for uv and pip, and the ssh client
/// git runs (with `ssh-keygen` and `ssh-keyscan` for the host check).
pub const TOOLS: [&str; 2] = ["git", "openssh-client"];

/// The packages whose installs need the agent, at most this many named in a message.
const NAMED: usize = 3;

/// What one install step needs to fetch its packages over SSH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Access {
    /// Shell lines to run first (after `set -eu`): the agent and host key checks.
    pub script: String,
    pub env: Vec<(String, String)>,
    pub known_hosts: Bind,
    pub mount: SshMount,
}

/// The access a step installing `needs` (each package's name and its SSH server) must have,
/// or `None` when none of them comes over SSH.
pub(super) fn access(recipe: &Recipe, needs: &[(String, SshRemote)]) -> Option<Access> {
    if needs.is_empty() {
        return None;
    }
    let id = recipe.python.ssh_id();
    let mut names: Vec<&str> = needs.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    names.dedup();
    let packages = match names.len() {
        n if n > NAMED => format!("{} and {} more", names[..NAMED].join(", "), n - NAMED),
        _ => names.join(", "),
    };
    let socket = shell::quote(AGENT_SOCKET);
    let missing = shell::quote(&format!(
        "pycache: installing {packages} fetches git over SSH and needs an SSH agent, which this build was not given: pass --ssh {id} to docker buildx build (your agent, $SSH_AUTH_SOCK), or --ssh {id}=$SSH_AUTH_SOCK, or --ssh {id}=<private key file>"
    ));
    let no_keys = shell::quote(&format!(
        "pycache: the SSH agent of --ssh {id} holds no key: add the key that reads {packages} to it (ssh-add), or pass --ssh {id}=<private key file>"
    ));
    let mut script = format!(
        "[ -S {socket} ] || {{ echo {missing} >&2; exit 1; }}\nrc=0; ssh-add -l >/dev/null 2>&1 || rc=$?\n[ \"$rc\" != 1 ] || {{ echo {no_keys} >&2; exit 1; }}\n"
    );
    let mut remotes: Vec<&SshRemote> = needs.iter().map(|(_, r)| r).collect();
    remotes.sort();
    remotes.dedup_by(|a, b| a.known_hosts_name() == b.known_hosts_name());
    for remote in remotes {
        script.push_str(&host_check(remote));
    }
    let command = format!(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={KNOWN_HOSTS} -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=30"
    );
    Some(Access {
        script,
        env: vec![
            ("GIT_SSH_COMMAND".into(), command),
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
            ("SSH_AUTH_SOCK".into(), AGENT_SOCKET.into()),
        ],
        known_hosts: Bind {
            source: BindSource::Text(known_hosts(recipe)),
            target: KNOWN_HOSTS.into(),
        },
        mount: SshMount {
            id: id.to_owned(),
            target: AGENT_SOCKET.into(),
        },
    })
}

/// Gives `run` (whose script already runs `access.script`) the agent, the known hosts and
/// the environment that points git and ssh at them; nothing without `access`.
pub(super) fn grant(run: &mut Run, access: Option<Access>) {
    let Some(access) = access else { return };
    run.binds.push(access.known_hosts);
    run.ssh = Some(access.mount);
    run.env.extend(access.env);
    run.env.sort();
}

/// The known hosts file of a step: the forges', then the recipe's lines.
pub fn known_hosts(recipe: &Recipe) -> String {
    let mut text = FORGES.to_owned();
    if !recipe.python.known_hosts.is_empty() {
        text.push_str("# [python] known-hosts\n");
        for line in &recipe.python.known_hosts {
            text.push_str(line.get_ref().trim());
            text.push('\n');
        }
    }
    text
}

/// Shell lines that fail, bounded and with the fix, when `remote` has no key in the step's
/// known hosts. The key the server offers is shown (never trusted) so that its fingerprint
/// can be checked before it is added.
fn host_check(remote: &SshRemote) -> String {
    let name = remote.known_hosts_name();
    let unknown = shell::quote(&format!(
        "pycache: the SSH host key of {remote} is not known, and pycache does not trust a host on first use: add its key to [python] known-hosts in the recipe, e.g. known-hosts = [\"{name} ssh-ed25519 AAAA…\"], after checking its fingerprint against the one its operator publishes. {remote} offers:"
    ));
    let scan = format!(
        "ssh-keyscan -T 10 -t ed25519,ecdsa -p {} {}",
        remote.port_or_default(),
        shell::quote(&remote.host)
    );
    format!(
        "ssh-keygen -F {} -f {KNOWN_HOSTS} >/dev/null 2>&1 || {{ echo {unknown} >&2; {scan} 2>/dev/null | head -n 4 > /tmp/pycache-offered || true; ssh-keygen -lf /tmp/pycache-offered >&2 || echo '  (no answer)' >&2; cut -c1-200 /tmp/pycache-offered >&2; exit 1; }}\n",
        shell::quote(&name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::git::ssh_remote;

    fn recipe(text: &str) -> Recipe {
        crate::recipe::parse("pycache.toml", text, &Default::default()).unwrap()
    }

    fn need(name: &str, url: &str) -> (String, SshRemote) {
        (name.into(), ssh_remote(url).unwrap())
    }

    #[test]
    fn no_ssh_package_no_access() {
        assert_eq!(access(&recipe(""), &[]), None);
    }

    #[test]
    fn the_agent_id_defaults_and_the_recipe_names_another() {
        let needs = [need(
            "private",
            "git+ssh://git@github.com/org/private.git@abc",
        )];
        let a = access(&recipe(""), &needs).unwrap();
        assert_eq!(
            a.mount,
            SshMount {
                id: "default".into(),
                target: AGENT_SOCKET.into()
            }
        );
        assert!(a.script.contains("pass --ssh default to docker buildx build (your agent, $SSH_AUTH_SOCK), or --ssh default=$SSH_AUTH_SOCK"));
        assert!(a.script.contains("installing private fetches git over SSH"));
        let a = access(&recipe("[python]\nssh = \"deploy-key\"\n"), &needs).unwrap();
        assert_eq!(a.mount.id, "deploy-key");
        assert!(a.script.contains("--ssh deploy-key=$SSH_AUTH_SOCK"));
    }

    #[test]
    fn every_host_is_checked_once_strictly() {
        let needs = [
            need("a", "git+ssh://git@github.com/org/a.git@1"),
            need("b", "git+ssh://git@github.com/org/b.git@2"),
            need("c", "git+ssh://git@10.0.0.1:2222/srv/c.git@3"),
        ];
        let a = access(&recipe(""), &needs).unwrap();
        assert_eq!(a.script.matches("ssh-keygen -F github.com ").count(), 1);
        assert!(
            a.script
                .contains("ssh-keygen -F '[10.0.0.1]:2222' -f /pycache/ssh/known_hosts")
        );
        assert!(
            a.script
                .contains("ssh-keyscan -T 10 -t ed25519,ecdsa -p 2222 10.0.0.1")
        );
        assert!(
            a.script
                .contains("known-hosts = [\"[10.0.0.1]:2222 ssh-ed25519 AAAA…\"]")
        );
        let (_, command) = a.env.iter().find(|(k, _)| k == "GIT_SSH_COMMAND").unwrap();
        assert!(command.contains("StrictHostKeyChecking=yes"));
        assert!(!command.contains("StrictHostKeyChecking=no"));
    }

    #[test]
    fn many_packages_are_named_boundedly() {
        let needs: Vec<_> = (0..50)
            .map(|i| need(&format!("p{i:02}"), "git+ssh://git@github.com/o/x@1"))
            .collect();
        let a = access(&recipe(""), &needs).unwrap();
        assert!(
            a.script
                .contains("installing p00, p01, p02 and 47 more fetches")
        );
        assert!(a.script.len() < 2000, "{}", a.script.len());
    }

    /// Each step of `plan` with the `--ssh` id it gets, if any.
    fn ssh_of(plan: &crate::plan::Plan) -> Vec<(crate::plan::StepId, Option<String>)> {
        plan.steps()
            .map(|step| {
                let id = match &step.action {
                    crate::plan::Action::Run(run) => run.ssh.as_ref().map(|m| m.id.clone()),
                    _ => None,
                };
                (step.id, id)
            })
            .collect()
    }

    #[test]
    fn only_the_install_of_the_ssh_package_gets_the_agent() {
        use crate::plan::StepId;
        let plan = crate::testing::case_plan(
            "uv-git-ssh",
            "\n[apt]\npackages = [\"libpq5\"]\nbuild-packages = [\"gcc\"]\n",
        );
        let with: Vec<_> = ssh_of(&plan)
            .into_iter()
            .filter(|(_, id)| id.is_some())
            .collect();
        assert_eq!(with, [(StepId::Dependencies(1), Some("deploy-key".into()))]);
        assert_eq!(plan.env.dependencies[1].packages[0].0, "sshpkg 0.1.0");
        assert_eq!(plan.ssh_ids(), ["deploy-key"]);
        // git and the ssh client join the build packages, never the runtime's.
        let apt = |id| match &plan.step(id).unwrap().action {
            crate::plan::Action::Run(run) => run.script.clone(),
            _ => String::new(),
        };
        assert!(apt(StepId::AptBuild).ends_with("gcc git openssh-client"));
        assert!(apt(StepId::AptRuntime).ends_with("libpq5"));
        // Without git over SSH: no agent, no tools.
        let plain = crate::testing::case_plan("uv-minimal", "");
        assert!(plain.ssh_ids().is_empty());
        assert!(plain.step(StepId::AptBuild).is_none());
    }

    #[test]
    fn pip_requirements_with_a_git_ssh_url_get_the_agent_in_their_one_install() {
        use crate::plan::StepId;
        let dir = std::env::temp_dir().join(format!("pycache-ssh-pip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("requirements.txt"),
            "six==1.17.0\nprivate @ git+ssh://git@gitlab.com/org/private.git@0123abc\n",
        )
        .unwrap();
        let files = crate::detect::ProjectFiles::from_dir(&dir).unwrap();
        let plan = crate::plan_build(&crate::Inputs {
            recipe_file: "pycache.toml",
            recipe_text: "",
            recipe_dockerignore: None,
            files: &files,
            target: "",
            build_args: &Default::default(),
            platform: crate::platform::Platform::parse("linux/amd64").unwrap(),
            facts: Default::default(),
        });
        let _ = std::fs::remove_dir_all(&dir);
        let plan = plan.unwrap();
        let with: Vec<_> = ssh_of(&plan)
            .into_iter()
            .filter(|(_, id)| id.is_some())
            .collect();
        assert_eq!(with, [(StepId::Dependencies(0), Some("default".into()))]);
        let crate::plan::Action::Run(run) = &plan.env.dependencies[0].step.action else {
            panic!("not a run");
        };
        assert!(run.script.contains("ssh-keygen -F gitlab.com "));
        assert!(
            run.script
                .contains("installing private fetches git over SSH")
        );
    }

    #[test]
    fn known_hosts_are_the_forges_then_the_recipe() {
        let r = recipe(
            "[python]\nknown-hosts = [\"[git.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE\"]\n",
        );
        let text = known_hosts(&r);
        for host in ["github.com ", "gitlab.com ", "bitbucket.org "] {
            assert_eq!(
                text.lines().filter(|l| l.starts_with(host)).count(),
                3,
                "{host}"
            );
        }
        assert!(text.ends_with("[git.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(crate::recipe::known_hosts_problem(line), None, "{line}");
        }
    }
}
