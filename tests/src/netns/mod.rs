//! Network namespaces that stand in for separate machines: a [`NetnsLab`] gives each member
//! its own network stack and address on a private bridge, so members can use the same ports
//! (2379/2380) as on real hosts and links between them can be cut to make partitions.

pub(crate) mod command;
mod lab;

pub use command::{kill_processes_in, run, run_in};
pub use lab::{Host, NetnsLab};
