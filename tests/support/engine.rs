//! The private Docker engines the E2E tests build on (`scripts/engine.sh` starts them, see
//! `scripts/lib.sh` for their paths), and the one way a test may prune a build cache. Tests play
//! fresh CI runners by pruning, which must never reach a developer's own engine, so every docker
//! command here names its engine's socket, and the prune refuses any other.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Where `scripts/lib.sh` puts the engines' sockets: fixed, machine-wide.
const RUN_DIR: &str = "/run/pycache-engines";
/// Where their data roots are.
const LIB_DIR: &str = "/var/lib/pycache-engines";

pub struct Engine {
    name: &'static str,
    host: String,
}

impl Engine {
    /// The containerd image store engine, which every pycache build test uses.
    pub fn containerd() -> Engine {
        Engine::from_env("containerd", "PYCACHE_DOCKER_HOST")
    }

    /// The classic image store engine (overlay2; its BuildKit has no MergeOp).
    pub fn classic() -> Engine {
        Engine::from_env("classic", "PYCACHE_CLASSIC_DOCKER_HOST")
    }

    /// `scripts/lib.sh` exports the socket; without it (plain `cargo test -- --ignored`) the fixed
    /// path is the same one.
    fn from_env(name: &'static str, var: &str) -> Engine {
        let host = std::env::var(var).unwrap_or_else(|_| private_host(name));
        Engine { name, host }
    }

    /// Engine `name` said to be at `host`, for testing the refusals.
    pub fn at(name: &'static str, host: &str) -> Engine {
        Engine {
            name,
            host: host.to_owned(),
        }
    }

    /// `docker` talking to this engine only: a context or a selected buildx builder in the
    /// developer's environment could otherwise redirect it.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &self.host)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("BUILDX_BUILDER");
        c
    }

    fn output(&self, args: &[&str]) -> Output {
        self.docker()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("e2e: cannot run docker: {e}; run scripts/setup.sh"))
    }

    /// Ok when `host` is this engine's private socket and the dockerd answering there carries
    /// our label and data root; the reason otherwise.
    fn check_ours(&self) -> Result<(), String> {
        let private = private_host(self.name);
        if self.host != private {
            return Err(format!(
                "DOCKER_HOST {} is not pycache's private {} engine ({private})",
                self.host, self.name
            ));
        }
        let info = self.output(&["info", "--format", "{{json .Labels}}|{{.DockerRootDir}}"]);
        let text = String::from_utf8_lossy(&info.stdout);
        let label = format!("\"io.pycache.engine={}\"", self.name);
        let root = format!("|{LIB_DIR}/{}", self.name);
        if !info.status.success() {
            return Err(format!(
                "no engine answers at {}: {}",
                self.host,
                String::from_utf8_lossy(&info.stderr).trim()
            ));
        }
        if !text.contains(&label) || !text.trim_end().ends_with(&root) {
            return Err(format!(
                "the engine at {} is not pycache's {} engine (labels|root: {})",
                self.host,
                self.name,
                text.trim()
            ));
        }
        Ok(())
    }

    /// Panics with the fix unless this engine runs, is ours, has buildx, and has `images`.
    pub fn require(&self, images: &[&str]) {
        if let Err(e) = self.check_ours() {
            panic!(
                "e2e: {e}; run scripts/setup.sh (or scripts/test.sh, which runs it and these tests)"
            );
        }
        let buildx = self.output(&["buildx", "version"]);
        assert!(
            buildx.status.success(),
            "e2e: docker buildx is not available: {}; run scripts/setup.sh",
            String::from_utf8_lossy(&buildx.stderr)
        );
        for image in images {
            assert!(
                self.output(&["image", "inspect", image]).status.success(),
                "e2e: image {image} is missing on the {} engine ({}); run scripts/setup.sh",
                self.name,
                self.host
            );
        }
    }

    /// Empties this engine's build cache and cache mounts, as on a fresh CI runner. Refuses,
    /// before running anything, unless this is one of our private engines.
    pub fn prune_build_cache(&self) {
        if let Err(e) = self.check_ours() {
            panic!("refusing to prune: {e}");
        }
        let prune = self.output(&["buildx", "prune", "--all", "--force"]);
        assert!(
            prune.status.success(),
            "docker buildx prune on the {} engine: {}",
            self.name,
            String::from_utf8_lossy(&prune.stderr)
        );
    }
}

fn private_host(name: &str) -> String {
    format!("unix://{RUN_DIR}/{name}/docker.sock")
}
