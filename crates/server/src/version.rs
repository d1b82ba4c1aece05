//! The versions this member reports to clients (`/version`, `Status`, `/metrics`). Clients gate
//! features on them, so we report the etcd release whose API we implement.

/// The server's version.
pub(crate) const SERVER_VERSION: &str = "3.5.1";
/// The cluster version.
pub(crate) const CLUSTER_VERSION: &str = "3.5.0";
