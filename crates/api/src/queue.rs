//! The queue a lock or an election keeps under `NAME/`, laid out as clientv3's concurrency
//! package lays it out (and etcd's Lock and Election services with it): each holder's key is the
//! prefix plus its lease id, holders are ordered by create revision, and a holder waits for the
//! key created just before its own. The server's services and the client's recipes build their
//! keys, reads and compares here, so Rust and Go holders queue together.

use crate::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use crate::etcdserverpb::range_request::{SortOrder, SortTarget};
use crate::etcdserverpb::{Compare, RangeRequest};
use crate::key_range::prefix_end;

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

/// The queue's head: the key under `prefix` with the lowest create revision (the holder of the
/// lock, the leader of the election).
pub fn head(prefix: &[u8]) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: SortOrder::Ascend as i32,
        sort_target: SortTarget::Create as i32,
        ..Default::default()
    }
}

/// The key a holder waits for: the last key under `prefix` created at or before
/// `max_create_revision` (one below the holder's own).
pub fn predecessor(prefix: &[u8], max_create_revision: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: SortOrder::Descend as i32,
        sort_target: SortTarget::Create as i32,
        max_create_revision,
        ..Default::default()
    }
}

/// "`key`'s create revision is `revision`" (0: the key does not exist): how a holder checks that
/// its key is still the one it queued with.
pub fn created_at(key: &[u8], revision: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(TargetUnion::CreateRevision(revision)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_lease_in_gos_hex() {
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

    #[test]
    fn the_head_and_the_predecessor_are_read_by_create_revision() {
        let first = head(b"e/");
        assert_eq!(
            (first.key.as_slice(), first.range_end.as_slice()),
            (&b"e/"[..], &b"e0"[..])
        );
        assert_eq!(first.sort_order, SortOrder::Ascend as i32);
        assert_eq!(first.sort_target, SortTarget::Create as i32);
        assert_eq!(first.limit, 1);
        let before = predecessor(b"e/", 41);
        assert_eq!(before.sort_order, SortOrder::Descend as i32);
        assert_eq!(before.max_create_revision, 41);
    }
}
