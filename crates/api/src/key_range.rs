//! Key ranges as the protocol spells them: a request's `range_end` for "every key with this
//! prefix", which every client, the tools and the tests compute the same way.

/// The smallest key greater than every key starting with `prefix` (clientv3's
/// `GetPrefixRangeEnd`); `"\0"` — from the key on, to the end of the keyspace — when no such key
/// exists (an empty prefix, or one of only `0xff` bytes).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    b"\0".to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_incrementable_byte() {
        assert_eq!(prefix_end(b"foo"), b"fop");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }
}
