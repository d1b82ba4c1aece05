//! Bootstrap as an operator meets it: a member started with flags that cannot work must exit
//! non-zero with etcd's own fatal log line (compared with real etcd 3.5.1 started the same way),
//! a restart from an existing data dir must ignore the `--initial-*` flags, and a member
//! bootstrapped with another cluster token must be refused by its peers without harming them.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use oxcd_api::etcdserverpb::{MemberListRequest, PutRequest, RangeRequest};
use oxcd_testkit::ports;
use oxcd_tests::member::{Member, MemberConfig};
use oxcd_tests::{Server, grpc};
use serde_json::Value;

/// How long a member with bad flags may take to give up.
const EXIT_WITHIN: Duration = Duration::from_secs(15);
/// How long a healthy member may take to serve clients.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// One member's configuration on loopback with the seed's flags, for `initial_cluster` (a
/// `name=url` list) and `token`.
fn config(
    dir: &Path,
    name: &str,
    ports: (u16, u16),
    initial_cluster: &str,
    token: &str,
) -> MemberConfig {
    let mut config = MemberConfig {
        name: name.to_owned(),
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        client_port: ports.0,
        peer_port: ports.1,
        data_dir: dir.join(name),
        log_path: dir.join(format!("{name}.log")),
        netns: None,
        args: Vec::new(),
        client_tls: None,
        peer_tls: None,
    };
    config.args = config.seed_args(initial_cluster, token);
    config
}

/// How a member that should not start ended: exit code, and the `msg` and `error` of its
/// fatal log line.
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    code: Option<i32>,
    msg: String,
    error: String,
}

/// Builds a member's configuration inside a fresh directory.
type BuildConfig<'a> = Box<dyn Fn(&Path) -> MemberConfig + 'a>;

/// Runs `server` with the configuration `build` makes in a fresh directory until it exits.
fn refusal(server: Server, build: &BuildConfig<'_>) -> Refusal {
    let dir = tempfile::tempdir().unwrap();
    let config = build(dir.path());
    let log_path = config.log_path.clone();
    let mut member = Member::new(server, server.binary().unwrap(), config);
    member.start().unwrap();
    let started = Instant::now();
    while member.is_running() {
        assert!(
            started.elapsed() < EXIT_WITHIN,
            "{server} did not exit:\n{}",
            member.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = member.exit_code();
    let log = std::fs::read_to_string(log_path).unwrap();
    let fatal: Value = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["level"] == "fatal")
        .unwrap_or_else(|| panic!("{server} logged no fatal line:\n{log}"));
    Refusal {
        code,
        msg: fatal["msg"].as_str().unwrap_or_default().to_owned(),
        error: fatal["error"].as_str().unwrap_or_default().to_owned(),
    }
}

#[test]
fn members_that_cannot_start_exit_with_etcds_fatal_line() {
    let ports = ports::free_ports(3);
    let (client, peer, other) = (ports[0], ports[1], ports[2]);
    let own_cluster = format!("m1=http://127.0.0.1:{peer}");
    let cases: Vec<(&str, BuildConfig)> = vec![
        (
            "--name missing from --initial-cluster",
            Box::new(|dir| {
                let cluster = format!("m2=http://127.0.0.1:{peer}");
                config(dir, "m1", (client, peer), &cluster, "t")
            }),
        ),
        (
            "advertised peer URL not in --initial-cluster",
            Box::new(|dir| {
                let cluster = format!("m1=http://127.0.0.1:{other}");
                config(dir, "m1", (client, peer), &cluster, "t")
            }),
        ),
        (
            "client port in use",
            Box::new(|dir| config(dir, "m1", (client, peer), &own_cluster, "t")),
        ),
        (
            "peer port in use",
            Box::new(|dir| {
                let cluster = format!("m1=http://127.0.0.1:{other}");
                config(dir, "m1", (client, other), &cluster, "t")
            }),
        ),
    ];
    let mut mismatches = Vec::new();
    for (i, (what, build)) in cases.iter().enumerate() {
        // The port cases hold the port being asked for.
        let _held = match i {
            2 => Some(TcpListener::bind(("127.0.0.1", client)).unwrap()),
            3 => Some(TcpListener::bind(("127.0.0.1", other)).unwrap()),
            _ => None,
        };
        let etcd = refusal(Server::Etcd, build);
        let oxcd = refusal(Server::Oxcd, build);
        assert_ne!(etcd.code, Some(0), "{what}: etcd exited 0");
        if etcd != oxcd {
            mismatches.push(format!("{what}:\n  etcd {etcd:?}\n  oxcd {oxcd:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_stored_identity_and_ignores_initial_flags() {
    let server = Server::from_env().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ports = ports::free_ports(2);
    let ports = (ports[0], ports[1]);
    let first = config(
        dir.path(),
        "m1",
        ports,
        &format!("m1=http://127.0.0.1:{}", ports.1),
        "token-a",
    );
    let mut member = Member::new(server, server.binary().unwrap(), first.clone());
    member.start().unwrap();
    member.wait_ready(READY_WITHIN).await.unwrap();
    let id = member.id().unwrap();
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    let put = clients
        .kv
        .put(PutRequest {
            key: b"kept".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let cluster_id = put.header.unwrap().cluster_id;
    member.kill9().unwrap();
    drop(member);

    // Same data dir, but another name, token and initial cluster: all ignored but the name,
    // which is published as the member's new name, as etcd does.
    let mut second = first;
    let replace = |args: &mut Vec<String>, flag: &str, value: String| {
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1] = value;
    };
    replace(&mut second.args, "--name", "renamed".into());
    replace(
        &mut second.args,
        "--initial-cluster-token",
        "token-b".into(),
    );
    replace(
        &mut second.args,
        "--initial-cluster",
        format!("renamed=http://127.0.0.1:{},x=http://127.0.0.1:1", ports.1),
    );
    let mut member = Member::new(server, server.binary().unwrap(), second);
    member.start().unwrap();
    member.wait_ready(READY_WITHIN).await.unwrap();
    assert_eq!(member.id(), Some(id), "the member ID is the stored one");
    let mut clients = grpc::connect(&member.client_url()).await.unwrap();
    let range = clients
        .kv
        .range(RangeRequest {
            key: b"kept".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(range.header.unwrap().cluster_id, cluster_id);
    assert_eq!(range.kvs.len(), 1, "the data survived the restart");
    let members = oxcd_tests::wait::until_ok("the new name to be published", READY_WITHIN, || {
        let mut cluster = clients.cluster.clone();
        async move {
            let list = cluster
                .member_list(MemberListRequest::default())
                .await?
                .into_inner();
            anyhow::ensure!(list.members.len() == 1 && list.members[0].name == "renamed");
            Ok(list.members)
        }
    })
    .await
    .unwrap();
    assert_eq!(members[0].id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_another_cluster_token_is_refused_by_its_peers() {
    let server = Server::from_env().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ports = ports::free_ports(6);
    let names = ["m1", "m2", "m3"];
    let initial_cluster = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name}=http://127.0.0.1:{}", ports[2 * i + 1]))
        .collect::<Vec<_>>()
        .join(",");
    let mut members: Vec<Member> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let token = if i == 2 {
                "another-cluster"
            } else {
                "the-cluster"
            };
            let config = config(
                dir.path(),
                name,
                (ports[2 * i], ports[2 * i + 1]),
                &initial_cluster,
                token,
            );
            Member::new(server, server.binary().unwrap(), config)
        })
        .collect();
    for member in &mut members {
        member.start().unwrap();
    }
    // Two of three members share a cluster ID: a quorum, so they elect a leader and serve.
    for member in &mut members[..2] {
        member.wait_ready(READY_WITHIN).await.unwrap();
    }
    let mut clients = grpc::connect(&members[0].client_url()).await.unwrap();
    clients
        .kv
        .put(PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The stranger's messages are refused, and the refusal is logged on both sides.
    oxcd_tests::wait::until_ok("the cluster ID mismatch to be logged", READY_WITHIN, || {
        let logs = (members[0].log(), members[1].log(), members[2].log());
        async move {
            anyhow::ensure!(
                logs.0.contains("cluster ID mismatch") || logs.1.contains("cluster ID mismatch"),
                "no member of the cluster logged a cluster ID mismatch"
            );
            anyhow::ensure!(
                logs.2.contains("cluster ID mismatch"),
                "the stranger did not log a cluster ID mismatch"
            );
            Ok(())
        }
    })
    .await
    .unwrap();
    assert!(members[2].is_running(), "the stranger keeps running");
    assert!(
        !members[2]
            .current_log()
            .contains("ready to serve client requests"),
        "the stranger never had a leader to serve with:\n{}",
        members[2].log_tail(20)
    );
}
