//! `oxadm local`: a three-member cluster on one machine with one command, inside a network
//! namespace of its own (the members take etcd's fixed ports 2379/22379/32379). Checked with
//! real etcdctl 3.5.1 as the seed checks a cluster; then `up` again changes nothing, a member
//! killed with SIGKILL is restarted by its supervisor, and `down` stops every process.

use std::time::Duration;

use oxcd_tests::oxadm_runs::{oxadm, oxadm_in};
use oxcd_tests::seed_checks::assert_seed_checks;
use oxcd_tests::{Etcdctl, NetnsLab, wait};

const ENDPOINTS: [&str; 3] = [
    "http://127.0.0.1:2379",
    "http://127.0.0.1:22379",
    "http://127.0.0.1:32379",
];

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

    let up = oxadm_in(&lab, 0, &["local", "up", "--dir", dir_arg])
        .await
        .unwrap();
    assert!(up.success(), "oxadm local up failed:\n{}", up.text());
    let shown = up.text();
    assert!(shown.contains("cluster of 3 members is healthy"), "{shown}");
    assert!(shown.contains("endpoint status -w table"), "{shown}");

    // The seed's checks, with real etcdctl.
    let etcdctl = Etcdctl::new(ENDPOINTS).in_netns(&lab.host(0).netns);
    assert_seed_checks(&etcdctl, 3, "infra").await.unwrap();

    // Again: nothing is started twice.
    let pids = supervisor_pids(&dir);
    let again = oxadm_in(&lab, 0, &["local", "up", "--dir", dir_arg])
        .await
        .unwrap();
    assert!(again.success(), "{}", again.text());
    again.assert_says("already running", 3);
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

    let down = oxadm_in(&lab, 0, &["local", "down", "--dir", dir_arg])
        .await
        .unwrap();
    assert!(down.success(), "{}", down.text());
    down.assert_says(": stopped", 3);
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

    let purge = oxadm_in(&lab, 0, &["local", "down", "--purge", "--dir", dir_arg])
        .await
        .unwrap();
    assert!(purge.success(), "{}", purge.text());
    assert!(!dir.exists(), "purge leaves {}", dir.display());
}

#[tokio::test]
async fn local_up_refuses_sizes_it_cannot_lay_out() {
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-")
        .tempdir()
        .unwrap();
    let dir = work.path().join("cluster");
    let refused = oxadm(&["local", "up", "7", "--dir", dir.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(refused.output.status.code(), Some(1));
    assert!(
        refused
            .text()
            .contains("a local cluster has 1 to 6 members, not 7"),
        "{}",
        refused.text()
    );
    assert!(!dir.exists(), "a refused cluster leaves no files");
}
