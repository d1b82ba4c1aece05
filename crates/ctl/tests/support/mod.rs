//! What the etcdctl compatibility tests share: a command line to compare ([`Case`]), running
//! a tool, the normalisation of what cannot be equal (log timestamps, Go pointers and stack
//! traces, measured durations, the server's port), and the comparison of etcdctl with oxctl
//! over a list of cases.

// Each test binary uses part of these helpers.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One command line to compare.
pub struct Case {
    /// Arguments; `{EP}` stands for the endpoint of the server the tool talks to.
    pub args: &'static [&'static str],
    /// Standard input.
    pub stdin: &'static str,
    /// Environment (the rest of the environment is cleared).
    pub env: &'static [(&'static str, &'static str)],
    /// Output contains measured durations (endpoint health).
    pub timed: bool,
    /// Lines may come in any order (concurrent health checks).
    pub unordered: bool,
    /// Read-only and dependent on server internals that twins need not share (database
    /// file size): both tools ask the same server.
    pub same_server: bool,
}

/// A command line with empty standard input and environment.
pub const fn case(args: &'static [&'static str]) -> Case {
    Case {
        args,
        stdin: "",
        env: &[],
        timed: false,
        unordered: false,
        same_server: false,
    }
}

/// A command line reading `stdin`.
pub const fn with_stdin(args: &'static [&'static str], stdin: &'static str) -> Case {
    Case {
        stdin,
        ..case(args)
    }
}

/// A command line run with the environment `env`.
pub const fn with_env(
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> Case {
    Case { env, ..case(args) }
}

/// A health check: measured durations, concurrent lines, asked of one server.
pub const fn timed(args: &'static [&'static str]) -> Case {
    Case {
        timed: true,
        unordered: true,
        same_server: true,
        ..case(args)
    }
}

/// A command whose output shows server internals that twins need not share.
pub const fn server_state(args: &'static [&'static str]) -> Case {
    Case {
        same_server: true,
        ..case(args)
    }
}

/// What a tool printed and how it exited.
pub struct Output {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The exit code; `None` when a signal ended the tool.
    pub code: Option<i32>,
}

/// Runs `tool` with `args`, `stdin` and only the environment `env`.
pub fn run_tool(tool: &Path, args: &[String], stdin: &str, env: &[(String, String)]) -> Output {
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
pub fn normalize_timestamps(text: &str) -> String {
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
pub fn normalize_pointers(text: &str) -> String {
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
pub fn normalize_traces(text: &str) -> String {
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
pub fn normalize_durations(text: &str) -> String {
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

/// `text` as `case` printed it, with what cannot be equal between the tools normalised and
/// `own_port` shown as `reference_port`.
pub fn normalize(text: &str, own_port: u16, reference_port: u16, case: &Case) -> String {
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

/// `args` with `{EP}` replaced by `endpoint`.
fn expand(args: &[&str], endpoint: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{EP}", endpoint)).collect()
}

/// Runs every case through etcdctl (against `reference_port`) and oxctl (against
/// `own_port`) and returns a description of each difference.
pub fn compare_all(
    etcdctl: &Path,
    cases: &[Case],
    reference_port: u16,
    own_port: u16,
) -> Vec<String> {
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
