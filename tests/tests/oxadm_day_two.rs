//! `oxadm`'s day-two commands on a cluster it brought up on three SSH hosts (network
//! namespaces with their own sshd and private homes), each under a write load: `restart`
//! (rolling, the leader last), `upgrade` (a new binary on every host, then rolling; nothing to
//! do when every host has it), `logs`, `backup` (a snapshot oxutl reads, with a checksum
//! `sha256sum -c` accepts) and `restore` (a new cluster from that backup on the same hosts;
//! a damaged backup or running members refused). No acknowledged write is lost (every member
//! holds every one; after the restore, every one acknowledged before the backup), and a
//! restart that could cost the quorum is refused.

use std::time::Instant;

use oxcd_tests::acked_writers::{AckedWriters, assert_endpoints_hold};
use oxcd_tests::binaries;
use oxcd_tests::oxadm_runs::{oxadm_ok, oxadm_refused};
use oxcd_tests::ssh_hosts::SshHosts;

const PREFIX: &str = "/daytwo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_upgrade_logs_backup_and_restore_lose_no_acknowledged_write() {
    let hosts = SshHosts::start(3).await.unwrap();
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-day2-")
        .tempdir()
        .unwrap();
    let file = work.path().join("oxadm.yaml").to_str().unwrap().to_owned();
    let up = hosts.oxadm_up_args(&file, 3);
    oxadm_ok(&up).await;

    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("http://{}:2379", hosts.ip(i)))
        .collect();
    let writers = AckedWriters::start(&endpoints, PREFIX, 64);

    let started = Instant::now();
    let restart = oxadm_ok(&["restart", "-f", &file]).await;
    eprintln!("oxadm restart: {:.1}s", started.elapsed().as_secs_f64());
    restart.assert_says(": restarted, cluster healthy again", 3);
    restart.assert_says("leadership moved to", 1);

    // A binary that differs from the installed one (trailing bytes do not change an ELF file).
    let new_binary = work.path().join("oxcd-next");
    let mut content = std::fs::read(binaries::oxcd().unwrap()).unwrap();
    content.extend_from_slice(b"oxcd-next");
    std::fs::write(&new_binary, content).unwrap();
    std::fs::set_permissions(
        &new_binary,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let new_binary = new_binary.to_str().unwrap().to_owned();
    let started = Instant::now();
    let upgrade = oxadm_ok(&["upgrade", "-f", &file, "--binary", &new_binary]).await;
    eprintln!("oxadm upgrade: {:.1}s", started.elapsed().as_secs_f64());
    upgrade.assert_says("installed oxcd on", 3);
    upgrade.assert_says(": restarted, cluster healthy again", 3);
    let again = oxadm_ok(&["upgrade", "-f", &file, "--binary", &new_binary]).await;
    assert!(
        again.text().contains("nothing to restart"),
        "{}",
        again.text()
    );

    let logs = oxadm_ok(&["logs", "peer2", "-f", &file, "-n", "400"]).await;
    assert!(
        logs.text().contains("restarting oxcd on request"),
        "{}",
        logs.text()
    );

    let backup = work.path().join("backup.db");
    let before_backup = writers.acknowledged_keys();
    oxadm_ok(&["backup", backup.to_str().unwrap(), "-f", &file]).await;
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "backup.db.sha256"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let status = std::process::Command::new(binaries::oxutl().unwrap())
        .args(["snapshot", "status", backup.to_str().unwrap(), "-w", "json"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let acked = writers.stop().await;
    assert_endpoints_hold(&endpoints, &acked, PREFIX).await;

    // A damaged backup is refused before anything changes.
    let damaged = work.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    std::fs::copy(
        work.path().join("backup.db.sha256"),
        work.path().join("damaged.db.sha256"),
    )
    .unwrap();
    oxadm_refused(
        &["restore", damaged.to_str().unwrap(), "-f", &file],
        "does not match its checksum",
    )
    .await;
    // ... and so is a restore over running members.
    oxadm_refused(
        &["restore", backup.to_str().unwrap(), "-f", &file],
        "stop the cluster with `oxadm down` first",
    )
    .await;

    // The cluster made anew from the backup holds every write acknowledged before it.
    oxadm_ok(&["down", "-f", &file]).await;
    let started = Instant::now();
    let restored = oxadm_ok(&["restore", backup.to_str().unwrap(), "-f", &file]).await;
    eprintln!("oxadm restore: {:.1}s", started.elapsed().as_secs_f64());
    restored.assert_says("its old files are kept in", 3);
    assert_endpoints_hold(&endpoints, &before_backup, PREFIX).await;

    // With one member down, a restart could cost the quorum: refused, nothing restarted.
    // The supervisor stops its oxcd before it exits.
    hosts
        .ssh(
            2,
            "pid=$(cat oxcd/peer3/supervisor.pid); kill $pid; while kill -0 $pid 2>/dev/null; do sleep 0.1; done",
        )
        .await
        .unwrap();
    let refused = oxadm_refused(&["restart", "-f", &file], "could cost the quorum").await;
    assert!(!refused.text().contains("restarted"), "{}", refused.text());
}
