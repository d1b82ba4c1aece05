//! Counting the storage operations an applied request performed, the way etcd's metered
//! transactions count them: every range (including each compare of a txn and the read behind a
//! `prev_kv`, `ignore_value` or `ignore_lease`), put and delete; a request touching the store
//! more than once counts as one txn. The apply path counts only requests that succeeded.

use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, PutRequest, TxnRequest, TxnResponse, request_op, response_op,
};

/// Operations one applied request performed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpCounts {
    /// Reads.
    pub(crate) ranges: u64,
    /// Puts.
    pub(crate) puts: u64,
    /// Deletes.
    pub(crate) deletes: u64,
}

impl OpCounts {
    /// What an applied put did.
    pub(crate) fn put(req: &PutRequest) -> OpCounts {
        let mut counts = OpCounts::default();
        counts.add_put(req);
        counts
    }

    /// What an applied delete did.
    pub(crate) fn delete_range(req: &DeleteRangeRequest) -> OpCounts {
        let mut counts = OpCounts::default();
        counts.add_delete(req);
        counts
    }

    /// What an applied txn did: its compares and the branch `resp` says was taken.
    pub(crate) fn txn(req: &TxnRequest, resp: &TxnResponse) -> OpCounts {
        let mut counts = OpCounts::default();
        counts.add_txn(req, resp);
        counts
    }

    /// Whether etcd would count this as a txn (more than one operation in one transaction).
    pub(crate) fn is_txn(&self) -> bool {
        self.ranges + self.puts + self.deletes > 1
    }

    fn add_put(&mut self, req: &PutRequest) {
        if req.prev_kv || req.ignore_value || req.ignore_lease {
            self.ranges += 1;
        }
        self.puts += 1;
    }

    fn add_delete(&mut self, req: &DeleteRangeRequest) {
        if req.prev_kv {
            self.ranges += 1;
        }
        self.deletes += 1;
    }

    fn add_txn(&mut self, req: &TxnRequest, resp: &TxnResponse) {
        self.ranges += req.compare.len() as u64;
        let branch = if resp.succeeded {
            &req.success
        } else {
            &req.failure
        };
        for (op, result) in branch.iter().zip(&resp.responses) {
            match (&op.request, &result.response) {
                (Some(request_op::Request::RequestRange(_)), _) => self.ranges += 1,
                (Some(request_op::Request::RequestPut(put)), _) => self.add_put(put),
                (Some(request_op::Request::RequestDeleteRange(del)), _) => self.add_delete(del),
                (
                    Some(request_op::Request::RequestTxn(inner)),
                    Some(response_op::Response::ResponseTxn(inner_resp)),
                ) => self.add_txn(inner, inner_resp),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use oxcd_api::etcdserverpb::{Compare, PutResponse, RangeRequest, RequestOp, ResponseOp};

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
        let counts = OpCounts::put(&PutRequest::default());
        assert_eq!(
            counts,
            OpCounts {
                puts: 1,
                ..Default::default()
            }
        );
        assert!(!counts.is_txn());

        let counts = OpCounts::delete_range(&DeleteRangeRequest {
            prev_kv: true,
            ..Default::default()
        });
        assert_eq!((counts.ranges, counts.deletes), (1, 1));
        assert!(counts.is_txn(), "etcd counts a read-then-delete as a txn");
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
        let counts = OpCounts::txn(&req, &resp);
        assert_eq!((counts.ranges, counts.puts, counts.deletes), (4, 1, 0));
        assert!(counts.is_txn());
    }
}
