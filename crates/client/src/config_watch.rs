//! [`Client::watch_config`]: a prefix loaded once and then followed change by change — the
//! read at revision R, the resumable watch from R + 1 — with a fresh load, reported as
//! [`ConfigEvent::Reloaded`], when a compaction took the changes the watch needed.

use crate::client::Client;
use crate::kv::GetOptions;
use crate::watch_stream::{WatchBatch, WatchError, WatchOptions, retryable};
use oxcd_api::mvccpb::KeyValue;
use oxcd_api::mvccpb::event::EventType;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Every key under a prefix at one revision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The revision the snapshot shows.
    pub revision: i64,
    /// The keys and their pairs.
    pub kvs: BTreeMap<Vec<u8>, KeyValue>,
}

impl Snapshot {
    /// The value under `key`, if present.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&[u8]> {
        self.kvs.get(key.as_ref()).map(|kv| kv.value.as_slice())
    }

    /// Applies a batch of changes, moving the snapshot to the batch's revision.
    pub fn apply(&mut self, batch: &WatchBatch) {
        for event in &batch.events {
            let Some(kv) = &event.kv else { continue };
            if event.r#type == EventType::Delete as i32 {
                self.kvs.remove(&kv.key);
            } else {
                self.kvs.insert(kv.key.clone(), kv.clone());
            }
        }
        self.revision = self.revision.max(batch.revision());
    }
}

/// What a [`ConfigWatch`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigEvent {
    /// The first load of the prefix.
    Loaded(Snapshot),
    /// Changes after the last event, each revision once and in order.
    Changed(WatchBatch),
    /// The prefix was loaded again because a compaction removed changes the watch had not
    /// delivered yet; the snapshot replaces everything known before.
    Reloaded(Snapshot),
}

/// A prefix followed by [`Client::watch_config`]. [`ConfigWatch::current`] is the state after
/// the last event returned; dropping the watch stops it.
#[derive(Debug)]
pub struct ConfigWatch {
    rx: mpsc::Receiver<Result<ConfigEvent, WatchError>>,
    current: Snapshot,
}

impl ConfigWatch {
    /// The next event, applied to [`ConfigWatch::current`] before it is returned; after an
    /// error, `None`.
    pub async fn next(&mut self) -> Option<Result<ConfigEvent, WatchError>> {
        let event = self.rx.recv().await?;
        match &event {
            Ok(ConfigEvent::Loaded(snapshot) | ConfigEvent::Reloaded(snapshot)) => {
                self.current = snapshot.clone();
            }
            Ok(ConfigEvent::Changed(batch)) => self.current.apply(batch),
            Err(_) => {}
        }
        Some(event)
    }

    /// The prefix as of the last event returned.
    pub fn current(&self) -> &Snapshot {
        &self.current
    }
}

impl Client {
    /// Loads every key under `prefix` and follows their changes, across reconnects and
    /// leader changes, without skipping or repeating one; a compaction that outran the watch
    /// reloads the prefix ([`ConfigEvent::Reloaded`]).
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::WatchError> {
    /// use oxcd_client::ConfigEvent;
    /// let mut config = client.watch_config("app/config/");
    /// while let Some(event) = config.next().await {
    ///     match event? {
    ///         ConfigEvent::Loaded(_) | ConfigEvent::Reloaded(_) => println!("full reload"),
    ///         ConfigEvent::Changed(batch) => println!("{} changes", batch.events.len()),
    ///     }
    ///     println!("log level: {:?}", config.current().get("app/config/log-level"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch_config(&self, prefix: impl Into<Vec<u8>>) -> ConfigWatch {
        let (tx, rx) = mpsc::channel(16);
        let client = self.clone();
        let prefix = prefix.into();
        tokio::spawn(async move {
            tokio::select! {
                ended = follow_prefix(&client, &prefix, &tx) => {
                    if let Err(error) = ended {
                        let _ = tx.send(Err(error)).await;
                    }
                }
                _ = tx.closed() => {}
            }
        });
        ConfigWatch {
            rx,
            current: Snapshot::default(),
        }
    }
}

/// Loads and follows `prefix` until the receiver goes (`Ok`) or an error cannot be resumed.
async fn follow_prefix(
    client: &Client,
    prefix: &[u8],
    tx: &mpsc::Sender<Result<ConfigEvent, WatchError>>,
) -> Result<(), WatchError> {
    let mut reloading = false;
    loop {
        let snapshot = load(client, prefix).await?;
        let start = snapshot.revision + 1;
        let event = if reloading {
            ConfigEvent::Reloaded(snapshot)
        } else {
            ConfigEvent::Loaded(snapshot)
        };
        if tx.send(Ok(event)).await.is_err() {
            return Ok(());
        }
        let options = WatchOptions::new().prefix().start_revision(start);
        let mut changes = client.watch_stream(prefix, options);
        loop {
            match changes.next().await {
                Some(Ok(batch)) if batch.events.is_empty() => {}
                Some(Ok(batch)) => {
                    if tx.send(Ok(ConfigEvent::Changed(batch))).await.is_err() {
                        return Ok(());
                    }
                }
                Some(Err(WatchError::Compacted { .. })) => break,
                Some(Err(error)) => return Err(error),
                // The watch's task ends only after reporting an error, so this is not reached
                // in practice; a new load is the safe answer if it is.
                None => break,
            }
        }
        reloading = true;
    }
}

/// Reads every key under `prefix`, retrying while no member can answer.
pub(crate) async fn load(client: &Client, prefix: &[u8]) -> Result<Snapshot, WatchError> {
    let mut pause = Duration::from_millis(50);
    loop {
        match client
            .get(prefix.to_vec(), GetOptions::new().prefix())
            .await
        {
            Ok(found) => {
                let revision = found.revision();
                let kvs = found
                    .into_raw()
                    .kvs
                    .into_iter()
                    .map(|kv| (kv.key.clone(), kv))
                    .collect();
                return Ok(Snapshot { revision, kvs });
            }
            Err(error) if retryable(&error) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_api::etcdserverpb::ResponseHeader;
    use oxcd_api::mvccpb::Event;

    fn event(kind: EventType, key: &str, value: &str, revision: i64) -> Event {
        Event {
            r#type: kind as i32,
            kv: Some(KeyValue {
                key: key.into(),
                value: value.into(),
                mod_revision: revision,
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    #[test]
    fn snapshot_follows_puts_and_deletes() {
        let mut snapshot = Snapshot::default();
        let batch = WatchBatch {
            header: ResponseHeader {
                revision: 9,
                ..Default::default()
            },
            events: vec![
                event(EventType::Put, "a", "1", 5),
                event(EventType::Put, "b", "2", 6),
                event(EventType::Delete, "a", "", 7),
            ],
        };
        snapshot.apply(&batch);
        assert_eq!(snapshot.revision, 7);
        assert_eq!(snapshot.get("a"), None);
        assert_eq!(snapshot.get("b"), Some(&b"2"[..]));
    }
}
