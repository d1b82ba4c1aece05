//! Applying KV requests: put, delete-range, txn and compaction, each in the batch's one backend
//! transaction, counted the way etcd's metered transactions count them.

use oxcd_api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_mvcc::CompactionDone;

use super::step::{Apply, ApplyContext, ApplyError};
use crate::metrics::OpCounts;
use crate::proposal::Outcome;

/// Records the store revision right after the request in its response header, unless the store
/// already did: later requests in the batch move the revision on.
fn stamp_revision(header: &mut Option<ResponseHeader>, cx: &ApplyContext<'_, '_>) {
    header.get_or_insert_with(|| cx.header());
}

impl Apply for PutRequest {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<PutResponse>, ApplyError> {
        let lessor = cx.state.lessor();
        let outcome = cx.batch.put(self, &|lease| lessor.contains(lease));
        Ok(outcome.map(|mut resp| {
            stamp_revision(&mut resp.header, cx);
            cx.metrics.record_ops(OpCounts::put(self));
            resp
        }))
    }
}

impl Apply for DeleteRangeRequest {
    fn apply(
        &self,
        cx: &mut ApplyContext<'_, '_>,
    ) -> Result<Outcome<DeleteRangeResponse>, ApplyError> {
        let outcome = cx.batch.delete_range(self);
        Ok(outcome.map(|mut resp| {
            stamp_revision(&mut resp.header, cx);
            cx.metrics.record_ops(OpCounts::delete_range(self));
            resp
        }))
    }
}

impl Apply for TxnRequest {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<TxnResponse>, ApplyError> {
        let lessor = cx.state.lessor();
        let outcome = cx.batch.txn(self, &|lease| lessor.contains(lease));
        Ok(outcome.map(|mut resp| {
            stamp_revision(&mut resp.header, cx);
            cx.metrics.record_ops(OpCounts::txn(self, &resp));
            resp
        }))
    }
}

impl Apply for CompactionRequest {
    fn apply(
        &self,
        cx: &mut ApplyContext<'_, '_>,
    ) -> Result<Outcome<(CompactionResponse, CompactionDone)>, ApplyError> {
        let outcome = cx.batch.compact(self.revision);
        Ok(outcome.map(|done| {
            let resp = CompactionResponse {
                header: Some(cx.header()),
            };
            (resp, done)
        }))
    }
}

#[cfg(test)]
mod tests {
    use oxcd_api::EtcdError;

    use super::*;
    use crate::metrics::{OpCounts, ServerMetrics};
    use crate::state::ServerState;

    #[test]
    fn only_requests_that_succeed_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let state = ServerState::bootstrapped_for_test(&dir.path().join("db"));
        let metrics = ServerMetrics::default();
        let kv = state.kv();
        let mut batch = kv.begin_apply().unwrap();
        let mut cx = ApplyContext {
            batch: &mut batch,
            index: 1,
            state: &state,
            metrics: &metrics,
        };
        let orphan = PutRequest {
            key: b"k".to_vec(),
            lease: 99,
            ..Default::default()
        };
        let refused = orphan.apply(&mut cx).unwrap();
        assert_eq!(refused.unwrap_err(), EtcdError::LeaseNotFound);
        assert_eq!(metrics.ops(), OpCounts::default());

        let put = PutRequest {
            key: b"k".to_vec(),
            ..Default::default()
        };
        let resp = put.apply(&mut cx).unwrap().unwrap();
        assert_eq!(resp.header.unwrap().revision, 2);
        assert_eq!(metrics.ops(), OpCounts::put(&put));
    }
}
