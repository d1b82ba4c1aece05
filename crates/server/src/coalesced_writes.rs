//! A client connection whose writes wait one turn of the runtime's run queue while other
//! calls of the connection are still being answered, so that the responses finished by one
//! apply batch (or one ReadIndex round) leave in one `writev`.
//!
//! When a gRPC call finishes its response it wakes its connection's task, which the runtime
//! runs next (its LIFO slot): that task would write each response on its own, one system
//! call and one loopback delivery per response, while the connection's sibling calls are
//! still queued with their answers ready. Putting the connection task at the back of the
//! queue once before it writes lets those calls add their responses first. A connection with
//! no other call in progress (one client waiting for each answer) writes at once: a yield
//! would cost it a wake-up of another worker for nothing to batch.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The calls of one connection that have not produced their response yet.
#[derive(Clone, Default)]
pub(crate) struct PendingCalls(Arc<AtomicUsize>);

impl PendingCalls {
    /// Counts a call until the returned guard drops (when its response is ready).
    pub(crate) fn start(&self) -> PendingCall {
        self.0.fetch_add(1, Ordering::Relaxed);
        PendingCall(self.0.clone())
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// One call of [`PendingCalls`], counted until dropped.
pub(crate) struct PendingCall(Arc<AtomicUsize>);

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection (TCP or TLS) whose writes are deferred once each while other calls are
/// pending (see the module doc).
pub(crate) struct CoalescedWrites<T> {
    inner: T,
    calls: PendingCalls,
    /// Set when the last write attempt was deferred: the next one goes through.
    deferred: bool,
}

impl<T> CoalescedWrites<T> {
    /// `inner`, whose writes wait while `calls` has a call in progress.
    pub(crate) fn new(inner: T, calls: PendingCalls) -> Self {
        CoalescedWrites {
            inner,
            calls,
            deferred: false,
        }
    }

    /// Whether this write attempt waits for the task's next turn (it is then rescheduled).
    fn defer(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deferred || !self.calls.any() {
            self.deferred = false;
            return false;
        }
        self.deferred = true;
        cx.waker().wake_by_ref();
        true
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CoalescedWrites<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.defer(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.defer(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A sink counting the write calls that reach it.
    struct CountingSink {
        writes: Arc<AtomicUsize>,
    }

    impl AsyncWrite for CountingSink {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.fetch_add(1, Ordering::Relaxed);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_write_waits_one_turn_while_other_calls_are_pending() {
        let writes = Arc::new(AtomicUsize::new(0));
        let calls = PendingCalls::default();
        let mut io = CoalescedWrites::new(
            CountingSink {
                writes: writes.clone(),
            },
            calls.clone(),
        );
        let woken = Arc::new(AtomicUsize::new(0));
        let waker = waker_counting(woken.clone());
        let mut cx = Context::from_waker(&waker);

        let pending = calls.start();
        let first = Pin::new(&mut io).poll_write(&mut cx, b"ab");
        assert!(first.is_pending(), "the first attempt is deferred");
        assert_eq!(woken.load(Ordering::Relaxed), 1, "and the task rescheduled");
        assert_eq!(writes.load(Ordering::Relaxed), 0);
        let second = Pin::new(&mut io).poll_write(&mut cx, b"ab");
        assert!(
            matches!(second, Poll::Ready(Ok(2))),
            "the next one goes through"
        );
        assert_eq!(writes.load(Ordering::Relaxed), 1);
        assert!(Pin::new(&mut io).poll_write(&mut cx, b"c").is_pending());

        drop(pending);
        assert!(Pin::new(&mut io).poll_write(&mut cx, b"c").is_ready());
        assert!(
            Pin::new(&mut io).poll_write(&mut cx, b"d").is_ready(),
            "with no call pending nothing waits"
        );
        assert_eq!(woken.load(Ordering::Relaxed), 2);
        assert_eq!(writes.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn everything_written_arrives_in_order() {
        let (client, server) = tokio::io::duplex(64);
        let calls = PendingCalls::default();
        let _pending = calls.start();
        let mut writer = CoalescedWrites::new(client, calls);
        let sent: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let expected = sent.clone();
        let reading = tokio::spawn(async move {
            let mut server = server;
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.map(|_| got)
        });
        for chunk in sent.chunks(700) {
            writer.write_all(chunk).await.expect("write");
        }
        writer.shutdown().await.expect("shutdown");
        drop(writer);
        let got = reading.await.expect("reader task").expect("read");
        assert_eq!(got, expected);
    }

    fn waker_counting(count: Arc<AtomicUsize>) -> std::task::Waker {
        struct Counter(Arc<AtomicUsize>);
        impl std::task::Wake for Counter {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
            fn wake_by_ref(self: &Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::task::Waker::from(Arc::new(Counter(count)))
    }
}
