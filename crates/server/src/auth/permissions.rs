//! A user's key permissions, merged from its roles, and the check of a request's key or range
//! against them, with etcd's exact semantics.
//!
//! etcd merges every permission of every role of a user into two sets of intervals, one for
//! reading and one for writing (READWRITE goes into both), and answers:
//! - for a single key: whether any interval of the set overlaps the point `[key, key\0)`;
//! - for a range `[key, range_end)`: whether the intervals overlapping it cover it without a gap
//!   (several adjacent grants together may cover a range none covers alone).
//!
//! Interval ends compare as etcd's "affine" bytes: the empty key sorts after every other, so an
//! empty end is "no end". A `range_end` of `\0` (etcd's "from key") means the same, in a grant
//! and in a request; an empty `range_end` in a grant is the single key.

use std::cmp::Ordering;

use oxcd_api::authpb::{Permission, Role, permission};

/// What a request does to the keys it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads them (range, watch, a txn's compares and ranges).
    Read,
    /// Writes them (put, delete, a txn's puts and deletes).
    Write,
}

/// A user's permissions, merged from all of its roles.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RangePermissions {
    read: Vec<Interval>,
    write: Vec<Interval>,
}

impl RangePermissions {
    /// Merges the key permissions of `roles`.
    pub(crate) fn merge<'a>(roles: impl IntoIterator<Item = &'a Role>) -> RangePermissions {
        let mut merged = RangePermissions::default();
        for permission in roles.into_iter().flat_map(|role| &role.key_permission) {
            let interval = Interval::granted(permission);
            match permission.perm_type() {
                permission::Type::Read => merged.read.push(interval),
                permission::Type::Write => merged.write.push(interval),
                permission::Type::Readwrite => {
                    merged.read.push(interval.clone());
                    merged.write.push(interval);
                }
            }
        }
        merged.read.sort_by(|a, b| a.begin.cmp(&b.begin));
        merged.write.sort_by(|a, b| a.begin.cmp(&b.begin));
        merged
    }

    /// Whether `access` to `key` (with an empty `range_end`) or to `[key, range_end)` is
    /// permitted.
    pub(crate) fn permits(&self, key: &[u8], range_end: &[u8], access: Access) -> bool {
        let granted = match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        };
        if range_end.is_empty() {
            let point = Interval::point(key);
            return granted.iter().any(|interval| point.overlaps(interval));
        }
        covers(granted, &Interval::requested(key, range_end))
    }
}

/// Whether the intervals of `granted` (sorted by their beginning) that overlap `wanted` cover
/// it without a gap.
fn covers(granted: &[Interval], wanted: &Interval) -> bool {
    let mut overlapping = granted.iter().filter(|interval| wanted.overlaps(interval));
    let Some(first) = overlapping.next() else {
        return false;
    };
    let mut end = &first.end;
    for interval in overlapping {
        if end.cmp(&interval.begin) == Ordering::Less {
            return false;
        }
        if interval.end > *end {
            end = &interval.end;
        }
    }
    first.begin <= wanted.begin && *end >= wanted.end
}

/// A key as an interval end: the empty key sorts after every other.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound(Vec<u8>);

impl Ord for Bound {
    fn cmp(&self, other: &Bound) -> Ordering {
        match (self.0.is_empty(), other.0.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Bound) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `[begin, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Interval {
    begin: Bound,
    end: Bound,
}

impl Interval {
    /// The keys a permission grants.
    fn granted(permission: &Permission) -> Interval {
        if permission.range_end.is_empty() {
            Interval::point(&permission.key)
        } else {
            Interval::requested(&permission.key, &permission.range_end)
        }
    }

    /// The keys a request for `[key, range_end)` names (`range_end` not empty).
    fn requested(key: &[u8], range_end: &[u8]) -> Interval {
        let end = if range_end == [0] {
            Vec::new()
        } else {
            range_end.to_vec()
        };
        Interval {
            begin: Bound(key.to_vec()),
            end: Bound(end),
        }
    }

    /// The single key `key`: `[key, key\0)`.
    fn point(key: &[u8]) -> Interval {
        let mut end = key.to_vec();
        end.push(0);
        Interval {
            begin: Bound(key.to_vec()),
            end: Bound(end),
        }
    }

    /// Whether `self` and `other` share a key, as etcd's interval tree decides it.
    fn overlaps(&self, other: &Interval) -> bool {
        let left_of = self.begin < other.begin && self.end <= other.begin;
        let right_of = self.begin >= other.end;
        !left_of && !right_of
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(grants: &[(permission::Type, &str, &str)]) -> Role {
        Role {
            name: b"r".to_vec(),
            key_permission: grants
                .iter()
                .map(|(kind, key, end)| Permission {
                    perm_type: *kind as i32,
                    key: key.as_bytes().to_vec(),
                    range_end: end.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    use permission::Type::{Read, Readwrite, Write};

    #[test]
    fn a_single_key_grant_covers_that_key_only() {
        let p = RangePermissions::merge([&role(&[(Read, "foo", "")])]);
        assert!(p.permits(b"foo", b"", Access::Read));
        assert!(!p.permits(b"foo", b"", Access::Write));
        assert!(!p.permits(b"foo0", b"", Access::Read));
        assert!(!p.permits(b"fo", b"", Access::Read));
        assert!(p.permits(b"foo", b"foo\0", Access::Read));
        assert!(!p.permits(b"foo", b"fop", Access::Read));
    }

    #[test]
    fn a_prefix_grant_covers_keys_and_ranges_inside_it() {
        let p = RangePermissions::merge([&role(&[(Readwrite, "a/", "a0")])]);
        for access in [Access::Read, Access::Write] {
            assert!(p.permits(b"a/x", b"", access));
            assert!(p.permits(b"a/", b"a0", access));
            assert!(p.permits(b"a/b", b"a/c", access));
            assert!(!p.permits(b"a/", b"a1", access));
            assert!(!p.permits(b"a", b"a0", access));
            assert!(!p.permits(b"a0", b"", access));
        }
    }

    #[test]
    fn adjacent_grants_of_several_roles_cover_a_range_together() {
        let p =
            RangePermissions::merge([&role(&[(Read, "a", "c")]), &role(&[(Readwrite, "c", "e")])]);
        assert!(p.permits(b"a", b"e", Access::Read));
        assert!(!p.permits(b"a", b"e", Access::Write));
        assert!(p.permits(b"c", b"e", Access::Write));
        assert!(!p.permits(b"a", b"f", Access::Read));
        let gap = RangePermissions::merge([&role(&[(Read, "a", "c"), (Read, "d", "e")])]);
        assert!(!gap.permits(b"a", b"e", Access::Read));
        assert!(gap.permits(b"d", b"", Access::Read));
        assert!(!gap.permits(b"c", b"", Access::Read));
    }

    #[test]
    fn from_key_grants_and_requests_have_no_end() {
        let p = RangePermissions::merge([&role(&[(Write, "m", "\0")])]);
        assert!(p.permits(b"m", b"\0", Access::Write));
        assert!(p.permits(b"zzz", b"", Access::Write));
        assert!(p.permits(b"n", b"\xff\xff", Access::Write));
        assert!(!p.permits(b"l", b"\0", Access::Write));
        let bounded = RangePermissions::merge([&role(&[(Write, "m", "z")])]);
        assert!(!bounded.permits(b"m", b"\0", Access::Write));
    }

    #[test]
    fn no_roles_permit_nothing() {
        let p = RangePermissions::merge([]);
        assert!(!p.permits(b"k", b"", Access::Read));
        assert!(!p.permits(b"\0", b"\0", Access::Read));
    }
}
