//! `oxadm up -f cluster.yaml` where systemd runs (three hosts booting systemd in containers,
//! logged into as root): each member becomes a systemd unit, enabled and active, that systemd starts again when
//! oxcd dies; the day-two commands act through systemd (`restart`, `logs`, `down` stops and
//! disables the units, `up` starts them again); `oxadm systemd` prints the units exactly as
//! installed, and `systemd-analyze verify` finds nothing wrong with them.

use std::time::{Duration, Instant};

use oxcd_tests::Etcdctl;
use oxcd_tests::oxadm_runs::oxadm_ok;
use oxcd_tests::seed_checks::assert_seed_checks;
use oxcd_tests::ssh_hosts::SshHosts;
use oxcd_tests::wait;

fn unit(i: usize) -> String {
    format!("oxcd-peer{}.service", i + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_where_systemd_runs_makes_members_units_that_systemd_keeps_running() {
    let hosts = SshHosts::with_systemd(3).await.unwrap();
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-systemd-")
        .tempdir()
        .unwrap();
    // The seed's scenario in one command, from the operator's cluster file.
    let file = work
        .path()
        .join("cluster.yaml")
        .to_str()
        .unwrap()
        .to_owned();
    std::fs::write(&file, hosts.cluster_file_text("systemd-cluster", 3)).unwrap();

    let started = Instant::now();
    oxadm_ok(&["up", "-f", &file]).await;
    eprintln!(
        "oxadm up with systemd: bare hosts to a healthy cluster in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    for i in 0..3 {
        let state = hosts
            .ssh(
                i,
                &format!(
                    "systemctl is-active {u}; systemctl is-enabled {u}; pgrep -f '[o]xadm supervise' || true",
                    u = unit(i)
                ),
            )
            .await
            .unwrap();
        assert_eq!(state, "active\nenabled\n", "host {i}");
    }
    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("http://{}:2379", hosts.ip(i)))
        .collect();
    let etcdctl = Etcdctl::new(endpoints);
    assert_seed_checks(&etcdctl, 3, "peer").await.unwrap();

    // systemd starts a member again when its oxcd dies.
    hosts
        .ssh(1, &format!("systemctl kill --signal=SIGKILL {}", unit(1)))
        .await
        .unwrap();
    wait::until_ok(
        "systemd restarting peer2",
        Duration::from_secs(30),
        || async {
            let state = hosts
                .ssh(
                    1,
                    &format!(
                        "systemctl show -p NRestarts --value {u}; systemctl is-active {u} || true",
                        u = unit(1)
                    ),
                )
                .await?;
            anyhow::ensure!(state == "1\nactive\n", "{state:?}");
            Ok(())
        },
    )
    .await
    .unwrap();
    // Active is started, not yet serving: restart refuses a cluster with a member down.
    let peer2 = Etcdctl::new([format!("http://{}:2379", hosts.ip(1))]);
    wait::until_ok("peer2 serving again", Duration::from_secs(30), || {
        peer2.ok(&["endpoint", "health"])
    })
    .await
    .unwrap();

    let restart = oxadm_ok(&["restart", "-f", &file]).await;
    restart.assert_says(": restarted, cluster healthy again", 3);
    let logs = oxadm_ok(&["logs", "peer2", "-f", &file, "-n", "400"]).await;
    assert!(
        logs.text().contains("\"msg\":\"Running: \""),
        "{}",
        logs.text()
    );

    // The printed unit is the installed one, and systemd finds nothing wrong with it.
    let printed = oxadm_ok(&["systemd", "peer1", "-f", &file]).await;
    let installed = hosts
        .ssh(0, &format!("cat /etc/systemd/system/{}", unit(0)))
        .await
        .unwrap();
    assert!(
        printed.text().contains(&installed),
        "printed:\n{}\ninstalled:\n{installed}",
        printed.text()
    );
    let verified = hosts
        .ssh(
            0,
            &format!(
                "systemd-analyze verify /etc/systemd/system/{} 2>&1",
                unit(0)
            ),
        )
        .await
        .unwrap();
    assert_eq!(verified, "", "systemd-analyze verify");

    let down = oxadm_ok(&["down", "-f", &file]).await;
    down.assert_says(": stopped", 3);
    for i in 0..3 {
        let state = hosts
            .ssh(
                i,
                &format!(
                    "systemctl is-active {u} || true; systemctl is-enabled {u} || true",
                    u = unit(i)
                ),
            )
            .await
            .unwrap();
        assert_eq!(state, "inactive\ndisabled\n", "host {i}");
    }

    let again = oxadm_ok(&["up", "-f", &file]).await;
    assert!(!again.text().contains("installed"), "{}", again.text());
    assert_seed_checks(&etcdctl, 3, "peer").await.unwrap();
    for i in 0..3 {
        let state = hosts
            .ssh(i, &format!("systemctl is-active {}", unit(i)))
            .await
            .unwrap();
        assert_eq!(state, "active\n", "host {i}");
    }
}
