//! `oxadm up` on three hosts, as the seed's scenario has them: network namespaces with their
//! own addresses, each with its own sshd and a private home, logged into with a key as a
//! non-root user. From bare hosts, one command brings up a cluster that real etcdctl 3.5.1
//! checks as the seed does (`member list`: three started; `endpoint status -w table`: one
//! leader); running it again changes nothing; `status` and `down` act on the written cluster
//! file. Before that, each refused setup gives its message and changes nothing.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use oxcd_tests::Etcdctl;
use oxcd_tests::ascii_table::AsciiTable;
use oxcd_tests::binaries;
use oxcd_tests::ssh_hosts::{SSH_USER, SshHosts};

async fn oxadm(args: &[String]) -> Output {
    let mut command = tokio::process::Command::new(binaries::oxadm().unwrap());
    command.args(args).kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(240), command.output())
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
    let members: Vec<String> = (0..3)
        .map(|i| format!("peer{}={SSH_USER}@{}", i + 1, hosts.ip(i)))
        .collect();
    let key = hosts.client_key().display().to_string();
    let known_hosts = format!(
        "--ssh-option=-oUserKnownHostsFile={}",
        hosts.known_hosts().display()
    );
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
    .await;
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("host key is not the one known_hosts has"),
        "{}",
        text(&unknown)
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
    .await;
    assert!(
        text(&refused).contains("authentication failed"),
        "{}",
        text(&refused)
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
    let up = oxadm(&up_args(&strings(&["-i", &key, &known_hosts]))).await;
    let took = started.elapsed();
    assert!(up.status.success(), "oxadm up failed:\n{}", text(&up));
    eprintln!(
        "oxadm up: bare hosts to a healthy cluster in {:.1}s",
        took.as_secs_f64()
    );
    assert!(
        text(&up).contains("cluster of 3 members is healthy"),
        "{}",
        text(&up)
    );
    assert_eq!(
        text(&up).matches("installed oxcd on").count(),
        3,
        "{}",
        text(&up)
    );

    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("http://{}:2379", hosts.ip(i)))
        .collect();
    let etcdctl = Etcdctl::new(endpoints.clone());
    let list = etcdctl.ok(&["member", "list"]).await.unwrap().stdout;
    assert_eq!(
        list.lines()
            .filter(|l| l.contains(", started, peer"))
            .count(),
        3,
        "{list}"
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
    // Each host keeps its member in its own home.
    for i in 0..3 {
        let config = hosts.home(i).join(format!("oxcd/peer{}/oxcd.yaml", i + 1));
        assert!(config.is_file(), "{} missing", config.display());
    }

    // Again, from the cluster file alone: nothing changes.
    let file_arg = file.to_str().unwrap().to_owned();
    let again = oxadm(&strings(&["up", "-f", &file_arg])).await;
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        text(&again).matches("already running").count(),
        3,
        "{}",
        text(&again)
    );
    assert!(!text(&again).contains("installed"), "{}", text(&again));

    let status = oxadm(&strings(&["status", "-f", &file_arg])).await;
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(
        text(&status).matches(" healthy ").count(),
        3,
        "{}",
        text(&status)
    );
    assert!(
        text(&status).contains("3/3 members answer"),
        "{}",
        text(&status)
    );

    let down = oxadm(&strings(&["down", "-f", &file_arg])).await;
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(
        text(&down).matches(": stopped").count(),
        3,
        "{}",
        text(&down)
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
    .await;
    assert!(!other.status.success());
    assert!(
        text(&other).contains("holds a member of another cluster"),
        "{}",
        text(&other)
    );
    assert!(Path::new(&hosts.home(0)).exists());
}
