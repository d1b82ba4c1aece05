//! The receiving side of the peer transport: the `RaftPeer` gRPC service on the peer
//! listeners. It rejects streams from other clusters, decodes raft messages and hands them to
//! the ready loop, and stores incoming snapshot databases before raft sees their MsgSnapshot.
//! An `https://` peer listener serves the same service over TLS (`oxcd_tls::Incoming`: peers
//! must present a certificate chaining to `--peer-trusted-ca-file` when one is configured, and
//! naming the address they connect from).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use oxcd_tls::{Incoming, ListenerMode, ServerStream};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::MetadataMap;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};

use super::context::{
    CLUSTER_ID_HEADER, CLUSTER_MISMATCH, CONNECTION_WINDOW, FROM_HEADER, MEMBER_REMOVED,
    PeerContext, STREAM_WINDOW, TO_HEADER,
};
use super::proto::raft_peer_server::{RaftPeer, RaftPeerServer};
use super::proto::{
    MembersRequest, MembersResponse, MessageBatch, PeerMember, SnapshotChunk, SnapshotReceived,
    StreamClosed,
};
use crate::config::PeerListener;
use crate::error::{IoContext, RaftError};
use crate::node::event::Inbox;

/// The service instance shared by all connections.
#[derive(Clone)]
pub(crate) struct PeerService {
    ctx: Arc<PeerContext>,
    inbox: mpsc::Sender<Inbox>,
}

fn header_u64(meta: &MetadataMap, key: &str) -> Option<u64> {
    let value = meta.get(key)?.to_str().ok()?;
    u64::from_str_radix(value, 16).ok()
}

impl PeerService {
    fn check_cluster(&self, remote_cluster: u64, from: u64) -> Result<(), Status> {
        if remote_cluster != self.ctx.cluster_id {
            tracing::warn!(
                local_member_id = %format!("{:x}", self.ctx.id),
                local_member_cluster_id = %format!("{:x}", self.ctx.cluster_id),
                remote_peer_id = %format!("{from:x}"),
                remote_peer_cluster_id = %format!("{remote_cluster:x}"),
                "request cluster ID mismatch"
            );
            return Err(Status::failed_precondition(CLUSTER_MISMATCH));
        }
        if self.ctx.peers.is_removed(from) {
            tracing::warn!(
                local_member_id = %format!("{:x}", self.ctx.id),
                remote_peer_id = %format!("{from:x}"),
                "rejected stream from remote peer because it was removed"
            );
            return Err(Status::permission_denied(MEMBER_REMOVED));
        }
        Ok(())
    }

    fn check_recipient(&self, to: u64) -> Result<(), Status> {
        if to != self.ctx.id {
            return Err(Status::failed_precondition(format!(
                "member ID mismatch: message for {to:x} reached {:x}",
                self.ctx.id
            )));
        }
        Ok(())
    }

    fn check_headers(&self, meta: &MetadataMap) -> Result<(), Status> {
        let from = header_u64(meta, FROM_HEADER).unwrap_or(0);
        let cluster = header_u64(meta, CLUSTER_ID_HEADER)
            .ok_or_else(|| Status::invalid_argument("missing cluster ID"))?;
        self.check_cluster(cluster, from)?;
        let to = header_u64(meta, TO_HEADER)
            .ok_or_else(|| Status::invalid_argument("missing recipient ID"))?;
        self.check_recipient(to)
    }

    fn check_envelope(&self, cluster: u64, from: u64, to: u64) -> Result<(), Status> {
        self.check_cluster(cluster, from)?;
        self.check_recipient(to)
    }
}

fn decode(bytes: &[u8]) -> Result<Message, Status> {
    Message::parse_from_bytes(bytes)
        .map_err(|e| Status::invalid_argument(format!("malformed raft message: {e}")))
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn stream(
        &self,
        request: Request<Streaming<MessageBatch>>,
    ) -> Result<Response<StreamClosed>, Status> {
        self.check_headers(request.metadata())?;
        let from = header_u64(request.metadata(), FROM_HEADER).unwrap_or(0);
        let traffic = self.ctx.metrics.peer(from);
        let mut stream = request.into_inner();
        loop {
            let batch = match stream.message().await {
                Ok(Some(batch)) => batch,
                Ok(None) => break,
                Err(e) => {
                    traffic.received_failed();
                    return Err(e);
                }
            };
            self.check_envelope(batch.cluster_id, batch.from, batch.to)?;
            traffic.add_received(batch.messages.iter().map(|m| m.len()).sum());
            let msgs = batch
                .messages
                .iter()
                .map(|b| decode(b))
                .collect::<Result<Vec<_>, _>>()?;
            if msgs.iter().any(|m| m.to != self.ctx.id) {
                return Err(Status::invalid_argument(
                    "raft message addressed to another member",
                ));
            }
            if self.inbox.send(msgs).await.is_err() {
                return Err(Status::unavailable("raft node stopped"));
            }
        }
        Ok(Response::new(StreamClosed {}))
    }

    async fn members(
        &self,
        _request: Request<MembersRequest>,
    ) -> Result<Response<MembersResponse>, Status> {
        let members = self
            .ctx
            .peers
            .all()
            .into_iter()
            .map(|(id, peer_urls)| PeerMember { id, peer_urls })
            .collect();
        Ok(Response::new(MembersResponse {
            cluster_id: self.ctx.cluster_id,
            members,
        }))
    }

    async fn snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<SnapshotReceived>, Status> {
        self.check_headers(request.metadata())?;
        let mut stream = request.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        self.check_envelope(first.cluster_id, first.from, first.to)?;
        let traffic = self.ctx.metrics.peer(first.from);
        traffic.snapshot_receive_started();
        let started = std::time::Instant::now();
        let received = self.receive_snapshot(first, stream).await;
        traffic.snapshot_receive_finished(received.is_ok().then(|| started.elapsed()));
        received
    }
}

impl PeerService {
    /// Stores the database of a snapshot whose first chunk is `first`, then hands its
    /// message to raft.
    async fn receive_snapshot(
        &self,
        first: SnapshotChunk,
        mut stream: Streaming<SnapshotChunk>,
    ) -> Result<Response<SnapshotReceived>, Status> {
        let msg = decode(&first.message)?;
        if msg.get_msg_type() != MessageType::MsgSnapshot || msg.to != self.ctx.id {
            return Err(Status::invalid_argument(
                "first snapshot chunk must carry a MsgSnapshot",
            ));
        }
        let index = msg.get_snapshot().get_metadata().index;
        let snaps = &self.ctx.snaps;
        let partial = snaps.partial_db_path(index, TRANSFERS.fetch_add(1, Ordering::Relaxed));
        let internal = |e: RaftError| Status::internal(e.to_string());
        let mut file = tokio::fs::File::create(&partial)
            .await
            .ctx(|| format!("create {}", partial.display()))
            .map_err(internal)?;
        let receiving = std::time::Instant::now();
        let mut size = 0u64;
        let mut digest = Sha256::new();
        let received: Result<(), Status> = async {
            let mut chunk = first;
            loop {
                if !chunk.sha256.is_empty() {
                    break verify(&chunk, size, digest);
                }
                size += chunk.data.len() as u64;
                digest.update(&chunk.data);
                file.write_all(&chunk.data)
                    .await
                    .ctx(|| format!("write {}", partial.display()))
                    .map_err(internal)?;
                chunk = stream.message().await?.ok_or_else(|| {
                    Status::data_loss(format!(
                        "snapshot {index} ended after {size} bytes without its size and checksum"
                    ))
                })?;
            }?;
            let syncing = std::time::Instant::now();
            file.sync_all()
                .await
                .ctx(|| format!("sync {}", partial.display()))
                .map_err(internal)?;
            self.ctx.metrics.snap_db_fsync().observe(syncing.elapsed());
            Ok(())
        }
        .await;
        drop(file);
        if let Err(status) = received {
            tracing::warn!(
                remote_peer_id = %format!("{:x}", msg.from),
                index,
                error = %status.message(),
                "discarded a snapshot transfer"
            );
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(status);
        }
        let dest = snaps.received_db_path(index);
        // Linked, never renamed over: a database another transfer of the same snapshot put
        // there (verified the same way) may be in the apply loop's hands already.
        let linked = match tokio::fs::hard_link(&partial, &dest).await {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        };
        let _ = tokio::fs::remove_file(&partial).await;
        linked
            .ctx(|| format!("link {} to {}", partial.display(), dest.display()))
            .map_err(internal)?;
        crate::fsutil::sync_dir(snaps.dir()).map_err(internal)?;
        self.ctx.metrics.snap_db_save().observe(receiving.elapsed());
        tracing::info!(
            remote_peer_id = %format!("{:x}", msg.from),
            index,
            size,
            "received and saved database snapshot"
        );
        if self.inbox.send(vec![msg]).await.is_err() {
            return Err(Status::unavailable("raft node stopped"));
        }
        Ok(Response::new(SnapshotReceived {}))
    }
}

/// Numbers the snapshot transfers this process receives, so each has its own partial file.
static TRANSFERS: AtomicU64 = AtomicU64::new(0);

/// Checks a transfer's trailer against what arrived.
fn verify(trailer: &SnapshotChunk, size: u64, digest: Sha256) -> Result<(), Status> {
    if trailer.total_size != size {
        return Err(Status::data_loss(format!(
            "snapshot transfer carried {size} bytes, its sender sent {}",
            trailer.total_size
        )));
    }
    if digest.finalize().as_slice() != trailer.sha256.as_ref() {
        return Err(Status::data_loss(
            "snapshot transfer does not match its SHA-256",
        ));
    }
    Ok(())
}

/// A TLS peer connection as tonic serves it.
struct TlsPeerConnection(ServerStream);

impl Connected for TlsPeerConnection {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsPeerConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsPeerConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// The handshaken connections of a TLS peer listener, as the stream tonic serves.
fn tls_connections(
    incoming: Incoming,
) -> impl futures::Stream<Item = std::io::Result<TlsPeerConnection>> {
    futures::stream::unfold(incoming, |mut incoming| async move {
        let accepted = incoming.next().await?;
        Some((Ok(TlsPeerConnection(accepted.stream)), incoming))
    })
}

/// Serves the peer service on every listener; returns the server tasks.
pub(crate) fn serve(
    listeners: Vec<PeerListener>,
    ctx: Arc<PeerContext>,
    inbox: mpsc::Sender<Inbox>,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<JoinHandle<()>>, RaftError> {
    let service = PeerService { ctx, inbox };
    let _entered = runtime.enter();
    let mut tasks = Vec::new();
    for PeerListener {
        socket: listener,
        tls,
        check_san,
    } in listeners
    {
        let addr = listener
            .local_addr()
            .ctx(|| "peer listener address".to_string())?;
        listener
            .set_nonblocking(true)
            .ctx(|| format!("configure peer listener {addr}"))?;
        let svc = RaftPeerServer::new(service.clone())
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let router = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .add_service(svc);
        let served = match tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .ctx(|| format!("register peer listener {addr}"))?;
                let incoming = TcpListenerStream::new(listener);
                futures::future::Either::Left(router.serve_with_incoming(incoming))
            }
            Some(tls) => {
                let mode = ListenerMode {
                    tls: Some(tls),
                    plain: false,
                    check_san,
                };
                let incoming = Incoming::start(listener, mode)
                    .ctx(|| format!("register peer listener {addr}"))?;
                futures::future::Either::Right(
                    router.serve_with_incoming(tls_connections(incoming)),
                )
            }
        };
        tasks.push(runtime.spawn(async move {
            let served = served.await;
            if let Err(e) = served {
                tracing::error!(address = %addr, error = %e, "peer server failed");
            }
        }));
    }
    Ok(tasks)
}
