//! The watch workloads.
//!
//! `watch-fanout`: `--watchers` watchers of one key, spread over `--streams` Watch streams
//! (on the `--conns` connections), all created before the clock starts; then `--total` puts of
//! that key, `--clients` at a time. Every event delivered to every watcher counts as one
//! "request", its latency the time from the put being sent (stamped into the value) to the
//! event arriving; the throughput is events delivered per second.
//!
//! `watch-hold`: creates the watchers, prints `ready` once all are confirmed, and keeps them
//! for `--hold` so that the caller can measure the members' memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oxcd_api::etcdserverpb::watch_client::WatchClient;
use oxcd_api::etcdserverpb::watch_request::RequestUnion;
use oxcd_api::etcdserverpb::{PutRequest, WatchCreateRequest, WatchRequest, WatchResponse};
use tokio::sync::mpsc;
use tonic::Streaming;

use crate::connections::{BenchChannel, Connections};
use crate::latency::LatencyRecorder;
use crate::runner::RunOutcome;

/// The key every watcher watches and every put writes.
const WATCHED_KEY: &[u8] = b"oxbench-watch-key";
/// The bytes of a value that carry the send time.
const STAMP: usize = 8;

/// Shape of a watch run.
#[derive(Clone, Copy, Debug)]
pub struct WatchShape {
    /// Watchers in all.
    pub watchers: usize,
    /// Streams they are spread over.
    pub streams: usize,
}

/// One stream with its watchers created and confirmed.
struct OpenStream {
    /// Keeps the request side open (closing it would end the stream).
    _requests: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
    watchers: usize,
}

async fn open_stream(channel: BenchChannel, watchers: usize) -> Result<OpenStream> {
    let (requests, rx) = mpsc::channel(watchers.max(1));
    let mut client = WatchClient::new(channel).max_decoding_message_size(usize::MAX);
    // grpc-go sends response headers only with the first message, so the call completes
    // only once a create has been answered: send the creates from a task.
    let sender = requests.clone();
    tokio::spawn(async move {
        for _ in 0..watchers {
            let create = WatchRequest {
                request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                    key: WATCHED_KEY.to_vec(),
                    ..Default::default()
                })),
            };
            if sender.send(create).await.is_err() {
                return;
            }
        }
    });
    let mut responses = client
        .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .context("opening a watch stream")?
        .into_inner();
    let mut created = 0;
    while created < watchers {
        let response = responses
            .message()
            .await?
            .context("watch stream ended while creating watchers")?;
        if response.canceled {
            bail!("watch refused: {}", response.cancel_reason);
        }
        created += usize::from(response.created);
    }
    Ok(OpenStream {
        _requests: requests,
        responses,
        watchers,
    })
}

/// Opens every stream and creates every watcher, `streams` at a time.
async fn open_all(connections: &Connections, shape: WatchShape) -> Result<Vec<OpenStream>> {
    if shape.streams == 0 || shape.watchers < shape.streams {
        bail!("expected --watchers >= --streams > 0");
    }
    let per_stream = shape.watchers / shape.streams;
    let extra = shape.watchers % shape.streams;
    let opening: Vec<_> = (0..shape.streams)
        .map(|i| {
            let channel = connections.channel(i);
            let watchers = per_stream + usize::from(i < extra);
            tokio::spawn(open_stream(channel, watchers))
        })
        .collect();
    let mut streams = Vec::with_capacity(opening.len());
    for stream in opening {
        streams.push(stream.await.context("a stream task failed")??);
    }
    Ok(streams)
}

/// Runs `watch-fanout`.
pub async fn fanout(
    connections: &Connections,
    shape: WatchShape,
    clients: usize,
    puts: u64,
    value_size: usize,
) -> Result<RunOutcome> {
    let streams = open_all(connections, shape).await?;
    let epoch = Instant::now();
    let receivers: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(receive(stream, puts, epoch)))
        .collect();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..clients.max(1))
        .map(|i| {
            let mut kv = connections.kv_client(i);
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    if next.fetch_add(1, Ordering::Relaxed) >= puts {
                        return Ok::<(), tonic::Status>(());
                    }
                    let mut value = vec![b'w'; value_size.max(STAMP)];
                    let stamp = epoch.elapsed().as_nanos() as u64;
                    value[..STAMP].copy_from_slice(&stamp.to_be_bytes());
                    kv.put(PutRequest {
                        key: WATCHED_KEY.to_vec(),
                        value,
                        ..Default::default()
                    })
                    .await?;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.context("a writer task failed")??;
    }
    let mut latencies = LatencyRecorder::new();
    let mut last = started;
    for receiver in receivers {
        let (recorded, finished) = receiver.await.context("a stream task failed")??;
        latencies.merge(&recorded)?;
        last = last.max(finished);
    }
    Ok(RunOutcome {
        elapsed: last - started,
        latencies,
    })
}

/// Counts a stream's events until each of its watchers has seen `puts` of them.
async fn receive(
    mut stream: OpenStream,
    puts: u64,
    epoch: Instant,
) -> Result<(LatencyRecorder, Instant)> {
    let mut recorder = LatencyRecorder::new();
    let expected = stream.watchers as u64 * puts;
    let mut seen = 0;
    while seen < expected {
        let response = stream
            .responses
            .message()
            .await?
            .context("watch stream ended")?;
        let now = epoch.elapsed().as_nanos() as u64;
        for event in &response.events {
            let value = event.kv.as_ref().map_or(&[][..], |kv| kv.value.as_slice());
            let stamp = value
                .get(..STAMP)
                .and_then(|b| b.try_into().ok())
                .map_or(now, u64::from_be_bytes);
            recorder.record(Duration::from_nanos(now.saturating_sub(stamp)));
            seen += 1;
        }
    }
    Ok((recorder, Instant::now()))
}

/// Runs `watch-hold`: creates the watchers, says `ready`, holds them for `hold`.
pub async fn hold(
    connections: &Connections,
    shape: WatchShape,
    hold: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let streams = open_all(connections, shape).await?;
    let created_in = started.elapsed();
    println!("ready");
    tokio::time::sleep(hold).await;
    drop(streams);
    Ok(created_in)
}
