//! The way back from NOSPACE on a three-member cluster, each member on a host of its own (a
//! network namespace), driven with real etcdctl 3.5.1 as an operator would. Puts fill the small
//! `--quota-backend-bytes` until one is refused with NOSPACE; the alarm is the cluster's: every
//! member lists the same alarms and refuses puts with etcd's error, and still serves reads. Then the
//! operator's remedy, in etcd's documented order: delete, `compact`, `defrag --cluster`,
//! `alarm disarm` — and every member takes writes again, with its backend back under quota.
//! (`OXT_SERVER=etcd` runs it against etcd 3.5.1, which passes it too.)

use oxcd_api::etcdserverpb::PutRequest;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, NetnsLab, Placement, Server};

/// Small enough to fill in seconds, large enough for an empty backend.
const QUOTA: u64 = 2_000_000;
/// etcd's answer to a put while NOSPACE is raised, as etcdctl prints it.
const NOSPACE: &str = "etcdserver: mvcc: database space exceeded";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cluster_is_brought_back_by_compact_defrag_and_disarm() {
    let lab = NetnsLab::create(3).expect("network namespaces (needs root)");
    let spec = ClusterSpec::new(Server::from_env().expect("OXT_SERVER"), 3)
        .placement(Placement::Hosts(lab.hosts().to_vec()))
        .args(["--quota-backend-bytes".to_string(), QUOTA.to_string()]);
    let cluster = Cluster::start(spec).await.expect("cluster starts");
    let each: Vec<Etcdctl> = (0..3)
        .map(|i| Etcdctl::new([cluster.endpoint(i)]))
        .collect();
    let all = Etcdctl::new(cluster.endpoints());

    let mut client = cluster.client(0).await.expect("client");
    let mut accepted = 0;
    let refusal = loop {
        let put = client.kv.put(PutRequest {
            key: format!("fill/{accepted:05}").into_bytes(),
            value: vec![b'x'; 4096],
            ..Default::default()
        });
        match put.await {
            Ok(_) => accepted += 1,
            Err(status) => break status,
        }
        assert!(accepted < 5000, "the quota never stopped the puts");
    };
    assert_eq!(refusal.message(), NOSPACE);
    assert!(accepted > 100, "only {accepted} puts before NOSPACE");

    let alarms = all.ok(&["alarm", "list"]).await.unwrap();
    assert!(
        alarms.stdout.contains("alarm:NOSPACE"),
        "alarm list: {}",
        alarms.stdout
    );
    for (i, ctl) in each.iter().enumerate() {
        let put = ctl.run(&["put", "more", "x"]).await.unwrap();
        assert!(
            put.code != Some(0) && put.stderr.contains(NOSPACE),
            "member {i} under NOSPACE answered a put: {put:?}"
        );
        let get = ctl
            .ok(&["get", "fill/00000", "--print-value-only"])
            .await
            .unwrap();
        assert_eq!(get.stdout.trim().len(), 4096, "member {i} read");
    }
    // A member that refused a put over quota raised NOSPACE for itself too, as etcd's do; the
    // alarms are replicated, so every member lists the same ones.
    let mut lists = Vec::new();
    for ctl in &each {
        lists.push(ctl.ok(&["alarm", "list"]).await.unwrap().stdout);
    }
    assert!(lists[0].contains(alarms.stdout.trim_end()), "{lists:?}");
    assert!(lists.iter().all(|list| *list == lists[0]), "{lists:?}");

    let deleted = all
        .ok(&["del", "fill/", "--prefix", "-w", "json"])
        .await
        .unwrap();
    let revision = json_revision(&deleted.stdout);
    all.ok(&["compact", &revision.to_string(), "--physical"])
        .await
        .unwrap();
    let defrag = all.ok(&["defrag", "--cluster"]).await.unwrap();
    assert_eq!(
        defrag
            .stdout
            .matches("Finished defragmenting etcd member")
            .count(),
        3,
        "{}",
        defrag.stdout
    );
    all.ok(&["alarm", "disarm"]).await.unwrap();
    let listed = all.ok(&["alarm", "list"]).await.unwrap();
    assert_eq!(listed.stdout, "", "alarms after the disarm");

    for (i, ctl) in each.iter().enumerate() {
        let key = format!("after/{i}");
        ctl.ok(&["put", &key, "x"]).await.unwrap();
    }
    let status = all.ok(&["endpoint", "status", "-w", "json"]).await.unwrap();
    let sizes = json_numbers(&status.stdout, "\"dbSize\":");
    assert_eq!(sizes.len(), 3, "{}", status.stdout);
    for size in sizes {
        assert!(
            size < QUOTA,
            "a backend still over quota after defrag: {size}"
        );
    }
    let got = all
        .ok(&["get", "after/", "--prefix", "--keys-only"])
        .await
        .unwrap();
    assert_eq!(got.stdout.split_whitespace().count(), 3, "{}", got.stdout);
}

/// The header revision of an etcdctl `-w json` answer.
fn json_revision(text: &str) -> u64 {
    json_numbers(text, "\"revision\":")[0]
}

/// Every number that follows `field` in `text`.
fn json_numbers(text: &str, field: &str) -> Vec<u64> {
    text.match_indices(field)
        .map(|(at, _)| {
            text[at + field.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .expect("a number")
        })
        .collect()
}
