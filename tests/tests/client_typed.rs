//! `oxcd_client`'s typed calls (get/put/delete with their options, the txn builder with
//! compares and nested txns, compaction, the resumable watch from a revision and from a
//! compacted one, leases) run the same script against real etcd 3.5.1 and against the server
//! under test; both transcripts must be equal.

use std::time::Duration;

use oxcd_client::{
    Client, ClientError, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions,
    GetResponse, Op, OpResult, PutOptions, Txn, WatchError, WatchOptions,
};
use oxcd_tests::{Cluster, ClusterSpec, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_answer_the_same_on_etcd_and_on_the_server_under_test() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-typed-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-typed-b")),
    );
    let mut transcripts = Vec::new();
    for cluster in [oracle.unwrap(), subject.unwrap()] {
        let client = Client::connect(&cluster.endpoints(), ConnectOptions::default())
            .await
            .unwrap();
        let transcript = tokio::time::timeout(Duration::from_secs(30), script(&client))
            .await
            .unwrap_or_else(|_| panic!("{:?}: the script took over 30s", cluster.server()));
        transcripts.push(transcript);
    }
    let (etcd, ours) = (&transcripts[0], &transcripts[1]);
    for (line, (want, got)) in etcd.iter().zip(ours).enumerate() {
        assert_eq!(want, got, "line {line} differs");
    }
    assert_eq!(etcd.len(), ours.len());
    assert!(etcd.len() > 30, "the script stopped early: {etcd:#?}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A read as one line: revision, count, more, and each pair.
fn show(get: &GetResponse) -> String {
    let kvs: Vec<String> = get
        .kvs()
        .iter()
        .map(|kv| {
            format!(
                "{}={}@c{}m{}v{}",
                text(&kv.key),
                text(&kv.value),
                kv.create_revision,
                kv.mod_revision,
                kv.version
            )
        })
        .collect();
    format!(
        "rev {} count {} more {} [{}]",
        get.revision(),
        get.count(),
        get.more(),
        kvs.join(" ")
    )
}

fn show_error(error: &ClientError) -> String {
    format!("error {:?}: {error}", error.code())
}

async fn script(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let put = |key: &'static str, value: &'static str| client.put(key, value, PutOptions::new());

    let first = put("a", "1").await.unwrap();
    out.push(format!("put a rev {}", first.revision()));
    let again = client
        .put("a", "2", PutOptions::new().prev_kv())
        .await
        .unwrap();
    out.push(format!(
        "put a again rev {} prev {:?}",
        again.revision(),
        again.prev_kv().map(|kv| text(&kv.value))
    ));
    for (key, value) in [("ab", "x"), ("b", "y"), ("c", "z"), ("c/1", "w")] {
        put(key, value).await.unwrap();
    }
    let reads = [
        ("a", GetOptions::new()),
        ("a", GetOptions::new().prefix()),
        ("a", GetOptions::new().range_end("c").limit(2)),
        ("b", GetOptions::new().from_key().keys_only()),
        ("", GetOptions::new().prefix().count_only()),
        ("a", GetOptions::new().revision(first.revision())),
        ("a", GetOptions::new().serializable()),
        ("a", GetOptions::new().prefix().min_mod_revision(3)),
        ("missing", GetOptions::new()),
    ];
    for (key, options) in reads {
        let got = client.get(key, options).await.unwrap();
        out.push(format!("get {key:?}: {}", show(&got)));
    }
    let refused = client
        .put("missing", "v", PutOptions::new().ignore_value())
        .await
        .unwrap_err();
    out.push(format!(
        "ignore_value on a missing key: {}",
        show_error(&refused)
    ));
    let empty = client.get("", GetOptions::new()).await.unwrap_err();
    out.push(format!("empty key: {}", show_error(&empty)));

    // Compares on each target and operator, the failure branch's reads, a nested txn.
    let compares = [
        Compare::value("a", CompareOp::Equal, "2"),
        Compare::value("a", CompareOp::Greater, "1"),
        Compare::version("a", CompareOp::Equal, 2),
        Compare::create_revision("a", CompareOp::Less, 3),
        Compare::mod_revision("a", CompareOp::NotEqual, 1),
        Compare::lease("a", CompareOp::Equal, 0),
        Compare::create_revision("nothing", CompareOp::Equal, 0),
        Compare::version("c", CompareOp::Greater, 0).with_prefix(),
        Compare::value("a", CompareOp::Less, "1"),
    ];
    for (i, compare) in compares.into_iter().enumerate() {
        let result = client.txn(Txn::new().when([compare])).await.unwrap();
        out.push(format!("compare {i}: {}", result.succeeded()));
    }
    let nested = Txn::new()
        .when([Compare::value("b", CompareOp::Equal, "nope")])
        .and_then([Op::put("n", "then", PutOptions::new())])
        .or_else([
            Op::put("n", "else", PutOptions::new()),
            Op::get("n", GetOptions::new()),
        ]);
    let txn = Txn::new()
        .when([Compare::value("a", CompareOp::Equal, "2")])
        .and_then([
            Op::txn(nested),
            Op::delete("ab", DeleteOptions::new().prev_kv()),
            Op::get("a", GetOptions::new().prefix()),
        ])
        .or_else([Op::put("never", "1", PutOptions::new())]);
    let result = client.txn(txn).await.unwrap();
    out.push(format!(
        "txn rev {} succeeded {}",
        result.revision(),
        result.succeeded()
    ));
    for response in result.responses() {
        out.push(match response {
            OpResult::Get(get) => format!("  get {}", show(get)),
            OpResult::Put(put) => format!("  put rev {}", put.revision()),
            OpResult::Delete(gone) => format!(
                "  delete {} prev {:?}",
                gone.deleted(),
                gone.prev_kvs()
                    .iter()
                    .map(|kv| text(&kv.key))
                    .collect::<Vec<_>>()
            ),
            OpResult::Txn(inner) => format!(
                "  txn succeeded {} answers {:?}",
                inner.succeeded(),
                inner
                    .responses()
                    .iter()
                    .map(|r| r.as_get().map(show))
                    .collect::<Vec<_>>()
            ),
        });
    }
    let conflict = Txn::new().and_then([
        Op::put("k", "1", PutOptions::new()),
        Op::put("k", "2", PutOptions::new()),
    ]);
    let refused = client.txn(conflict).await.unwrap_err();
    out.push(format!("duplicate key in txn: {}", show_error(&refused)));

    let gone = client
        .delete("c", DeleteOptions::new().prefix().prev_kv())
        .await
        .unwrap();
    out.push(format!(
        "delete c prefix: {} at rev {}, prev {:?}",
        gone.deleted(),
        gone.revision(),
        gone.prev_kvs()
            .iter()
            .map(|kv| text(&kv.key))
            .collect::<Vec<_>>()
    ));

    // The watch from a past revision replays history; from a compacted one it reports the
    // compaction.
    let mut watch = client.watch_stream("a", WatchOptions::new().prefix().start_revision(1));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let batch = watch.next().await.unwrap().unwrap();
        for event in batch.events {
            let kv = event.kv.unwrap_or_default();
            seen.push(format!(
                "{:?} {}={} @{}",
                event.r#type,
                text(&kv.key),
                text(&kv.value),
                kv.mod_revision
            ));
        }
    }
    out.push(format!("watch a* from 1: {seen:?}"));
    let now = client.get("a", GetOptions::new()).await.unwrap().revision();
    let compacted = client.compact(now - 2, true).await.unwrap();
    out.push(format!("compacted at {} (rev {compacted})", now - 2));
    let old = client
        .get("a", GetOptions::new().revision(1))
        .await
        .unwrap_err();
    out.push(format!("read below compaction: {}", show_error(&old)));
    let mut late = client.watch_stream("a", WatchOptions::new().start_revision(2));
    match late.next().await.unwrap() {
        Err(WatchError::Compacted { compact_revision }) => {
            out.push(format!(
                "watch below compaction: compacted at {compact_revision}"
            ));
        }
        other => panic!("a watch from a compacted revision gave {other:?}"),
    }
    assert!(
        late.next().await.is_none(),
        "the stream goes on after it ended"
    );

    // Leases: grant, attach, inspect, list, revoke.
    let lease = client.lease_grant(30).await.unwrap();
    out.push(format!("lease ttl {}", lease.ttl));
    client
        .put("leased", "v", PutOptions::new().lease(lease.id))
        .await
        .unwrap();
    let status = client.lease_time_to_live(lease.id, true).await.unwrap();
    out.push(format!(
        "ttl: exists {} granted {} keys {:?}",
        status.exists(),
        status.granted_ttl,
        status.keys.iter().map(|k| text(k)).collect::<Vec<_>>()
    ));
    let listed = client.leases().await.unwrap();
    out.push(format!("listed: {}", listed.contains(&lease.id)));
    client.lease_revoke(lease.id).await.unwrap();
    let after = client.lease_time_to_live(lease.id, false).await.unwrap();
    out.push(format!(
        "after revoke: exists {} ttl {}",
        after.exists(),
        after.ttl
    ));
    let leased = client.get("leased", GetOptions::new()).await.unwrap();
    out.push(format!("leased key: {}", show(&leased)));
    let again = client.lease_revoke(lease.id).await.unwrap_err();
    out.push(format!("revoke again: {}", show_error(&again)));
    out
}
