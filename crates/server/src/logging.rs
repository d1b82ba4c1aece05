//! Logging in etcd 3.5's format: one zap JSON object per line, keys `level`, `ts`, `logger`
//! (when named), `caller`, `msg`, then the event's fields, written to every `--log-outputs`
//! target and filtered by `--log-level`.
//!
//! [`init`] installs a `tracing` subscriber ([`ZapLayer`]), so the rest of oxcd logs with
//! ordinary `tracing` macros. Field names may be etcd's dashed names
//! (`tracing::info!("local-member-id" = %id, "starting etcd server")`); a `logger` field
//! becomes zap's logger name; [`strings`] logs a JSON array and [`go_duration`] a Go-style
//! duration. This module also renders configuration failures and startup notices exactly
//! as etcd does ([`report_config_error`], [`log_startup`]) and etcd's fatal exits
//! ([`fatal`]).

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Local, Offset, Timelike};
use tracing::field::{Field as TracingField, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::config::{ConfigError, ErrorReport, Notice, NoticeStage, help};

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

    fn from_tracing(level: &tracing::Level) -> Option<Level> {
        match *level {
            tracing::Level::ERROR => Some(Level::Error),
            tracing::Level::WARN => Some(Level::Warn),
            tracing::Level::INFO => Some(Level::Info),
            tracing::Level::DEBUG => Some(Level::Debug),
            // zap has nothing below debug; etcd never logs at such a level.
            tracing::Level::TRACE => None,
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

/// One `--log-outputs` target.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogOutput {
    /// Standard error (`stderr` or `default`).
    Stderr,
    /// Standard output.
    Stdout,
    /// A file, created if missing and appended to.
    File(PathBuf),
}

/// The resolved `--logger zap` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Lines below this level are dropped.
    pub level: Level,
    /// Every line goes to each of these, deduplicated; empty discards everything (etcd's
    /// `/dev/null` output).
    pub outputs: Vec<LogOutput>,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: Level::Info,
            outputs: vec![LogOutput::Stderr],
        }
    }
}

/// A failure to set up logging.
#[derive(Debug)]
pub enum LoggingError {
    /// An output file could not be opened; the text is zap's (`couldn't open sink "p": ...`).
    OpenSink(String),
    /// A global `tracing` subscriber was already installed.
    AlreadyInitialized,
}

impl fmt::Display for LoggingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoggingError::OpenSink(message) => f.write_str(message),
            LoggingError::AlreadyInitialized => f.write_str("logging is already initialized"),
        }
    }
}

impl std::error::Error for LoggingError {}

impl From<LoggingError> for ConfigError {
    /// etcd fails opening a log output while validating its flags, so the error is
    /// reported as `failed to verify flags` by the bootstrap logger.
    fn from(err: LoggingError) -> ConfigError {
        ConfigError::verify(err.to_string(), None)
    }
}

enum Writer {
    Stderr,
    Stdout,
    File(File),
    #[cfg(test)]
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl Writer {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Writer::Stderr => io::stderr().lock().write_all(line),
            Writer::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            Writer::File(file) => file.write_all(line),
            #[cfg(test)]
            Writer::Memory(buffer) => {
                buffer
                    .lock()
                    .map_err(|_| io::Error::other("poisoned"))?
                    .extend_from_slice(line);
                Ok(())
            }
        }
    }

    fn sync(&mut self) {
        // Like zap's Sync on exit: best effort, nothing left to report a failure to.
        match self {
            Writer::Stdout => {
                let _ = io::stdout().flush();
            }
            Writer::File(file) => {
                let _ = file.sync_data();
            }
            Writer::Stderr => {}
            #[cfg(test)]
            Writer::Memory(_) => {}
        }
    }
}

/// How the `ts` key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeFormat {
    /// zap's ISO8601 encoder in local time (`2026-11-25T11:20:00.123Z`), used by etcd's
    /// configured logger.
    Iso8601,
    /// Seconds since the epoch as a float, used by etcd's bootstrap logger.
    Epoch,
}

/// The destination lines are written to: a level filter, a timestamp style and writers.
struct Sink {
    level: Level,
    time: TimeFormat,
    writers: Mutex<Vec<Writer>>,
}

impl Sink {
    fn open(cfg: &LogConfig) -> Result<Sink, LoggingError> {
        let mut outputs = cfg.outputs.clone();
        outputs.sort();
        outputs.dedup();
        let mut writers = Vec::with_capacity(outputs.len());
        for output in outputs {
            writers.push(match output {
                LogOutput::Stderr => Writer::Stderr,
                LogOutput::Stdout => Writer::Stdout,
                LogOutput::File(path) => Writer::File(open_append(&path)?),
            });
        }
        Ok(Sink {
            level: cfg.level,
            time: TimeFormat::Iso8601,
            writers: Mutex::new(writers),
        })
    }

    /// etcd's bootstrap logger (`zap.NewProduction`): stderr, info and above, epoch time.
    fn bootstrap() -> Sink {
        Sink {
            level: Level::Info,
            time: TimeFormat::Epoch,
            writers: Mutex::new(vec![Writer::Stderr]),
        }
    }

    fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    fn write(&self, record: &Record) {
        if !self.enabled(record.level) {
            return;
        }
        let line = encode_line(record, self.time, SystemTime::now());
        if let Ok(mut writers) = self.writers.lock() {
            for writer in writers.iter_mut() {
                // A failing log output must not take the server down; zap drops it too.
                let _ = writer.write_line(line.as_bytes());
            }
        }
    }

    fn sync(&self) {
        if let Ok(mut writers) = self.writers.lock() {
            writers.iter_mut().for_each(Writer::sync);
        }
    }
}

fn open_append(path: &Path) -> Result<File, LoggingError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            let shown = path.display();
            LoggingError::OpenSink(format!(
                "couldn't open sink \"{shown}\": open {shown}: {}",
                go_io_error_text(&e)
            ))
        })
}

/// An OS error as Go prints it: the lower-case `strerror` text without Rust's suffix.
pub(crate) fn go_io_error_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

static GLOBAL_SINK: OnceLock<Arc<Sink>> = OnceLock::new();

/// Flushes and syncs the log outputs when dropped; keep it alive for the process lifetime.
#[must_use = "dropping the guard flushes logs; keep it until the process exits"]
pub struct LoggingGuard {
    sink: Arc<Sink>,
}

impl Drop for LoggingGuard {
    fn drop(&mut self) {
        self.sink.sync();
    }
}

/// Installs etcd-format logging for the whole process: a global `tracing` subscriber
/// writing zap JSON lines at `cfg.level` and above to every output in `cfg.outputs`.
pub fn init(cfg: &LogConfig) -> Result<LoggingGuard, LoggingError> {
    let sink = Arc::new(Sink::open(cfg)?);
    GLOBAL_SINK
        .set(Arc::clone(&sink))
        .map_err(|_| LoggingError::AlreadyInitialized)?;
    tracing_subscriber::registry()
        .with(ZapLayer {
            sink: Arc::clone(&sink),
        })
        .try_init()
        .map_err(|_| LoggingError::AlreadyInitialized)?;
    Ok(LoggingGuard { sink })
}

/// A `tracing` layer that writes events as etcd's zap JSON lines.
pub struct ZapLayer {
    sink: Arc<Sink>,
}

impl ZapLayer {
    /// A layer writing to the outputs in `cfg` (normally installed by [`init`]; exposed for
    /// composing with other layers).
    pub fn new(cfg: &LogConfig) -> Result<ZapLayer, LoggingError> {
        Ok(ZapLayer {
            sink: Arc::new(Sink::open(cfg)?),
        })
    }
}

impl<S: Subscriber> Layer<S> for ZapLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        Level::from_tracing(metadata.level()).is_some_and(|l| self.sink.enabled(l))
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let Some(level) = Level::from_tracing(metadata.level()) else {
            return;
        };
        if !self.sink.enabled(level) {
            return;
        }
        let mut visitor = FieldCollector::default();
        event.record(&mut visitor);
        let caller = metadata
            .file()
            .map(|file| short_caller(file, metadata.line().unwrap_or(0)));
        self.sink.write(&Record {
            level,
            logger: visitor.logger,
            caller,
            msg: visitor.message,
            fields: visitor.fields,
        });
    }
}

/// Marks a `Debug`/`Display` text as raw JSON produced by [`strings`]; NUL never occurs in
/// ordinary log text, so the marker cannot be forged by accident.
const RAW_JSON_MARKER: &str = "\u{0}oxcd-json\u{0}";

/// A string list that [`ZapLayer`] writes as a JSON array (zap's `zap.Strings`); use it as
/// `tracing::info!(urls = ?logging::strings(&urls), "...")`.
pub fn strings<T: ToString>(items: &[T]) -> JsonStrings {
    JsonStrings(items.iter().map(ToString::to_string).collect())
}

/// A string list logged as a JSON array; see [`strings`].
pub struct JsonStrings(Vec<String>);

impl fmt::Debug for JsonStrings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(RAW_JSON_MARKER)?;
        f.write_str(&encode_value(&FieldValue::Strings(self.0.clone())))
    }
}

impl fmt::Display for JsonStrings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Formats a duration as Go (and so etcd's logs) prints it: `100ms`, `1s`, `2h0m0s`.
pub fn go_duration(d: std::time::Duration) -> String {
    crate::config::go_values::format_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[derive(Default)]
struct FieldCollector {
    message: String,
    logger: Option<String>,
    fields: Vec<Field>,
}

impl FieldCollector {
    fn push(&mut self, field: &TracingField, value: FieldValue) {
        match (field.name(), value) {
            ("message", FieldValue::Str(s)) => self.message = s,
            ("logger", FieldValue::Str(s)) => self.logger = Some(s),
            (name, value) => self.fields.push(Field {
                key: zap_key(name),
                value,
            }),
        }
    }
}

/// etcd's zap fields are kebab-case (`local-member-id`); Rust field names cannot contain
/// `-`, so `local_member_id` is written the way etcd spells it.
fn zap_key(name: &str) -> String {
    name.replace('_', "-")
}

impl Visit for FieldCollector {
    fn record_f64(&mut self, field: &TracingField, value: f64) {
        self.push(field, FieldValue::Float(value));
    }

    fn record_i64(&mut self, field: &TracingField, value: i64) {
        self.push(field, FieldValue::Int(value));
    }

    fn record_u64(&mut self, field: &TracingField, value: u64) {
        self.push(field, FieldValue::Uint(value));
    }

    fn record_bool(&mut self, field: &TracingField, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_str(&mut self, field: &TracingField, value: &str) {
        self.push(field, FieldValue::Str(value.to_string()));
    }

    fn record_error(&mut self, field: &TracingField, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(value.to_string()));
    }

    fn record_debug(&mut self, field: &TracingField, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        match text.strip_prefix(RAW_JSON_MARKER) {
            Some(json) => self.fields.push(Field {
                key: zap_key(field.name()),
                value: FieldValue::Strings(decode_string_array(json)),
            }),
            None => self.push(field, FieldValue::Str(text)),
        }
    }
}

/// Reads back an array written by [`encode_value`] for [`JsonStrings`]; the text is always
/// our own encoding, so a simple parser suffices.
fn decode_string_array(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// One log line before encoding.
#[derive(Clone, Debug, PartialEq)]
struct Record {
    level: Level,
    logger: Option<String>,
    caller: Option<String>,
    msg: String,
    fields: Vec<Field>,
}

/// zap's short caller: the file's directory and name, then the line (`config/env.rs:42`).
pub fn short_caller(file: &str, line: u32) -> String {
    let file = file.replace('\\', "/");
    let mut parts = file.rsplit('/');
    let name = parts.next().unwrap_or_default();
    match parts.next() {
        Some(dir) if !dir.is_empty() => format!("{dir}/{name}:{line}"),
        _ => format!("{name}:{line}"),
    }
}

fn encode_line(record: &Record, time: TimeFormat, now: SystemTime) -> String {
    let mut line = String::with_capacity(128);
    line.push_str("{\"level\":\"");
    line.push_str(record.level.as_str());
    line.push_str("\",\"ts\":");
    match time {
        TimeFormat::Iso8601 => {
            line.push('"');
            line.push_str(&iso8601_local(now));
            line.push('"');
        }
        TimeFormat::Epoch => line.push_str(&epoch_seconds(now)),
    }
    if let Some(logger) = &record.logger {
        line.push_str(",\"logger\":");
        push_json_string(&mut line, logger);
    }
    if let Some(caller) = &record.caller {
        line.push_str(",\"caller\":");
        push_json_string(&mut line, caller);
    }
    line.push_str(",\"msg\":");
    push_json_string(&mut line, &record.msg);
    for field in &record.fields {
        line.push(',');
        push_json_string(&mut line, &field.key);
        line.push(':');
        line.push_str(&encode_value(&field.value));
    }
    line.push_str("}\n");
    line
}

/// zap's ISO8601 time encoder: local time, milliseconds, `Z` for UTC or `+hhmm`.
fn iso8601_local(now: SystemTime) -> String {
    let local: DateTime<Local> = now.into();
    let offset_seconds = local.offset().fix().local_minus_utc();
    // Written field by field: strftime-style formatting costs more than the rest of a line.
    let mut out = String::with_capacity(29);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        local.timestamp_subsec_millis().min(999)
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

fn encode_value(value: &FieldValue) -> String {
    let mut out = String::new();
    match value {
        FieldValue::Str(s) => push_json_string(&mut out, s),
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
                push_json_string(&mut out, item);
            }
            out.push(']');
        }
    }
    out
}

/// zap's string escaping: `"` and `\` escaped, `\n` `\r` `\t` by name, other control bytes
/// as `\u00xx`; everything else (including `<`, `>`, `&` and non-ASCII) verbatim.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The two loggers etcd uses while starting: its bootstrap logger (before logging is
/// configured) and, once it exists, the configured one.
struct Loggers<'a> {
    bootstrap: &'a Sink,
    configured: Option<&'a Sink>,
}

impl Loggers<'_> {
    /// The configured logger if there is one, else the bootstrap logger.
    fn current(&self) -> &Sink {
        self.configured.unwrap_or(self.bootstrap)
    }

    fn notice(&self, notice: &Notice) {
        let sink = match notice.stage {
            NoticeStage::FlagParsing => self.bootstrap,
            NoticeStage::ConfigLoaded | NoticeStage::Startup => self.current(),
        };
        sink.write(&Record {
            level: notice.level,
            logger: None,
            caller: Some(notice.caller.clone()),
            msg: notice.msg.clone(),
            fields: notice.fields.clone(),
        });
    }

    fn line(&self, level: Level, caller: String, msg: &str, fields: Vec<Field>) {
        self.current().write(&Record {
            level,
            logger: None,
            caller: Some(caller),
            msg: msg.to_string(),
            fields,
        });
    }

    /// Notices before `Running: `, the `Running: ` line, then the startup notices.
    fn startup(&self, args: &[String], notices: &[Notice]) {
        for stage in [NoticeStage::FlagParsing, NoticeStage::ConfigLoaded] {
            for notice in notices.iter().filter(|n| n.stage == stage) {
                self.notice(notice);
            }
        }
        self.line(
            Level::Info,
            here(),
            "Running: ",
            vec![Field::strings("args", args.to_vec())],
        );
        for notice in notices.iter().filter(|n| n.stage == NoticeStage::Startup) {
            self.notice(notice);
        }
    }

    fn start_failure(&self, message: &str) {
        let error = Field::str("error", message);
        self.line(
            Level::Warn,
            here(),
            "failed to start etcd",
            vec![error.clone()],
        );
        self.line(Level::Fatal, here(), "discovery failed", vec![error]);
    }
}

/// Runs `f` with the installed logger (if [`init`] ran) and a bootstrap logger.
fn with_process_loggers<T>(f: impl FnOnce(&Loggers<'_>) -> T) -> T {
    let bootstrap = Sink::bootstrap();
    let loggers = Loggers {
        bootstrap: &bootstrap,
        configured: GLOBAL_SINK.get().map(Arc::as_ref),
    };
    f(&loggers)
}

#[track_caller]
fn here() -> String {
    let location = std::panic::Location::caller();
    short_caller(location.file(), location.line())
}

/// Logs at fatal level and exits with status 1, as zap's `Fatal` does in etcd (for example
/// `fatal("discovery failed", vec![Field::error(&err)])`).
#[track_caller]
pub fn fatal(msg: &str, fields: Vec<Field>) -> ! {
    fatal_with_code(msg, fields, 1)
}

/// [`fatal`] with another exit status (a panic exits with Go's 2).
#[track_caller]
pub fn fatal_with_code(msg: &str, fields: Vec<Field>, code: i32) -> ! {
    let caller = here();
    with_process_loggers(|loggers| {
        loggers.line(Level::Fatal, caller, msg, fields);
        loggers.current().sync();
    });
    std::process::exit(code)
}

/// Logs one configuration notice in the format etcd uses for its stage.
pub fn log_notice(notice: &Notice) {
    with_process_loggers(|loggers| loggers.notice(notice));
}

/// Logs what etcd logs between a successful parse and server start: the flag-parsing
/// notices (bootstrap logger), the config-file notice, `Running: ` with the process
/// arguments, then the startup notices (such as the defaulted data directory). Call it
/// right after [`init`].
pub fn log_startup(args: &[String], notices: &[Notice]) {
    with_process_loggers(|loggers| loggers.startup(args, notices));
}

/// Reports an error from [`crate::config::parse`] exactly as etcd reports the same
/// mistake, and returns the exit code to use. `args` are the full process arguments
/// (program name first), which etcd echoes in its `Running: ` line.
pub fn report_config_error(args: &[String], err: &ConfigError) -> i32 {
    let bootstrap = Sink::bootstrap();
    report_to(
        args,
        err,
        GLOBAL_SINK.get().map(Arc::as_ref),
        &bootstrap,
        &|cfg| Sink::open(cfg).ok(),
        &mut io::stderr(),
    );
    err.exit_code()
}

/// Reports a failure found while starting the server (for example from
/// [`crate::config::ServerConfig::bootstrap_cluster`]): a warning `failed to start etcd`
/// and the fatal `discovery failed`, as etcd does. Returns the exit code (1).
pub fn report_start_failure(err: &dyn fmt::Display) -> i32 {
    with_process_loggers(|loggers| {
        loggers.start_failure(&err.to_string());
        loggers.current().sync();
    });
    1
}

/// Renders `err` the way etcd does. `installed` is the process logger if [`init`] ran;
/// otherwise a configured logger is opened with `open` when etcd had one at that point.
fn report_to(
    args: &[String],
    err: &ConfigError,
    installed: Option<&Sink>,
    bootstrap: &Sink,
    open: &dyn Fn(&LogConfig) -> Option<Sink>,
    stderr: &mut dyn Write,
) {
    let configured_by = |log: Option<&LogConfig>| match (installed, log) {
        (None, Some(cfg)) => open(cfg),
        _ => None,
    };
    match err.report() {
        ErrorReport::Usage => {
            // Go's flag package prints the problem, then the usage text.
            let _ = writeln!(stderr, "{}", err.message());
            let _ = write!(stderr, "{}", help::usage());
        }
        ErrorReport::Panic => {
            let _ = writeln!(stderr, "panic: {}", err.message());
        }
        ErrorReport::Stderr => {
            let _ = writeln!(stderr, "{}", err.message());
        }
        ErrorReport::FlagParsingFatal { fields } => {
            let loggers = Loggers {
                bootstrap,
                configured: None,
            };
            for notice in err.notices() {
                loggers.notice(notice);
            }
            loggers.line(Level::Fatal, here(), err.message(), fields.clone());
        }
        ErrorReport::VerifyFlags {
            log,
            advertise_unset,
        } => {
            let opened = configured_by(log.as_ref());
            let loggers = Loggers {
                bootstrap,
                configured: installed.or(opened.as_ref()),
            };
            loggers.startup(args, err.notices());
            let error = Field::str("error", err.message());
            loggers.line(
                Level::Warn,
                here(),
                "failed to verify flags",
                vec![error.clone()],
            );
            if *advertise_unset {
                loggers.line(
                    Level::Warn,
                    here(),
                    "advertise client URLs are not set",
                    vec![error],
                );
            }
        }
        ErrorReport::StartFailed { log } => {
            let fallback = LogConfig::default();
            let opened = configured_by(Some(log.as_ref().unwrap_or(&fallback)));
            let loggers = Loggers {
                bootstrap,
                configured: installed.or(opened.as_ref()),
            };
            loggers.startup(args, err.notices());
            loggers.start_failure(err.message());
        }
    }
}

/// Renders `err` as [`report_config_error`] would, capturing the stderr text and the log
/// lines (both loggers write, in order, into the second string).
#[cfg(test)]
pub(crate) fn render_config_error(args: &[String], err: &ConfigError) -> (String, String) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let memory = |level: Level, time: TimeFormat| Sink {
        level,
        time,
        writers: Mutex::new(vec![Writer::Memory(Arc::clone(&buffer))]),
    };
    let bootstrap = memory(Level::Info, TimeFormat::Epoch);
    let mut stderr = Vec::new();
    report_to(
        args,
        err,
        None,
        &bootstrap,
        &|cfg| Some(memory(cfg.level, TimeFormat::Iso8601)),
        &mut stderr,
    );
    let logged = buffer.lock().map(|b| b.clone()).unwrap_or_default();
    (
        String::from_utf8_lossy(&stderr).into_owned(),
        String::from_utf8_lossy(&logged).into_owned(),
    )
}

/// Renders what [`log_startup`] writes for a configuration logging with `log`, capturing
/// both loggers' lines in order.
#[cfg(test)]
pub(crate) fn render_startup(args: &[String], notices: &[Notice], log: &LogConfig) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let memory = |level: Level, time: TimeFormat| Sink {
        level,
        time,
        writers: Mutex::new(vec![Writer::Memory(Arc::clone(&buffer))]),
    };
    let bootstrap = memory(Level::Info, TimeFormat::Epoch);
    let configured = memory(log.level, TimeFormat::Iso8601);
    Loggers {
        bootstrap: &bootstrap,
        configured: Some(&configured),
    }
    .startup(args, notices);
    let logged = buffer.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&logged).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn memory_sink(level: Level) -> (Arc<Sink>, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::new(Sink {
            level,
            time: TimeFormat::Iso8601,
            writers: Mutex::new(vec![Writer::Memory(Arc::clone(&buffer))]),
        });
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
        let record = Record {
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
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_605_677_115);
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
    fn iso8601_has_millis_and_zone() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_605_677_115);
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
    fn epoch_time_is_float_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_795_605_686_472_876_300);
        assert_eq!(epoch_seconds(t), "1795605686.4728763");
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(2);
        assert_eq!(epoch_seconds(whole), "2");
    }

    #[test]
    fn strings_are_escaped_like_zap() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\te\u{1}<&>é");
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
                .is_some_and(|c| c.starts_with("src/logging.rs:")),
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
        sink.write(&Record {
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
        let line: serde_json::Value =
            serde_json::from_str(it.next().expect("one line")).expect("json");
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

    #[test]
    fn go_io_errors_are_lower_case_without_os_suffix() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(go_io_error_text(&err), "no such file or directory");
        let err = io::Error::from_raw_os_error(13);
        assert_eq!(go_io_error_text(&err), "permission denied");
    }
}
