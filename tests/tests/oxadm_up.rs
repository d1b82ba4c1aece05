//! `oxadm up` on three hosts, as the seed's scenario has them: network namespaces with their
//! own addresses, each with its own sshd and a private home, logged into with a key as a
//! non-root user. From bare hosts, one command brings up a cluster that real etcdctl 3.5.1
//! checks as the seed does (`member list`: three started; `endpoint status -w table`: one
//! leader); running it again changes nothing; `status` and `down` act on the written cluster
//! file. Before that, each refused setup gives its message and changes nothing.

use std::path::Path;
use std::time::Instant;

use oxcd_tests::Etcdctl;
use oxcd_tests::oxadm_runs::oxadm;
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
    let unknown = oxadm(&up_args(&strings(&[
        "-i",
        &key,
        "--ssh-option=-oUserKnownHostsFile=/dev/null",
    ])))
    .await
    .unwrap();
    assert!(!unknown.success());
    assert!(
        unknown
            .text()
            .contains("host key is not the one known_hosts has"),
        "{}",
        unknown.text()
    );
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
    let refused = oxadm(&up_args(&strings(&[
        "-i",
        stranger.to_str().unwrap(),
        &known_hosts,
    ])))
    .await
    .unwrap();
    assert!(
        refused.text().contains("authentication failed"),
        "{}",
        refused.text()
    );
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
    assert_eq!(
        up.text().matches("installed oxcd on").count(),
        3,
        "{}",
        up.text()
    );

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
    let again = oxadm(&strings(&["up", "-f", &file_arg])).await.unwrap();
    assert!(again.success(), "{}", again.text());
    assert_eq!(
        again.text().matches("already running").count(),
        3,
        "{}",
        again.text()
    );
    assert!(!again.text().contains("installed"), "{}", again.text());

    let status = oxadm(&strings(&["status", "-f", &file_arg])).await.unwrap();
    assert!(status.success(), "{}", status.text());
    assert_eq!(
        status.text().matches(" healthy ").count(),
        3,
        "{}",
        status.text()
    );
    assert!(
        status.text().contains("3/3 members answer"),
        "{}",
        status.text()
    );

    let down = oxadm(&strings(&["down", "-f", &file_arg])).await.unwrap();
    assert!(down.success(), "{}", down.text());
    assert_eq!(
        down.text().matches(": stopped").count(),
        3,
        "{}",
        down.text()
    );
    for i in 0..3 {
        let left = hosts
            .ssh(i, "pgrep -u oxt-etcd -f '[o]xcd --config-file' || true")
            .await
            .unwrap();
        assert!(left.trim().is_empty(), "host {i} still runs: {left}");
    }

    // A host whose home holds another cluster's member is refused.
    let other = oxadm(&{
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
    })
    .await
    .unwrap();
    assert!(!other.success());
    assert!(
        other.text().contains("holds a member of another cluster"),
        "{}",
        other.text()
    );
    assert!(Path::new(&hosts.home(0)).exists());
}
