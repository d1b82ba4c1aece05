//! The peer transport: raft messages between members over our own gRPC service.
//!
//! Outgoing, every peer has a bounded queue drained by its own task into one long-lived
//! client stream, in batches; the ready loop only ever `try_send`s, so a slow or dead peer
//! costs it nothing (a full queue drops the message and raft is told the peer is
//! unreachable). Snapshots go over a separate RPC, streamed from the state-machine copy.
//! Incoming, the server checks the cluster ID of every stream and batch, decodes messages
//! off the ready loop and forwards them to it.

mod peer_queue;
mod peer_stream;
pub(crate) mod proto;
mod server;
mod snapshot;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use raft::prelude::{Message, MessageType};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};

use crate::node::event::Control;
use crate::peers::PeerUrls;
use crate::snap::SnapStore;

pub(crate) use server::serve;

/// Metadata key carrying the sender's cluster ID (hex).
pub const CLUSTER_ID_HEADER: &str = "x-oxcd-cluster-id";
/// Metadata key carrying the sender's member ID (hex).
pub const FROM_HEADER: &str = "x-oxcd-from";
/// Metadata key carrying the recipient's member ID (hex).
pub const TO_HEADER: &str = "x-oxcd-to";
/// The status message a receiver answers a foreign cluster with.
pub const CLUSTER_MISMATCH: &str = "cluster ID mismatch";

/// HTTP/2 flow-control windows: large, so a stream of append batches is never throttled by
/// the default 64 KiB window on a low-latency link.
const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// Messages queued per peer before new ones are dropped.
const PEER_QUEUE: usize = 4096;
/// Bytes queued per peer before new messages are dropped (a slow follower's appends).
const PEER_QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// What peer tasks share.
pub(crate) struct PeerContext {
    pub id: u64,
    pub cluster_id: u64,
    pub peers: PeerUrls,
    pub snaps: SnapStore,
    pub feedback: mpsc::UnboundedSender<Control>,
}

impl PeerContext {
    fn report_unreachable(&self, to: u64) {
        let _ = self.feedback.send(Control::Unreachable(to));
    }

    /// Adds our identity and the recipient to a request's metadata.
    fn stamp(&self, meta: &mut MetadataMap, to: u64) {
        for (key, value) in [
            (CLUSTER_ID_HEADER, self.cluster_id),
            (FROM_HEADER, self.id),
            (TO_HEADER, to),
        ] {
            if let Ok(v) = format!("{value:x}").parse() {
                meta.insert(key, v);
            }
        }
    }

    /// Connects to `to` at its first peer URL.
    async fn connect(&self, to: u64) -> Result<Channel, String> {
        let url = self
            .peers
            .get(to)
            .and_then(|urls| urls.into_iter().next())
            .ok_or_else(|| format!("no peer URL known for member {to:x}"))?;
        Endpoint::from_shared(url.clone())
            .map_err(|e| format!("invalid peer URL {url}: {e}"))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .http2_keep_alive_interval(Duration::from_secs(2))
            .keep_alive_timeout(Duration::from_secs(6))
            .keep_alive_while_idle(true)
            .connect()
            .await
            .map_err(|e| format!("connect to {url}: {e}"))
    }
}

struct PeerSender {
    queue: peer_queue::PeerQueueSender,
    task: JoinHandle<()>,
}

/// The outgoing side, owned by the ready loop.
pub(crate) struct Transport {
    ctx: Arc<PeerContext>,
    runtime: tokio::runtime::Handle,
    senders: HashMap<u64, PeerSender>,
    snapshot_tasks: Vec<JoinHandle<()>>,
}

impl Transport {
    pub fn new(ctx: Arc<PeerContext>, runtime: tokio::runtime::Handle) -> Self {
        Transport {
            ctx,
            runtime,
            senders: HashMap::new(),
            snapshot_tasks: Vec::new(),
        }
    }

    /// Queues `msgs` without blocking; calls `unreachable` for peers whose queue is full.
    pub fn send(&mut self, msgs: Vec<Message>, mut unreachable: impl FnMut(u64)) {
        for msg in msgs {
            let to = msg.to;
            if msg.get_msg_type() == MessageType::MsgSnapshot {
                self.snapshot_tasks.retain(|t| !t.is_finished());
                let task = snapshot::spawn_send(self.ctx.clone(), msg, &self.runtime);
                self.snapshot_tasks.push(task);
                continue;
            }
            let sender = self.senders.entry(to).or_insert_with(|| {
                let (queue, rx) = peer_queue::peer_queue(PEER_QUEUE, PEER_QUEUE_BYTES);
                let task = self
                    .runtime
                    .spawn(peer_stream::run(self.ctx.clone(), to, rx));
                PeerSender { queue, task }
            });
            if !sender.queue.try_send(msg) {
                unreachable(to);
            }
        }
    }

    /// Stops the senders of members no longer in the configuration.
    pub fn retain_members(&mut self, members: &[u64]) {
        self.senders.retain(|id, sender| {
            let keep = members.contains(id);
            if !keep {
                sender.task.abort();
            }
            keep
        });
    }

    /// Stops every peer task.
    pub fn shutdown(&mut self) {
        for (_, sender) in self.senders.drain() {
            sender.task.abort();
        }
        for task in self.snapshot_tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests;
