//! Bridges raft-rs's `slog` output into `tracing`, so consensus events ("became leader at
//! term N", elections, conf changes) land in the server's log alongside everything else.

use std::fmt::{self, Write as _};

use slog::{Drain, KV, Level, OwnedKVList, Record, Serializer};

/// A slog drain that re-emits every record as a `tracing` event with target `raft`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TracingDrain;

/// A slog logger that writes to `tracing`.
pub(crate) fn raft_logger() -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!())
}

fn tracing_enabled(level: Level) -> bool {
    match level {
        Level::Critical | Level::Error => tracing::enabled!(target: "raft", tracing::Level::ERROR),
        Level::Warning => tracing::enabled!(target: "raft", tracing::Level::WARN),
        Level::Info => tracing::enabled!(target: "raft", tracing::Level::INFO),
        Level::Debug => tracing::enabled!(target: "raft", tracing::Level::DEBUG),
        Level::Trace => tracing::enabled!(target: "raft", tracing::Level::TRACE),
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        if !tracing_enabled(record.level()) {
            return Ok(());
        }
        let mut fields = FieldWriter::default();
        // Serialization into a String cannot fail; a failing KV impl only loses its fields.
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let msg = record.msg();
        let fields = fields.0;
        match record.level() {
            Level::Critical | Level::Error => tracing::error!(target: "raft", "{msg}{fields}"),
            Level::Warning => tracing::warn!(target: "raft", "{msg}{fields}"),
            Level::Info => tracing::info!(target: "raft", "{msg}{fields}"),
            Level::Debug => tracing::debug!(target: "raft", "{msg}{fields}"),
            Level::Trace => tracing::trace!(target: "raft", "{msg}{fields}"),
        }
        Ok(())
    }

    fn is_enabled(&self, level: Level) -> bool {
        tracing_enabled(level)
    }
}

/// Renders slog key-value pairs as `, key: value` suffixes.
#[derive(Default)]
struct FieldWriter(String);

impl Serializer for FieldWriter {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        write!(self.0, ", {key}: {val}").map_err(|_| slog::Error::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn slog_records_reach_tracing_with_their_fields() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let logger = raft_logger().new(slog::o!("raft_id" => 7));
            slog::info!(logger, "became leader at term {}", 3; "term" => 3);
            slog::debug!(logger, "filtered out");
        });
        let out = String::from_utf8(capture.0.lock().expect("capture lock").clone())
            .expect("utf8 log output");
        assert!(out.contains("became leader at term 3"), "{out}");
        assert!(out.contains("raft_id: 7"), "{out}");
        assert!(out.contains("term: 3"), "{out}");
        assert!(!out.contains("filtered out"), "{out}");
    }
}
