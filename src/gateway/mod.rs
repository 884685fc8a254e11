//! The BuildKit frontend: the LLBBridge gRPC client over stdio, options, results, subrequests.
//! The only async, I/O-doing part of pycache.
//!
//! The process's stdout belongs to gRPC: everything else goes to stderr (the daemon's log).

pub mod bridge;
pub mod context;
pub mod error;
pub mod frontend;
pub mod guard;
pub mod named;
pub mod options;
pub mod stdio;
pub mod subrequests;

/// The LLBBridge messages (generated from gateway.proto, package `moby.buildkit.v1.frontend`)
/// and, under the same path, the messages they use from the other packages.
pub mod pb {
    pub use crate::proto::fsutil::types::Stat;
    pub use crate::proto::google::protobuf::Any;
    pub use crate::proto::google::rpc::Status;
    pub use crate::proto::moby::buildkit::v1::apicaps::ApiCap;
    pub use crate::proto::moby::buildkit::v1::frontend::*;
    pub use crate::proto::moby::buildkit::v1::types::{BuildkitVersion, GcPolicy, WorkerRecord};
}

use std::io::Write;

/// A line on stderr. Never panics: a log line is not worth failing the build over.
pub(crate) fn log(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "pycache: {message}");
}

/// Runs the frontend process: connect to the daemon over stdio, serve one build, send exactly
/// one `Return`, then exit: 0 once `Return` is acknowledged (the daemon fails the build from a
/// returned error), 1 if the daemon could not be reached. Does not return.
pub fn run_frontend() -> i32 {
    guard::install_hook();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log(&format!("cannot start the async runtime: {e}"));
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        let channel = match stdio::connect().await {
            Ok(channel) => channel,
            Err(e) => {
                log(&format!("cannot talk to BuildKit over stdin/stdout: {e:?}"));
                return 1;
            }
        };
        let mut client = bridge::client(channel);
        // Options come only from the environment; variables that are not UTF-8 are not ours.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        match frontend::run_env(&mut client, vars).await {
            Ok(()) => 0,
            Err(status) => {
                log(&format!(
                    "could not return the result to BuildKit: {status}"
                ));
                1
            }
        }
    });
    // Exit without dropping the runtime: nothing is left to flush (stdout is written
    // unbuffered and `Return` was acknowledged), and tearing down could only wait.
    std::process::exit(code)
}
