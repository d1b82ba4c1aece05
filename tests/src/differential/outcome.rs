//! What a server answered to one [`KvOp`], in a form two servers' answers can be compared in:
//! the whole response message with the member-specific header fields (cluster ID, member ID,
//! raft term) zeroed at every nesting level, or the gRPC status code and message.

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::response_op::Response;
use oxcd_api::etcdserverpb::{
    CompactionResponse, DeleteRangeResponse, PutResponse, RangeResponse, ResponseHeader,
    TxnResponse,
};
use tonic::transport::Channel;

use oxcd_testkit::kv_op::KvOp;

/// A server's answer, normalized for comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum KvOutcome {
    /// `KV.Range` succeeded.
    Range(RangeResponse),
    /// `KV.Put` succeeded.
    Put(PutResponse),
    /// `KV.DeleteRange` succeeded.
    DeleteRange(DeleteRangeResponse),
    /// `KV.Txn` succeeded.
    Txn(TxnResponse),
    /// `KV.Compact` succeeded.
    Compact(CompactionResponse),
    /// The call failed with this gRPC status.
    Error {
        /// Status code.
        code: tonic::Code,
        /// Status message, e.g. `etcdserver: key is not provided`.
        message: String,
    },
}

impl KvOutcome {
    /// Sends `op` through `kv` and normalizes the answer.
    pub async fn of(op: &KvOp, kv: &mut KvClient<Channel>) -> KvOutcome {
        let result = match op.clone() {
            KvOp::Range(request) => kv
                .range(request)
                .await
                .map(|r| KvOutcome::Range(r.into_inner())),
            KvOp::Put(request) => kv
                .put(request)
                .await
                .map(|r| KvOutcome::Put(r.into_inner())),
            KvOp::DeleteRange(request) => kv
                .delete_range(request)
                .await
                .map(|r| KvOutcome::DeleteRange(r.into_inner())),
            KvOp::Txn(request) => kv
                .txn(request)
                .await
                .map(|r| KvOutcome::Txn(r.into_inner())),
            KvOp::Compact(request) => kv
                .compact(request)
                .await
                .map(|r| KvOutcome::Compact(r.into_inner())),
        };
        let mut outcome = result.unwrap_or_else(|status| KvOutcome::Error {
            code: status.code(),
            message: status.message().to_owned(),
        });
        outcome.normalize();
        outcome
    }

    /// The store revision in the response header (`None` for errors).
    pub fn revision(&self) -> Option<i64> {
        let header = match self {
            KvOutcome::Range(r) => r.header.as_ref(),
            KvOutcome::Put(r) => r.header.as_ref(),
            KvOutcome::DeleteRange(r) => r.header.as_ref(),
            KvOutcome::Txn(r) => r.header.as_ref(),
            KvOutcome::Compact(r) => r.header.as_ref(),
            KvOutcome::Error { .. } => None,
        };
        header.map(|h| h.revision)
    }

    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        !matches!(self, KvOutcome::Error { .. })
    }

    fn normalize(&mut self) {
        match self {
            KvOutcome::Range(r) => normalize_header(&mut r.header),
            KvOutcome::Put(r) => normalize_header(&mut r.header),
            KvOutcome::DeleteRange(r) => normalize_header(&mut r.header),
            KvOutcome::Txn(r) => normalize_txn(r),
            KvOutcome::Compact(r) => normalize_header(&mut r.header),
            KvOutcome::Error { .. } => {}
        }
    }
}

/// Zeroes the fields that differ between two independent clusters holding the same data.
fn normalize_header(header: &mut Option<ResponseHeader>) {
    if let Some(header) = header {
        header.cluster_id = 0;
        header.member_id = 0;
        header.raft_term = 0;
    }
}

fn normalize_txn(response: &mut TxnResponse) {
    normalize_header(&mut response.header);
    for op in &mut response.responses {
        match &mut op.response {
            Some(Response::ResponseRange(r)) => normalize_header(&mut r.header),
            Some(Response::ResponsePut(r)) => normalize_header(&mut r.header),
            Some(Response::ResponseDeleteRange(r)) => normalize_header(&mut r.header),
            Some(Response::ResponseTxn(r)) => normalize_txn(r),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use oxcd_api::etcdserverpb::ResponseOp;

    use super::*;

    fn header(member: u64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: member * 10,
            member_id: member,
            revision: 5,
            raft_term: member + 1,
        })
    }

    fn nested_txn(member: u64) -> KvOutcome {
        KvOutcome::Txn(TxnResponse {
            header: header(member),
            succeeded: true,
            responses: vec![ResponseOp {
                response: Some(Response::ResponseTxn(TxnResponse {
                    header: header(member),
                    succeeded: false,
                    responses: vec![ResponseOp {
                        response: Some(Response::ResponsePut(PutResponse {
                            header: header(member),
                            prev_kv: None,
                        })),
                    }],
                })),
            }],
        })
    }

    #[test]
    fn member_specific_fields_are_zeroed_at_every_level_but_revisions_kept() {
        let mut a = nested_txn(1);
        let mut b = nested_txn(2);
        assert_ne!(a, b);
        a.normalize();
        b.normalize();
        assert_eq!(a, b);
        assert_eq!(a.revision(), Some(5));
    }

    #[test]
    fn different_revisions_still_differ() {
        let mut a = KvOutcome::Put(PutResponse {
            header: header(1),
            prev_kv: None,
        });
        let mut b = a.clone();
        if let KvOutcome::Put(r) = &mut b {
            r.header.as_mut().unwrap().revision = 6;
        }
        a.normalize();
        b.normalize();
        assert_ne!(a, b);
    }
}
