//! The transport: one HTTP/2 (h2c) connection made of the process's stdin (read) and stdout
//! (write), as BuildKit's gateway serves the LLBBridge on them.
//!
//! Why not `tokio::io::stdin()`: it reads on a blocking thread that cannot be cancelled, and the
//! daemon never closes our stdin, so the runtime would hang on shutdown. Instead both fds are
//! switched to `O_NONBLOCK` and registered with the reactor through [`AsyncFd`]; reads and
//! writes are plain `read(2)`/`write(2)` when the fd is ready. The process exits with
//! `std::process::exit` once `Return` is acknowledged, so nothing has to be torn down.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper_util::rt::TokioIo;
use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tonic::transport::{Channel, Endpoint, Uri};

/// stdin and stdout as one non-blocking duplex stream.
pub struct Stdio {
    input: AsyncFd<File>,
    output: AsyncFd<File>,
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = fcntl_getfl(fd)?;
    if !flags.contains(OFlags::NONBLOCK) {
        fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    }
    Ok(())
}

/// A duplicate of a standard fd, non-blocking and registered with the reactor.
fn register(fd: BorrowedFd<'_>, interest: Interest, what: &str) -> io::Result<AsyncFd<File>> {
    // A duplicate shares the open file description (and so `O_NONBLOCK`) but is ours to own.
    let file = File::from(fd.try_clone_to_owned()?);
    set_nonblocking(file.as_fd())?;
    // SAFETY: the fd is owned by `file`, which the `AsyncFd` owns: it stays open and refers to
    // the same file description for as long as it is registered.
    unsafe { AsyncFd::register_with_interest(file, interest) }.map_err(|e| {
        let (_, e) = e.into_parts();
        io::Error::new(
            e.kind(),
            format!(
                "{what} cannot be polled ({e}); the frontend talks gRPC on a pipe from BuildKit"
            ),
        )
    })
}

impl Stdio {
    /// Takes over fds 0 and 1. They must be pipes or sockets (as under BuildKit): regular files
    /// cannot be polled.
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            input: register(io::stdin().as_fd(), Interest::READABLE, "stdin")?,
            output: register(io::stdout().as_fd(), Interest::WRITABLE, "stdout")?,
        })
    }
}

impl AsyncRead for Stdio {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.input.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| fd.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Stdio {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.output.poll_write_ready(cx))?;
            match guard.try_io(|fd| fd.get_ref().write(data)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
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
