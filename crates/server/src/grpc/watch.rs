//! The Watch service: one bidirectional stream carrying many watchers.
//!
//! Every stream is its own task owning its watchers, so a client that stops reading only stalls
//! its own stream: its task waits on the bounded send queue while holding at most one chunk,
//! and the writes, the other streams and the shared change ring (see `oxcd_mvcc::watch`) go
//! on. When it resumes, its watchers read what the ring dropped from the backend; when
//! compaction has overtaken them they are cancelled with the compacted revision, as etcd does.
//! Client requests are served between chunks, so a long catch-up never hides a cancel. A
//! watcher is created only if the stream's caller may read its whole range.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::watch_create_request::FilterType;
use oxcd_api::etcdserverpb::watch_request::RequestUnion;
use oxcd_api::etcdserverpb::watch_server::Watch;
use oxcd_api::etcdserverpb::{RangeRequest, WatchCreateRequest, WatchRequest, WatchResponse};
use oxcd_api::mvccpb::Event;
use oxcd_api::mvccpb::event::EventType;
use oxcd_mvcc::watch::{EventFilter, InterestId, StreamSignal, WatchHub, WatchProgress, Watcher};
use oxcd_mvcc::{ChunkLimit, KvStore};

use super::caller::caller;
use super::identity::ClientIdentity;
use super::request::{leader_required, max_request_message};
use crate::auth::RequestCheck;
use crate::server::EtcdServer;

/// Responses queued per stream before its task waits for the client to read.
const SEND_QUEUE: usize = 8;
/// What one watcher gathers per step: whole revisions, so a larger revision is sent whole.
const CHUNK: ChunkLimit = ChunkLimit {
    events: 1000,
    bytes: 1024 * 1024,
};
/// A response on its way to the stream's client, boxed: tokio allocates a channel's slots 32
/// at a time, and unboxed responses would cost every idle stream about 5 KiB (measured: 19.6
/// KB of member memory per idle stream unboxed, 14.3 KB boxed; the box costs ~10 % of the
/// CPU per delivered event).
type QueuedResponse = Result<Box<WatchResponse>, Status>;
/// The watch id etcd answers with when none applies (progress responses, refused creates).
const NO_WATCH_ID: i64 = -1;
/// etcd's reason for refusing a client-chosen id already in use on the stream.
const DUPLICATE_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";
/// etcd's reason for refusing a range whose end is not after its start.
const EMPTY_RANGE: &str = "mvcc: watcher range is empty";

/// `etcdserverpb.Watch`.
pub(super) struct WatchService {
    server: Arc<EtcdServer>,
}

impl WatchService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        WatchService { server }
    }
}

type WatchResponses = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchResponses;

    async fn watch(
        &self,
        request: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let require_leader = leader_required(&request);
        let metadata = request.metadata().clone();
        let identity = request.extensions().get::<ClientIdentity>().cloned();
        let requests = request.into_inner();
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        let stream = WatchStream::new(self.server.clone(), (metadata, identity), tx);
        tokio::spawn(stream.run(requests, require_leader));
        let queue = SendQueue {
            responses: ReceiverStream::new(rx),
            server: self.server.clone(),
        };
        Ok(Response::new(Box::pin(
            queue.map(|response: QueuedResponse| response.map(|r| *r)),
        )))
    }
}

/// The receiving end of a stream's response queue, as the connection takes from it: the
/// events of a response stop counting as pending once taken, or when the queue is dropped
/// with it unsent.
struct SendQueue {
    responses: ReceiverStream<QueuedResponse>,
    server: Arc<EtcdServer>,
}

impl SendQueue {
    fn taken(&self, response: &QueuedResponse) {
        if let Ok(response) = response
            && !response.events.is_empty()
        {
            self.server
                .metrics()
                .watch_lease()
                .add_pending_events(-(response.events.len() as i64));
        }
    }
}

impl Stream for SendQueue {
    type Item = QueuedResponse;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<QueuedResponse>> {
        let polled = Pin::new(&mut self.responses).poll_next(cx);
        if let std::task::Poll::Ready(Some(response)) = &polled {
            self.taken(response);
        }
        polled
    }
}

impl Drop for SendQueue {
    fn drop(&mut self) {
        let receiver = self.responses.as_mut();
        receiver.close();
        let mut unsent = Vec::new();
        while let Ok(response) = receiver.try_recv() {
            unsent.push(response);
        }
        for response in &unsent {
            self.taken(response);
        }
    }
}

/// Counts a watcher as slow (reading the backend, behind the change ring) until dropped.
struct SlowMark(Arc<EtcdServer>);

impl SlowMark {
    fn new(server: &Arc<EtcdServer>) -> SlowMark {
        server.metrics().watch_lease().add_slow_watchers(1);
        SlowMark(server.clone())
    }
}

impl Drop for SlowMark {
    fn drop(&mut self) {
        self.0.metrics().watch_lease().add_slow_watchers(-1);
    }
}

/// One watcher on a stream, with the options that shape its responses.
struct StreamWatcher {
    /// `None` once compaction cancelled it: like etcd, the id stays taken (and cancellable)
    /// until the client cancels it.
    watcher: Option<Watcher>,
    prev_kv: bool,
    fragment: bool,
    progress_notify: bool,
    /// Whether events went out since the last progress tick (etcd then skips the notification).
    sent_since_tick: bool,
    /// The watcher's span registered with the hub, and the revision the registration starts
    /// after: from then on, a change in the span wakes the stream and is noted.
    interest: Option<(InterestId, i64)>,
    /// Set while the watcher reads the backend, having fallen behind the change ring.
    slow: Option<SlowMark>,
}

impl StreamWatcher {
    fn is_behind(&self, hub: &WatchHub, until: i64) -> bool {
        self.watcher
            .as_ref()
            .is_some_and(|w| w.is_behind(hub, until))
    }

    /// Moves a watcher that has delivered everything since its registration past the
    /// revisions up to `published` in which nothing concerned its stream, without reading
    /// them: the stream was not even woken for them.
    fn skip_unconcerned(&mut self, signal: &StreamSignal, published: i64) {
        if let (Some(watcher), Some((_, registered_after))) = (&mut self.watcher, self.interest)
            && watcher.next_revision() > registered_after
        {
            watcher.skip_to(signal.skip_target(watcher.next_revision(), published));
        }
    }

    /// Ends the watcher (cancelled, compacted or failed) and withdraws its registration.
    fn retire(&mut self, hub: &WatchHub) {
        self.slow = None;
        if let (Some(watcher), Some((id, _))) = (self.watcher.take(), self.interest.take()) {
            hub.withdraw(id, watcher.key());
        }
    }
}

/// The state of one Watch stream, owned by its task.
struct WatchStream {
    server: Arc<EtcdServer>,
    /// The stream's metadata and client certificate: its caller is found again at every
    /// create, as etcd does (a token may have expired meanwhile).
    credentials: (MetadataMap, Option<ClientIdentity>),
    hub: Arc<WatchHub>,
    /// Wakes the stream when a change concerns one of its watchers.
    signal: Arc<StreamSignal>,
    tx: mpsc::Sender<QueuedResponse>,
    watchers: BTreeMap<i64, StreamWatcher>,
    next_auto_id: i64,
    /// Progress requests not answered yet, each with the revision published when it came.
    /// Watchers deliver up to the first one's revision and no further until it is answered,
    /// so its answer is exact — everything up to it delivered, nothing beyond (a bookmark a
    /// client can resume from) — and a steady stream of writes cannot postpone it.
    progress_targets: VecDeque<i64>,
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        let metrics = self.server.metrics().watch_lease();
        metrics.add_streams(-1);
        metrics.add_watchers(-(self.watchers.len() as i64));
        for watcher in self.watchers.values_mut() {
            watcher.retire(&self.hub);
        }
    }
}

/// The stream's task stops: the client went away.
struct Closed;

impl WatchStream {
    fn new(
        server: Arc<EtcdServer>,
        credentials: (MetadataMap, Option<ClientIdentity>),
        tx: mpsc::Sender<QueuedResponse>,
    ) -> Self {
        let hub = server.state().watch_hub().clone();
        server.metrics().watch_lease().add_streams(1);
        WatchStream {
            server,
            credentials,
            hub,
            signal: StreamSignal::new(),
            tx,
            watchers: BTreeMap::new(),
            next_auto_id: 0,
            progress_targets: VecDeque::new(),
        }
    }

    async fn run(mut self, requests: Streaming<WatchRequest>, require_leader: bool) {
        // Requests are read by a task of their own and reach this loop through a channel, so
        // that a wake-up for new changes does not also poll the HTTP/2 and gRPC decoding
        // layers. Dropping the set with this task ends the reader.
        let (request_tx, mut requests_rx) = mpsc::channel(SEND_QUEUE);
        let mut reader = tokio::task::JoinSet::new();
        reader.spawn(forward_requests(requests, request_tx));
        let server = self.server.clone();
        let leader_lost = server.leader_lost();
        tokio::pin!(leader_lost);
        // A client that finished sending still receives, as from etcd, until it goes away.
        let mut receiving = true;
        let interval = self.server.settings().watch_progress_notify_interval;
        let mut progress_tick = tokio::time::interval_at(
            tokio::time::Instant::now() + interval,
            interval.max(Duration::from_millis(1)),
        );
        loop {
            let behind = self.any_behind();
            // Moving watchers past changes that do not concern them may complete a progress
            // request without any wake-up.
            if self.answer_progress_requests().await.is_err() {
                return;
            }
            let outcome = tokio::select! {
                biased;
                request = requests_rx.recv(), if receiving => match request {
                    Some(Ok(request)) => self.handle(*request).await,
                    None => {
                        receiving = false;
                        Ok(())
                    }
                    Some(Err(Closed)) => Err(Closed),
                },
                () = self.tx.closed() => Err(Closed),
                () = &mut leader_lost, if require_leader => {
                    let _ = self.tx.send(Err(EtcdError::NoLeader.into())).await;
                    Err(Closed)
                }
                _ = progress_tick.tick() => self.notify_progress().await,
                () = std::future::ready(()), if behind => self.deliver_round().await,
                () = self.signal.matched(), if !behind => Ok(()),
            };
            if outcome.is_err() {
                return;
            }
        }
    }

    /// Answers the waiting progress requests whose revision every watcher has reached.
    async fn answer_progress_requests(&mut self) -> Result<(), Closed> {
        while let Some(&target) = self.progress_targets.front() {
            if !self.delivered_up_to(target) {
                break;
            }
            self.progress_targets.pop_front();
            self.send(WatchResponse {
                header: Some(self.server.header(target)),
                watch_id: NO_WATCH_ID,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// Whether a watcher has changes to deliver; watchers that were only behind by changes
    /// that do not concern the stream are moved past them first.
    fn any_behind(&mut self) -> bool {
        let until = self.deliver_until();
        self.skip_unconcerned(self.hub.revision().min(until));
        self.watchers
            .values()
            .any(|w| w.is_behind(&self.hub, until))
    }

    /// [`StreamWatcher::skip_unconcerned`] for every watcher, then forgets the noted
    /// revisions every watcher has passed.
    fn skip_unconcerned(&mut self, published: i64) {
        for watcher in self.watchers.values_mut() {
            watcher.skip_unconcerned(&self.signal, published);
        }
        let oldest = self
            .watchers
            .values()
            .filter_map(|w| w.watcher.as_ref().map(Watcher::next_revision))
            .min()
            .unwrap_or(published + 1);
        self.signal.forget_before(oldest);
    }

    /// How far watchers deliver now: while a progress request waits, exactly up to its
    /// revision, so that all of them meet there and its answer is a revision no watcher has
    /// delivered beyond; otherwise as far as the hub has published.
    fn deliver_until(&self) -> i64 {
        self.progress_targets.front().copied().unwrap_or(i64::MAX)
    }

    /// Whether every watcher has delivered everything up to `revision`.
    fn delivered_up_to(&self, revision: i64) -> bool {
        self.watchers.values().all(|w| {
            w.watcher
                .as_ref()
                .is_none_or(|w| w.next_revision() > revision)
        })
    }

    async fn handle(&mut self, request: WatchRequest) -> Result<(), Closed> {
        match request.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.create(create).await,
            Some(RequestUnion::CancelRequest(cancel)) => {
                if let Some(mut cancelled) = self.watchers.remove(&cancel.watch_id) {
                    cancelled.retire(&self.hub);
                    self.server.metrics().watch_lease().add_watchers(-1);
                    self.send(WatchResponse {
                        header: Some(self.server.header(self.hub.revision())),
                        watch_id: cancel.watch_id,
                        canceled: true,
                        ..Default::default()
                    })
                    .await?;
                }
                Ok(())
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                self.progress_targets.push_back(self.hub.revision());
                Ok(())
            }
            None => Ok(()),
        }
    }

    async fn create(&mut self, mut create: WatchCreateRequest) -> Result<(), Closed> {
        let current = self.hub.revision();
        // etcd watches "\0" when no key is given.
        if create.key.is_empty() {
            create.key = vec![0];
        }
        // A range end of "\0" covers every key from the key on (etcd 3.5.1 checked only the
        // key itself then).
        if let Err(e) = self.permitted(&create.key, &create.range_end).await {
            return self.refuse_create(current, e.message()).await;
        }
        let bounded = !create.range_end.is_empty() && create.range_end != [0];
        if bounded && create.key >= create.range_end {
            return self.refuse_create(current, EMPTY_RANGE).await;
        }
        let id = if create.watch_id == 0 {
            while self.watchers.contains_key(&self.next_auto_id) {
                self.next_auto_id += 1;
            }
            self.next_auto_id += 1;
            self.next_auto_id - 1
        } else if self.watchers.contains_key(&create.watch_id) {
            return self.refuse_create(current, DUPLICATE_ID).await;
        } else {
            create.watch_id
        };
        let filters: BTreeSet<i32> = create.filters.iter().copied().collect();
        let filter = EventFilter {
            no_put: filters.contains(&(FilterType::Noput as i32)),
            no_delete: filters.contains(&(FilterType::Nodelete as i32)),
        };
        let start = if create.start_revision == 0 {
            current + 1
        } else {
            create.start_revision
        };
        self.send(WatchResponse {
            header: Some(self.server.header(current)),
            watch_id: id,
            created: true,
            ..Default::default()
        })
        .await?;
        self.server.metrics().watch_lease().add_watchers(1);
        let compacted = self.server.state().kv().compact_revision();
        let compacted_away = create.start_revision != 0 && create.start_revision < compacted;
        let interest = (!compacted_away).then(|| {
            self.hub
                .register(&create.key, &create.range_end, &self.signal)
        });
        self.watchers.insert(
            id,
            StreamWatcher {
                watcher: (!compacted_away)
                    .then(|| Watcher::new(create.key, create.range_end, filter, start)),
                prev_kv: create.prev_kv,
                fragment: create.fragment,
                progress_notify: create.progress_notify,
                sent_since_tick: false,
                interest,
                slow: None,
            },
        );
        if compacted_away {
            self.send_compacted(id, compacted).await?;
        }
        Ok(())
    }

    /// Whether the stream's caller may watch `[key, range_end)`.
    async fn permitted(&self, key: &[u8], range_end: &[u8]) -> Result<(), EtcdError> {
        let (metadata, identity) = &self.credentials;
        let caller = caller(&self.server, metadata, identity.as_ref()).await?;
        let state = self.server.state();
        RequestCheck::new(state.auth(), state.lessor(), &caller).range(key, range_end)
    }

    /// etcd's answer to a create it cannot honour: created and cancelled at once, id -1.
    async fn refuse_create(&mut self, current: i64, reason: &str) -> Result<(), Closed> {
        self.send(WatchResponse {
            header: Some(self.server.header(current)),
            watch_id: NO_WATCH_ID,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..Default::default()
        })
        .await
    }

    /// One step for every watcher that is behind, in id order, so that a watcher with a long
    /// history to catch up with shares the stream fairly with the others.
    async fn deliver_round(&mut self) -> Result<(), Closed> {
        let store = self.server.state().kv();
        let until = self.deliver_until();
        let ids: Vec<i64> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.is_behind(&self.hub, until))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(w) = self.watchers.get_mut(&id) else {
                continue;
            };
            let Some(watcher) = w.watcher.as_mut() else {
                continue;
            };
            // Reading the backend (a watcher behind the ring) is blocking work: let the
            // runtime move other tasks off this thread meanwhile.
            let in_ring = self.hub.holds(watcher.next_revision());
            let progress = if in_ring {
                watcher.step(&self.hub, &store, CHUNK, until)
            } else {
                tokio::task::block_in_place(|| watcher.step(&self.hub, &store, CHUNK, until))
            };
            match (&w.slow, in_ring) {
                (Some(_), true) => w.slow = None,
                (None, false) => w.slow = Some(SlowMark::new(&self.server)),
                _ => {}
            }
            match progress {
                WatchProgress::UpToDate => {}
                WatchProgress::Chunk(chunk) if chunk.events.is_empty() => {}
                WatchProgress::Chunk(chunk) => {
                    w.sent_since_tick = true;
                    self.server
                        .metrics()
                        .watch_lease()
                        .add_events(chunk.events.len());
                    let (prev_kv, fragment) = (w.prev_kv, w.fragment);
                    let mut events = chunk.events;
                    if prev_kv {
                        tokio::task::block_in_place(|| fill_prev_kvs(&store, &mut events));
                    }
                    let response = WatchResponse {
                        header: Some(self.server.header(chunk.revision)),
                        watch_id: id,
                        events,
                        ..Default::default()
                    };
                    if fragment {
                        let limit = max_request_message(&self.server);
                        for part in fragments(response, limit) {
                            self.send(part).await?;
                        }
                    } else {
                        self.send(response).await?;
                    }
                }
                WatchProgress::Compacted(compacted) => {
                    w.retire(&self.hub);
                    self.send_compacted(id, compacted).await?;
                }
                WatchProgress::Failed(e) => {
                    tracing::warn!(watch_id = id, error = %e, "watcher could not read the change history");
                    w.retire(&self.hub);
                    self.send(WatchResponse {
                        header: Some(self.server.header(self.hub.revision())),
                        watch_id: id,
                        canceled: true,
                        cancel_reason: e.to_string(),
                        ..Default::default()
                    })
                    .await?;
                }
            }
        }
        // A long catch-up with nothing to send would otherwise never reach an await point.
        tokio::task::yield_now().await;
        Ok(())
    }

    /// The periodic notification for watchers that asked for it: those that are caught up and
    /// sent nothing since the last tick learn the current revision.
    async fn notify_progress(&mut self) -> Result<(), Closed> {
        let revision = self.hub.revision();
        self.skip_unconcerned(revision);
        let mut due = Vec::new();
        for (id, w) in &mut self.watchers {
            // Compared with the revision read above, so a commit racing with this loop
            // cannot make a notification claim a revision not yet delivered.
            let caught_up = w
                .watcher
                .as_ref()
                .is_some_and(|watcher| watcher.next_revision() > revision);
            if w.progress_notify && !w.sent_since_tick && caught_up {
                due.push(*id);
            }
            w.sent_since_tick = false;
        }
        for id in due {
            self.send(WatchResponse {
                header: Some(self.server.header(revision)),
                watch_id: id,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// etcd's notice that compaction overtook a watcher; its header carries revision 0.
    async fn send_compacted(&mut self, id: i64, compacted: i64) -> Result<(), Closed> {
        self.send(WatchResponse {
            header: Some(self.server.header(0)),
            watch_id: id,
            canceled: true,
            compact_revision: compacted,
            ..Default::default()
        })
        .await
    }

    async fn send(&self, response: WatchResponse) -> Result<(), Closed> {
        let events = response.events.len() as i64;
        let pending = self.server.metrics().watch_lease();
        pending.add_pending_events(events);
        let sent = self.tx.send(Ok(Box::new(response))).await;
        if sent.is_err() {
            pending.add_pending_events(-events);
        }
        sent.map_err(|_| Closed)
    }
}

/// Passes the client's requests on to its stream's task until the client stops sending
/// (the channel then closes) or the stream breaks (`Closed` is passed on).
async fn forward_requests(
    mut requests: Streaming<WatchRequest>,
    // Boxed for the same reason as `QueuedResponse`; requests are rare.
    to_stream: mpsc::Sender<Result<Box<WatchRequest>, Closed>>,
) {
    loop {
        let request = match requests.message().await {
            Ok(Some(request)) => Ok(Box::new(request)),
            Ok(None) => return,
            Err(_) => Err(Closed),
        };
        let broken = request.is_err();
        if to_stream.send(request).await.is_err() || broken {
            return;
        }
    }
}

/// Fills each non-create event's `prev_kv` with the key as it was just before the event, read
/// at `mod_revision - 1`; left empty when that revision has been compacted away.
fn fill_prev_kvs(store: &KvStore, events: &mut [Event]) {
    for event in events {
        let Some(kv) = &event.kv else { continue };
        let is_create =
            event.r#type == EventType::Put as i32 && kv.create_revision == kv.mod_revision;
        if is_create {
            continue;
        }
        let before = store.range(&RangeRequest {
            key: kv.key.clone(),
            revision: kv.mod_revision - 1,
            ..Default::default()
        });
        if let Ok(found) = before {
            event.prev_kv = found.kvs.into_iter().next();
        }
    }
}

/// Splits a response larger than `limit` bytes into fragments of whole events (at least one
/// each); every fragment but the last is marked `fragment`. A response within the limit, or
/// with one event, goes out as it is.
fn fragments(response: WatchResponse, limit: usize) -> Vec<WatchResponse> {
    if response.encoded_len() < limit || response.events.len() < 2 {
        return vec![response];
    }
    let mut parts = Vec::new();
    let mut events = response.events.into_iter().peekable();
    let shell = WatchResponse {
        events: Vec::new(),
        fragment: true,
        ..response
    };
    while events.peek().is_some() {
        let mut part = shell.clone();
        while let Some(event) = events.next_if(|event| {
            part.events.is_empty() || part.encoded_len() + event.encoded_len() + 2 < limit
        }) {
            part.events.push(event);
        }
        parts.push(part);
    }
    if let Some(last) = parts.last_mut() {
        last.fragment = false;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_api::mvccpb::KeyValue;

    fn event(size: usize) -> Event {
        Event {
            kv: Some(KeyValue {
                key: b"k".to_vec(),
                value: vec![7; size],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn small_responses_are_not_fragmented() {
        let response = WatchResponse {
            events: vec![event(10), event(10)],
            ..Default::default()
        };
        let parts = fragments(response, 1000);
        assert_eq!(parts.len(), 1);
        assert!(!parts[0].fragment);
    }

    #[test]
    fn large_responses_split_into_marked_fragments() {
        let response = WatchResponse {
            watch_id: 3,
            events: (0..10).map(|_| event(300)).collect(),
            ..Default::default()
        };
        let parts = fragments(response, 1000);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        assert_eq!(parts.iter().map(|p| p.events.len()).sum::<usize>(), 10);
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(part.watch_id, 3);
            assert_eq!(part.fragment, i + 1 < parts.len());
            assert!(part.encoded_len() < 1000 || part.events.len() == 1);
        }
    }

    #[test]
    fn an_event_larger_than_the_limit_travels_alone() {
        let response = WatchResponse {
            events: vec![event(10), event(5000), event(10)],
            ..Default::default()
        };
        let parts = fragments(response, 1000);
        assert_eq!(
            parts.iter().map(|p| p.events.len()).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}
