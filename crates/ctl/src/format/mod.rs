//! Go-compatible text formatting that etcdctl's output depends on: `text/tabwriter` and
//! `olekukonko/tablewriter`. Quoting, durations, JSON and byte sizes are
//! [`oxcd_etcd_compat::gotext`], shared with the server.

pub mod table;
pub mod tabwriter;
