//! What etcd logs between a successful parse and a running server: the configuration
//! notices, `Running: ` with the process arguments, and a failed start.

use std::fmt;
#[cfg(test)]
use std::sync::{Arc, Mutex};

#[cfg(test)]
use super::loggers::Loggers;
use super::loggers::with_process_loggers;
#[cfg(test)]
use super::sink::Sink;
#[cfg(test)]
use crate::config::LogConfig;
use crate::config::Notice;
#[cfg(test)]
use crate::gotext::zap::{Level, TimeFormat};

/// Logs what etcd logs between a successful parse and server start: the flag-parsing
/// notices (bootstrap logger), the config-file notice, `Running: ` with the process
/// arguments, then the startup notices (such as the defaulted data directory). Call it
/// right after [`super::init`].
pub fn log_startup(args: &[String], notices: &[Notice]) {
    with_process_loggers(|loggers| loggers.startup(args, notices));
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

/// Renders what [`log_startup`] writes for a configuration logging with `log`, capturing
/// both loggers' lines in order.
#[cfg(test)]
pub(crate) fn render_startup(args: &[String], notices: &[Notice], log: &LogConfig) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let memory = |level: Level, time: TimeFormat| Sink::memory(level, time, &buffer);
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
