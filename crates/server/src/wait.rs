//! The wait registry: proposers park here by request id until the apply loop has applied their
//! entry and hands over the result (one registry per request kind, see
//! [`crate::proposal::Waiters`]).
//!
//! Sharded by id so thousands of concurrent proposers and the apply loop rarely contend.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::oneshot;

const SHARDS: usize = 64;

/// Request id → the channel its proposer waits on.
pub(crate) struct WaitRegistry<T> {
    shards: Vec<Mutex<HashMap<u64, oneshot::Sender<T>>>>,
}

impl<T> Default for WaitRegistry<T> {
    fn default() -> Self {
        WaitRegistry {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl<T> WaitRegistry<T> {
    fn shard(&self, id: u64) -> &Mutex<HashMap<u64, oneshot::Sender<T>>> {
        &self.shards[(id as usize) % SHARDS]
    }

    /// Registers interest in `id`; the receiver yields the result once applied.
    pub(crate) fn register(&self, id: u64) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel();
        let earlier = self.shard(id).lock().insert(id, tx);
        debug_assert!(earlier.is_none(), "request id {id:x} registered twice");
        rx
    }

    /// Takes the channel of whoever on this member waits for `id`, to send the result on once
    /// it may be handed over.
    pub(crate) fn take(&self, id: u64) -> Option<oneshot::Sender<T>> {
        self.shard(id).lock().remove(&id)
    }

    /// Forgets `id` (the proposer gave up, e.g. timed out).
    pub(crate) fn cancel(&self, id: u64) {
        self.shard(id).lock().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_reaches_the_registered_waiter_only() {
        let reg = WaitRegistry::default();
        let rx = reg.register(1);
        assert!(reg.take(2).is_none());
        reg.take(1).unwrap().send("mine").unwrap();
        assert_eq!(rx.await.unwrap(), "mine");
    }

    #[tokio::test]
    async fn cancelled_waiter_gets_nothing() {
        let reg: WaitRegistry<u8> = WaitRegistry::default();
        let rx = reg.register(5);
        reg.cancel(5);
        assert!(reg.take(5).is_none());
        assert!(rx.await.is_err());
    }
}
