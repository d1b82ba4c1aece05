//! The seed document's flow, end to end: three "hosts" (network namespaces with their own
//! addresses), each member started with exactly the flags of the seed's `start-etcds.sh`, then
//! verified the way the seed verifies it, with real etcdctl 3.5.1: `member list` shows three
//! started members, `endpoint status -w table` shows etcd's columns and exactly one leader.

use std::time::Duration;

use oxcd_tests::ascii_table::AsciiTable;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, NetnsLab, Placement, Server};

const NAMES: [&str; 3] = ["peer1", "peer2", "peer3"];
const TOKEN: &str = "etcdcluster01";

/// `endpoint status -w table`'s columns, in etcdctl 3.5's order.
const STATUS_COLUMNS: [&str; 10] = [
    "ENDPOINT",
    "ID",
    "VERSION",
    "DB SIZE",
    "IS LEADER",
    "IS LEARNER",
    "RAFT TERM",
    "RAFT INDEX",
    "RAFT APPLIED INDEX",
    "ERRORS",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_started_like_the_seed_pass_the_seeds_checks() {
    let server = Server::from_env().unwrap();
    let lab = NetnsLab::create(3).unwrap();
    let ips: Vec<String> = lab.hosts().iter().map(|h| h.ip.to_string()).collect();
    let spec = ClusterSpec::new(server, 3)
        .names(NAMES)
        .token(TOKEN)
        .placement(Placement::Hosts(lab.hosts().to_vec()));
    let cluster = Cluster::start(spec).await.unwrap();

    // The command line is the seed's, flag for flag.
    let initial_cluster = format!(
        "peer1=http://{}:2380,peer2=http://{}:2380,peer3=http://{}:2380",
        ips[0], ips[1], ips[2]
    );
    for (i, member) in cluster.members().iter().enumerate() {
        let ip = &ips[i];
        let data_dir = member.config().data_dir.to_string_lossy().into_owned();
        let peer = format!("http://{ip}:2380");
        let client = format!("http://{ip}:2379");
        let expected = [
            "--name",
            NAMES[i],
            "--data-dir",
            &data_dir,
            "--initial-advertise-peer-urls",
            &peer,
            "--listen-peer-urls",
            &peer,
            "--advertise-client-urls",
            &client,
            "--listen-client-urls",
            &client,
            "--initial-cluster",
            &initial_cluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            TOKEN,
        ];
        assert_eq!(member.args(), expected, "{}", NAMES[i]);
        assert_eq!(member.config().netns.as_deref(), Some(&*lab.host(i).netns));
    }

    // The seed passes endpoints without a scheme.
    let etcdctl = Etcdctl::new(ips.iter().map(|ip| format!("{ip}:2379")));
    assert_eq!(
        etcdctl.endpoints_arg(),
        format!(
            "--endpoints={}:2379,{}:2379,{}:2379",
            ips[0], ips[1], ips[2]
        )
    );

    let members = etcdctl
        .run(&["member", "list"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let mut rows: Vec<Vec<&str>> = members
        .stdout
        .lines()
        .map(|line| line.split(", ").collect())
        .collect();
    rows.sort_by_key(|row| row.get(2).copied());
    assert_eq!(rows.len(), 3, "member list:\n{}", members.stdout);
    let mut ids = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let ip = &ips[i];
        assert_eq!(
            row[1..],
            [
                "started",
                NAMES[i],
                &format!("http://{ip}:2380"),
                &format!("http://{ip}:2379"),
                "false"
            ],
            "member list:\n{}",
            members.stdout
        );
        // etcdctl prints IDs as unpadded hex (Go's %x).
        let id = u64::from_str_radix(row[0], 16).unwrap();
        assert_eq!(row[0], format!("{id:x}"), "hex member ID: {row:?}");
        assert_eq!(Some(id), cluster.member(i).id(), "ID of {}", NAMES[i]);
        ids.push(row[0]);
    }

    // A fresh cluster may still be settling its first election: retry until one leader shows.
    let mut last = String::new();
    let mut table = None;
    for _ in 0..30 {
        let status = etcdctl
            .run(&["endpoint", "status", "-w", "table"])
            .await
            .unwrap();
        last = format!("{status:?}");
        if status.code == Some(0) {
            let parsed = AsciiTable::parse(&status.stdout).unwrap();
            if parsed
                .column("IS LEADER")
                .unwrap()
                .iter()
                .filter(|v| **v == "true")
                .count()
                == 1
            {
                table = Some(parsed);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let table = table.unwrap_or_else(|| panic!("no single leader in endpoint status: {last}"));
    assert_eq!(table.header, STATUS_COLUMNS);
    assert_eq!(table.rows.len(), 3);
    let endpoints: Vec<String> = ips.iter().map(|ip| format!("{ip}:2379")).collect();
    assert_eq!(table.column("ENDPOINT").unwrap(), endpoints);
    assert_eq!(table.column("ID").unwrap(), ids);
    assert_eq!(
        table.column("IS LEARNER").unwrap(),
        ["false", "false", "false"]
    );
    assert_eq!(table.column("ERRORS").unwrap(), ["", "", ""]);
    if server == Server::Etcd {
        assert_eq!(table.column("VERSION").unwrap(), ["3.5.1"; 3]);
    }

    // And the cluster is usable through any member.
    Etcdctl::new([endpoints[0].clone()])
        .run(&["put", "seed-key", "seed-value"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let got = Etcdctl::new([endpoints[2].clone()])
        .run(&["get", "seed-key"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(got.stdout, "seed-key\nseed-value\n");
}
