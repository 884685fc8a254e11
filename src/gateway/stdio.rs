//! The transport: one HTTP/2 (h2c) connection made of the process's stdin (read) and stdout
//! (write), as BuildKit's gateway serves the LLBBridge on them.
//!
//! Why not `tokio::io::stdin()`: it reads on a blocking thread that cannot be cancelled, and the
//! daemon never closes our stdin, so the runtime would hang on shutdown. Instead both fds are
//! duplicated, switched to `O_NONBLOCK` and registered with the reactor as tokio's pipe ends
//! (which read and write any pollable fd with plain `read(2)`/`write(2)`; no `unsafe` needed).
//! The process exits with `std::process::exit` once `Return` is acknowledged, so nothing has
//! to be torn down.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;
use tonic::transport::{Channel, Endpoint, Uri};

/// stdin and stdout as one non-blocking duplex stream.
pub struct Stdio {
    input: pipe::Receiver,
    output: pipe::Sender,
}

/// A non-blocking duplicate of a standard fd. A duplicate shares the open file description
/// (and so `O_NONBLOCK`) but is ours to own and close.
fn nonblocking_dup(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let owned = fd.try_clone_to_owned()?;
    let flags = fcntl_getfl(&owned)?;
    if !flags.contains(OFlags::NONBLOCK) {
        fcntl_setfl(&owned, flags | OFlags::NONBLOCK)?;
    }
    Ok(owned)
}

fn unpollable(what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{what} cannot be polled ({e}); the frontend talks gRPC on a pipe from BuildKit"),
    )
}

impl Stdio {
    /// Takes over fds 0 and 1. They must be pipes or sockets (as under BuildKit): regular files
    /// cannot be polled.
    pub fn new() -> io::Result<Self> {
        let input = nonblocking_dup(io::stdin().as_fd())?;
        let output = nonblocking_dup(io::stdout().as_fd())?;
        Ok(Self {
            input: pipe::Receiver::from_owned_fd_unchecked(input)
                .map_err(|e| unpollable("stdin", e))?,
            output: pipe::Sender::from_owned_fd_unchecked(output)
                .map_err(|e| unpollable("stdout", e))?,
        })
    }
}

impl AsyncRead for Stdio {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.input).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stdio {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.output).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the fd: nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // stdout stays open until the process exits; the daemon waits for the exit.
        Poll::Ready(Ok(()))
    }
}

/// A gRPC channel to the daemon over stdio (h2c, prior knowledge). The connector hands out the
/// one stdio stream once: if the connection drops there is nothing to reconnect to.
pub async fn connect() -> Result<Channel, tonic::transport::Error> {
    let mut stdio = Some(Stdio::new());
    Endpoint::from_static("http://stdio")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let stdio = stdio.take();
            async move {
                match stdio {
                    Some(Ok(s)) => Ok(TokioIo::new(s)),
                    Some(Err(e)) => Err(e),
                    None => Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the connection to BuildKit over stdio was closed",
                    )),
                }
            }
        }))
        .await
}
