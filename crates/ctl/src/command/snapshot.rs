//! `snapshot save` (etcdctl's `snapshot.Save`): the backend of ONE member streamed into
//! `<file>.part`, its SHA-256 trailer checked, fsynced and renamed into place, with the zap
//! lines etcdctl writes on stderr. `snapshot status|restore` are deprecated in etcdctl 3.5 and
//! handed to `oxutl` (`snapshot_delegate.rs`).

use super::transfer_progress::TransferProgress;
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, connect};
use crate::log::zap_line;
use oxcd_api::etcdserverpb::SnapshotRequest;
use oxcd_client::ClientError;
use oxcd_etcd_compat::gotext::humanize;
use oxcd_etcd_compat::gotext::io_error::go_io_error_text;
use oxcd_etcd_compat::gotext::zap::{Field, Level, TimeFormat};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

/// cobrautl's `ExitInterrupted`, the code of every failed `snapshot save`.
const EXIT_INTERRUPTED: i32 = 5;

/// Length of the digest the server appends to the database.
const DIGEST_LEN: usize = 32;

/// etcdctl's `hasChecksum`: a database is a whole number of 512-byte sectors, so a file of
/// that size plus 32 bytes carries a digest.
pub fn has_checksum(size: u64) -> bool {
    size % 512 == DIGEST_LEN as u64
}

/// `etcdctl snapshot save <filename>`.
pub async fn save(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(EXIT_BAD_ARGS, "snapshot save expects one argument").into());
    }
    let (config, _) = ctx.client_config(true)?;
    let path = ctx.args[0].clone();
    // Without `--command-timeout` the download may take as long as it takes, as in etcdctl.
    let timeout = ctx
        .flags
        .changed("command-timeout")
        .then(|| ctx.command_timeout());
    if config.endpoints.len() != 1 {
        return Err(CtlError::new(
            EXIT_INTERRUPTED,
            format!(
                "snapshot must be requested to one selected node, not multiple [{}]",
                config.endpoints.join(" ")
            ),
        )
        .into());
    }
    let endpoint = config.endpoints[0].clone();
    crate::log::client_warnings::silence();
    let client = connect(&config.endpoints, &config.options)
        .await
        .map_err(|e| CtlError::new(EXIT_INTERRUPTED, e.message))?;
    let saved = download(&client, &endpoint, &path, timeout, &mut ctx.out).await;
    saved.map_err(|message| CtlError::new(EXIT_INTERRUPTED, message))?;
    ctx.out.line(&format!("Snapshot saved at {path}"));
    Ok(())
}

/// Streams the snapshot into `<path>.part` and renames it to `path`; the part file is removed
/// whatever happens, as etcdctl does.
async fn download(
    client: &oxcd_client::Client,
    endpoint: &str,
    path: &str,
    timeout: Option<std::time::Duration>,
    out: &mut crate::out::Out,
) -> Result<(), String> {
    let part = format!("{path}.part");
    let result = download_part(client, endpoint, path, &part, timeout, out).await;
    let _ = std::fs::remove_file(&part);
    result
}

async fn download_part(
    client: &oxcd_client::Client,
    endpoint: &str,
    path: &str,
    part: &str,
    timeout: Option<std::time::Duration>,
    out: &mut crate::out::Out,
) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(part)
        .map_err(|e| {
            format!(
                "could not open {part} (open {part}: {})",
                go_io_error_text(&e)
            )
        })?;
    log(
        out,
        None,
        "snapshot/v3_snapshot.go:68",
        "created temporary db file",
        vec![Field::str("path", part)],
    );
    let started = Instant::now();
    let mut request = tonic::Request::new(SnapshotRequest {});
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let mut stream = match client.maintenance().snapshot(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let error = ClientError::from(status);
            log_level(
                out,
                Level::Error,
                Some("client"),
                "v3/retry_interceptor.go:135",
                "streamer failed to create ClientStream",
                vec![Field::error(&error)],
            );
            return Err(error.to_string());
        }
    };
    log(
        out,
        Some("client"),
        "v3/maintenance.go:211",
        "opened snapshot stream; downloading",
        vec![],
    );
    log(
        out,
        None,
        "snapshot/v3_snapshot.go:76",
        "fetching snapshot",
        vec![Field::str("endpoint", endpoint)],
    );
    let mut progress = TransferProgress::on_terminal();
    let mut received = Received::default();
    loop {
        match stream.message().await {
            Ok(Some(message)) => {
                received.add(&message.blob);
                file.write_all(&message.blob)
                    .map_err(|e| write_error(part, &e))?;
                progress.update(received.size);
            }
            Ok(None) => break,
            Err(status) => {
                progress.finish();
                let error = ClientError::from(status);
                log_level(
                    out,
                    Level::Warn,
                    Some("client"),
                    "v3/maintenance.go:221",
                    "failed to receive from snapshot stream; closing",
                    vec![Field::error(&error)],
                );
                return Err(error.to_string());
            }
        }
    }
    progress.finish();
    log(
        out,
        Some("client"),
        "v3/maintenance.go:219",
        "completed snapshot read; closing",
        vec![],
    );
    if !has_checksum(received.size) {
        return Err(format!(
            "sha256 checksum not found [bytes: {}]",
            received.size
        ));
    }
    let size = received.size;
    received.verify()?;
    file.sync_all().map_err(|e| write_error(part, &e))?;
    drop(file);
    log(
        out,
        None,
        "snapshot/v3_snapshot.go:91",
        "fetched snapshot",
        vec![
            Field::str("endpoint", endpoint),
            Field::str("size", humanize::bytes(size)),
            Field::str("took", humanize::time_ago(started.elapsed())),
        ],
    );
    std::fs::rename(part, path).map_err(|e| {
        format!(
            "could not rename {part} to {path} (rename {part} {path}: {})",
            go_io_error_text(&e)
        )
    })?;
    sync_parent(path);
    log(
        out,
        None,
        "snapshot/v3_snapshot.go:100",
        "saved",
        vec![Field::str("path", path)],
    );
    Ok(())
}

/// What has arrived so far: its size, the digest of everything but the last 32 bytes, and
/// those last bytes (the trailer, once the stream ends).
#[derive(Default)]
struct Received {
    size: u64,
    digest: Sha256,
    tail: Vec<u8>,
}

impl Received {
    fn add(&mut self, blob: &[u8]) {
        self.size += blob.len() as u64;
        self.tail.extend_from_slice(blob);
        if self.tail.len() > DIGEST_LEN {
            let hashed = self.tail.len() - DIGEST_LEN;
            self.digest.update(&self.tail[..hashed]);
            self.tail.drain(..hashed);
        }
    }

    /// Checks the trailer against the digest of the data before it.
    fn verify(self) -> Result<(), String> {
        let computed = self.digest.finalize();
        if computed.as_slice() == self.tail.as_slice() {
            Ok(())
        } else {
            Err(format!(
                "snapshot sha256 mismatch: trailer {} != computed {}",
                hex(&self.tail),
                hex(&computed)
            ))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_error(part: &str, error: &std::io::Error) -> String {
    format!("write {part}: {}", go_io_error_text(error))
}

/// Makes the rename durable; a directory that cannot be opened (unusual permissions) leaves
/// the rename to the file system's own ordering, as etcdctl does not sync it at all.
fn sync_parent(path: &str) {
    let parent = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

fn log(out: &mut crate::out::Out, logger: Option<&str>, caller: &str, msg: &str, f: Vec<Field>) {
    log_level(out, Level::Info, logger, caller, msg, f);
}

/// One line of etcdctl's production zap logger (`zap.NewProduction`) on stderr.
fn log_level(
    out: &mut crate::out::Out,
    level: Level,
    logger: Option<&str>,
    caller: &str,
    msg: &str,
    fields: Vec<Field>,
) {
    out.err_line(&zap_line(
        level,
        TimeFormat::Epoch,
        logger,
        caller,
        msg,
        fields,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sizes_are_sectors_plus_a_digest() {
        assert!(has_checksum(512 + 32));
        assert!(has_checksum(32));
        assert!(!has_checksum(512));
        assert!(!has_checksum(544 + 1));
    }

    #[test]
    fn trailer_is_checked_across_chunk_boundaries() {
        let data = vec![7u8; 1000];
        let digest = Sha256::digest(&data);
        let mut whole = data.clone();
        whole.extend_from_slice(&digest);
        let mut received = Received::default();
        for chunk in whole.chunks(300) {
            received.add(chunk);
        }
        assert_eq!(received.size, 1032);
        assert!(received.verify().is_ok());

        let mut bad = Received::default();
        whole[3] ^= 1;
        bad.add(&whole);
        assert!(bad.verify().unwrap_err().contains("mismatch"));
    }
}
