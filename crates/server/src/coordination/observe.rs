//! Observing an election: the current leader, then every value it proclaims, then — once its
//! key is deleted — the next leader, and so on, in commit order (etcd's `Observe`). Like etcd,
//! a leader that came and went between two looks is not reported; the latest always is.

use oxcd_api::mvccpb::KeyValue;
use oxcd_api::mvccpb::event::EventType;
use oxcd_api::queue::{head, queue_prefix};
use oxcd_api::v3electionpb::LeaderResponse;
use tokio::sync::mpsc;
use tonic::Status;

use super::key_watch::KeyWatch;
use super::queue::read;
use crate::server::EtcdServer;

/// Sends election `name`'s leader and each of its changes into `tx` (a gRPC stream's queue) until the receiver goes
/// away or the history can no longer be followed (a read fails, compaction overtook the
/// watch): then it returns, and the stream ends as etcd's does.
pub(crate) async fn observe(
    server: &EtcdServer,
    name: &[u8],
    tx: &mpsc::Sender<Result<LeaderResponse, Status>>,
) {
    let prefix = queue_prefix(name);
    let range_end = oxcd_api::key_range::prefix_end(&prefix);
    loop {
        let Ok(resp) = read(server, &head(&prefix)).await else {
            return;
        };
        let (revision, leader) = match resp.kvs.into_iter().next() {
            Some(kv) => (resp.header.map_or(0, |h| h.revision), kv),
            None => {
                // No candidate: the first key put under the prefix leads.
                let seen_at = resp.header.map_or(0, |h| h.revision);
                let mut watch = KeyWatch::new(server, &prefix, &range_end, seen_at);
                let Some(kv) = first_put(&mut watch).await else {
                    return;
                };
                (kv.mod_revision, kv)
            }
        };
        let key = leader.key.clone();
        if !send(server, tx, revision, leader).await {
            return;
        }
        let mut watch = KeyWatch::new(server, &key, &[], revision + 1);
        'leader: loop {
            let Ok(chunk) = watch.next().await else {
                return;
            };
            for event in chunk.events {
                if event.r#type == EventType::Delete as i32 {
                    break 'leader;
                }
                let Some(kv) = event.kv else { continue };
                if !send(server, tx, kv.mod_revision, kv).await {
                    return;
                }
            }
        }
    }
}

async fn first_put(watch: &mut KeyWatch) -> Option<KeyValue> {
    loop {
        let chunk = watch.next().await.ok()?;
        let put = chunk
            .events
            .into_iter()
            .find(|e| e.r#type == EventType::Put as i32)
            .and_then(|e| e.kv);
        if put.is_some() {
            return put;
        }
    }
}

async fn send(
    server: &EtcdServer,
    tx: &mpsc::Sender<Result<LeaderResponse, Status>>,
    revision: i64,
    kv: KeyValue,
) -> bool {
    let response = LeaderResponse {
        header: Some(server.header(revision)),
        kv: Some(kv),
    };
    tx.send(Ok(response)).await.is_ok()
}
