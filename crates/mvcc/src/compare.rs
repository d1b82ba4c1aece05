//! Txn compares, evaluated exactly as etcd 3.5.1 does: every key in the compare's range must
//! satisfy it; a missing key compares as a zero key-value, except that a VALUE compare on a
//! missing key always fails; unknown targets compare equal and unknown results succeed.

use std::cmp::Ordering;

use oxcd_api::etcdserverpb::Compare;
use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::mvccpb::KeyValue;

use crate::index::KeySpan;
use crate::view::{ReadError, StoreView};

/// Whether every compare holds at the view's current revision.
pub(crate) fn all_hold(view: &mut impl StoreView, compares: &[Compare]) -> Result<bool, ReadError> {
    for c in compares {
        if !holds(view, c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn holds(view: &mut impl StoreView, c: &Compare) -> Result<bool, ReadError> {
    let mut found = Vec::new();
    let at = view.current_rev();
    view.scan(
        KeySpan::new(&c.key, &c.range_end),
        at,
        usize::MAX,
        &mut found,
    )?;
    if found.is_empty() {
        if c.target == CompareTarget::Value as i32 {
            // A missing value cannot be told from an empty one, so such compares fail.
            return Ok(false);
        }
        return Ok(compare_kv(c, &KeyValue::default()));
    }
    let needs_value =
        c.target == CompareTarget::Value as i32 || c.target == CompareTarget::Lease as i32;
    if !needs_value {
        // Versions and revisions are in the index; no need to load values.
        return Ok(found.iter().all(|k| {
            let kv = KeyValue {
                create_revision: k.created.main,
                mod_revision: k.modified.main,
                version: k.version,
                ..Default::default()
            };
            compare_kv(c, &kv)
        }));
    }
    let revs: Vec<_> = found.iter().map(|k| k.modified).collect();
    let mut kvs = Vec::with_capacity(revs.len());
    view.load(&revs, &mut kvs)?;
    Ok(kvs.iter().all(|kv| compare_kv(c, kv)))
}

/// Compares one key-value against the compare's target value.
fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    let int_target =
        |pick: fn(&TargetUnion) -> Option<i64>| c.target_union.as_ref().and_then(pick).unwrap_or(0);
    let ordering = match CompareTarget::try_from(c.target) {
        Ok(CompareTarget::Value) => {
            let want: &[u8] = match &c.target_union {
                Some(TargetUnion::Value(v)) => v,
                _ => &[],
            };
            kv.value.as_slice().cmp(want)
        }
        Ok(CompareTarget::Create) => kv.create_revision.cmp(&int_target(|t| match t {
            TargetUnion::CreateRevision(r) => Some(*r),
            _ => None,
        })),
        Ok(CompareTarget::Mod) => kv.mod_revision.cmp(&int_target(|t| match t {
            TargetUnion::ModRevision(r) => Some(*r),
            _ => None,
        })),
        Ok(CompareTarget::Version) => kv.version.cmp(&int_target(|t| match t {
            TargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Lease) => kv.lease.cmp(&int_target(|t| match t {
            TargetUnion::Lease(l) => Some(*l),
            _ => None,
        })),
        Err(_) => Ordering::Equal,
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ordering == Ordering::Equal,
        Ok(CompareResult::NotEqual) => ordering != Ordering::Equal,
        Ok(CompareResult::Greater) => ordering == Ordering::Greater,
        Ok(CompareResult::Less) => ordering == Ordering::Less,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(target: CompareTarget, result: CompareResult, union: Option<TargetUnion>) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: b"k".to_vec(),
            range_end: Vec::new(),
            target_union: union,
        }
    }

    #[test]
    fn targets_read_their_own_union_field_or_zero() {
        let kv = KeyValue {
            version: 3,
            create_revision: 2,
            mod_revision: 5,
            lease: 9,
            value: b"v".to_vec(),
            ..Default::default()
        };
        assert!(compare_kv(
            &cmp(
                CompareTarget::Version,
                CompareResult::Equal,
                Some(TargetUnion::Version(3))
            ),
            &kv
        ));
        // A union of the wrong kind counts as zero.
        assert!(compare_kv(
            &cmp(
                CompareTarget::Version,
                CompareResult::Greater,
                Some(TargetUnion::ModRevision(9))
            ),
            &kv
        ));
        assert!(compare_kv(
            &cmp(
                CompareTarget::Mod,
                CompareResult::Less,
                Some(TargetUnion::ModRevision(6))
            ),
            &kv
        ));
        assert!(compare_kv(
            &cmp(
                CompareTarget::Create,
                CompareResult::NotEqual,
                Some(TargetUnion::CreateRevision(1))
            ),
            &kv
        ));
        assert!(compare_kv(
            &cmp(
                CompareTarget::Lease,
                CompareResult::Equal,
                Some(TargetUnion::Lease(9))
            ),
            &kv
        ));
        assert!(compare_kv(
            &cmp(
                CompareTarget::Value,
                CompareResult::Greater,
                Some(TargetUnion::Value(b"a".to_vec()))
            ),
            &kv
        ));
        assert!(compare_kv(
            &cmp(CompareTarget::Value, CompareResult::Greater, None),
            &kv
        ));
    }

    #[test]
    fn unknown_enums_follow_etcd() {
        let kv = KeyValue::default();
        let mut c = cmp(CompareTarget::Version, CompareResult::Less, None);
        c.result = 17;
        assert!(compare_kv(&c, &kv));
        c.result = CompareResult::Equal as i32;
        c.target = 42;
        assert!(compare_kv(&c, &kv));
    }
}
