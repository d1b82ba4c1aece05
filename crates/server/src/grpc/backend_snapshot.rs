//! `Maintenance.Snapshot`: a consistent copy of the backend streamed to the client in 32 KiB
//! chunks, each saying how many bytes remain, followed by the SHA-256 of everything sent — the
//! framing `etcdctl snapshot save` expects and `oxutl`/`etcdutl snapshot restore` verify.
//!
//! The copy (`ServerState::backend_copy`) is read from one read transaction into a temporary
//! file beside the backend, so writers go on while it is made and while a slow client
//! downloads it; the file is removed when the stream ends, however it ends.

use std::io::Read;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::SnapshotResponse;

use crate::server::EtcdServer;

/// Bytes per response message (etcd sends 32 KiB blobs).
const CHUNK: usize = 32 * 1024;

/// The chunks of a fresh backend copy, then its digest. The copy is taken before this returns,
/// so the snapshot describes the state at the time of the call.
pub(super) async fn stream(
    server: &Arc<EtcdServer>,
) -> Result<ReceiverStream<Result<SnapshotResponse, Status>>, Status> {
    let started = std::time::Instant::now();
    let state = server.clone();
    let copy = tokio::task::spawn_blocking(move || state.state().backend_copy())
        .await
        .map_err(|_| Status::from(EtcdError::Stopped))?
        .map_err(|e| Status::internal(format!("snapshot: {}", e.0)))?;

    let (tx, rx) = mpsc::channel(4);
    let server = server.clone();
    tokio::task::spawn_blocking(move || {
        if send_file(copy, &tx) {
            // etcd times a backend snapshot from its copy to the end of its transfer.
            server
                .metrics()
                .store()
                .record_backend_snapshot(started.elapsed());
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// Sends `copy` chunk by chunk, then its digest; stops early (removing the file) if the client
/// goes away or the file cannot be read. Tells whether all of it was sent.
fn send_file(
    copy: tempfile::NamedTempFile,
    tx: &mpsc::Sender<Result<SnapshotResponse, Status>>,
) -> bool {
    let started = std::time::Instant::now();
    let result = (|| -> Result<u64, Status> {
        let mut file = copy
            .reopen()
            .map_err(|e| internal("opening the snapshot file", e))?;
        let total = file
            .metadata()
            .map_err(|e| internal("reading the snapshot file", e))?
            .len();
        tracing::info!(total_bytes = total, "sending database snapshot to client");
        let mut digest = Sha256::new();
        let mut sent = 0u64;
        while sent < total {
            let mut blob = vec![0u8; CHUNK.min((total - sent) as usize)];
            file.read_exact(&mut blob)
                .map_err(|e| internal("reading the snapshot file", e))?;
            digest.update(&blob);
            sent += blob.len() as u64;
            let chunk = SnapshotResponse {
                remaining_bytes: total - sent,
                blob,
                ..Default::default()
            };
            if tx.blocking_send(Ok(chunk)).is_err() {
                return Err(Status::cancelled("client went away"));
            }
        }
        let trailer = SnapshotResponse {
            remaining_bytes: 0,
            blob: digest.finalize().to_vec(),
            ..Default::default()
        };
        if tx.blocking_send(Ok(trailer)).is_err() {
            return Err(Status::cancelled("client went away"));
        }
        Ok(total)
    })();
    let sent = result.is_ok();
    match result {
        Ok(total) => tracing::info!(
            total_bytes = total,
            took = ?started.elapsed(),
            "successfully sent database snapshot to client"
        ),
        Err(status) if status.code() == tonic::Code::Cancelled => {
            tracing::warn!("snapshot stream ended before it was sent: the client went away")
        }
        Err(status) => {
            tracing::warn!(error = %status.message(), "failed to send database snapshot");
            let _ = tx.blocking_send(Err(status));
        }
    }
    drop(copy);
    sent
}

fn internal(what: &str, e: impl std::fmt::Display) -> Status {
    Status::internal(format!("snapshot: {what}: {e}"))
}
