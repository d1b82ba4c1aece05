//! Sending a snapshot to a lagging follower: the MsgSnapshot first, then the state-machine
//! copy in chunks, over the dedicated `Snapshot` RPC, closed by a trailer with the file's size
//! and SHA-256 (a read error on this side ends the stream without it, so the receiver
//! discards what it got); raft learns the outcome afterwards.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use protobuf::Message as _;
use raft::prelude::Message;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use super::context::PeerContext;
use super::proto::SnapshotChunk;
use super::proto::raft_peer_client::RaftPeerClient;
use crate::node::event::Control;

/// Size of one file chunk.
pub(super) const CHUNK_SIZE: usize = 1024 * 1024;

/// Starts sending `msg` (a MsgSnapshot) and its database; reports the outcome to raft.
pub(super) fn spawn_send(
    ctx: Arc<PeerContext>,
    msg: Message,
    runtime: &tokio::runtime::Handle,
) -> JoinHandle<()> {
    runtime.spawn(async move {
        let to = msg.to;
        let index = msg.get_snapshot().get_metadata().index;
        let started = std::time::Instant::now();
        let traffic = ctx.metrics.peer(to);
        traffic.snapshot_send_started();
        let outcome = send(&ctx, msg).await;
        traffic.snapshot_send_finished(outcome.is_ok().then(|| started.elapsed()));
        match &outcome {
            Ok(size) => tracing::info!(
                remote_peer_id = %format!("{to:x}"),
                index,
                size,
                took = ?started.elapsed(),
                "sent database snapshot to the peer"
            ),
            Err(e) => {
                tracing::warn!(
                    remote_peer_id = %format!("{to:x}"),
                    index,
                    error = %e,
                    "failed to send database snapshot to the peer"
                );
                ctx.report_unreachable(to);
            }
        }
        let _ = ctx.feedback.send(Control::SnapshotStatus {
            to,
            ok: outcome.is_ok(),
        });
    })
}

async fn send(ctx: &PeerContext, msg: Message) -> Result<u64, String> {
    let to = msg.to;
    let index = msg.get_snapshot().get_metadata().index;
    let path = ctx.snaps.generated_db_path(index);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| format!("open snapshot {}: {e}", path.display()))?;
    let header = msg
        .write_to_bytes()
        .map_err(|e| format!("encode MsgSnapshot: {e}"))?;
    let channel = ctx.connect(to).await?;
    let mut client = RaftPeerClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let (chunks, rx) = mpsc::channel::<SnapshotChunk>(2);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    ctx.stamp(request.metadata_mut(), to);
    let (cluster_id, from) = (ctx.cluster_id, ctx.id);
    let producer = async move {
        let first = SnapshotChunk {
            cluster_id,
            from,
            to,
            message: Bytes::from(header),
            ..SnapshotChunk::default()
        };
        if chunks.send(first).await.is_err() {
            return Ok::<u64, String>(0);
        }
        let mut total = 0u64;
        let mut digest = Sha256::new();
        loop {
            let mut buf = BytesMut::with_capacity(CHUNK_SIZE);
            while buf.len() < CHUNK_SIZE {
                let n = file
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| format!("read snapshot {}: {e}", path.display()))?;
                if n == 0 {
                    break;
                }
            }
            if buf.is_empty() {
                let trailer = SnapshotChunk {
                    cluster_id,
                    from,
                    to,
                    total_size: total,
                    sha256: Bytes::from(digest.finalize().to_vec()),
                    ..SnapshotChunk::default()
                };
                let _ = chunks.send(trailer).await;
                return Ok(total);
            }
            total += buf.len() as u64;
            digest.update(&buf);
            let chunk = SnapshotChunk {
                cluster_id,
                from,
                to,
                data: buf.freeze(),
                ..SnapshotChunk::default()
            };
            if chunks.send(chunk).await.is_err() {
                return Ok(total);
            }
        }
    };
    let (produced, answer) = tokio::join!(producer, client.snapshot(request));
    let total = produced?;
    answer.map_err(|s| format!("{}: {}", s.code(), s.message()))?;
    Ok(total)
}
