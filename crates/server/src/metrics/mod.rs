//! Prometheus metrics under etcd 3.5's names, types, help strings and labels; `crate::http`
//! serves them as `GET /metrics`.
//!
//! Counters the server updates live in [`ServerMetrics`] (`counters.rs`); raft keeps its own in
//! [`oxcd_raft::RaftMetrics`]; everything that is a view of existing state (leadership, indexes,
//! revisions, database size, process stats) is gathered into a [`Snapshot`] when scraped. The
//! registry is our own rather than the `prometheus` crate: the set of metrics is fixed, so slots
//! resolved at compile time keep the hot path lock-free and allocation-free (the crate looks
//! label values up in a locked map), and owning the writer lets the text match Go's byte for
//! byte.
//!
//! Nothing here knows the server or the apply loop: they hand their counts in (the apply path
//! as [`OpCounts`]), and the scrape gets its state handed in as a [`Snapshot`].

mod counters;
mod gauge_guard;
mod grpc;
mod ops;
pub(crate) mod process;
mod scrape;
mod store_metrics;
mod text;
mod watch_lease;

pub(crate) use counters::{SLOW_APPLY, ServerMetrics};
pub(crate) use grpc::GrpcMetricsLayer;
pub(crate) use ops::OpCounts;
pub(crate) use scrape::{Snapshot, render};
pub(crate) use text::CONTENT_TYPE;
