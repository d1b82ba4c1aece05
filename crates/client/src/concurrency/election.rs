//! [`Election`]: clientv3's leader election — the same keys and transactions as its `Mutex`,
//! with the leader's value as its proclamation — and [`LeaderChanges`], the observed leaders.

use super::error::ConcurrencyError;
use super::keys::{DeleteOnDrop, first_kv};
use super::session::Session;
use super::wait::wait_deletes;
use crate::client::Client;
use crate::error::ClientError;
use crate::watch_stream::{WatchError, WatchOptions, retryable};
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, RequestOp, ResponseHeader,
    TxnRequest, TxnResponse, request_op,
};
use oxcd_api::key_range::prefix_end;
use oxcd_api::mvccpb::KeyValue;
use oxcd_api::mvccpb::event::EventType;
use oxcd_api::queue::{created_at, head, queue_key, queue_prefix};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A campaign for leadership of a name (a key prefix) by a [`Session`].
///
/// Campaigning creates `<name>/<lease hex>` with the proposal as value and waits until every
/// older key under the name is gone; the leader is the oldest key. Leadership ends with
/// [`Election::resign`] or with the session.
///
/// ```no_run
/// # async fn demo(session: &oxcd_client::concurrency::Session) -> Result<(), oxcd_client::concurrency::ConcurrencyError> {
/// use oxcd_client::concurrency::Election;
/// let mut election = Election::new(session, "service/leader");
/// election.campaign("10.0.0.1:8080").await?;
/// election.proclaim("10.0.0.1:9090").await?;
/// election.resign().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Election {
    client: Client,
    lease: i64,
    alive: watch::Receiver<bool>,
    prefix: Vec<u8>,
    leader_key: Vec<u8>,
    leader_rev: i64,
    leading: bool,
    header: ResponseHeader,
}

impl Election {
    /// An election on `name` for `session`; keys are `name + "/" + lease hex`, as clientv3's
    /// `NewElection` makes them.
    pub fn new(session: &Session, name: impl AsRef<[u8]>) -> Election {
        let prefix = queue_prefix(name.as_ref());
        Election {
            client: session.client().clone(),
            lease: session.lease(),
            alive: session.alive_watch(),
            prefix,
            leader_key: Vec::new(),
            leader_rev: 0,
            leading: false,
            header: ResponseHeader::default(),
        }
    }

    /// Puts `value` under this session's key (or proclaims it, if the key is already there
    /// with another value) and waits until it leads. Dropping the future resigns; a lost
    /// session ends the wait with [`ConcurrencyError::ElectionSessionExpired`].
    pub async fn campaign(&mut self, value: impl AsRef<[u8]>) -> Result<(), ConcurrencyError> {
        let value = value.as_ref();
        let key = queue_key(&self.prefix, self.lease);
        let put = RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.clone(),
                value: value.to_vec(),
                lease: self.lease,
                ..Default::default()
            })),
        };
        let get = RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key: key.clone(),
                ..Default::default()
            })),
        };
        let answer = self
            .client
            .kv()
            .txn(TxnRequest {
                compare: vec![created_at(&key, 0)],
                success: vec![put],
                failure: vec![get],
            })
            .await
            .map_err(ClientError::from)?
            .into_inner();
        let header = answer.header.unwrap_or_default();
        self.leader_key = key.clone();
        self.leader_rev = header.revision;
        self.leading = true;
        if !answer.succeeded {
            let existing = first_kv(&answer, 0).cloned().unwrap_or_default();
            self.leader_rev = existing.create_revision;
            if existing.value != value
                && let Err(error) = self.proclaim(value).await
            {
                // Resigning is best effort; the proclamation's error is what matters.
                let _ = self.resign().await;
                return Err(error);
            }
        }
        let mut resign_on_drop = DeleteOnDrop {
            client: Some(self.client.clone()),
            key,
        };
        let mut alive = self.alive.clone();
        let waited = tokio::select! {
            waited = wait_deletes(&self.client, &self.prefix, self.leader_rev - 1) => waited,
            _ = alive.wait_for(|alive| !alive) => Err(ConcurrencyError::ElectionSessionExpired),
        };
        resign_on_drop.disarm();
        if let Err(error) = waited {
            self.leading = false;
            return Err(error);
        }
        self.header = header;
        Ok(())
    }

    /// Replaces the leader's value, if this handle still leads; otherwise
    /// [`ConcurrencyError::NotLeader`].
    pub async fn proclaim(&mut self, value: impl AsRef<[u8]>) -> Result<(), ConcurrencyError> {
        if !self.leading {
            return Err(ConcurrencyError::NotLeader);
        }
        let put = RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: self.leader_key.clone(),
                value: value.as_ref().to_vec(),
                lease: self.lease,
                ..Default::default()
            })),
        };
        let answer = self.while_leading(put).await?;
        if !answer.succeeded {
            // The key is gone or was re-created: this handle no longer leads.
            self.leader_key.clear();
            self.leading = false;
            return Err(ConcurrencyError::NotLeader);
        }
        self.header = answer.header.unwrap_or_default();
        Ok(())
    }

    /// Runs `op` only if this handle's key is still the one that led (same create revision).
    async fn while_leading(&self, op: RequestOp) -> Result<TxnResponse, ConcurrencyError> {
        let answer = self
            .client
            .kv()
            .txn(TxnRequest {
                compare: vec![created_at(&self.leader_key, self.leader_rev)],
                success: vec![op],
                failure: vec![],
            })
            .await
            .map_err(ClientError::from)?
            .into_inner();
        Ok(answer)
    }

    /// Gives up leadership (deletes this session's key if it is still the one that led);
    /// does nothing if this handle does not lead.
    pub async fn resign(&mut self) -> Result<(), ConcurrencyError> {
        if !self.leading {
            return Ok(());
        }
        let delete = RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: self.leader_key.clone(),
                    ..Default::default()
                },
            )),
        };
        let answer = self.while_leading(delete).await?;
        self.header = answer.header.unwrap_or_default();
        self.leader_key.clear();
        self.leading = false;
        Ok(())
    }

    /// The current leader's key and value, or [`ConcurrencyError::NoLeader`].
    pub async fn leader(&self) -> Result<KeyValue, ConcurrencyError> {
        self.client
            .kv()
            .range(head(&self.prefix))
            .await
            .map_err(ClientError::from)?
            .into_inner()
            .kvs
            .into_iter()
            .next()
            .ok_or(ConcurrencyError::NoLeader)
    }

    /// This handle's key while it leads or campaigns (`name/lease hex`), empty otherwise.
    pub fn key(&self) -> &[u8] {
        &self.leader_key
    }

    /// The create revision of this handle's key (0 before a campaign).
    pub fn revision(&self) -> i64 {
        self.leader_rev
    }

    /// The header of the last call that changed this handle's leadership.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }

    /// Follows the leadership of the election: the current leader (once there is one), then
    /// each new value it proclaims and each following leader, in order. The observation
    /// survives broken streams and member failures (it resumes where it was on another
    /// endpoint); it ends only on an error retrying cannot fix.
    pub fn observe(&self) -> LeaderChanges {
        observe(&self.client, &self.prefix)
    }
}

/// Follows the leaders of the election `name` without campaigning (what `etcdctl elect -l`
/// does).
pub fn observe_election(client: &Client, name: impl AsRef<[u8]>) -> LeaderChanges {
    let mut prefix = name.as_ref().to_vec();
    prefix.push(b'/');
    observe(client, &prefix)
}

/// The stream [`Election::observe`] returns. Dropping it stops the observation.
#[derive(Debug)]
pub struct LeaderChanges {
    rx: mpsc::Receiver<Result<RangeResponse, ConcurrencyError>>,
}

impl LeaderChanges {
    /// The next leader or proclamation; an error ends the stream (`None` after it).
    pub async fn next(&mut self) -> Option<Result<RangeResponse, ConcurrencyError>> {
        self.rx.recv().await
    }
}

/// Starts the observing task for the election whose keys are under `prefix`.
fn observe(client: &Client, prefix: &[u8]) -> LeaderChanges {
    let (tx, rx) = mpsc::channel(16);
    let client = client.clone();
    let prefix = prefix.to_vec();
    tokio::spawn(async move {
        tokio::select! {
            ended = observe_loop(&client, &prefix, &tx) => {
                if let Err(error) = ended {
                    let _ = tx.send(Err(error)).await;
                }
            }
            _ = tx.closed() => {}
        }
    });
    LeaderChanges { rx }
}

/// Sends every leader and proclamation until the receiver goes or a call fails for good. Each
/// is shaped as clientv3's `Observe` shapes it: the first answer for a leader has only the
/// header and the key; the proclamations that follow are the leader read with its header and
/// key replaced (so `count` and `more` are the read's). The watches resume after broken
/// streams; after a compaction the leader is read again.
async fn observe_loop(
    client: &Client,
    prefix: &[u8],
    tx: &mpsc::Sender<Result<RangeResponse, ConcurrencyError>>,
) -> Result<(), ConcurrencyError> {
    loop {
        let mut read = leader_of(client, prefix).await?;
        let (header, leader) = match read.kvs.first() {
            Some(leader) => (read.header.unwrap_or_default(), leader.clone()),
            None => {
                let revision = read.header.as_ref().map_or(0, |header| header.revision);
                match first_put(client, prefix, revision).await {
                    Ok(first) => first,
                    Err(WatchError::Compacted { .. }) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
        };
        let key = leader.key.clone();
        let next_revision = header.revision + 1;
        let first = RangeResponse {
            header: Some(header),
            kvs: vec![leader],
            ..Default::default()
        };
        if tx.send(Ok(first)).await.is_err() {
            return Ok(());
        }
        let mut events =
            client.watch_stream(key, WatchOptions::new().start_revision(next_revision));
        'leader: loop {
            let batch = match events.next().await {
                Some(Ok(batch)) => batch,
                Some(Err(WatchError::Compacted { .. })) => break 'leader,
                Some(Err(error)) => return Err(error.into()),
                None => return Err(ConcurrencyError::watch_closed()),
            };
            for event in batch.events {
                if event.r#type == EventType::Delete as i32 {
                    break 'leader;
                }
                read.header = Some(batch.header);
                read.kvs = event.kv.into_iter().collect();
                if tx.send(Ok(read.clone())).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Waits for the first key put under `prefix` from `revision` on: the first leader of an
/// election that had none. Returns it with its watch header, whose revision is the put's.
async fn first_put(
    client: &Client,
    prefix: &[u8],
    revision: i64,
) -> Result<(ResponseHeader, KeyValue), WatchError> {
    let options = WatchOptions::new()
        .range_end(prefix_end(prefix))
        .start_revision(revision);
    let mut events = client.watch_stream(prefix, options);
    loop {
        let Some(batch) = events.next().await else {
            return Err(WatchError::Client(ClientError::Status(
                tonic::Status::unavailable("watch closed"),
            )));
        };
        let batch = batch?;
        let put = batch
            .events
            .into_iter()
            .find(|event| event.r#type == EventType::Put as i32)
            .and_then(|event| event.kv);
        if let Some(kv) = put {
            let mut header = batch.header;
            header.revision = kv.mod_revision;
            return Ok((header, kv));
        }
    }
}

/// Reads the oldest key under `prefix` (the leader), retrying while no member can answer.
async fn leader_of(client: &Client, prefix: &[u8]) -> Result<RangeResponse, ConcurrencyError> {
    let mut pause = Duration::from_millis(50);
    loop {
        match client.kv().range(head(prefix)).await {
            Ok(found) => return Ok(found.into_inner()),
            Err(status) => {
                let error = ClientError::from(status);
                if !retryable(&error) {
                    return Err(error.into());
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}
