//! What travels through raft: the internal request envelope (the role of etcd's
//! `InternalRaftRequest`), the generator of request ids that lets a proposer find its result,
//! and the [`Proposal`] kinds with the result type each one's proposer receives.
//!
//! The envelope is encoded with prost so entries stay compact and forward-compatible: new request
//! kinds get new oneof tags and old logs still decode.
//!
//! Each kind has its own [`WaitRegistry`] in [`Waiters`]: the apply step of a kind can only hand
//! its own output type to a proposer of the same kind, so no caller ever receives another
//! kind's result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmResponse, CompactionRequest, CompactionResponse, DeleteRangeRequest,
    DeleteRangeResponse, LeaseCheckpointRequest, LeaseGrantRequest, LeaseGrantResponse,
    LeaseRevokeRequest, LeaseRevokeResponse, Member, MemberUpdateRequest, PutRequest, PutResponse,
    TxnRequest, TxnResponse,
};
use oxcd_mvcc::CompactionDone;

use crate::auth::{AuthAnswer, AuthRequest, Caller};
use crate::wait::WaitRegistry;

/// One proposal: a request id unique across the cluster plus the request itself.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InternalRequest {
    /// Unique id; the proposing member waits on it.
    #[prost(uint64, tag = "1")]
    pub(crate) id: u64,
    /// The operation to apply.
    #[prost(oneof = "Request", tags = "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12")]
    pub(crate) request: Option<Request>,
    /// Who asked: every member checks the request against the caller's permissions when it
    /// applies it. An entry without one (written before oxcd had authentication) is checked
    /// as a client's without credentials.
    #[prost(message, optional, tag = "13")]
    pub(crate) caller: Option<Caller>,
}

/// Operations that change replicated state.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Request {
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
    /// Listing, raising or clearing an alarm (etcd serializes all three through the log).
    #[prost(message, tag = "10")]
    Alarm(AlarmRequest),
    /// New peer URLs for a member (etcd proposes this as a raft conf change of type
    /// UpdateNode, which raft-rs lacks; it changes no raft configuration, so it travels as an
    /// ordinary entry).
    #[prost(message, tag = "11")]
    MemberUpdate(MemberUpdateRequest),
    /// One of etcd's auth requests.
    #[prost(message, tag = "12")]
    Auth(AuthRequest),
}

impl Request {
    /// The request's kind as etcd's `etcd_server_apply_duration_seconds` names it.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Request::Put(_) => "Put",
            Request::DeleteRange(_) => "DeleteRange",
            Request::Txn(_) => "Txn",
            Request::Compaction(_) => "Compaction",
            Request::MemberAttributes(_) => "ClusterMemberAttrSet",
            Request::LeaseGrant(_) => "LeaseGrant",
            Request::LeaseRevoke(_) => "LeaseRevoke",
            Request::LeaseCheckpoint(_) => "LeaseCheckpoint",
            Request::Alarm(_) => "Alarm",
            Request::MemberUpdate(_) => "MemberUpdate",
            Request::Auth(auth) => auth.kind_name(),
        }
    }
}

/// What a membership conf change carries besides raft's own change: the proposer's request
/// id, and for an addition the member added (etcd's `ConfigChangeContext`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MemberChangeContext {
    /// Request id; the proposing member waits on it.
    #[prost(uint64, tag = "1")]
    pub(crate) id: u64,
    /// The member added (id, peer URLs, learner); for a promotion only its id.
    #[prost(message, optional, tag = "2")]
    pub(crate) member: Option<Member>,
    /// Whether an AddVoter change promotes a learner rather than adding a new member.
    #[prost(bool, tag = "3")]
    pub(crate) promote: bool,
}

/// The attributes a member publishes about itself once it runs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MemberAttributes {
    /// Member id.
    #[prost(uint64, tag = "1")]
    pub(crate) id: u64,
    /// `--name`.
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    /// `--advertise-client-urls`.
    #[prost(string, repeated, tag = "3")]
    pub(crate) client_urls: Vec<String>,
}

/// Generates request ids unique across members and restarts: the low 16 bits of the member id
/// in the top bits, then a counter seeded from the wall clock (like etcd's idutil), so two
/// members never collide and a restarted member does not reuse ids still waited on elsewhere.
pub(crate) struct RequestIds {
    prefix: u64,
    counter: AtomicU64,
}

impl RequestIds {
    /// A generator for the given member.
    pub(crate) fn new(member_id: u64) -> Self {
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
    pub(crate) fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        self.prefix | (n & 0xffff_ffff_ffff)
    }
}

/// What a proposer receives: the kind's output, or the etcd error applying it produced.
pub(crate) type Outcome<T> = Result<T, EtcdError>;

/// Something a member waits for through raft: the result type its proposer receives once
/// the entry carrying it is applied, and where such proposers wait.
pub(crate) trait Awaited: Sized + 'static {
    /// What applying the request produces for its proposer.
    type Output: Send + 'static;

    /// Where proposers of this kind wait.
    fn waiters(waiters: &Waiters) -> &WaitRegistry<Outcome<Self::Output>>;
}

/// A request kind a member proposes through raft as an ordinary entry.
pub(crate) trait Proposal: Awaited {
    /// The request as it travels in a raft entry.
    fn into_request(self) -> Request;
}

/// Proposers on this member waiting for their results, one registry per request kind.
#[derive(Default)]
pub(crate) struct Waiters {
    put: WaitRegistry<Outcome<PutResponse>>,
    delete_range: WaitRegistry<Outcome<DeleteRangeResponse>>,
    txn: WaitRegistry<Outcome<TxnResponse>>,
    compaction: WaitRegistry<Outcome<(CompactionResponse, CompactionDone)>>,
    member_attributes: WaitRegistry<Outcome<()>>,
    lease_grant: WaitRegistry<Outcome<LeaseGrantResponse>>,
    lease_revoke: WaitRegistry<Outcome<LeaseRevokeResponse>>,
    lease_checkpoint: WaitRegistry<Outcome<()>>,
    alarm: WaitRegistry<Outcome<AlarmResponse>>,
    member_update: WaitRegistry<Outcome<Vec<Member>>>,
    member_change: WaitRegistry<Outcome<Vec<Member>>>,
    auth: WaitRegistry<Outcome<AuthAnswer>>,
}

impl Waiters {
    /// Registers a proposer of kind `P` under `id`; the receiver yields its outcome.
    pub(crate) fn register<P: Awaited>(&self, id: u64) -> oneshot::Receiver<Outcome<P::Output>> {
        P::waiters(self).register(id)
    }

    /// The waiting proposer of kind `P` with `id`, if it is on this member and still waits.
    pub(crate) fn take<P: Awaited>(&self, id: u64) -> Option<oneshot::Sender<Outcome<P::Output>>> {
        P::waiters(self).take(id)
    }

    /// Forgets the proposer of kind `P` with `id` (it gave up).
    pub(crate) fn cancel<P: Awaited>(&self, id: u64) {
        P::waiters(self).cancel(id);
    }
}

/// Implements [`Proposal`] for a request kind: its oneof variant, output and registry.
macro_rules! proposal {
    ($request:ty, $variant:ident, $output:ty, $field:ident) => {
        impl Awaited for $request {
            type Output = $output;

            fn waiters(waiters: &Waiters) -> &WaitRegistry<Outcome<$output>> {
                &waiters.$field
            }
        }

        impl Proposal for $request {
            fn into_request(self) -> Request {
                Request::$variant(self)
            }
        }
    };
}

proposal!(PutRequest, Put, PutResponse, put);
proposal!(
    DeleteRangeRequest,
    DeleteRange,
    DeleteRangeResponse,
    delete_range
);
proposal!(TxnRequest, Txn, TxnResponse, txn);
proposal!(
    CompactionRequest,
    Compaction,
    (CompactionResponse, CompactionDone),
    compaction
);
proposal!(MemberAttributes, MemberAttributes, (), member_attributes);
proposal!(
    LeaseGrantRequest,
    LeaseGrant,
    LeaseGrantResponse,
    lease_grant
);
proposal!(
    LeaseRevokeRequest,
    LeaseRevoke,
    LeaseRevokeResponse,
    lease_revoke
);
proposal!(
    LeaseCheckpointRequest,
    LeaseCheckpoint,
    (),
    lease_checkpoint
);
proposal!(AlarmRequest, Alarm, AlarmResponse, alarm);
proposal!(
    MemberUpdateRequest,
    MemberUpdate,
    Vec<Member>,
    member_update
);

proposal!(AuthRequest, Auth, AuthAnswer, auth);

impl Awaited for MemberChangeContext {
    type Output = Vec<Member>;

    fn waiters(waiters: &Waiters) -> &WaitRegistry<Outcome<Vec<Member>>> {
        &waiters.member_change
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
            caller: Some(Caller::user("alice".into(), 3)),
        };
        let decoded = InternalRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, req);
    }

    #[tokio::test]
    async fn an_outcome_reaches_only_a_proposer_of_its_kind() {
        let waiters = Waiters::default();
        let put = waiters.register::<PutRequest>(9);
        assert!(
            waiters.take::<TxnRequest>(9).is_none(),
            "another kind's id space"
        );
        let proposer = waiters.take::<PutRequest>(9).expect("the put proposer");
        proposer.send(Ok(PutResponse::default())).unwrap();
        assert_eq!(put.await.unwrap(), Ok(PutResponse::default()));
    }
}
