//! `oxadm local`: a three-member cluster on one machine with one command, inside a network
//! namespace of its own (the members take etcd's fixed ports 2379/22379/32379). Checked with
//! real etcdctl 3.5.1 as the seed checks a cluster; then `up` again changes nothing, a member
//! killed with SIGKILL is restarted by its supervisor, and `down` stops every process.

use std::process::Output;
use std::time::Duration;

use oxcd_tests::ascii_table::AsciiTable;
use oxcd_tests::binaries;
use oxcd_tests::{Etcdctl, NetnsLab, wait};

const ENDPOINTS: [&str; 3] = [
    "http://127.0.0.1:2379",
    "http://127.0.0.1:22379",
    "http://127.0.0.1:32379",
];

/// Runs `oxadm args...` inside the lab's host.
async fn oxadm(lab: &NetnsLab, args: &[&str]) -> Output {
    let mut command =
        tokio::process::Command::from(lab.command(0, binaries::oxadm().unwrap().to_str().unwrap()));
    command.args(args).kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("oxadm finishes")
        .expect("oxadm runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn supervisor_pids(dir: &std::path::Path) -> Vec<i32> {
    ["infra1", "infra2", "infra3"]
        .iter()
        .map(|name| {
            let pid_file = dir.join(name).join("supervisor.pid");
            std::fs::read_to_string(&pid_file)
                .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

/// Whether `pid` runs: a zombie (stopped, not yet reaped by whoever inherited it) does not.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_up_starts_a_checked_cluster_that_survives_kills_and_stops_cleanly() {
    let lab = NetnsLab::create(1).unwrap();
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-")
        .tempdir()
        .unwrap();
    let dir = work.path().join("cluster");
    let dir_arg = dir.to_str().unwrap();

    let up = oxadm(&lab, &["local", "up", "--dir", dir_arg]).await;
    assert!(up.status.success(), "oxadm local up failed:\n{}", text(&up));
    let shown = text(&up);
    assert!(shown.contains("cluster of 3 members is healthy"), "{shown}");
    assert!(shown.contains("endpoint status -w table"), "{shown}");

    // The seed's checks, with real etcdctl.
    let etcdctl = Etcdctl::new(ENDPOINTS).in_netns(&lab.host(0).netns);
    let members = etcdctl.ok(&["member", "list"]).await.unwrap().stdout;
    assert_eq!(
        members
            .lines()
            .filter(|l| l.contains(", started, infra"))
            .count(),
        3,
        "{members}"
    );
    let table = etcdctl
        .ok(&["endpoint", "status", "-w", "table"])
        .await
        .unwrap()
        .stdout;
    let table = AsciiTable::parse(&table).unwrap();
    assert_eq!(
        table
            .column("IS LEADER")
            .unwrap()
            .iter()
            .filter(|v| **v == "true")
            .count(),
        1
    );

    // Again: nothing is started twice.
    let pids = supervisor_pids(&dir);
    let again = oxadm(&lab, &["local", "up", "--dir", dir_arg]).await;
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        text(&again).matches("already running").count(),
        3,
        "{}",
        text(&again)
    );
    assert_eq!(supervisor_pids(&dir), pids);

    // A member killed outright is started again by its supervisor.
    let config = dir.join("infra2").join("oxcd.yaml");
    // Anchored at the program: the supervisor's command line names the same file.
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", "--"])
        .arg(format!("^\\S*/oxcd --config-file {}", config.display()))
        .status()
        .unwrap();
    assert!(killed.success(), "no oxcd of infra2 to kill");
    let infra2 = Etcdctl::new([ENDPOINTS[1]]).in_netns(&lab.host(0).netns);
    wait::until_ok("infra2 to serve again", Duration::from_secs(30), || async {
        infra2.ok(&["endpoint", "health"]).await
    })
    .await
    .unwrap();
    let log = std::fs::read_to_string(dir.join("infra2").join("oxcd.log")).unwrap();
    assert!(
        log.contains("oxadm supervise: oxcd was killed by signal 9; restarting it"),
        "{log}"
    );

    let down = oxadm(&lab, &["local", "down", "--dir", dir_arg]).await;
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(
        text(&down).matches(": stopped").count(),
        3,
        "{}",
        text(&down)
    );
    for pid in pids {
        assert!(!alive(pid), "supervisor {pid} still runs after down");
    }
    let gone = std::process::Command::new("pgrep")
        .args(["-f", "--"])
        .arg(format!("--config-file {}", dir.display()))
        .output()
        .unwrap();
    assert!(
        gone.stdout.is_empty(),
        "members still run: {}",
        String::from_utf8_lossy(&gone.stdout)
    );

    let purge = oxadm(&lab, &["local", "down", "--purge", "--dir", dir_arg]).await;
    assert!(purge.status.success(), "{}", text(&purge));
    assert!(!dir.exists(), "purge leaves {}", dir.display());
}

#[test]
fn local_up_refuses_sizes_it_cannot_lay_out() {
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-")
        .tempdir()
        .unwrap();
    let dir = work.path().join("cluster");
    let refused = std::process::Command::new(binaries::oxadm().unwrap())
        .args(["local", "up", "7", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("a local cluster has 1 to 6 members, not 7"),
        "{}",
        text(&refused)
    );
    assert!(!dir.exists(), "a refused cluster leaves no files");
}
