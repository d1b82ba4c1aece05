//! Maintenance answers of a 3-member cluster compared with etcd 3.5.1's: the same script runs
//! against a 3-member etcd cluster and a 3-member cluster of the server under test and every
//! answer (response messages with member-specific header fields zeroed, or status code and
//! message) goes into a transcript; the transcripts must be equal. Covered: the `MemberList`
//! header (etcd's cluster service sets no revision); `MoveLeader` to the
//! leader itself, from a follower, to an unknown member and to a follower (leadership must
//! then move there); the shape of a `Snapshot` stream (no headers, remaining bytes counting
//! down to zero, a 32-byte digest last); `Hash` (values differ between implementations by
//! design, so what is compared is that every member gives the same hash for the same revision,
//! that a write changes it and that its header carries the current revision); `Defragment`
//! (its empty answer, a database that does not grow, the data unchanged, and real etcdctl's
//! `defrag --cluster` output).

use std::time::Duration;

use oxcd_api::etcdserverpb::{
    DefragmentRequest, DeleteRangeRequest, HashRequest, MemberListRequest, MoveLeaderRequest,
    PutRequest, RangeRequest, SnapshotRequest, StatusRequest,
};
use oxcd_tests::differential::masking::{CLUSTER_IDENTITY_FIELDS, mask_numbers};
use oxcd_tests::grpc::{Clients, connect};
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// Bound on leadership reaching the transferee.
const MOVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Zeroes the header fields that differ between two clusters holding the same data.
fn masked(debug: &str) -> String {
    mask_numbers(debug, &CLUSTER_IDENTITY_FIELDS)
}

fn shown<T: std::fmt::Debug>(answer: Result<tonic::Response<T>, tonic::Status>) -> String {
    match answer {
        Ok(resp) => masked(&format!("{:?}", resp.get_ref())),
        Err(status) => format!("{:?} {}", status.code(), status.message()),
    }
}

/// Every member's client, id, and the index of the leader.
async fn members(cluster: &Cluster) -> (Vec<Clients>, Vec<u64>, usize) {
    let leader = cluster.leader(MOVE_TIMEOUT).await.unwrap();
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for i in 0..cluster.size() {
        let mut c = connect(&cluster.member(i).client_url()).await.unwrap();
        let status = c.maintenance.status(StatusRequest {}).await.unwrap();
        ids.push(status.into_inner().header.unwrap().member_id);
        clients.push(c);
    }
    (clients, ids, leader)
}

async fn script(cluster: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    let (mut clients, ids, leader) = members(cluster).await;
    let follower = (leader + 1) % ids.len();

    let listed = clients[follower]
        .cluster
        .member_list(MemberListRequest::default())
        .await
        .unwrap();
    out.push(format!(
        "member list header: {}",
        masked(&format!("{:?}", listed.get_ref().header))
    ));

    let to_self = clients[leader]
        .maintenance
        .move_leader(MoveLeaderRequest {
            target_id: ids[leader],
        })
        .await;
    out.push(format!("move to the leader itself: {}", shown(to_self)));
    let from_follower = clients[follower]
        .maintenance
        .move_leader(MoveLeaderRequest {
            target_id: ids[follower],
        })
        .await;
    out.push(format!(
        "move asked of a follower: {}",
        shown(from_follower)
    ));
    let to_unknown = clients[leader]
        .maintenance
        .move_leader(MoveLeaderRequest { target_id: 12345 })
        .await;
    out.push(format!("move to an unknown member: {}", shown(to_unknown)));
    let moved = clients[leader]
        .maintenance
        .move_leader(MoveLeaderRequest {
            target_id: ids[follower],
        })
        .await;
    out.push(format!("move to a follower: {}", shown(moved)));
    let now = clients[follower]
        .maintenance
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .leader;
    out.push(format!(
        "leader is then the transferee: {}",
        now == ids[follower]
    ));

    let mut stream = clients[follower]
        .maintenance
        .snapshot(SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        messages.push(message);
    }
    let (digest, data) = messages.split_last().expect("an empty snapshot stream");
    out.push(format!(
        "snapshot: headers {:?}, digest {} bytes with {} remaining, data remaining counts down to 0: {}",
        messages.iter().map(|m| m.header.is_some()).max(),
        digest.blob.len(),
        digest.remaining_bytes,
        data.windows(2)
            .all(|w| w[1].remaining_bytes + w[1].blob.len() as u64 == w[0].remaining_bytes)
            && data.last().is_some_and(|m| m.remaining_bytes == 0),
    ));
    hash_script(&mut clients, &mut out).await;
    defrag_script(cluster, &mut clients, &mut out).await;
    out
}

async fn defrag_script(cluster: &Cluster, clients: &mut [Clients], out: &mut Vec<String>) {
    for n in 0..300 {
        let put = PutRequest {
            key: format!("defrag/{n:03}").into_bytes(),
            value: vec![b'd'; 2000],
            ..Default::default()
        };
        clients[0].kv.put(put).await.unwrap();
    }
    let delete = DeleteRangeRequest {
        key: b"defrag/".to_vec(),
        range_end: b"defrag0".to_vec(),
        ..Default::default()
    };
    clients[0].kv.delete_range(delete).await.unwrap();
    let before = hashes(clients).await;
    let size = |c: &mut Clients| {
        let mut m = c.maintenance.clone();
        async move {
            m.status(StatusRequest {})
                .await
                .unwrap()
                .into_inner()
                .db_size
        }
    };
    let size_before = size(&mut clients[1]).await;
    let answer = clients[1]
        .maintenance
        .defragment(DefragmentRequest {})
        .await;
    out.push(format!("defragment: {}", shown(answer)));
    let size_after = size(&mut clients[1]).await;
    let after = hashes(clients).await;
    out.push(format!(
        "defragment: the file did not grow {}, every member still agrees {}",
        size_after <= size_before,
        after == before
    ));
    let endpoints = cluster.endpoints();
    let ctl = Etcdctl::new(endpoints.clone())
        .run(&["defrag", "--cluster"])
        .await
        .unwrap();
    let mut printed = ctl.stdout.clone();
    for (i, endpoint) in endpoints.iter().enumerate() {
        printed = printed.replace(endpoint.as_str(), &format!("<member {i}>"));
    }
    let mut lines: Vec<&str> = printed.lines().collect();
    lines.sort_unstable();
    out.push(format!(
        "etcdctl defrag --cluster: exit {:?}, {lines:?}, stderr {:?}",
        ctl.code, ctl.stderr
    ));
}

/// Each member's `Hash` once all of them answer for the same revision.
async fn hashes(clients: &mut [Clients]) -> Vec<(u32, i64)> {
    for _ in 0..100 {
        let mut answers = Vec::new();
        for c in clients.iter_mut() {
            let resp = c
                .maintenance
                .hash(HashRequest {})
                .await
                .unwrap()
                .into_inner();
            answers.push((resp.hash, resp.header.unwrap().revision));
        }
        if answers.iter().all(|a| a.1 == answers[0].1) {
            return answers;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("members never answered Hash for the same revision");
}

async fn hash_script(clients: &mut [Clients], out: &mut Vec<String>) {
    let before = hashes(clients).await;
    let current = clients[0]
        .kv
        .range(RangeRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .header
        .unwrap()
        .revision;
    clients[0]
        .kv
        .put(PutRequest {
            key: b"hashed".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let after = hashes(clients).await;
    out.push(format!(
        "hash: nonzero {}, members agree {} and {}, header at the current revision {}, a put changes it {}",
        before[0].0 != 0,
        before.iter().all(|h| h.0 == before[0].0),
        after.iter().all(|h| h.0 == after[0].0),
        before[0].1 == current,
        after[0].0 != before[0].0 && after[0].1 == current + 1,
    ));
}

#[tokio::test]
async fn maintenance_answers_as_etcd_does() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 3).token("oxt-maint-a")),
        Cluster::start(ClusterSpec::new(target, 3).token("oxt-maint-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(script(&oracle), script(&subject));
    assert_eq!(
        expected.join("\n"),
        actual.join("\n"),
        "left: etcd 3.5.1, right: {target:?}"
    );
}
