//! One build, as the daemon asks for it: read the recipe from the `dockerfile` local, read the
//! project's detection files from the `context` local, plan, resolve the base image's config,
//! lower, solve, and `Return` the result with its image config. Or answer a `--call`
//! subrequest instead. Generic over the transport so tests drive it against an in-process fake
//! daemon.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tonic::body::Body;
use tonic::client::GrpcService;
use tonic::codegen::{Body as HttpBody, Bytes, StdError};

use super::bridge::LlbBridgeClient;
use super::context::solve_ref;
pub use super::context::{RecipeFile, read_project, read_recipe};
use super::error::{FrontendError, SourceTexts};
use super::options::FrontendOptions;
use super::{guard, log, named, pb, subrequests};
use crate::detect::ProjectFiles;
use crate::diag::Diagnostics;
use crate::image::{BaseConfig, image_config};
use crate::image_ref::ImageRef;
use crate::llb;
use crate::lower::{ContextSource, LowerOptions, NamedSource};
use crate::plan::Plan;
use crate::plan::{Facts, Join};
use crate::platform::Platform;
use crate::{Inputs, prepare};

/// The local holding the recipe (the directory of `-f`).
pub const DOCKERFILE_LOCAL: &str = "dockerfile";
/// The local holding the build context.
pub const CONTEXT_LOCAL: &str = "context";
/// The `filename` buildx sends when there is no `-f`.
pub(super) const BUILDX_DEFAULT_FILENAME: &str = "Dockerfile";

/// What the frontend needs of a transport: what [`LlbBridgeClient`]'s methods need.
pub trait BridgeTransport:
    GrpcService<
        Body,
        Error: Into<StdError>,
        ResponseBody: HttpBody<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
    >
{
}

impl<T> BridgeTransport for T where
    T: GrpcService<
            Body,
            Error: Into<StdError>,
            ResponseBody: HttpBody<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
        >
{
}

/// Parses the options from environment pairs, runs the build or subrequest and sends exactly
/// one `Return`. `Err` only when `Return` itself failed (the daemon is gone).
pub async fn run_env<T, I, K, V>(
    client: &mut LlbBridgeClient<T>,
    vars: I,
) -> Result<(), tonic::Status>
where
    T: BridgeTransport,
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    match FrontendOptions::from_env(vars) {
        Ok(opts) => run(client, &opts).await,
        Err(e) => send_return(client, Err(e.into())).await,
    }
}

/// Runs the build or subrequest for `opts` and sends exactly one `Return` with its result or
/// error. `Err` only when `Return` itself failed.
pub async fn run<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
) -> Result<(), tonic::Status> {
    let outcome = guard::catch_panic(answer(client, opts))
        .await
        .unwrap_or_else(|panic| Err(FrontendError::Panic(panic)));
    send_return(client, outcome).await
}

/// Sends the one `Return` of a build: its result, or its error.
pub async fn send_return<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    outcome: Result<pb::Result, FrontendError>,
) -> Result<(), tonic::Status> {
    let request = match outcome {
        Ok(result) => pb::ReturnRequest {
            result: Some(result),
            error: None,
        },
        Err(e) => {
            log(&format!("error: {}", e.message()));
            pb::ReturnRequest {
                result: None,
                error: Some(e.to_status()),
            }
        }
    };
    client.r#return(request).await.map(drop)
}

/// The result (or error) to return for `opts`: a build, or a subrequest's answer.
pub async fn answer<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
) -> Result<pb::Result, FrontendError> {
    let pong = client
        .ping(pb::PingRequest {})
        .await
        .map_err(FrontendError::daemon("ping BuildKit"))?
        .into_inner();
    let join = join_for(&pong);
    match opts.request_id.as_deref() {
        None => build(client, opts, join).await,
        Some(subrequests::DESCRIBE) => Ok(subrequests::describe()),
        Some(subrequests::OUTLINE) => {
            let recipe = read_recipe(client, opts).await?;
            let no_files = ProjectFiles::default();
            let parsed = crate::recipe::parse(&recipe.name, &recipe.text, &opts.build_args)
                .map_err(|d| invalid(d, &recipe, &no_files))?;
            // The `--ssh` ids come from the plan (which packages are fetched over SSH): a
            // project that does not plan lists none, and its build says why.
            let files = read_project(client, opts).await?;
            let plan = plan_of(&recipe, &files, opts).ok();
            let ssh = plan.as_ref().map(Plan::ssh_ids).unwrap_or_default();
            subrequests::outline(&parsed, &opts.target, &ssh)
                .map_err(|d| invalid(d, &recipe, &no_files))
        }
        Some(subrequests::TARGETS) => {
            let recipe = read_recipe(client, opts).await?;
            let parsed = crate::recipe::parse(&recipe.name, &recipe.text, &opts.build_args)
                .map_err(|d| invalid(d, &recipe, &ProjectFiles::default()))?;
            Ok(subrequests::targets(&parsed))
        }
        Some(subrequests::LINT) => {
            let recipe = read_recipe(client, opts).await?;
            let files = read_project(client, opts).await?;
            let diagnostics = check_all_targets(&recipe, &files, opts);
            Ok(subrequests::lint(
                &diagnostics,
                &source_texts(&recipe, &files),
                &recipe.name,
            ))
        }
        Some(other) => Err(FrontendError::UnsupportedSubrequest(other.to_owned())),
    }
}

/// How layers can be joined on this engine: MergeOp and DiffOp where its LLB caps have both
/// (BuildKit 0.10+ with a snapshotter that supports them), else copies. Docker Engine's
/// classic image store reports them disabled. An empty list means the daemon did not say.
fn join_for(pong: &pb::PongResponse) -> Join {
    let enabled = |id: &str| pong.llb_caps.iter().any(|c| c.id == id && c.enabled);
    if pong.llb_caps.is_empty() || (enabled("mergeop") && enabled("diffop")) {
        Join::Merge
    } else {
        Join::Copy
    }
}

/// What building with copies gives up, said once per build as a BuildKit warning (buildx
/// prints it after the build) and in the log.
async fn warn_copy_join<T: BridgeTransport>(client: &mut LlbBridgeClient<T>, recipe: &RecipeFile) {
    let short = "this engine cannot merge layers (no MergeOp/DiffOp, e.g. Docker's classic image store): dependency layers are copied";
    let detail = "Each dependency layer is still installed on its own and reused from the cache, \
                  but the layers are copied onto the image one after another, so a changed \
                  layer is copied again with every layer above it and those are exported again. \
                  Turn on the containerd image store (Docker Engine: \"features\": \
                  {\"containerd-snapshotter\": true}) or use a BuildKit builder \
                  (docker buildx create --driver docker-container) to join layers without copies.";
    log(&format!("warning: {short}"));
    let request = pb::WarnRequest {
        level: 1,
        short: format!("{}: {short}", recipe.name).into_bytes(),
        detail: vec![detail.as_bytes().to_vec()],
        ..Default::default()
    };
    if let Err(e) = client.warn(request).await {
        log(&format!("could not send the warning to BuildKit: {e}"));
    }
}

/// Build args the recipe does not declare are ignored: said as a BuildKit warning, as the
/// Dockerfile frontend says it of args no stage consumes.
async fn warn_unused_args<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    file: &RecipeFile,
    recipe: &crate::recipe::Recipe,
    build_args: &BTreeMap<String, String>,
) {
    let unused = crate::recipe::unused_build_args(recipe, build_args);
    if unused.is_empty() {
        return;
    }
    let names: Vec<String> = unused
        .iter()
        .map(|n| {
            if n.is_empty() {
                "(an empty name)".to_owned()
            } else {
                crate::diag::escape_controls(n)
            }
        })
        .collect();
    let short = format!(
        "{}: build args not declared in [args] are ignored: {}",
        file.name,
        names.join(", ")
    );
    log(&format!("warning: {short}"));
    let request = pb::WarnRequest {
        level: 1,
        short: short.into_bytes(),
        detail: vec![
            b"Declare each build arg the recipe uses in [args] with its default, e.g. VERSION = \"1.0\", and use it as ${VERSION}."
                .to_vec(),
        ],
        ..Default::default()
    };
    if let Err(e) = client.warn(request).await {
        log(&format!("could not send the warning to BuildKit: {e}"));
    }
}

/// Every file a diagnostic may point into.
fn source_texts(recipe: &RecipeFile, files: &ProjectFiles) -> SourceTexts {
    let mut texts: BTreeMap<String, String> = files.files.clone();
    if let Some(d) = &recipe.dockerignore {
        texts.insert(format!("{}.dockerignore", recipe.name), d.clone());
    }
    texts.insert(recipe.name.clone(), recipe.text.clone());
    SourceTexts(texts)
}

fn invalid(diagnostics: Diagnostics, recipe: &RecipeFile, files: &ProjectFiles) -> FrontendError {
    FrontendError::Invalid {
        diagnostics,
        sources: source_texts(recipe, files),
    }
}

/// `--check`: the recipe, the project and every target, all problems at once.
fn check_all_targets(
    recipe: &RecipeFile,
    files: &ProjectFiles,
    opts: &FrontendOptions,
) -> Diagnostics {
    crate::check_all(&inputs(recipe, files, opts, ""))
        .err()
        .unwrap_or_default()
}

/// What the planner takes for `target` of this build: its recipe, project and build args, on
/// the first platform asked for, with nothing known of the engine or the base image.
fn inputs<'a>(
    recipe: &'a RecipeFile,
    files: &'a ProjectFiles,
    opts: &'a FrontendOptions,
    target: &'a str,
) -> Inputs<'a> {
    Inputs {
        recipe_file: &recipe.name,
        recipe_text: &recipe.text,
        recipe_dockerignore: recipe.dockerignore.as_deref(),
        files,
        target,
        build_args: &opts.build_args,
        platform: opts.target_platforms()[0].clone(),
        facts: Facts::default(),
    }
}

/// The plan of the requested target on the first platform, with nothing known of the engine.
fn plan_of(
    recipe: &RecipeFile,
    files: &ProjectFiles,
    opts: &FrontendOptions,
) -> Result<Plan, Diagnostics> {
    crate::plan_build(&inputs(recipe, files, opts, &opts.target))
}

/// The named contexts a plan uses, as the lowering takes them.
struct PlanContexts {
    /// find-links contexts, by name.
    named: BTreeMap<String, NamedSource>,
    /// Images of the plan replaced by a context, by the plan's reference.
    images: BTreeMap<String, NamedSource>,
    /// The option key of the base image's context, for the log.
    base_key: String,
}

/// The contexts `plan` needs from the build: every find-links context of the recipe's that a
/// step reads (missing or unusable: an error at the recipe's line saying which flag to pass),
/// and those replacing the base image or the uv image.
fn named_contexts(
    opts: &FrontendOptions,
    plan: &Plan,
    recipe: &crate::recipe::Recipe,
) -> Result<PlanContexts, Diagnostics> {
    let mut problems = Diagnostics::default();
    let at = |name: &str, message: String, help: String| {
        let link = recipe
            .python
            .find_links
            .iter()
            .find(|l| l.context.get_ref() == name);
        let d = crate::diag::Diagnostic::new(&recipe.file, message).help(help);
        match link {
            Some(l) => d.at(&recipe.source, l.context.span()),
            None => d,
        }
    };
    let mut named = BTreeMap::new();
    for name in plan.named_contexts() {
        let dir = recipe
            .python
            .find_links
            .iter()
            .find(|l| l.context.get_ref() == name)
            .map_or(name.to_owned(), |l| l.lock_dir.clone());
        match named::lookup(opts, name, &plan.platform) {
            None => problems.push(at(
                name,
                format!("find-links names the build context `{name}`, which this build was not given"),
                format!(
                    "pass the directory of the wheels the lock takes from `{dir}` as {} to docker buildx build",
                    crate::plan::find_links::build_context_flag(name, &dir)
                ),
            )),
            Some(given) => match named::source(&given, opts) {
                Ok(source) => {
                    named.insert(name.to_owned(), source);
                }
                Err(why) => problems.push(at(
                    name,
                    why,
                    format!("pass --build-context {name}=DIR, DIR holding the wheels"),
                )),
            },
        }
    }
    let mut images = BTreeMap::new();
    let mut base_key = String::new();
    let uv_image = recipe.python.uv_image.as_ref().map(|i| i.get_ref().clone());
    for (reference, is_base) in
        std::iter::once((plan.base_image.clone(), true)).chain(uv_image.map(|r| (r, false)))
    {
        let Some(given) = named::for_image(opts, &reference, &plan.platform) else {
            continue;
        };
        match named::source(&given, opts) {
            Ok(source) => {
                if is_base {
                    base_key = given.key.clone();
                }
                images.insert(reference, source);
            }
            Err(why) => problems.push(
                crate::diag::Diagnostic::new(&recipe.file, why).help(format!(
                    "pass --build-context {reference}=docker-image://REF, or a directory holding a root filesystem"
                )),
            ),
        }
    }
    problems.finish(PlanContexts {
        named,
        images,
        base_key,
    })
}

/// The base image's config for the plan's platform: `reference` (the plan's base image, or
/// the image of the named context `context` that replaces it).
async fn resolve_base<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
    plan: &Plan,
    reference: &str,
    context: Option<&str>,
) -> Result<BaseConfig, FrontendError> {
    // The same normalised form as the image op, so the daemon resolves the image the op uses.
    let reference = ImageRef::parse(reference)
        .map_err(|e| {
            FrontendError::Other(format!(
                "the base image `{reference}` is not a valid reference: {e}"
            ))
        })?
        .to_string();
    let log_name = match context {
        Some(key) => format!("[context {key}] load metadata for {reference}"),
        None => format!("[internal] load metadata for {reference}"),
    };
    let response = client
        .resolve_image_config(pb::ResolveImageConfigRequest {
            r#ref: reference.clone(),
            platform: Some(plan.platform.to_llb()),
            resolve_mode: opts.resolve_mode_name().to_owned(),
            log_name,
            session_id: opts.session_id.clone(),
            ..Default::default()
        })
        .await
        .map_err(FrontendError::daemon(format!(
            "resolve the base image {reference}"
        )))?
        .into_inner();
    BaseConfig::from_json(&response.config).map_err(|e| {
        FrontendError::Other(format!(
            "the config of base image {reference} is not valid JSON: {e}"
        ))
    })
}

/// `label:NAME` options into the config's `Labels`, over the plan's.
fn merge_labels(config: &mut Value, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    let Some(root) = config.as_object_mut() else {
        return;
    };
    let image = root.entry("config").or_insert_with(|| json!({}));
    let Some(image) = image.as_object_mut() else {
        return;
    };
    let existing = image.entry("Labels").or_insert_with(|| json!({}));
    if !existing.is_object() {
        *existing = json!({});
    }
    if let Some(map) = existing.as_object_mut() {
        for (k, v) in labels {
            map.insert(k.clone(), json!(v));
        }
    }
}

/// One platform's build: its ref, image config and attestations.
struct Built {
    platform: Platform,
    ref_id: String,
    config: Vec<u8>,
    attestations: Vec<pb::Attestation>,
}

/// Where the SBOM file is in the filesystem its attestation refers to.
const SBOM_PATH: &str = "/pycache.spdx.json";

/// The SBOM of `plan` as an in-toto attestation: an SPDX document from the lock, in a
/// one-file filesystem solved for the attestation to refer to. With an SPDX attestation in the
/// result, BuildKit runs no scanner. `None` (with a warning) when nothing is locked: then
/// BuildKit scans the image with its default scanner as for any frontend.
async fn sbom_attestation<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
    plan: &Plan,
    project: &crate::detect::Project,
) -> Result<Option<pb::Attestation>, FrontendError> {
    let created = opts.source_date_epoch().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    });
    let Some(doc) = crate::sbom::spdx(plan, project, created) else {
        let short = "--sbom: the dependencies are not locked (requirements without == pins and --hash), so pycache attaches no SBOM of its own and BuildKit's scanner runs";
        log(&format!("warning: {short}"));
        let request = pb::WarnRequest {
            level: 1,
            short: short.as_bytes().to_vec(),
            ..Default::default()
        };
        if let Err(e) = client.warn(request).await {
            log(&format!("could not send the warning to BuildKit: {e}"));
        }
        return Ok(None);
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("JSON values serialise");
    bytes.push(b'\n');
    let state = llb::State::scratch()
        .file()
        .mkfile(SBOM_PATH, 0o644, bytes, None)
        .named(format!("[sbom] {} packages from the lock", plan.platform))
        .into_state();
    let def = llb::marshal(&state, &plan.platform.to_llb());
    let ref_id = solve_ref(client, opts, def, "write the SBOM").await?;
    Ok(Some(pb::Attestation {
        kind: pb::AttestationKind::InToto as i32,
        metadata: BTreeMap::from([("reason".to_owned(), b"sbom".to_vec())]),
        r#ref: Some(pb::Ref {
            id: ref_id,
            def: None,
        }),
        path: SBOM_PATH.to_owned(),
        in_toto_predicate_type: crate::sbom::PREDICATE_TYPE.to_owned(),
        in_toto_subjects: Vec::new(),
    }))
}

async fn build<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
    join: Join,
) -> Result<pb::Result, FrontendError> {
    let recipe = read_recipe(client, opts).await?;
    let files = read_project(client, opts).await?;
    let unknown = Facts {
        join,
        ..Facts::default()
    };

    // Plan every platform before touching the daemon again: problems are reported first.
    let inputs = Inputs {
        platform: opts.default_platform.clone(),
        facts: unknown.clone(),
        ..inputs(&recipe, &files, opts, &opts.target)
    };
    let prepared = prepare(&inputs).map_err(|d| invalid(d, &recipe, &files))?;
    warn_unused_args(client, &recipe, &prepared.recipe, &opts.build_args).await;
    // With the named contexts each plan needs: a missing one is a problem reported first too.
    let mut plans = Vec::new();
    for platform in opts.target_platforms() {
        let plan = prepared
            .plan(&opts.target, &platform, &unknown)
            .map_err(|d| invalid(d, &recipe, &files))?;
        let contexts = named_contexts(opts, &plan, &prepared.recipe)
            .map_err(|d| invalid(d, &recipe, &files))?;
        plans.push((plan, contexts));
    }
    if join == Join::Copy {
        warn_copy_join(client, &recipe).await;
    }

    let mut built = Vec::new();
    for (plan, contexts) in plans {
        let plan = &plan;
        let base = match contexts.images.get(&plan.base_image) {
            None => resolve_base(client, opts, plan, &plan.base_image, None).await?,
            Some(NamedSource::Image { reference }) => {
                resolve_base(client, opts, plan, reference, Some(&contexts.base_key)).await?
            }
            // A directory as the root filesystem has no image config: the default PATH, as
            // the Dockerfile frontend gives a `FROM` of a `local:` context.
            Some(NamedSource::Local { .. }) => BaseConfig::default(),
        };
        // The base image's Python decides the lock's markers exactly.
        let facts = Facts {
            python: base.python_version(),
            join,
        };
        let refined;
        let plan = if facts.python.is_some() {
            refined = prepared
                .plan(&opts.target, &plan.platform, &facts)
                .map_err(|d| invalid(d, &recipe, &files))?;
            &refined
        } else {
            plan
        };
        let lower = LowerOptions {
            base: base.clone(),
            context: ContextSource {
                name: CONTEXT_LOCAL.into(),
                session: Some(opts.session_for(CONTEXT_LOCAL)),
            },
            resolve_mode: opts.image_resolve_mode.clone(),
            no_cache: opts.no_cache.clone(),
            named: contexts.named,
            images: contexts.images,
        };
        let def = crate::definition(plan, &lower);
        let ref_id = solve_ref(client, opts, def, "solve the build").await?;
        let mut config = image_config(plan, &base, opts.source_date_epoch());
        merge_labels(&mut config, &opts.labels);
        let attestations = if opts.sbom {
            sbom_attestation(client, opts, plan, &prepared.project)
                .await?
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        built.push(Built {
            platform: plan.platform.clone(),
            ref_id,
            config: serde_json::to_vec(&config).expect("JSON values serialise"),
            attestations,
        });
    }
    Ok(result(built, opts.multi_platform))
}

/// One ref with `containerimage.config`, or (multi-platform) refs keyed by platform with one
/// config each and the mandatory `refs.platforms`.
fn result(built: Vec<Built>, multi_platform: bool) -> pb::Result {
    // Attestations are keyed by platform id, as the exporter finds each image's.
    let attestations: BTreeMap<String, pb::Attestations> = built
        .iter()
        .filter(|b| !b.attestations.is_empty())
        .map(|b| {
            (
                b.platform.id(),
                pb::Attestations {
                    attestation: b.attestations.clone(),
                },
            )
        })
        .collect();
    if !multi_platform && built.len() == 1 {
        let b = built.into_iter().next().expect("one build");
        return pb::Result {
            result: Some(pb::result::Result::Ref(pb::Ref {
                id: b.ref_id,
                def: None,
            })),
            metadata: BTreeMap::from([("containerimage.config".to_owned(), b.config)]),
            attestations,
        };
    }
    let mut refs = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    let mut platforms = Vec::new();
    for b in built {
        let id = b.platform.id();
        let mut platform = json!({ "os": b.platform.os, "architecture": b.platform.architecture });
        if let Some(v) = &b.platform.variant {
            platform["variant"] = json!(v);
        }
        platforms.push(json!({ "ID": id, "Platform": platform }));
        metadata.insert(format!("containerimage.config/{id}"), b.config);
        refs.insert(
            id,
            pb::Ref {
                id: b.ref_id,
                def: None,
            },
        );
    }
    metadata.insert(
        "refs.platforms".to_owned(),
        serde_json::to_vec(&json!({ "Platforms": platforms })).expect("JSON values serialise"),
    );
    pb::Result {
        result: Some(pb::result::Result::Refs(pb::RefMap { refs })),
        metadata,
        attestations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_links_case() -> (Plan, crate::recipe::Recipe) {
        let plan = crate::testing::case_plan("uv-find-links", "");
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/uv-find-links/pycache.toml"
        ))
        .unwrap();
        let recipe = crate::recipe::parse("pycache.toml", &text, &BTreeMap::new()).unwrap();
        (plan, recipe)
    }

    fn options(contexts: &[(&str, &str)]) -> FrontendOptions {
        let raw = contexts
            .iter()
            .map(|(k, v)| (format!("context:{k}"), (*v).to_owned()))
            .chain([("local-sessionid:wheels".to_owned(), "s2".to_owned())])
            .collect();
        FrontendOptions::from_options(raw, "s1".into(), Vec::new()).unwrap()
    }

    #[test]
    fn a_find_links_context_not_given_fails_at_the_recipe_line_with_the_flag() {
        let (plan, recipe) = find_links_case();
        let err = named_contexts(&options(&[]), &plan, &recipe)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("pycache.toml:8:15"), "{err}");
        assert!(err.contains("--build-context wheels=./wheels"), "{err}");
        let err = named_contexts(
            &options(&[("wheels", "oci-layout://store@sha256:00")]),
            &plan,
            &recipe,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("pycache.toml:8:15") && err.contains("docker load"),
            "{err}"
        );
    }

    #[test]
    fn given_contexts_are_lowered_from_their_session_and_images_replace_the_base() {
        let (plan, recipe) = find_links_case();
        let got = named_contexts(
            &options(&[
                ("wheels", "local:wheels"),
                ("local/python:3.11-slim", "docker-image://local/other:1"),
            ]),
            &plan,
            &recipe,
        )
        .unwrap();
        assert_eq!(
            got.named["wheels"],
            NamedSource::Local {
                name: "wheels".into(),
                session: Some("s2".into())
            }
        );
        assert_eq!(
            got.images["local/python:3.11-slim"],
            NamedSource::Image {
                reference: "docker.io/local/other:1".into()
            }
        );
        assert_eq!(got.base_key, "local/python:3.11-slim");
        let def = crate::definition(
            &plan,
            &LowerOptions {
                named: got.named,
                images: got.images,
                ..LowerOptions::offline()
            },
        );
        let text = crate::llb::dump::dump_text(&def);
        assert!(text.contains("docker-image://docker.io/local/other:1"));
        assert!(!text.contains("docker-image://docker.io/local/python:3.11-slim"));
        assert!(text.contains("\"local.session\": \"s2\""), "{text}");
    }

    #[test]
    fn labels_merge_over_the_plans() {
        let mut config = json!({ "config": { "Labels": { "a": "1", "b": "2" } } });
        merge_labels(
            &mut config,
            &BTreeMap::from([("b".into(), "x".into()), ("c".into(), "3".into())]),
        );
        assert_eq!(
            config["config"]["Labels"],
            json!({ "a": "1", "b": "x", "c": "3" })
        );
        let mut empty = json!({});
        merge_labels(&mut empty, &BTreeMap::from([("k".into(), "v".into())]));
        assert_eq!(empty["config"]["Labels"]["k"], "v");
    }

    #[test]
    fn multi_platform_results_key_refs_by_platform() {
        let built = vec![
            Built {
                platform: Platform::parse("linux/amd64").unwrap(),
                ref_id: "a".into(),
                config: b"{}".to_vec(),
                attestations: Vec::new(),
            },
            Built {
                platform: Platform::parse("linux/arm/v7").unwrap(),
                ref_id: "b".into(),
                config: b"{}".to_vec(),
                attestations: Vec::new(),
            },
        ];
        let r = result(built, true);
        let Some(pb::result::Result::Refs(refs)) = &r.result else {
            panic!("expected refs");
        };
        assert_eq!(refs.refs["linux/arm/v7"].id, "b");
        assert!(r.metadata.contains_key("containerimage.config/linux/amd64"));
        let p: Value = serde_json::from_slice(&r.metadata["refs.platforms"]).unwrap();
        assert_eq!(p["Platforms"][1]["ID"], "linux/arm/v7");
        assert_eq!(p["Platforms"][1]["Platform"]["variant"], "v7");
    }
}
