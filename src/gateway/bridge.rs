//! The client of the daemon's `moby.buildkit.v1.frontend.LLBBridge` service: the one generated
//! from gateway.proto (`crate::proto`), with tonic's 4 MiB message caps raised to
//! [`MAX_MESSAGE_SIZE`], since definitions and `ReadFile` payloads easily exceed 4 MiB.
//!
//! Only the client ships: the generated server lives in `tests/support/`, for fake daemons.

use tonic::body::Body;
use tonic::client::GrpcService;
use tonic::codegen::{Body as HttpBody, Bytes, StdError};

pub use super::pb::llb_bridge_client::LlbBridgeClient;

/// Max encoded/decoded message size on both sides: 16 MiB, as in BuildKit's gateway.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// An LLBBridge client over `transport` (in production a `Channel` over the frontend's stdio)
/// that sends and accepts messages up to [`MAX_MESSAGE_SIZE`].
pub fn client<T>(transport: T) -> LlbBridgeClient<T>
where
    T: GrpcService<Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
    <T::ResponseBody as HttpBody>::Error: Into<StdError> + Send,
{
    LlbBridgeClient::new(transport)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}
