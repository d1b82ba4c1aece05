//! `oxadm up` on three hosts, as the seed's scenario has them: network namespaces with their
//! own addresses, each with its own sshd and a private home, logged into with a key as a
//! non-root user. From bare hosts, one command brings up a cluster that real etcdctl 3.5.1
//! checks as the seed does (`member list`: three started; `endpoint status -w table`: one
//! leader); running it again changes nothing; `status` and `down` act on the written cluster
//! file. Before that, each refused setup gives its message and changes nothing: unknown host
//! keys, a key the hosts refuse, a host that cannot be reached, a port taken, a binary missing
//! or built for another machine. Members that fail to start are reported with their log.

use std::path::Path;
use std::time::Instant;

use oxcd_tests::Etcdctl;
use oxcd_tests::oxadm_runs::{oxadm, oxadm_ok, oxadm_refused};
use oxcd_tests::seed_checks::assert_seed_checks;
use oxcd_tests::ssh_hosts::SshHosts;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_brings_three_bare_hosts_to_a_checked_cluster_and_down_stops_it() {
    let hosts = SshHosts::start(3).await.unwrap();
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-up-")
        .tempdir()
        .unwrap();
    let file = work.path().join("oxadm.yaml");
    let members: Vec<String> = (0..3).map(|i| hosts.member_spec(i)).collect();
    let key = hosts.client_key().display().to_string();
    let known_hosts = hosts.known_hosts_option();
    let up_args = |extra: &[String]| {
        let mut args = strings(&["up", "-f", file.to_str().unwrap()]);
        args.extend(members.iter().cloned());
        args.extend(extra.iter().cloned());
        args
    };

    // Refused: hosts whose keys are unknown, then a key they do not accept.
    oxadm_refused(
        &up_args(&strings(&[
            "-i",
            &key,
            "--ssh-option=-oUserKnownHostsFile=/dev/null",
        ])),
        "host key is not the one known_hosts has",
    )
    .await;
    let stranger = work.path().join("stranger");
    let keygen = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            stranger.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(keygen.success());
    oxadm_refused(
        &up_args(&strings(&["-i", stranger.to_str().unwrap(), &known_hosts])),
        "authentication failed",
    )
    .await;
    // Refused: a host that cannot be reached, a port taken, a binary missing or built for
    // another machine.
    let mut unreachable = up_args(&strings(&["-i", &key, &known_hosts]));
    unreachable[5] = "peer3=nobody@127.0.0.1:1".to_owned();
    oxadm_refused(&unreachable, "cannot reach 127.0.0.1:1 over SSH").await;
    hosts
        .ssh(
            0,
            "setsid python3 -c 'import socket, time; s = socket.socket(); s.bind((\"0.0.0.0\", 2379)); s.listen(); time.sleep(120)' oxt-port-holder > /dev/null 2>&1 < /dev/null &",
        )
        .await
        .unwrap();
    oxadm_refused(
        &up_args(&strings(&["-i", &key, &known_hosts])),
        "port 2379 is taken by another process",
    )
    .await;
    hosts
        .ssh(
            0,
            "pkill -u $(id -u) -f 'oxt-port-[h]older' 2>/dev/null || true",
        )
        .await
        .unwrap();
    let missing = work.path().join("no-such-oxcd");
    oxadm_refused(
        &up_args(&strings(&[
            "-i",
            &key,
            &known_hosts,
            "--binary",
            missing.to_str().unwrap(),
        ])),
        "no-such-oxcd",
    )
    .await;
    let foreign = work.path().join("oxcd-aarch64");
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[18] = 0xb7;
    std::fs::write(&foreign, header).unwrap();
    oxadm_refused(
        &up_args(&strings(&[
            "-i",
            &key,
            &known_hosts,
            "--binary",
            foreign.to_str().unwrap(),
        ])),
        "the oxcd binary is built for aarch64 but the host runs x86_64",
    )
    .await;

    assert!(!file.exists(), "a refused `up` writes no cluster file");
    for i in 0..3 {
        assert!(
            !hosts.home(i).join("oxcd").exists(),
            "a refused `up` changed host {i}"
        );
    }

    // From bare hosts to a healthy cluster.
    let started = Instant::now();
    let up = oxadm(&up_args(&strings(&["-i", &key, &known_hosts])))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(up.success(), "oxadm up failed:\n{}", up.text());
    eprintln!(
        "oxadm up: bare hosts to a healthy cluster in {:.1}s",
        took.as_secs_f64()
    );
    assert!(
        up.text().contains("cluster of 3 members is healthy"),
        "{}",
        up.text()
    );
    up.assert_says("installed oxcd on", 3);

    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("http://{}:2379", hosts.ip(i)))
        .collect();
    let etcdctl = Etcdctl::new(endpoints.clone());
    assert_seed_checks(&etcdctl, 3, "peer").await.unwrap();
    // Each host keeps its member in its own home.
    for i in 0..3 {
        let config = hosts.home(i).join(format!("oxcd/peer{}/oxcd.yaml", i + 1));
        assert!(config.is_file(), "{} missing", config.display());
    }

    // Again, from the cluster file alone: nothing changes.
    let file_arg = file.to_str().unwrap().to_owned();
    let again = oxadm_ok(&strings(&["up", "-f", &file_arg])).await;
    again.assert_says("already running", 3);
    assert!(!again.text().contains("installed"), "{}", again.text());

    let status = oxadm_ok(&strings(&["status", "-f", &file_arg])).await;
    status.assert_says(" healthy ", 3);
    assert!(
        status.text().contains("3/3 members answer"),
        "{}",
        status.text()
    );

    let down = oxadm_ok(&strings(&["down", "-f", &file_arg])).await;
    down.assert_says(": stopped", 3);
    for i in 0..3 {
        let left = hosts
            .ssh(i, "pgrep -u oxt-etcd -f '[o]xcd --config-file' || true")
            .await
            .unwrap();
        assert!(left.trim().is_empty(), "host {i} still runs: {left}");
    }

    // Members that fail to start are reported with the end of their log at once (only that
    // report says "failed to start"), not after the wait for a healthy cluster.
    let broken = work.path().join("broken.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &broken,
        format!("{text}settings: {{snapshot-count: lots}}\n"),
    )
    .unwrap();
    let failing = oxadm_refused(
        &strings(&["up", "-f", broken.to_str().unwrap()]),
        "failed to start on",
    )
    .await;
    assert!(
        failing
            .text()
            .contains("cannot unmarshal string into Go struct field configYAML.snapshot-count"),
        "{}",
        failing.text()
    );
    oxadm_ok(&strings(&["down", "-f", broken.to_str().unwrap()])).await;

    // A host whose home holds another cluster's member is refused.
    oxadm_refused(
        &{
            let mut args = strings(&["up", "-f", work.path().join("other.yaml").to_str().unwrap()]);
            args.extend(members.iter().cloned());
            args.extend(strings(&[
                "-i",
                &key,
                &known_hosts,
                "--token",
                "another-cluster",
            ]));
            args
        },
        "holds a member of another cluster",
    )
    .await;
    assert!(Path::new(&hosts.home(0)).exists());
}
