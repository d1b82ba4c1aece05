//! The resolved `--logger zap`, `--log-level` and `--log-outputs` settings that config
//! validation produces and [`crate::logging::init`] consumes.

use std::path::PathBuf;

use crate::gotext::zap::Level;

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
