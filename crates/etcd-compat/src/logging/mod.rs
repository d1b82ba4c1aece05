//! Logging in etcd 3.5's format: one zap JSON object per line (see [`crate::gotext::zap`]),
//! written to every `--log-outputs` target and filtered by `--log-level` (a
//! [`crate::config::LogConfig`]).
//!
//! [`init`] installs a `tracing` subscriber whose layer writes zap lines, so the rest of oxcd
//! logs with ordinary `tracing` macros. Field names may be etcd's dashed names
//! (`tracing::info!("local-member-id" = %id, "starting etcd server")`); a `logger` field
//! becomes zap's logger name; [`strings`] logs a JSON array, and a duration is logged in Go's
//! text with [`crate::gotext::duration::format`]. Configuration failures and startup lines are rendered exactly as etcd does
//! ([`report_config_error`], [`log_startup`], [`report_start_failure`]), and so are etcd's
//! fatal exits ([`fatal`]).
//!
//! The files, by concern: `sink` (outputs and the process-wide
//! sink), `layer` (`tracing` events to zap lines, [`init`]), `loggers` (etcd's bootstrap and
//! configured loggers), `startup`, `config_errors` and `fatal` (what etcd writes at those
//! moments).

mod config_errors;
mod fatal;
mod layer;
mod loggers;
mod sink;
mod startup;

pub use config_errors::report_config_error;
pub use fatal::{fatal, fatal_with_code};
pub use layer::{JsonStrings, LoggingGuard, init, strings};
pub use sink::LoggingError;
pub use startup::{log_startup, report_start_failure};

pub use crate::gotext::zap::Field;

#[cfg(test)]
pub(crate) use config_errors::render_config_error;
#[cfg(test)]
pub(crate) use layer::ZapLayer;
#[cfg(test)]
pub(crate) use startup::render_startup;

#[cfg(test)]
mod tests;
