//! Many watch streams on one member. How many one client connection may hold: clients that
//! multiplex every watch of a process over one connection (client-go, the Rust and Python
//! clients) rely on etcd's default of 2^32 - 1 concurrent streams; `--max-concurrent-streams`
//! lowers it, and a stream beyond the limit waits until another one closes (the flag came with
//! etcd 3.5.6, after the 3.5.1 oracle, so that test runs against oxcd only). And streams that
//! each watch their own key, as every node of a system watches its own configuration: a
//! stream is woken only by changes of its keys and skips the others unread, which must never
//! lose an event — among writes to other keys, at a progress request, or when the member
//! catches up by a snapshot and the skipped revisions are not known to it. The other tests run
//! against oxcd, or etcd with `OXT_SERVER=etcd`.

use std::time::Duration;

use oxcd_api::etcdserverpb::watch_request::RequestUnion;
use oxcd_api::etcdserverpb::{PutRequest, WatchCreateRequest, WatchProgressRequest, WatchResponse};
use oxcd_tests::watch_stream::WatchSession as Session;
use oxcd_tests::{Cluster, ClusterSpec, Server, grpc};

/// Twice what hyper's HTTP/2 server allows by default.
const STREAMS: usize = 400;
const KEY: &[u8] = b"watched";

/// Opens a stream on `clients`' connection and creates a watcher of `key` on it.
async fn watching(clients: &mut grpc::Clients, key: &[u8]) -> Session {
    let session = Session::open(&mut clients.watch).await.unwrap();
    session
        .create(WatchCreateRequest {
            key: key.to_vec(),
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
        sessions.push(watching(&mut clients, KEY).await);
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
    let mut first = watching(&mut clients, KEY).await;
    let mut second = watching(&mut clients, KEY).await;
    assert!(confirmed(&mut first, Duration::from_secs(10)).await);
    assert!(confirmed(&mut second, Duration::from_secs(10)).await);
    let mut third = watching(&mut clients, KEY).await;
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

/// [`watching`] `key`, once the watcher is confirmed.
async fn confirmed_watch(clients: &mut grpc::Clients, key: &str) -> Session {
    let mut session = watching(clients, key.as_bytes()).await;
    assert!(confirmed(&mut session, Duration::from_secs(20)).await);
    session
}

/// Puts `key` = `value` and returns the revision of the put.
async fn put(clients: &mut grpc::Clients, key: &str, value: &str) -> i64 {
    let response = clients
        .kv
        .put(PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    response.header.unwrap().revision
}

/// The (revision, value) of every event `session` receives until `count` have come.
async fn events_of(session: &mut Session, count: usize, wait: Duration) -> Vec<(i64, String)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let response: WatchResponse =
            session.next(wait).await.unwrap().unwrap_or_else(|| {
                panic!("only {} of {count} events arrived: {seen:?}", seen.len())
            });
        assert!(!response.canceled, "{response:?}");
        for event in response.events {
            let kv = event.kv.unwrap();
            seen.push((kv.mod_revision, String::from_utf8(kv.value).unwrap()));
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_of_their_own_keys_miss_nothing_among_other_writes() {
    const STREAMS: usize = 100;
    const ROUNDS: usize = 20;
    let cluster = Cluster::start(ClusterSpec::new(Server::from_env().unwrap(), 1))
        .await
        .unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    let mut sessions = Vec::new();
    for i in 0..STREAMS {
        sessions.push(confirmed_watch(&mut clients, &format!("node/{i}")).await);
    }
    // Every round writes 50 keys nobody watches, then some watched ones: stream i's key in
    // rounds i % ROUNDS and 7i % ROUNDS, so that streams hear at different revisions.
    let mut expected: Vec<Vec<(i64, String)>> = vec![Vec::new(); STREAMS];
    for round in 0..ROUNDS {
        for other in 0..50 {
            put(&mut clients, &format!("other/{other}"), "x").await;
        }
        for (i, owed) in expected.iter_mut().enumerate() {
            if i % ROUNDS == round || (i * 7) % ROUNDS == round {
                let value = format!("round-{round}");
                owed.push((put(&mut clients, &format!("node/{i}"), &value).await, value));
            }
        }
    }
    for (i, session) in sessions.iter_mut().enumerate() {
        let seen = events_of(session, expected[i].len(), Duration::from_secs(20)).await;
        assert_eq!(seen, expected[i], "stream {i}");
    }
    // A progress request is answered at the current revision, though the stream's watcher
    // last delivered far below it, and nothing comes after it.
    let current = put(&mut clients, "other/last", "x").await;
    let quiet = &mut sessions[1];
    quiet
        .send(RequestUnion::ProgressRequest(WatchProgressRequest {}))
        .await
        .unwrap();
    let progress = quiet.next(Duration::from_secs(20)).await.unwrap().unwrap();
    assert!(progress.events.is_empty(), "{progress:?}");
    assert_eq!(progress.header.unwrap().revision, current);
    let value = "after".to_string();
    let revision = put(&mut clients, "node/1", &value).await;
    assert_eq!(
        events_of(quiet, 1, Duration::from_secs(20)).await,
        vec![(revision, value)]
    );
}

/// etcd 3.5.1 fails this one: after the snapshot it sends the event from before the pause
/// again (etcd-io/etcd#15271, fixed in 3.5.8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_catching_up_by_snapshot_delivers_what_its_watchers_missed() {
    // As in faults.rs: a lag beyond etcd's 5000 catch-up entries forces a snapshot transfer.
    const WRITES: usize = 6_000;
    const KEYS: usize = 1_200;
    let spec = ClusterSpec::new(Server::from_env().unwrap(), 3).args(["--snapshot-count", "100"]);
    let mut cluster = Cluster::start(spec).await.unwrap();
    let leader = cluster.leader(Duration::from_secs(30)).await.unwrap();
    let behind = (leader + 1) % 3;
    let watched = "snap/00007";
    let mut on_behind = cluster.client(behind).await.unwrap();
    let mut session = confirmed_watch(&mut on_behind, watched).await;
    cluster.pause(behind).unwrap();
    let mut writer = cluster.client(leader).await.unwrap();
    let mut expected = Vec::new();
    for n in 0..WRITES {
        let key = format!("snap/{:05}", n % KEYS);
        let value = format!("value-{n}");
        let revision = put(&mut writer, &key, &value).await;
        if key == watched {
            expected.push((revision, value));
        }
    }
    cluster.resume(behind).unwrap();
    let seen = events_of(&mut session, expected.len(), Duration::from_secs(60)).await;
    assert_eq!(seen, expected);
}
