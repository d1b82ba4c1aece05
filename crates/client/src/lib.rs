//! Async etcd v3 client (being built).
