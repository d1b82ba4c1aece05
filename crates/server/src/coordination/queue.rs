//! The queue every lock and election keeps under `NAME/`: joining it (one txn that creates the
//! caller's key or finds it again, so a lease that is already queued re-enters), waiting until
//! every key created before the caller's is gone, and leaving it when a waiting caller goes
//! away.

use std::sync::Arc;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::request_op::Request as Op;
use oxcd_api::etcdserverpb::response_op::Response as OpResponse;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, LeaseGrantRequest, PutRequest, RangeRequest, RangeResponse, RequestOp,
    ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_api::mvccpb::KeyValue;
use oxcd_api::queue::{created_at, head, predecessor};
use oxcd_mvcc::validate;

use crate::auth::Caller;
use crate::server::EtcdServer;

/// TTL of the lease granted for a request that names none (clientv3's default session TTL,
/// which etcd's services inherit).
const SESSION_TTL: i64 = 60;

/// The lease a request's key is bound to: `lease` itself, or — when it is 0 — a new lease of
/// [`SESSION_TTL`] seconds granted for it, as etcd's services do (nobody keeps it alive).
pub(super) async fn session_lease(
    server: &EtcdServer,
    caller: &Caller,
    lease: i64,
) -> Result<i64, EtcdError> {
    if lease != 0 {
        return Ok(lease);
    }
    let granted = server
        .grant_lease(
            caller,
            LeaseGrantRequest {
                ttl: SESSION_TTL,
                id: 0,
            },
        )
        .await?;
    Ok(granted.id)
}

/// A linearizable read, answered with a complete header.
pub(super) async fn read(
    server: &EtcdServer,
    req: &RangeRequest,
) -> Result<RangeResponse, EtcdError> {
    server.read_barrier().await?;
    let mut resp = server.state().kv().range(req)?;
    server.finish_header(&mut resp.header);
    Ok(resp)
}

/// A read of this member's applied state, answered with a complete header: what the queue
/// reads once the caller's key has joined (and so is applied here). It needs no ReadIndex round
/// trip: keys created after the caller's all have higher create revisions, so the keys ahead of
/// it can only disappear, never appear; and any applied state from after the join is committed
/// and came about during the request, so it is a valid moment for the request to take effect.
fn local_read(server: &EtcdServer, req: &RangeRequest) -> Result<RangeResponse, EtcdError> {
    let mut resp = server.state().kv().range(req)?;
    server.finish_header(&mut resp.header);
    Ok(resp)
}

/// Whether the caller's key is still queued as it joined: present, created at `revision` and
/// bound to `lease`, which still exists. Read from this member's applied state (see
/// [`local_read`]); answers the header of that read.
pub(super) fn still_queued(
    server: &EtcdServer,
    key: &[u8],
    revision: i64,
    lease: i64,
) -> Result<(bool, ResponseHeader), EtcdError> {
    let resp = local_read(
        server,
        &RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        },
    )?;
    let queued = resp.kvs.first().is_some_and(|kv| {
        kv.create_revision == revision
            && kv.lease == lease
            && server.state().lessor().contains(lease)
    });
    Ok((queued, resp.header.unwrap_or_default()))
}

/// Replicates `txn` for `caller` (checked as the KV service checks a client's, its
/// permissions when applied) and answers with a complete header.
pub(super) async fn commit(
    server: &EtcdServer,
    caller: &Caller,
    txn: TxnRequest,
) -> Result<TxnResponse, EtcdError> {
    validate::validate_txn(&txn, server.settings().max_txn_ops)?;
    let mut resp = server.propose(caller, txn).await?;
    server.finish_header(&mut resp.header);
    Ok(resp)
}

/// A put of `key` bound to `lease`.
pub(super) fn put(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(Op::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

fn range(req: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(Op::RequestRange(req)),
    }
}

/// The caller's place in a queue.
pub(super) struct Place {
    /// The header of the txn that joined.
    pub(super) header: ResponseHeader,
    /// The create revision of the caller's key.
    pub(super) revision: i64,
    /// The caller's key as it already was, when the txn found it rather than creating it.
    pub(super) found: Option<KeyValue>,
    /// Whether the caller's key heads the queue (nothing to wait for).
    pub(super) first: bool,
}

/// Joins the queue at `prefix` with `key` = `value` bound to `lease` — or finds `key` there
/// already (then it keeps its place and its value) — and learns the queue's head in the same
/// txn. A lease that does not exist fails the put: "requested lease not found".
pub(super) async fn join(
    server: &EtcdServer,
    caller: &Caller,
    prefix: &[u8],
    key: &[u8],
    value: &[u8],
    lease: i64,
) -> Result<Place, EtcdError> {
    let txn = TxnRequest {
        compare: vec![created_at(key, 0)],
        success: vec![put(key, value, lease), range(head(prefix))],
        failure: vec![
            range(RangeRequest {
                key: key.to_vec(),
                ..Default::default()
            }),
            range(head(prefix)),
        ],
    };
    let resp = commit(server, caller, txn).await?;
    let header = resp.header.unwrap_or_default();
    let ranges: Vec<&RangeResponse> = resp
        .responses
        .iter()
        .filter_map(|r| match &r.response {
            Some(OpResponse::ResponseRange(range)) => Some(range),
            _ => None,
        })
        .collect();
    let found = if resp.succeeded {
        None
    } else {
        ranges.first().and_then(|r| r.kvs.first()).cloned()
    };
    let revision = found
        .as_ref()
        .map_or(header.revision, |kv| kv.create_revision);
    let first = ranges
        .last()
        .and_then(|r| r.kvs.first())
        .is_none_or(|head| head.create_revision == revision);
    Ok(Place {
        header,
        revision,
        found,
        first,
    })
}

/// Waits until no key under `prefix` created before `revision` (the caller's key, joined
/// through this member) is left: waits for the newest of them to be deleted, then looks
/// again, in this member's applied state (see [`local_read`]).
pub(super) async fn wait_for_predecessors(
    server: &EtcdServer,
    prefix: &[u8],
    revision: i64,
) -> Result<(), EtcdError> {
    loop {
        let Some(ahead) = newest_ahead(server, prefix, revision)? else {
            return Ok(());
        };
        let wait = server.state().key_deletes().register(&ahead.key);
        // A delete committed between the read and the registration woke nobody: look again
        // with the registration in place.
        let unchanged = newest_ahead(server, prefix, revision)?.is_some_and(|now| {
            now.key == ahead.key && now.create_revision == ahead.create_revision
        });
        if unchanged {
            wait.deleted().await;
        }
    }
}

/// The newest key under `prefix` created before `revision`, in this member's applied state.
fn newest_ahead(
    server: &EtcdServer,
    prefix: &[u8],
    revision: i64,
) -> Result<Option<KeyValue>, EtcdError> {
    let resp = local_read(server, &predecessor(prefix, revision - 1))?;
    Ok(resp.kvs.into_iter().next())
}

/// A queued key to take back out of the queue if its caller goes away while waiting (the
/// request is dropped): etcd's services withdraw a waiter whose client cancelled.
pub(super) struct Claim {
    server: Arc<EtcdServer>,
    key: Vec<u8>,
    /// Withdraw only while the key still has this create revision; `None`: delete it anyway.
    created: Option<i64>,
    armed: bool,
}

impl Claim {
    /// Withdraws `key` on drop, or only while it was created at `created` when given.
    pub(super) fn new(server: Arc<EtcdServer>, key: Vec<u8>, created: Option<i64>) -> Claim {
        Claim {
            server,
            key,
            created,
            armed: true,
        }
    }

    /// Keeps the key: the wait ended.
    pub(super) fn keep(mut self) {
        self.armed = false;
    }

    /// Withdraws the key now and waits until that is done (errors are not the caller's).
    pub(super) async fn withdraw(mut self) {
        self.armed = false;
        let _ = withdraw(&self.server, &self.key, self.created).await;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (server, key, created) = (
            self.server.clone(),
            std::mem::take(&mut self.key),
            self.created,
        );
        runtime.spawn(async move {
            if let Err(e) = withdraw(&server, &key, created).await {
                tracing::warn!(error = %e, key = %String::from_utf8_lossy(&key), "could not withdraw an abandoned lock or campaign key; its lease will");
            }
        });
    }
}

/// Deletes a waiter's own key as the member: its caller was allowed to write it when it
/// joined, and is gone.
async fn withdraw(server: &EtcdServer, key: &[u8], created: Option<i64>) -> Result<(), EtcdError> {
    let member = Caller::member();
    let delete = DeleteRangeRequest {
        key: key.to_vec(),
        ..Default::default()
    };
    match created {
        None => server.propose(&member, delete).await.map(drop),
        Some(revision) => server
            .propose(
                &member,
                TxnRequest {
                    compare: vec![created_at(key, revision)],
                    success: vec![RequestOp {
                        request: Some(Op::RequestDeleteRange(delete)),
                    }],
                    failure: vec![],
                },
            )
            .await
            .map(drop),
    }
}
