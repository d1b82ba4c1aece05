//! What travels through raft: the internal request envelope (the role of etcd's
//! `InternalRaftRequest`) and the generator of request ids that lets a proposer find its result.
//!
//! The envelope is encoded with prost so entries stay compact and forward-compatible: new request
//! kinds get new oneof tags and old logs still decode.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use oxcd_api::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, LeaseCheckpointRequest, LeaseGrantRequest,
    LeaseRevokeRequest, PutRequest, TxnRequest,
};

/// One proposal: a request id unique across the cluster plus the request itself.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InternalRequest {
    /// Unique id; the proposing member waits on it.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The operation to apply.
    #[prost(oneof = "Request", tags = "2, 3, 4, 5, 6, 7, 8, 9")]
    pub request: Option<Request>,
}

/// Operations that change replicated state.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Request {
    /// KV put.
    #[prost(message, tag = "2")]
    Put(PutRequest),
    /// KV delete of a key or range.
    #[prost(message, tag = "3")]
    DeleteRange(DeleteRangeRequest),
    /// KV transaction (including read-only ones, which are serialized through the log).
    #[prost(message, tag = "4")]
    Txn(TxnRequest),
    /// KV compaction.
    #[prost(message, tag = "5")]
    Compaction(CompactionRequest),
    /// A member announcing its name and client URLs after start (etcd's "publish").
    #[prost(message, tag = "6")]
    MemberAttributes(MemberAttributes),
    /// Grant of a lease; the proposer has chosen its id.
    #[prost(message, tag = "7")]
    LeaseGrant(LeaseGrantRequest),
    /// Revocation of a lease and deletion of its keys (by a client or by the expiring leader).
    #[prost(message, tag = "8")]
    LeaseRevoke(LeaseRevokeRequest),
    /// The leader recording leases' remaining TTLs.
    #[prost(message, tag = "9")]
    LeaseCheckpoint(LeaseCheckpointRequest),
}

/// The attributes a member publishes about itself once it runs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberAttributes {
    /// Member id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// `--name`.
    #[prost(string, tag = "2")]
    pub name: String,
    /// `--advertise-client-urls`.
    #[prost(string, repeated, tag = "3")]
    pub client_urls: Vec<String>,
}

/// Generates request ids unique across members and restarts: the low 16 bits of the member id
/// in the top bits, then a counter seeded from the wall clock (like etcd's idutil), so two
/// members never collide and a restarted member does not reuse ids still waited on elsewhere.
pub struct RequestIds {
    prefix: u64,
    counter: AtomicU64,
}

impl RequestIds {
    /// A generator for the given member.
    pub fn new(member_id: u64) -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        RequestIds {
            prefix: (member_id & 0xffff) << 48,
            counter: AtomicU64::new((millis & 0xff_ffff_ffff) << 8),
        }
    }

    /// The next id.
    pub fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        self.prefix | (n & 0xffff_ffff_ffff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn ids_are_unique_and_carry_the_member() {
        let ids = RequestIds::new(0x8e9e_05c5_2164_694d);
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        assert_eq!(a >> 48, 0x694d);
    }

    #[test]
    fn envelope_round_trips() {
        let req = InternalRequest {
            id: 7,
            request: Some(Request::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            })),
        };
        let decoded = InternalRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, req);
    }
}
