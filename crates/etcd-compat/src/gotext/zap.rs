//! One zap JSON log line, as etcd and etcdctl write them:
//! `{"level":..,"ts":..,["logger":..,]["caller":..,]"msg":..,<fields>}` with zap's levels,
//! field values and string escaping, and either the production logger's epoch timestamp or the
//! ISO-8601 one of etcd's configured logger and clientv3's default logger.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use chrono::{DateTime, Datelike, FixedOffset, Local, Offset, Timelike};

use super::json::push_escaped;

/// zap's levels, lowest first; `--log-level` names one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `debug`.
    Debug,
    /// `info` (the default).
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
    /// `dpanic` (accepted by zap; treated like `error` by oxcd's own code).
    DPanic,
    /// `panic`.
    Panic,
    /// `fatal`.
    Fatal,
}

impl Level {
    /// The lower-case name zap prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::DPanic => "dpanic",
            Level::Panic => "panic",
            Level::Fatal => "fatal",
        }
    }

    /// Parses a level name as zap's `Level.Set` does (lower or upper case; empty is `info`).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "debug" | "DEBUG" => Some(Level::Debug),
            "info" | "INFO" | "" => Some(Level::Info),
            "warn" | "WARN" => Some(Level::Warn),
            "error" | "ERROR" => Some(Level::Error),
            "dpanic" | "DPANIC" => Some(Level::DPanic),
            "panic" | "PANIC" => Some(Level::Panic),
            "fatal" | "FATAL" => Some(Level::Fatal),
            _ => None,
        }
    }
}

/// A structured field value, encoded as zap's JSON encoder encodes it.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// A JSON string.
    Str(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A float (`NaN`/`±Inf` become strings, as in zap).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A JSON array of strings (zap's `zap.Strings`).
    Strings(Vec<String>),
}

/// A named field of a log line.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The JSON key.
    pub key: String,
    /// The value.
    pub value: FieldValue,
}

impl Field {
    /// A string field.
    pub fn str(key: &str, value: impl Into<String>) -> Field {
        Field {
            key: key.to_string(),
            value: FieldValue::Str(value.into()),
        }
    }

    /// A string-array field.
    pub fn strings(key: &str, values: Vec<String>) -> Field {
        Field {
            key: key.to_string(),
            value: FieldValue::Strings(values),
        }
    }

    /// An unsigned integer field.
    pub fn uint(key: &str, value: u64) -> Field {
        Field {
            key: key.to_string(),
            value: FieldValue::Uint(value),
        }
    }

    /// A boolean field.
    pub fn bool(key: &str, value: bool) -> Field {
        Field {
            key: key.to_string(),
            value: FieldValue::Bool(value),
        }
    }

    /// zap's `zap.Error(err)`: an `error` field holding the message.
    pub fn error(err: &dyn fmt::Display) -> Field {
        Field::str("error", err.to_string())
    }
}

/// One log line before encoding.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The `level` key.
    pub level: Level,
    /// The `logger` key (zap's logger name), omitted when `None`.
    pub logger: Option<String>,
    /// The `caller` key, omitted when `None`.
    pub caller: Option<String>,
    /// The `msg` key.
    pub msg: String,
    /// The event's fields, in order, after `msg`.
    pub fields: Vec<Field>,
}

/// How the `ts` key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// zap's ISO8601 encoder in local time (`2026-11-25T11:20:00.123Z`), used by etcd's
    /// configured logger and clientv3's default logger.
    Iso8601,
    /// Seconds since the epoch as a float (`zap.NewProduction`), used by etcd's bootstrap
    /// logger and etcdctl's production loggers.
    Epoch,
}

/// Encodes `line` as zap's JSON encoder does at time `now`, with the trailing newline.
pub fn encode_line(line: &Line, time: TimeFormat, now: SystemTime) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("{\"level\":\"");
    out.push_str(line.level.as_str());
    out.push_str("\",\"ts\":");
    match time {
        TimeFormat::Iso8601 => {
            out.push('"');
            out.push_str(&iso8601_local(now));
            out.push('"');
        }
        TimeFormat::Epoch => out.push_str(&epoch_seconds(now)),
    }
    if let Some(logger) = &line.logger {
        out.push_str(",\"logger\":");
        push_string(&mut out, logger);
    }
    if let Some(caller) = &line.caller {
        out.push_str(",\"caller\":");
        push_string(&mut out, caller);
    }
    out.push_str(",\"msg\":");
    push_string(&mut out, &line.msg);
    for field in &line.fields {
        out.push(',');
        push_string(&mut out, &field.key);
        out.push(':');
        out.push_str(&encode_value(&field.value));
    }
    out.push_str("}\n");
    out
}

/// zap's short caller: the file's directory and name, then the line (`config/env.rs:42`).
pub(crate) fn short_caller(file: &str, line: u32) -> String {
    let file = file.replace('\\', "/");
    let mut parts = file.rsplit('/');
    let name = parts.next().unwrap_or_default();
    match parts.next() {
        Some(dir) if !dir.is_empty() => format!("{dir}/{name}:{line}"),
        _ => format!("{name}:{line}"),
    }
}

/// zap's ISO8601 time encoder: local time, milliseconds, `Z` for UTC or `+hhmm`.
fn iso8601_local(now: SystemTime) -> String {
    let local: DateTime<Local> = now.into();
    iso8601(now, local.offset().fix())
}

/// [`iso8601_local`] in the zone `offset`.
fn iso8601(now: SystemTime, offset: FixedOffset) -> String {
    let at = DateTime::<chrono::Utc>::from(now).with_timezone(&offset);
    let offset_seconds = offset.local_minus_utc();
    // Written field by field: strftime-style formatting costs more than the rest of a line.
    let mut out = String::with_capacity(29);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.timestamp_subsec_millis().min(999)
    );
    if offset_seconds == 0 {
        out.push('Z');
    } else {
        let sign = if offset_seconds < 0 { '-' } else { '+' };
        let minutes = offset_seconds.unsigned_abs() / 60;
        let _ = write!(out, "{sign}{:02}{:02}", minutes / 60, minutes % 60);
    }
    out
}

/// zap's epoch encoder: seconds as the shortest float that round-trips.
fn epoch_seconds(now: SystemTime) -> String {
    let nanos = match now.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as f64,
        Err(e) => -(e.duration().as_nanos() as f64),
    };
    format!("{}", nanos / 1e9)
}

/// A field value as zap's JSON encoder writes it.
pub(crate) fn encode_value(value: &FieldValue) -> String {
    let mut out = String::new();
    match value {
        FieldValue::Str(s) => push_string(&mut out, s),
        FieldValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        FieldValue::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        FieldValue::Float(f) if f.is_nan() => out.push_str("\"NaN\""),
        FieldValue::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" });
        }
        FieldValue::Float(f) => {
            let _ = write!(out, "{f}");
        }
        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        FieldValue::Strings(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(&mut out, item);
            }
            out.push(']');
        }
    }
    out
}

/// zap's string escaping: Go's JSON escaping without the HTML escapes (`<`, `>`, `&` and
/// non-ASCII stay verbatim).
fn push_string(out: &mut String, s: &str) {
    push_escaped(out, s, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at_millis(millis: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(millis)
    }

    #[test]
    fn levels_parse_like_zap() {
        assert_eq!(Level::parse("debug"), Some(Level::Debug));
        assert_eq!(Level::parse("WARN"), Some(Level::Warn));
        assert_eq!(Level::parse(""), Some(Level::Info));
        assert_eq!(Level::parse("fatal"), Some(Level::Fatal));
        assert_eq!(Level::parse("Info"), None);
        assert_eq!(Level::parse("trace"), None);
    }

    #[test]
    fn lines_have_etcds_key_order_and_shape() {
        let record = Line {
            level: Level::Info,
            logger: Some("raft".to_string()),
            caller: Some("etcdserver/server.go:2027".to_string()),
            msg: "published local member to cluster through raft".to_string(),
            fields: vec![
                Field::str("local-member-id", "8e9e05c52164694d"),
                Field::strings("urls", vec!["http://a:1".to_string()]),
                Field::uint("n", 3),
                Field::bool("ok", true),
                Field {
                    key: "f".to_string(),
                    value: FieldValue::Float(1.5),
                },
                Field {
                    key: "neg".to_string(),
                    value: FieldValue::Int(-2),
                },
            ],
        };
        let t = at_millis(1_795_605_677_115);
        let line = encode_line(&record, TimeFormat::Iso8601, t);
        assert!(line.ends_with("}\n"));
        let ts = iso8601_local(t);
        assert_eq!(
            line,
            format!(
                "{{\"level\":\"info\",\"ts\":\"{ts}\",\"logger\":\"raft\",\"caller\":\"etcdserver/server.go:2027\",\
                 \"msg\":\"published local member to cluster through raft\",\"local-member-id\":\"8e9e05c52164694d\",\
                 \"urls\":[\"http://a:1\"],\"n\":3,\"ok\":true,\"f\":1.5,\"neg\":-2}}\n"
            )
        );
    }

    #[test]
    fn field_order_matches_zap() {
        let line = encode_line(
            &Line {
                level: Level::Warn,
                logger: Some("etcd-client".to_string()),
                caller: Some("v3/retry_interceptor.go:62".to_string()),
                msg: "retrying of unary invoker failed".to_string(),
                fields: vec![
                    Field::str("target", "etcd-endpoints://0xc000/a"),
                    Field::uint("attempt", 0),
                ],
            },
            TimeFormat::Iso8601,
            SystemTime::now(),
        );
        assert!(line.starts_with("{\"level\":\"warn\",\"ts\":\""));
        assert!(line.ends_with(",\"logger\":\"etcd-client\",\"caller\":\"v3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":\"etcd-endpoints://0xc000/a\",\"attempt\":0}\n"));
    }

    #[test]
    fn iso8601_has_millis_and_zone() {
        let t = at_millis(1_795_605_677_115);
        let ts = iso8601_local(t);
        assert_eq!(
            ts.len(),
            "2026-11-25T11:21:17.115".len() + { if ts.ends_with('Z') { 1 } else { 5 } }
        );
        assert_eq!(&ts[19..23], ".115");
        // Under UTC (the CI machines) this is exactly what etcd prints.
        if ts.ends_with('Z') {
            assert_eq!(ts, "2026-11-25T11:21:17.115Z");
        }
    }

    #[test]
    fn iso_dates() {
        let utc = FixedOffset::east_opt(0).expect("UTC");
        assert_eq!(iso8601(at_millis(0), utc), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(at_millis(1_795_606_237_156), utc),
            "2026-11-25T11:30:37.156Z"
        );
        assert_eq!(
            iso8601(at_millis(951_782_400_000), utc),
            "2000-02-29T00:00:00.000Z"
        );
        let cet = FixedOffset::east_opt(3600).expect("CET");
        assert_eq!(
            iso8601(at_millis(951_782_400_000), cet),
            "2000-02-29T01:00:00.000+0100"
        );
    }

    #[test]
    fn epoch_time_is_float_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_795_605_686_472_876_300);
        assert_eq!(epoch_seconds(t), "1795605686.4728763");
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(2);
        assert_eq!(epoch_seconds(whole), "2");
    }

    #[test]
    fn strings_are_escaped_like_zap() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\nd\te\u{1}<&>é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\te\\u0001<&>é\"");
        assert_eq!(encode_value(&FieldValue::Float(f64::NAN)), "\"NaN\"");
        assert_eq!(encode_value(&FieldValue::Float(f64::INFINITY)), "\"+Inf\"");
    }

    #[test]
    fn short_caller_keeps_dir_and_file() {
        assert_eq!(
            short_caller("crates/server/src/config/env.rs", 42),
            "config/env.rs:42"
        );
        assert_eq!(short_caller("main.rs", 1), "main.rs:1");
    }
}
