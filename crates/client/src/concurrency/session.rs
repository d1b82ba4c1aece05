//! [`Session`]: a lease granted for one holder and kept alive in the background until it is
//! closed, dropped or lost — clientv3's `concurrency.Session`.

use super::error::ConcurrencyError;
use crate::client::Client;
use crate::error::ClientError;
use oxcd_api::etcdserverpb::{LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

/// The lease TTL a session asks for unless told otherwise (clientv3's `defaultSessionTTL`).
pub const DEFAULT_SESSION_TTL: i64 = 60;

/// How long the keep-alive task waits before re-opening a failed stream.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// A lease kept alive in the background; locks and elections made with it belong to it.
///
/// The keep-alive task renews the lease every third of its TTL, re-opening the stream after a
/// failure, until the server says the lease is gone or no renewal succeeded for a whole TTL.
/// Then [`Session::done`] resolves — within a third of the TTL of a revoke (at the next
/// renewal), and at the latest when the lease's TTL has passed without one: every lock and leadership held with this session may be
/// lost, and the holder must stop acting on them.
///
/// ```no_run
/// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::concurrency::ConcurrencyError> {
/// use oxcd_client::concurrency::Session;
/// let session = Session::new(&client, 10).await?;
/// println!("lease {:x}", session.lease());
/// tokio::select! {
///     _ = session.done() => eprintln!("session lost"),
///     _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
/// }
/// session.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Session {
    client: Client,
    lease: i64,
    ttl: i64,
    alive: watch::Receiver<bool>,
    keep_alive: JoinHandle<()>,
    /// False once [`Session::orphan`] gave the lease up to its TTL.
    revoke_on_drop: bool,
}

impl Session {
    /// Grants a lease of `ttl` seconds (etcd raises it to its minimum) and starts keeping it
    /// alive. A `ttl` of 0 or less takes [`DEFAULT_SESSION_TTL`], as clientv3 does.
    pub async fn new(client: &Client, ttl: i64) -> Result<Session, ConcurrencyError> {
        let ttl = if ttl <= 0 { DEFAULT_SESSION_TTL } else { ttl };
        let granted = client
            .lease()
            .lease_grant(LeaseGrantRequest { ttl, id: 0 })
            .await
            .map_err(ClientError::from)?
            .into_inner();
        Ok(Session::from_lease(client, granted.id, granted.ttl))
    }

    /// Keeps an existing lease alive as a session (clientv3's `WithLease`); `ttl` is the
    /// lease's TTL in seconds, which paces the renewals.
    pub fn from_lease(client: &Client, lease: i64, ttl: i64) -> Session {
        let ttl = ttl.max(1);
        let (alive_tx, alive) = watch::channel(true);
        let keep_alive = tokio::spawn(keep_alive(client.clone(), lease, ttl, alive_tx));
        Session {
            client: client.clone(),
            lease,
            ttl,
            alive,
            keep_alive,
            revoke_on_drop: true,
        }
    }

    /// The session's lease id.
    pub fn lease(&self) -> i64 {
        self.lease
    }

    /// The lease TTL in seconds the session keeps renewing.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// The client the session was made with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// True until the lease is known to be gone (expired, revoked, or not renewed for a TTL).
    pub fn is_alive(&self) -> bool {
        *self.alive.borrow()
    }

    /// The alive flag, for recipes that stop waiting when the session is lost.
    pub(super) fn alive_watch(&self) -> watch::Receiver<bool> {
        self.alive.clone()
    }

    /// Resolves once the lease is gone; at once if it already is.
    pub fn done(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut alive = self.alive.clone();
        async move {
            // An error means the keep-alive task ended, which it only does once the lease is lost
            // or the session is closed: either way the session is over.
            let _ = alive.wait_for(|alive| !alive).await;
        }
    }

    /// Stops keeping the lease alive without revoking it (clientv3's `Orphan`): it expires
    /// after its TTL, taking this session's locks and leadership with it.
    pub fn orphan(mut self) {
        self.revoke_on_drop = false;
    }

    /// Stops the keep-alive and revokes the lease, releasing at once every lock and
    /// leadership held with it.
    pub async fn close(mut self) -> Result<(), ConcurrencyError> {
        self.keep_alive.abort();
        self.revoke_on_drop = false;
        let revoked = self
            .client
            .lease()
            .lease_revoke(LeaseRevokeRequest { id: self.lease })
            .await;
        match revoked {
            Ok(_) => Ok(()),
            Err(status) => {
                let error = ClientError::from(status);
                // Already gone is what closing wanted.
                if error.etcd_error() == Some(oxcd_api::EtcdError::LeaseNotFound) {
                    Ok(())
                } else {
                    Err(error.into())
                }
            }
        }
    }
}

impl Drop for Session {
    /// Stops the keep-alive and, inside a runtime, revokes the lease in a detached task (best
    /// effort; otherwise the lease expires after its TTL).
    fn drop(&mut self) {
        self.keep_alive.abort();
        if !self.revoke_on_drop {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut lease = self.client.lease();
            let id = self.lease;
            runtime.spawn(async move {
                let _ = lease.lease_revoke(LeaseRevokeRequest { id }).await;
            });
        }
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
    /// The stream broke; a new one may still save the lease.
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
    let (tx, rx) = mpsc::channel(1);
    // The first request goes in before the call: a Go server sends the response headers, which
    // opening the call waits for, only with its first answer.
    let mut sent_at = Instant::now();
    // The receiver is alive here, so the send cannot fail.
    let _ = tx.try_send(LeaseKeepAliveRequest { id: lease });
    let mut lease_client = client.lease();
    let opened = tokio::select! {
        opened = lease_client.lease_keep_alive(ReceiverStream::new(rx)) => opened,
        _ = tokio::time::sleep_until(*deadline) => return Renewal::Gone,
    };
    let Ok(responses) = opened else {
        return Renewal::StreamFailed;
    };
    let mut responses = responses.into_inner();
    let period = (ttl / 3).max(Duration::from_millis(500));
    loop {
        let answer = tokio::select! {
            answer = responses.message() => answer,
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
