//! What a run sends: the workload of the chosen subcommand, turned into one ready request
//! per iteration and then sent on a KV client.

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::{PutRequest, RangeRequest, TxnRequest};
use rand::rngs::SmallRng;
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
}

impl Workload {
    /// Builds request number `index` (outside the timed section of the run).
    pub fn prepare(&self, index: u64, rng: &mut SmallRng) -> PreparedRequest {
        match self {
            Self::Put(put) => PreparedRequest::Put(put.request(index, rng)),
            Self::Range(range) => PreparedRequest::Range(range.request()),
            Self::TxnPut(txn) => PreparedRequest::Txn(txn.request(index)),
        }
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
}

impl PreparedRequest {
    /// Sends the request and waits for its response, which is dropped unread.
    pub async fn send(self, client: &mut KvClient<Channel>) -> Result<(), tonic::Status> {
        match self {
            Self::Put(request) => client.put(request).await.map(drop),
            Self::Range(request) => client.range(request).await.map(drop),
            Self::Txn(request) => client.txn(request).await.map(drop),
        }
    }
}
