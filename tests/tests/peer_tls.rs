//! Members talking to each other over TLS only: three members with `https://` peer URLs, each
//! serving and presenting a certificate from the cluster's CA and requiring its peers' to chain
//! to it (`--peer-client-cert-auth`), replicate writes as without TLS; a fourth member added
//! with a certificate from another CA cannot join — its peers refuse it and it refuses them —
//! and the cluster goes on without it. Passes against etcd 3.5.1 too (`OXT_SERVER=etcd`).

use std::time::Duration;

use oxcd_testkit::certs::Authority;
use oxcd_tests::peer_tls::PeerTls;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// How long the member with a foreign certificate is given to (wrongly) join.
const FOREIGN_JOIN_WAIT: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_talk_over_tls_and_a_peer_from_another_ca_cannot_join() {
    let target = Server::from_env().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "cluster").unwrap();
    let member = ca.issue("member", "member", &["127.0.0.1"]).unwrap();
    let tls = PeerTls {
        ca: ca.ca_file(),
        member,
    };
    let mut cluster = Cluster::start(ClusterSpec::new(target, 3).peer_tls(tls.clone()))
        .await
        .unwrap();
    let ctl = Etcdctl::new(cluster.endpoints());
    let each: Vec<Etcdctl> = (0..3)
        .map(|i| Etcdctl::new([cluster.endpoint(i)]))
        .collect();
    each[0].ok(&["put", "k", "over-tls"]).await.unwrap();
    for (i, ctl) in each.iter().enumerate() {
        let got = ctl.ok(&["get", "k", "--print-value-only"]).await.unwrap();
        assert_eq!(got.stdout.trim(), "over-tls", "member {i}");
    }
    let members = ctl.ok(&["member", "list"]).await.unwrap().stdout;
    assert_eq!(
        members.matches("https://127.0.0.1:").count(),
        3,
        "{members}"
    );

    // A member whose certificate another CA signed.
    let foreign_ca = Authority::new(dir.path(), "foreign").unwrap();
    let foreign = foreign_ca
        .issue("foreign", "member", &["127.0.0.1"])
        .unwrap();
    let foreign_tls = PeerTls {
        ca: foreign_ca.ca_file(),
        member: foreign,
    };
    let m4 = cluster.new_member("m4").unwrap();
    let mut config = cluster.member(m4).config().clone();
    config.peer_tls = Some(foreign_tls.clone());
    let peer_url = config.peer_url();
    // A new cluster refuses members until its peers have been reachable for a while (etcd's
    // strict reconfiguration check: "unhealthy cluster").
    let mut added = ctl
        .run(&["member", "add", "m4", "--peer-urls", &peer_url])
        .await
        .unwrap();
    for _ in 0..30 {
        if added.code == Some(0) || !added.stderr.contains("unhealthy cluster") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        added = ctl
            .run(&["member", "add", "m4", "--peer-urls", &peer_url])
            .await
            .unwrap();
    }
    let added = added.success().unwrap();
    let (_, initial_cluster) = added.added_member().expect("member add prints the cluster");
    let client_url = config.client_url();
    let mut args = config.args_for_state(&initial_cluster, "oxt-cluster", "existing");
    args.extend(foreign_tls.args());
    cluster.set_args(m4, args);
    cluster.start_with_env(m4, &[]).unwrap();
    let joined = tokio::time::timeout(
        FOREIGN_JOIN_WAIT,
        Etcdctl::new([client_url.clone()]).ok(&["get", "k", "--consistency=s"]),
    )
    .await;
    assert!(
        !matches!(joined, Ok(Ok(_))),
        "a member with a foreign certificate must not serve: {joined:?}"
    );
    each[1].ok(&["put", "k", "still-writing"]).await.unwrap();
    let list = ctl.ok(&["member", "list"]).await.unwrap().stdout;
    assert!(
        list.contains(", unstarted, , "),
        "the foreign member never started: {list}"
    );
}
