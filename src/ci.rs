//! `pycache ci github`: a GitHub Actions workflow that builds the recipe with buildx on every
//! push and pull request, for several platforms, with a cache export that keeps pycache's
//! dependency layers between runners (docs/ci.md, docs/caching.md say why each line is there).
//!
//! Pull requests get a job of their own that builds and pushes nothing, with read-only
//! permissions; pushes to branches and tags log in and push, and only that job may write
//! packages.

use std::fmt::Write;

/// Where the image is pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registry {
    /// `ghcr.io/<owner>/<image>`, logged in with the workflow's `GITHUB_TOKEN`.
    Ghcr,
    /// `docker.io/<vars.DOCKERHUB_USERNAME>/<image>`, with `secrets.DOCKERHUB_TOKEN`.
    DockerHub,
    /// `<host>/<owner>/<image>`, with `vars.REGISTRY_USERNAME` and `secrets.REGISTRY_PASSWORD`.
    Other(String),
}

impl Registry {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "ghcr" | "ghcr.io" => Ok(Registry::Ghcr),
            "dockerhub" | "docker.io" | "docker-hub" => Ok(Registry::DockerHub),
            host if !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c)) =>
            {
                Ok(Registry::Other(host.to_ascii_lowercase()))
            }
            other => Err(format!(
                "`{other}` is not a registry: ghcr, dockerhub, or a host name (registry.example.com[:port])"
            )),
        }
    }
}

/// Where the build cache is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// GitHub's cache service (`type=gha`), a scope per image and branch.
    Gha,
    /// A tag of the image's repository per branch (`type=registry`).
    Registry,
}

impl Cache {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "gha" => Ok(Cache::Gha),
            "registry" => Ok(Cache::Registry),
            other => Err(format!("`{other}` is not a cache backend: gha or registry")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GithubOptions {
    /// The image's name, the last part of its repository (and of the workflow's file name).
    pub image: String,
    pub registry: Registry,
    pub platforms: Vec<String>,
    pub cache: Cache,
    /// The build context, relative to the repository root.
    pub context: String,
    /// The recipe, relative to the repository root.
    pub recipe: String,
}

/// Where the workflow goes, relative to the repository root.
pub fn github_path(image: &str) -> String {
    format!(".github/workflows/{image}.yml")
}

const CHECKOUT: &str = "actions/checkout@v6";
const QEMU: &str = "docker/setup-qemu-action@v4";
const BUILDX: &str = "docker/setup-buildx-action@v4";
const LOGIN: &str = "docker/login-action@v4";
const METADATA: &str = "docker/metadata-action@v6";
const BUILD_PUSH: &str = "docker/build-push-action@v7";

/// The workflow's text.
pub fn github_workflow(opts: &GithubOptions) -> String {
    let image = &opts.image;
    let mut out = String::new();
    let _ = write!(
        out,
        "# Builds the image {image} from {recipe} with pycache, written by `pycache ci github`\n\
         # (see docs/ci.md). Pull requests build every platform and push nothing; branches and\n\
         # tags push. The cache export keeps each dependency layer: a one-package bump on a\n\
         # fresh runner re-installs that package only.\n\
         name: image {image}\n\
         \n\
         on:\n  push:\n    branches: [\"**\"]\n    tags: [\"v*\"]\n  pull_request:\n  workflow_dispatch:\n\
         \n\
         concurrency:\n  group: image-{image}-${{{{ github.ref }}}}\n  cancel-in-progress: true\n\
         \n\
         permissions:\n  contents: read\n\
         \n\
         env:\n  IMAGE: {repo}\n\
         \n\
         jobs:\n",
        recipe = opts.recipe,
        repo = image_repository(opts),
    );
    job(&mut out, opts, false);
    out.push('\n');
    job(&mut out, opts, true);
    out
}

fn image_repository(opts: &GithubOptions) -> String {
    let image = &opts.image;
    match &opts.registry {
        Registry::Ghcr => format!("ghcr.io/${{{{ github.repository_owner }}}}/{image}"),
        Registry::DockerHub => format!("docker.io/${{{{ vars.DOCKERHUB_USERNAME }}}}/{image}"),
        Registry::Other(host) => format!("{host}/${{{{ github.repository_owner }}}}/{image}"),
    }
}

fn job(out: &mut String, opts: &GithubOptions, push: bool) {
    let (name, condition, what) = if push {
        (
            "publish",
            "github.event_name != 'pull_request'",
            "Branches, tags and manual runs: build and push.",
        )
    } else {
        (
            "build",
            "github.event_name == 'pull_request'",
            "Pull requests: build every platform, push nothing, with read-only permissions.",
        )
    };
    let _ = write!(
        out,
        "  # {what}\n  {name}:\n    if: {condition}\n    runs-on: ubuntu-latest\n    permissions:\n      contents: read\n"
    );
    if push && opts.registry == Registry::Ghcr {
        out.push_str("      packages: write\n");
    }
    out.push_str("    steps:\n");
    let _ = write!(out, "      - uses: {CHECKOUT}\n\n");
    if opts
        .platforms
        .iter()
        .any(|p| !matches!(p.as_str(), "linux/amd64" | "linux/386"))
    {
        let _ = write!(
            out,
            "      # Emulation for the platforms the runner is not.\n      - uses: {QEMU}\n\n"
        );
    }
    let _ = write!(
        out,
        "      # A docker-container builder: multi-platform builds and cache exports.\n      - uses: {BUILDX}\n\n"
    );
    names_step(out, opts);
    if push {
        login_step(out, opts);
    }
    metadata_step(out);
    build_step(out, opts, push);
}

/// The cache scopes (or tags) of this branch and of the default branch, the image's name in
/// lower case, and the commit time. Branch names reach the shell through `env`, never
/// through an expression, so no branch name can inject a command.
fn names_step(out: &mut String, opts: &GithubOptions) {
    let image = &opts.image;
    let _ = write!(
        out,
        "      # The cache scope of this branch and of the default branch (the fallback), the image\n\
         \x20     # name in lower case, and SOURCE_DATE_EPOCH from the commit: buildx passes it to the\n\
         \x20     # build, and pycache sets the image's `created` from it.\n\
         \x20     - name: Names and commit time\n\
         \x20       id: names\n\
         \x20       shell: bash\n\
         \x20       env:\n\
         \x20         BRANCH: ${{{{ github.head_ref || github.ref_name }}}}\n\
         \x20         DEFAULT_BRANCH: ${{{{ github.event.repository.default_branch }}}}\n\
         \x20       run: |\n\
         \x20         slug() {{ local s=\"${{1,,}}\"; s=\"${{s//[^a-z0-9._-]/-}}\"; printf '%s' \"${{s:0:100}}\"; }}\n\
         \x20         echo \"scope={image}-$(slug \"$BRANCH\")\" >> \"$GITHUB_OUTPUT\"\n\
         \x20         echo \"default-scope={image}-$(slug \"$DEFAULT_BRANCH\")\" >> \"$GITHUB_OUTPUT\"\n\
         \x20         echo \"image=${{IMAGE,,}}\" >> \"$GITHUB_OUTPUT\"\n\
         \x20         echo \"SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)\" >> \"$GITHUB_ENV\"\n\n"
    );
}

fn login_step(out: &mut String, opts: &GithubOptions) {
    let (registry, username, password) = match &opts.registry {
        Registry::Ghcr => (
            Some("ghcr.io".to_owned()),
            "${{ github.actor }}",
            "${{ secrets.GITHUB_TOKEN }}",
        ),
        Registry::DockerHub => (
            None,
            "${{ vars.DOCKERHUB_USERNAME }}",
            "${{ secrets.DOCKERHUB_TOKEN }}",
        ),
        Registry::Other(host) => (
            Some(host.clone()),
            "${{ vars.REGISTRY_USERNAME }}",
            "${{ secrets.REGISTRY_PASSWORD }}",
        ),
    };
    let _ = write!(out, "      - uses: {LOGIN}\n        with:\n");
    if let Some(r) = registry {
        let _ = writeln!(out, "          registry: {r}");
    }
    let _ = write!(
        out,
        "          username: {username}\n          password: {password}\n\n"
    );
}

fn metadata_step(out: &mut String) {
    let _ = write!(
        out,
        "      # Tags: the branch, pr-N, the version of a v1.2.3 tag (and 1.2), sha-<short sha>, and\n\
         \x20     # latest on the default branch only.\n\
         \x20     - id: meta\n\
         \x20       uses: {METADATA}\n\
         \x20       with:\n\
         \x20         images: ${{{{ steps.names.outputs.image }}}}\n\
         \x20         flavor: latest=false\n\
         \x20         tags: |\n\
         \x20           type=ref,event=branch\n\
         \x20           type=ref,event=pr\n\
         \x20           type=semver,pattern={{{{version}}}}\n\
         \x20           type=semver,pattern={{{{major}}}}.{{{{minor}}}}\n\
         \x20           type=sha\n\
         \x20           type=raw,value=latest,enable={{{{is_default_branch}}}}\n\n"
    );
}

fn build_step(out: &mut String, opts: &GithubOptions, push: bool) {
    let (from, to) = cache_lines(opts, push);
    let _ = write!(
        out,
        "      # The recipe's `# syntax=` line makes pycache the frontend.\n\
         \x20     - uses: {BUILD_PUSH}\n\
         \x20       with:\n\
         \x20         context: {context}\n\
         \x20         file: {recipe}\n\
         \x20         platforms: {platforms}\n\
         \x20         push: {push}\n\
         \x20         tags: ${{{{ steps.meta.outputs.tags }}}}\n\
         \x20         labels: ${{{{ steps.meta.outputs.labels }}}}\n\
         \x20         cache-from: |\n{from}",
        context = opts.context,
        recipe = opts.recipe,
        platforms = opts.platforms.join(","),
    );
    if let Some(to) = to {
        let _ = writeln!(out, "          cache-to: {to}");
    }
}

/// `cache-from` lines (this branch, then the default branch) and `cache-to`.
fn cache_lines(opts: &GithubOptions, push: bool) -> (String, Option<String>) {
    let scope = "${{ steps.names.outputs.scope }}";
    let fallback = "${{ steps.names.outputs.default-scope }}";
    match opts.cache {
        Cache::Gha => (
            format!("            type=gha,scope={scope}\n            type=gha,scope={fallback}\n"),
            // A failed export (the service's rate limits, a full cache) must not fail a build
            // that succeeded.
            Some(format!("type=gha,scope={scope},mode=max,ignore-error=true")),
        ),
        Cache::Registry => {
            let tag = |s: &str| format!("${{{{ steps.names.outputs.image }}}}:buildcache-{}", s);
            let from = format!(
                "            type=registry,ref={}\n            type=registry,ref={}\n",
                tag(scope),
                tag(fallback)
            );
            // Pull requests cannot push: they read the caches only.
            let to = push.then(|| {
                format!(
                    "type=registry,ref={},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true",
                    tag(scope)
                )
            });
            (from, to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(registry: Registry, cache: Cache, platforms: &[&str]) -> GithubOptions {
        GithubOptions {
            image: "hello".into(),
            registry,
            platforms: platforms.iter().map(|p| (*p).to_owned()).collect(),
            cache,
            context: ".".into(),
            recipe: "pycache.toml".into(),
        }
    }

    fn job_text<'a>(text: &'a str, name: &str) -> &'a str {
        let start = text.find(&format!("\n  {name}:\n")).unwrap();
        let rest = &text[start + 1..];
        let end = rest[3..].find("\n  # ").map_or(rest.len(), |e| e + 3);
        &rest[..end]
    }

    #[test]
    fn only_the_publishing_job_logs_in_pushes_and_may_write_packages() {
        let text = github_workflow(&opts(
            Registry::Ghcr,
            Cache::Gha,
            &["linux/amd64", "linux/arm64"],
        ));
        let build = job_text(&text, "build");
        let publish = job_text(&text, "publish");
        assert!(build.contains("push: false") && !build.contains("packages: write"));
        assert!(!build.contains(LOGIN), "{build}");
        assert!(publish.contains("push: true") && publish.contains("packages: write"));
        assert!(publish.contains("password: ${{ secrets.GITHUB_TOKEN }}"));
        assert!(text.contains("platforms: linux/amd64,linux/arm64"));
        assert!(text.contains(QEMU));
        assert!(text.contains("mode=max,ignore-error=true"));
        assert!(text.contains("type=gha,scope=${{ steps.names.outputs.default-scope }}"));
    }

    #[test]
    fn docker_hub_needs_no_package_permission_and_amd64_no_emulation() {
        let text = github_workflow(&opts(Registry::DockerHub, Cache::Gha, &["linux/amd64"]));
        assert!(!text.contains("packages: write"));
        assert!(!text.contains(QEMU));
        assert!(text.contains("secrets.DOCKERHUB_TOKEN"));
        assert!(text.contains("IMAGE: docker.io/${{ vars.DOCKERHUB_USERNAME }}/hello"));
    }

    #[test]
    fn a_registry_cache_is_written_only_by_pushes() {
        let text = github_workflow(&opts(
            Registry::Other("registry.example.com:5000".into()),
            Cache::Registry,
            &["linux/amd64"],
        ));
        assert!(!job_text(&text, "build").contains("cache-to"));
        let publish = job_text(&text, "publish");
        assert!(publish.contains("image-manifest=true,oci-mediatypes=true"));
        assert!(publish.contains("registry: registry.example.com:5000"));
        assert!(text.contains("IMAGE: registry.example.com:5000/"));
    }

    #[test]
    fn registries_and_caches_parse() {
        assert_eq!(Registry::parse("ghcr"), Ok(Registry::Ghcr));
        assert_eq!(Registry::parse("dockerhub"), Ok(Registry::DockerHub));
        assert!(Registry::parse("a b").is_err());
        assert_eq!(Cache::parse("registry"), Ok(Cache::Registry));
        assert!(Cache::parse("s3").is_err());
    }
}
