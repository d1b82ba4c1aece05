//! etcd's configuration-error reports: each [`ErrorReport`] kind printed on stderr or logged
//! by the logger etcd had at that point, exactly as etcd 3.5.1 does.

use std::io::{self, Write};
use std::sync::Arc;
#[cfg(test)]
use std::sync::Mutex;

use super::loggers::{Loggers, here};
use super::sink::{GLOBAL_SINK, LoggingError, Sink};
use crate::config::{ConfigError, ErrorReport, LogConfig, help};
#[cfg(test)]
use crate::gotext::zap::TimeFormat;
use crate::gotext::zap::{Field, Level};

impl From<LoggingError> for ConfigError {
    /// etcd fails opening a log output while validating its flags, so the error is
    /// reported as `failed to verify flags` by the bootstrap logger.
    fn from(err: LoggingError) -> ConfigError {
        ConfigError::verify(err.to_string(), None)
    }
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

/// Renders `err` the way etcd does. `installed` is the process logger if [`init`] ran;
/// otherwise a configured logger is opened with `open` when etcd had one at that point.
pub(super) fn report_to(
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
    let memory = |level: Level, time: TimeFormat| Sink::memory(level, time, &buffer);
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
