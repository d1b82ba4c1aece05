//! Turns the client library's "retrying of unary invoker failed" events into the warning
//! lines clientv3's logger prints on stderr, so failed calls look the same as with etcdctl.

use super::zap_line;
use oxcd_etcd_compat::gotext::zap::{Field as ZapField, Level, TimeFormat};
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Prints client retry warnings in clientv3's format.
pub struct ClientWarnings;

/// Switches every later warning to the style of the production logger named "client", which
/// `endpoint health` gives its clients; otherwise clientv3's default "etcd-client" logger
/// style is used.
pub fn use_production_style() {
    PRODUCTION_STYLE.store(true, Ordering::Relaxed);
}

static PRODUCTION_STYLE: AtomicBool = AtomicBool::new(false);

/// Drops every later retry warning: they are clientv3's unary interceptor's, and a command
/// that only opens a stream (`snapshot save`) reports its failure itself, as etcdctl's stream
/// interceptor does.
pub fn silence() {
    SILENCED.store(true, Ordering::Relaxed);
}

static SILENCED: AtomicBool = AtomicBool::new(false);

#[derive(Default)]
struct Fields {
    message: String,
    attempt: u64,
    endpoints: String,
    error: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "attempt" {
            self.attempt = value;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_text(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record_text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.message = text,
            "endpoints" => self.endpoints = text,
            "error" => self.error = text,
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for ClientWarnings {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "etcd_client" || SILENCED.load(Ordering::Relaxed) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let (style, logger) = if PRODUCTION_STYLE.load(Ordering::Relaxed) {
            (TimeFormat::Epoch, "client")
        } else {
            (TimeFormat::Iso8601, "etcd-client")
        };
        let line = zap_line(
            Level::Warn,
            style,
            Some(logger),
            "v3/retry_interceptor.go:62",
            &fields.message,
            vec![
                ZapField::str(
                    "target",
                    format!(
                        "etcd-endpoints://0xc000{:06x}/{}",
                        std::process::id() & 0xff_ffff,
                        fields.endpoints
                    ),
                ),
                ZapField::uint("attempt", fields.attempt),
                ZapField::str("error", fields.error),
            ],
        );
        eprintln!("{line}");
    }
}
