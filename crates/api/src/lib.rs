//! The etcd v3 wire protocol as Rust types: messages, gRPC clients and servers generated from
//! our own `.proto` files (package and field names and numbers match etcd exactly), and the
//! table of etcd's error statuses that clients map back to typed errors.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

pub mod error;
pub mod key_range;
pub mod queue;

/// Key-value pairs and watch events (`mvccpb`).
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// Users, roles and permissions (`authpb`).
pub mod authpb {
    tonic::include_proto!("authpb");
}

/// The KV, Watch, Lease, Cluster, Maintenance and Auth services (`etcdserverpb`).
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// The distributed lock service (`v3lockpb`).
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
}

/// The leader election service (`v3electionpb`).
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
}

pub use error::EtcdError;
