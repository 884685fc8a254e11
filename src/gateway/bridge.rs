//! The `moby.buildkit.v1.frontend.LLBBridge` gRPC service (moby/buildkit
//! frontend/gateway/pb/gateway.proto, service LLBBridge), hand-written without protoc:
//!
//! - [`LlbBridgeClient`]: what pycache uses to talk to the daemon (unary RPCs only);
//! - [`LlbBridge`] + [`LlbBridgeServer`]: a server side, so tests can run a fake daemon
//!   in-process.
//!
//! Both sides use `tonic_prost::ProstCodec` and raise tonic's 4 MiB message cap to
//! [`MAX_MESSAGE_SIZE`] (16 MiB, the daemon's own limit), since definitions and `ReadFile`
//! payloads easily exceed 4 MiB.
//!
//! The streaming/container RPCs (NewContainer, ReleaseContainer, ExecProcess, *Container
//! file access) and ResolveSourceMeta are not wired up; a server answers them with
//! `Unimplemented`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::client::GrpcService;
use tonic::codegen::{Body as HttpBody, BoxFuture, Bytes, Service, StdError, http};
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::pb;

/// The fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "moby.buildkit.v1.frontend.LLBBridge";

/// Max encoded/decoded message size on both sides: 16 MiB, as in BuildKit's gateway.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// `"/moby.buildkit.v1.frontend.LLBBridge/<Method>"` as a `&'static str` literal.
macro_rules! rpc_path {
    ($name:literal) => {
        concat!("/moby.buildkit.v1.frontend.LLBBridge/", $name)
    };
}

/// A client for the daemon's LLBBridge service.
///
/// Generic over the transport like tonic-generated clients; in production `T` is a
/// [`Channel`] built over the frontend's stdio.
#[derive(Debug, Clone)]
pub struct LlbBridgeClient<T = Channel> {
    inner: tonic::client::Grpc<T>,
}

impl<T> LlbBridgeClient<T>
where
    T: GrpcService<Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
    <T::ResponseBody as HttpBody>::Error: Into<StdError> + Send,
{
    /// Wraps a transport, raising the message-size limits to [`MAX_MESSAGE_SIZE`].
    pub fn new(inner: T) -> Self {
        let inner = tonic::client::Grpc::new(inner)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Self { inner }
    }

    /// One unary call on `path` (e.g. `"/moby.buildkit.v1.frontend.LLBBridge/Ping"`), with
    /// full access to request/response metadata. The typed methods below wrap this.
    pub async fn call<Req, Resp>(
        &mut self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.inner.ready().await.map_err(|e| {
            Status::unavailable(format!("LLBBridge transport not ready: {}", e.into()))
        })?;
        let path = http::uri::PathAndQuery::from_static(path);
        self.inner
            .unary(request, path, ProstCodec::<Req, Resp>::default())
            .await
    }
}

/// Generates, from one table of RPCs: the typed client methods, the [`LlbBridge`] trait (every
/// method defaulting to `Unimplemented`) and the server's path router.
macro_rules! llb_bridge_rpcs {
    ($(
        $(#[$doc:meta])*
        $name:literal => fn $method:ident($req:ty) -> $resp:ty;
    )*) => {
        impl<T> LlbBridgeClient<T>
        where
            T: GrpcService<Body>,
            T::Error: Into<StdError>,
            T::ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
            <T::ResponseBody as HttpBody>::Error: Into<StdError> + Send,
        {
            $(
                $(#[$doc])*
                pub async fn $method(&mut self, request: $req) -> Result<$resp, Status> {
                    let response = self.call(rpc_path!($name), Request::new(request)).await?;
                    Ok(response.into_inner())
                }
            )*
        }

        /// The server side of LLBBridge, for in-process fakes of the daemon. Every method
        /// defaults to `Unimplemented`; implementors may write them as `async fn`.
        pub trait LlbBridge: Send + Sync + 'static {
            $(
                $(#[$doc])*
                fn $method(
                    &self,
                    _request: Request<$req>,
                ) -> impl Future<Output = Result<Response<$resp>, Status>> + Send {
                    async { Err(Status::unimplemented(concat!("LLBBridge.", $name))) }
                }
            )*
        }

        /// Dispatches one HTTP/2 request to the [`LlbBridge`] method named by its path.
        fn route<B: LlbBridge>(
            bridge: &Arc<B>,
            request: http::Request<Body>,
        ) -> BoxFuture<http::Response<Body>, Infallible> {
            match request.uri().path() {
                $(
                    rpc_path!($name) => serve_unary(
                        Handler {
                            bridge: Arc::clone(bridge),
                            f: |b: Arc<B>, r| async move { b.$method(r).await },
                        },
                        request,
                    ),
                )*
                other => {
                    let status = Status::unimplemented(format!("unknown method {other}"));
                    Box::pin(async move { Ok(status.into_http()) })
                }
            }
        }
    };
}

llb_bridge_rpcs! {
    /// Resolves an image reference to its digest and config JSON.
    "ResolveImageConfig" => fn resolve_image_config(pb::ResolveImageConfigRequest)
        -> pb::ResolveImageConfigResponse;
    /// Solves a definition (lazily unless `evaluate` is set) and returns result refs.
    "Solve" => fn solve(pb::SolveRequest) -> pb::SolveResponse;
    /// Reads (part of) a file from a solved ref.
    "ReadFile" => fn read_file(pb::ReadFileRequest) -> pb::ReadFileResponse;
    /// Lists a directory of a solved ref.
    "ReadDir" => fn read_dir(pb::ReadDirRequest) -> pb::ReadDirResponse;
    /// Stats a path in a solved ref.
    "StatFile" => fn stat_file(pb::StatFileRequest) -> pb::StatFileResponse;
    /// Forces evaluation of a lazily solved ref.
    "Evaluate" => fn evaluate(pb::EvaluateRequest) -> pb::EvaluateResponse;
    /// Returns the daemon's API/LLB capabilities and workers.
    "Ping" => fn ping(pb::PingRequest) -> pb::PongResponse;
    /// Hands the frontend's final result (or error) to the daemon (RPC `Return`).
    "Return" => fn return_result(pb::ReturnRequest) -> pb::ReturnResponse;
    /// Fetches the frontend inputs (named contexts passed as definitions).
    "Inputs" => fn inputs(pb::InputsRequest) -> pb::InputsResponse;
    /// Emits a build warning attached to a vertex.
    "Warn" => fn warn(pb::WarnRequest) -> pb::WarnResponse;
}

/// A `tower::Service<tonic::Request<Req>>` calling `f(bridge, request)`; tonic's blanket impl
/// makes it a `UnaryService` for `tonic::server::Grpc::unary`.
struct Handler<B, F> {
    bridge: Arc<B>,
    f: F,
}

impl<B, F, Req, Resp, Fut> Service<Request<Req>> for Handler<B, F>
where
    F: Fn(Arc<B>, Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    type Response = Response<Resp>;
    type Error = Status;
    type Future = Fut;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Req>) -> Fut {
        (self.f)(Arc::clone(&self.bridge), request)
    }
}

/// Decodes one request, runs `handler`, encodes its response (16 MiB caps both ways).
fn serve_unary<B, F, Req, Resp, Fut>(
    handler: Handler<B, F>,
    request: http::Request<Body>,
) -> BoxFuture<http::Response<Body>, Infallible>
where
    B: Send + Sync + 'static,
    F: Fn(Arc<B>, Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    Box::pin(async move {
        let mut grpc = tonic::server::Grpc::new(ProstCodec::<Resp, Req>::default())
            .apply_max_message_size_config(Some(MAX_MESSAGE_SIZE), Some(MAX_MESSAGE_SIZE));
        Ok(grpc.unary(handler, request).await)
    })
}

/// Serves an [`LlbBridge`] implementation as the `moby.buildkit.v1.frontend.LLBBridge` service,
/// e.g. `tonic::transport::Server::builder().add_service(LlbBridgeServer::new(fake))`.
#[derive(Debug)]
pub struct LlbBridgeServer<B> {
    bridge: Arc<B>,
}

impl<B: LlbBridge> LlbBridgeServer<B> {
    pub fn new(bridge: B) -> Self {
        Self::from_arc(Arc::new(bridge))
    }

    /// Serves a shared bridge (so a test can keep a handle to inspect what it received).
    pub fn from_arc(bridge: Arc<B>) -> Self {
        Self { bridge }
    }
}

impl<B> Clone for LlbBridgeServer<B> {
    fn clone(&self) -> Self {
        Self {
            bridge: Arc::clone(&self.bridge),
        }
    }
}

impl<B> NamedService for LlbBridgeServer<B> {
    const NAME: &'static str = SERVICE_NAME;
}

impl<B: LlbBridge> Service<http::Request<Body>> for LlbBridgeServer<B> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        route(&self.bridge, request)
    }
}

/// Serves `bridge` to a client over an in-process duplex stream, as the daemon serves the
/// frontend over stdio: for tests and tools that drive the frontend without a daemon. Abort the
/// returned task when done.
pub async fn serve_in_process<B: LlbBridge>(
    bridge: Arc<B>,
) -> (LlbBridgeClient<Channel>, tokio::task::JoinHandle<()>) {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move {
        let incoming = tonic::codegen::tokio_stream::once(Ok::<_, std::io::Error>(server_io));
        let _ = tonic::transport::Server::builder()
            .add_service(LlbBridgeServer::from_arc(bridge))
            .serve_with_incoming(incoming)
            .await;
    });
    let mut client_io = Some(client_io);
    let channel = tonic::transport::Endpoint::from_static("http://in-process")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let io = client_io.take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("the in-process stream is already used"))
            }
        }))
        .await
        .expect("an in-process connection cannot fail");
    (LlbBridgeClient::new(channel), server)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tonic::Code;

    use super::*;

    /// A fake daemon: answers Ping and ReadFile, records Return.
    #[derive(Default)]
    struct FakeDaemon {
        returned: Mutex<Vec<pb::ReturnRequest>>,
    }

    impl LlbBridge for FakeDaemon {
        async fn ping(
            &self,
            _request: Request<pb::PingRequest>,
        ) -> Result<Response<pb::PongResponse>, Status> {
            Ok(Response::new(pb::PongResponse {
                llb_caps: vec![pb::ApiCap {
                    id: "exec.mount.cache".into(),
                    enabled: true,
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }

        async fn read_file(
            &self,
            request: Request<pb::ReadFileRequest>,
        ) -> Result<Response<pb::ReadFileResponse>, Status> {
            let req = request.into_inner();
            if req.r#ref != "ctx" {
                return Err(Status::not_found(format!("no ref {}", req.r#ref)));
            }
            // Bigger than tonic's 4 MiB default, to exercise the raised limit.
            let mut data = vec![b'x'; 5 << 20];
            data.extend(req.file_path.into_bytes());
            Ok(Response::new(pb::ReadFileResponse { data }))
        }

        async fn return_result(
            &self,
            request: Request<pb::ReturnRequest>,
        ) -> Result<Response<pb::ReturnResponse>, Status> {
            self.returned.lock().unwrap().push(request.into_inner());
            Ok(Response::new(pb::ReturnResponse {}))
        }
    }

    #[tokio::test]
    async fn round_trip_over_in_process_duplex() {
        let daemon = Arc::new(FakeDaemon::default());
        let (mut client, server) = serve_in_process(Arc::clone(&daemon)).await;

        let pong = client.ping(pb::PingRequest {}).await.expect("ping");
        assert_eq!(pong.llb_caps.len(), 1);
        assert_eq!(pong.llb_caps[0].id, "exec.mount.cache");
        assert!(pong.llb_caps[0].enabled);

        let file = client
            .read_file(pb::ReadFileRequest {
                r#ref: "ctx".into(),
                file_path: "/pycache.toml".into(),
                ..Default::default()
            })
            .await
            .expect("read_file");
        assert_eq!(file.data.len(), (5 << 20) + "/pycache.toml".len());
        assert!(file.data.ends_with(b"/pycache.toml"));

        let err = client
            .read_file(pb::ReadFileRequest {
                r#ref: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);

        let ret = pb::ReturnRequest {
            result: Some(pb::Result {
                result: Some(pb::result::Result::Ref(pb::Ref {
                    id: "r1".into(),
                    def: None,
                })),
                metadata: [("k".to_string(), b"v".to_vec())].into(),
                ..Default::default()
            }),
            error: None,
        };
        client.return_result(ret.clone()).await.expect("return");
        assert_eq!(*daemon.returned.lock().unwrap(), vec![ret]);

        // Not overridden: the trait default.
        let err = client.solve(pb::SolveRequest::default()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);

        // Not a known method at all: the router's fallback.
        let err = client
            .call::<_, pb::ReturnResponse>(
                rpc_path!("NewContainer"),
                Request::new(pb::PingRequest {}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);

        server.abort();
    }
}
