//! The peer transport: raft messages between members over our own gRPC service.
//!
//! Outgoing, every peer has a bounded queue drained by its own task into one long-lived
//! client stream, in batches; the ready loop only ever `try_send`s, so a slow or dead peer
//! costs it nothing (a full queue drops the message and raft is told the peer is
//! unreachable). Snapshots go over a separate RPC, streamed from the state-machine copy.
//! Incoming, the server checks the cluster ID of every stream and batch, decodes messages
//! off the ready loop and forwards them to it.

mod activity;
mod context;
mod dial;
mod members;
mod peer_queue;
mod peer_stream;
mod prober;
pub(crate) mod proto;
mod server;
mod snapshot;

use std::collections::HashMap;
use std::sync::Arc;

use raft::prelude::{Message, MessageType};
use tokio::task::JoinHandle;

pub(crate) use activity::PeerActivity;
pub(crate) use context::PeerContext;
pub use members::{RemoteCluster, fetch_cluster};
pub(crate) use server::serve;

/// Messages queued per peer before new ones are dropped.
const PEER_QUEUE: usize = 4096;
/// Bytes queued per peer before new messages are dropped (a slow follower's appends).
const PEER_QUEUE_BYTES: usize = 64 * 1024 * 1024;

struct PeerSender {
    queue: peer_queue::PeerQueueSender,
    task: JoinHandle<()>,
    prober: JoinHandle<()>,
}

impl PeerSender {
    fn abort(&self) {
        self.task.abort();
        self.prober.abort();
    }
}

/// The outgoing side, owned by the ready loop.
pub(crate) struct Transport {
    ctx: Arc<PeerContext>,
    runtime: tokio::runtime::Handle,
    senders: HashMap<u64, PeerSender>,
    snapshot_tasks: Vec<JoinHandle<()>>,
}

impl Transport {
    pub(crate) fn new(ctx: Arc<PeerContext>, runtime: tokio::runtime::Handle) -> Self {
        Transport {
            ctx,
            runtime,
            senders: HashMap::new(),
            snapshot_tasks: Vec::new(),
        }
    }

    /// Queues `msgs` without blocking; calls `unreachable` for peers whose queue is full.
    pub(crate) fn send(&mut self, msgs: Vec<Message>, mut unreachable: impl FnMut(u64)) {
        for msg in msgs {
            let to = msg.to;
            if msg.get_msg_type() == MessageType::MsgSnapshot {
                self.snapshot_tasks.retain(|t| !t.is_finished());
                let task = snapshot::spawn_send(self.ctx.clone(), msg, &self.runtime);
                self.snapshot_tasks.push(task);
                continue;
            }
            let heartbeat = msg.get_msg_type() == MessageType::MsgHeartbeat;
            if !self.sender(to).queue.try_send(msg) {
                if heartbeat {
                    self.ctx.metrics.record_heartbeat_send_failure();
                }
                unreachable(to);
            }
        }
    }

    /// The sender to `to`, started if there is none.
    fn sender(&mut self, to: u64) -> &mut PeerSender {
        self.senders.entry(to).or_insert_with(|| {
            let (queue, rx) = peer_queue::peer_queue(PEER_QUEUE, PEER_QUEUE_BYTES);
            let task = self
                .runtime
                .spawn(peer_stream::run(self.ctx.clone(), to, rx));
            let prober = self.runtime.spawn(prober::run(self.ctx.clone(), to));
            PeerSender {
                queue,
                task,
                prober,
            }
        })
    }

    /// Follows the configuration: a stream to every other member, even one raft has nothing
    /// to send to (followers do not talk to each other), so that every member knows which
    /// peers it can reach, as etcd's transport does; and no stream to former members.
    pub(crate) fn retain_members(&mut self, members: &[u64]) {
        self.senders.retain(|id, sender| {
            let keep = members.contains(id);
            if !keep {
                sender.abort();
                self.ctx.activity.inactive(*id);
            }
            keep
        });
        for id in members {
            if *id != self.ctx.id {
                self.sender(*id);
            }
        }
    }

    /// Stops every peer task.
    pub(crate) fn shutdown(&mut self) {
        for (_, sender) in self.senders.drain() {
            sender.abort();
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
#[cfg(test)]
mod tls_tests;
