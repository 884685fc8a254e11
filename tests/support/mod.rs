//! Test support for fake daemons: the LLBBridge server generated from gateway.proto (kept out
//! of the library, so the shipped binary carries no server) and a way to serve it to a client
//! in-process, as the daemon serves the frontend over stdio.
#![allow(dead_code)]

use std::sync::Arc;

use pycache::gateway::bridge::{self, LlbBridgeClient, MAX_MESSAGE_SIZE};
use tonic::transport::{Channel, Endpoint, Server, Uri};

// Generated code follows the .proto files, not our lints.
#[allow(clippy::all, clippy::pedantic)]
mod generated {
    include!("llb_bridge_server.rs");
}

pub use generated::llb_bridge_server::{LlbBridge, LlbBridgeServer};

/// A server for `bridge` with the daemon's 16 MiB message caps (tonic's default is 4 MiB).
pub fn server<B: LlbBridge>(bridge: Arc<B>) -> LlbBridgeServer<B> {
    LlbBridgeServer::from_arc(bridge)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// Serves `bridge` to a pycache client over an in-process duplex stream. Abort the returned
/// task when done.
pub async fn serve_in_process<B: LlbBridge>(
    bridge: Arc<B>,
) -> (LlbBridgeClient<Channel>, tokio::task::JoinHandle<()>) {
    let (channel, server) = channel_in_process(bridge).await;
    (bridge::client(channel), server)
}

/// Serves `bridge` over an in-process duplex stream and returns the channel to it.
pub async fn channel_in_process<B: LlbBridge>(
    bridge: Arc<B>,
) -> (Channel, tokio::task::JoinHandle<()>) {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move {
        let incoming = tonic::codegen::tokio_stream::once(Ok::<_, std::io::Error>(server_io));
        let _ = Server::builder()
            .add_service(server(bridge))
            .serve_with_incoming(incoming)
            .await;
    });
    let mut client_io = Some(client_io);
    let channel = Endpoint::from_static("http://in-process")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let io = client_io.take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("the in-process stream is already used"))
            }
        }))
        .await
        .expect("an in-process connection cannot fail");
    (channel, server)
}
