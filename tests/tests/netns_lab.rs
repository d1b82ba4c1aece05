//! Tests of the network-namespace lab: hosts reach each other and the test process over the
//! bridge, cuts and disconnects partition exactly the intended links, concurrent labs get
//! distinct subnets, and nothing of a lab survives its drop, a panic or a crashed run.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use oxcd_api::etcdserverpb::StatusRequest;
use oxcd_tests::netns::run;
use oxcd_tests::{Cluster, ClusterSpec, NetnsLab, Placement, Server, grpc, stale};

/// Whether host `from` of `lab` can open a TCP connection to `ip:port` within two seconds.
fn host_can_connect(lab: &NetnsLab, from: usize, ip: Ipv4Addr, port: u16) -> bool {
    lab.command(from, "timeout")
        .args(["2", "bash", "-c", &format!("exec 3<>/dev/tcp/{ip}/{port}")])
        .status()
        .expect("run bash in the namespace")
        .success()
}

/// Whether the test process gets a gRPC answer from `endpoint` within two seconds.
async fn test_can_reach(endpoint: &str) -> bool {
    let attempt = async {
        let mut clients = grpc::connect_with_timeout(endpoint, Duration::from_secs(2)).await?;
        clients.maintenance.status(StatusRequest {}).await?;
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .is_ok_and(|result| result.is_ok())
}

fn namespaces() -> String {
    run("ip", &["netns", "list"]).expect("ip netns list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_and_disconnects_partition_exactly_the_chosen_links() {
    let lab = NetnsLab::create(3).unwrap();
    let server_host = lab.host(1).clone();
    let spec = ClusterSpec::new(Server::from_env().unwrap(), 1)
        .placement(Placement::Hosts(vec![server_host.clone()]));
    let cluster = Cluster::start(spec).await.unwrap();
    let endpoint = cluster.endpoint(0);
    assert_eq!(endpoint, format!("http://{}:2379", server_host.ip));

    assert!(test_can_reach(&endpoint).await, "test -> host 2");
    assert!(
        host_can_connect(&lab, 0, server_host.ip, 2379),
        "host 1 -> host 2"
    );
    assert!(
        host_can_connect(&lab, 2, server_host.ip, 2379),
        "host 3 -> host 2"
    );

    lab.cut(0, 1).unwrap();
    assert!(
        !host_can_connect(&lab, 0, server_host.ip, 2379),
        "cut 1-2 holds"
    );
    assert!(
        host_can_connect(&lab, 2, server_host.ip, 2379),
        "host 3 unaffected"
    );
    assert!(
        test_can_reach(&endpoint).await,
        "the test still reaches host 2"
    );

    lab.heal().unwrap();
    assert!(host_can_connect(&lab, 0, server_host.ip, 2379), "healed");

    lab.isolate(1).unwrap();
    assert!(!host_can_connect(&lab, 0, server_host.ip, 2379));
    assert!(!host_can_connect(&lab, 2, server_host.ip, 2379));
    assert!(
        test_can_reach(&endpoint).await,
        "isolation spares the test link"
    );
    lab.heal().unwrap();

    lab.disconnect(1).unwrap();
    assert!(
        !test_can_reach(&endpoint).await,
        "a disconnected host is unreachable"
    );
    assert!(!host_can_connect(&lab, 0, server_host.ip, 2379));
    lab.reconnect(1).unwrap();
    assert!(test_can_reach(&endpoint).await, "reconnected");
}

#[test]
fn concurrent_labs_get_distinct_names_and_subnets() {
    let a = NetnsLab::create(1).unwrap();
    let b = NetnsLab::create(1).unwrap();
    assert_ne!(a.name(), b.name());
    assert_ne!(a.gateway_ip(), b.gateway_ip());
    for lab in [&a, &b] {
        let [first, second, _, last] = lab.gateway_ip().octets();
        assert_eq!((first, second, last), (198, 18, 254));
        assert!(
            lab.name()
                .starts_with(&format!("oxt-{}-", std::process::id()))
        );
        assert_eq!(lab.host(0).ip.octets()[..3], lab.gateway_ip().octets()[..3]);
    }
}

#[test]
fn a_lab_leaves_nothing_behind_after_drop_or_panic() {
    let lab = NetnsLab::create(2).unwrap();
    let name = lab.name().to_owned();
    let uplink = format!("oxtl{}", lab.gateway_ip().octets()[2]);
    let mut sleeper = lab.command(0, "sleep").arg("300").spawn().unwrap();
    assert!(namespaces().contains(&name));
    drop(lab);
    assert!(!namespaces().contains(&name), "{name} survived the drop");
    assert!(
        run("ip", &["link", "show", &uplink]).is_err(),
        "{uplink} survived"
    );
    let status = sleeper.wait().unwrap();
    assert!(!status.success(), "the process inside was killed");

    let (sender, receiver) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let lab = NetnsLab::create(1).unwrap();
        sender.send(lab.name().to_owned()).unwrap();
        panic!("deliberate failure while the lab exists");
    })
    .join();
    assert!(outcome.is_err());
    let name = receiver.recv().unwrap();
    assert!(!namespaces().contains(&name), "{name} survived the panic");
}

#[test]
fn namespaces_of_crashed_runs_are_swept() {
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let leftover = format!("oxt-{dead}-0-hub");
    run("ip", &["netns", "add", &leftover]).unwrap();
    let mine = NetnsLab::create(1).unwrap();
    stale::sweep();
    let listed = namespaces();
    assert!(!listed.contains(&leftover), "{leftover} was not swept");
    assert!(listed.contains(mine.name()), "a live lab was swept");
}
