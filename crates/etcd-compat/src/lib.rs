//! etcd's operator-facing surface, reproduced exactly: what an operator types and reads.
//!
//! - [`config`]: etcd 3.5.1's flags, `ETCD_*` variables and YAML config file — names, defaults,
//!   precedence, validation, `--help`/`--version` text and error messages — producing a plain
//!   [`config::ServerConfig`].
//! - [`logging`]: zap-format logging through `tracing`, etcd's configuration-error reports,
//!   startup lines and fatal exits.
//! - [`gotext`]: text as Go prints it (`%q`, `time.Duration`, `strconv`, `encoding/json`, zap
//!   lines), one implementation for every binary.
//!
//! Used by `oxcd` (the server binary: parsing, logging, fatal exits) and by `oxctl` (Go text
//! and zap lines in etcdctl's output).

#![warn(unreachable_pub)]

pub mod config;
pub mod gotext;
pub mod logging;
