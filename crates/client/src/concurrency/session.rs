//! [`Session`]: a lease granted for one holder and kept alive in the background until it is
//! closed, dropped or lost — clientv3's `concurrency.Session`.

use super::error::ConcurrencyError;
use crate::client::Client;
use crate::error::ClientError;
use crate::lease::LeaseKeeper;
use oxcd_api::etcdserverpb::LeaseRevokeRequest;
use tokio::sync::watch;

/// The lease TTL a session asks for unless told otherwise (clientv3's `defaultSessionTTL`).
pub const DEFAULT_SESSION_TTL: i64 = 60;

/// A lease kept alive in the background; locks and elections made with it belong to it.
///
/// A [`LeaseKeeper`] renews the lease every third of its TTL, re-opening the stream on another
/// endpoint after a failure, until the server says the lease is gone or no renewal succeeded
/// for a whole TTL.
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
    keeper: LeaseKeeper,
    /// False once [`Session::orphan`] gave the lease up to its TTL.
    revoke_on_drop: bool,
}

impl Session {
    /// Grants a lease of `ttl` seconds (etcd raises it to its minimum) and starts keeping it
    /// alive. A `ttl` of 0 or less takes [`DEFAULT_SESSION_TTL`], as clientv3 does.
    pub async fn new(client: &Client, ttl: i64) -> Result<Session, ConcurrencyError> {
        let ttl = if ttl <= 0 { DEFAULT_SESSION_TTL } else { ttl };
        let granted = client.lease_grant(ttl).await?;
        Ok(Session::from_lease(client, granted.id, granted.ttl))
    }

    /// Keeps an existing lease alive as a session (clientv3's `WithLease`); `ttl` is the
    /// lease's TTL in seconds, which paces the renewals.
    pub fn from_lease(client: &Client, lease: i64, ttl: i64) -> Session {
        let ttl = ttl.max(1);
        Session {
            client: client.clone(),
            lease,
            ttl,
            keeper: LeaseKeeper::start(client, lease, ttl),
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
        self.keeper.is_alive()
    }

    /// The alive flag, for recipes that stop waiting when the session is lost.
    pub(super) fn alive_watch(&self) -> watch::Receiver<bool> {
        self.keeper.alive_watch()
    }

    /// Resolves once the lease is gone; at once if it already is.
    pub fn done(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.keeper.lost()
    }

    /// Stops keeping the lease alive without revoking it (clientv3's `Orphan`): it expires
    /// after its TTL, taking this session's locks and leadership with it.
    pub fn orphan(mut self) {
        self.revoke_on_drop = false;
    }

    /// Stops the keep-alive and revokes the lease, releasing at once every lock and
    /// leadership held with it.
    pub async fn close(mut self) -> Result<(), ConcurrencyError> {
        self.keeper.stop();
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
        self.keeper.stop();
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
