//! oxutl's log lines on stderr: what etcdutl logs while it works (restoring, defragmenting),
//! as zap JSON lines.

use std::time::SystemTime;

use oxcd_etcd_compat::gotext::zap::{Field, Level, Line, TimeFormat, encode_line};

/// Writes one info line.
pub fn info(msg: &str, fields: Vec<Field>) {
    let line = Line {
        level: Level::Info,
        logger: None,
        caller: None,
        msg: msg.to_owned(),
        fields,
    };
    eprint!(
        "{}",
        encode_line(&line, TimeFormat::Iso8601, SystemTime::now())
    );
}
