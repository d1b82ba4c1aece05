//! Configuration failures and the non-fatal messages parsing produces, each tagged with how
//! etcd 3.5 reports it, so oxcd's output and exit code match etcd's for the same mistake.

use std::fmt;
use std::panic::Location;

use super::log_config::LogConfig;
use crate::gotext::zap::{Field, Level, short_caller};

/// How etcd reports a configuration failure; [`crate::logging::report_config_error`] renders
/// each variant exactly as etcd does.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorReport {
    /// A Go `flag` package error (unknown flag, bad value, missing argument): the message and
    /// then the usage text on stderr, exit code 2.
    Usage,
    /// etcd logs `Running: ` and then a warning `failed to verify flags` carrying the error,
    /// and exits 1. `log` is the logging configuration etcd had already set up when the
    /// error was found (`None`: etcd's bootstrap logger, with epoch timestamps, on stderr).
    /// `advertise_unset` adds etcd's extra `advertise client URLs are not set` warning.
    VerifyFlags {
        /// The logger that reports the error, if logging was already configured.
        log: Option<LogConfig>,
        /// Whether this is etcd's missing `--advertise-client-urls` error.
        advertise_unset: bool,
    },
    /// A fatal line from etcd's flag-parsing logger (an `ETCD_*` variable shadowed by a
    /// command-line flag); exit code 1.
    FlagParsingFatal {
        /// The structured fields etcd attaches.
        fields: Vec<Field>,
    },
    /// A bare line on stderr (etcd's YAML URL errors), exit code 1.
    Stderr,
    /// A Go panic in etcd (`panic: <message>`), exit code 2.
    Panic,
    /// A startup failure after the configuration was accepted: etcd warns `failed to start
    /// etcd` and then logs fatal `discovery failed`, exit code 1. `log` is the configured
    /// logging, used when [`crate::logging::init`] has not run yet.
    StartFailed {
        /// The configured logging.
        log: Option<LogConfig>,
    },
}

/// A configuration error: etcd's message, how etcd reports it, and any notices produced
/// before it happened (they are logged first, as etcd logs them).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    message: String,
    report: ErrorReport,
    notices: Vec<Notice>,
}

impl ConfigError {
    /// An error reported the way `report` says.
    pub fn new(message: impl Into<String>, report: ErrorReport) -> ConfigError {
        ConfigError {
            message: message.into(),
            report,
            notices: Vec::new(),
        }
    }

    /// A Go flag-package error (exit code 2, usage printed).
    pub fn usage(message: impl Into<String>) -> ConfigError {
        ConfigError::new(message, ErrorReport::Usage)
    }

    /// An error etcd reports as `failed to verify flags`.
    pub fn verify(message: impl Into<String>, log: Option<LogConfig>) -> ConfigError {
        ConfigError::new(
            message,
            ErrorReport::VerifyFlags {
                log,
                advertise_unset: false,
            },
        )
    }

    /// A startup failure etcd reports as `failed to start etcd` / `discovery failed`.
    pub fn start_failed(message: impl Into<String>) -> ConfigError {
        ConfigError::new(message, ErrorReport::StartFailed { log: None })
    }

    /// Attaches notices that were produced before the error.
    pub fn with_notices(mut self, notices: Vec<Notice>) -> ConfigError {
        self.notices = notices;
        self
    }

    /// etcd's error text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How etcd reports this error.
    pub fn report(&self) -> &ErrorReport {
        &self.report
    }

    /// Notices to log before the error.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// The process exit code etcd uses for this error.
    pub fn exit_code(&self) -> i32 {
        match self.report {
            ErrorReport::Usage | ErrorReport::Panic => 2,
            ErrorReport::VerifyFlags { .. }
            | ErrorReport::FlagParsingFatal { .. }
            | ErrorReport::Stderr
            | ErrorReport::StartFailed { .. } => 1,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// When etcd writes a notice, which also decides the logger and so the line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeStage {
    /// While reading flags and `ETCD_*` variables, before logging is configured: etcd's
    /// bootstrap logger (epoch timestamps, stderr).
    FlagParsing,
    /// Once the configured logger exists, before the `Running: ` line.
    ConfigLoaded,
    /// After the `Running: ` line, with the configured logger.
    Startup,
}

/// A message etcd logs while reading its configuration (recognized or unrecognized
/// environment variables, defaults it filled in, values it adjusted).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// When (and so with which logger) etcd writes it.
    pub stage: NoticeStage,
    /// Its level.
    pub level: Level,
    /// The source location, `dir/file.rs:line`, shown as the zap `caller`.
    pub caller: String,
    /// The message.
    pub msg: String,
    /// Structured fields.
    pub fields: Vec<Field>,
}

impl Notice {
    /// A notice whose caller is the code that created it.
    #[track_caller]
    pub fn new(
        stage: NoticeStage,
        level: Level,
        msg: impl Into<String>,
        fields: Vec<Field>,
    ) -> Notice {
        let location = Location::caller();
        Notice {
            stage,
            level,
            caller: short_caller(location.file(), location.line()),
            msg: msg.into(),
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_etcd() {
        assert_eq!(ConfigError::usage("x").exit_code(), 2);
        assert_eq!(ConfigError::new("x", ErrorReport::Panic).exit_code(), 2);
        assert_eq!(ConfigError::verify("x", None).exit_code(), 1);
        assert_eq!(ConfigError::start_failed("x").exit_code(), 1);
        assert_eq!(ConfigError::new("x", ErrorReport::Stderr).exit_code(), 1);
    }

    #[test]
    fn notice_caller_points_at_the_creator() {
        let n = Notice::new(NoticeStage::Startup, Level::Warn, "m", Vec::new());
        assert!(n.caller.starts_with("config/error.rs:"), "{}", n.caller);
    }
}
