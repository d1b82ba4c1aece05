//! Service discovery: [`register`] an instance under `<service>/<id>` on a session's lease
//! (registered again, same key, on a new session whenever the old one is lost), and
//! [`discover`] the live instances as a stream of full snapshots that follows the
//! registrations through the resumable config watch.

use crate::client::Client;
use crate::concurrency::{ConcurrencyError, Session};
use crate::config_watch::ConfigWatch;
use crate::kv::PutOptions;
use crate::watch_stream::WatchError;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How long to wait before trying again to register after a failed attempt.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// The key prefix of `service`'s instances.
fn service_prefix(service: &str) -> String {
    format!("{service}/")
}

/// Where a [`Registration`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationState {
    /// The lease the instance's key is on; `None` between losing a session and registering
    /// on the next.
    pub lease: Option<i64>,
    /// How many times the key was written (1 after [`register`] returns; each lost session
    /// adds one once the instance is registered again).
    pub registrations: u64,
}

/// How a registration ends.
#[derive(Debug)]
enum Leave {
    /// Revoke the lease: the instance disappears at once.
    Deregister,
    /// Stop renewing: the instance disappears when the lease expires.
    Orphan,
}

/// An instance registered by [`register`]. Dropping it deregisters (in the background).
#[derive(Debug)]
pub struct Registration {
    key: String,
    state: watch::Receiver<RegistrationState>,
    leave: Option<oneshot::Sender<Leave>>,
    task: JoinHandle<()>,
}

impl Registration {
    /// The instance's key, `<service>/<id>`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The registration's state, updated as sessions are lost and replaced.
    pub fn state(&self) -> watch::Receiver<RegistrationState> {
        self.state.clone()
    }

    /// Removes the instance now (revokes its lease) and stops re-registering.
    pub async fn deregister(mut self) {
        if let Some(leave) = self.leave.take() {
            let _ = leave.send(Leave::Deregister);
        }
        let _ = (&mut self.task).await;
    }

    /// Stops renewing without removing the key, which goes when its lease expires — what a
    /// crashed instance leaves behind.
    pub async fn orphan(mut self) {
        if let Some(leave) = self.leave.take() {
            let _ = leave.send(Leave::Orphan);
        }
        let _ = (&mut self.task).await;
    }
}

/// Registers instance `id` of `service` with `value` (an address, or any metadata) on a new
/// session of `ttl` seconds, and keeps it registered: when the session is lost (lease expired
/// or revoked), a new session is made and the same key written again on it.
///
/// ```no_run
/// # async fn demo(client: oxcd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use oxcd_client::discovery::{discover, register};
/// let me = register(&client, "services/web", "web-1", "10.0.0.1:8080", 10).await?;
/// let mut instances = discover(&client, "services/web");
/// while let Some(snapshot) = instances.next().await {
///     println!("live: {:?}", snapshot?.instances.keys().collect::<Vec<_>>());
/// }
/// me.deregister().await;
/// # Ok(()) }
/// ```
pub async fn register(
    client: &Client,
    service: &str,
    id: &str,
    value: impl Into<Vec<u8>>,
    ttl: i64,
) -> Result<Registration, ConcurrencyError> {
    let key = format!("{}{id}", service_prefix(service));
    let value = value.into();
    let session = register_once(client, &key, &value, ttl).await?;
    let (state_tx, state) = watch::channel(RegistrationState {
        lease: Some(session.lease()),
        registrations: 1,
    });
    let (leave_tx, leave) = oneshot::channel();
    let task = tokio::spawn(keep_registered(
        client.clone(),
        key.clone(),
        value,
        ttl,
        session,
        state_tx,
        leave,
    ));
    Ok(Registration {
        key,
        state,
        leave: Some(leave_tx),
        task,
    })
}

/// Opens a session and writes the instance's key on its lease.
async fn register_once(
    client: &Client,
    key: &str,
    value: &[u8],
    ttl: i64,
) -> Result<Session, ConcurrencyError> {
    let session = Session::new(client, ttl).await?;
    client
        .put(key, value, PutOptions::new().lease(session.lease()))
        .await?;
    Ok(session)
}

/// Re-registers on a new session whenever the current one is lost, until told to leave (or
/// the [`Registration`] is dropped, which deregisters).
async fn keep_registered(
    client: Client,
    key: String,
    value: Vec<u8>,
    ttl: i64,
    mut session: Session,
    state: watch::Sender<RegistrationState>,
    mut leave: oneshot::Receiver<Leave>,
) {
    loop {
        tokio::select! {
            _ = session.done() => {}
            how = &mut leave => {
                match how {
                    Ok(Leave::Orphan) => session.orphan(),
                    Ok(Leave::Deregister) | Err(_) => {
                        if let Err(error) = session.close().await {
                            tracing::warn!(%error, key, "deregistering failed; the key goes with its lease");
                        }
                    }
                }
                return;
            }
        }
        state.send_modify(|state| state.lease = None);
        session = loop {
            tokio::select! {
                attempt = register_once(&client, &key, &value, ttl) => match attempt {
                    Ok(session) => break session,
                    Err(error) => {
                        tracing::warn!(%error, key, "registering again failed; retrying");
                        tokio::time::sleep(RETRY_DELAY).await;
                    }
                },
                _ = &mut leave => return,
            }
        };
        state.send_modify(|state| {
            state.lease = Some(session.lease());
            state.registrations += 1;
        });
    }
}

/// The live instances of a service at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instances {
    /// The revision the set was read or followed to.
    pub revision: i64,
    /// Each instance's id and value.
    pub instances: BTreeMap<String, Vec<u8>>,
}

/// The snapshots [`discover`] yields.
#[derive(Debug)]
pub struct Discovery {
    prefix: String,
    config: ConfigWatch,
}

impl Discovery {
    /// The full set of live instances after the next change (the first call: the set when
    /// discovery started). After an error, `None`.
    pub async fn next(&mut self) -> Option<Result<Instances, WatchError>> {
        match self.config.next().await? {
            Err(error) => Some(Err(error)),
            Ok(_) => Some(Ok(self.instances())),
        }
    }

    /// The set as of the last snapshot returned.
    pub fn instances(&self) -> Instances {
        let current = self.config.current();
        let instances = current
            .kvs
            .values()
            .map(|kv| {
                let id = kv.key.get(self.prefix.len()..).unwrap_or_default();
                (String::from_utf8_lossy(id).into_owned(), kv.value.clone())
            })
            .collect();
        Instances {
            revision: current.revision,
            instances,
        }
    }
}

/// Follows the live instances of `service`: the set at revision R, then one full snapshot
/// per change from R + 1 on, across reconnects; after a compaction the set is read again.
pub fn discover(client: &Client, service: &str) -> Discovery {
    let prefix = service_prefix(service);
    Discovery {
        config: client.watch_config(prefix.clone()),
        prefix,
    }
}
