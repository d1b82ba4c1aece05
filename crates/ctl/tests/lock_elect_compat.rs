//! `oxctl lock` and `oxctl elect` against `etcdctl lock` and `etcdctl elect` 3.5.1 on one
//! etcd server: each scenario runs with each tool and what it printed and how it ended must
//! be identical once lease ids and revisions are masked. The tools also share locks and
//! elections with each other (the same keys and transactions): a lock held by one makes the
//! other wait, an election led by one is taken over by the other. Each test runs on real etcd
//! and on oxcd.

use oxcd_testkit::etcd::require_etcdctl;
use oxcd_testkit::etcd_cluster::Cluster;
use oxcd_testkit::ports::free_port;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bound on anything that should happen promptly.
const PROMPTLY: Duration = Duration::from_secs(10);
/// How long a waiter is watched to see that it really waits.
const STILL_WAITING: Duration = Duration::from_millis(700);

/// A running tool whose output is collected as it comes.
struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
}

/// What a tool printed and its exit code.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                return;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

fn start(tool: &Path, endpoint: &str, args: &[&str]) -> Running {
    let mut child = Command::new(tool)
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let readers = vec![
        collect(child.stdout.take().unwrap(), stdout.clone()),
        collect(child.stderr.take().unwrap(), stderr.clone()),
    ];
    Running {
        child,
        stdout,
        stderr,
        readers,
    }
}

impl Running {
    /// Waits until stdout holds `lines` lines.
    fn wait_lines(&self, lines: usize) {
        let deadline = Instant::now() + PROMPTLY;
        while self.stdout.lock().unwrap().lines().count() < lines {
            assert!(
                Instant::now() < deadline,
                "no {lines} lines: {:?} / {:?}",
                self.stdout.lock().unwrap(),
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit and returns what was printed, masked.
    fn finish(mut self) -> Outcome {
        let deadline = Instant::now() + PROMPTLY;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        Outcome {
            stdout: mask(&self.stdout.lock().unwrap()),
            stderr: mask(&without_client_logs(&self.stderr.lock().unwrap())),
            code,
        }
    }
}

/// etcdctl's Go client sometimes logs a call cancelled by the exit (a race inside etcdctl,
/// not output of the command): such lines are dropped.
fn without_client_logs(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with("{\"level\""))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Masks lease ids (`/` then 16 hex digits) and the numbers after `rev=`.
fn mask(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['/', '=']) {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = if out.ends_with("rev=") {
            rest.bytes().take_while(u8::is_ascii_digit).count()
        } else {
            let hex = rest
                .bytes()
                .take_while(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                .count();
            if out.ends_with('/') && hex >= 12 {
                hex
            } else {
                0
            }
        };
        if digits > 0 {
            out.push('…');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn tools() -> [(&'static str, PathBuf); 2] {
    [
        ("etcdctl", require_etcdctl()),
        ("oxctl", PathBuf::from(env!("CARGO_BIN_EXE_oxctl"))),
    ]
}

#[test]
fn lock_and_elect_behave_as_etcdctls_on_etcd() {
    let cluster = Cluster::start(1);
    same_as_etcdctl(&cluster.endpoints()[0]);
}

#[test]
fn lock_and_elect_behave_as_etcdctls_on_oxcd() {
    let server = Oxcd::start();
    same_as_etcdctl(&server.endpoint);
}

#[test]
fn etcdctl_and_oxctl_exclude_each_other_on_etcd() {
    let cluster = Cluster::start(1);
    exclude_each_other(&cluster.endpoints()[0]);
}

#[test]
fn etcdctl_and_oxctl_exclude_each_other_on_oxcd() {
    let server = Oxcd::start();
    exclude_each_other(&server.endpoint);
}

/// Runs every scenario with each tool against `endpoint` and compares.
fn same_as_etcdctl(endpoint: &str) {
    let endpoint = endpoint.to_string();
    let [(_, etcdctl), (_, oxctl)] = tools();
    let mut outcomes: Vec<(String, [Outcome; 2])> = Vec::new();
    let mut record = |name: &str, run: &dyn Fn(&Path, &str) -> Outcome| {
        // Each tool gets its own lock or election name, shown as one in the comparison.
        let named = |tool: &Path, suffix: &str| {
            let own = format!("{name}-{suffix}");
            let outcome = run(tool, &own);
            let same = format!("{name}-TOOL");
            Outcome {
                stdout: outcome.stdout.replace(&own, &same),
                stderr: outcome.stderr.replace(&own, &same),
                code: outcome.code,
            }
        };
        let both = [named(&etcdctl, "etcdctl"), named(&oxctl, "oxctl")];
        outcomes.push((name.to_string(), both));
    };

    record("plain", &|tool, lock| {
        let held = start(tool, &endpoint, &["lock", lock]);
        held.wait_lines(1);
        held.interrupt();
        held.finish()
    });
    // The lock's lease revoked from outside: the holder reports its session expired.
    record("expired", &|tool, lock| {
        // A short TTL renews often, so the loss shows soon.
        let held = start(tool, &endpoint, &["lock", "--ttl=3", lock]);
        held.wait_lines(1);
        let key = held
            .stdout
            .lock()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        let lease = key.rsplit('/').next().unwrap().to_string();
        let revoked = Command::new(require_etcdctl())
            .arg(format!("--endpoints={endpoint}"))
            .args(["lease", "revoke", &lease])
            .output()
            .unwrap();
        assert!(revoked.status.success(), "{revoked:?}");
        held.finish()
    });
    record("exec", &|tool, lock| {
        start(
            tool,
            &endpoint,
            &[
                "lock",
                lock,
                "--",
                "sh",
                "-c",
                "echo key=$ETCD_LOCK_KEY rev=$ETCD_LOCK_REV; exit 3",
            ],
        )
        .finish()
    });
    record("exec-missing", &|tool, lock| {
        start(tool, &endpoint, &["lock", lock, "no-such-command-x"]).finish()
    });
    record("ttl", &|tool, lock| {
        start(tool, &endpoint, &["lock", "--ttl=abc", lock]).finish()
    });
    // A waiter cancelled by SIGINT ends as etcdctl's does and leaves no key.
    record("cancelled", &|tool, lock| {
        let held = start(tool, &endpoint, &["lock", lock]);
        held.wait_lines(1);
        let mut waiter = start(tool, &endpoint, &["lock", lock, "echo", "got"]);
        std::thread::sleep(STILL_WAITING);
        assert!(waiter.still_running());
        waiter.interrupt();
        let waited = waiter.finish();
        held.interrupt();
        held.finish();
        let left = Command::new(require_etcdctl())
            .arg(format!("--endpoints={endpoint}"))
            .args(["get", "--prefix", "--keys-only", &format!("{lock}/")])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&left.stdout), "", "key left behind");
        waited
    });
    // An observer sees the first leader, then the one that took over after it resigned.
    record("elect", &|tool, election| {
        let observer = start(tool, &endpoint, &["elect", "-l", election]);
        let first = start(tool, &endpoint, &["elect", election, "p1"]);
        first.wait_lines(2);
        let mut second = start(tool, &endpoint, &["elect", election, "p2"]);
        std::thread::sleep(STILL_WAITING);
        assert!(second.still_running());
        assert_eq!(second.stdout.lock().unwrap().as_str(), "");
        first.interrupt();
        let first = first.finish();
        second.wait_lines(2);
        observer.wait_lines(4);
        second.interrupt();
        observer.interrupt();
        let second = second.finish();
        let observed = observer.finish();
        Outcome {
            stdout: format!("{}{}{}", first.stdout, second.stdout, observed.stdout),
            stderr: format!("{}{}{}", first.stderr, second.stderr, observed.stderr),
            code: observed.code,
        }
    });
    for (args, name) in [
        (&["elect", "e"][..], "elect-no-proposal"),
        (&["elect", "-l", "e", "p"][..], "elect-listen-proposal"),
    ] {
        record(name, &|tool, _| start(tool, &endpoint, args).finish());
    }

    let mut failures = Vec::new();
    for (name, [etcd, ours]) in &outcomes {
        if etcd != ours {
            failures.push(format!("{name}:\n etcdctl {etcd:?}\n oxctl   {ours:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let exec = &outcomes.iter().find(|(name, _)| name == "exec").unwrap().1[1];
    assert_eq!(exec.code, Some(3));
    assert!(exec.stdout.starts_with("key=exec-TOOL/… rev=…"), "{exec:?}");
}

/// Each tool waits for a lock the other holds, and gets it once the other is interrupted.
fn exclude_each_other(endpoint: &str) {
    let [(holder_name, etcdctl), (waiter_name, oxctl)] = tools();
    for (holder_tool, waiter_tool, label) in [
        (&etcdctl, &oxctl, format!("{holder_name} holds")),
        (&oxctl, &etcdctl, format!("{waiter_name} holds")),
    ] {
        let lock = format!("shared-{}", label.replace(' ', "-"));
        let held = start(holder_tool, endpoint, &["lock", &lock]);
        held.wait_lines(1);
        let mut waiter = start(waiter_tool, endpoint, &["lock", &lock, "echo", "got"]);
        std::thread::sleep(STILL_WAITING);
        assert!(waiter.still_running(), "{label}: waiter did not wait");
        held.interrupt();
        let held = held.finish();
        assert_eq!(held.code, Some(0), "{label}: {held:?}");
        let waited = waiter.finish();
        assert_eq!(
            waited,
            Outcome {
                stdout: "got\n".to_string(),
                stderr: String::new(),
                code: Some(0)
            },
            "{label}"
        );
    }
}

/// A single-member oxcd (`oxcd` next to the `oxctl` under test: `cargo build --workspace`
/// builds both), killed and its data removed on drop.
struct Oxcd {
    child: Child,
    data_dir: PathBuf,
    endpoint: String,
}

impl Oxcd {
    fn start() -> Oxcd {
        let oxctl = PathBuf::from(env!("CARGO_BIN_EXE_oxctl"));
        let binary = oxctl.with_file_name("oxcd");
        assert!(
            binary.is_file(),
            "{} missing: build it with `cargo build --workspace --all-targets`",
            binary.display()
        );
        let client = format!("http://127.0.0.1:{}", free_port());
        let peer = format!("http://127.0.0.1:{}", free_port());
        let data_dir = std::env::temp_dir().join(format!("oxctl-lock-{}", free_port()));
        let child = Command::new(binary)
            .arg("--data-dir")
            .arg(&data_dir)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .arg(format!("--initial-cluster=default={peer}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Oxcd {
            child,
            data_dir,
            endpoint: client,
        };
        let deadline = Instant::now() + PROMPTLY;
        loop {
            let probe = Command::new(&oxctl)
                .arg(format!("--endpoints={}", server.endpoint))
                .args(["get", "probe"])
                .output()
                .unwrap();
            if probe.status.success() {
                return server;
            }
            assert!(Instant::now() < deadline, "oxcd did not start serving");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Oxcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
