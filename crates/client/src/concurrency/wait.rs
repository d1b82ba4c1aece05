//! Waiting for the keys ahead of ours to go: watch the newest older key until it is deleted,
//! then look again — one watch at a time, never a poll.

use super::error::ConcurrencyError;
use crate::client::Client;
use crate::error::ClientError;
use crate::watch_stream::WatchOptions;
use oxcd_api::etcdserverpb::ResponseHeader;
use oxcd_api::mvccpb::event::EventType;
use oxcd_api::queue::predecessor;

/// Returns once no key under `prefix` has a create revision at or below `max_create_rev`,
/// with the header of the read that saw none.
pub(super) async fn wait_deletes(
    client: &Client,
    prefix: &[u8],
    max_create_rev: i64,
) -> Result<ResponseHeader, ConcurrencyError> {
    loop {
        let found = client
            .kv()
            .range(predecessor(prefix, max_create_rev))
            .await
            .map_err(ClientError::from)?
            .into_inner();
        let header = found.header.unwrap_or_default();
        let Some(last) = found.kvs.into_iter().next() else {
            return Ok(header);
        };
        wait_delete(client, &last.key, header.revision).await?;
    }
}

/// Returns once `key` is deleted at or after revision `rev`. The watch resumes after broken
/// streams, so a waiter outlives the member it watched on.
pub(super) async fn wait_delete(
    client: &Client,
    key: &[u8],
    rev: i64,
) -> Result<(), ConcurrencyError> {
    let mut events = client.watch_stream(key, WatchOptions::new().start_revision(rev));
    loop {
        let batch = match events.next().await {
            Some(batch) => batch?,
            None => return Err(ConcurrencyError::watch_closed()),
        };
        if batch
            .events
            .iter()
            .any(|event| event.r#type == EventType::Delete as i32)
        {
            return Ok(());
        }
    }
}
