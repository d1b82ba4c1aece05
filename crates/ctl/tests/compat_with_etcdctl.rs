//! Byte-for-byte compatibility with etcdctl 3.5.1: the same command lines, standard input and
//! `ETCDCTL_*` variables are run through the real `etcdctl` and through `oxctl`, and their
//! stdout, stderr and exit codes must be identical. Only what cannot be equal is normalised:
//! log timestamps, Go pointers and stack traces, measured durations, and the port of the
//! server each tool talks to.
//!
//! Mutating commands run against twin etcd servers with the same identity (etcdctl on one,
//! oxctl on the other), so revisions, IDs and headers match exactly; cluster-wide commands
//! run read-only against one real 3-member cluster.

#[path = "../../client/tests/support/etcd.rs"]
mod etcd;

use etcd::{Cluster, free_port, require_etcd};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One command line to compare.
struct Case {
    /// Arguments; `{EP}` stands for the endpoint of the server the tool talks to.
    args: &'static [&'static str],
    /// Standard input.
    stdin: &'static str,
    /// Environment (the rest of the environment is cleared).
    env: &'static [(&'static str, &'static str)],
    /// Output contains measured durations (endpoint health).
    timed: bool,
    /// Lines may come in any order (concurrent health checks).
    unordered: bool,
    /// Read-only and dependent on server internals that twins need not share (database
    /// file size): both tools ask the same server.
    same_server: bool,
}

const fn case(args: &'static [&'static str]) -> Case {
    Case {
        args,
        stdin: "",
        env: &[],
        timed: false,
        unordered: false,
        same_server: false,
    }
}

const fn with_stdin(args: &'static [&'static str], stdin: &'static str) -> Case {
    Case {
        args,
        stdin,
        env: &[],
        timed: false,
        unordered: false,
        same_server: false,
    }
}

const fn with_env(
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        args,
        stdin: "",
        env,
        timed: false,
        unordered: false,
        same_server: false,
    }
}

const fn timed(args: &'static [&'static str]) -> Case {
    Case {
        args,
        stdin: "",
        env: &[],
        timed: true,
        unordered: true,
        same_server: true,
    }
}

const fn server_state(args: &'static [&'static str]) -> Case {
    Case {
        args,
        stdin: "",
        env: &[],
        timed: false,
        unordered: false,
        same_server: true,
    }
}

struct Output {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn run_tool(tool: &Path, args: &[String], stdin: &str, env: &[(String, String)]) -> Output {
    let mut child = Command::new(tool)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", tool.display()));
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait");
    Output {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    }
}

/// Replaces every `"ts":VALUE` (string or number) with a placeholder.
fn normalize_timestamps(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\"ts\":") {
        out.push_str(&rest[..at + 5]);
        out.push_str("TS");
        let after = &rest[at + 5..];
        let skip = if let Some(quoted) = after.strip_prefix('"') {
            quoted.find('"').map_or(after.len(), |i| i + 2)
        } else {
            after.find([',', '}']).unwrap_or(after.len())
        };
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// Replaces Go pointers (`0xc000123abc`) with a placeholder.
fn normalize_pointers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("0xc") {
        out.push_str(&rest[..at]);
        out.push_str("PTR");
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Drops zap's `"stacktrace"` field and Go's goroutine dumps after a panic line.
fn normalize_traces(text: &str) -> String {
    let mut text = text.to_string();
    if let Some(at) = text.find(",\"stacktrace\":\"") {
        let end = text[at + 15..]
            .find("\"}")
            .map_or(text.len(), |i| at + 15 + i + 1);
        text.replace_range(at..end, "");
    }
    if let Some(at) = text.find("\n\ngoroutine ") {
        text.truncate(at + 1);
    }
    text
}

/// Replaces Go durations (`1.23ms`, `850µs`, `1.000375857s`) with `T` and collapses the
/// padding they influence (table borders and alignment).
fn normalize_durations(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_number =
            chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts_number {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let unit_end = ["ns", "µs", "ms", "s"].iter().find_map(|unit| {
                let unit: Vec<char> = unit.chars().collect();
                let end = j + unit.len();
                (end <= chars.len()
                    && chars[j..end] == unit[..]
                    && chars.get(end).is_none_or(|c| !c.is_alphanumeric()))
                .then_some(end)
            });
            if let Some(end) = unit_end {
                out.push('T');
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    let mut collapsed = String::new();
    for c in out.chars() {
        if (c == ' ' || c == '-') && collapsed.ends_with(c) {
            continue;
        }
        collapsed.push(c);
    }
    collapsed
}

/// Drops gRPC's own log lines, which `--debug` turns on in etcdctl only.
fn drop_grpc_logs(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| {
            !["INFO: ", "WARNING: ", "ERROR: "]
                .iter()
                .any(|p| line.starts_with(p))
        })
        .collect()
}

fn normalize(text: &str, own_port: u16, reference_port: u16, case: &Case) -> String {
    let text = if case.args.contains(&"--debug") {
        drop_grpc_logs(text)
    } else {
        text.to_string()
    };
    let text = text.replace(
        &format!("127.0.0.1:{own_port}"),
        &format!("127.0.0.1:{reference_port}"),
    );
    let text = normalize_traces(&normalize_pointers(&normalize_timestamps(&text)));
    let text = if case.timed {
        normalize_durations(&text)
    } else {
        text
    };
    if case.unordered {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    } else {
        text
    }
}

fn expand(args: &[&str], endpoint: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{EP}", endpoint)).collect()
}

/// Runs every case through etcdctl (against `reference_port`) and oxctl (against
/// `own_port`) and returns a description of each difference.
fn compare_all(etcdctl: &Path, cases: &[Case], reference_port: u16, own_port: u16) -> Vec<String> {
    let oxctl = PathBuf::from(env!("CARGO_BIN_EXE_oxctl"));
    let mut failures = Vec::new();
    for case in cases {
        let own_port = if case.same_server {
            reference_port
        } else {
            own_port
        };
        let reference_ep = format!("127.0.0.1:{reference_port}");
        let own_ep = format!("127.0.0.1:{own_port}");
        let env = |ep: &str| -> Vec<(String, String)> {
            case.env
                .iter()
                .map(|(k, v)| (k.to_string(), v.replace("{EP}", ep)))
                .collect()
        };
        let expected = run_tool(
            etcdctl,
            &expand(case.args, &reference_ep),
            case.stdin,
            &env(&reference_ep),
        );
        let actual = run_tool(
            &oxctl,
            &expand(case.args, &own_ep),
            case.stdin,
            &env(&own_ep),
        );
        let norm = |o: &Output, port: u16| {
            (
                normalize(&o.stdout, port, reference_port, case),
                normalize(&o.stderr, port, reference_port, case),
                o.code,
            )
        };
        let (exp_out, exp_err, exp_code) = norm(&expected, reference_port);
        let (act_out, act_err, act_code) = norm(&actual, own_port);
        if (&exp_out, &exp_err, exp_code) != (&act_out, &act_err, act_code) {
            failures.push(format!(
                "case {:?} (stdin {:?}, env {:?}):\n  etcdctl exit {:?}\n  stdout {:?}\n  stderr {:?}\n  oxctl exit {:?}\n  stdout {:?}\n  stderr {:?}",
                case.args, case.stdin, case.env, exp_code, exp_out, exp_err, act_code, act_out, act_err
            ));
        }
    }
    failures
}

/// Commands whose output depends only on the server's state, run on twin servers.
const SINGLE_SERVER_CASES: &[Case] = &[
    // Writes and their output formats.
    case(&["--endpoints={EP}", "put", "foo", "bar"]),
    case(&["--endpoints={EP}", "put", "foo", "bar2", "--prev-kv"]),
    case(&[
        "--endpoints={EP}",
        "put",
        "foo",
        "bar3",
        "--prev-kv",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "put",
        "foo",
        "bar4",
        "--prev-kv",
        "-w",
        "fields",
    ]),
    case(&[
        "--endpoints={EP}",
        "put",
        "foo",
        "bar5",
        "--prev-kv",
        "-w",
        "protobuf",
    ]),
    case(&["--endpoints={EP}", "put", "foo", "bar6", "-w", "table"]),
    case(&["--endpoints={EP}", "put", "foo2", "bar two"]),
    case(&["--endpoints={EP}", "put", "a/1", "x"]),
    case(&["--endpoints={EP}", "put", "a/2", "y"]),
    case(&["--endpoints={EP}", "put", "a/3", "z"]),
    case(&["--endpoints", "{EP}", "put", "bin", "\u{1}\u{7f}é\"q\""]),
    with_stdin(
        &["--endpoints={EP}", "put", "fromstdin"],
        "value from\nstdin\n",
    ),
    with_stdin(&["--endpoints={EP}", "put", "nostdin"], ""),
    case(&["--endpoints={EP}", "put", "foo", "--ignore-value"]),
    case(&["--endpoints={EP}", "put", "foo", "x", "--ignore-value"]),
    case(&["--endpoints={EP}", "put", "foo", "x", "--lease=zz"]),
    case(&["--endpoints={EP}", "put", "foo", "x", "--lease=1234"]),
    case(&["--endpoints={EP}", "put", "", "x"]),
    case(&["--endpoints={EP}", "put"]),
    case(&["--endpoints={EP}", "put", "--", "dash", "-v"]),
    // Reads in every format.
    case(&["--endpoints={EP}", "get", "foo"]),
    case(&["--endpoints={EP}", "get", "foo", "-w", "json"]),
    case(&["--endpoints={EP}", "get", "foo", "-w", "fields"]),
    case(&["--endpoints={EP}", "get", "foo", "-w", "protobuf"]),
    case(&["--endpoints={EP}", "get", "foo", "-w", "table"]),
    case(&["--endpoints={EP}", "get", "foo", "-w", "bogus"]),
    case(&["--endpoints={EP}", "get", "foo", "--hex"]),
    case(&["--endpoints={EP}", "get", "foo", "--hex", "-w", "fields"]),
    case(&["--endpoints={EP}", "get", "bin", "-w", "fields"]),
    case(&["--endpoints={EP}", "get", "bin", "-w", "json"]),
    case(&["--endpoints={EP}", "get", "bin"]),
    case(&["--endpoints={EP}", "get", "fromstdin", "--print-value-only"]),
    case(&["--endpoints={EP}", "get", "a/", "--prefix"]),
    case(&["--endpoints={EP}", "get", "a/", "--prefix", "--keys-only"]),
    case(&[
        "--endpoints={EP}",
        "get",
        "a/",
        "--prefix",
        "--count-only",
        "-w",
        "fields",
    ]),
    case(&["--endpoints={EP}", "get", "a/", "--prefix", "--count-only"]),
    case(&[
        "--endpoints={EP}",
        "get",
        "a/",
        "--prefix",
        "--limit=2",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "get",
        "a/",
        "--prefix",
        "--order=DESCEND",
    ]),
    case(&[
        "--endpoints={EP}",
        "get",
        "",
        "--from-key",
        "--sort-by=MODIFY",
        "--order=descend",
        "--limit",
        "3",
    ]),
    case(&[
        "--endpoints={EP}",
        "get",
        "",
        "--prefix",
        "--sort-by=value",
        "--keys-only",
    ]),
    case(&[
        "--endpoints={EP}",
        "get",
        "",
        "--prefix",
        "--sort-by=version",
        "--order",
        "ascend",
        "-w",
        "fields",
    ]),
    case(&["--endpoints={EP}", "get", "a/1", "a/3"]),
    case(&["--endpoints={EP}", "get", "a/1", "a/3", "extra"]),
    case(&["--endpoints={EP}", "get", "foo", "--rev=2"]),
    case(&["--endpoints={EP}", "get", "foo", "--rev=100000"]),
    case(&["--endpoints={EP}", "get", "foo", "--consistency=s"]),
    case(&["--endpoints={EP}", "get", "foo", "--consistency=x"]),
    case(&["--endpoints={EP}", "get", "foo", "--order=sideways"]),
    case(&["--endpoints={EP}", "get", "foo", "--sort-by=size"]),
    case(&["--endpoints={EP}", "get", "foo", "--prefix", "--from-key"]),
    case(&[
        "--endpoints={EP}",
        "get",
        "foo",
        "--keys-only",
        "--count-only",
    ]),
    case(&["--endpoints={EP}", "get", "a", "b", "--prefix"]),
    case(&[
        "--endpoints={EP}",
        "get",
        "foo",
        "--print-value-only",
        "-w",
        "json",
    ]),
    case(&["--endpoints={EP}", "get", ""]),
    case(&["--endpoints={EP}", "get"]),
    case(&["--endpoints={EP}", "g", "foo"]),
    case(&["--endpoints={EP}", "get", "foo", "-wjson"]),
    case(&["--endpoints={EP}", "get", "foo", "-w=fields"]),
    // Deletes.
    case(&["--endpoints={EP}", "del", "foo2", "--prev-kv"]),
    case(&["--endpoints={EP}", "del", "a/1", "--prev-kv", "-w", "json"]),
    case(&["--endpoints={EP}", "del", "nothing", "-w", "fields"]),
    case(&["--endpoints={EP}", "del", "nothing", "-w", "protobuf"]),
    case(&[
        "--endpoints={EP}",
        "del",
        "a/",
        "--prefix",
        "--prev-kv",
        "-w",
        "fields",
    ]),
    case(&["--endpoints={EP}", "del", "x", "y", "z"]),
    case(&["--endpoints={EP}", "del", "x", "--prefix", "--from-key"]),
    case(&["--endpoints={EP}", "del", "x", "y", "--prefix"]),
    case(&["--endpoints={EP}", "del"]),
    // Transactions, from standard input and interactive.
    with_stdin(
        &["--endpoints={EP}", "txn"],
        "mod(\"foo\") > \"0\"\n\nput t1 v1\nget foo\n\ndel nothing\n\n",
    ),
    with_stdin(
        &["--endpoints={EP}", "txn", "-i"],
        "mod(\"foo\") > \"0\"\n\nput t1 v2\nget foo\n\ndel nothing\n\n",
    ),
    with_stdin(
        &["--endpoints={EP}", "txn", "--interactive", "-w", "json"],
        "value(\"foo\") = \"bar6\"\nversion(\"foo\") > \"1\"\n\nput t2 \"a b\" --prev-kv\nget t --prefix\n\nput no way\n\n",
    ),
    with_stdin(
        &["--endpoints={EP}", "txn", "-w", "fields"],
        "create(\"foo\") = \"0\"\n\nput t3 x\n\ndel t1 --prev-kv\nput t4 'q'\nget t4\n\n",
    ),
    with_stdin(
        &["--endpoints={EP}", "txn", "-w", "protobuf"],
        "c(\"foo\") != \"0\"\nm(\"foo\") < \"99999\"\nver(\"foo\") > \"0\"\nval(\"t2\") = \"a b\"\n\nget t2\n\n\n",
    ),
    with_stdin(&["--endpoints={EP}", "txn"], "\n\n\n"),
    with_stdin(
        &["--endpoints={EP}", "txn"],
        "mod(\"foo\") > \"0\"\n\nput a b\n",
    ),
    with_stdin(&["--endpoints={EP}", "txn"], "mod(foo) > 5\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "mod(\"foo\")>\"5\"\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "mod(\"foo\") > \"x\"\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "nope(\"foo\") > \"1\"\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "nothing here\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "mod(\"foo\") >= \"1\"\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "\nfoo bar\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "\nput onlykey\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "\nget\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "\nget a --bogus\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], "\nput k v\nput k v2\n\n\n"),
    with_stdin(&["--endpoints={EP}", "txn"], ""),
    case(&["--endpoints={EP}", "txn", "extra"]),
    // Compaction.
    case(&["--endpoints={EP}", "compaction", "3"]),
    case(&["--endpoints={EP}", "compaction", "2"]),
    case(&["--endpoints={EP}", "compaction", "100000"]),
    case(&["--endpoints={EP}", "compaction", "abc"]),
    case(&["--endpoints={EP}", "compaction"]),
    case(&["--endpoints={EP}", "compaction", "5", "--physical"]),
    case(&["--endpoints={EP}", "get", "foo", "--rev=2"]),
    // Members and endpoints on one server.
    case(&["--endpoints={EP}", "member", "list"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "table"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "json"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "json", "--hex"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "fields"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "protobuf"]),
    case(&["--endpoints={EP}", "mem", "l"]),
    case(&["--endpoints={EP}", "member", "add"]),
    case(&["--endpoints={EP}", "member", "add", "x", "http://a"]),
    case(&["--endpoints={EP}", "member", "add", "x"]),
    case(&["--endpoints={EP}", "member", "remove"]),
    case(&["--endpoints={EP}", "member", "remove", "zz"]),
    case(&["--endpoints={EP}", "member", "remove", "1234"]),
    case(&["--endpoints={EP}", "member", "update", "1234"]),
    case(&[
        "--endpoints={EP}",
        "member",
        "update",
        "1234",
        "--peer-urls=http://127.0.0.1:1",
    ]),
    case(&["--endpoints={EP}", "member", "promote", "1234"]),
    case(&[
        "--endpoints={EP}",
        "member",
        "promote",
        "1234",
        "-w",
        "table",
    ]),
    server_state(&["--endpoints={EP}", "endpoint", "status"]),
    server_state(&["--endpoints={EP}", "endpoint", "status", "-w", "table"]),
    server_state(&["--endpoints={EP}", "endpoint", "status", "-w", "json"]),
    server_state(&["--endpoints={EP}", "endpoint", "status", "-w", "fields"]),
    server_state(&["--endpoints={EP}", "endpoint", "status", "-w", "protobuf"]),
    server_state(&["--endpoints={EP}", "endpoint", "status", "--cluster"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv", "-w", "table"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv", "-w", "json"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv", "-w", "fields"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv", "--rev=4"]),
    timed(&["--endpoints={EP}", "endpoint", "health"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "-w", "json"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "-w", "table"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "-w", "fields"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "-w", "protobuf"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "--cluster"]),
    // Environment variables.
    with_env(&["get", "foo"], &[("ETCDCTL_ENDPOINTS", "{EP}")]),
    with_env(
        &["get", "foo"],
        &[
            ("ETCDCTL_ENDPOINTS", "{EP}"),
            ("ETCDCTL_WRITE_OUT", "fields"),
            ("ETCDCTL_HEX", "true"),
        ],
    ),
    with_env(
        &["get", "foo"],
        &[("ETCDCTL_ENDPOINTS", "{EP}"), ("ETCDCTL_API", "3")],
    ),
    with_env(
        &["get", "foo"],
        &[("ETCDCTL_ENDPOINTS", "{EP}"), ("ETCDCTL_API", "4")],
    ),
    with_env(
        &["get", "foo"],
        &[("ETCDCTL_ENDPOINTS", "{EP}"), ("ETCDCTL_FOO", "1")],
    ),
    with_env(
        &["get", "foo"],
        &[("ETCDCTL_ENDPOINTS", "{EP}"), ("ETCDCTL_HEX", "")],
    ),
    with_env(
        &["get", "foo"],
        &[
            ("ETCDCTL_ENDPOINTS", "{EP}"),
            ("ETCDCTL_DIAL_TIMEOUT", "abc"),
        ],
    ),
    with_env(
        &["get", "foo"],
        &[("ETCDCTL_ENDPOINTS", "{EP}"), ("ETCDCTL_WRITE_OUT", "nope")],
    ),
    with_env(
        &["--endpoints={EP}", "get", "foo"],
        &[("ETCDCTL_ENDPOINTS", "{EP}")],
    ),
    with_env(&["--endpoints={EP}", "get"], &[("ETCDCTL_FOO", "1")]),
    with_env(
        &["endpoint", "status", "--endpoints={EP}"],
        &[("ETCDCTL_CLUSTER", "true")],
    ),
    with_env(&["--endpoints={EP}", "get", "foo", "--user=root:pw"], &[]),
    server_state(&["--endpoints={EP}", "--debug", "get", "foo"]),
    server_state(&[
        "--endpoints={EP}",
        "endpoint",
        "status",
        "--debug",
        "-w",
        "json",
    ]),
    // Flags, commands and help.
    case(&["--endpoints={EP}", "get", "--foo"]),
    case(&["--endpoints={EP}", "get", "-x"]),
    case(&["--endpoints={EP}", "get", "foo", "-w"]),
    case(&["--endpoints={EP}", "get", "--limit", "abc", "x"]),
    case(&["--endpoints={EP}", "get", "x", "--prefix=maybe"]),
    case(&["--endpoints={EP}", "get", "x", "--dial-timeout=5x"]),
    case(&["--endpoints={EP}", "get", "x", "---x"]),
    case(&["--endpoints={EP}", "get", "x", "--cert="]),
    case(&["--endpoints={EP}", "gett"]),
    case(&["--endpoints={EP}", "foo"]),
    case(&["--endpoints={EP}", "member", "foo"]),
    case(&["--endpoints={EP}", "endpoint"]),
    case(&["get", "--help"]),
    case(&["put", "-h"]),
    case(&["del", "--help"]),
    case(&["txn", "--help"]),
    case(&["compaction", "--help"]),
    case(&["member", "--help"]),
    case(&["member", "add", "--help"]),
    case(&["member", "list", "--help"]),
    case(&["member", "promote", "--help"]),
    case(&["endpoint", "--help"]),
    case(&["endpoint", "status", "--help"]),
    case(&["endpoint", "health", "--help"]),
    case(&["endpoint", "hashkv", "--help"]),
    case(&["version", "--help"]),
    case(&["help", "get"]),
    case(&["help", "member", "list"]),
    case(&["watch", "--help"]),
    case(&["help", "watch"]),
    case(&["version"]),
];

#[test]
fn oxctl_output_matches_etcdctl_on_a_single_server() {
    let Some(bin) = require_etcd("oxctl_output_matches_etcdctl_on_a_single_server") else {
        return;
    };
    let twins = Cluster::twins(bin.clone());
    let failures = compare_all(
        &bin.join("etcdctl"),
        SINGLE_SERVER_CASES,
        twins.members[0].client_port,
        twins.members[1].client_port,
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        SINGLE_SERVER_CASES.len(),
        failures.join("\n")
    );
}

/// Commands against an endpoint nobody listens on: both tools must time out the same way.
const UNREACHABLE_CASES: &[Case] = &[
    case(&["--endpoints={EP}", "--command-timeout=300ms", "get", "foo"]),
    case(&[
        "--endpoints={EP}",
        "--command-timeout=300ms",
        "endpoint",
        "status",
        "-w",
        "json",
    ]),
    case(&[
        "--endpoints={EP}",
        "--command-timeout=300ms",
        "endpoint",
        "hashkv",
    ]),
    timed(&[
        "--endpoints={EP}",
        "--command-timeout=300ms",
        "endpoint",
        "health",
        "-w",
        "table",
    ]),
];

#[test]
fn oxctl_fails_like_etcdctl_when_nothing_listens() {
    let Some(bin) = require_etcd("oxctl_fails_like_etcdctl_when_nothing_listens") else {
        return;
    };
    let port = free_port();
    let failures = compare_all(&bin.join("etcdctl"), UNREACHABLE_CASES, port, port);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Read-only commands across a 3-member cluster.
const CLUSTER_CASES: &[Case] = &[
    case(&["--endpoints={EPS}", "member", "list", "-w", "table"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "json"]),
    case(&["--endpoints={EPS}", "member", "list"]),
    case(&[
        "--endpoints={EP}",
        "endpoint",
        "status",
        "--cluster",
        "-w",
        "table",
    ]),
    case(&[
        "--endpoints={EP}",
        "endpoint",
        "status",
        "--cluster",
        "-w",
        "json",
    ]),
    case(&["--endpoints={EPS}", "endpoint", "status"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv", "--cluster"]),
    case(&["--endpoints={EPS}", "endpoint", "hashkv", "-w", "json"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "--cluster"]),
    timed(&["--endpoints={EPS}", "endpoint", "health", "-w", "fields"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "-w", "json"]),
    case(&["--endpoints={EPS}", "get", "k"]),
];

/// The same cases after one member was killed.
const DEGRADED_CLUSTER_CASES: &[Case] = &[
    case(&[
        "--endpoints={EPS}",
        "--command-timeout=500ms",
        "endpoint",
        "status",
    ]),
    case(&[
        "--endpoints={EPS}",
        "--command-timeout=500ms",
        "endpoint",
        "hashkv",
        "-w",
        "table",
    ]),
    case(&["--endpoints={EPS}", "--command-timeout=2s", "get", "k"]),
    case(&[
        "--endpoints={EPS}",
        "--command-timeout=2s",
        "member",
        "list",
    ]),
];

#[test]
fn oxctl_matches_etcdctl_on_a_cluster_and_after_a_member_dies() {
    let Some(bin) = require_etcd("oxctl_matches_etcdctl_on_a_cluster_and_after_a_member_dies")
    else {
        return;
    };
    let mut cluster = Cluster::start(bin.clone(), 3);
    let etcdctl = bin.join("etcdctl");
    let endpoints = cluster.endpoints().join(",");
    let first = cluster.members[0].client_port;
    let put = run_tool(
        &etcdctl,
        &[
            "--endpoints".into(),
            endpoints.clone(),
            "put".into(),
            "k".into(),
            "v".into(),
        ],
        "",
        &[],
    );
    assert_eq!(put.code, Some(0), "{}", put.stderr);

    let with_cluster = |cases: &'static [Case]| -> Vec<Case> {
        cases
            .iter()
            .map(|c| Case {
                args: leak_args(c.args, &endpoints),
                stdin: c.stdin,
                env: c.env,
                timed: c.timed,
                unordered: c.unordered,
                same_server: c.same_server,
            })
            .collect()
    };
    let failures = compare_all(&etcdctl, &with_cluster(CLUSTER_CASES), first, first);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    cluster.members[2].kill();
    let failures = compare_all(
        &etcdctl,
        &with_cluster(DEGRADED_CLUSTER_CASES),
        first,
        first,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Substitutes `{EPS}` (all endpoints) in static case arguments; test-only, so leaking the
/// few strings keeps the case tables `'static`.
fn leak_args(args: &[&str], endpoints: &str) -> &'static [&'static str] {
    let expanded: Vec<&'static str> = args
        .iter()
        .map(|a| &*Box::leak(a.replace("{EPS}", endpoints).into_boxed_str()))
        .collect();
    Box::leak(expanded.into_boxed_slice())
}

/// Commands against a server with authentication enabled (user `root`, password `pw`).
const AUTH_CASES: &[Case] = &[
    server_state(&["--endpoints={EP}", "get", "foo"]),
    server_state(&["--endpoints={EP}", "--user=root:pw", "get", "foo"]),
    server_state(&[
        "--endpoints={EP}",
        "--user",
        "root",
        "--password",
        "pw",
        "get",
        "foo",
        "-w",
        "json",
    ]),
    server_state(&["--endpoints={EP}", "--user=root:wrong", "get", "foo"]),
    server_state(&["--endpoints={EP}", "--user=nobody:pw", "get", "foo"]),
    server_state(&["--endpoints={EP}", "--user=root:pw", "member", "list"]),
    server_state(&["--endpoints={EP}", "--user=root:pw", "endpoint", "hashkv"]),
    server_state(&["--endpoints={EP}", "endpoint", "hashkv"]),
    Case {
        timed: true,
        ..server_state(&["--endpoints={EP}", "--user=root:pw", "endpoint", "health"])
    },
    Case {
        timed: true,
        ..server_state(&["--endpoints={EP}", "endpoint", "health"])
    },
];

#[test]
fn oxctl_authenticates_like_etcdctl() {
    let Some(bin) = require_etcd("oxctl_authenticates_like_etcdctl") else {
        return;
    };
    let cluster = Cluster::start(bin.clone(), 1);
    let etcdctl = bin.join("etcdctl");
    let endpoint = cluster.endpoints()[0].clone();
    for setup in [
        vec!["put", "foo", "bar"],
        vec!["user", "add", "root:pw"],
        vec!["auth", "enable"],
    ] {
        let mut args = vec!["--endpoints".to_string(), endpoint.clone()];
        args.extend(setup.iter().map(|s| s.to_string()));
        let done = run_tool(&etcdctl, &args, "", &[]);
        assert_eq!(done.code, Some(0), "{setup:?}: {}", done.stderr);
    }
    let port = cluster.members[0].client_port;
    let failures = compare_all(&etcdctl, AUTH_CASES, port, port);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

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
    let Some(bin) = require_etcd("maintenance_commands_match_etcdctl") else {
        return;
    };
    let twins = Cluster::twins(bin.clone());
    let failures = compare_all(
        &bin.join("etcdctl"),
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
    let Some(bin) = require_etcd("lease_lifecycle_matches_etcdctl") else {
        return;
    };
    let twins = Cluster::twins(bin.clone());
    let etcdctl = bin.join("etcdctl");
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
    let Some(bin) = require_etcd("keep_alive_runs_until_the_lease_is_revoked") else {
        return;
    };
    let cluster = Cluster::start(bin, 1);
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

#[test]
fn normalisation_only_touches_what_must_differ() {
    let c = timed(&[]);
    assert_eq!(
        normalize_timestamps(
            r#"{"level":"warn","ts":1795606236.0416102,"caller":"x"} {"ts":"2026-11-25T11:30:37.156Z","a":1}"#
        ),
        r#"{"level":"warn","ts":TS,"caller":"x"} {"ts":TS,"a":1}"#
    );
    assert_eq!(
        normalize_pointers("etcd-endpoints://0xc0003b4380/127.0.0.1:1"),
        "etcd-endpoints://PTR/127.0.0.1:1"
    );
    assert_eq!(
        normalize_durations("took = 1.855726ms and 850µs, 2s; 127.0.0.1:2379 v3.5"),
        "took = T and T, T; 127.0.0.1:2379 v3.5"
    );
    assert_eq!(normalize("| a |   true |", 1, 1, &c), "| a | true |");
    assert_eq!(
        normalize_traces("panic: x\n\ngoroutine 1 [running]:\nmain()\n"),
        "panic: x\n"
    );
}
