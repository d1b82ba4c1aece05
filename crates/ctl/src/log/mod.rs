//! The JSON log lines etcdctl's zap loggers write to stderr, reproduced field for field.

pub mod client_warnings;
pub mod zap_line;
