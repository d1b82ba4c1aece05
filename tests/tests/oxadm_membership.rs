//! `oxadm add`, `remove` and `replace` on a cluster `oxadm up` brought up on three of four SSH
//! hosts (network namespaces with their own sshd and private homes), under a write load: a
//! member added on the fourth host becomes a started voting member, a removed one leaves the
//! member list and its files are set aside, and a member whose disk died is replaced by a new
//! one of the same name. No acknowledged write is lost, and real etcdctl sees the membership
//! the cluster file records.

use oxcd_tests::Etcdctl;
use oxcd_tests::acked_writers::{AckedWriters, assert_endpoints_hold};
use oxcd_tests::oxadm_runs::{oxadm, oxadm_ok};
use oxcd_tests::ssh_hosts::SshHosts;

const PREFIX: &str = "/membership";

/// `member list` of real etcdctl: (name, started, learner) per member, sorted by name.
async fn members(endpoints: &[String]) -> Vec<(String, bool, bool)> {
    let list = Etcdctl::new(endpoints.to_vec())
        .ok(&["member", "list"])
        .await
        .unwrap()
        .stdout;
    let mut members: Vec<(String, bool, bool)> = list
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(", ").collect();
            (
                fields[2].to_owned(),
                fields[1] == "started",
                fields[5] == "true",
            )
        })
        .collect();
    members.sort();
    members
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_remove_and_replace_keep_every_acknowledged_write() {
    let hosts = SshHosts::start(4).await.unwrap();
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-members-")
        .tempdir()
        .unwrap();
    let file = work.path().join("oxadm.yaml").to_str().unwrap().to_owned();
    let key = hosts.client_key().display().to_string();
    let up = hosts.oxadm_up_args(&file, 3);
    oxadm_ok(&up).await;

    let all: Vec<String> = (0..4)
        .map(|i| format!("http://{}:2379", hosts.ip(i)))
        .collect();
    let writers = AckedWriters::start(&all[..3], PREFIX, 64);

    let spec = hosts.member_spec(3);
    let started = std::time::Instant::now();
    let add = oxadm(&["add", spec.as_str(), "-f", &file, "-i", &key])
        .await
        .unwrap();
    eprintln!("oxadm add: {:.1}s", started.elapsed().as_secs_f64());
    assert!(add.success(), "oxadm add failed:\n{}", add.text());
    assert!(
        add.text().contains("peer4: promoted to a voting member"),
        "{}",
        add.text()
    );
    let names =
        |list: &[(String, bool, bool)]| list.iter().map(|m| m.0.clone()).collect::<Vec<_>>();
    let list = members(&all[..3]).await;
    assert_eq!(names(&list), ["peer1", "peer2", "peer3", "peer4"]);
    assert!(
        list.iter()
            .all(|(_, started, learner)| *started && !learner),
        "{list:?}"
    );

    let started = std::time::Instant::now();
    let remove = oxadm(&["remove", "peer1", "-f", &file]).await.unwrap();
    eprintln!("oxadm remove: {:.1}s", started.elapsed().as_secs_f64());
    assert!(remove.success(), "oxadm remove failed:\n{}", remove.text());
    assert_eq!(
        names(&members(&all[1..]).await),
        ["peer2", "peer3", "peer4"]
    );
    let home0 = std::fs::read_dir(hosts.home(0).join("oxcd")).unwrap();
    let set_aside = home0
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .any(|name| name.starts_with("peer1.removed-"));
    assert!(set_aside, "peer1's files were not set aside");

    // peer2's disk dies: its member is killed and its data is gone.
    hosts
        .ssh(
            1,
            "kill -9 $(cat oxcd/peer2/supervisor.pid); sleep 1; rm -rf oxcd/peer2/data",
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let replace = oxadm(&["replace", "peer2", "-f", &file, "-i", &key])
        .await
        .unwrap();
    eprintln!("oxadm replace: {:.1}s", started.elapsed().as_secs_f64());
    assert!(
        replace.success(),
        "oxadm replace failed:\n{}",
        replace.text()
    );
    let list = members(&all[1..]).await;
    assert_eq!(names(&list), ["peer2", "peer3", "peer4"]);
    assert!(
        list.iter()
            .all(|(_, started, learner)| *started && !learner),
        "{list:?}"
    );

    let acked = writers.stop().await;
    assert_endpoints_hold(&all[1..], &acked, PREFIX).await;
}
