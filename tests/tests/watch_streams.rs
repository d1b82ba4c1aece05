//! How many watch streams one client connection may hold. Clients that multiplex every watch
//! of a process over one connection (client-go, the Rust and Python clients) rely on etcd's
//! default of 2^32 - 1 concurrent streams; `--max-concurrent-streams` lowers it, and a stream
//! beyond the limit waits until another one closes. The first test runs against oxcd, or etcd
//! with `OXT_SERVER=etcd`; the flag came with etcd 3.5.6, after the 3.5.1 oracle, so its test
//! runs against oxcd only.

use std::time::Duration;

use oxcd_api::etcdserverpb::{PutRequest, WatchCreateRequest};
use oxcd_tests::watch_stream::WatchSession as Session;
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Twice what hyper's HTTP/2 server allows by default.
const STREAMS: usize = 400;
const KEY: &[u8] = b"watched";

/// Opens a stream on `clients`' connection and creates a watcher of [`KEY`] on it.
async fn watching(clients: &mut oxcd_tests::grpc::Clients) -> Session {
    let session = Session::open(&mut clients.watch).await.unwrap();
    session
        .create(WatchCreateRequest {
            key: KEY.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    session
}

/// Waits for the confirmation of the stream's watcher.
async fn confirmed(session: &mut Session, wait: Duration) -> bool {
    match session.next(wait).await.unwrap() {
        Some(response) => {
            assert!(response.created && !response.canceled, "{response:?}");
            true
        }
        None => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_carries_hundreds_of_watch_streams() {
    let cluster = Cluster::start(ClusterSpec::new(Server::from_env().unwrap(), 1))
        .await
        .unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    let mut sessions = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        sessions.push(watching(&mut clients).await);
    }
    for (i, session) in sessions.iter_mut().enumerate() {
        assert!(
            confirmed(session, Duration::from_secs(20)).await,
            "stream {i} of {STREAMS} on one connection got no answer"
        );
    }
    clients
        .kv
        .put(PutRequest {
            key: KEY.to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    for (i, session) in sessions.iter_mut().enumerate() {
        let response = session
            .next(Duration::from_secs(20))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("stream {i} saw no event"));
        assert_eq!(response.events.len(), 1, "{response:?}");
        assert_eq!(response.events[0].kv.as_ref().unwrap().value, b"v");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_streams_bounds_a_connection() {
    let spec = ClusterSpec::new(Server::Oxcd, 1).args(["--max-concurrent-streams=2"]);
    let cluster = Cluster::start(spec).await.unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    let mut first = watching(&mut clients).await;
    let mut second = watching(&mut clients).await;
    assert!(confirmed(&mut first, Duration::from_secs(10)).await);
    assert!(confirmed(&mut second, Duration::from_secs(10)).await);
    let mut third = watching(&mut clients).await;
    assert!(
        !confirmed(&mut third, Duration::from_secs(2)).await,
        "a third stream was served on a connection limited to two"
    );
    drop(first);
    assert!(
        confirmed(&mut third, Duration::from_secs(10)).await,
        "the waiting stream was not served once another one closed"
    );
}
