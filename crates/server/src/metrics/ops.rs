//! Counting the storage operations an applied request performed, the way etcd's metered
//! transactions count them: every range (including each compare of a txn and the read behind a
//! `prev_kv`, `ignore_value` or `ignore_lease`), put and delete; a request touching the store
//! more than once counts as one txn.

use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, PutRequest, TxnRequest, TxnResponse, request_op, response_op,
};

use crate::apply::{Applied, ApplyResult};
use crate::proposal::Request;

/// Operations one applied request performed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpCounts {
    /// Reads.
    pub ranges: u64,
    /// Puts.
    pub puts: u64,
    /// Deletes.
    pub deletes: u64,
}

impl OpCounts {
    /// What `request` did, given what applying it produced; nothing for failed requests and
    /// for requests that do not touch keys.
    pub fn of(request: Option<&Request>, result: &ApplyResult) -> OpCounts {
        let mut counts = OpCounts::default();
        match (request, result) {
            (Some(Request::Put(req)), Ok(Applied::Put(_))) => counts.put(req),
            (Some(Request::DeleteRange(req)), Ok(Applied::DeleteRange(_))) => counts.delete(req),
            (Some(Request::Txn(req)), Ok(Applied::Txn(resp))) => counts.txn(req, resp),
            _ => {}
        }
        counts
    }

    /// Whether etcd would count this as a txn (more than one operation in one transaction).
    pub fn is_txn(&self) -> bool {
        self.ranges + self.puts + self.deletes > 1
    }

    fn put(&mut self, req: &PutRequest) {
        if req.prev_kv || req.ignore_value || req.ignore_lease {
            self.ranges += 1;
        }
        self.puts += 1;
    }

    fn delete(&mut self, req: &DeleteRangeRequest) {
        if req.prev_kv {
            self.ranges += 1;
        }
        self.deletes += 1;
    }

    fn txn(&mut self, req: &TxnRequest, resp: &TxnResponse) {
        self.ranges += req.compare.len() as u64;
        let branch = if resp.succeeded {
            &req.success
        } else {
            &req.failure
        };
        for (op, result) in branch.iter().zip(&resp.responses) {
            match (&op.request, &result.response) {
                (Some(request_op::Request::RequestRange(_)), _) => self.ranges += 1,
                (Some(request_op::Request::RequestPut(put)), _) => self.put(put),
                (Some(request_op::Request::RequestDeleteRange(del)), _) => self.delete(del),
                (
                    Some(request_op::Request::RequestTxn(inner)),
                    Some(response_op::Response::ResponseTxn(inner_resp)),
                ) => self.txn(inner, inner_resp),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use oxcd_api::etcdserverpb::{
        Compare, DeleteRangeResponse, PutResponse, RangeRequest, RequestOp, ResponseOp,
    };

    use super::*;

    fn op(request: request_op::Request) -> RequestOp {
        RequestOp {
            request: Some(request),
        }
    }

    fn answer(response: response_op::Response) -> ResponseOp {
        ResponseOp {
            response: Some(response),
        }
    }

    #[test]
    fn plain_put_and_delete() {
        let put = Request::Put(PutRequest::default());
        let counts = OpCounts::of(Some(&put), &Ok(Applied::Put(PutResponse::default())));
        assert_eq!(
            counts,
            OpCounts {
                puts: 1,
                ..Default::default()
            }
        );
        assert!(!counts.is_txn());

        let del = Request::DeleteRange(DeleteRangeRequest {
            prev_kv: true,
            ..Default::default()
        });
        let counts = OpCounts::of(
            Some(&del),
            &Ok(Applied::DeleteRange(DeleteRangeResponse::default())),
        );
        assert_eq!((counts.ranges, counts.deletes), (1, 1));
        assert!(counts.is_txn(), "etcd counts a read-then-delete as a txn");
    }

    #[test]
    fn failed_requests_count_nothing() {
        let put = Request::Put(PutRequest::default());
        let counts = OpCounts::of(Some(&put), &Err(oxcd_api::EtcdError::LeaseNotFound));
        assert_eq!(counts, OpCounts::default());
    }

    #[test]
    fn txn_counts_compares_and_the_taken_branch_recursively() {
        let nested = TxnRequest {
            compare: vec![Compare::default()],
            success: vec![op(request_op::Request::RequestPut(PutRequest::default()))],
            failure: vec![],
        };
        let req = TxnRequest {
            compare: vec![Compare::default(), Compare::default()],
            success: vec![],
            failure: vec![
                op(request_op::Request::RequestRange(RangeRequest::default())),
                op(request_op::Request::RequestTxn(nested)),
            ],
        };
        let resp = TxnResponse {
            succeeded: false,
            responses: vec![
                answer(response_op::Response::ResponseRange(Default::default())),
                answer(response_op::Response::ResponseTxn(TxnResponse {
                    succeeded: true,
                    responses: vec![answer(response_op::Response::ResponsePut(
                        PutResponse::default(),
                    ))],
                    ..Default::default()
                })),
            ],
            ..Default::default()
        };
        let counts = OpCounts::of(Some(&Request::Txn(req)), &Ok(Applied::Txn(resp)));
        assert_eq!((counts.ranges, counts.puts, counts.deletes), (4, 1, 0));
        assert!(counts.is_txn());
    }
}
