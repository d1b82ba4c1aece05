//! Real etcdctl 3.5.1 `lock` and `elect` against the server under test behave as against real
//! etcd 3.5.1 (both recipes run in etcdctl over KV, lease and watch): exec mode with
//! `ETCD_LOCK_KEY` / `ETCD_LOCK_REV`, a second locker that waits until the holder exits on
//! SIGINT and is granted then, and `elect -l` observing a change of leader when the leader is
//! interrupted. The same script runs against a single-member etcd and a single-member server
//! under test; what each process printed, in order, and how it ended must match once lease ids
//! (part of every key) are masked.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use oxcd_tests::etcdctl::{CtlOutput, interrupt};
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// How long a process that should be waiting must stay silent.
const STILL_WAITING: Duration = Duration::from_secs(1);
/// Bound on anything that should happen promptly.
const PROMPT: Duration = Duration::from_secs(15);

/// Masks the lease id ending a lock or election key (`NAME/694d7b1c2c3d4e05`).
fn mask(text: &str) -> String {
    text.split(' ')
        .map(|word| match word.rsplit_once('/') {
            Some((name, id)) if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()) => {
                format!("{name}/<lease>")
            }
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn summary(out: &CtlOutput) -> String {
    format!(
        "exit {:?} stdout {:?} stderr {:?}",
        out.code,
        mask(&out.stdout),
        mask(&out.stderr)
    )
}

struct Running {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Running {
    fn start(ctl: &Etcdctl, args: &[&str]) -> Running {
        let mut child = ctl.spawn(args).unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Running { child, stdout }
    }

    async fn line(&mut self, what: &str) -> String {
        let line = tokio::time::timeout(PROMPT, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("{what}: no output"))
            .unwrap();
        mask(&line.unwrap_or_else(|| format!("<{what}: end of output>")))
    }

    /// Whether the process stays silent and running for [`STILL_WAITING`].
    async fn waits(&mut self) -> bool {
        tokio::time::timeout(STILL_WAITING, self.stdout.next_line())
            .await
            .is_err()
    }

    /// Interrupts it and answers how it ended and what it printed since.
    async fn interrupt(self) -> String {
        interrupt(&self.child).unwrap();
        self.finish().await
    }

    async fn finish(mut self) -> String {
        let status = tokio::time::timeout(PROMPT, self.child.wait())
            .await
            .expect("etcdctl exits")
            .unwrap();
        let mut rest = Vec::new();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            rest.push(mask(&line));
        }
        format!("exit {:?} then printed {rest:?}", status.code())
    }
}

async fn script(ctl: Etcdctl) -> Vec<String> {
    let mut t = Vec::new();
    let exec = ctl
        .run(&[
            "lock",
            "exec",
            "--",
            "sh",
            "-c",
            "echo key=$ETCD_LOCK_KEY rev=$ETCD_LOCK_REV",
        ])
        .await
        .unwrap();
    t.push(format!("exec: {}", summary(&exec)));

    let mut holder = Running::start(&ctl, &["lock", "L"]);
    t.push(format!("holder: {}", holder.line("holder").await));
    let mut second = Running::start(&ctl, &["lock", "L", "--", "echo", "second holds it"]);
    t.push(format!("second waits: {}", second.waits().await));
    t.push(format!("holder interrupted: {}", holder.interrupt().await));
    t.push(format!("second: {}", second.line("second").await));
    t.push(format!("second: {}", second.finish().await));

    let mut observer = Running::start(&ctl, &["elect", "-l", "E"]);
    let mut first = Running::start(&ctl, &["elect", "E", "p1"]);
    t.push(format!("p1: {}", first.line("p1 key").await));
    t.push(format!("p1: {}", first.line("p1 value").await));
    let mut next = Running::start(&ctl, &["elect", "E", "p2"]);
    t.push(format!("p2 waits: {}", next.waits().await));
    for _ in 0..2 {
        t.push(format!("observer: {}", observer.line("observer").await));
    }
    t.push(format!("p1 interrupted: {}", first.interrupt().await));
    t.push(format!("p2: {}", next.line("p2 key").await));
    t.push(format!("p2: {}", next.line("p2 value").await));
    for _ in 0..2 {
        t.push(format!("observer: {}", observer.line("observer").await));
    }
    t.push(format!("p2 interrupted: {}", next.interrupt().await));
    t.push(format!(
        "observer interrupted: {}",
        observer.interrupt().await
    ));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_lock_and_elect_behave_as_against_etcd() {
    oxcd_testkit::etcd::require_etcdctl();
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-elect-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-elect-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(
        script(Etcdctl::new(oracle.endpoints())),
        script(Etcdctl::new(subject.endpoints())),
    );
    assert_eq!(
        expected, actual,
        "etcdctl lock/elect differ (left: etcd, right: under test)"
    );
    assert!(
        expected.iter().any(|l| l == "second waits: true"),
        "the second locker must have waited: {expected:#?}"
    );
}
