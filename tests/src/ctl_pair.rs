//! Real etcdctl 3.5.1 run side by side against etcd and the server under test: each command
//! goes to both, and any difference in exit status, output or error output (after a test's own
//! masking of what legitimately differs, and of etcdctl's timestamped client log lines) is
//! recorded; the test asserts at the end that none was, listing every difference at once.

use std::time::Duration;

use crate::etcdctl::{CtlOutput, Etcdctl};

/// etcdctl against etcd (`etcd`) and against the server under test (`other`).
pub struct CtlPair {
    /// Against real etcd.
    pub etcd: Etcdctl,
    /// Against the server under test.
    pub other: Etcdctl,
    /// Every difference so far.
    pub failures: Vec<String>,
    mask: fn(&str) -> String,
}

impl CtlPair {
    /// A pair whose outputs are compared after `mask` (applied line by line after etcdctl's
    /// client log lines are replaced).
    pub fn new(etcd: Etcdctl, other: Etcdctl, mask: fn(&str) -> String) -> CtlPair {
        CtlPair {
            etcd,
            other,
            failures: Vec::new(),
            mask,
        }
    }

    /// Runs `args` on both.
    pub async fn both(&self, args: &[&str]) -> (CtlOutput, CtlOutput) {
        let (a, b) = tokio::join!(self.etcd.run(args), self.other.run(args));
        (a.unwrap(), b.unwrap())
    }

    /// Runs `args` on both, records any difference, returns etcd's and the other's stdout.
    pub async fn compare(&mut self, args: &[&str]) -> (String, String) {
        let (a, b) = self.both(args).await;
        self.record(args, "", &a, &b);
        (a.stdout, b.stdout)
    }

    /// Runs `args` with `stdin` on both for `time` (then kills them), and records any
    /// difference.
    pub async fn compare_for(&mut self, args: &[&str], stdin: &str, time: Duration) {
        let (a, b) = tokio::join!(
            self.etcd.run_for(args, stdin, time),
            self.other.run_for(args, stdin, time)
        );
        self.record(args, stdin, &a.unwrap(), &b.unwrap());
    }

    /// Records a difference between etcd's output `a` and the other's `b`.
    pub fn record(&mut self, args: &[&str], stdin: &str, a: &CtlOutput, b: &CtlOutput) {
        let (a, b) = (self.summary(a), self.summary(b));
        if a != b {
            self.failures.push(format!(
                "etcdctl {args:?} (stdin {stdin:?}):\n--- etcd\n{a}--- under test\n{b}"
            ));
        }
    }

    /// Panics listing every difference, if there was one.
    pub fn assert_same(&self) {
        assert!(
            self.failures.is_empty(),
            "{} etcdctl commands answered differently:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }

    fn summary(&self, out: &CtlOutput) -> String {
        format!(
            "exit {:?}\nstdout:\n{}stderr:\n{}",
            out.code,
            self.masked(&out.stdout),
            self.masked(&out.stderr)
        )
    }

    fn masked(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            // etcd's client logs carry timestamps and client addresses.
            if line.starts_with("{\"level\"") {
                out.push_str("<client log line>");
            } else {
                out.push_str(&(self.mask)(line));
            }
            out.push('\n');
        }
        out
    }
}
