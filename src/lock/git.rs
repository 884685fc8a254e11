//! Git sources of locked packages. Every lock writes a repository its own way (uv.lock
//! `ssh://git@host/org/repo?rev=main#<commit>`, older uv.lock `git+ssh://…`, Poetry
//! `git@host:org/repo.git`, pylock `vcs.url`); here they become the one PEP 508 direct URL uv
//! and pip install, `git+<repository>@<commit>[#subdirectory=…]`, pinned to the locked commit.
//! [`SshRemote`] says which of them are fetched over SSH: those installs need the build's SSH
//! agent (`--ssh`) and a known host key.

use std::fmt;

/// The SSH server a git dependency is fetched from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SshRemote {
    pub user: Option<String>,
    pub host: String,
    /// `None` for SSH's port 22.
    pub port: Option<u16>,
}

impl SshRemote {
    /// The host as `known_hosts` and `ssh-keygen -F` name it: `host`, or `[host]:port` off 22.
    pub fn known_hosts_name(&self) -> String {
        match self.port {
            None | Some(22) => self.host.clone(),
            Some(port) => format!("[{}]:{port}", self.host),
        }
    }

    /// The port ssh connects to.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(22)
    }
}

impl fmt::Display for SshRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            None | Some(22) => f.write_str(&host),
            Some(port) => write!(f, "{host}:{port}"),
        }
    }
}

/// A lock's repository URL as it follows `git+` in a PEP 508 URL: a leading `git+` dropped
/// (older uv locks keep it), and Git's scp-like `user@host:path` written as
/// `ssh://user@host/path`, the only SSH form uv and pip read. The path is taken from the root,
/// as the forges serve `git@github.com:org/repo.git`.
pub fn repository_url(url: &str) -> String {
    let url = url.strip_prefix("git+").unwrap_or(url);
    match scp_like(url) {
        Some((authority, path)) => format!("ssh://{authority}/{}", path.trim_start_matches('/')),
        None => url.to_owned(),
    }
}

/// `user@host:path` (Git's scp-like syntax): its authority and path. Not a URL (no `://`),
/// and the colon comes before any `/` (else it is a local path).
fn scp_like(url: &str) -> Option<(&str, &str)> {
    if url.contains("://") {
        return None;
    }
    let (authority, path) = url.split_once(':')?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // One letter is a Windows drive (`C:\…`), never a host.
    (host.len() > 1 && !authority.contains(['/', '\\']) && !path.is_empty())
        .then_some((authority, path))
}

/// The PEP 508 direct URL of a git package: `git+<repository>@<commit>`, and
/// `#subdirectory=<dir>` when the package is not at the repository's root.
pub fn direct_url(repository: &str, commit: &str, subdirectory: Option<&str>) -> String {
    let mut url = format!("git+{}", repository_url(repository));
    if !commit.is_empty() {
        url.push('@');
        url.push_str(commit);
    }
    if let Some(sub) = subdirectory.filter(|s| !s.is_empty()) {
        url.push_str("#subdirectory=");
        url.push_str(sub);
    }
    url
}

/// The SSH server of a direct URL (`git+ssh://[user@]host[:port]/path@commit`, or the same
/// after `-e ` or `name @ `), when it is fetched over SSH.
pub fn ssh_remote(direct: &str) -> Option<SshRemote> {
    let rest = direct.trim().strip_prefix("git+ssh://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_owned()), h),
        None => (None, authority),
    };
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
    {
        return None;
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0)?),
    };
    Some(SshRemote {
        user,
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// The SSH server of a requirements line (`name @ git+ssh://…`, `-e git+ssh://…#egg=name`,
/// `git+ssh://…`), when it installs from one.
pub fn ssh_remote_in_requirement(line: &str) -> Option<SshRemote> {
    line.split_whitespace().find_map(ssh_remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_like_repositories_become_ssh_urls() {
        for (lock, url) in [
            (
                "git@github.com:org/private.git",
                "ssh://git@github.com/org/private.git",
            ),
            (
                "git@gitlab.com:/group/sub/x.git",
                "ssh://git@gitlab.com/group/sub/x.git",
            ),
            ("host.example:repo", "ssh://host.example/repo"),
            (
                "ssh://git@github.com/org/private.git",
                "ssh://git@github.com/org/private.git",
            ),
            (
                "git+ssh://git@github.com/org/private.git",
                "ssh://git@github.com/org/private.git",
            ),
            ("https://github.com/a/b", "https://github.com/a/b"),
            ("C:\\repos\\x", "C:\\repos\\x"),
            ("./local:dir", "./local:dir"),
        ] {
            assert_eq!(repository_url(lock), url, "{lock}");
        }
    }

    #[test]
    fn direct_urls_pin_the_commit() {
        assert_eq!(
            direct_url("git@github.com:org/x.git", "0123abc", Some("pkg")),
            "git+ssh://git@github.com/org/x.git@0123abc#subdirectory=pkg"
        );
        assert_eq!(
            direct_url("git+ssh://git@h.example:2222/x.git", "abc", None),
            "git+ssh://git@h.example:2222/x.git@abc"
        );
    }

    #[test]
    fn ssh_remotes_of_direct_urls() {
        let remote = |u| ssh_remote(u).map(|r| (r.user, r.host, r.port));
        assert_eq!(
            remote("git+ssh://git@github.com/org/x.git@abc"),
            Some((Some("git".into()), "github.com".into(), None))
        );
        assert_eq!(
            remote("git+ssh://git@10.213.1.1:2222/srv/x.git@abc#subdirectory=p"),
            Some((Some("git".into()), "10.213.1.1".into(), Some(2222)))
        );
        assert_eq!(
            remote("git+ssh://[::1]:2022/x"),
            Some((None, "::1".into(), Some(2022)))
        );
        assert_eq!(remote("git+https://github.com/a/b@abc"), None);
        assert_eq!(remote("git+ssh://git@host:99999/x"), None);
        assert_eq!(remote("git+ssh://git@ho$t/x"), None);
        assert_eq!(remote("git+ssh:///x"), None);
        let r = ssh_remote("git+ssh://git@Example.COM:2222/x").unwrap();
        assert_eq!(r.known_hosts_name(), "[example.com]:2222");
        assert_eq!(r.to_string(), "example.com:2222");
        let r = ssh_remote("git+ssh://git@github.com:22/x").unwrap();
        assert_eq!(r.known_hosts_name(), "github.com");
    }

    #[test]
    fn requirements_lines_with_ssh_urls() {
        for line in [
            "private @ git+ssh://git@github.com/org/private.git@0123",
            "-e git+ssh://git@github.com/org/private.git@0123#egg=private",
            "git+ssh://git@github.com/org/private.git@0123 ; python_version >= '3'",
        ] {
            assert_eq!(
                ssh_remote_in_requirement(line).map(|r| r.host),
                Some("github.com".into()),
                "{line}"
            );
        }
        assert_eq!(
            ssh_remote_in_requirement("six==1.17.0 --hash=sha256:aa"),
            None
        );
    }
}
