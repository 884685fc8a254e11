//! Panics in the frontend, caught: a bug must fail the build with a message saying where it
//! is, never with a bare `exit code: 101` pointing at the recipe's first line.
//!
//! [`catch_panic`] polls a future under `catch_unwind`, so a panic anywhere in a build (the
//! pure pipeline or the gateway code) ends that future with a [`Panic`] instead of unwinding out
//! of the runtime; the frontend then returns it to BuildKit as an error. [`install_hook`]
//! records where each panic happened, which the payload alone does not say.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A caught panic: its message and, when the hook saw it, its source location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panic {
    pub message: String,
    pub location: Option<String>,
}

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(at) => write!(f, "panicked at {at}: {}", self.message),
            None => write!(f, "panicked: {}", self.message),
        }
    }
}

thread_local! {
    /// Where the last panic on this thread happened, as the hook saw it (`file:line:col`):
    /// the hook runs on the panicking thread, the one that catches it.
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records each panic's location for [`catch_panic`], then lets the previous hook print it
/// to stderr (the daemon's log) as usual.
pub fn install_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        if let Some(l) = info.location() {
            let at = format!("{}:{}:{}", l.file(), l.line(), l.column());
            let _ = LAST_LOCATION.try_with(|last| last.replace(Some(at)));
        }
        previous(info);
    }));
}

fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// A future that ends with `Err(Panic)` if polling `inner` panics.
pub struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

/// `future`, with a panic while it is polled turned into `Err(Panic)`.
pub fn catch_panic<F: Future>(future: F) -> CatchPanic<F> {
    CatchPanic {
        inner: Box::pin(future),
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _ = LAST_LOCATION.try_with(|last| last.take());
        // The future is never polled again after a panic, so no broken state is observed.
        let inner = &mut self.inner;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(Panic {
                message: message(payload.as_ref()),
                location: LAST_LOCATION.try_with(|last| last.take()).ok().flatten(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_future_ends_with_its_message_and_location() {
        install_hook();
        let caught = catch_panic(async {
            tokio::task::yield_now().await;
            let v: Vec<u8> = Vec::new();
            v[usize::from(v.is_empty())]
        })
        .await
        .unwrap_err();
        assert!(caught.message.contains("index out of bounds"), "{caught}");
        let at = caught.location.as_deref().unwrap_or_default();
        assert!(at.starts_with("src/gateway/guard.rs:"), "{caught}");
        assert_eq!(catch_panic(async { 7 }).await, Ok(7));
    }
}
