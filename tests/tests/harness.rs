//! Tests of the cluster harness itself: clusters start and serve, faults act on the right
//! process, and every process and directory is gone after the cluster is dropped, also when
//! the test panics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxcd_api::etcdserverpb::{PutRequest, RangeRequest, StatusRequest};
use oxcd_tests::{Cluster, ClusterSpec, Server, grpc};

fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
        })
        .is_some_and(|state| state != 'Z' && state != 'X')
}

async fn put(cluster: &Cluster, i: usize, key: &str, value: &str) {
    let mut clients = cluster.client(i).await.expect("connect");
    clients
        .kv
        .put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..PutRequest::default()
        })
        .await
        .expect("put");
}

async fn get(cluster: &Cluster, i: usize, key: &str) -> Option<Vec<u8>> {
    let mut clients = cluster.client(i).await.expect("connect");
    let response = clients
        .kv
        .range(RangeRequest {
            key: key.into(),
            ..RangeRequest::default()
        })
        .await
        .expect("range")
        .into_inner();
    response.kvs.into_iter().next().map(|kv| kv.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_serve_agree_on_a_leader_and_vanish_on_drop() {
    let server = Server::from_env().unwrap();
    let cluster = Cluster::start(ClusterSpec::new(server, 3)).await.unwrap();
    let pids: Vec<u32> = cluster.members().iter().filter_map(|m| m.pid()).collect();
    let root: PathBuf = cluster.root_dir().unwrap().to_path_buf();
    assert_eq!(pids.len(), 3);
    assert!(root.join("m1").join("member").is_dir());

    put(&cluster, 0, "k", "v").await;
    for i in 0..3 {
        assert_eq!(get(&cluster, i, "k").await.as_deref(), Some(&b"v"[..]));
    }
    let leader = cluster.leader(Duration::from_secs(30)).await.unwrap();
    assert!(leader < 3);
    let ids: Vec<u64> = cluster
        .members()
        .iter()
        .map(|m| m.id().expect("member id"))
        .collect();
    assert!(ids.iter().all(|&id| id != 0));

    drop(cluster);
    for pid in pids {
        assert!(!process_exists(pid), "pid {pid} survived the drop");
    }
    assert!(!root.exists(), "{} survived the drop", root.display());
}

#[test]
fn a_panicking_test_leaves_no_process_or_directory_behind() {
    let (sender, receiver) = std::sync::mpsc::channel::<(Vec<u32>, PathBuf)>();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let server = Server::from_env().unwrap();
            let cluster = Cluster::start(ClusterSpec::new(server, 1)).await.unwrap();
            let pids = cluster.members().iter().filter_map(|m| m.pid()).collect();
            sender
                .send((pids, cluster.root_dir().unwrap().to_path_buf()))
                .unwrap();
            panic!("deliberate failure while the cluster runs");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread was meant to panic");
    let (pids, root) = receiver.recv().unwrap();
    assert!(!pids.is_empty());
    for pid in pids {
        assert!(!process_exists(pid), "pid {pid} survived the panic");
    }
    assert!(
        !Path::new(&root).exists(),
        "{} survived the panic",
        root.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_member_stops_answering_until_resumed() {
    let server = Server::from_env().unwrap();
    let mut cluster = Cluster::start(ClusterSpec::new(server, 1)).await.unwrap();
    let endpoint = cluster.endpoint(0);
    cluster.pause(0).unwrap();
    assert!(cluster.up().is_empty());
    let frozen = async {
        let mut clients = grpc::connect_with_timeout(&endpoint, Duration::from_secs(2)).await?;
        clients.maintenance.status(StatusRequest {}).await?;
        anyhow::Ok(())
    };
    assert!(
        frozen.await.is_err(),
        "a SIGSTOPped server answered a request"
    );
    cluster.resume(0).unwrap();
    let mut clients = grpc::connect(&endpoint).await.unwrap();
    clients.maintenance.status(StatusRequest {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_restarts_with_its_data() {
    let server = Server::from_env().unwrap();
    let mut cluster = Cluster::start(ClusterSpec::new(server, 1)).await.unwrap();
    put(&cluster, 0, "durable", "yes").await;
    let old_pid = cluster.member(0).pid().unwrap();
    cluster.kill9(0).unwrap();
    assert!(!process_exists(old_pid));
    assert!(
        grpc::connect_with_timeout(&cluster.endpoint(0), Duration::from_secs(1))
            .await
            .is_err(),
        "nothing listens after kill -9"
    );
    cluster.restart(0).await.unwrap();
    assert_ne!(cluster.member(0).pid(), Some(old_pid));
    assert_eq!(
        get(&cluster, 0, "durable").await.as_deref(),
        Some(&b"yes"[..])
    );
    assert_eq!(
        cluster.member(0).log().matches("=== oxt: starting").count(),
        2,
        "both incarnations log to the same file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_cannot_start_fails_fast_with_its_log() {
    let server = Server::from_env().unwrap();
    let spec = ClusterSpec::new(server, 1).args(["--no-such-flag-for-oxt"]);
    let started = std::time::Instant::now();
    let error = match Cluster::start(spec).await {
        Ok(_) => panic!("a server with an unknown flag started"),
        Err(error) => format!("{error:#}"),
    };
    assert!(started.elapsed() < Duration::from_secs(20), "{error}");
    assert!(error.contains("exited"), "{error}");
    assert!(
        error.contains("no-such-flag-for-oxt"),
        "the log is attached: {error}"
    );
}
