//! Watch clients for robustness runs: each follows every workload key from revision 1 for the
//! whole run, asks for a progress notification now and then, and — when its stream breaks
//! (member killed, partitioned, paused) — reconnects to the next member and resumes right
//! after the last revision it received, as an etcd client does. Everything received is
//! logged for [`super::watch_checker`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::WatchCreateRequest;
use oxcd_api::mvccpb::event::EventType;

use crate::grpc;
use crate::watch_stream::WatchSession;

/// One change as a watcher received it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    /// The change's revision.
    pub revision: i64,
    /// The key.
    pub key: Vec<u8>,
    /// The value written, `None` for a delete.
    pub value: Option<Vec<u8>>,
}

impl Change {
    /// The change an event reports.
    fn of(event: oxcd_api::mvccpb::Event) -> Change {
        let kv = event.kv.unwrap_or_default();
        Change {
            revision: kv.mod_revision,
            value: (event.r#type != EventType::Delete as i32).then_some(kv.value),
            key: kv.key,
        }
    }
}

/// What one watch client saw, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEntry {
    /// A (re)started watch from `from`.
    Started { from: i64 },
    /// One response's events, with the response's header revision.
    Events { header: i64, changes: Vec<Change> },
    /// A progress notification: everything up to `revision` has been delivered.
    Progress { revision: i64 },
    /// The server cancelled the watch (`compact_revision` set when compaction overtook it).
    Canceled {
        compact_revision: i64,
        reason: String,
    },
}

/// The log of one watch client.
#[derive(Debug, Clone, Default)]
pub struct WatchLog {
    /// The client's number.
    pub client: usize,
    /// What it saw.
    pub entries: Vec<WatchEntry>,
}

/// Running watch clients; [`Watchers::stop`] ends them and returns their logs.
pub struct Watchers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<WatchLog>>,
}

/// How often a watch client asks for a progress notification.
const PROGRESS_EVERY: Duration = Duration::from_millis(700);
/// How long a silent stream is trusted before the client reconnects (a paused member keeps
/// its connections open).
const SILENCE_LIMIT: Duration = Duration::from_secs(5);

impl Watchers {
    /// Starts `count` watch clients of keys `prefix..prefix_end` on `endpoints`.
    pub fn start(count: usize, endpoints: &[String], prefix: &[u8], prefix_end: &[u8]) -> Watchers {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..count)
            .map(|client| {
                let stop = stop.clone();
                let endpoints = endpoints.to_vec();
                let (prefix, end) = (prefix.to_vec(), prefix_end.to_vec());
                tokio::spawn(async move { follow(client, &endpoints, &prefix, &end, &stop).await })
            })
            .collect();
        Watchers { stop, tasks }
    }

    /// Lets the clients catch up for `grace` (the faults are healed by then), then stops them.
    pub async fn stop(self, grace: Duration) -> Vec<WatchLog> {
        tokio::time::sleep(grace).await;
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for task in self.tasks {
            logs.extend(task.await.ok());
        }
        logs
    }
}

async fn follow(
    client: usize,
    endpoints: &[String],
    prefix: &[u8],
    end: &[u8],
    stop: &AtomicBool,
) -> WatchLog {
    let mut log = WatchLog {
        client,
        entries: Vec::new(),
    };
    let mut endpoint = client % endpoints.len();
    let mut next = 1;
    while !stop.load(Ordering::Relaxed) {
        let outcome = watch_once(&endpoints[endpoint], prefix, end, next, &mut log, stop).await;
        match outcome {
            Ok(resume_at) => next = resume_at,
            Err(resume_at) => {
                next = resume_at;
                endpoint = (endpoint + 1) % endpoints.len();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if log
            .entries
            .iter()
            .any(|e| matches!(e, WatchEntry::Canceled { .. }))
        {
            break;
        }
    }
    log
}

/// Watches from `from` until the stream breaks or `stop`; returns where to resume.
async fn watch_once(
    endpoint: &str,
    prefix: &[u8],
    end: &[u8],
    from: i64,
    log: &mut WatchLog,
    stop: &AtomicBool,
) -> Result<i64, i64> {
    let mut next = from;
    let Ok(mut clients) = grpc::connect_with_timeout(endpoint, Duration::from_secs(3)).await else {
        return Err(next);
    };
    let Ok(mut session) = WatchSession::open(&mut clients.watch).await else {
        return Err(next);
    };
    let create = WatchCreateRequest {
        key: prefix.to_vec(),
        range_end: end.to_vec(),
        start_revision: next,
        ..Default::default()
    };
    if session.create(create).await.is_err() {
        return Err(next);
    }
    log.entries.push(WatchEntry::Started { from: next });
    let mut last_progress_request = Instant::now();
    let mut last_heard = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if last_progress_request.elapsed() >= PROGRESS_EVERY {
            if session.request_progress().await.is_err() {
                return Err(next);
            }
            last_progress_request = Instant::now();
        }
        let response = match session.next(Duration::from_millis(200)).await {
            Ok(Some(response)) => response,
            Ok(None) if last_heard.elapsed() < SILENCE_LIMIT => continue,
            Ok(None) | Err(_) => return Err(next),
        };
        last_heard = Instant::now();
        let header = response.header.as_ref().map_or(0, |h| h.revision);
        if response.canceled {
            log.entries.push(WatchEntry::Canceled {
                compact_revision: response.compact_revision,
                reason: response.cancel_reason,
            });
            return Ok(next);
        }
        if response.created {
            continue;
        }
        if response.events.is_empty() {
            log.entries.push(WatchEntry::Progress { revision: header });
            continue;
        }
        let changes: Vec<Change> = response.events.into_iter().map(Change::of).collect();
        if let Some(last) = changes.last() {
            next = next.max(last.revision + 1);
        }
        log.entries.push(WatchEntry::Events { header, changes });
    }
    Ok(next)
}

/// The whole change history of keys `prefix..prefix_end`, read back with a fresh watch from
/// revision 1 on `endpoint` (no compaction in a robustness run, so it is all there).
pub async fn read_history(
    endpoint: &str,
    prefix: &[u8],
    prefix_end: &[u8],
) -> anyhow::Result<Vec<Change>> {
    use anyhow::Context;
    let mut clients = grpc::connect_with_timeout(endpoint, Duration::from_secs(10)).await?;
    let current = clients
        .kv
        .range(oxcd_api::etcdserverpb::RangeRequest {
            key: vec![0],
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_inner()
        .header
        .map_or(0, |h| h.revision);
    let mut session = WatchSession::open(&mut clients.watch).await?;
    session
        .create(WatchCreateRequest {
            key: vec![0],
            range_end: vec![0],
            start_revision: 1,
            ..Default::default()
        })
        .await?;
    let mut changes = Vec::new();
    let mut reached = 1;
    while reached < current {
        let response = session
            .next(Duration::from_secs(30))
            .await?
            .with_context(|| format!("history stopped at revision {reached} of {current}"))?;
        anyhow::ensure!(!response.canceled, "history watch cancelled: {response:?}");
        for change in response.events.into_iter().map(Change::of) {
            reached = reached.max(change.revision);
            if change.key.as_slice() >= prefix && change.key.as_slice() < prefix_end {
                changes.push(change);
            }
        }
    }
    Ok(changes)
}
