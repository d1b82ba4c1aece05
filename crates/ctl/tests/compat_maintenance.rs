//! etcdctl compatibility (see `compat_with_etcdctl.rs`) of the lease, alarm, defragmentation,
//! leadership, user, role and auth commands, run on twin etcd servers; the lease lifecycle with
//! each server's own lease IDs; and `lease keep-alive` until the lease is revoked.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oxcd_testkit::etcd::require_etcdctl;
use oxcd_testkit::etcd_cluster::Cluster;
use support::{Case, case, compare_all, normalize_timestamps, run_tool, with_stdin};

/// Commands for leases, alarms, defragmentation and leadership, run on twin servers.
const MAINTENANCE_CASES: &[Case] = &[
    case(&["--endpoints={EP}", "lease", "grant"]),
    case(&["--endpoints={EP}", "lease", "grant", "abc"]),
    case(&["--endpoints={EP}", "lease", "revoke", "zz"]),
    case(&["--endpoints={EP}", "lease", "revoke", "1234"]),
    case(&["--endpoints={EP}", "lease", "timetolive", "1234"]),
    case(&[
        "--endpoints={EP}",
        "lease",
        "timetolive",
        "1234",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "lease",
        "timetolive",
        "1234",
        "-w",
        "fields",
    ]),
    case(&["--endpoints={EP}", "lease", "keep-alive", "--once", "1234"]),
    case(&["--endpoints={EP}", "lease", "keep-alive", "1234"]),
    case(&["--endpoints={EP}", "lease", "list", "-w", "table"]),
    case(&["--endpoints={EP}", "alarm", "list"]),
    case(&["--endpoints={EP}", "alarm", "list", "-w", "json"]),
    case(&["--endpoints={EP}", "alarm", "list", "-w", "fields"]),
    case(&["--endpoints={EP}", "alarm", "list", "-w", "protobuf"]),
    case(&["--endpoints={EP}", "alarm", "disarm", "-w", "json"]),
    case(&["--endpoints={EP}", "alarm", "list", "extra"]),
    case(&["--endpoints={EP}", "defrag"]),
    case(&["--endpoints={EP}", "defrag", "--cluster", "-w", "json"]),
    case(&["--endpoints={EP}", "move-leader"]),
    case(&["--endpoints={EP}", "move-leader", "zz"]),
    case(&["--endpoints={EP}", "move-leader", "1234"]),
    // Users, roles and authentication.
    case(&["--endpoints={EP}", "auth", "status"]),
    case(&["--endpoints={EP}", "role", "add", "reader"]),
    case(&["--endpoints={EP}", "role", "add", "reader", "-w", "json"]),
    case(&["--endpoints={EP}", "role", "add", "writer", "-w", "fields"]),
    case(&["--endpoints={EP}", "role", "add", "other", "-w", "protobuf"]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "reader",
        "read",
        "a",
        "b",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "reader",
        "readwrite",
        "p",
        "--prefix",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "writer",
        "write",
        "",
        "--from-key",
        "-w",
        "fields",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "writer",
        "WRITE",
        "k",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "writer",
        "bogus",
        "k",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "writer",
        "read",
        "k",
        "z",
        "--prefix",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "writer",
        "read",
        "",
        "--prefix",
        "--from-key",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "grant-permission",
        "nobody",
        "read",
        "k",
    ]),
    case(&["--endpoints={EP}", "role", "get", "reader"]),
    case(&["--endpoints={EP}", "role", "get", "writer", "-w", "json"]),
    case(&["--endpoints={EP}", "role", "get", "writer", "-w", "fields"]),
    case(&["--endpoints={EP}", "role", "get", "writer", "-w", "table"]),
    case(&["--endpoints={EP}", "role", "list"]),
    case(&["--endpoints={EP}", "role", "list", "-w", "fields"]),
    case(&["--endpoints={EP}", "role", "list", "-w", "json"]),
    case(&["--endpoints={EP}", "user", "add", "alice:secret"]),
    case(&[
        "--endpoints={EP}",
        "user",
        "add",
        "bob",
        "--new-user-password=pw",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "user",
        "add",
        "carol",
        "--no-password",
        "-w",
        "fields",
    ]),
    case(&["--endpoints={EP}", "user", "add", ":pw"]),
    case(&["--endpoints={EP}", "user", "add", "alice:again"]),
    with_stdin(
        &[
            "--endpoints={EP}",
            "user",
            "add",
            "dave",
            "--interactive=false",
        ],
        "word rest\n",
    ),
    case(&["--endpoints={EP}", "user", "grant-role", "alice", "reader"]),
    case(&[
        "--endpoints={EP}",
        "user",
        "grant-role",
        "alice",
        "writer",
        "-w",
        "fields",
    ]),
    case(&["--endpoints={EP}", "user", "grant-role", "alice", "nobody"]),
    case(&["--endpoints={EP}", "user", "get", "alice"]),
    case(&["--endpoints={EP}", "user", "get", "alice", "-w", "json"]),
    case(&["--endpoints={EP}", "user", "get", "alice", "-w", "fields"]),
    case(&["--endpoints={EP}", "user", "get", "alice", "--detail"]),
    case(&[
        "--endpoints={EP}",
        "user",
        "get",
        "alice",
        "--detail",
        "-w",
        "json",
    ]),
    case(&["--endpoints={EP}", "user", "list"]),
    case(&["--endpoints={EP}", "user", "list", "-w", "json"]),
    with_stdin(
        &[
            "--endpoints={EP}",
            "user",
            "passwd",
            "alice",
            "--interactive=false",
        ],
        "newpw\n",
    ),
    case(&["--endpoints={EP}", "user", "revoke-role", "alice", "writer"]),
    case(&["--endpoints={EP}", "user", "revoke-role", "alice", "writer"]),
    case(&[
        "--endpoints={EP}",
        "role",
        "revoke-permission",
        "reader",
        "a",
        "b",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "revoke-permission",
        "reader",
        "p",
        "--prefix",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "revoke-permission",
        "writer",
        "",
        "--from-key",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "revoke-permission",
        "writer",
        "k",
    ]),
    case(&[
        "--endpoints={EP}",
        "role",
        "revoke-permission",
        "writer",
        "missing",
    ]),
    case(&["--endpoints={EP}", "user", "delete", "bob"]),
    case(&["--endpoints={EP}", "user", "delete", "bob"]),
    case(&["--endpoints={EP}", "role", "delete", "other", "-w", "json"]),
    case(&["--endpoints={EP}", "auth", "enable"]),
    case(&["--endpoints={EP}", "user", "add", "root:rootpw"]),
    case(&["--endpoints={EP}", "auth", "enable"]),
    case(&["--endpoints={EP}", "auth", "status"]),
    case(&["--endpoints={EP}", "--user=alice:newpw", "get", "a"]),
    case(&[
        "--endpoints={EP}",
        "--user=root:rootpw",
        "auth",
        "status",
        "-w",
        "json",
    ]),
    case(&["--endpoints={EP}", "--user=root:rootpw", "role", "list"]),
    case(&["--endpoints={EP}", "--user=root:rootpw", "auth", "disable"]),
    case(&["--endpoints={EP}", "auth", "status", "-w", "fields"]),
    case(&["--endpoints={EP}", "auth", "enable", "x"]),
    case(&["user", "add", "--help"]),
    case(&["role", "revoke-permission", "--help"]),
    case(&["auth", "--help"]),
    case(&["lease", "--help"]),
    case(&["lease", "timetolive", "--help"]),
    case(&["alarm", "list", "--help"]),
    case(&["defrag", "--help"]),
    case(&["move-leader", "--help"]),
];

#[test]
fn maintenance_commands_match_etcdctl() {
    let twins = Cluster::twins();
    let failures = compare_all(
        &require_etcdctl(),
        MAINTENANCE_CASES,
        twins.members[0].client_port,
        twins.members[1].client_port,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Lease IDs come from each server's clock, so twins hand out different ones: each tool
/// works on the lease it was granted and the outputs must match once the IDs are swapped.
#[test]
fn lease_lifecycle_matches_etcdctl() {
    let twins = Cluster::twins();
    let etcdctl = require_etcdctl();
    let oxctl = PathBuf::from(env!("CARGO_BIN_EXE_oxctl"));
    let endpoint = |i: usize| format!("--endpoints=127.0.0.1:{}", twins.members[i].client_port);
    let run = |tool: &Path, i: usize, args: &[&str]| {
        let mut full = vec![endpoint(i)];
        full.extend(args.iter().map(|a| a.to_string()));
        run_tool(tool, &full, "", &[])
    };
    let grant = |tool: &Path, i: usize| -> i64 {
        let out = run(tool, i, &["lease", "grant", "600"]);
        let hex = out.stdout.split_whitespace().nth(1).expect("lease id");
        i64::from_str_radix(hex, 16).expect("hex lease id")
    };
    let mut failures = Vec::new();
    for format in ["simple", "json", "fields", "protobuf"] {
        let expected_id = grant(&etcdctl, 0);
        let actual_id = grant(&oxctl, 1);
        let attach = |tool: &Path, i: usize, id: i64| {
            run(
                tool,
                i,
                &[
                    "put",
                    &format!("leased-{format}"),
                    "v",
                    &format!("--lease={id:x}"),
                ],
            )
        };
        attach(&etcdctl, 0, expected_id);
        attach(&oxctl, 1, actual_id);
        for args in [
            vec!["lease", "grant", "300", "-w", format],
            vec!["lease", "timetolive", "{ID}", "--keys", "-w", format],
            vec!["lease", "keep-alive", "--once", "{ID}", "-w", format],
            vec!["lease", "list", "-w", format],
            vec!["lease", "revoke", "{ID}", "-w", format],
            vec!["lease", "timetolive", "{ID}", "-w", format],
        ] {
            let with_id = |id: i64| -> Vec<String> {
                args.iter()
                    .map(|a| a.replace("{ID}", &format!("{id:x}")))
                    .collect()
            };
            let expected = run(
                &etcdctl,
                0,
                &with_id(expected_id)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            let actual = run(
                &oxctl,
                1,
                &with_id(actual_id)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            // Leases granted inside the loop get IDs of their own; list output depends on
            // every ID, so only its shape is compared.
            let swap = |text: &str| {
                let text = text
                    .replace(&format!("{actual_id:016x}"), &format!("{expected_id:016x}"))
                    .replace(&actual_id.to_string(), &expected_id.to_string());
                normalize_lease_ids(&text, args[1] == "grant" || args[1] == "list")
            };
            let expected_out =
                normalize_lease_ids(&expected.stdout, args[1] == "grant" || args[1] == "list");
            let expected_err = normalize_timestamps(&expected.stderr);
            if format == "protobuf" {
                // Binary output embeds the IDs; compare the outcome only.
                if (expected.code, expected_err.clone())
                    != (actual.code, normalize_timestamps(&actual.stderr))
                {
                    failures.push(format!(
                        "{args:?}: {:?} {:?} vs {:?} {:?}",
                        expected.code, expected.stderr, actual.code, actual.stderr
                    ));
                }
                continue;
            }
            if (expected_out.clone(), expected_err.clone(), expected.code)
                != (
                    swap(&actual.stdout),
                    normalize_timestamps(&actual.stderr),
                    actual.code,
                )
            {
                failures.push(format!(
                    "{args:?}:\n  etcdctl {:?} {:?} {:?}\n  oxctl   {:?} {:?} {:?}",
                    expected.code,
                    expected_out,
                    expected_err,
                    actual.code,
                    swap(&actual.stdout),
                    actual.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With `whole` set, replaces every lease ID (16 hex digits, or a decimal of 15+ digits) by
/// a placeholder.
fn normalize_lease_ids(text: &str, whole: bool) -> String {
    if !whole {
        return text.to_string();
    }
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        let is_hex_id = token.len() == 16 && token.chars().all(|c| c.is_ascii_hexdigit());
        let is_decimal_id = token.len() >= 15 && token.chars().all(|c| c.is_ascii_digit());
        if is_hex_id || is_decimal_id {
            out.push_str("ID");
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

#[test]
fn keep_alive_runs_until_the_lease_is_revoked() {
    let cluster = Cluster::start(1);
    let oxctl = PathBuf::from(env!("CARGO_BIN_EXE_oxctl"));
    let endpoint = format!("--endpoints={}", cluster.endpoints()[0]);
    let granted = run_tool(
        &oxctl,
        &[endpoint.clone(), "lease".into(), "grant".into(), "3".into()],
        "",
        &[],
    );
    let id = granted
        .stdout
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_string();
    let keeper = Command::new(&oxctl)
        .args([endpoint.as_str(), "lease", "keep-alive", id.as_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keep-alive");
    // Outlive the TTL, so only renewals keep the lease.
    std::thread::sleep(std::time::Duration::from_millis(4000));
    let revoked = run_tool(
        &oxctl,
        &[endpoint, "lease".into(), "revoke".into(), id.clone()],
        "",
        &[],
    );
    assert_eq!(
        revoked.stdout,
        format!("lease {id} revoked\n"),
        "{}",
        revoked.stderr
    );
    let output = keeper.wait_with_output().expect("keep-alive exits");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let renewals = stdout
        .matches(&format!("lease {id} keepalived with TTL(3)"))
        .count();
    assert!(renewals >= 3, "{stdout}");
    assert!(
        stdout.ends_with(&format!("lease {id} expired or revoked.\n")),
        "{stdout}"
    );
    assert_eq!(output.status.code(), Some(0));
}
