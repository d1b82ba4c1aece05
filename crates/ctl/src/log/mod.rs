//! The JSON log lines etcdctl's zap loggers write to stderr, reproduced field for field; the
//! line format itself is [`oxcd_etcd_compat::gotext::zap`].

pub mod client_warnings;

use std::time::SystemTime;

use oxcd_etcd_compat::gotext::zap::{Field, Level, Line, TimeFormat, encode_line};

/// One zap line stamped now, without the trailing newline (callers print it with their own).
pub fn zap_line(
    level: Level,
    time: TimeFormat,
    logger: Option<&str>,
    caller: &str,
    msg: &str,
    fields: Vec<Field>,
) -> String {
    let line = Line {
        level,
        logger: logger.map(str::to_string),
        caller: Some(caller.to_string()),
        msg: msg.to_string(),
        fields,
    };
    let mut text = encode_line(&line, time, SystemTime::now());
    text.pop();
    text
}
