//! Range requests with etcd 3.5.1's exact semantics: revision checks, `count` (all matching keys,
//! before filters and limit), `limit` and `more`, the min/max revision filters, sorting (etcd's
//! unstable sort, fetching everything when sorting or filtering), `keys_only` and `count_only`.

use std::cmp::Ordering;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_api::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use oxcd_api::mvccpb::KeyValue;

use crate::go_sort;
use crate::index::KeySpan;
use crate::key_index::KeyAt;
use crate::view::{ReadError, StoreView};

/// What the store returns for a span before the request's filters and sorting.
pub(crate) struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// Keys alive in the span at the read revision.
    pub count: i64,
    /// The view's current revision (the response header revision).
    pub rev: i64,
}

/// The keys of a span alive at a revision, in key order, before any value is read.
pub(crate) struct Scanned {
    /// The keys collected (at most the number asked for).
    pub found: Vec<KeyAt>,
    /// Keys alive in the span at the read revision.
    pub count: i64,
    /// The view's current revision (the response header revision).
    pub rev: i64,
}

/// Finds the keys of `span` alive at `rev` (0 or less: the current revision), collecting at
/// most `limit` of them (0 or less: all), or none when only counting. etcd's `rangeKeys`
/// without the value reads.
pub(crate) fn scan_keys(
    view: &mut impl StoreView,
    span: KeySpan<'_>,
    rev: i64,
    limit: i64,
    count_only: bool,
) -> Result<Scanned, ReadError> {
    let current = view.current_rev();
    if rev > current {
        return Err(EtcdError::FutureRev.into());
    }
    let at = if rev <= 0 { current } else { rev };
    if at < view.compact_rev() {
        return Err(EtcdError::Compacted.into());
    }
    let mut found = Vec::new();
    let collect = if count_only {
        0
    } else if limit <= 0 {
        usize::MAX
    } else {
        usize::try_from(limit).unwrap_or(usize::MAX)
    };
    let count = view.scan(span, at, collect, &mut found)?;
    Ok(Scanned {
        found,
        count,
        rev: current,
    })
}

/// Reads `span` at `rev` (0 or less: the current revision), loading at most `limit` values
/// (0 or less: all), or only counting. etcd's `rangeKeys`.
pub(crate) fn range_keys(
    view: &mut impl StoreView,
    span: KeySpan<'_>,
    rev: i64,
    limit: i64,
    count_only: bool,
) -> Result<RangeResult, ReadError> {
    let scanned = scan_keys(view, span, rev, limit, count_only)?;
    let mut kvs = Vec::with_capacity(scanned.found.len());
    if !scanned.found.is_empty() {
        let revs: Vec<_> = scanned.found.iter().map(|k| k.modified).collect();
        view.load(&revs, &mut kvs)?;
    }
    Ok(RangeResult {
        kvs,
        count: scanned.count,
        rev: scanned.rev,
    })
}

/// Whether answering `req` needs every matching value before the limit applies: sorting and
/// the revision filters look at all of them (etcd then fetches everything).
pub(crate) fn needs_every_value(req: &RangeRequest) -> bool {
    req.sort_order != SortOrder::None as i32
        || req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0
}

/// The number of keys a range reads for `req`: all when it needs every value, otherwise one
/// more than its limit, which tells whether there are more (0: all).
pub(crate) fn keys_to_read(req: &RangeRequest) -> i64 {
    if needs_every_value(req) || req.limit <= 0 {
        0
    } else {
        req.limit.wrapping_add(1)
    }
}

/// Answers a range request from `view`. The header carries only the revision.
pub(crate) fn range(
    view: &mut impl StoreView,
    req: &RangeRequest,
) -> Result<RangeResponse, ReadError> {
    let span = KeySpan::new(&req.key, &req.range_end);
    let mut rr = range_keys(view, span, req.revision, keys_to_read(req), req.count_only)?;

    if req.max_mod_revision != 0 {
        rr.kvs.retain(|kv| kv.mod_revision <= req.max_mod_revision);
    }
    if req.min_mod_revision != 0 {
        rr.kvs.retain(|kv| kv.mod_revision >= req.min_mod_revision);
    }
    if req.max_create_revision != 0 {
        rr.kvs
            .retain(|kv| kv.create_revision <= req.max_create_revision);
    }
    if req.min_create_revision != 0 {
        rr.kvs
            .retain(|kv| kv.create_revision >= req.min_create_revision);
    }

    sort_kvs(&mut rr.kvs, req.sort_order, req.sort_target);

    let mut more = false;
    if req.limit > 0 && rr.kvs.len() as i64 > req.limit {
        rr.kvs.truncate(req.limit as usize);
        more = true;
    }
    if req.keys_only {
        for kv in &mut rr.kvs {
            kv.value = Vec::new();
        }
    }
    Ok(RangeResponse {
        header: Some(ResponseHeader {
            revision: rr.rev,
            ..Default::default()
        }),
        kvs: rr.kvs,
        more,
        count: rr.count,
    })
}

/// Sorts as etcd does: a target other than KEY with order NONE sorts ascending; KEY with NONE
/// keeps the key order the index produced.
fn sort_kvs(kvs: &mut [KeyValue], order: i32, target: i32) {
    let mut order = order;
    if target != SortTarget::Key as i32 && order == SortOrder::None as i32 {
        order = SortOrder::Ascend as i32;
    }
    let cmp: fn(&KeyValue, &KeyValue) -> Ordering = match SortTarget::try_from(target) {
        Ok(SortTarget::Key) => |a, b| a.key.cmp(&b.key),
        Ok(SortTarget::Version) => |a, b| a.version.wrapping_sub(b.version).cmp(&0),
        Ok(SortTarget::Create) => |a, b| a.create_revision.wrapping_sub(b.create_revision).cmp(&0),
        Ok(SortTarget::Mod) => |a, b| a.mod_revision.wrapping_sub(b.mod_revision).cmp(&0),
        Ok(SortTarget::Value) => |a, b| a.value.cmp(&b.value),
        Err(_) => return,
    };
    match SortOrder::try_from(order) {
        Ok(SortOrder::Ascend) => go_sort::sort(kvs, |a, b| cmp(a, b) == Ordering::Less),
        Ok(SortOrder::Descend) => go_sort::sort(kvs, |a, b| cmp(b, a) == Ordering::Less),
        _ => {}
    }
}
