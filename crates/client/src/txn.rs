//! Transactions: the [`Txn`] builder (`when` / `and_then` / `or_else`), [`Compare`]
//! constructors, the operations a transaction runs ([`Op`], nested transactions included) and
//! the typed answer ([`TxnResult`], [`OpResult`]).

use crate::client::Client;
use crate::error::ClientError;
use crate::kv::{
    DeleteOptions, DeleteResult, GetOptions, GetResponse, PutOptions, PutResult, header_of,
};
use oxcd_api::etcdserverpb::{
    RequestOp, ResponseHeader, TxnRequest, TxnResponse, compare, request_op, response_op,
};

/// How a [`Compare`] relates the key's field to the given value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `>`
    Greater,
}

impl CompareOp {
    fn result(self) -> compare::CompareResult {
        match self {
            CompareOp::Equal => compare::CompareResult::Equal,
            CompareOp::NotEqual => compare::CompareResult::NotEqual,
            CompareOp::Less => compare::CompareResult::Less,
            CompareOp::Greater => compare::CompareResult::Greater,
        }
    }
}

/// One condition of a transaction, on a key's value, version, create or mod revision, or
/// lease. A key that does not exist has version, revisions and lease 0.
///
/// ```
/// use oxcd_client::{Compare, CompareOp};
/// let absent = Compare::create_revision("lock", CompareOp::Equal, 0);
/// let unchanged = Compare::mod_revision("config/", CompareOp::Less, 42).with_prefix();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Compare(pub oxcd_api::etcdserverpb::Compare);

impl Compare {
    fn new(
        key: impl Into<Vec<u8>>,
        op: CompareOp,
        target: compare::CompareTarget,
        value: compare::TargetUnion,
    ) -> Compare {
        Compare(oxcd_api::etcdserverpb::Compare {
            result: op.result() as i32,
            target: target as i32,
            key: key.into(),
            target_union: Some(value),
            range_end: Vec::new(),
        })
    }

    /// Compares the key's value.
    pub fn value(key: impl Into<Vec<u8>>, op: CompareOp, value: impl Into<Vec<u8>>) -> Compare {
        let value = compare::TargetUnion::Value(value.into());
        Compare::new(key, op, compare::CompareTarget::Value, value)
    }

    /// Compares the key's version (number of puts since it was created; 0 if absent).
    pub fn version(key: impl Into<Vec<u8>>, op: CompareOp, version: i64) -> Compare {
        let value = compare::TargetUnion::Version(version);
        Compare::new(key, op, compare::CompareTarget::Version, value)
    }

    /// Compares the revision that created the key (0 if absent).
    pub fn create_revision(key: impl Into<Vec<u8>>, op: CompareOp, revision: i64) -> Compare {
        let value = compare::TargetUnion::CreateRevision(revision);
        Compare::new(key, op, compare::CompareTarget::Create, value)
    }

    /// Compares the revision of the key's last change.
    pub fn mod_revision(key: impl Into<Vec<u8>>, op: CompareOp, revision: i64) -> Compare {
        let value = compare::TargetUnion::ModRevision(revision);
        Compare::new(key, op, compare::CompareTarget::Mod, value)
    }

    /// Compares the key's lease id (0: no lease).
    pub fn lease(key: impl Into<Vec<u8>>, op: CompareOp, lease: i64) -> Compare {
        let value = compare::TargetUnion::Lease(lease);
        Compare::new(key, op, compare::CompareTarget::Lease, value)
    }

    /// Applies the comparison to every key in `[key, end)`: it holds if it holds for each.
    pub fn with_range_end(mut self, end: impl Into<Vec<u8>>) -> Compare {
        self.0.range_end = end.into();
        self
    }

    /// Applies the comparison to every key starting with the key.
    pub fn with_prefix(mut self) -> Compare {
        self.0.range_end = oxcd_api::key_range::prefix_end(&self.0.key);
        self
    }
}

/// An operation a transaction runs: a get, a put, a delete or a nested transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Op(pub RequestOp);

impl Op {
    /// Reads `key` with `options`.
    pub fn get(key: impl Into<Vec<u8>>, options: GetOptions) -> Op {
        Op::of(request_op::Request::RequestRange(options.into_request(key)))
    }

    /// Puts `value` under `key` with `options`.
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, options: PutOptions) -> Op {
        Op::of(request_op::Request::RequestPut(
            options.into_request(key, value),
        ))
    }

    /// Deletes `key` with `options`.
    pub fn delete(key: impl Into<Vec<u8>>, options: DeleteOptions) -> Op {
        Op::of(request_op::Request::RequestDeleteRange(
            options.into_request(key),
        ))
    }

    /// Runs `txn` inside this one (its keys must not overlap the other puts' keys).
    pub fn txn(txn: Txn) -> Op {
        Op::of(request_op::Request::RequestTxn(txn.into_request()))
    }

    fn of(request: request_op::Request) -> Op {
        Op(RequestOp {
            request: Some(request),
        })
    }
}

/// A transaction: if every comparison in `when` holds, run `and_then`, else `or_else`; all
/// at one revision.
///
/// ```no_run
/// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::ClientError> {
/// use oxcd_client::{Compare, CompareOp, GetOptions, Op, PutOptions, Txn};
/// let txn = Txn::new()
///     .when([Compare::value("state", CompareOp::Equal, "idle")])
///     .and_then([Op::put("state", "busy", PutOptions::new())])
///     .or_else([Op::get("state", GetOptions::new())]);
/// let result = client.txn(txn).await?;
/// if !result.succeeded() {
///     let now = result.responses()[0].as_get().and_then(|get| get.first().cloned());
///     println!("state was {:?}", now.map(|kv| kv.value));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Txn {
    request: TxnRequest,
}

impl Txn {
    /// An empty transaction (no comparisons: `and_then` runs).
    pub fn new() -> Txn {
        Txn::default()
    }

    /// Adds comparisons; all must hold for `and_then` to run.
    pub fn when(mut self, compares: impl IntoIterator<Item = Compare>) -> Txn {
        self.request
            .compare
            .extend(compares.into_iter().map(|c| c.0));
        self
    }

    /// Adds operations run when every comparison holds.
    pub fn and_then(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        self.request.success.extend(ops.into_iter().map(|op| op.0));
        self
    }

    /// Adds operations run when a comparison fails.
    pub fn or_else(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        self.request.failure.extend(ops.into_iter().map(|op| op.0));
        self
    }

    /// The protobuf request.
    pub fn into_request(self) -> TxnRequest {
        self.request
    }
}

/// The answer of one operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// A get's answer.
    Get(GetResponse),
    /// A put's answer.
    Put(PutResult),
    /// A delete's answer.
    Delete(DeleteResult),
    /// A nested transaction's answer.
    Txn(TxnResult),
}

impl OpResult {
    /// The get's answer, if this was a get.
    pub fn as_get(&self) -> Option<&GetResponse> {
        match self {
            OpResult::Get(get) => Some(get),
            _ => None,
        }
    }

    /// The nested transaction's answer, if this was one.
    pub fn as_txn(&self) -> Option<&TxnResult> {
        match self {
            OpResult::Txn(txn) => Some(txn),
            _ => None,
        }
    }
}

/// The answer to [`Client::txn`]: which branch ran and its operations' answers.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnResult {
    raw: TxnResponse,
    responses: Vec<OpResult>,
}

impl TxnResult {
    /// Types the protobuf answer.
    pub fn new(raw: TxnResponse) -> TxnResult {
        let responses = raw
            .responses
            .iter()
            .filter_map(|op| op.response.clone())
            .map(|response| match response {
                response_op::Response::ResponseRange(r) => OpResult::Get(GetResponse(r)),
                response_op::Response::ResponsePut(r) => OpResult::Put(PutResult(r)),
                response_op::Response::ResponseDeleteRange(r) => OpResult::Delete(DeleteResult(r)),
                response_op::Response::ResponseTxn(r) => OpResult::Txn(TxnResult::new(r)),
            })
            .collect();
        TxnResult { raw, responses }
    }

    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        header_of(&self.raw.header)
    }

    /// The revision after the transaction.
    pub fn revision(&self) -> i64 {
        self.header().revision
    }

    /// True if every comparison held (`and_then` ran), false if `or_else` ran.
    pub fn succeeded(&self) -> bool {
        self.raw.succeeded
    }

    /// The answers of the branch that ran, in order.
    pub fn responses(&self) -> &[OpResult] {
        &self.responses
    }

    /// The protobuf answer.
    pub fn raw(&self) -> &TxnResponse {
        &self.raw
    }

    /// The protobuf answer, by value.
    pub fn into_raw(self) -> TxnResponse {
        self.raw
    }
}

impl Client {
    /// Runs `txn` atomically.
    pub async fn txn(&self, txn: Txn) -> Result<TxnResult, ClientError> {
        let answer = self.kv().txn(txn.into_request()).await?;
        Ok(TxnResult::new(answer.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_ops_build_etcds_messages() {
        let c = Compare::version("k", CompareOp::Greater, 2).with_prefix().0;
        assert_eq!(c.result, compare::CompareResult::Greater as i32);
        assert_eq!(c.target, compare::CompareTarget::Version as i32);
        assert_eq!(
            (c.key.as_slice(), c.range_end.as_slice()),
            (&b"k"[..], &b"l"[..])
        );
        assert_eq!(c.target_union, Some(compare::TargetUnion::Version(2)));
        let lease = Compare::lease("k", CompareOp::NotEqual, 9).0;
        assert_eq!(lease.result, compare::CompareResult::NotEqual as i32);
        assert_eq!(lease.target_union, Some(compare::TargetUnion::Lease(9)));
        let inner = Txn::new().and_then([Op::delete("x", DeleteOptions::new())]);
        let txn = Txn::new()
            .when([Compare::value("k", CompareOp::Less, "v")])
            .and_then([Op::txn(inner.clone())])
            .or_else([
                Op::get("k", GetOptions::new()),
                Op::put("k", "v", PutOptions::new()),
            ])
            .into_request();
        assert_eq!(txn.compare.len(), 1);
        assert_eq!(
            txn.success[0].request,
            Some(request_op::Request::RequestTxn(inner.into_request()))
        );
        assert_eq!(txn.failure.len(), 2);
    }

    #[test]
    fn answers_are_typed_in_order() {
        use oxcd_api::etcdserverpb::{RangeResponse, ResponseOp};
        let raw = TxnResponse {
            succeeded: true,
            responses: vec![ResponseOp {
                response: Some(response_op::Response::ResponseRange(RangeResponse {
                    count: 4,
                    ..Default::default()
                })),
            }],
            ..Default::default()
        };
        let typed = TxnResult::new(raw);
        assert!(typed.succeeded());
        assert_eq!(
            typed.responses()[0].as_get().map(GetResponse::count),
            Some(4)
        );
        assert!(typed.responses()[0].as_txn().is_none());
    }
}
