//! Go-compatible text formatting that etcdctl's output depends on: `text/tabwriter`,
//! `olekukonko/tablewriter` and `go-humanize` byte sizes. Quoting, durations and JSON are
//! [`oxcd_etcd_compat::gotext`], shared with the server.

pub mod humanize;
pub mod table;
pub mod tabwriter;
