//! Checks that members hold the same data: every up member must report the same `HashKV` (a
//! hash over all key-value revisions up to a revision, as etcd computes it) at one revision.

use std::time::Duration;

use anyhow::{Context, Result};
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{HashKvRequest, RangeRequest};

use crate::cluster::Cluster;
use crate::grpc;
use crate::wait::{self, Attempt};

/// The hash every member reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreedHash {
    /// The revision the hash covers.
    pub revision: i64,
    /// `HashKVResponse.hash`.
    pub hash: u32,
    /// `HashKVResponse.compact_revision`.
    pub compact_revision: i64,
}

/// The store revision a linearizable read through member `i` observes.
pub async fn current_revision(cluster: &Cluster, i: usize) -> Result<i64> {
    let mut clients = cluster.client(i).await?;
    let response = clients
        .kv
        .range(RangeRequest {
            key: b"\0".to_vec(),
            count_only: true,
            ..RangeRequest::default()
        })
        .await
        .with_context(|| format!("Range on {}", cluster.member(i).name()))?
        .into_inner();
    response
        .header
        .map(|header| header.revision)
        .context("Range response without a header")
}

/// Waits until every up member has applied `revision` and all report the same `HashKV` for
/// it. Members that are behind answer "future revision" and are retried.
pub async fn hashkv_agree(
    cluster: &Cluster,
    revision: i64,
    timeout: Duration,
) -> Result<AgreedHash> {
    let members: Vec<(String, String)> = cluster
        .up()
        .into_iter()
        .map(|i| (cluster.member(i).name().to_owned(), cluster.endpoint(i)))
        .collect();
    anyhow::ensure!(!members.is_empty(), "no member is up");
    let what = format!("HashKV at revision {revision} to agree on every up member");
    wait::until(&what, timeout, || {
        let members = members.clone();
        async move {
            let mut hashes = Vec::new();
            for (name, endpoint) in &members {
                match hashkv(endpoint, revision).await {
                    Ok(hash) => hashes.push((name.clone(), hash)),
                    Err(HashKvError::Compacted) => {
                        return Attempt::Fail(anyhow::anyhow!(
                            "{name}: revision {revision} is compacted; HashKV cannot cover it"
                        ));
                    }
                    Err(HashKvError::Other(error)) => {
                        return Attempt::Retry(format!("{name}: {error:#}"));
                    }
                }
            }
            let first = hashes[0].1;
            if hashes.iter().all(|(_, hash)| *hash == first) {
                Attempt::Done(first)
            } else {
                Attempt::Retry(format!("members differ: {hashes:?}"))
            }
        }
    })
    .await
}

/// Why one member's `HashKV` failed.
enum HashKvError {
    /// The revision is compacted there: asking again cannot help.
    Compacted,
    /// Unreachable, behind (future revision), or anything else worth retrying.
    Other(anyhow::Error),
}

async fn hashkv(endpoint: &str, revision: i64) -> Result<AgreedHash, HashKvError> {
    let mut clients = grpc::connect_with_timeout(endpoint, Duration::from_secs(10))
        .await
        .map_err(HashKvError::Other)?;
    let response = clients
        .maintenance
        .hash_kv(HashKvRequest { revision })
        .await
        .map_err(|status| {
            if status.message() == EtcdError::Compacted.message() {
                HashKvError::Compacted
            } else {
                HashKvError::Other(anyhow::Error::new(status).context("HashKV"))
            }
        })?
        .into_inner();
    Ok(AgreedHash {
        revision,
        hash: response.hash,
        compact_revision: response.compact_revision,
    })
}
