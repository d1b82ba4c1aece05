//! What a run sends: the workload of the chosen subcommand, turned into one ready request
//! per iteration and then sent by a [`Requester`] (a requester's clients on its connection,
//! plus the keep-alive stream of its lease for `lease-keepalive`).

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::lease_client::LeaseClient;
use oxcd_api::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, PutRequest, RangeRequest,
    TxnRequest,
};
use rand::rngs::SmallRng;
use tokio::sync::mpsc;
use tonic::Streaming;
use tonic::transport::Channel;

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
    /// `lease-grant`: grants of leases with this TTL.
    LeaseGrant(i64),
    /// `lease-keepalive`: keep-alives of one lease (of this TTL) per requester, on its stream.
    LeaseKeepAlive(i64),
}

impl Workload {
    /// Builds request number `index` (outside the timed section of the run).
    pub fn prepare(&self, index: u64, rng: &mut SmallRng) -> PreparedRequest {
        match self {
            Self::Put(put) => PreparedRequest::Put(put.request(index, rng)),
            Self::Range(range) => PreparedRequest::Range(range.request()),
            Self::TxnPut(txn) => PreparedRequest::Txn(txn.request(index)),
            Self::LeaseGrant(ttl) => {
                PreparedRequest::LeaseGrant(LeaseGrantRequest { ttl: *ttl, id: 0 })
            }
            Self::LeaseKeepAlive(_) => PreparedRequest::KeepAlive,
        }
    }
}

/// A requester's way to the server: its clients on one shared connection, and for
/// `lease-keepalive` its lease and that lease's keep-alive stream.
pub struct Requester {
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    keep_alive: Option<KeepAlive>,
}

struct KeepAlive {
    id: i64,
    requests: mpsc::Sender<LeaseKeepAliveRequest>,
    responses: Streaming<LeaseKeepAliveResponse>,
}

impl Requester {
    /// A requester on `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            kv: KvClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
            keep_alive: None,
        }
    }

    /// Prepares what `workload` needs before the clock starts: for `lease-keepalive`, a lease
    /// and its keep-alive stream (etcd answers the stream's headers with its first response,
    /// so one keep-alive is sent and answered here).
    pub async fn set_up(&mut self, workload: &Workload) -> Result<(), tonic::Status> {
        let Workload::LeaseKeepAlive(ttl) = workload else {
            return Ok(());
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
}

impl PreparedRequest {
    /// Sends the request and waits for its response, which is dropped unread.
    pub async fn send(self, requester: &mut Requester) -> Result<(), tonic::Status> {
        let kv = &mut requester.kv;
        match self {
            Self::Put(request) => kv.put(request).await.map(drop),
            Self::Range(request) => kv.range(request).await.map(drop),
            Self::Txn(request) => kv.txn(request).await.map(drop),
            Self::LeaseGrant(request) => requester.lease.lease_grant(request).await.map(drop),
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
                    Some(response) if response.ttl > 0 => Ok(()),
                    Some(_) => Err(tonic::Status::not_found("lease expired")),
                    None => Err(tonic::Status::unavailable("keep-alive stream ended")),
                }
            }
        }
    }
}
