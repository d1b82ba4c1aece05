//! Real etcdctl 3.5.1 `watch` and `lease` commands against the server under test behave as
//! against real etcd: the same operations go to a single-member etcd and a single-member
//! server under test, and what etcdctl printed and how it ended must match, once the values
//! that legitimately differ are masked (member and cluster ids, raft terms, generated lease
//! ids, remaining TTLs; a lease's keys are compared as a set, etcd lists them in Go map
//! order). Two watchers on one stream may interleave differently (etcd itself
//! varies), so each interactive case opens one. Watches never end by themselves: each runs for a fixed time and is
//! killed; etcdctl flushes every response, so its output up to then is complete.

use std::time::Duration;

use oxcd_tests::ctl_pair::CtlPair;
use oxcd_tests::etcdctl::CtlOutput;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// How long each watch runs before it is killed.
const WATCH_FOR: Duration = Duration::from_millis(1500);

/// Masks what differs between two servers by design in one line: ids and terms in JSON
/// headers, lease ids (16 hex digits), remaining TTLs.
fn mask(line: &str) -> String {
    let mut masked = mask_json_numbers(line, &["cluster_id", "member_id", "raft_term", "id"]);
    for field in ["\"ClusterID\" : ", "\"MemberID\" : ", "\"RaftTerm\" : "] {
        if masked.starts_with(field) {
            masked = format!("{field}…");
        }
    }
    masked = mask_hex_ids(&masked);
    if let Some(at) = masked.find("remaining(") {
        let end = masked[at..].find(')').map_or(masked.len(), |e| at + e + 1);
        masked.replace_range(at..end, "remaining(…)");
    }
    // etcd lists a lease's keys in Go map order: compare them as sets.
    masked = sort_list(&masked, "attached keys([", "])", ' ');
    sort_list(&masked, "\"keys\":[", "]", ',')
}

/// Sorts the `separator`-separated items between `open` and `close`.
fn sort_list(line: &str, open: &str, close: &str, separator: char) -> String {
    let Some(start) = line.find(open).map(|at| at + open.len()) else {
        return line.to_string();
    };
    let Some(end) = line[start..].find(close).map(|at| start + at) else {
        return line.to_string();
    };
    let mut items: Vec<&str> = line[start..end].split(separator).collect();
    items.sort_unstable();
    format!(
        "{}{}{}",
        &line[..start],
        items.join(&separator.to_string()),
        &line[end..]
    )
}

fn mask_json_numbers(line: &str, fields: &[&str]) -> String {
    let mut line = line.to_string();
    for field in fields {
        let pattern = format!("\"{field}\":");
        let mut from = 0;
        while let Some(found) = line[from..].find(&pattern) {
            let start = from + found + pattern.len();
            let end = line[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(line.len(), |e| start + e);
            line.replace_range(start..end, "0");
            from = start + 1;
        }
    }
    line
}

fn mask_hex_ids(line: &str) -> String {
    let words: Vec<String> = line
        .split(' ')
        .map(|w| {
            let is_id = w.len() == 16 && w.chars().all(|c| c.is_ascii_hexdigit());
            if is_id {
                "<id>".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ")
}

fn lease_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_watch_and_lease_behave_as_against_etcd() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-ctl-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-ctl-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut pair = CtlPair::new(
        Etcdctl::new(oracle.endpoints()),
        Etcdctl::new(subject.endpoints()),
        mask,
    );

    for op in [
        &["put", "a", "1"][..],
        &["put", "ab", "x"],
        &["put", "a", "2"],
        &["put", "b", "y"],
        &["del", "a"],
        &["put", "a", "3"],
    ] {
        pair.compare(op).await;
    }
    for (args, stdin) in [
        (&["watch", "a", "--rev", "1"][..], ""),
        (&["watch", "a", "--rev", "1", "--prev-kv"], ""),
        (&["watch", "a", "c", "--rev", "1"], ""),
        (&["watch", "--prefix", "a", "--rev", "1"], ""),
        (&["watch", "--prefix", "", "--rev", "2", "--prev-kv"], ""),
        (&["watch", "a", "--rev", "1", "-w", "json"], ""),
        (&["watch", "a", "--rev", "1", "-w", "fields"], ""),
        (&["watch", "a", "--rev", "100"], ""),
        (
            &[
                "watch",
                "a",
                "--rev",
                "1",
                "--",
                "sh",
                "-c",
                "echo $ETCD_WATCH_REVISION $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY",
            ],
            "",
        ),
        (&["watch", "-i"], "watch a --rev 2\n"),
        (&["watch", "-i"], "watch --prefix b --rev 1\n"),
        (&["watch", "-i", "-w", "json"], "watch a\nprogress\n"),
        (&["watch", "-i"], "watch a\nprogress\n"),
        (&["watch", "--progress-notify", "a"], ""),
    ] {
        pair.compare_for(args, stdin, WATCH_FOR).await;
    }
    pair.compare(&["compaction", "5"]).await;
    for args in [
        &["watch", "a", "--rev", "2"][..],
        &["watch", "a", "--rev", "5"],
        &["watch", "a", "--rev", "2", "-w", "json"],
    ] {
        pair.compare_for(args, "", WATCH_FOR).await;
    }

    // Leases: ids are generated (masked), so each side's id is used on its own server.
    let (a, b) = pair.compare(&["lease", "grant", "60"]).await;
    let (la, lb) = (lease_id(&a), lease_id(&b));
    pair.compare(&["lease", "grant", "1"]).await;
    pair.compare(&["lease", "grant", "abc"]).await;
    pair.compare(&["lease", "grant", "9000000001"]).await;
    let each = |args: &[&str], id: &str| -> Vec<String> {
        args.iter()
            .map(|a| {
                if *a == "ID" {
                    id.to_string()
                } else {
                    a.to_string()
                }
            })
            .collect()
    };
    for args in [
        &["put", "svc/x", "1", "--lease", "ID"][..],
        &["put", "svc/y", "2", "--lease", "ID"],
        &["put", "svc/z", "3", "--lease", "1234abcd"],
        &["lease", "timetolive", "ID"],
        &["lease", "timetolive", "ID", "--keys"],
        &["lease", "timetolive", "ID", "--keys", "-w", "json"],
        &["lease", "timetolive", "ffff"],
        &["lease", "keep-alive", "--once", "ID"],
        &["lease", "keep-alive", "--once", "ffff"],
        &["lease", "revoke", "ffff"],
        &["lease", "revoke", "ID"],
        &["get", "svc/", "--prefix"],
        &["lease", "timetolive", "ID"],
        &["lease", "revoke", "ID"],
        &["lease", "revoke"],
        &["lease", "timetolive"],
    ] {
        let (ea, eb) = (each(args, &la), each(args, &lb));
        let ea: Vec<&str> = ea.iter().map(String::as_str).collect();
        let eb: Vec<&str> = eb.iter().map(String::as_str).collect();
        let (a, b) = tokio::join!(pair.etcd.run(&ea), pair.other.run(&eb));
        pair.record(args, "", &a.unwrap(), &b.unwrap());
    }
    let (a, b) = pair.both(&["lease", "list"]).await;
    let count = |out: &CtlOutput| out.stdout.lines().next().unwrap_or_default().to_string();
    assert_eq!(count(&a), count(&b), "lease list");

    // A continuous keep-alive prints one line per renewal (every TTL/3 s); the lines must
    // look alike, their number depends on timing.
    let (a, b) = pair.compare(&["lease", "grant", "3"]).await;
    let (la, lb) = (lease_id(&a), lease_id(&b));
    let (args_a, args_b) = (
        ["lease", "keep-alive", la.as_str()],
        ["lease", "keep-alive", lb.as_str()],
    );
    let (a, b) = tokio::join!(
        pair.etcd.run_for(&args_a, "", Duration::from_millis(2500)),
        pair.other.run_for(&args_b, "", Duration::from_millis(2500)),
    );
    let distinct = |out: &CtlOutput| {
        let mut lines: Vec<String> = out.stdout.lines().map(mask).collect();
        lines.dedup();
        lines
    };
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(distinct(&a), distinct(&b), "lease keep-alive output");
    assert!(
        b.stdout.lines().count() >= 2,
        "keep-alive renewed repeatedly: {}",
        b.stdout
    );

    pair.assert_same();
}
