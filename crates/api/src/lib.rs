//! The etcd v3 wire protocol as Rust types: messages, gRPC clients and servers generated from
//! our own `.proto` files (package and field names and numbers match etcd exactly), and the
//! table of etcd's error statuses that clients map back to typed errors.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

pub mod codec;
pub mod error;
pub mod key_range;
pub mod queue;

/// Key-value pairs and watch events (`mvccpb`).
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
}

/// Users, roles and permissions (`authpb`).
pub mod authpb {
    tonic::include_proto!("authpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
}

/// The KV, Watch, Lease, Cluster, Maintenance and Auth services (`etcdserverpb`).
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
}

/// The distributed lock service (`v3lockpb`).
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.serde.rs"));
}

/// The leader election service (`v3electionpb`).
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.serde.rs"));
}

pub use error::EtcdError;
