//! The `tracing` side of logging: [`init`] installs a subscriber whose [`ZapLayer`] turns
//! every event into a zap line on the configured sink, with etcd's dashed field names, a
//! `logger` field as zap's logger name and [`strings`] as JSON arrays.

use std::fmt;
use std::sync::Arc;

use tracing::field::{Field as TracingField, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use super::sink::{GLOBAL_SINK, LoggingError, Sink};
use crate::config::LogConfig;
use crate::gotext::zap::{Field, FieldValue, Level, Line, encode_value, short_caller};

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
pub(crate) struct ZapLayer {
    pub(super) sink: Arc<Sink>,
}

impl ZapLayer {
    /// A layer writing to the outputs in `cfg`, for tests that capture what [`init`] would
    /// install.
    #[cfg(test)]
    pub(crate) fn new(cfg: &LogConfig) -> Result<ZapLayer, LoggingError> {
        Ok(ZapLayer {
            sink: Arc::new(Sink::open(cfg)?),
        })
    }
}

impl<S: Subscriber> Layer<S> for ZapLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        zap_level(metadata.level()).is_some_and(|l| self.sink.enabled(l))
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let Some(level) = zap_level(metadata.level()) else {
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
        self.sink.write(&Line {
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

/// A string list that the layer [`init`] installs writes as a JSON array (zap's
/// `zap.Strings`); use it as `tracing::info!(urls = ?logging::strings(&urls), "...")`.
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
pub(super) fn zap_key(name: &str) -> String {
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

/// zap's level for a `tracing` level; zap has nothing below debug, and etcd never logs at
/// such a level.
fn zap_level(level: &tracing::Level) -> Option<Level> {
    match *level {
        tracing::Level::ERROR => Some(Level::Error),
        tracing::Level::WARN => Some(Level::Warn),
        tracing::Level::INFO => Some(Level::Info),
        tracing::Level::DEBUG => Some(Level::Debug),
        tracing::Level::TRACE => None,
    }
}
