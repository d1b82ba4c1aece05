//! Go-compatible text formatting that etcdctl's output depends on: `text/tabwriter`,
//! `olekukonko/tablewriter`, `%q` quoting, `encoding/json` strings, durations and
//! `go-humanize` byte sizes.

pub mod go_duration;
pub mod go_json;
pub mod go_quote;
pub mod humanize;
pub mod table;
pub mod tabwriter;
