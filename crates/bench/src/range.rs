//! The `range` workload: the same `Range` of one key or a key range on every request,
//! linearizable or serializable, optionally limited.

use oxcd_api::etcdserverpb::RangeRequest;

/// Which read path a range takes on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Confirmed with the leader (ReadIndex) before it is served.
    Linearizable,
    /// Served from the answering member's local state.
    Serializable,
}

impl Consistency {
    /// Parses etcd's benchmark spelling: `l` or `s`.
    pub fn parse(flag: &str) -> Option<Self> {
        match flag {
            "l" => Some(Self::Linearizable),
            "s" => Some(Self::Serializable),
            _ => None,
        }
    }

    /// The banner etcd's benchmark prints before a range run.
    pub fn banner(self) -> &'static str {
        match self {
            Self::Linearizable => "bench with linearizable range",
            Self::Serializable => "bench with serializable range",
        }
    }
}

/// Builds the `RangeRequest` of a `range` run; every request is identical.
#[derive(Clone, Debug)]
pub struct RangeWorkload {
    request: RangeRequest,
}

impl RangeWorkload {
    /// Ranges over `[key, range_end)` (just `key` when `range_end` is empty), returning at most
    /// `limit` keys (0 means no limit).
    pub fn new(key: Vec<u8>, range_end: Vec<u8>, consistency: Consistency, limit: i64) -> Self {
        Self {
            request: RangeRequest {
                key,
                range_end,
                limit,
                serializable: consistency == Consistency::Serializable,
                ..RangeRequest::default()
            },
        }
    }

    /// The request of every iteration.
    pub fn request(&self) -> RangeRequest {
        self.request.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_flags_follow_etcd_spelling() {
        assert_eq!(Consistency::parse("l"), Some(Consistency::Linearizable));
        assert_eq!(Consistency::parse("s"), Some(Consistency::Serializable));
        assert_eq!(Consistency::parse("x"), None);
    }

    #[test]
    fn requests_carry_range_limit_and_consistency() {
        let workload =
            RangeWorkload::new(b"a".to_vec(), b"b".to_vec(), Consistency::Serializable, 10);
        let request = workload.request();
        assert_eq!(request.key, b"a");
        assert_eq!(request.range_end, b"b");
        assert_eq!(request.limit, 10);
        assert!(request.serializable);
        let linear = RangeWorkload::new(b"a".to_vec(), vec![], Consistency::Linearizable, 0);
        assert!(!linear.request().serializable);
    }
}
