//! One member's outgoing message stream: drains the peer's queue in batches into a
//! long-lived `Stream` RPC, reconnecting with backoff when the peer is down.
//!
//! The queue itself is the RPC's request body ([`OutgoingBatches`]): the HTTP/2 client polls
//! it directly, so a message travels from the ready loop to the connection without waking a
//! task of ours in between — at low load each such wake-up is a noticeable part of a write's
//! latency.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use protobuf::Message as _;
use raft::prelude::Message;
use tokio::sync::oneshot;
use tokio_stream::Stream;

use super::context::{CLUSTER_MISMATCH, MEMBER_REMOVED, PeerContext};
use super::peer_queue::PeerQueueReceiver;
use super::proto::MessageBatch;
use super::proto::raft_peer_client::RaftPeerClient;
use crate::metrics::PeerTraffic;

/// Most messages per batch.
const MAX_BATCH_MESSAGES: usize = 512;
/// A batch is closed once it reaches this many bytes.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why a stream ended.
enum Ended {
    /// The node is stopping (the queue was closed).
    Stopped,
    /// The peer could not be reached or the stream broke; `sent` says whether anything got
    /// through first.
    Failed { reason: String, sent: bool },
}

/// Runs until the queue closes.
pub(super) async fn run(ctx: Arc<PeerContext>, to: u64, queue: PeerQueueReceiver) {
    let queue = Arc::new(Mutex::new(queue));
    let mut backoff = MIN_BACKOFF;
    let mut active = false;
    let mut last_reason = String::new();
    loop {
        match stream_once(&ctx, to, &queue, &mut active).await {
            Ended::Stopped => return,
            Ended::Failed { reason, .. } if reason.contains(MEMBER_REMOVED) => {
                ctx.report_removed();
                return;
            }
            Ended::Failed { reason, sent } => {
                let refused = reason.contains(CLUSTER_MISMATCH);
                if sent && !refused {
                    backoff = MIN_BACKOFF;
                }
                ctx.activity.inactive(to);
                if refused {
                    active = false;
                    // Repeats are not logged: the peer keeps refusing until reconfigured.
                    if reason != last_reason {
                        tracing::error!(
                            local_member_id = %format!("{:x}", ctx.id),
                            remote_peer_id = %format!("{to:x}"),
                            local_cluster_id = %format!("{:x}", ctx.cluster_id),
                            error = %reason,
                            "request cluster ID mismatch"
                        );
                    }
                } else if active {
                    active = false;
                    tracing::warn!(
                        local_member_id = %format!("{:x}", ctx.id),
                        remote_peer_id = %format!("{to:x}"),
                        error = %reason,
                        "peer became inactive (message send to peer failed)"
                    );
                } else if reason != last_reason {
                    tracing::warn!(
                        remote_peer_id = %format!("{to:x}"),
                        error = %reason,
                        "failed to reach the peer"
                    );
                }
                last_reason = reason;
                ctx.report_unreachable(to);
            }
        }
        // Raft retries on its own; messages queued meanwhile are stale, so drop them.
        let deadline = tokio::time::Instant::now() + backoff;
        loop {
            let next = std::future::poll_fn(|cx| queue.lock().poll_recv(cx));
            match tokio::time::timeout_at(deadline, next).await {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(_) => break,
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A batch of encoded messages, and their bytes.
fn take_batch(first: Message, queue: &mut PeerQueueReceiver) -> (Vec<Bytes>, usize) {
    let mut out = Vec::with_capacity(8);
    let mut bytes = 0;
    let mut next = Some(first);
    while let Some(msg) = next.take() {
        match msg.write_to_bytes() {
            Ok(b) => {
                bytes += b.len();
                out.push(Bytes::from(b));
            }
            Err(e) => tracing::error!(error = %e, "failed to encode a raft message"),
        }
        if out.len() < MAX_BATCH_MESSAGES && bytes < MAX_BATCH_BYTES {
            next = queue.try_recv();
        }
    }
    (out, bytes)
}

/// The request body of one `Stream` RPC: batches taken straight from the peer's queue.
struct OutgoingBatches {
    queue: Arc<Mutex<PeerQueueReceiver>>,
    cluster_id: u64,
    from: u64,
    to: u64,
    /// Fired when the first batch is handed to the connection.
    first_sent: Option<oneshot::Sender<()>>,
    traffic: Arc<PeerTraffic>,
}

impl Stream for OutgoingBatches {
    type Item = MessageBatch;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MessageBatch>> {
        let this = self.get_mut();
        let mut queue = this.queue.lock();
        match queue.poll_recv(cx) {
            Poll::Ready(Some(first)) => {
                let (messages, bytes) = take_batch(first, &mut queue);
                this.traffic.add_sent(bytes);
                if let Some(first_sent) = this.first_sent.take() {
                    let _ = first_sent.send(());
                }
                Poll::Ready(Some(MessageBatch {
                    cluster_id: this.cluster_id,
                    from: this.from,
                    to: this.to,
                    messages,
                }))
            }
            // The node is stopping: end the stream.
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

async fn stream_once(
    ctx: &PeerContext,
    to: u64,
    queue: &Arc<Mutex<PeerQueueReceiver>>,
    active: &mut bool,
) -> Ended {
    let channel = match ctx.connect(to).await {
        Ok(c) => c,
        Err(reason) => {
            return Ended::Failed {
                reason,
                sent: false,
            };
        }
    };
    // Reachable from now on, until the stream fails (etcd's "active since" counts from the
    // connection, whether or not raft has anything to send).
    ctx.activity.connected(to);
    let mut client = RaftPeerClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let (first_sent, mut first_delivery) = oneshot::channel();
    let traffic = ctx.metrics.peer(to);
    traffic.set_active(true);
    let mut request = tonic::Request::new(OutgoingBatches {
        queue: queue.clone(),
        cluster_id: ctx.cluster_id,
        from: ctx.id,
        to,
        first_sent: Some(first_sent),
        traffic: traffic.clone(),
    });
    ctx.stamp(request.metadata_mut(), to);
    let mut call = std::pin::pin!(client.stream(request));
    // The call only ends when the stream does; meanwhile, announce the peer once the first
    // batch got through.
    let (mut sent, mut awaiting_first) = (false, true);
    let outcome = loop {
        tokio::select! {
            outcome = &mut call => break outcome,
            delivered = &mut first_delivery, if awaiting_first => {
                awaiting_first = false;
                sent = delivered.is_ok();
                if sent && !*active {
                    *active = true;
                    tracing::info!(
                        local_member_id = %format!("{:x}", ctx.id),
                        remote_peer_id = %format!("{to:x}"),
                        "peer became active"
                    );
                }
            }
        }
    };
    traffic.set_active(false);
    if queue.lock().is_closed() {
        return Ended::Stopped;
    }
    traffic.sent_failed();
    let reason = match outcome {
        Ok(_) => "peer closed the stream".to_string(),
        Err(status) => format!("{}: {}", status.code(), status.message()),
    };
    Ended::Failed { reason, sent }
}
