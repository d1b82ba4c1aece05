//! The queue of raft messages to one peer, bounded in messages and in bytes: a peer that
//! is slow or gone must not make this member hold gigabytes of appends (4,096 messages of up
//! to 1 MiB each). A message that does not fit is dropped and the peer reported unreachable;
//! raft sends again once it hears back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use raft::prelude::Message;
use tokio::sync::mpsc;

/// Bytes a message holds in the queue: its entries' payloads plus a fixed allowance for the
/// rest (headers, a snapshot's metadata).
fn queued_size(msg: &Message) -> usize {
    const OVERHEAD: usize = 128;
    let entries: usize = msg
        .entries
        .iter()
        .map(|e| e.data.len() + e.context.len())
        .sum();
    entries + msg.context.len() + OVERHEAD
}

/// A new queue of at most `messages` messages and `bytes` bytes.
pub(super) fn peer_queue(messages: usize, bytes: usize) -> (PeerQueueSender, PeerQueueReceiver) {
    let (tx, rx) = mpsc::channel(messages);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        PeerQueueSender {
            tx,
            queued: queued.clone(),
            max_bytes: bytes,
        },
        PeerQueueReceiver { rx, queued },
    )
}

/// The ready loop's end.
pub(super) struct PeerQueueSender {
    tx: mpsc::Sender<Message>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

impl PeerQueueSender {
    /// Queues `msg` unless the queue is full in messages or bytes; false if it was dropped.
    pub(super) fn try_send(&self, msg: Message) -> bool {
        let size = queued_size(&msg);
        let before = self.queued.fetch_add(size, Ordering::AcqRel);
        // One message larger than the bound still goes into an empty queue.
        if before > 0 && before + size > self.max_bytes {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        if self.tx.try_send(msg).is_err() {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// The peer stream's end.
pub(super) struct PeerQueueReceiver {
    rx: mpsc::Receiver<Message>,
    queued: Arc<AtomicUsize>,
}

impl PeerQueueReceiver {
    fn taken(&self, msg: Option<Message>) -> Option<Message> {
        if let Some(msg) = &msg {
            self.queued.fetch_sub(queued_size(msg), Ordering::AcqRel);
        }
        msg
    }

    /// The next message, if one is queued.
    pub(super) fn try_recv(&mut self) -> Option<Message> {
        let msg = self.rx.try_recv().ok();
        self.taken(msg)
    }

    /// Waits for the next message; `None` once the sender is gone and the queue empty.
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(msg) => Poll::Ready(self.taken(msg)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Whether the sender is gone (the node is stopping).
    pub(super) fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use raft::prelude::Entry;

    use super::*;

    fn append(bytes: usize) -> Message {
        let mut msg = Message::default();
        msg.set_entries(
            vec![Entry {
                data: vec![0; bytes].into(),
                ..Default::default()
            }]
            .into(),
        );
        msg
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_and_frees_what_is_taken() {
        let (tx, mut rx) = peer_queue(100, 1_000_000);
        assert!(tx.try_send(append(600_000)));
        assert!(!tx.try_send(append(600_000)), "over the byte bound");
        assert!(tx.try_send(append(100_000)), "small ones still fit");
        assert!(rx.try_recv().is_some());
        assert!(tx.try_send(append(600_000)), "room again once taken");
    }

    #[test]
    fn the_queue_is_bounded_in_messages_and_a_huge_message_fits_an_empty_queue() {
        let (tx, mut rx) = peer_queue(2, 1_000);
        assert!(
            tx.try_send(append(5_000)),
            "an empty queue takes any one message"
        );
        assert!(rx.try_recv().is_some());
        assert!(tx.try_send(append(1)));
        assert!(tx.try_send(append(1)));
        assert!(!tx.try_send(append(1)), "over the message bound");
    }
}
