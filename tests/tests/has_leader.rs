//! Calls that require a leader (gRPC metadata `hasleader=true`, clientv3's
//! `WithRequireLeader`) on a member that has lost its leader answer as etcd 3.5.1's do: the same
//! script runs against a 3-member etcd cluster and a 3-member cluster of the server under test.
//! Streams that required a leader are opened first; then two members are killed, and once the
//! survivor knows no leader, unary calls of every service and new streams that require one are
//! refused, calls without the metadata are served as before (a serializable read), and the
//! streams opened earlier are ended. Every answer — status code and message, or what a
//! successful call returned — goes into a transcript; the transcripts must be equal.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use oxcd_api::etcdserverpb::watch_request::RequestUnion;
use oxcd_api::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, MemberListRequest, PutRequest, RangeRequest,
    StatusRequest, WatchCreateRequest, WatchRequest,
};
use oxcd_api::v3electionpb::{CampaignRequest, LeaderRequest};
use oxcd_api::v3lockpb::LockRequest;
use oxcd_tests::grpc::Clients;
use oxcd_tests::wait::{Attempt, until};
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Bound on the survivor noticing it has no leader (an election timeout or a few).
const LEADER_GONE: Duration = Duration::from_secs(30);
/// Bound on a leaderless member ending a stream that required a leader (etcd waits three
/// election timeouts).
const STREAM_ENDED: Duration = Duration::from_secs(30);
/// Bound on a call that must be answered at once.
const PROMPT: Duration = Duration::from_secs(10);

/// `message` as a call that requires a leader.
fn requiring_leader<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("hasleader", "true".parse().unwrap());
    request
}

/// How a call ended: the status code and message, or `ok` and what the caller looks at.
fn outcome<T>(answer: Result<T, tonic::Status>, shown: impl FnOnce(T) -> String) -> String {
    match answer {
        Ok(value) => format!("ok {}", shown(value)),
        Err(status) => format!("{:?} {}", status.code(), status.message()),
    }
}

/// The answer of a call that must come promptly.
async fn prompt<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
    shown: impl FnOnce(T) -> String,
) -> String {
    match tokio::time::timeout(PROMPT, call).await {
        Ok(answer) => outcome(answer, shown),
        Err(_) => "no answer".to_string(),
    }
}

/// How a stream opened before the leader was lost ends, or that it did not.
async fn end_of<T>(stream: tokio::task::JoinHandle<Result<Option<T>, tonic::Status>>) -> String {
    match tokio::time::timeout(STREAM_ENDED, stream).await {
        Ok(ended) => outcome(ended.expect("stream task"), |_| "end of stream".to_string()),
        Err(_) => "still open".to_string(),
    }
}

/// Reads `stream` until it ends.
async fn drain<T>(mut stream: tonic::Streaming<T>) -> Result<Option<T>, tonic::Status> {
    while stream.message().await?.is_some() {}
    Ok(None)
}

fn ignored<T>(_: T) -> String {
    String::new()
}

async fn watch_of_k(
    c: &Clients,
) -> Result<tonic::Streaming<oxcd_api::etcdserverpb::WatchResponse>, tonic::Status> {
    let (tx, rx) = mpsc::channel(1);
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut watch = c.watch.clone();
    let mut stream = watch
        .watch(requiring_leader(ReceiverStream::new(rx)))
        .await?
        .into_inner();
    // The request side stays open as long as the stream is read.
    tokio::spawn(async move {
        tx.closed().await;
    });
    stream.message().await?;
    Ok(stream)
}

async fn keep_alive_of(
    c: &Clients,
    id: i64,
) -> Result<tonic::Streaming<oxcd_api::etcdserverpb::LeaseKeepAliveResponse>, tonic::Status> {
    let (tx, rx) = mpsc::channel(1);
    tx.send(LeaseKeepAliveRequest { id }).await.unwrap();
    let mut lease = c.lease.clone();
    let mut stream = lease
        .lease_keep_alive(requiring_leader(ReceiverStream::new(rx)))
        .await?
        .into_inner();
    tokio::spawn(async move {
        tx.closed().await;
    });
    stream.message().await?;
    Ok(stream)
}

async fn script(mut cluster: Cluster) -> Vec<String> {
    let mut t = Vec::new();
    let leader = cluster.leader(LEADER_GONE).await.expect("a leader");
    // The survivor is a follower: losing its leader is then not its own doing.
    let survivor = (leader + 1) % 3;
    let mut c = cluster.client(survivor).await.unwrap();
    c.kv.put(PutRequest {
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        ..Default::default()
    })
    .await
    .expect("put k");
    c.lease
        .lease_grant(LeaseGrantRequest { ttl: 60, id: 0xa1 })
        .await
        .expect("lease grant");
    c.election
        .campaign(CampaignRequest {
            name: b"E".to_vec(),
            lease: 0xa1,
            value: b"first".to_vec(),
        })
        .await
        .expect("campaign");

    // Streams that require a leader, opened while there is one.
    let watch = tokio::spawn(drain(watch_of_k(&c).await.expect("watch")));
    let keep_alive = tokio::spawn(drain(keep_alive_of(&c, 0xa1).await.expect("keep-alive")));
    let mut observe = c
        .election
        .clone()
        .observe(requiring_leader(LeaderRequest {
            name: b"E".to_vec(),
        }))
        .await
        .expect("observe")
        .into_inner();
    observe.message().await.expect("the current leader");
    let observe = tokio::spawn(drain(observe));

    for i in 0..3 {
        if i != survivor {
            cluster.kill9(i).unwrap();
        }
    }
    let mut status = c.maintenance.clone();
    until("the survivor to know no leader", LEADER_GONE, || {
        let mut status = status.clone();
        async move {
            match status.status(StatusRequest {}).await {
                Ok(s) if s.get_ref().leader == 0 => Attempt::Done(()),
                Ok(s) => Attempt::Retry(format!("leader {:x}", s.get_ref().leader)),
                Err(e) => Attempt::Retry(e.to_string()),
            }
        }
    })
    .await
    .unwrap();

    let range = RangeRequest {
        key: b"k".to_vec(),
        serializable: true,
        ..Default::default()
    };
    let values = |r: tonic::Response<oxcd_api::etcdserverpb::RangeResponse>| {
        let kvs = &r.get_ref().kvs;
        format!(
            "{:?}",
            kvs.iter()
                .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
                .collect::<Vec<_>>()
        )
    };
    let (mut kv, mut lease, mut lock, mut election, mut cl) = (
        c.kv.clone(),
        c.lease.clone(),
        c.lock.clone(),
        c.election.clone(),
        c.cluster.clone(),
    );
    t.push(format!(
        "range s, hasleader: {}",
        prompt(kv.range(requiring_leader(range.clone())), values).await
    ));
    t.push(format!(
        "range l, hasleader: {}",
        prompt(
            kv.range(requiring_leader(RangeRequest {
                key: b"k".to_vec(),
                ..Default::default()
            })),
            values
        )
        .await
    ));
    t.push(format!(
        "put, hasleader: {}",
        prompt(
            kv.put(requiring_leader(PutRequest {
                key: b"k".to_vec(),
                value: b"w".to_vec(),
                ..Default::default()
            })),
            ignored
        )
        .await
    ));
    t.push(format!(
        "lease grant, hasleader: {}",
        prompt(
            lease.lease_grant(requiring_leader(LeaseGrantRequest { ttl: 60, id: 0 })),
            ignored
        )
        .await
    ));
    t.push(format!(
        "lock, hasleader: {}",
        prompt(
            lock.lock(requiring_leader(LockRequest {
                name: b"L".to_vec(),
                lease: 0xa1,
            })),
            ignored
        )
        .await
    ));
    t.push(format!(
        "campaign, hasleader: {}",
        prompt(
            election.campaign(requiring_leader(CampaignRequest {
                name: b"E2".to_vec(),
                lease: 0xa1,
                value: b"second".to_vec(),
            })),
            ignored
        )
        .await
    ));
    t.push(format!(
        "leader, hasleader: {}",
        prompt(
            election.leader(requiring_leader(LeaderRequest {
                name: b"E".to_vec()
            })),
            ignored
        )
        .await
    ));
    t.push(format!(
        "observe, hasleader: {}",
        prompt(
            election.observe(requiring_leader(LeaderRequest {
                name: b"E".to_vec()
            })),
            ignored
        )
        .await
    ));
    t.push(format!(
        "status, hasleader: {}",
        prompt(status.status(requiring_leader(StatusRequest {})), ignored).await
    ));
    t.push(format!(
        "member list, hasleader: {}",
        prompt(
            cl.member_list(requiring_leader(MemberListRequest::default())),
            ignored
        )
        .await
    ));
    t.push(format!(
        "new watch, hasleader: {}",
        prompt(watch_of_k(&c), ignored).await
    ));
    t.push(format!(
        "new keep-alive, hasleader: {}",
        prompt(keep_alive_of(&c, 0xa1), ignored).await
    ));
    t.push(format!(
        "range s: {}",
        prompt(kv.range(range), values).await
    ));

    t.push(format!("watch opened before: {}", end_of(watch).await));
    t.push(format!(
        "keep-alive opened before: {}",
        end_of(keep_alive).await
    ));
    t.push(format!("observe opened before: {}", end_of(observe).await));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_requiring_a_leader_answer_as_etcd_does_without_one() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 3).token("oxt-hasleader-a")),
        Cluster::start(ClusterSpec::new(target, 3).token("oxt-hasleader-b")),
    );
    let (expected, actual) = tokio::join!(script(oracle.unwrap()), script(subject.unwrap()));
    assert!(
        expected
            .iter()
            .any(|line| line == "put, hasleader: Unavailable etcdserver: no leader"),
        "etcd must refuse a write that requires a leader:\n{}",
        expected.join("\n")
    );
    assert_eq!(
        expected.join("\n"),
        actual.join("\n"),
        "etcd's transcript, then the one under test"
    );
}
