//! Differential tests against the real etcd 3.5.1 binary: for configuration mistakes etcd
//! rejects before it opens any listener, oxcd must exit with the same code and print the
//! same message lines and log lines (timestamps and callers aside). They fail, saying how to
//! install it, when etcd is missing (`oxcd_testkit::etcd` finds it).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_testkit::etcd::require_etcd;
use oxcd_testkit::ports::free_port;
use serde_json::Value;

use super::{ConfigError, ParseOutcome, parse};
use crate::logging::{ZapLayer, render_config_error, render_startup};

/// What a process showed: exit code, plain stderr lines, and JSON log lines normalised
/// (no `ts` value but its JSON kind, no `caller`/`stacktrace`, no program name in `args`).
#[derive(Debug, PartialEq)]
struct Observed {
    exit_code: i32,
    text_lines: Vec<String>,
    log_lines: Vec<Value>,
}

fn observe(exit_code: i32, stderr: &str, logs: &str) -> Observed {
    let mut text_lines = Vec::new();
    let mut log_lines = Vec::new();
    for line in stderr.lines().chain(logs.lines()) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(mut map)) => {
                let kind = match map.remove("ts") {
                    Some(Value::Number(_)) => "epoch",
                    Some(Value::String(_)) => "iso8601",
                    _ => "missing",
                };
                map.insert("ts".to_string(), Value::String(kind.to_string()));
                map.remove("caller");
                map.remove("stacktrace");
                if let Some(Value::Array(args)) = map.get_mut("args")
                    && !args.is_empty()
                {
                    args.remove(0);
                }
                if let Some(Value::String(error)) = map.get_mut("error")
                    && let Some(i) = error.find(" (config file ")
                {
                    // oxcd adds the file name to config file errors; etcd does not.
                    error.truncate(i);
                }
                log_lines.push(Value::Object(map));
            }
            _ => text_lines.push(line.to_string()),
        }
    }
    // Usage text differs by design (program name, supported commands); compare the line
    // that introduces it.
    if let Some(i) = text_lines.iter().position(|l| l == "Usage:") {
        text_lines.truncate(i + 1);
    }
    // A Go panic prints a goroutine dump after the message.
    if let Some(first) = text_lines.first()
        && first.starts_with("panic: ")
    {
        text_lines.truncate(1);
    }
    Observed {
        exit_code,
        text_lines,
        log_lines,
    }
}

fn run_etcd(bin: &Path, args: &[String], env: &HashMap<String, String>) -> Observed {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("etcd accepted {args:?} and kept running; this case is not a config error");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    observe(
        output.status.code().unwrap_or(-1),
        &String::from_utf8_lossy(&output.stderr),
        "",
    )
}

fn run_oxcd(args: &[String], env: &HashMap<String, String>) -> Observed {
    let mut full = vec!["oxcd".to_string()];
    full.extend(args.iter().cloned());
    let render = |err: &ConfigError| {
        let (stderr, logs) = render_config_error(&full, err);
        observe(err.exit_code(), &stderr, &logs)
    };
    match parse(args.to_vec(), env) {
        Err(err) => render(&err),
        Ok(ParseOutcome::Run(cfg)) => match ZapLayer::new(&cfg.log) {
            Err(e) => render(&e.into()),
            Ok(_) => panic!("oxcd accepted {args:?}"),
        },
        Ok(other) => panic!("unexpected outcome {other:?}"),
    }
}

struct Case {
    args: Vec<String>,
    env: HashMap<String, String>,
}

fn case(args: &[&str], env: &[(&str, &str)]) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn yaml_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(text.as_bytes()).expect("write");
    path.to_str().expect("utf8").to_string()
}

#[test]
fn configuration_errors_match_etcd() {
    let bin = require_etcd();
    // Non-default loopback ports, so a case that unexpectedly starts etcd cannot collide.
    const PEER: &str = "--listen-peer-urls=http://127.0.0.1:42380";
    const CLIENT: &str = "--listen-client-urls=http://127.0.0.1:42379";
    const ADVERTISE: &str = "--advertise-client-urls=http://127.0.0.1:42379";
    let dir = tempfile::tempdir().expect("temp dir");
    let bad_type = yaml_file(&dir, "bad-type.yaml", "name: n1\nsnapshot-count: abc\n");
    let bad_list = yaml_file(&dir, "bad-list.yaml", "log-outputs: stderr\n");
    let bad_url = yaml_file(&dir, "bad-url.yaml", "listen-peer-urls: 127.0.0.1:2380\n");
    let bad_timeout = yaml_file(&dir, "bad-timeout.yaml", "election-timeout: 300\n");
    let bad_state = yaml_file(&dir, "bad-state.yaml", "initial-cluster-state: bogus\n");
    let negative = yaml_file(&dir, "negative.yaml", "heartbeat-interval: -1\n");
    let capnslog = yaml_file(&dir, "capnslog.yaml", "logger: capnslog\n");

    let cases = [
        case(&["--foo"], &[]),
        case(&["--name"], &[]),
        case(&["-heartbeat-interval", "abc"], &[]),
        case(&["--snapshot-count=-1"], &[]),
        case(&["--snapshot-count=99999999999999999999"], &[]),
        case(&["--initial-cluster-state=bogus"], &[]),
        case(&["--client-cert-auth=maybe"], &[]),
        case(&["---x"], &[]),
        case(&["--listen-peer-urls=127.0.0.1:2380"], &[]),
        case(&["--listen-peer-urls=ftp://h:1"], &[]),
        case(&["--listen-peer-urls=http://h"], &[]),
        case(&["--listen-peer-urls=http://h:1/x"], &[]),
        case(&["--grpc-keepalive-timeout=5"], &[]),
        case(&["foo"], &[]),
        case(&["--name=a", "--", "bar"], &[]),
        case(&[PEER, CLIENT], &[]),
        case(&[PEER, "--election-timeout", "400"], &[]),
        case(&[PEER, "--election-timeout=60000"], &[]),
        case(&[PEER, "--heartbeat-interval=0"], &[]),
        case(&[PEER, "--logger", "capnslog"], &[]),
        case(&[PEER, "--logger=bogus"], &[]),
        case(&[PEER, "--log-outputs=default,stdout"], &[]),
        case(&[PEER, "--log-outputs=/nonexistent/dir/x.log"], &[]),
        case(&[PEER, "--log-level=bogus"], &[]),
        case(
            &[
                PEER,
                "--listen-client-urls=http://example.com:42379",
                ADVERTISE,
            ],
            &[],
        ),
        case(&[PEER, "--initial-advertise-peer-urls=http://:42380"], &[]),
        case(&[PEER, "--auto-compaction-mode=foo"], &[]),
        case(
            &[PEER, "--raft-read-timeout=1s", "--election-timeout=1"],
            &[],
        ),
        case(&["--name=y"], &[("ETCD_NAME", "x")]),
        case(&["--name=y"], &[("ETCD_FOO", "1"), ("ETCD_NAME", "")]),
        case(&[], &[("ETCD_SNAPSHOT_COUNT", "abc")]),
        case(
            &[PEER],
            &[
                ("ETCD_ELECTION_TIMEOUT", "1"),
                ("ETCD_FOO", "bar"),
                ("ETCD_VERSION", "1"),
            ],
        ),
        case(
            &[PEER],
            &[("ETCD_LISTEN_CLIENT_URLS", "http://127.0.0.1:42379")],
        ),
        case(&["--config-file=/nonexistent/oxcd.yaml"], &[]),
        case(&["--config-file", &bad_type], &[]),
        case(&["--config-file", &bad_list], &[]),
        case(&["--config-file", &bad_url], &[]),
        case(&["--config-file", &bad_timeout, "--name=ignored"], &[]),
        case(&["--config-file", &bad_state], &[]),
        case(&["--config-file", &negative], &[]),
        case(&[], &[("ETCD_CONFIG_FILE", capnslog.as_str())]),
    ];

    let mut mismatches = Vec::new();
    for case in &cases {
        let etcd = run_etcd(&bin, &case.args, &case.env);
        let oxcd = run_oxcd(&case.args, &case.env);
        if etcd != oxcd {
            mismatches.push(format!(
                "args {:?} env {:?}\n  etcd: {etcd:?}\n  oxcd: {oxcd:?}",
                case.args, case.env
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn version_output_matches_etcds_shape() {
    let bin = require_etcd();
    let output = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("etcd --version");
    let etcd = String::from_utf8_lossy(&output.stdout).into_owned();
    let Ok(ParseOutcome::PrintVersion(ours)) =
        parse(vec!["--version".to_string()], &HashMap::new())
    else {
        panic!("--version must print the version");
    };
    let label = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(label(&etcd), label(&ours));
    assert_eq!(
        etcd.lines().next(),
        ours.lines().next(),
        "same etcd version line"
    );
    assert_eq!(
        etcd.lines().last(),
        ours.lines().last(),
        "same platform line"
    );
}

/// Starts etcd, collects its first `count` log lines from stderr, then stops it.
fn etcd_first_lines(
    bin: &Path,
    args: &[String],
    env: &HashMap<String, String>,
    count: usize,
) -> String {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcd starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(rx);
    let _ = reader.join();
    lines.join("\n")
}

#[test]
fn startup_lines_match_etcd() {
    let bin = require_etcd();
    let (client, peer) = (free_port(), free_port());
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let flags = vec![
        "--name=infra1".to_string(),
        format!("--listen-client-urls={client_url}"),
        format!("--advertise-client-urls={client_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        "--raft-write-timeout=1s".to_string(),
    ];
    let env: HashMap<String, String> = [
        ("ETCD_SNAPSHOT_COUNT", "5"),
        ("ETCD_FOO", "bar"),
        ("ETCD_VERSION", "x"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml_file(
        &dir,
        "ok.yaml",
        &format!(
            "name: infra2\nlisten-client-urls: {client_url}\nadvertise-client-urls: {client_url}\n\
             listen-peer-urls: {peer_url}\ninitial-advertise-peer-urls: {peer_url}\n"
        ),
    );
    let from_file = vec![
        "--config-file".to_string(),
        file,
        "--name=ignored".to_string(),
    ];

    for (args, env) in [(flags, env), (from_file, HashMap::new())] {
        let Ok(ParseOutcome::Run(cfg)) = parse(args.clone(), &env) else {
            panic!("{args:?} must parse");
        };
        let mut full = vec!["oxcd".to_string()];
        full.extend(args.iter().cloned());
        let ours = observe(0, "", &render_startup(&full, &cfg.notices, &cfg.log));
        assert!(
            ours.log_lines.len() >= 3,
            "notices, Running and data-dir lines"
        );
        let etcd_text = etcd_first_lines(&bin, &args, &env, ours.log_lines.len());
        let etcd = observe(0, &etcd_text, "");
        assert_eq!(etcd.log_lines, ours.log_lines, "startup lines for {args:?}");
    }
}
