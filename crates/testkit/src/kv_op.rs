//! One KV-service request of a differential run, and how to show it (or anything else with a
//! `Debug` text) in a failure report without dumping megabytes of an oversized value.

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
/// Bytes of one key or value shown before the rest is summarized.
const SHOW_BYTES: usize = 48;

/// `Debug` text of `value` on one line, byte vectors shown as `b"..."` literals (long ones cut
/// short with their length), and the middle cut out if the whole is still very long.
pub fn abbreviated(value: &dyn fmt::Debug) -> String {
    let text = compact_byte_lists(&format!("{value:?}"));
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SHOW_CHARS {
        return text;
    }
    let head: String = chars[..SHOW_CHARS / 2].iter().collect();
    let tail: String = chars[chars.len() - SHOW_CHARS / 4..].iter().collect();
    format!(
        "{head} ... ({} characters omitted) ... {tail}",
        chars.len() - SHOW_CHARS / 2 - SHOW_CHARS / 4
    )
}

/// Rewrites every non-empty list of numbers 0..=255 in `Debug` output (how prost's byte
/// fields print) as a byte string literal.
fn compact_byte_lists(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']').and_then(|close| {
            let bytes = parse_byte_list(&after[..close])?;
            Some((bytes, close))
        }) {
            Some((bytes, close)) => {
                out.push_str(&byte_literal(&bytes));
                rest = &after[close + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_byte_list(list: &str) -> Option<Vec<u8>> {
    if list.is_empty() {
        return None;
    }
    list.split(", ").map(|n| n.parse::<u8>().ok()).collect()
}

fn byte_literal(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(SHOW_BYTES)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if bytes.len() > SHOW_BYTES {
        format!("b\"{shown}\"...({} bytes)", bytes.len())
    } else {
        format!("b\"{shown}\"")
    }
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&abbreviated(self))
    }
}

#[cfg(test)]
mod tests {
    use oxcd_api::etcdserverpb::TxnRequest;

    use super::*;

    #[test]
    fn byte_fields_read_as_byte_strings() {
        let put = KvOp::Put(PutRequest {
            key: b"a/1".to_vec(),
            value: vec![0, 255, b'"'],
            ..PutRequest::default()
        });
        let text = put.to_string();
        assert!(text.contains(r#"key: b"a/1""#), "{text}");
        assert!(text.contains(r#"value: b"\x00\xff\"""#), "{text}");
        let txn = KvOp::Txn(TxnRequest::default());
        assert!(
            txn.to_string().contains("compare: []"),
            "empty lists stay lists"
        );
    }

    #[test]
    fn huge_values_are_summarized_by_length() {
        let huge = KvOp::Put(PutRequest {
            key: b"a".to_vec(),
            value: vec![b'G'; 2_000_000],
            ..PutRequest::default()
        });
        let text = huge.to_string();
        assert!(text.len() < 400, "{text}");
        assert!(text.contains("...(2000000 bytes)"), "{text}");
        assert!(text.starts_with("Put("));
    }

    #[test]
    fn very_long_text_loses_its_middle() {
        let many = vec![KvOp::Put(PutRequest::default()); 1_000];
        let text = abbreviated(&many);
        assert!(text.contains("characters omitted"));
        assert!(text.chars().count() < SHOW_CHARS + 100);
    }
}
