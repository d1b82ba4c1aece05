//! Leases: typed grant / revoke / time-to-live / list calls, and [`LeaseKeeper`], the one
//! background keep-alive (used by [`crate::concurrency::Session`] too) that renews a lease
//! across broken streams and endpoint failover and reports its loss.

use crate::client::Client;
use crate::error::ClientError;
use crate::kv::header_of;
use oxcd_api::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseLeasesRequest, LeaseRevokeRequest,
    LeaseTimeToLiveRequest, ResponseHeader,
};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

/// How long the keep-alive waits before re-opening a failed stream (on the next endpoint).
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// A granted lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The lease id.
    pub id: i64,
    /// The TTL in seconds the server granted (it raises small TTLs to its minimum).
    pub ttl: i64,
    /// The revision when it was granted.
    pub revision: i64,
}

/// What [`Client::lease_time_to_live`] tells of a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseStatus {
    /// The lease id.
    pub id: i64,
    /// Seconds left; -1 if the lease does not exist (expired or revoked).
    pub ttl: i64,
    /// The TTL it was granted with (0 if it does not exist).
    pub granted_ttl: i64,
    /// The keys attached, when asked for.
    pub keys: Vec<Vec<u8>>,
}

impl LeaseStatus {
    /// False once the lease expired or was revoked.
    pub fn exists(&self) -> bool {
        self.ttl >= 0
    }
}

impl Client {
    /// Grants a lease of `ttl` seconds with an id the server chooses.
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::ClientError> {
    /// use oxcd_client::PutOptions;
    /// let lease = client.lease_grant(10).await?;
    /// client.put("alive", "yes", PutOptions::new().lease(lease.id)).await?;
    /// let keeper = client.lease_keep_alive(lease.id, lease.ttl);
    /// keeper.lost().await; // resolves only if renewing fails for a whole TTL
    /// # Ok(()) }
    /// ```
    pub async fn lease_grant(&self, ttl: i64) -> Result<Lease, ClientError> {
        self.lease_grant_with_id(0, ttl).await
    }

    /// Grants a lease with a chosen `id` (0: the server chooses).
    pub async fn lease_grant_with_id(&self, id: i64, ttl: i64) -> Result<Lease, ClientError> {
        let granted = self
            .lease()
            .lease_grant(LeaseGrantRequest { ttl, id })
            .await?
            .into_inner();
        if !granted.error.is_empty() {
            return Err(ClientError::from(tonic::Status::unknown(granted.error)));
        }
        Ok(Lease {
            id: granted.id,
            ttl: granted.ttl,
            revision: header_of(&granted.header).revision,
        })
    }

    /// Revokes a lease, deleting its keys.
    pub async fn lease_revoke(&self, id: i64) -> Result<ResponseHeader, ClientError> {
        let revoked = self
            .lease()
            .lease_revoke(LeaseRevokeRequest { id })
            .await?
            .into_inner();
        Ok(*header_of(&revoked.header))
    }

    /// Tells how long a lease has left (and its keys, with `keys`).
    pub async fn lease_time_to_live(
        &self,
        id: i64,
        keys: bool,
    ) -> Result<LeaseStatus, ClientError> {
        let answer = self
            .lease()
            .lease_time_to_live(LeaseTimeToLiveRequest { id, keys })
            .await?
            .into_inner();
        Ok(LeaseStatus {
            id: answer.id,
            ttl: answer.ttl,
            granted_ttl: answer.granted_ttl,
            keys: answer.keys,
        })
    }

    /// The ids of every live lease.
    pub async fn leases(&self) -> Result<Vec<i64>, ClientError> {
        let answer = self
            .lease()
            .lease_leases(LeaseLeasesRequest {})
            .await?
            .into_inner();
        Ok(answer.leases.into_iter().map(|lease| lease.id).collect())
    }

    /// Keeps lease `id` (of `ttl` seconds) alive in the background; see [`LeaseKeeper`].
    pub fn lease_keep_alive(&self, id: i64, ttl: i64) -> LeaseKeeper {
        LeaseKeeper::start(self, id, ttl)
    }
}

/// Keeps a lease alive in the background until it is stopped, dropped or lost.
///
/// Renewals go every third of the TTL on a keep-alive stream to a member with a leader; a
/// stream that breaks or stays silent is re-opened on the next endpoint. The lease counts as
/// lost when the server says it is gone (revoked or expired: seen at the next renewal) or
/// when no renewal succeeded for a whole TTL; then [`LeaseKeeper::lost`] resolves and
/// [`LeaseKeeper::is_alive`] turns false. Dropping the keeper stops renewing; the lease is not
/// revoked and expires after its TTL.
#[derive(Debug)]
pub struct LeaseKeeper {
    id: i64,
    ttl: i64,
    alive: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Starts renewing lease `id`, whose TTL is `ttl` seconds (at least 1).
    pub fn start(client: &Client, id: i64, ttl: i64) -> LeaseKeeper {
        let ttl = ttl.max(1);
        let (alive_tx, alive) = watch::channel(true);
        let task = tokio::spawn(keep_alive(client.clone(), id, ttl, alive_tx));
        LeaseKeeper {
            id,
            ttl,
            alive,
            task,
        }
    }

    /// The lease kept alive.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The TTL in seconds that paces renewals.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// True until the lease is known to be lost or the keeper was stopped.
    pub fn is_alive(&self) -> bool {
        // A closed channel means the renewing task is gone: nothing keeps the lease any more.
        *self.alive.borrow() && self.alive.has_changed().is_ok()
    }

    /// A receiver of the alive flag, for waiting on the loss from elsewhere.
    pub fn alive_watch(&self) -> watch::Receiver<bool> {
        self.alive.clone()
    }

    /// Resolves once the lease is lost (at once if it already is) or the keeper stopped.
    pub fn lost(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut alive = self.alive.clone();
        async move {
            // An error means the keeper's task ended, which it only does once the lease is
            // lost or the keeper is stopped: either way nothing keeps the lease any more.
            let _ = alive.wait_for(|alive| !alive).await;
        }
    }

    /// Stops renewing without revoking: the lease expires after its TTL.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Renews `lease` every TTL/3 on a keep-alive stream, re-opened after failures, and flips
/// `alive` to false when the lease is gone or was not renewed for a whole TTL.
async fn keep_alive(client: Client, lease: i64, ttl: i64, alive: watch::Sender<bool>) {
    let ttl = Duration::from_secs(ttl as u64);
    let mut deadline = Instant::now() + ttl;
    loop {
        match renew_until_failure(&client, lease, ttl, &mut deadline).await {
            Renewal::Gone => break,
            Renewal::StreamFailed => {
                if Instant::now() >= deadline {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
    }
    let _ = alive.send(false);
}

/// How a keep-alive stream ended.
enum Renewal {
    /// The server no longer has the lease, or it was not renewed in time.
    Gone,
    /// The stream broke or went silent; a new one may still save the lease.
    StreamFailed,
}

/// Runs one keep-alive stream until it fails or the lease is gone, moving `deadline` (when the
/// lease expires unless renewed) forward with each answer.
async fn renew_until_failure(
    client: &Client,
    lease: i64,
    ttl: Duration,
    deadline: &mut Instant,
) -> Renewal {
    let period = (ttl / 3).max(Duration::from_millis(500));
    let (tx, rx) = mpsc::channel(1);
    // The first request goes in before the call: a Go server sends the response headers, which
    // opening the call waits for, only with its first answer.
    let mut sent_at = Instant::now();
    // The receiver is alive here, so the send cannot fail.
    let _ = tx.try_send(LeaseKeepAliveRequest { id: lease });
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    let mut lease_client = client.lease();
    let opened = tokio::select! {
        opened = lease_client.lease_keep_alive(request) => opened,
        // A member that does not answer within a renewal period is given up for another.
        _ = tokio::time::sleep(period) => return Renewal::StreamFailed,
        _ = tokio::time::sleep_until(*deadline) => return Renewal::Gone,
    };
    let Ok(responses) = opened else {
        return Renewal::StreamFailed;
    };
    let mut responses = responses.into_inner();
    loop {
        let answer = tokio::select! {
            answer = responses.message() => answer,
            _ = tokio::time::sleep(period) => return Renewal::StreamFailed,
            _ = tokio::time::sleep_until(*deadline) => return Renewal::Gone,
        };
        match answer {
            Ok(Some(response)) if response.ttl > 0 => {
                *deadline = sent_at + Duration::from_secs(response.ttl as u64);
            }
            Ok(Some(_)) => return Renewal::Gone,
            Ok(None) | Err(_) => return Renewal::StreamFailed,
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = tokio::time::sleep_until(*deadline) => return Renewal::Gone,
        }
        sent_at = Instant::now();
        if tx.send(LeaseKeepAliveRequest { id: lease }).await.is_err() {
            return Renewal::StreamFailed;
        }
    }
}
