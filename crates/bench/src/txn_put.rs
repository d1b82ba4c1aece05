//! The `txn-put` workload: a compare-less `Txn` whose success branch puts `--txn-ops`
//! consecutive keys of the key space.

use anyhow::{Result, bail};
use oxcd_api::etcdserverpb::{PutRequest, RequestOp, TxnRequest, request_op};

use crate::keys::KeySpace;

/// Builds the `TxnRequest`s of a `txn-put` run.
#[derive(Clone, Debug)]
pub struct TxnPutWorkload {
    keys: KeySpace,
    ops_per_txn: u64,
    value: Vec<u8>,
}

impl TxnPutWorkload {
    /// Transactions of `ops_per_txn` puts of `value`; fails when a transaction would have to
    /// repeat a key (etcd rejects duplicate keys in one txn) or would be empty.
    pub fn new(keys: KeySpace, ops_per_txn: u64, value: Vec<u8>) -> Result<Self> {
        if ops_per_txn == 0 {
            bail!("expected positive --txn-ops, got (0)");
        }
        if ops_per_txn > keys.size() {
            bail!(
                "expected --txn-ops no larger than --key-space-size, \
                 got txn-ops({ops_per_txn}) key-space-size({})",
                keys.size()
            );
        }
        Ok(Self {
            keys,
            ops_per_txn,
            value,
        })
    }

    /// Transaction number `index`: it writes keys `index * ops .. (index + 1) * ops`, taken
    /// modulo the key space size.
    pub fn request(&self, index: u64) -> TxnRequest {
        let size = u128::from(self.keys.size());
        // Reduced in u128 so that huge indices neither overflow nor break the run of
        // consecutive keys; `first + op` then stays below 2 * i64::MAX.
        let first = (u128::from(index) * u128::from(self.ops_per_txn) % size) as u64;
        let success = (0..self.ops_per_txn)
            .map(|op| RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: self.keys.key(first + op),
                    value: self.value.clone(),
                    ..PutRequest::default()
                })),
            })
            .collect();
        TxnRequest {
            success,
            ..TxnRequest::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_keys(txn: &TxnRequest) -> Vec<Vec<u8>> {
        txn.success
            .iter()
            .map(|op| match &op.request {
                Some(request_op::Request::RequestPut(put)) => put.key.clone(),
                other => panic!("expected a put, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn each_txn_puts_the_next_consecutive_keys() {
        let keys = KeySpace::new(5, 8).unwrap();
        let workload = TxnPutWorkload::new(keys, 2, vec![9; 4]).unwrap();
        let first = workload.request(0);
        assert!(first.compare.is_empty());
        assert!(first.failure.is_empty());
        assert_eq!(put_keys(&first), vec![keys.key(0), keys.key(1)]);
        assert_eq!(
            put_keys(&workload.request(2)),
            vec![keys.key(4), keys.key(0)]
        );
    }

    #[test]
    fn huge_txn_numbers_still_put_consecutive_keys() {
        let keys = KeySpace::new(7, 8).unwrap();
        let workload = TxnPutWorkload::new(keys, 3, vec![]).unwrap();
        // u64::MAX = 1 (mod 7), so the txn starts at key 3 * 1.
        assert_eq!(
            put_keys(&workload.request(u64::MAX)),
            vec![keys.key(3), keys.key(4), keys.key(5)]
        );
    }

    #[test]
    fn ops_must_fit_the_key_space() {
        let keys = KeySpace::new(3, 8).unwrap();
        let err = TxnPutWorkload::new(keys, 4, vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no larger than --key-space-size"), "{err}");
        assert!(TxnPutWorkload::new(keys, 0, vec![]).is_err());
    }
}
