//! One KV-service request of a differential run, and how to show it in a failure report
//! without dumping megabytes of an oversized value.

use std::fmt;

use oxcd_api::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest,
};

/// A request to the `etcdserverpb.KV` service.
#[derive(Debug, Clone, PartialEq)]
pub enum KvOp {
    /// `KV.Range`.
    Range(RangeRequest),
    /// `KV.Put`.
    Put(PutRequest),
    /// `KV.DeleteRange`.
    DeleteRange(DeleteRangeRequest),
    /// `KV.Txn`.
    Txn(TxnRequest),
    /// `KV.Compact`.
    Compact(CompactionRequest),
}

/// Longest `Debug` text shown whole in reports.
const SHOW_CHARS: usize = 6_000;

/// `Debug` text of `value`, with the middle cut out if it is very long.
pub fn abbreviated(value: &dyn fmt::Debug) -> String {
    let text = format!("{value:#?}");
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SHOW_CHARS {
        return text;
    }
    let head: String = chars[..SHOW_CHARS / 2].iter().collect();
    let tail: String = chars[chars.len() - SHOW_CHARS / 4..].iter().collect();
    format!(
        "{head}\n... ({} characters omitted) ...\n{tail}",
        chars.len() - SHOW_CHARS / 2 - SHOW_CHARS / 4
    )
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&abbreviated(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_ops_are_abbreviated_and_small_ones_are_not() {
        let small = KvOp::Put(PutRequest {
            key: b"a".to_vec(),
            ..PutRequest::default()
        });
        assert_eq!(small.to_string(), format!("{small:#?}"));
        let huge = KvOp::Put(PutRequest {
            key: b"a".to_vec(),
            value: vec![7; 100_000],
            ..PutRequest::default()
        });
        let text = huge.to_string();
        assert!(text.len() < 10_000, "{}", text.len());
        assert!(text.contains("characters omitted"));
        assert!(text.starts_with("Put("));
    }
}
