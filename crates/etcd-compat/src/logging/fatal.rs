//! etcd's fatal exits: a `fatal` zap line on the process logger, synced, then exit.

use super::loggers::{here, with_process_loggers};
use crate::gotext::zap::{Field, Level};

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
