//! Tests of logging as a whole: `tracing` events through the layer, sinks and files, and
//! etcd's configuration-error and start-failure reports.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::prelude::*;

use super::config_errors::report_to;
use super::layer::{ZapLayer, strings, zap_key};
use super::loggers::Loggers;
use super::sink::Sink;
use crate::config::{ConfigError, ErrorReport, LogConfig, LogOutput, Notice, NoticeStage};
use crate::gotext::duration::format as go_duration;
use crate::gotext::zap::{Level, Line, TimeFormat};

fn memory_sink(level: Level) -> (Arc<Sink>, Arc<Mutex<Vec<u8>>>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(Sink::memory(level, TimeFormat::Iso8601, &buffer));
    (sink, buffer)
}

fn lines(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<serde_json::Value> {
    let bytes = buffer.lock().expect("buffer").clone();
    String::from_utf8(bytes)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// The top-level keys of each raw line, in the order written.
fn key_order(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<Vec<String>> {
    let bytes = buffer.lock().expect("buffer").clone();
    String::from_utf8(bytes)
        .expect("utf8")
        .lines()
        .map(|line| {
            let mut keys = Vec::new();
            let mut de = serde_json::Deserializer::from_str(line);
            let visitor = KeyOrder(&mut keys);
            serde::de::Deserializer::deserialize_map(&mut de, visitor).expect("object");
            keys
        })
        .collect()
}

struct KeyOrder<'a>(&'a mut Vec<String>);

impl<'de> serde::de::Visitor<'de> for KeyOrder<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<serde::de::IgnoredAny>()?;
            self.0.push(key);
        }
        Ok(())
    }
}

#[test]
fn rust_field_names_are_written_in_etcds_kebab_case() {
    assert_eq!(zap_key("local_member_id"), "local-member-id");
    assert_eq!(zap_key("took"), "took");
}

#[test]
fn tracing_events_become_zap_lines() {
    let (sink, buffer) = memory_sink(Level::Info);
    let subscriber = tracing_subscriber::registry().with(ZapLayer {
        sink: Arc::clone(&sink),
    });
    tracing::subscriber::with_default(subscriber, || {
        let err = io::Error::other("boom");
        tracing::info!(
            "local-member-id" = %"8e9e05c52164694d",
            count = 3u64,
            delta = -1i64,
            ready = true,
            urls = ?strings(&["http://a:1", "http://b:2"]),
            took = %go_duration(Duration::from_micros(760)),
            error = %err,
            "starting etcd server"
        );
        tracing::warn!(logger = "raft", "became follower");
        tracing::debug!("filtered out");
        tracing::trace!("never written");
    });
    let got = lines(&buffer);
    assert_eq!(got.len(), 2, "debug and trace are below info");
    let order = key_order(&buffer);
    assert_eq!(
        order[0],
        [
            "level",
            "ts",
            "caller",
            "msg",
            "local-member-id",
            "count",
            "delta",
            "ready",
            "urls",
            "took",
            "error"
        ]
        .map(String::from)
    );
    assert_eq!(
        order[1],
        ["level", "ts", "logger", "caller", "msg"].map(String::from)
    );
    let first = &got[0];
    assert_eq!(first["level"], "info");
    assert_eq!(first["msg"], "starting etcd server");
    assert_eq!(first["local-member-id"], "8e9e05c52164694d");
    assert_eq!(first["count"], 3);
    assert_eq!(first["delta"], -1);
    assert_eq!(first["ready"], true);
    assert_eq!(
        first["urls"],
        serde_json::json!(["http://a:1", "http://b:2"])
    );
    assert_eq!(first["took"], "760µs");
    assert_eq!(first["error"], "boom");
    assert!(
        first["caller"]
            .as_str()
            .is_some_and(|c| c.starts_with("logging/tests.rs:")),
        "{}",
        first["caller"]
    );
    let second = &got[1];
    assert_eq!(second["logger"], "raft");
    assert_eq!(second["level"], "warn");
}

#[test]
fn level_filter_applies_to_every_level() {
    let (sink, buffer) = memory_sink(Level::Error);
    let subscriber = tracing_subscriber::registry().with(ZapLayer {
        sink: Arc::clone(&sink),
    });
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("no");
        tracing::warn!("no");
        tracing::error!("yes");
    });
    let got = lines(&buffer);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["msg"], "yes");
}

#[test]
fn file_outputs_append_and_dedupe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("etcd.log");
    std::fs::write(&path, "existing\n").expect("seed file");
    let cfg = LogConfig {
        level: Level::Info,
        outputs: vec![LogOutput::File(path.clone()), LogOutput::File(path.clone())],
    };
    let sink = Sink::open(&cfg).expect("open");
    sink.write(&Line {
        level: Level::Info,
        logger: None,
        caller: None,
        msg: "hello".to_string(),
        fields: Vec::new(),
    });
    sink.sync();
    let text = std::fs::read_to_string(&path).expect("read");
    let mut it = text.lines();
    assert_eq!(it.next(), Some("existing"));
    let line: serde_json::Value = serde_json::from_str(it.next().expect("one line")).expect("json");
    assert_eq!(line["msg"], "hello");
    assert!(line.get("caller").is_none(), "no caller when unknown");
    assert_eq!(it.next(), None, "written once despite the duplicate output");
}

#[test]
fn unopenable_file_reports_zaps_error() {
    let cfg = LogConfig {
        level: Level::Info,
        outputs: vec![LogOutput::File(PathBuf::from("/nonexistent/dir/x.log"))],
    };
    let Err(err) = Sink::open(&cfg) else {
        panic!("opening a file in a missing directory must fail");
    };
    assert_eq!(
        err.to_string(),
        "couldn't open sink \"/nonexistent/dir/x.log\": open /nonexistent/dir/x.log: no such file or directory"
    );
}

fn run_report(err: &ConfigError, installed: Option<&Sink>) -> String {
    let mut stderr = Vec::new();
    report_to(
        &["oxcd".to_string()],
        err,
        installed,
        &Sink::bootstrap(),
        &|_| None,
        &mut stderr,
    );
    String::from_utf8(stderr).expect("utf8")
}

#[test]
fn usage_errors_print_message_then_usage() {
    let out = run_report(
        &ConfigError::usage("flag provided but not defined: -foo"),
        None,
    );
    assert!(
        out.starts_with("flag provided but not defined: -foo\nUsage:\n"),
        "{out}"
    );
}

#[test]
fn panics_and_plain_errors_go_to_stderr() {
    let out = run_report(
        &ConfigError::new("unrecognized level: \"bogus\"", ErrorReport::Panic),
        None,
    );
    assert_eq!(out, "panic: unrecognized level: \"bogus\"\n");
    let out = run_report(
        &ConfigError::new(
            "unexpected error setting up listen-peer-urls: x",
            ErrorReport::Stderr,
        ),
        None,
    );
    assert_eq!(out, "unexpected error setting up listen-peer-urls: x\n");
}

#[test]
fn verify_errors_log_running_then_the_warning() {
    let (sink, buffer) = memory_sink(Level::Info);
    let err = ConfigError::new(
        "--advertise-client-urls is required when --listen-client-urls is set explicitly",
        ErrorReport::VerifyFlags {
            log: None,
            advertise_unset: true,
        },
    )
    .with_notices(vec![Notice::new(
        NoticeStage::ConfigLoaded,
        Level::Info,
        "loaded",
        Vec::new(),
    )]);
    let out = run_report(&err, Some(&sink));
    assert!(out.is_empty(), "everything goes through the logger: {out}");
    let got = lines(&buffer);
    let msgs: Vec<&str> = got.iter().filter_map(|l| l["msg"].as_str()).collect();
    assert_eq!(
        msgs,
        [
            "loaded",
            "Running: ",
            "failed to verify flags",
            "advertise client URLs are not set"
        ]
    );
    assert_eq!(got[1]["args"], serde_json::json!(["oxcd"]));
    assert_eq!(got[2]["level"], "warn");
    assert_eq!(got[2]["error"], err.message());
}

#[test]
fn start_failures_warn_then_fatal() {
    let (sink, buffer) = memory_sink(Level::Info);
    Loggers {
        bootstrap: &sink,
        configured: Some(&sink),
    }
    .start_failure("couldn't find local name \"x\"");
    let got = lines(&buffer);
    assert_eq!(got[0]["msg"], "failed to start etcd");
    assert_eq!(got[0]["level"], "warn");
    assert_eq!(got[1]["msg"], "discovery failed");
    assert_eq!(got[1]["level"], "fatal");
    assert_eq!(got[1]["error"], "couldn't find local name \"x\"");
}

#[test]
fn fatal_lines_pass_even_the_fatal_level_filter() {
    let (sink, buffer) = memory_sink(Level::Fatal);
    Loggers {
        bootstrap: &sink,
        configured: Some(&sink),
    }
    .start_failure("x");
    let got = lines(&buffer);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["level"], "fatal");
}
