//! Wake-ups for lock and election waiters (`coordination/`), one per deleted key: a waiter registers the key it
//! waits on (its predecessor in the queue), and the apply loop, after committing a batch and
//! before publishing it, wakes exactly the waiters of the keys that batch deleted. A write
//! thus wakes the one waiter it concerns, not every waiter of every queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use oxcd_api::mvccpb::Event;
use oxcd_api::mvccpb::event::EventType;

/// The keys waiters wait to see deleted, each with its waiters.
#[derive(Default)]
pub(crate) struct KeyDeletes {
    waiting: Mutex<HashMap<Vec<u8>, Vec<Arc<Notify>>>>,
    /// Registrations alive, so that a batch with nobody waiting costs one atomic load.
    registered: AtomicUsize,
}

impl KeyDeletes {
    /// Wakes the waiters of every key `events` delete (called after their batch is committed,
    /// so a woken waiter reads the key gone).
    pub(crate) fn deleted(&self, events: &[Event]) {
        if self.registered.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut waiting = self.waiting.lock();
        for event in events {
            if event.r#type != EventType::Delete as i32 {
                continue;
            }
            let Some(kv) = &event.kv else { continue };
            if let Some(waiters) = waiting.remove(&kv.key) {
                waiters.iter().for_each(|w| w.notify_one());
            }
        }
    }

    /// Wakes every waiter: the store was replaced (a snapshot), so deletes it held came
    /// without events; each waiter looks again.
    pub(crate) fn wake_all(&self) {
        let mut waiting = self.waiting.lock();
        for (_, waiters) in waiting.drain() {
            waiters.iter().for_each(|w| w.notify_one());
        }
    }

    /// Registers a wait for `key` to be deleted. A delete committed after this call wakes the
    /// returned [`DeleteWait`], even before it is awaited.
    pub(crate) fn register(self: &Arc<Self>, key: &[u8]) -> DeleteWait {
        let notify = Arc::new(Notify::new());
        self.registered.fetch_add(1, Ordering::AcqRel);
        self.waiting
            .lock()
            .entry(key.to_vec())
            .or_default()
            .push(notify.clone());
        DeleteWait {
            deletes: self.clone(),
            key: key.to_vec(),
            notify,
        }
    }
}

/// One waiter's registration; dropping it unregisters.
pub(crate) struct DeleteWait {
    deletes: Arc<KeyDeletes>,
    key: Vec<u8>,
    notify: Arc<Notify>,
}

impl DeleteWait {
    /// Waits until the key is deleted (or every waiter is told to look again).
    pub(crate) async fn deleted(&self) {
        self.notify.notified().await;
    }
}

impl Drop for DeleteWait {
    fn drop(&mut self) {
        self.deletes.registered.fetch_sub(1, Ordering::AcqRel);
        let mut waiting = self.deletes.waiting.lock();
        if let Some(waiters) = waiting.get_mut(&self.key) {
            waiters.retain(|w| !Arc::ptr_eq(w, &self.notify));
            if waiters.is_empty() {
                waiting.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oxcd_api::mvccpb::KeyValue;

    use super::*;

    fn event(kind: EventType, key: &[u8]) -> Event {
        Event {
            r#type: kind as i32,
            kv: Some(KeyValue {
                key: key.to_vec(),
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    async fn woken(wait: &DeleteWait) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wait.deleted())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn only_a_delete_of_the_waited_key_wakes_and_a_wake_is_kept_until_awaited() {
        let deletes = Arc::new(KeyDeletes::default());
        let a = deletes.register(b"q/a");
        let b = deletes.register(b"q/b");
        deletes.deleted(&[
            event(EventType::Put, b"q/a"),
            event(EventType::Delete, b"q/c"),
        ]);
        assert!(!woken(&a).await);
        deletes.deleted(&[event(EventType::Delete, b"q/a")]);
        assert!(
            woken(&a).await,
            "woken although the delete came before the wait"
        );
        assert!(!woken(&b).await);
        deletes.wake_all();
        assert!(woken(&b).await);
    }

    #[test]
    fn a_dropped_wait_is_forgotten() {
        let deletes = Arc::new(KeyDeletes::default());
        drop(deletes.register(b"q/a"));
        assert_eq!(deletes.registered.load(Ordering::Acquire), 0);
        assert!(deletes.waiting.lock().is_empty());
    }
}
