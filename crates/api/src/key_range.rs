//! Keys and key ranges as the protocol and its recipes spell them: a request's `range_end` for
//! "every key with this prefix", and the keys under which locks and elections queue (clientv3's
//! concurrency layout, which etcd's Lock and Election services share) — computed the same way by
//! the server, the client, the tools and the tests.

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

/// `NAME/`: the prefix under which the queue of the lock or election `name` lives.
pub fn queue_prefix(name: &[u8]) -> Vec<u8> {
    let mut prefix = name.to_vec();
    prefix.push(b'/');
    prefix
}

/// The key a holder of `lease` queues with under `prefix`: the lease id in lowercase hex as Go's
/// `%x` prints it (a minus sign before the magnitude of a negative id).
pub fn queue_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let hex = if lease < 0 {
        format!("-{:x}", lease.unsigned_abs())
    } else {
        format!("{lease:x}")
    };
    [prefix, hex.as_bytes()].concat()
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

    #[test]
    fn queue_keys_are_the_lease_in_gos_hex() {
        let prefix = queue_prefix(b"lock");
        assert_eq!(prefix, b"lock/");
        assert_eq!(
            queue_key(&prefix, 0x694d_7b1c_2c3d_4e05),
            b"lock/694d7b1c2c3d4e05"
        );
        assert_eq!(queue_key(&prefix, 0xab), b"lock/ab");
        assert_eq!(queue_key(&prefix, -0x1a), b"lock/-1a");
        assert_eq!(queue_key(&prefix, i64::MIN), b"lock/-8000000000000000");
    }
}
