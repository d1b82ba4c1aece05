//! Every metric family etcd 3.5.1 exposes on `/metrics` — its name, type and label names — is
//! exposed by the server under test too, so dashboards and alert rules written for etcd work
//! unchanged. Both 3-member clusters get the same work first (writes, a txn, a watch, a lease
//! kept alive, a compaction, a defragmentation, a snapshot, hashes) so that the families that
//! only show once used have samples. The families that cannot apply to oxcd are listed, each
//! with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use oxcd_tests::http_json::Post;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// etcd's families oxcd does not have, and why.
const NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "go_",
        "the Go runtime's own statistics; oxcd is not a Go program",
    ),
    (
        "promhttp_",
        "the Go Prometheus client's own handler counters",
    ),
    (
        "etcd_grpc_proxy_",
        "etcd's gRPC proxy, which oxcd does not have",
    ),
    (
        "etcd_debugging_store_",
        "etcd's v2 store, which oxcd does not have",
    ),
    (
        "etcd_debugging_disk_backend_commit_",
        "bbolt's rebalance, spill and write phases of a commit; redb has none of them",
    ),
    (
        "etcd_debugging_snap_save_marshalling_duration_seconds",
        "the v2 store snapshot's marshalling",
    ),
    (
        "etcd_server_go_version",
        "the Go version etcd was built with",
    ),
];

/// Families that show only once a periodic task ran (etcd's peer prober, every 4 s): both
/// servers are scraped until they show, for at most this long.
const PERIODIC: &[&str] = &["etcd_network_peer_round_trip_time_seconds"];
const PERIODIC_WITHIN: Duration = Duration::from_secs(20);

/// A family's type and the names of its labels (`le` and `quantile` aside).
type Families = BTreeMap<String, (String, BTreeSet<String>)>;

fn families(text: &str) -> Families {
    let mut out = Families::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            out.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, labels)) = line.split_once('{') else {
            continue;
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| out.contains_key(*f)))
            .unwrap_or(name);
        let Some((_, label_names)) = out.get_mut(family) else {
            continue;
        };
        let labels = labels.split('}').next().unwrap_or_default();
        for pair in labels.split("\",") {
            if let Some((label, _)) = pair.split_once('=')
                && label != "le"
                && label != "quantile"
            {
                label_names.insert(label.to_owned());
            }
        }
    }
    out
}

/// The same work on a cluster, then every member's `/metrics` text.
async fn exercised_metrics(cluster: &Cluster) -> Vec<String> {
    let ctl = Etcdctl::new(cluster.endpoints()).timeout(Duration::from_secs(20));
    let snapshot_dir = tempfile::tempdir().unwrap();
    let snapshot = snapshot_dir.path().join("snap.db");
    let snapshot = snapshot.to_str().unwrap();
    for i in 0..20 {
        ctl.ok(&["put", &format!("key-{i}"), "value"])
            .await
            .unwrap();
    }
    ctl.ok(&["get", "key-", "--prefix"]).await.unwrap();
    ctl.run_for(
        &["txn"],
        "value(\"key-1\") = \"value\"\n\nput key-1 other\n\nput key-2 other\n\n",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let watch = ctl.run_for(&["watch", "key-3"], "", Duration::from_secs(2));
    let put = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        ctl.ok(&["put", "key-3", "watched"]).await.unwrap();
    };
    let (watched, ()) = tokio::join!(watch, put);
    watched.unwrap();
    let granted = ctl.ok(&["lease", "grant", "60"]).await.unwrap();
    let lease = granted.stdout.split_whitespace().nth(1).unwrap().to_owned();
    ctl.ok(&["lease", "keep-alive", "--once", &lease])
        .await
        .unwrap();
    ctl.ok(&["put", "leased", "v", "--lease", &lease])
        .await
        .unwrap();
    ctl.ok(&["lease", "revoke", &lease]).await.unwrap();
    ctl.ok(&["compaction", "10"]).await.unwrap();
    ctl.ok(&["defrag"]).await.unwrap();
    let one = Etcdctl::new([cluster.endpoint(0)]).timeout(Duration::from_secs(20));
    one.ok(&["snapshot", "save", snapshot]).await.unwrap();
    ctl.ok(&["endpoint", "hashkv"]).await.unwrap();
    ctl.ok(&["endpoint", "status"]).await.unwrap();
    ctl.ok(&["endpoint", "health"]).await.unwrap();
    ctl.ok(&["alarm", "list"]).await.unwrap();
    let mut out = Vec::new();
    for i in 0..cluster.size() {
        let port = cluster.member(i).config().client_port;
        let mut scrape = Post::new(port, "/metrics", "");
        scrape.method = "GET";
        out.push(scrape.answer().await.unwrap().body);
    }
    out
}

/// The periodic families of member 0, scraped until all of them show.
async fn periodic_families(cluster: &Cluster) -> Families {
    let deadline = tokio::time::Instant::now() + PERIODIC_WITHIN;
    loop {
        let port = cluster.member(0).config().client_port;
        let mut scrape = Post::new(port, "/metrics", "");
        scrape.method = "GET";
        let found: Families = families(&scrape.answer().await.unwrap().body)
            .into_iter()
            .filter(|(name, (_, labels))| PERIODIC.contains(&name.as_str()) && !labels.is_empty())
            .collect();
        if found.len() == PERIODIC.len() || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The union over members (a family may show on some members only, e.g. the leader's).
fn all_families(texts: &[String]) -> Families {
    let mut all = Families::new();
    for text in texts {
        for (name, (kind, labels)) in families(text) {
            let entry = all.entry(name).or_insert((kind, BTreeSet::new()));
            entry.1.extend(labels);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_etcd_metric_family_exists_with_its_type_and_labels() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 3).token("oxt-metrics-a")),
        Cluster::start(ClusterSpec::new(target, 3).token("oxt-metrics-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(exercised_metrics(&oracle), exercised_metrics(&subject));
    let (mut expected, mut actual) = (all_families(&expected), all_families(&actual));
    let (expected_periodic, actual_periodic) =
        tokio::join!(periodic_families(&oracle), periodic_families(&subject));
    assert_eq!(
        expected_periodic.len(),
        PERIODIC.len(),
        "etcd never showed {PERIODIC:?}"
    );
    expected.extend(expected_periodic);
    actual.extend(actual_periodic);
    let mut problems = Vec::new();
    for (name, (kind, labels)) in &expected {
        if NOT_APPLICABLE
            .iter()
            .any(|(prefix, _)| name.starts_with(prefix))
        {
            continue;
        }
        match actual.get(name) {
            None => problems.push(format!("missing: {name} ({kind}, labels {labels:?})")),
            Some((k, l)) if k != kind || l != labels => problems.push(format!(
                "differs: {name}: etcd {kind} {labels:?}, {target:?} {k} {l:?}"
            )),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} of etcd 3.5.1's metric families:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// With `--metrics=extensive`, both add go-grpc-prometheus's handling-time histogram per
/// method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensive_metrics_add_handling_histograms() {
    let target = Server::from_env().unwrap();
    let extensive = ["--metrics=extensive"];
    let (oracle, subject) = tokio::join!(
        Cluster::start(
            ClusterSpec::new(Server::Etcd, 1)
                .args(extensive)
                .token("oxt-metrics-c")
        ),
        Cluster::start(
            ClusterSpec::new(target, 1)
                .args(extensive)
                .token("oxt-metrics-d")
        ),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut seen = Vec::new();
    for cluster in [&oracle, &subject] {
        let ctl = Etcdctl::new(cluster.endpoints());
        ctl.ok(&["put", "k", "v"]).await.unwrap();
        let port = cluster.member(0).config().client_port;
        let mut scrape = Post::new(port, "/metrics", "");
        scrape.method = "GET";
        let text = scrape.answer().await.unwrap().body;
        let family = families(&text)
            .remove("grpc_server_handling_seconds")
            .unwrap_or_default();
        let put = text
            .lines()
            .find(|l| l.starts_with("grpc_server_handling_seconds_count{grpc_method=\"Put\","));
        seen.push((family, put.map(|l| l.ends_with(" 1"))));
    }
    assert_eq!(seen[0], seen[1], "left: etcd 3.5.1, right: {target:?}");
    assert_eq!(seen[0].0.0, "histogram");
    assert_eq!(seen[0].1, Some(true));
}
