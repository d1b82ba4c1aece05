//! What a run sends: the workload of the chosen subcommand, turned into one ready request
//! per iteration and then sent by a [`Requester`] (a requester's clients on its connection,
//! plus the keep-alive stream of its lease for `lease-keepalive`, or its lease and lock name
//! for `lock`).

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::lease_client::LeaseClient;
use oxcd_api::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, PutRequest, RangeRequest,
    TxnRequest,
};
use rand::rngs::SmallRng;
use tokio::sync::mpsc;
use tonic::Streaming;

use crate::connections::BenchChannel;
use crate::lock::{Contender, LockWorkload};
use crate::mixed::{MixedRequest, MixedWorkload};
use crate::put::PutWorkload;
use crate::range::RangeWorkload;
use crate::txn_put::TxnPutWorkload;

/// The workload of one benchmark run.
#[derive(Clone, Debug)]
pub enum Workload {
    /// `put`
    Put(PutWorkload),
    /// `range`
    Range(RangeWorkload),
    /// `txn-put`
    TxnPut(TxnPutWorkload),
    /// `mixed`
    Mixed(MixedWorkload),
    /// `lease-grant`: grants of leases with this TTL.
    LeaseGrant(i64),
    /// `lease-keepalive`: keep-alives of one lease (of this TTL) per requester, on its stream.
    LeaseKeepAlive(i64),
    /// `lock`: acquire/release cycles, one contender (and lease) per requester.
    Lock(LockWorkload),
}

impl Workload {
    /// Builds request number `index` (outside the timed section of the run).
    pub fn prepare(&self, index: u64, rng: &mut SmallRng) -> PreparedRequest {
        match self {
            Self::Put(put) => PreparedRequest::Put(put.request(index, rng)),
            Self::Range(range) => PreparedRequest::Range(range.request()),
            Self::TxnPut(txn) => PreparedRequest::Txn(txn.request(index)),
            Self::Mixed(mixed) => match mixed.request(rng) {
                MixedRequest::Put(put) => PreparedRequest::Put(put),
                MixedRequest::Range(range) => PreparedRequest::Range(range),
            },
            Self::LeaseGrant(ttl) => {
                PreparedRequest::LeaseGrant(LeaseGrantRequest { ttl: *ttl, id: 0 })
            }
            Self::LeaseKeepAlive(_) => PreparedRequest::KeepAlive,
            Self::Lock(_) => PreparedRequest::LockCycle,
        }
    }
}

/// A requester's way to the server: its clients on one shared connection, and for
/// `lease-keepalive` its lease and that lease's keep-alive stream, for `lock` its contender.
pub struct Requester {
    channel: BenchChannel,
    kv: KvClient<BenchChannel>,
    lease: LeaseClient<BenchChannel>,
    keep_alive: Option<KeepAlive>,
    contender: Option<Contender>,
}

struct KeepAlive {
    id: i64,
    requests: mpsc::Sender<LeaseKeepAliveRequest>,
    responses: Streaming<LeaseKeepAliveResponse>,
}

impl Requester {
    /// A requester on `channel`.
    pub fn new(channel: BenchChannel) -> Self {
        Self {
            // A whole-keyspace range answers with hundreds of MB.
            kv: KvClient::new(channel.clone()).max_decoding_message_size(usize::MAX),
            lease: LeaseClient::new(channel.clone()),
            channel,
            keep_alive: None,
            contender: None,
        }
    }

    /// Prepares what `workload` needs before the clock starts, for requester number
    /// `requester`: for `lease-keepalive`, a lease and its keep-alive stream (etcd answers the
    /// stream's headers with its first response, so one keep-alive is sent and answered here);
    /// for `lock`, the contender's lease.
    pub async fn set_up(
        &mut self,
        workload: &Workload,
        requester: usize,
    ) -> Result<(), tonic::Status> {
        let ttl = match workload {
            Workload::LeaseKeepAlive(ttl) => ttl,
            Workload::Lock(lock) => {
                let contender = Contender::set_up(self.channel.clone(), lock, requester).await?;
                self.contender = Some(contender);
                return Ok(());
            }
            _ => return Ok(()),
        };
        let id = self
            .lease
            .lease_grant(LeaseGrantRequest { ttl: *ttl, id: 0 })
            .await?
            .into_inner()
            .id;
        let (requests, rx) = mpsc::channel(1);
        let _ = requests.send(LeaseKeepAliveRequest { id }).await;
        let mut responses = self
            .lease
            .lease_keep_alive(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await?
            .into_inner();
        responses.message().await?;
        self.keep_alive = Some(KeepAlive {
            id,
            requests,
            responses,
        });
        Ok(())
    }
}

/// A response timed as a whole: the runner records the call's own latency.
fn whole_call<T>(_: T) -> Option<std::time::Duration> {
    None
}

/// One request, built and ready to send.
#[derive(Clone, Debug, PartialEq)]
pub enum PreparedRequest {
    /// A `KV.Put`.
    Put(PutRequest),
    /// A `KV.Range`.
    Range(RangeRequest),
    /// A `KV.Txn`.
    Txn(TxnRequest),
    /// A `Lease.LeaseGrant`.
    LeaseGrant(LeaseGrantRequest),
    /// One keep-alive on the requester's stream.
    KeepAlive,
    /// A `Lock` of the requester's lock name and then an `Unlock` of it.
    LockCycle,
}

impl PreparedRequest {
    /// Sends the request and waits for its response, which is dropped unread. Answers the
    /// latency to record when it is not the whole call's (a lock cycle's is its acquire).
    pub async fn send(
        self,
        requester: &mut Requester,
    ) -> Result<Option<std::time::Duration>, tonic::Status> {
        let kv = &mut requester.kv;
        match self {
            Self::Put(request) => kv.put(request).await.map(whole_call),
            Self::Range(request) => kv.range(request).await.map(whole_call),
            Self::Txn(request) => kv.txn(request).await.map(whole_call),
            Self::LeaseGrant(request) => requester.lease.lease_grant(request).await.map(whole_call),
            Self::LockCycle => {
                let contender = requester
                    .contender
                    .as_mut()
                    .ok_or_else(|| tonic::Status::failed_precondition("no lock contender"))?;
                contender.cycle().await.map(Some)
            }
            Self::KeepAlive => {
                let stream = requester
                    .keep_alive
                    .as_mut()
                    .ok_or_else(|| tonic::Status::failed_precondition("no keep-alive stream"))?;
                let request = LeaseKeepAliveRequest { id: stream.id };
                if stream.requests.send(request).await.is_err() {
                    return Err(tonic::Status::unavailable("keep-alive stream closed"));
                }
                match stream.responses.message().await? {
                    Some(response) if response.ttl > 0 => Ok(None),
                    Some(_) => Err(tonic::Status::not_found("lease expired")),
                    None => Err(tonic::Status::unavailable("keep-alive stream ended")),
                }
            }
        }
    }
}
