//! Alarms and the backend quota compared with etcd 3.5.1: a single-member etcd and a
//! single-member server under test, both with a small `--quota-backend-bytes`, run the same
//! script and every answer goes into a transcript; the transcripts must be equal. Covered:
//! filling the backend until a put is refused with NOSPACE (the alarm raised by the member
//! itself), what stays allowed under NOSPACE (reads, read-only txns, deletes, compaction) and
//! what is refused (puts, txns that put, lease grants), the alarm in `Alarm GET` and in
//! `Status.errors`, disarming, the alarm raised again by the next put over quota, raising and
//! clearing CORRUPT by hand (every change refused while it is raised, reads still served),
//! raising an alarm twice, and the way back from NOSPACE: delete, compact, defragment, disarm,
//! and writes are taken again.
//!
//! One difference is deliberate and not compared: etcd also checks the quota when it applies
//! a put, and a put that passed the check at the gRPC layer but no longer fits when applied is
//! stored *and* answered "database space exceeded". oxcd answers that error only for requests
//! it did not store, so the puts that went in are counted as "at least those acknowledged".

use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmType, CompactionRequest, DefragmentRequest, DeleteRangeRequest,
    LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, StatusRequest, TxnRequest, request_op,
};
use oxcd_tests::differential::masking::mask_numbers;
use oxcd_tests::grpc::{Clients, connect};
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Small enough to fill in a second, large enough for an empty backend of either server.
const QUOTA: &str = "2000000";

/// The answers of one server, with its member id shown as `SELF`.
struct Transcript {
    lines: Vec<String>,
    member_id: u64,
}

impl Transcript {
    fn note<T: std::fmt::Debug>(
        &mut self,
        step: &str,
        answer: Result<tonic::Response<T>, tonic::Status>,
    ) {
        let text = match answer {
            Ok(resp) => format!("{:?}", resp.get_ref()),
            Err(status) => format!("{:?} {}", status.code(), status.message()),
        };
        self.text(step, &text);
    }

    fn text(&mut self, step: &str, text: &str) {
        let shown = masked(&text.replace(&self.member_id.to_string(), "SELF"));
        self.lines.push(format!("{step}: {shown}"));
    }
}

/// Zeroes the header fields that differ between two clusters, and revisions (the two servers
/// need different numbers of puts to fill their backends).
fn masked(debug: &str) -> String {
    mask_numbers(
        debug,
        &["cluster_id: ", "raft_term: ", "revision: ", "member_id: "],
    )
}

fn put(key: &str, size: usize) -> PutRequest {
    PutRequest {
        key: key.as_bytes().to_vec(),
        value: vec![b'v'; size],
        ..Default::default()
    }
}

fn alarm(action: AlarmAction, member_id: u64, alarm: AlarmType) -> AlarmRequest {
    AlarmRequest {
        action: action as i32,
        member_id,
        alarm: alarm as i32,
    }
}

/// Alarm GET with the alarms sorted (etcd lists them in Go map order).
async fn listed(c: &mut Clients) -> String {
    let mut alarms = c
        .maintenance
        .alarm(alarm(AlarmAction::Get, 0, AlarmType::None))
        .await
        .unwrap()
        .into_inner()
        .alarms;
    alarms.sort_by_key(|m| (m.alarm, m.member_id));
    format!("{alarms:?}")
}

async fn script(cluster: &Cluster) -> Vec<String> {
    let mut c = connect(&cluster.member(0).client_url()).await.unwrap();
    let member_id = c.member_id().await.unwrap();
    let mut t = Transcript {
        lines: Vec::new(),
        member_id,
    };

    let mut accepted = 0;
    let refusal = loop {
        match c.kv.put(put(&format!("fill/{accepted:05}"), 4096)).await {
            Ok(_) => accepted += 1,
            Err(status) => break status,
        }
        assert!(accepted < 5000, "the quota never stopped the puts");
    };
    t.note::<()>("put over quota", Err(refusal));
    t.text("some puts went in first", &(accepted > 100).to_string());
    t.text("alarms", &listed(&mut c).await);
    let status = c.maintenance.status(StatusRequest {}).await.unwrap();
    t.text("status errors", &format!("{:?}", status.get_ref().errors));

    t.note("small put", c.kv.put(put("small", 1)).await);
    let put_op = RequestOp {
        request: Some(request_op::Request::RequestPut(put("small", 1))),
    };
    let range_op = RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: b"fill/00000".to_vec(),
            keys_only: true,
            ..Default::default()
        })),
    };
    let txn_put = TxnRequest {
        failure: vec![put_op],
        ..Default::default()
    };
    t.note("txn that may put", c.kv.txn(txn_put).await);
    let txn_read = TxnRequest {
        success: vec![range_op],
        ..Default::default()
    };
    t.note("txn that reads", c.kv.txn(txn_read).await);
    let read = RangeRequest {
        key: b"fill/".to_vec(),
        range_end: b"fill0".to_vec(),
        count_only: true,
        ..Default::default()
    };
    let count = c.kv.range(read.clone()).await.unwrap().into_inner().count;
    // etcd may also have stored the refused put (see the module doc): one more is allowed.
    t.text(
        "every accepted put is there",
        &(count == accepted || count == accepted + 1).to_string(),
    );
    t.note(
        "lease grant",
        c.lease
            .lease_grant(LeaseGrantRequest { ttl: 60, id: 7 })
            .await,
    );
    let delete = DeleteRangeRequest {
        key: b"fill/00000".to_vec(),
        ..Default::default()
    };
    t.note("delete", c.kv.delete_range(delete).await);
    let current =
        c.kv.range(read.clone())
            .await
            .unwrap()
            .into_inner()
            .header
            .unwrap()
            .revision;
    let compact = CompactionRequest {
        revision: current,
        physical: true,
    };
    t.note("compaction", c.kv.compact(compact).await);

    t.note(
        "disarm",
        c.maintenance
            .alarm(alarm(
                AlarmAction::Deactivate,
                member_id,
                AlarmType::Nospace,
            ))
            .await,
    );
    t.text("alarms after disarm", &listed(&mut c).await);
    t.note("put still over quota", c.kv.put(put("again", 1)).await);
    t.text("alarms after it", &listed(&mut c).await);
    t.note(
        "disarm again",
        c.maintenance
            .alarm(alarm(
                AlarmAction::Deactivate,
                member_id,
                AlarmType::Nospace,
            ))
            .await,
    );
    t.note(
        "disarm what is not raised",
        c.maintenance
            .alarm(alarm(
                AlarmAction::Deactivate,
                member_id,
                AlarmType::Nospace,
            ))
            .await,
    );

    t.note(
        "raise corrupt for another member",
        c.maintenance
            .alarm(alarm(AlarmAction::Activate, 12345, AlarmType::Corrupt))
            .await,
    );
    t.note(
        "raise it twice",
        c.maintenance
            .alarm(alarm(AlarmAction::Activate, 12345, AlarmType::Corrupt))
            .await,
    );
    t.text("alarms with corrupt", &listed(&mut c).await);
    let only_corrupt = c
        .maintenance
        .alarm(alarm(AlarmAction::Get, 0, AlarmType::Corrupt))
        .await;
    t.note("listing only corrupt", only_corrupt);
    let delete_under_corrupt = DeleteRangeRequest {
        key: b"fill/00001".to_vec(),
        ..Default::default()
    };
    t.note(
        "delete under corrupt",
        c.kv.delete_range(delete_under_corrupt).await,
    );
    let counted = c.kv.range(read).await.map(|r| r.into_inner().count);
    t.text(
        "read under corrupt",
        &format!("{:?}", counted.map(|n| n == count - 1)),
    );
    t.note(
        "clear corrupt",
        c.maintenance
            .alarm(alarm(AlarmAction::Deactivate, 12345, AlarmType::Corrupt))
            .await,
    );
    t.text("alarms after clearing corrupt", &listed(&mut c).await);

    let everything = DeleteRangeRequest {
        key: b"fill/".to_vec(),
        range_end: b"fill0".to_vec(),
        ..Default::default()
    };
    let deleted = c.kv.delete_range(everything).await.unwrap().into_inner();
    let compact = CompactionRequest {
        revision: deleted.header.unwrap().revision,
        physical: true,
    };
    t.note("compact everything", c.kv.compact(compact).await);
    t.note(
        "defragment",
        c.maintenance.defragment(DefragmentRequest {}).await,
    );
    t.note(
        "disarm after making room",
        c.maintenance
            .alarm(alarm(
                AlarmAction::Deactivate,
                member_id,
                AlarmType::Nospace,
            ))
            .await,
    );
    t.note("put after recovery", c.kv.put(put("recovered", 1)).await);
    t.text("alarms at the end", &listed(&mut c).await);
    t.lines
}

#[tokio::test]
async fn alarms_and_the_quota_behave_as_etcds() {
    let target = Server::from_env().unwrap();
    let spec = |server| ClusterSpec::new(server, 1).args(["--quota-backend-bytes", QUOTA]);
    let (oracle, subject) = tokio::join!(
        Cluster::start(spec(Server::Etcd)),
        Cluster::start(spec(target))
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(script(&oracle), script(&subject));
    assert_eq!(
        expected.join("\n"),
        actual.join("\n"),
        "left: etcd 3.5.1, right: {target:?}"
    );
}
