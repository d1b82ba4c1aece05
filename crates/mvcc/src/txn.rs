//! Txn requests as etcd 3.5.1 applies them: compares choose a branch (recursively for nested
//! txns), then every put in the chosen branches is checked (key must exist for ignore_value /
//! ignore_lease, lease must exist), then every range (revision not future, not compacted); only
//! if all checks pass are the operations executed, in order.

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::request_op::Request;
use oxcd_api::etcdserverpb::response_op::Response;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RequestOp, ResponseHeader,
    ResponseOp, TxnRequest, TxnResponse,
};

use crate::compare;
use crate::index::KeySpan;
use crate::range;
use crate::view::{ReadError, StoreView};

/// A view that can also write (the apply batch).
pub(crate) trait TxnOps: StoreView {
    /// Applies a put inside the current request.
    fn put(&mut self, req: &PutRequest) -> Result<PutResponse, ReadError>;
    /// Applies a delete inside the current request.
    fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse, ReadError>;
}

/// The branch each (nested) txn takes, decided before anything executes.
pub(crate) struct Path {
    succeeded: bool,
    /// One entry per nested txn in the chosen branch, in order.
    nested: Vec<Path>,
}

impl Path {
    fn ops<'r>(&self, req: &'r TxnRequest) -> &'r [RequestOp] {
        if self.succeeded {
            &req.success
        } else {
            &req.failure
        }
    }
}

/// Evaluates the compares of `req` and of the nested txns in the chosen branches.
pub(crate) fn choose_path(view: &mut impl StoreView, req: &TxnRequest) -> Result<Path, ReadError> {
    let succeeded = compare::all_hold(view, &req.compare)?;
    let mut path = Path {
        succeeded,
        nested: Vec::new(),
    };
    for op in path.ops(req) {
        if let Some(Request::RequestTxn(inner)) = &op.request {
            path.nested.push(choose_path(view, inner)?);
        }
    }
    Ok(path)
}

/// Calls `check` on every non-txn operation along `path`, depth first.
fn check_ops(
    req: &TxnRequest,
    path: &Path,
    check: &mut dyn FnMut(&RequestOp) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let mut nested = path.nested.iter();
    for op in path.ops(req) {
        match &op.request {
            Some(Request::RequestTxn(inner)) => {
                if let Some(p) = nested.next() {
                    check_ops(inner, p, check)?;
                }
            }
            _ => check(op)?,
        }
    }
    Ok(())
}

/// The checks etcd makes before executing a txn: puts first, then ranges.
pub(crate) fn check(
    view: &mut impl StoreView,
    req: &TxnRequest,
    path: &Path,
    lease_exists: &dyn Fn(i64) -> bool,
) -> Result<(), ReadError> {
    check_ops(req, path, &mut |op| {
        let Some(Request::RequestPut(put)) = &op.request else {
            return Ok(());
        };
        if put.ignore_value || put.ignore_lease {
            let mut found = Vec::new();
            let at = view.current_rev();
            if view.scan(KeySpan::Single(&put.key), at, 0, &mut found)? == 0 {
                return Err(EtcdError::KeyNotFound.into());
            }
        }
        if put.lease != 0 && !lease_exists(put.lease) {
            return Err(EtcdError::LeaseNotFound.into());
        }
        Ok(())
    })?;
    check_ranges(view, req, path)
}

/// The range checks alone (all a read-only txn needs).
pub(crate) fn check_ranges(
    view: &mut impl StoreView,
    req: &TxnRequest,
    path: &Path,
) -> Result<(), ReadError> {
    let (current, compacted) = (view.current_rev(), view.compact_rev());
    check_ops(req, path, &mut |op| {
        let Some(Request::RequestRange(range)) = &op.request else {
            return Ok(());
        };
        if range.revision == 0 {
            Ok(())
        } else if range.revision > current {
            Err(EtcdError::FutureRev.into())
        } else if range.revision < compacted {
            Err(EtcdError::Compacted.into())
        } else {
            Ok(())
        }
    })
}

/// Executes the operations along `path`. The header of the returned response is empty; the
/// caller sets the top-level revision (nested txn responses keep an empty header, as in etcd).
pub(crate) fn execute(
    ops: &mut impl TxnOps,
    req: &TxnRequest,
    path: &Path,
) -> Result<TxnResponse, ReadError> {
    let chosen = path.ops(req);
    let mut responses = Vec::with_capacity(chosen.len());
    let mut nested = path.nested.iter();
    for op in chosen {
        let response = match &op.request {
            Some(Request::RequestRange(r)) => Some(Response::ResponseRange(range::range(ops, r)?)),
            Some(Request::RequestPut(p)) => Some(Response::ResponsePut(ops.put(p)?)),
            Some(Request::RequestDeleteRange(d)) => {
                Some(Response::ResponseDeleteRange(ops.delete_range(d)?))
            }
            Some(Request::RequestTxn(inner)) => match nested.next() {
                Some(p) => Some(Response::ResponseTxn(execute(ops, inner, p)?)),
                None => None,
            },
            None => None,
        };
        responses.push(ResponseOp { response });
    }
    Ok(TxnResponse {
        header: Some(ResponseHeader::default()),
        succeeded: path.succeeded,
        responses,
    })
}

/// Whether the txn only reads (etcd serves those without consensus). Nested txns count as
/// writes, as in etcd.
pub fn is_txn_read_only(req: &TxnRequest) -> bool {
    req.success
        .iter()
        .chain(&req.failure)
        .all(|op| matches!(op.request, Some(Request::RequestRange(_))))
}
