//! Text exactly as Go programs print it, shared by `oxcd` (etcd's flags, messages and logs) and
//! `oxctl` (etcdctl's output): `%q` quoting, `time.Duration` parsing and printing, `strconv`
//! numbers, `go-humanize` byte sizes, `encoding/json` output, zap log lines and OS error texts.

pub mod duration;
pub mod humanize;
pub mod io_error;
pub mod json;
pub mod quote;
pub(crate) mod strconv;
pub mod zap;
