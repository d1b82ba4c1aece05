//! [`Mutex`]: clientv3's distributed lock — the same keys and transactions — with the lock
//! key's create revision as fencing token and a guarded transaction helper.

use super::error::ConcurrencyError;
use super::keys::{DeleteOnDrop, first_kv};
use super::session::Session;
use super::wait::wait_deletes;
use crate::client::Client;
use crate::error::ClientError;
use oxcd_api::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, ResponseHeader, ResponseOp,
    TxnRequest, request_op,
};
use oxcd_api::queue::{created_at, head, queue_key, queue_prefix};
use tokio::sync::watch;

/// A lock on a name (a key prefix), held by a [`Session`].
///
/// The session's key `<prefix>/<lease hex>` is created if absent; the holder is the key under
/// the prefix with the lowest create revision, and a waiter watches only the key just ahead of
/// its own, so releasing wakes one waiter. A holder's session being lost releases the lock:
/// guard the writes it protects with [`Mutex::guarded_txn`], or pass
/// [`Mutex::fencing_token`] to the resource, which must refuse tokens lower than one it saw.
///
/// ```no_run
/// # async fn demo(session: &oxcd_client::concurrency::Session) -> Result<(), oxcd_client::concurrency::ConcurrencyError> {
/// use oxcd_client::api::etcdserverpb::{PutRequest, RequestOp, request_op::Request};
/// use oxcd_client::concurrency::Mutex;
/// let mut mutex = Mutex::new(session, "jobs/nightly");
/// mutex.lock().await?;
/// let put = RequestOp {
///     request: Some(Request::RequestPut(PutRequest {
///         key: b"jobs/nightly-state".to_vec(),
///         value: b"running".to_vec(),
///         ..Default::default()
///     })),
/// };
/// if !mutex.guarded_txn(vec![put]).await?.held {
///     eprintln!("lost the lock before writing; nothing was written");
/// }
/// mutex.unlock().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Mutex {
    client: Client,
    lease: i64,
    alive: watch::Receiver<bool>,
    prefix: Vec<u8>,
    key: Vec<u8>,
    revision: i64,
    header: ResponseHeader,
}

/// The outcome of [`Mutex::guarded_txn`].
#[derive(Debug, Clone)]
pub struct GuardedTxn {
    /// True if the lock was still held, so the writes were applied; false if they were not.
    pub held: bool,
    /// The answers to the writes (empty when `held` is false).
    pub responses: Vec<ResponseOp>,
    /// The transaction's header (its revision orders it among all writes).
    pub header: ResponseHeader,
}

impl Mutex {
    /// A mutex on `name` for `session`; nothing is sent until it is locked. Keys are
    /// `name + "/" + lease hex`, as clientv3's `NewMutex` makes them.
    pub fn new(session: &Session, name: impl AsRef<[u8]>) -> Mutex {
        let prefix = queue_prefix(name.as_ref());
        Mutex {
            client: session.client().clone(),
            lease: session.lease(),
            alive: session.alive_watch(),
            prefix,
            key: Vec::new(),
            revision: -1,
            header: ResponseHeader::default(),
        }
    }

    /// Waits until this session holds the lock. If the wait ends in an error or the future
    /// is dropped, the session's key is deleted, so no lock is left behind. The lock is
    /// granted only if the session's key still exists then: a lock never comes with a lease
    /// that is already gone (etcd-io/etcd#11456).
    pub async fn lock(&mut self) -> Result<(), ConcurrencyError> {
        let acquired = self.try_acquire().await?;
        if acquired.owner_is_us {
            self.header = acquired.header;
            return Ok(());
        }
        let mut cleanup = DeleteOnDrop {
            client: Some(self.client.clone()),
            key: self.key.clone(),
        };
        let mut alive = self.alive.clone();
        let waited = tokio::select! {
            waited = wait_deletes(&self.client, &self.prefix, self.revision - 1) => waited.map(|_| ()),
            _ = alive.wait_for(|alive| !alive) => Err(ConcurrencyError::SessionExpired),
        };
        if let Err(error) = waited {
            cleanup.disarm();
            // Best effort: the wait's error is what the caller needs; a key left behind goes
            // with the session.
            let _ = self.unlock().await;
            return Err(error);
        }
        let mut kv = self.client.kv();
        let check = kv.range(RangeRequest {
            key: self.key.clone(),
            ..Default::default()
        });
        let found = match check.await {
            Ok(found) => found.into_inner(),
            Err(status) => {
                cleanup.disarm();
                let _ = self.unlock().await;
                return Err(ClientError::from(status).into());
            }
        };
        cleanup.disarm();
        if found.kvs.is_empty() {
            self.forget_key();
            return Err(ConcurrencyError::SessionExpired);
        }
        self.header = found.header.unwrap_or_default();
        Ok(())
    }

    /// Takes the lock if nobody holds it; otherwise removes this session's key and fails with
    /// [`ConcurrencyError::Locked`] at once.
    pub async fn try_lock(&mut self) -> Result<(), ConcurrencyError> {
        let acquired = self.try_acquire().await?;
        if acquired.owner_is_us {
            self.header = acquired.header;
            return Ok(());
        }
        self.delete_key().await?;
        Err(ConcurrencyError::Locked)
    }

    /// Releases the lock (deletes the session's key), which wakes the next waiter. Does
    /// nothing if this mutex holds no key.
    pub async fn unlock(&mut self) -> Result<(), ConcurrencyError> {
        if self.key.is_empty() {
            return Ok(());
        }
        self.delete_key().await
    }

    /// Deletes this session's key and forgets it.
    async fn delete_key(&mut self) -> Result<(), ConcurrencyError> {
        self.client
            .kv()
            .delete_range(DeleteRangeRequest {
                key: self.key.clone(),
                ..Default::default()
            })
            .await
            .map_err(ClientError::from)?;
        self.forget_key();
        Ok(())
    }

    /// The lock key (`name/lease hex`), empty when not locked.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The fencing token: the lock key's create revision, -1 when not locked. Each grant of
    /// the lock has a higher token than every earlier one.
    pub fn fencing_token(&self) -> i64 {
        self.revision
    }

    /// The header of the call that granted the lock.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }

    /// The compare that holds while this mutex owns the lock (clientv3's `IsOwner`): the lock
    /// key's create revision is still the fencing token.
    pub fn is_owner(&self) -> Compare {
        created_at(&self.key, self.revision)
    }

    /// Runs `ops` in one transaction only if the lock is still held, and says whether it was.
    pub async fn guarded_txn(&self, ops: Vec<RequestOp>) -> Result<GuardedTxn, ConcurrencyError> {
        let answer = self
            .client
            .kv()
            .txn(TxnRequest {
                compare: vec![self.is_owner()],
                success: ops,
                failure: vec![],
            })
            .await
            .map_err(ClientError::from)?
            .into_inner();
        Ok(GuardedTxn {
            held: answer.succeeded,
            responses: if answer.succeeded {
                answer.responses
            } else {
                Vec::new()
            },
            header: answer.header.unwrap_or_default(),
        })
    }

    /// Creates the session's key if absent and reads the current holder, in one transaction
    /// shaped as clientv3's `tryAcquire`.
    async fn try_acquire(&mut self) -> Result<Acquired, ConcurrencyError> {
        let key = queue_key(&self.prefix, self.lease);
        let get_own = RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key: key.clone(),
                ..Default::default()
            })),
        };
        let get_owner = RequestOp {
            request: Some(request_op::Request::RequestRange(head(&self.prefix))),
        };
        let put = RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.clone(),
                lease: self.lease,
                ..Default::default()
            })),
        };
        let answer = self
            .client
            .kv()
            .txn(TxnRequest {
                compare: vec![created_at(&key, 0)],
                success: vec![put, get_owner.clone()],
                failure: vec![get_own, get_owner],
            })
            .await
            .map_err(ClientError::from)?
            .into_inner();
        let header = answer.header.unwrap_or_default();
        let revision = if answer.succeeded {
            header.revision
        } else {
            first_kv(&answer, 0).map_or(0, |kv| kv.create_revision)
        };
        let owner_is_us =
            first_kv(&answer, 1).is_none_or(|owner| owner.create_revision == revision);
        self.key = key;
        self.revision = revision;
        Ok(Acquired {
            header,
            owner_is_us,
        })
    }

    /// Forgets the key after it was deleted or lost.
    fn forget_key(&mut self) {
        self.key.clear();
        self.revision = -1;
    }
}

/// What `try_acquire` learned.
struct Acquired {
    header: ResponseHeader,
    owner_is_us: bool,
}
