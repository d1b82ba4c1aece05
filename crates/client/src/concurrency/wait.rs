//! Waiting for the keys ahead of ours to go: watch the newest older key until it is deleted,
//! then look again — one watch at a time, never a poll.

use super::error::ConcurrencyError;
use crate::client::Client;
use crate::error::ClientError;
use oxcd_api::etcdserverpb::{ResponseHeader, WatchCreateRequest, WatchRequest, watch_request};
use oxcd_api::mvccpb::event::EventType;
use oxcd_api::queue::predecessor;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

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

/// Returns once `key` is deleted at or after revision `rev`.
pub(super) async fn wait_delete(
    client: &Client,
    key: &[u8],
    rev: i64,
) -> Result<(), ConcurrencyError> {
    let mut events = watch_from(client, key, None, rev).await?;
    loop {
        let Some(response) = events.message().await.map_err(ClientError::from)? else {
            return Err(ConcurrencyError::watch_closed());
        };
        if response
            .events
            .iter()
            .any(|event| event.r#type == EventType::Delete as i32)
        {
            return Ok(());
        }
        if response.canceled {
            return Err(watch_canceled(&response));
        }
    }
}

/// Opens a watch on `key` (to `range_end` if given) from `start_revision`. The request sender
/// lives in the returned stream's task so the watch stays open while it is read.
pub(super) async fn watch_from(
    client: &Client,
    key: &[u8],
    range_end: Option<Vec<u8>>,
    start_revision: i64,
) -> Result<tonic::Streaming<oxcd_api::etcdserverpb::WatchResponse>, ConcurrencyError> {
    let (tx, rx) = mpsc::channel(1);
    let create = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: key.to_vec(),
                range_end: range_end.unwrap_or_default(),
                start_revision,
                ..Default::default()
            },
        )),
    };
    // The receiver is alive here, so the send cannot fail.
    let _ = tx.try_send(create);
    let stream = ReceiverStream::new(rx);
    let responses = client
        .watch()
        .watch(KeepOpen { stream, _tx: tx })
        .await
        .map_err(ClientError::from)?
        .into_inner();
    Ok(responses)
}

/// The error a watch the server cancelled becomes (a compacted start revision, usually).
fn watch_canceled(response: &oxcd_api::etcdserverpb::WatchResponse) -> ConcurrencyError {
    let reason = if response.compact_revision > 0 {
        oxcd_api::EtcdError::Compacted.message().to_string()
    } else {
        response.cancel_reason.clone()
    };
    ConcurrencyError::Client(ClientError::from(tonic::Status::out_of_range(reason)))
}

/// A request stream that holds its own sender, so the watch is not half-closed after the
/// create request (a half-closed watch stream ends on the server).
struct KeepOpen<T> {
    stream: ReceiverStream<T>,
    _tx: mpsc::Sender<T>,
}

impl<T> tokio_stream::Stream for KeepOpen<T> {
    type Item = T;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::pin::Pin::new(&mut self.stream).poll_next(cx)
    }
}
