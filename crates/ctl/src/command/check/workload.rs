//! What `check perf` and `check datascale` share: the load names, one client per simulated
//! user, the random keys, the pool of clients putting what a generator feeds them, and the
//! cleanup afterwards (delete the prefix, then `--auto-compact` and `--auto-defrag`).

use super::report::{Report, Stats};
use crate::cli::exit::{CtlError, EXIT_BAD_FEATURE, EXIT_INVALID_INPUT, Stop};
use crate::cli::global::{ClientConfig, call_error, connect};
use crate::out::Out;
use oxcd_api::etcdserverpb::{
    CompactionRequest, DefragmentRequest, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    RangeRequest,
};
use oxcd_api::key_range::prefix_end;
use oxcd_client::{Client, ClientError};
use oxcd_etcd_compat::gotext::quote::quote;
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// Bound etcdctl puts on the cleanup, compaction and each defragmentation.
pub const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(30);

/// The model a `--load` name stands for (`s`/`small`, `m`/`medium`, `l`/`large`,
/// `xl`/`xLarge`), or etcdctl's error.
pub fn model(load: &str) -> Result<&'static str, CtlError> {
    match load {
        "s" | "small" => Ok("s"),
        "m" | "medium" => Ok("m"),
        "l" | "large" => Ok("l"),
        "xl" | "xLarge" => Ok("xl"),
        other => Err(CtlError::new(
            EXIT_BAD_FEATURE,
            format!("unknown load option {other}"),
        )),
    }
}

/// `count` clients on the configured endpoints, each with its own connections.
pub async fn clients(config: &ClientConfig, count: usize) -> Result<Vec<Client>, Stop> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(connect(&config.endpoints, &config.options).await?);
    }
    Ok(clients)
}

/// Fails as etcdctl does when the prefix already holds keys (`hint` is the rest of its
/// message, which differs between the two checks).
pub async fn require_empty_prefix(client: &Client, prefix: &str, hint: &str) -> Result<(), Stop> {
    let request = RangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_end(prefix.as_bytes()),
        limit: 1,
        ..Default::default()
    };
    let response = client
        .kv()
        .range(request)
        .await
        .map_err(call_error)?
        .into_inner();
    if !response.kvs.is_empty() {
        return Err(CtlError::new(
            EXIT_INVALID_INPUT,
            format!("prefix {} has keys. {hint}", quote(prefix.as_bytes())),
        )
        .into());
    }
    Ok(())
}

/// `prefix` followed by a `size`-byte buffer that starts with the varint of a random
/// non-negative 63-bit number (Go's `binary.PutVarint(k, rand.Int63n(math.MaxInt64))`).
pub fn random_key(prefix: &str, size: usize) -> Vec<u8> {
    let n: i64 = rand::rng().random_range(0..i64::MAX);
    let mut zigzag = ((n << 1) ^ (n >> 63)) as u64;
    let mut buffer = vec![0u8; size];
    let mut i = 0;
    while zigzag >= 0x80 {
        buffer[i] = (zigzag as u8) | 0x80;
        zigzag >>= 7;
        i += 1;
    }
    buffer[i] = zigzag as u8;
    let mut key = prefix.as_bytes().to_vec();
    key.extend_from_slice(&buffer);
    key
}

/// Runs one worker per client; each takes the next put from `requests` until it is closed,
/// and counts it in `done`. Returns the statistics of every put.
pub async fn put_all(
    clients: &[Client],
    requests: mpsc::Receiver<PutRequest>,
    done: Arc<AtomicI64>,
) -> Stats {
    let report = Report::start();
    let requests = Arc::new(Mutex::new(requests));
    let workers: Vec<_> = clients
        .iter()
        .map(|client| {
            let kv = client.kv();
            let requests = requests.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                loop {
                    let next = requests.lock().await.recv().await;
                    let Some(put) = next else { break };
                    let started = Instant::now();
                    let result = kv.clone().put(put).await;
                    results.push(
                        result
                            .map(|_| started.elapsed())
                            .map_err(|status| ClientError::from(status).to_string()),
                    );
                    done.fetch_add(1, Ordering::Relaxed);
                }
                results
            })
        })
        .collect();
    let mut report = report;
    for worker in workers {
        // A worker only ends by returning its results; a panic there is a bug worth seeing.
        let results = worker.await.unwrap_or_default();
        for result in results {
            report.record(result);
        }
    }
    report.finish()
}

/// Deletes every key under `prefix` (within etcdctl's 30 s for `check perf`, unbounded for
/// `check datascale`).
pub async fn delete_prefix(
    client: &Client,
    prefix: &str,
    timeout: Option<Duration>,
) -> Result<DeleteRangeResponse, ClientError> {
    let mut request = tonic::Request::new(DeleteRangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_end(prefix.as_bytes()),
        ..Default::default()
    });
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    Ok(client.kv().delete_range(request).await?.into_inner())
}

/// etcdctl's `compact`: a physical compaction at `revision`, announced before and after.
pub async fn compact(client: &Client, revision: i64, out: &mut Out) -> Result<(), Stop> {
    out.line(&format!("Compacting with revision {revision}"));
    out.flush();
    let mut request = tonic::Request::new(CompactionRequest {
        revision,
        physical: true,
    });
    request.set_timeout(MAINTENANCE_TIMEOUT);
    client.kv().compact(request).await.map_err(call_error)?;
    out.line(&format!("Compacted with revision {revision}"));
    Ok(())
}

/// etcdctl's `defrag` of every endpoint the client was given, announced before and after.
pub async fn defrag_all(client: &Client, endpoints: &[String], out: &mut Out) -> Result<(), Stop> {
    for endpoint in endpoints {
        let shown = quote(endpoint.as_bytes());
        out.line(&format!("Defragmenting {shown}"));
        out.flush();
        let one = client
            .for_endpoint(endpoint)
            .await
            .map_err(|e| CtlError::error(e.to_string()))?;
        let mut request = tonic::Request::new(DefragmentRequest {});
        request.set_timeout(MAINTENANCE_TIMEOUT);
        one.maintenance()
            .defragment(request)
            .await
            .map_err(call_error)?;
        out.line(&format!("Defragmented {shown}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_aliases() {
        assert_eq!(model("small").unwrap(), "s");
        assert_eq!(model("xLarge").unwrap(), "xl");
        let error = model("xxl").unwrap_err();
        assert_eq!(error.message, "unknown load option xxl");
        assert_eq!(error.code, EXIT_BAD_FEATURE);
    }

    #[test]
    fn keys_are_prefix_and_fixed_size() {
        let key = random_key("/p/", 256);
        assert_eq!(key.len(), 3 + 256);
        assert!(key.starts_with(b"/p/"));
    }
}
