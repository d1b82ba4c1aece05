//! Arms oxcd's named crash points on a running member, through the control routes a build
//! with crash points serves on its client port (`PUT /debug/failpoints/{name}`).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The crash points a robustness run draws from, in etcd's names where etcd has the same
/// point: all but the compaction ones, since a compaction would erase the history the run's
/// watch check reads back ([`COMPACTION`] has a test of its own).
pub const WORKLOAD: [&str; 11] = [
    // The ready loop's WAL write: before the entries and hard state reach the file, after
    // they are durable, and after segments a snapshot covers were released.
    "raftBeforeSave",
    "raftAfterSave",
    "raftAfterWALRelease",
    // Sending raft messages, as leader and as follower.
    "raftBeforeLeaderSend",
    "raftBeforeFollowerSend",
    // Saving a snapshot's metadata, and installing one received from the leader.
    "raftBeforeSaveSnap",
    "raftAfterSaveSnap",
    "raftBeforeApplySnap",
    "raftAfterApplySnap",
    // The apply loop's backend transaction.
    "beforeCommit",
    "afterCommit",
];

/// A compaction step's backend transaction, before and after its commit.
pub const COMPACTION: [&str; 2] = ["compactBeforeCommitBatch", "compactAfterCommitBatch"];

/// Arms crash point `name` of the member serving `client_url` (`http://ip:port`) with a
/// `fail` crate action such as `panic` or `return`.
pub async fn arm(client_url: &str, name: &str, action: &str) -> Result<()> {
    let status = request(client_url, "PUT", name, action).await?;
    if status == 404 {
        bail!(
            "{client_url} has no crash points: the oxcd binary was built without them (a plain \
             `cargo build`); build it with `cargo build --workspace --all-targets`"
        );
    }
    if status != 204 {
        bail!("arming crash point {name}={action} at {client_url}: HTTP {status}");
    }
    Ok(())
}

/// Disarms crash point `name`.
pub async fn disarm(client_url: &str, name: &str) -> Result<()> {
    let status = request(client_url, "DELETE", name, "").await?;
    if status != 204 {
        bail!("disarming crash point {name} at {client_url}: HTTP {status}");
    }
    Ok(())
}

/// One HTTP/1.1 request; returns the status code.
async fn request(client_url: &str, method: &str, name: &str, body: &str) -> Result<u16> {
    let address = client_url
        .strip_prefix("http://")
        .with_context(|| format!("{client_url} is not an http:// URL"))?;
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let head = format!(
            "{method} /debug/failpoints/{name} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .with_context(|| format!("{method} crash point {name} at {client_url}: timed out"))?
        .with_context(|| format!("{method} crash point {name} at {client_url}"))?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("unexpected answer from {client_url}: {text}"))
}
