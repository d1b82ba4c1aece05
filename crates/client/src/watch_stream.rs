//! [`Client::watch_stream`]: a watch that outlives its gRPC stream. When the stream breaks
//! (member killed, connection reset, member cut off from the leader) the watch is re-created
//! on the next endpoint from the revision after the last one delivered, so the caller sees
//! every change once, in order. What cannot be resumed — a compacted start revision, a cancel
//! by the server, a refused request — ends the stream with a [`WatchError`].

use crate::client::Client;
use crate::error::ClientError;
use crate::kv::{GetOptions, RangeEnd, header_of};
use oxcd_api::etcdserverpb::{
    ResponseHeader, WatchCreateRequest, WatchRequest, WatchResponse, watch_create_request,
    watch_request,
};
use oxcd_api::mvccpb::Event;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// First and longest pause before re-opening a broken watch; the first retry is quick so a
/// failover costs little, repeated failures back off.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LONGEST_RETRY: Duration = Duration::from_secs(1);

/// Options of [`Client::watch_stream`], built by chaining.
///
/// ```
/// use oxcd_client::WatchOptions;
/// let options = WatchOptions::new().prefix().start_revision(42).prev_kv();
/// ```
#[derive(Debug, Clone)]
pub struct WatchOptions {
    range_end: RangeEnd,
    start_revision: i64,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    require_leader: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            range_end: RangeEnd::Key,
            start_revision: 0,
            prev_kv: false,
            no_put: false,
            no_delete: false,
            progress_notify: false,
            require_leader: true,
        }
    }
}

impl WatchOptions {
    /// Watches one key from the next change on, on members that have a leader.
    pub fn new() -> WatchOptions {
        WatchOptions::default()
    }

    /// Watches every key starting with the key.
    pub fn prefix(mut self) -> WatchOptions {
        self.range_end = RangeEnd::Prefix;
        self
    }

    /// Watches the keys in `[key, end)`.
    pub fn range_end(mut self, end: impl Into<Vec<u8>>) -> WatchOptions {
        self.range_end = RangeEnd::End(end.into());
        self
    }

    /// Watches every key at or after the key.
    pub fn from_key(mut self) -> WatchOptions {
        self.range_end = RangeEnd::FromKey;
        self
    }

    /// Delivers changes from `revision` on (0: from the next change). A revision older than
    /// the last compaction ends the stream with [`WatchError::Compacted`].
    pub fn start_revision(mut self, revision: i64) -> WatchOptions {
        self.start_revision = revision;
        self
    }

    /// Events carry the key-value pair as it was before the change.
    pub fn prev_kv(mut self) -> WatchOptions {
        self.prev_kv = true;
        self
    }

    /// Leaves puts out.
    pub fn no_put(mut self) -> WatchOptions {
        self.no_put = true;
        self
    }

    /// Leaves deletes out.
    pub fn no_delete(mut self) -> WatchOptions {
        self.no_delete = true;
        self
    }

    /// Asks the server for periodic progress notifications, delivered as batches without
    /// events ([`WatchBatch::is_progress_notify`]). Notifications advance the resume
    /// revision whether or not they are asked for here.
    pub fn progress_notify(mut self) -> WatchOptions {
        self.progress_notify = true;
        self
    }

    /// Whether only members with a leader may serve the watch (default true, as clientv3's
    /// `WithRequireLeader`): a member that loses its leader then ends the stream, and the
    /// watch moves to another member instead of going silent.
    pub fn require_leader(mut self, required: bool) -> WatchOptions {
        self.require_leader = required;
        self
    }

    /// The create request for `key` from `start_revision`.
    fn create_request(&self, key: &[u8], start_revision: i64) -> WatchRequest {
        let mut filters = Vec::new();
        if self.no_put {
            filters.push(watch_create_request::FilterType::Noput as i32);
        }
        if self.no_delete {
            filters.push(watch_create_request::FilterType::Nodelete as i32);
        }
        let (key, range_end) = self.range_end.apply(key.to_vec());
        WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key,
                    range_end,
                    start_revision,
                    progress_notify: self.progress_notify,
                    filters,
                    prev_kv: self.prev_kv,
                    watch_id: 0,
                    fragment: false,
                },
            )),
        }
    }
}

/// Changes delivered together: events of one or more whole revisions, in order, or none at
/// all for a progress notification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchBatch {
    /// The header of the watch response (its revision is the store's when it was sent).
    pub header: ResponseHeader,
    /// The changes.
    pub events: Vec<Event>,
}

impl WatchBatch {
    /// The revision of the last change in the batch, or for a progress notification the
    /// revision every change up to which has been delivered.
    pub fn revision(&self) -> i64 {
        self.events
            .last()
            .and_then(|event| event.kv.as_ref())
            .map_or(self.header.revision, |kv| kv.mod_revision)
    }

    /// True for a progress notification (no events).
    pub fn is_progress_notify(&self) -> bool {
        self.events.is_empty()
    }
}

/// Why a [`WatchStream`] ended.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The revision to watch from was compacted away; changes up to `compact_revision` can
    /// no longer be delivered. The caller decides: reload the state and watch again.
    #[error(
        "etcdserver: mvcc: required revision has been compacted (compact revision {compact_revision})"
    )]
    Compacted {
        /// The revision the store was compacted at; watching may resume from it.
        compact_revision: i64,
    },
    /// The server cancelled the watch.
    #[error("watch canceled: {reason}")]
    Canceled {
        /// The server's reason.
        reason: String,
    },
    /// A call failed in a way retrying cannot fix (bad request, permission denied, ...).
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The changes [`Client::watch_stream`] follows. Read with [`WatchStream::next`] or as a
/// [`tokio_stream::Stream`]; dropping it cancels the watch.
#[derive(Debug)]
pub struct WatchStream {
    rx: mpsc::Receiver<Result<WatchBatch, WatchError>>,
}

impl WatchStream {
    /// The next batch; after an error, `None`.
    pub async fn next(&mut self) -> Option<Result<WatchBatch, WatchError>> {
        self.rx.recv().await
    }
}

impl tokio_stream::Stream for WatchStream {
    type Item = Result<WatchBatch, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Client {
    /// Watches `key` (or the range `options` make of it), resuming after broken streams.
    ///
    /// When the stream breaks, the watch is re-created on another endpoint from the revision
    /// after the last delivered change (progress notifications count as delivered), so no
    /// change is skipped or repeated. With a start revision of 0 the client reads the current
    /// revision first and watches from the one after it, so even the first reconnect is exact.
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::WatchError> {
    /// use oxcd_client::{WatchError, WatchOptions};
    /// let mut changes = client.watch_stream("config/", WatchOptions::new().prefix());
    /// while let Some(batch) = changes.next().await {
    ///     match batch {
    ///         Ok(batch) => {
    ///             for event in &batch.events {
    ///                 println!("{:?} at {}", event.r#type(), batch.revision());
    ///             }
    ///         }
    ///         Err(WatchError::Compacted { compact_revision }) => {
    ///             println!("missed changes up to {compact_revision}: reload");
    ///         }
    ///         Err(other) => return Err(other),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch_stream(&self, key: impl Into<Vec<u8>>, options: WatchOptions) -> WatchStream {
        let (tx, rx) = mpsc::channel(16);
        let client = self.clone();
        let key = key.into();
        tokio::spawn(async move {
            tokio::select! {
                ended = follow(&client, &key, &options, &tx) => {
                    if let Err(error) = ended {
                        let _ = tx.send(Err(error)).await;
                    }
                }
                _ = tx.closed() => {}
            }
        });
        WatchStream { rx }
    }
}

/// Runs watch streams one after another until one ends for good; returns `Ok` when the
/// receiver went away.
async fn follow(
    client: &Client,
    key: &[u8],
    options: &WatchOptions,
    tx: &mpsc::Sender<Result<WatchBatch, WatchError>>,
) -> Result<(), WatchError> {
    let mut next_revision = options.start_revision;
    let mut retry = FIRST_RETRY;
    loop {
        if next_revision <= 0 {
            // Any key serves to learn the revision; an empty one would be refused.
            let probe = if key.is_empty() {
                vec![0]
            } else {
                key.to_vec()
            };
            match client.get(probe, GetOptions::new().count_only()).await {
                Ok(now) => next_revision = now.revision() + 1,
                Err(error) if retryable(&error) => {
                    tracing::debug!(%error, "watch: reading the start revision failed");
                    retry = pause(retry).await;
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
        }
        match one_stream(client, key, options, &mut next_revision, &mut retry, tx).await {
            StreamEnd::ReceiverGone => return Ok(()),
            StreamEnd::Failed(error) => return Err(error),
            StreamEnd::Broken(status) => {
                tracing::debug!(?status, next_revision, "watch: stream broke, resuming");
                retry = pause(retry).await;
            }
        }
    }
}

/// Sleeps `retry`, returning the next pause.
async fn pause(retry: Duration) -> Duration {
    tokio::time::sleep(retry).await;
    (retry * 2).min(LONGEST_RETRY)
}

/// How one gRPC watch stream ended.
enum StreamEnd {
    ReceiverGone,
    Failed(WatchError),
    /// The stream broke (or never opened); a new one can resume.
    Broken(Option<tonic::Status>),
}

/// Opens one watch stream from `next_revision` and forwards its changes, advancing
/// `next_revision` past each delivered revision and progress notification.
async fn one_stream(
    client: &Client,
    key: &[u8],
    options: &WatchOptions,
    next_revision: &mut i64,
    retry: &mut Duration,
    tx: &mpsc::Sender<Result<WatchBatch, WatchError>>,
) -> StreamEnd {
    let mut responses =
        match open(client, options.create_request(key, *next_revision), options).await {
            Ok(responses) => responses,
            Err(status) => return broken_or_failed(status),
        };
    loop {
        let message = responses.message().await;
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => return StreamEnd::Broken(None),
            Err(status) => return broken_or_failed(status),
        };
        if response.compact_revision > 0 {
            return StreamEnd::Failed(WatchError::Compacted {
                compact_revision: response.compact_revision,
            });
        }
        if response.canceled {
            return StreamEnd::Failed(WatchError::Canceled {
                reason: response.cancel_reason,
            });
        }
        if response.created {
            *retry = FIRST_RETRY;
            continue;
        }
        let batch = WatchBatch {
            header: *header_of(&response.header),
            events: response.events,
        };
        if batch.is_progress_notify() {
            // A notification promises every change up to its revision was sent.
            *next_revision = (*next_revision).max(batch.header.revision + 1);
            if !options.progress_notify {
                continue;
            }
        } else {
            *next_revision = batch.revision() + 1;
        }
        if tx.send(Ok(batch)).await.is_err() {
            return StreamEnd::ReceiverGone;
        }
    }
}

/// Opens a watch stream with `create` as its first request, marked as requiring a leader
/// when the options ask for it.
async fn open(
    client: &Client,
    create: WatchRequest,
    options: &WatchOptions,
) -> Result<tonic::Streaming<WatchResponse>, tonic::Status> {
    let (tx, rx) = mpsc::channel(1);
    // The receiver is alive here, so the send cannot fail.
    let _ = tx.try_send(create);
    let mut request = tonic::Request::new(KeepOpen {
        stream: ReceiverStream::new(rx),
        _tx: tx,
    });
    if options.require_leader {
        request.metadata_mut().insert(
            "hasleader",
            tonic::metadata::MetadataValue::from_static("true"),
        );
    }
    Ok(client.watch().watch(request).await?.into_inner())
}

/// Sorts a failed stream into one to resume and one to report.
fn broken_or_failed(status: tonic::Status) -> StreamEnd {
    let error = ClientError::from(status.clone());
    if retryable(&error) {
        StreamEnd::Broken(Some(status))
    } else {
        StreamEnd::Failed(error.into())
    }
}

/// Whether a failed call may succeed on another try or another member: the failures of a
/// connection or of a member (no leader, stopping, reset), not a refusal of the request.
pub(crate) fn retryable(error: &ClientError) -> bool {
    use tonic::Code::*;
    matches!(
        error.code(),
        Some(Unavailable | Unknown | Internal | Cancelled | DeadlineExceeded | Aborted)
    )
}

/// A request stream that holds its own sender, so the watch is not half-closed after the
/// create request (a half-closed watch stream ends on the server).
struct KeepOpen<T> {
    stream: ReceiverStream<T>,
    _tx: mpsc::Sender<T>,
}

impl<T> tokio_stream::Stream for KeepOpen<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_carries_the_options() {
        let options = WatchOptions::new().prefix().prev_kv().no_delete();
        let Some(watch_request::RequestUnion::CreateRequest(create)) =
            options.create_request(b"a/", 9).request_union
        else {
            panic!("not a create request");
        };
        assert_eq!(create.range_end, b"a0");
        assert_eq!(create.start_revision, 9);
        assert!(create.prev_kv);
        assert_eq!(
            create.filters,
            [watch_create_request::FilterType::Nodelete as i32]
        );
    }

    #[test]
    fn only_connection_failures_are_resumed() {
        let no_leader = ClientError::from(tonic::Status::from(oxcd_api::EtcdError::NoLeader));
        assert!(retryable(&no_leader));
        assert!(retryable(&ClientError::from(tonic::Status::unknown(
            "reset"
        ))));
        let denied = ClientError::from(tonic::Status::permission_denied("no"));
        assert!(!retryable(&denied));
        assert!(matches!(
            broken_or_failed(tonic::Status::invalid_argument("bad")),
            StreamEnd::Failed(WatchError::Client(_))
        ));
    }
}
