//! Reading the build's inputs through the session: the recipe (and its `.dockerignore`) from
//! the `dockerfile` local, the project's detection files from the `context` local, with the
//! same walk, limits and refusals as the CLI's reading of a directory.

use super::bridge::LlbBridgeClient;
use super::error::FrontendError;
use super::frontend::{BUILDX_DEFAULT_FILENAME, BridgeTransport, CONTEXT_LOCAL, DOCKERFILE_LOCAL};
use super::options::FrontendOptions;
use super::pb;
use crate::DEFAULT_RECIPE;
use crate::detect::{
    DETECTION_PATTERNS, DirEntry, EntryKind, MAX_FILE_SIZE, MAX_RECIPE_SIZE, ProjectFiles, Refusal,
    SKIP_DIRS, Walk, utf8,
};
use crate::diag::Diagnostics;
use crate::llb::{self, source};

/// `ReadFile` in ranges: a reply must fit the 16 MiB message cap with room to spare.
const READ_CHUNK: u64 = 4 << 20;

/// Go `os.FileMode` bits, as `Stat.mode` carries them.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_NAMED_PIPE: u32 = 1 << 25;
const GO_MODE_SOCKET: u32 = 1 << 24;
const GO_MODE_CHAR_DEVICE: u32 = 1 << 21;
const GO_MODE_IRREGULAR: u32 = 1 << 19;

/// What a `Stat` from `ReadDir` is.
fn entry_kind(mode: u32) -> EntryKind {
    if mode & GO_MODE_DIR != 0 {
        EntryKind::Dir
    } else if mode & GO_MODE_SYMLINK != 0 {
        EntryKind::Symlink
    } else if mode & GO_MODE_NAMED_PIPE != 0 {
        EntryKind::Special("a named pipe (FIFO)")
    } else if mode & GO_MODE_CHAR_DEVICE != 0 {
        EntryKind::Special("a character device")
    } else if mode & GO_MODE_DEVICE != 0 {
        EntryKind::Special("a block device")
    } else if mode & GO_MODE_SOCKET != 0 {
        EntryKind::Special("a socket")
    } else if mode & GO_MODE_IRREGULAR != 0 {
        EntryKind::Special("not a regular file")
    } else {
        EntryKind::File
    }
}

/// The recipe and its `.dockerignore`, as read from the `dockerfile` local.
#[derive(Clone, Debug)]
pub struct RecipeFile {
    /// The name diagnostics use: the `filename` option.
    pub name: String,
    pub text: String,
    /// `<name>.dockerignore` beside the recipe, if there is one.
    pub dockerignore: Option<String>,
}

/// The file names to try: `filename`, except that buildx's default `Dockerfile` (no `-f`)
/// means pycache's own default first.
fn recipe_candidates(filename: &str) -> Vec<String> {
    if filename == BUILDX_DEFAULT_FILENAME {
        vec![DEFAULT_RECIPE.to_owned(), filename.to_owned()]
    } else {
        vec![filename.to_owned()]
    }
}

/// Renames every op of a small internal definition (the progress line users see).
pub(super) fn named(mut def: llb::pb::Definition, name: &str) -> llb::pb::Definition {
    for meta in def.metadata.values_mut() {
        meta.description
            .insert("llb.customname".into(), name.to_owned());
    }
    def
}

/// Solves `def` (lazily) and returns its single ref id. Every Solve carries the cache
/// imports: the daemon uses only each request's own.
pub(super) async fn solve_ref<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
    def: llb::pb::Definition,
    what: &str,
) -> Result<String, FrontendError> {
    let response = client
        .solve(pb::SolveRequest {
            definition: Some(def),
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports: opts.cache_imports.clone(),
            evaluate: false,
            ..Default::default()
        })
        .await
        .map_err(FrontendError::daemon(what))?
        .into_inner();
    match response.result.and_then(|r| r.result) {
        Some(pb::result::Result::Ref(r)) => Ok(r.id),
        Some(pb::result::Result::RefDeprecated(id)) => Ok(id),
        Some(_) => Err(FrontendError::Other(format!(
            "{what}: BuildKit returned several results for one definition"
        ))),
        None if !response.r#ref.is_empty() => Ok(response.r#ref),
        None => Err(FrontendError::Other(format!(
            "{what}: BuildKit returned no result"
        ))),
    }
}

/// A whole file of a solved ref, read in ranges, and never more than `limit` bytes of it.
async fn read_file<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    ref_id: &str,
    path: &str,
    limit: u64,
) -> Result<Result<Vec<u8>, Refusal>, tonic::Status> {
    let mut data = Vec::new();
    loop {
        // One byte past the limit tells a file at the limit from a larger one.
        let length = READ_CHUNK.min(limit + 1 - data.len() as u64);
        let chunk = client
            .read_file(pb::ReadFileRequest {
                r#ref: ref_id.to_owned(),
                file_path: path.to_owned(),
                range: Some(pb::FileRange {
                    offset: data.len() as i64,
                    length: length as i64,
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .data;
        let done = (chunk.len() as u64) < length;
        data.extend(chunk);
        if data.len() as u64 > limit {
            return Ok(Err(Refusal::TooLarge {
                size: data.len() as u64,
                limit,
            }));
        }
        if done {
            return Ok(Ok(data));
        }
    }
}

/// The entries of `dir` in a solved ref, by name.
async fn list_dir<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    ref_id: &str,
    dir: &str,
) -> Result<Vec<DirEntry>, tonic::Status> {
    let entries = client
        .read_dir(pb::ReadDirRequest {
            r#ref: ref_id.to_owned(),
            dir_path: format!("/{dir}"),
            ..Default::default()
        })
        .await?
        .into_inner()
        .entries;
    Ok(entries
        .into_iter()
        .map(|entry| DirEntry {
            name: entry.path.rsplit('/').next().unwrap_or("").to_owned(),
            kind: entry_kind(entry.mode),
            size: u64::try_from(entry.size).unwrap_or(u64::MAX),
        })
        .filter(|e| !e.name.is_empty())
        .collect())
}

/// A recipe-side file that cannot be read, as the build's error.
fn refused(path: &str, why: &Refusal) -> FrontendError {
    FrontendError::from(Diagnostics::from(why.diagnostic(path)))
}

/// Reads the recipe (and `<recipe>.dockerignore`) from the `dockerfile` local.
pub async fn read_recipe<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
) -> Result<RecipeFile, FrontendError> {
    let candidates = recipe_candidates(&opts.filename);
    let paths: Vec<String> = candidates
        .iter()
        .flat_map(|c| [c.clone(), format!("{c}.dockerignore")])
        .collect();
    let state = source::local(
        DOCKERFILE_LOCAL,
        &source::LocalOptions {
            session: Some(opts.session_for(DOCKERFILE_LOCAL)),
            shared_key_hint: Some(DOCKERFILE_LOCAL.to_owned()),
            include: paths.clone(),
            follow_paths: paths,
            differ: Some("none".into()),
            ..Default::default()
        },
    );
    let def = named(
        llb::marshal(&state, &opts.default_platform.to_llb()),
        &format!("[internal] load recipe from {}", opts.filename),
    );
    let ref_id = solve_ref(client, opts, def, "load the recipe").await?;
    // Special files are refused before any read, which could block; sizes are checked again
    // as the file is read. A daemon that cannot list leaves only the read's own limit.
    let listing = list_dir(client, &ref_id, "").await.unwrap_or_default();
    let check = |name: &str| -> Result<(), FrontendError> {
        match listing
            .iter()
            .find(|e| e.name == name)
            .map(|e| (e.kind, e.size))
        {
            Some((EntryKind::Special(kind), _)) => Err(refused(name, &Refusal::Special(kind))),
            Some((EntryKind::Dir, _)) => Err(refused(name, &Refusal::Special("a directory"))),
            Some((EntryKind::File, size)) if size > MAX_RECIPE_SIZE => Err(refused(
                name,
                &Refusal::TooLarge {
                    size,
                    limit: MAX_RECIPE_SIZE,
                },
            )),
            _ => Ok(()),
        }
    };
    let mut reason = String::new();
    for name in candidates {
        check(&name)?;
        match read_file(client, &ref_id, &name, MAX_RECIPE_SIZE).await {
            Ok(bytes) => {
                let text = bytes.and_then(utf8).map_err(|why| refused(&name, &why))?;
                let ignore = format!("{name}.dockerignore");
                check(&ignore)?;
                let dockerignore = match read_file(client, &ref_id, &ignore, MAX_RECIPE_SIZE).await
                {
                    Ok(bytes) => Some(bytes.and_then(utf8).map_err(|why| refused(&ignore, &why))?),
                    Err(_) => None,
                };
                return Ok(RecipeFile {
                    name,
                    text,
                    dockerignore,
                });
            }
            Err(status) if reason.is_empty() => reason = status.message().to_owned(),
            Err(_) => {}
        }
    }
    Err(FrontendError::RecipeUnreadable {
        file: opts.filename.clone(),
        reason,
    })
}

/// Reads the files detection looks at from the `context` local: only they cross the session
/// here (`local.includepattern`), and the walk keeps what the CLI's walk would.
pub async fn read_project<T: BridgeTransport>(
    client: &mut LlbBridgeClient<T>,
    opts: &FrontendOptions,
) -> Result<ProjectFiles, FrontendError> {
    let state = source::local(
        CONTEXT_LOCAL,
        &source::LocalOptions {
            session: Some(opts.session_for(CONTEXT_LOCAL)),
            shared_key_hint: Some(format!("{CONTEXT_LOCAL}-detect")),
            include: DETECTION_PATTERNS.iter().map(|p| (*p).to_owned()).collect(),
            exclude: SKIP_DIRS.iter().map(|d| format!("**/{d}")).collect(),
            differ: Some("none".into()),
            ..Default::default()
        },
    );
    let def = named(
        llb::marshal(&state, &opts.default_platform.to_llb()),
        "[internal] load project files",
    );
    let ref_id = solve_ref(client, opts, def, "load the project files").await?;

    let mut files = ProjectFiles::default();
    let mut walk = Walk::default();
    while let Some(dir) = walk.next_dir() {
        let entries = list_dir(client, &ref_id, &dir)
            .await
            .map_err(FrontendError::daemon(format!("list /{dir} of the context")))?;
        for rel in walk.visit(&dir, entries) {
            let read = read_file(client, &ref_id, &rel, MAX_FILE_SIZE)
                .await
                .map_err(FrontendError::daemon(format!(
                    "read {rel} from the context"
                )))?;
            match read.and_then(utf8) {
                Ok(text) => files.insert(rel, text),
                Err(why) => {
                    files.refused.insert(rel, why);
                }
            }
        }
    }
    files.refused.append(&mut walk.refused);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildx_default_filename_means_pycache_toml_first() {
        assert_eq!(
            recipe_candidates("Dockerfile"),
            ["pycache.toml", "Dockerfile"]
        );
        assert_eq!(recipe_candidates("app.toml"), ["app.toml"]);
    }
}
