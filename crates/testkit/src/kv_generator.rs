//! Seeded generator of KV requests for differential runs. Requests touch a small key space so
//! they interact (overwrites, deletes, compares that flip, ranges over history), cover every
//! field and option of the KV service, and include the invalid and oversized requests whose
//! errors clients depend on. The stream is a pure function of the seed, of the generator's
//! options and of the store revisions the servers reported back.

use std::ops::RangeInclusive;

use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_api::etcdserverpb::request_op::Request;
use oxcd_api::etcdserverpb::{
    CompactionRequest, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use oxcd_api::key_range::prefix_end;

use crate::kv_op::KvOp;
use crate::rng::SeededRng;

/// Environment variable overriding the number of requests of a differential run.
pub const OPS_ENV: &str = "OXT_DIFF_OPS";

/// The number of requests from `OXT_DIFF_OPS`, else `default`.
pub fn ops_from_env(default: usize) -> anyhow::Result<usize> {
    match std::env::var(OPS_ENV) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map_err(|e| anyhow::anyhow!("{OPS_ENV}={text}: {e}")),
        _ => Ok(default),
    }
}

/// The keys requests use, in byte order; a range can cover more than 12 of them, which is
/// where etcd's sort switches algorithms.
pub const KEYS: &[&[u8]] = &[
    b"\x00", b"a", b"a/1", b"a/2", b"ab", b"b", b"b/x", b"c", b"foo", b"foo/bar", b"foo0", b"z",
    b"\xfe", b"\xff",
];

/// Values requests write; repeats make value compares and value sorts meet ties.
const VALUES: &[&[u8]] = &[b"", b"0", b"1", b"v", b"vv", b"x"];

/// etcd's default `--max-request-bytes` (1.5 MiB).
pub const MAX_REQUEST_BYTES: usize = 1_572_864;
/// What gRPC accepts on top of `--max-request-bytes` before refusing to decode a message.
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;
/// etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// The furthest a small-step compaction moves past the previous one.
const COMPACT_STEP: i64 = 40;

/// How deep transactions nest inside transactions.
const MAX_TXN_DEPTH: u32 = 2;

/// The lease IDs puts and compares name. The generator grants none: they are all missing
/// unless the caller grants some on every side before the run.
pub const LEASE_IDS: RangeInclusive<i64> = 0x1000..=0x10ff;

/// What the generator knows about the store: revisions reported back by the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreView {
    /// The newest revision.
    pub revision: i64,
    /// The newest compacted revision (0 before any compaction).
    pub compact_revision: i64,
}

impl Default for StoreView {
    fn default() -> StoreView {
        StoreView {
            revision: 1,
            compact_revision: 0,
        }
    }
}

/// Produces the request stream for one seed.
pub struct KvGenerator {
    rng: SeededRng,
    keys: Vec<Vec<u8>>,
    oversized: bool,
}

impl KvGenerator {
    /// A generator over [`KEYS`] whose output is determined by `seed` and the views passed in.
    pub fn new(seed: u64) -> KvGenerator {
        KvGenerator {
            rng: SeededRng::new(seed),
            keys: KEYS.iter().map(|key| key.to_vec()).collect(),
            oversized: true,
        }
    }

    /// Draws keys from `keys` (sorted, non-empty) instead of [`KEYS`].
    pub fn with_keys(mut self, keys: Vec<Vec<u8>>) -> KvGenerator {
        assert!(!keys.is_empty(), "a key space needs keys");
        self.keys = keys;
        self
    }

    /// Never produces requests over etcd's size limits: for callers that skip the gRPC layer,
    /// which is where etcd refuses them.
    pub fn without_oversized(mut self) -> KvGenerator {
        self.oversized = false;
        self
    }

    /// The next request, chosen with knowledge of the store's revisions.
    pub fn next_op(&mut self, view: &StoreView) -> KvOp {
        match self.rng.below(1000) {
            0..300 => KvOp::Range(self.range(view)),
            300..560 => KvOp::Put(self.put()),
            560..660 => KvOp::DeleteRange(self.delete_range()),
            660..930 => KvOp::Txn(self.top_level_txn(view)),
            930..950 => KvOp::Compact(self.compact(view)),
            _ => self.unusual(view),
        }
    }

    fn key(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..2 => Vec::new(),
            2..3 => {
                let len = 1 + self.rng.index(3);
                self.rng.bytes(len)
            }
            _ => self.rng.pick(&self.keys).clone(),
        }
    }

    fn value(&mut self) -> Vec<u8> {
        if self.rng.percent(20) {
            let len = 1 + self.rng.index(16);
            self.rng.bytes(len)
        } else {
            self.rng.pick(VALUES).to_vec()
        }
    }

    fn range_end(&mut self, key: &[u8]) -> Vec<u8> {
        match self.rng.below(100) {
            0..35 => Vec::new(),
            35..50 => b"\0".to_vec(),
            50..70 => prefix_end(key),
            70..90 => self.rng.pick(&self.keys).clone(),
            90..95 => key.to_vec(),
            _ => b"\xff\xff".to_vec(),
        }
    }

    /// A revision to read at: latest, past, compacted, future or negative.
    fn read_revision(&mut self, view: &StoreView) -> i64 {
        match self.rng.below(100) {
            0..50 => 0,
            50..65 => view.revision,
            65..80 => self.rng.range_i64(view.compact_revision + 1, view.revision),
            80..87 => view.revision + 1 + self.rng.range_i64(0, 2),
            87..95 if view.compact_revision > 0 => self.rng.range_i64(1, view.compact_revision),
            87..95 => 0,
            _ => -self.rng.range_i64(1, 5),
        }
    }

    /// A revision bound for filters and compares: anywhere from 0 to just past the newest.
    fn any_revision(&mut self, view: &StoreView) -> i64 {
        self.rng.range_i64(0, view.revision + 1)
    }

    /// A min/max revision filter of a range: mostly unset.
    fn revision_filter(&mut self, view: &StoreView) -> i64 {
        if self.rng.percent(15) {
            self.any_revision(view)
        } else {
            0
        }
    }

    fn range(&mut self, view: &StoreView) -> RangeRequest {
        let key = self.key();
        let range_end = self.range_end(&key);
        let limit = match self.rng.below(100) {
            0..60 => 0,
            60..90 => self.rng.range_i64(1, 4),
            90..95 => 20,
            _ => -1,
        };
        let sort_order = match self.rng.below(100) {
            0..60 => SortOrder::None,
            60..80 => SortOrder::Ascend,
            _ => SortOrder::Descend,
        };
        let sort_target = if self.rng.percent(50) {
            SortTarget::Key
        } else {
            *self.rng.pick(&[
                SortTarget::Version,
                SortTarget::Create,
                SortTarget::Mod,
                SortTarget::Value,
            ])
        };
        RangeRequest {
            key,
            range_end,
            limit,
            revision: self.read_revision(view),
            sort_order: sort_order as i32,
            sort_target: sort_target as i32,
            serializable: self.rng.percent(30),
            keys_only: self.rng.percent(15),
            count_only: self.rng.percent(10),
            min_mod_revision: self.revision_filter(view),
            max_mod_revision: self.revision_filter(view),
            min_create_revision: self.revision_filter(view),
            max_create_revision: self.revision_filter(view),
        }
    }

    fn put(&mut self) -> PutRequest {
        let ignore_value = self.rng.percent(8);
        let ignore_lease = self.rng.percent(8);
        // Mostly consistent flags; sometimes the combinations etcd rejects.
        let value = if ignore_value && !self.rng.percent(15) {
            Vec::new()
        } else {
            self.value()
        };
        let lease = if (ignore_lease && self.rng.percent(15)) || self.rng.percent(5) {
            LEASE_IDS.start() + self.rng.range_i64(0, LEASE_IDS.end() - LEASE_IDS.start())
        } else {
            0
        };
        PutRequest {
            key: self.key(),
            value,
            lease,
            prev_kv: self.rng.percent(40),
            ignore_value,
            ignore_lease,
        }
    }

    fn delete_range(&mut self) -> DeleteRangeRequest {
        let key = self.key();
        DeleteRangeRequest {
            range_end: self.range_end(&key),
            key,
            prev_kv: self.rng.percent(50),
        }
    }

    fn top_level_txn(&mut self, view: &StoreView) -> TxnRequest {
        let mut txn = self.txn(view, 0);
        avoid_etcd_apply_panic(&mut txn);
        txn
    }

    fn txn(&mut self, view: &StoreView, depth: u32) -> TxnRequest {
        let compares = self.count_up_to(3);
        let successes = self.count_up_to(4);
        let failures = self.count_up_to(4);
        TxnRequest {
            compare: (0..compares).map(|_| self.compare(view)).collect(),
            success: (0..successes)
                .map(|_| self.request_op(view, depth))
                .collect(),
            failure: (0..failures)
                .map(|_| self.request_op(view, depth))
                .collect(),
        }
    }

    /// 0..=max, weighted towards the small end.
    fn count_up_to(&mut self, max: usize) -> usize {
        let a = self.rng.index(max + 1);
        let b = self.rng.index(max + 1);
        a.min(b)
    }

    fn compare(&mut self, view: &StoreView) -> Compare {
        let key = self.key();
        let range_end = if self.rng.percent(20) {
            self.range_end(&key)
        } else {
            Vec::new()
        };
        let target = *self.rng.pick(&[
            CompareTarget::Version,
            CompareTarget::Create,
            CompareTarget::Mod,
            CompareTarget::Value,
            CompareTarget::Lease,
        ]);
        let result = *self.rng.pick(&[
            CompareResult::Equal,
            CompareResult::Greater,
            CompareResult::Less,
            CompareResult::NotEqual,
        ]);
        let union_target = match self.rng.below(100) {
            0..90 => target,
            90..95 => *self
                .rng
                .pick(&[CompareTarget::Version, CompareTarget::Value]),
            _ => return self.compare_without_union(key, range_end, target, result),
        };
        let target_union = Some(match union_target {
            CompareTarget::Version => TargetUnion::Version(self.rng.range_i64(0, 4)),
            CompareTarget::Create => TargetUnion::CreateRevision(self.any_revision(view)),
            CompareTarget::Mod => TargetUnion::ModRevision(self.any_revision(view)),
            CompareTarget::Value => TargetUnion::Value(self.value()),
            CompareTarget::Lease => TargetUnion::Lease(if self.rng.percent(80) {
                0
            } else {
                *LEASE_IDS.start()
            }),
        });
        let mut compare = Compare {
            result: result as i32,
            target: target as i32,
            key,
            range_end,
            target_union,
        };
        // Enum values outside the protocol: etcd treats an unknown result as "holds".
        if self.rng.percent(1) {
            compare.result = 9;
        }
        compare
    }

    fn compare_without_union(
        &mut self,
        key: Vec<u8>,
        range_end: Vec<u8>,
        target: CompareTarget,
        result: CompareResult,
    ) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key,
            range_end,
            target_union: None,
        }
    }

    fn request_op(&mut self, view: &StoreView, depth: u32) -> RequestOp {
        let request = match self.rng.below(100) {
            0..30 => Some(Request::RequestRange(self.range(view))),
            30..65 => Some(Request::RequestPut(self.put())),
            65..86 => Some(Request::RequestDeleteRange(self.delete_range())),
            86..99 if depth < MAX_TXN_DEPTH => Some(Request::RequestTxn(self.txn(view, depth + 1))),
            86..99 => Some(Request::RequestPut(self.put())),
            _ => None,
        };
        RequestOp { request }
    }

    fn compact(&mut self, view: &StoreView) -> CompactionRequest {
        // Successful compactions mostly advance in small steps so history stays readable.
        let revision = match self.rng.below(100) {
            0..45 => self.rng.range_i64(
                view.compact_revision + 1,
                view.revision.min(view.compact_revision + COMPACT_STEP),
            ),
            45..50 => view.revision,
            50..75 => self.rng.range_i64(0, view.compact_revision),
            75..90 => view.revision + 1 + self.rng.range_i64(0, 2),
            _ => 0,
        };
        CompactionRequest {
            revision,
            physical: self.rng.percent(50),
        }
    }

    /// Requests at the edges: oversized, too many operations, empty keys everywhere.
    fn unusual(&mut self, view: &StoreView) -> KvOp {
        let mut choice = self.rng.below(100);
        if !self.oversized && choice < 16 {
            // A large value within the limits instead.
            choice = 16;
        }
        match choice {
            0..6 => {
                let mut put = self.put();
                put.value = vec![b'L'; MAX_REQUEST_BYTES + self.rng.index(4096)];
                put.lease = 0;
                put.ignore_value = false;
                KvOp::Put(put)
            }
            6..10 => {
                let mut put = self.put();
                put.value = vec![b'G'; MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES + 1024];
                KvOp::Put(put)
            }
            10..14 => {
                let mut range = self.range(view);
                range.key = vec![b'k'; MAX_REQUEST_BYTES + 1024];
                KvOp::Range(range)
            }
            14..16 => {
                let mut range = self.range(view);
                range.key = vec![b'k'; MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES + 1024];
                KvOp::Range(range)
            }
            16..30 => {
                let mut put = self.put();
                put.value = vec![b'm'; 64 * 1024];
                put.lease = 0;
                put.ignore_value = false;
                put.ignore_lease = false;
                KvOp::Put(put)
            }
            30..45 => KvOp::Txn(self.too_many_ops(view)),
            45..60 => {
                let mut range = self.range(view);
                range.key.clear();
                KvOp::Range(range)
            }
            60..75 => {
                let mut put = self.put();
                put.key.clear();
                KvOp::Put(put)
            }
            75..85 => {
                let mut delete = self.delete_range();
                delete.key.clear();
                KvOp::DeleteRange(delete)
            }
            _ => {
                let mut txn = self.top_level_txn(view);
                let mut compare = self.compare(view);
                compare.key.clear();
                txn.compare.push(compare);
                KvOp::Txn(txn)
            }
        }
    }

    /// One more operation than etcd allows, in one of the three places it counts them.
    fn too_many_ops(&mut self, view: &StoreView) -> TxnRequest {
        let count = MAX_TXN_OPS + self.rng.index(2);
        let key = self.rng.pick(&self.keys).clone();
        let read = RequestOp {
            request: Some(Request::RequestRange(RangeRequest {
                key: key.clone(),
                ..RangeRequest::default()
            })),
        };
        let mut txn = TxnRequest::default();
        match self.rng.below(3) {
            0 => txn.success = vec![read; count],
            1 => txn.failure = vec![read; count],
            _ => {
                txn.compare = (0..count)
                    .map(|_| Compare {
                        key: key.clone(),
                        target: CompareTarget::Version as i32,
                        target_union: Some(TargetUnion::Version(self.rng.range_i64(0, 2))),
                        ..Compare::default()
                    })
                    .collect();
                txn.success = vec![RequestOp {
                    request: Some(Request::RequestRange(self.range(view))),
                }];
            }
        }
        txn
    }
}

/// etcd 3.5.1 crashes (`lg.Panic("unexpected error during txn")`) on a transaction that
/// deletes with range end "\0" and then puts with `ignore_value` or `ignore_lease` into the
/// deleted range: its duplicate-key check cannot see "\0" ranges, its pre-check reads the store
/// before the delete, and the put then fails mid-apply. The oracle must survive the stream, so
/// such transactions keep their puts but lose the ignore flags.
pub fn avoid_etcd_apply_panic(txn: &mut TxnRequest) {
    if any_request(
        txn,
        &|request| matches!(request, Request::RequestDeleteRange(d) if d.range_end == b"\0"),
    ) {
        clear_put_ignore_flags(txn);
    }
}

fn any_request(txn: &TxnRequest, predicate: &dyn Fn(&Request) -> bool) -> bool {
    txn.success
        .iter()
        .chain(&txn.failure)
        .filter_map(|op| op.request.as_ref())
        .any(|request| match request {
            Request::RequestTxn(nested) => any_request(nested, predicate),
            other => predicate(other),
        })
}

fn clear_put_ignore_flags(txn: &mut TxnRequest) {
    for op in txn.success.iter_mut().chain(txn.failure.iter_mut()) {
        match &mut op.request {
            Some(Request::RequestPut(put)) => {
                put.ignore_value = false;
                put.ignore_lease = false;
            }
            Some(Request::RequestTxn(nested)) => clear_put_ignore_flags(nested),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_flags_are_cleared_only_beside_a_zero_range_end_delete() {
        let put = |key: &[u8]| RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: key.to_vec(),
                ignore_value: true,
                ignore_lease: true,
                ..PutRequest::default()
            })),
        };
        let delete = |range_end: &[u8]| RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: b"a".to_vec(),
                range_end: range_end.to_vec(),
                prev_kv: false,
            })),
        };
        let nested = |ops: Vec<RequestOp>| RequestOp {
            request: Some(Request::RequestTxn(TxnRequest {
                failure: ops,
                ..TxnRequest::default()
            })),
        };
        let flags = |txn: &TxnRequest| {
            let mut seen = Vec::new();
            fn walk(txn: &TxnRequest, seen: &mut Vec<(bool, bool)>) {
                for op in txn.success.iter().chain(&txn.failure) {
                    match &op.request {
                        Some(Request::RequestPut(p)) => seen.push((p.ignore_value, p.ignore_lease)),
                        Some(Request::RequestTxn(t)) => walk(t, seen),
                        _ => {}
                    }
                }
            }
            walk(txn, &mut seen);
            seen
        };

        let mut safe = TxnRequest {
            success: vec![delete(b"b"), nested(vec![put(b"c")])],
            ..TxnRequest::default()
        };
        avoid_etcd_apply_panic(&mut safe);
        assert_eq!(flags(&safe), [(true, true)]);

        let mut deep = TxnRequest {
            success: vec![
                put(b"c"),
                nested(vec![nested(vec![delete(b"\0")]), put(b"d")]),
            ],
            ..TxnRequest::default()
        };
        avoid_etcd_apply_panic(&mut deep);
        assert_eq!(flags(&deep), [(false, false), (false, false)]);
    }

    #[test]
    fn keys_are_sorted_and_distinct() {
        assert!(KEYS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn options_bound_the_key_space_and_the_sizes() {
        let view = StoreView {
            revision: 50,
            compact_revision: 20,
        };
        let keys: Vec<Vec<u8>> = (0..90)
            .map(|i| format!("key-{i:02}").into_bytes())
            .collect();
        let mut generator = KvGenerator::new(3)
            .with_keys(keys.clone())
            .without_oversized();
        for _ in 0..10_000 {
            let op = generator.next_op(&view);
            if let KvOp::Put(put) = &op {
                assert!(put.value.len() < MAX_REQUEST_BYTES, "{op}");
                assert!(
                    put.key.len() <= 3 || keys.contains(&put.key),
                    "a key outside the space: {op}"
                );
            }
            if let KvOp::Range(range) = &op {
                assert!(range.key.len() < MAX_REQUEST_BYTES, "{op}");
            }
        }
    }

    #[test]
    fn same_seed_same_stream() {
        let view = StoreView::default();
        let mut a = KvGenerator::new(9);
        let mut b = KvGenerator::new(9);
        for _ in 0..500 {
            assert_eq!(a.next_op(&view), b.next_op(&view));
        }
    }

    #[test]
    fn stream_covers_every_kind_of_request_and_the_edges() {
        let view = StoreView {
            revision: 50,
            compact_revision: 20,
        };
        let mut generator = KvGenerator::new(1);
        let ops: Vec<KvOp> = (0..10_000).map(|_| generator.next_op(&view)).collect();
        let count = |pred: &dyn Fn(&KvOp) -> bool| ops.iter().filter(|op| pred(op)).count();
        assert!(count(&|op| matches!(op, KvOp::Range(_))) > 2000);
        assert!(count(&|op| matches!(op, KvOp::Put(_))) > 2000);
        assert!(count(&|op| matches!(op, KvOp::DeleteRange(_))) > 500);
        assert!(count(&|op| matches!(op, KvOp::Txn(_))) > 2000);
        assert!(count(&|op| matches!(op, KvOp::Compact(_))) > 100);
        assert!(count(&|op| matches!(op, KvOp::Range(r) if r.range_end == b"\0")) > 100);
        assert!(count(&|op| matches!(op, KvOp::Range(r) if r.revision > 50)) > 50);
        assert!(count(&|op| matches!(op, KvOp::Range(r) if (1..=20).contains(&r.revision))) > 50);
        assert!(count(&|op| matches!(op, KvOp::Range(r) if r.count_only && r.keys_only)) > 5);
        assert!(count(&|op| matches!(op, KvOp::Range(r) if r.max_create_revision > 0)) > 50);
        assert!(count(&|op| matches!(op, KvOp::Put(p) if p.lease != 0)) > 50);
        assert!(
            count(&|op| matches!(op, KvOp::Put(p) if p.ignore_value && !p.value.is_empty())) > 5
        );
        assert!(count(&|op| matches!(op, KvOp::Put(p) if p.value.len() > MAX_REQUEST_BYTES)) > 5);
        assert!(
            count(&|op| matches!(op, KvOp::Put(p)
                if p.value.len() > MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES))
                > 2
        );
        assert!(count(&|op| matches!(op, KvOp::Put(p) if p.key.is_empty())) > 20);
        assert!(count(&|op| matches!(op, KvOp::Txn(t) if t.success.len() > MAX_TXN_OPS)) > 2);
        assert!(count(&|op| matches!(op, KvOp::Txn(t) if t.compare.len() > MAX_TXN_OPS)) > 2);
        let nested = |t: &TxnRequest| {
            t.success
                .iter()
                .chain(&t.failure)
                .any(|op| matches!(op.request, Some(Request::RequestTxn(_))))
        };
        assert!(count(&|op| matches!(op, KvOp::Txn(t) if nested(t))) > 100);
        assert!(
            count(
                &|op| matches!(op, KvOp::Txn(t) if t.compare.iter().any(|c| !c.range_end.is_empty()))
            ) > 100
        );
        assert!(
            count(&|op| matches!(op, KvOp::Compact(c) if c.revision <= 20 && c.revision > 0)) > 10
        );
        assert!(count(&|op| matches!(op, KvOp::Compact(c) if c.physical)) > 50);
    }
}
