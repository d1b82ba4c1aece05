//! The lessor: every granted lease, the keys attached to it, and — on the leader only — when it
//! expires.
//!
//! The replicated part (which leases exist, their TTLs, checkpointed remaining TTLs, which key
//! belongs to which lease) changes only in the apply loop, so it is identical on every member.
//! Expiry times are not replicated: a follower keeps every lease alive; the leader (the
//! "primary") times them and proposes the revocation of the expired ones through raft. A new
//! leader therefore restarts every lease's clock, from the checkpointed remaining TTL when
//! there is one, plus the election timeout, as etcd does.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::LeaseCheckpoint;
use oxcd_api::mvccpb::Event;
use oxcd_api::mvccpb::event::EventType;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::table::StoredLease;

/// etcd's `MaxLeaseTTL`: the largest TTL a lease may be granted, in seconds.
const MAX_LEASE_TTL: i64 = 9_000_000_000;
/// At most this many leases are given an expiry in the same second when a leader takes over
/// (etcd aims at three quarters of its revoke rate), so a leader change does not turn into a
/// storm of revocations.
const EXPIRIES_PER_SECOND: usize = 750;
/// How long an expired lease's revocation may be in flight before it is proposed again.
const REVOKE_RETRY: Duration = Duration::from_secs(3);

/// One lease.
#[derive(Debug)]
struct Lease {
    ttl: i64,
    /// Remaining TTL recorded by the last checkpoint (0: none).
    remaining_ttl: i64,
    keys: BTreeSet<Vec<u8>>,
    /// When it expires; `None` while this member is not the primary.
    expiry: Option<Instant>,
    /// When the primary should next record its remaining TTL.
    next_checkpoint: Option<Instant>,
    /// A revocation was proposed and may still be in flight until then.
    revoking_until: Option<Instant>,
}

impl Lease {
    fn stored(&self, id: i64) -> StoredLease {
        StoredLease {
            id,
            ttl: self.ttl,
            remaining_ttl: self.remaining_ttl,
        }
    }

    /// The TTL the lease's clock restarts from.
    fn restart_ttl(&self) -> i64 {
        if self.remaining_ttl > 0 {
            self.remaining_ttl
        } else {
            self.ttl
        }
    }
}

#[derive(Default)]
struct Leases {
    by_id: HashMap<i64, Lease>,
    /// Which lease each attached key belongs to.
    by_key: HashMap<Vec<u8>, i64>,
    primary: bool,
}

/// What a keep-alive found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// The lease's clock restarted at its TTL; `clear_checkpoint`: a checkpointed remaining TTL
    /// must be cleared through raft, or the next leader would restart from it.
    Renewed {
        /// The lease's TTL.
        ttl: i64,
        /// Whether a checkpoint of 0 has to be proposed.
        clear_checkpoint: bool,
    },
    /// No such lease.
    NotFound,
    /// The lease expired and its revocation is under way: the caller waits for it.
    Expired,
    /// This member is not the primary; the leader has to answer.
    NotPrimary,
}

/// Only the primary (the leader) knows when leases expire.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotPrimary;

/// What the primary knows of one lease (`LeaseTimeToLive`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LeaseStatus {
    /// Seconds left (truncated, as etcd reports them).
    pub(crate) remaining: i64,
    /// The granted TTL.
    pub(crate) granted: i64,
    /// The attached keys, sorted.
    pub(crate) keys: Vec<Vec<u8>>,
}

/// Every lease of the member. Shared by the apply loop, the Lease service and the primary's
/// expiry task.
pub(crate) struct Lessor {
    leases: Mutex<Leases>,
    min_ttl: i64,
    checkpoint_interval: Duration,
    revoked: Notify,
}

impl Lessor {
    /// A lessor granting at least `min_ttl` seconds and checkpointing leases with more than
    /// `checkpoint_interval` left that often.
    pub(crate) fn new(min_ttl: i64, checkpoint_interval: Duration) -> Lessor {
        Lessor {
            leases: Mutex::new(Leases::default()),
            min_ttl,
            checkpoint_interval,
            revoked: Notify::new(),
        }
    }

    /// Replaces every lease with the stored ones and their attached keys (at start and after a
    /// snapshot from the leader). A primary restarts their clocks at once.
    pub(crate) fn restore(&self, stored: Vec<StoredLease>, attached: Vec<(Vec<u8>, i64)>) {
        let mut leases = self.leases.lock();
        leases.by_id = stored
            .into_iter()
            .map(|s| {
                let lease = Lease {
                    ttl: s.ttl,
                    remaining_ttl: s.remaining_ttl,
                    keys: BTreeSet::new(),
                    expiry: None,
                    next_checkpoint: None,
                    revoking_until: None,
                };
                (s.id, lease)
            })
            .collect();
        leases.by_key.clear();
        for (key, id) in attached {
            if let Some(lease) = leases.by_id.get_mut(&id) {
                lease.keys.insert(key.clone());
                leases.by_key.insert(key, id);
            }
        }
        if leases.primary {
            self.start_clocks(&mut leases, Duration::ZERO);
        }
        drop(leases);
        self.revoked.notify_waiters();
    }

    /// Whether lease `id` exists.
    pub(crate) fn contains(&self, id: i64) -> bool {
        self.leases.lock().by_id.contains_key(&id)
    }

    /// Every lease id, ascending.
    pub(crate) fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.leases.lock().by_id.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    // ---- the replicated part, changed by the apply loop ----

    /// Grants lease `id` (apply side): `LeaseExist` if taken, `LeaseTtlTooLarge` above
    /// [`MAX_LEASE_TTL`]; a TTL below the minimum is raised to it. Returns the row to store.
    pub(crate) fn grant(&self, id: i64, ttl: i64) -> Result<StoredLease, EtcdError> {
        if ttl > MAX_LEASE_TTL {
            return Err(EtcdError::LeaseTtlTooLarge);
        }
        let mut leases = self.leases.lock();
        if leases.by_id.contains_key(&id) {
            return Err(EtcdError::LeaseExist);
        }
        let ttl = ttl.max(self.min_ttl);
        let now = Instant::now();
        let primary = leases.primary;
        let mut lease = Lease {
            ttl,
            remaining_ttl: 0,
            keys: BTreeSet::new(),
            expiry: primary.then(|| now + secs(ttl)),
            next_checkpoint: None,
            revoking_until: None,
        };
        if primary {
            self.schedule_checkpoint(&mut lease, now);
        }
        let stored = lease.stored(id);
        leases.by_id.insert(id, lease);
        Ok(stored)
    }

    /// The keys attached to lease `id`, sorted (`None`: no such lease). The apply loop deletes
    /// them in one revision before [`Lessor::remove`].
    pub(crate) fn attached_keys(&self, id: i64) -> Option<Vec<Vec<u8>>> {
        let leases = self.leases.lock();
        let lease = leases.by_id.get(&id)?;
        Some(lease.keys.iter().cloned().collect())
    }

    /// Forgets a revoked lease (its keys were deleted) and wakes keep-alives waiting on it.
    pub(crate) fn remove(&self, id: i64) {
        let mut leases = self.leases.lock();
        if let Some(lease) = leases.by_id.remove(&id) {
            for key in lease.keys {
                if leases.by_key.get(&key) == Some(&id) {
                    leases.by_key.remove(&key);
                }
            }
        }
        drop(leases);
        self.revoked.notify_waiters();
    }

    /// Records checkpointed remaining TTLs; returns the rows to store.
    pub(crate) fn checkpoint(&self, checkpoints: &[LeaseCheckpoint]) -> Vec<StoredLease> {
        let mut leases = self.leases.lock();
        let primary = leases.primary;
        let now = Instant::now();
        let mut changed = Vec::new();
        for checkpoint in checkpoints {
            if let Some(lease) = leases.by_id.get_mut(&checkpoint.id) {
                lease.remaining_ttl = checkpoint.remaining_ttl;
                if primary {
                    self.schedule_checkpoint(lease, now);
                }
                changed.push(lease.stored(checkpoint.id));
            }
        }
        changed
    }

    /// Follows the keys a request changed: a put attaches its key to the put's lease (and
    /// detaches it from the one it had), a delete detaches it.
    pub(crate) fn track(&self, changes: &[Event]) {
        if changes.is_empty() {
            return;
        }
        let mut guard = self.leases.lock();
        let leases = &mut *guard;
        for change in changes {
            let Some(kv) = &change.kv else { continue };
            let new = if change.r#type == EventType::Put as i32 {
                kv.lease
            } else {
                0
            };
            let old = leases.by_key.get(&kv.key).copied().unwrap_or(0);
            if old == new {
                continue;
            }
            if old != 0 {
                if let Some(lease) = leases.by_id.get_mut(&old) {
                    lease.keys.remove(&kv.key);
                }
                leases.by_key.remove(&kv.key);
            }
            if new != 0
                && let Some(lease) = leases.by_id.get_mut(&new)
            {
                lease.keys.insert(kv.key.clone());
                leases.by_key.insert(kv.key.clone(), new);
            }
        }
    }

    // ---- the primary's part: clocks, keep-alives, expiry ----

    /// Makes this member the primary (it became leader): every lease's clock restarts from its
    /// checkpointed remaining TTL or its TTL, plus `extend`, spread so that no more than
    /// [`EXPIRIES_PER_SECOND`] leases expire in any one second.
    pub(crate) fn promote(&self, extend: Duration) {
        let mut leases = self.leases.lock();
        leases.primary = true;
        self.start_clocks(&mut leases, extend);
    }

    /// Stops timing leases (leadership was lost); they live on until a primary times them.
    pub(crate) fn demote(&self) {
        let mut leases = self.leases.lock();
        leases.primary = false;
        for lease in leases.by_id.values_mut() {
            lease.expiry = None;
            lease.next_checkpoint = None;
            lease.revoking_until = None;
        }
        drop(leases);
        self.revoked.notify_waiters();
    }

    /// Restarts lease `id`'s clock (a keep-alive reached the primary).
    pub(crate) fn renew(&self, id: i64) -> Renewal {
        let mut leases = self.leases.lock();
        if !leases.primary {
            return Renewal::NotPrimary;
        }
        let Some(lease) = leases.by_id.get_mut(&id) else {
            return Renewal::NotFound;
        };
        let now = Instant::now();
        if lease.expiry.is_some_and(|expiry| expiry <= now) {
            return Renewal::Expired;
        }
        lease.expiry = Some(now + secs(lease.ttl));
        let clear_checkpoint = lease.remaining_ttl > 0;
        self.schedule_checkpoint(lease, now);
        Renewal::Renewed {
            ttl: lease.ttl,
            clear_checkpoint,
        }
    }

    /// Waits until a lease is revoked or leadership changes (or `timeout` passes): what a
    /// keep-alive of an expired lease waits for before answering.
    pub(crate) async fn wait_revocation(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.revoked.notified()).await;
    }

    /// What the primary knows of lease `id`; `None` if there is no such lease.
    pub(crate) fn status(
        &self,
        id: i64,
        with_keys: bool,
    ) -> Result<Option<LeaseStatus>, NotPrimary> {
        let leases = self.leases.lock();
        if !leases.primary {
            return Err(NotPrimary);
        }
        let Some(lease) = leases.by_id.get(&id) else {
            return Ok(None);
        };
        let now = Instant::now();
        let remaining = match lease.expiry {
            Some(expiry) if expiry >= now => (expiry - now).as_secs() as i64,
            Some(expiry) => -((now - expiry).as_secs() as i64),
            None => lease.ttl,
        };
        Ok(Some(LeaseStatus {
            remaining,
            granted: lease.ttl,
            keys: if with_keys {
                lease.keys.iter().cloned().collect()
            } else {
                Vec::new()
            },
        }))
    }

    /// Up to `limit` expired leases whose revocation is not already in flight; each is marked
    /// in flight for a while, so a lost proposal is retried later, not at once.
    pub(crate) fn take_expired(&self, limit: usize) -> Vec<i64> {
        let mut leases = self.leases.lock();
        if !leases.primary {
            return Vec::new();
        }
        let now = Instant::now();
        let mut expired: Vec<(Instant, i64)> = leases
            .by_id
            .iter()
            .filter_map(|(id, lease)| {
                let expiry = lease.expiry?;
                let in_flight = lease.revoking_until.is_some_and(|until| until > now);
                (expiry <= now && !in_flight).then_some((expiry, *id))
            })
            .collect();
        expired.sort_unstable();
        expired.truncate(limit);
        for (_, id) in &expired {
            if let Some(lease) = leases.by_id.get_mut(id) {
                lease.revoking_until = Some(now + REVOKE_RETRY);
            }
        }
        expired.into_iter().map(|(_, id)| id).collect()
    }

    /// Up to `limit` checkpoints that are due: the remaining TTL of long leases, recorded
    /// through raft so that the next leader does not restart them from their full TTL.
    pub(crate) fn take_due_checkpoints(&self, limit: usize) -> Vec<LeaseCheckpoint> {
        let mut leases = self.leases.lock();
        if !leases.primary {
            return Vec::new();
        }
        let now = Instant::now();
        let mut due = Vec::new();
        for (id, lease) in leases.by_id.iter_mut() {
            if due.len() >= limit {
                break;
            }
            let (Some(at), Some(expiry)) = (lease.next_checkpoint, lease.expiry) else {
                continue;
            };
            if at > now || expiry <= now {
                continue;
            }
            lease.next_checkpoint = None;
            let remaining = (expiry - now).as_secs_f64().ceil() as i64;
            due.push(LeaseCheckpoint {
                id: *id,
                remaining_ttl: remaining,
            });
        }
        due
    }

    fn start_clocks(&self, leases: &mut Leases, extend: Duration) {
        let now = Instant::now();
        let mut order: Vec<(Instant, i64)> = Vec::with_capacity(leases.by_id.len());
        for (id, lease) in leases.by_id.iter_mut() {
            let expiry = now + extend + secs(lease.restart_ttl());
            lease.expiry = Some(expiry);
            lease.revoking_until = None;
            self.schedule_checkpoint(lease, now);
            order.push((expiry, *id));
        }
        order.sort_unstable();
        let Some(&(first, _)) = order.first() else {
            return;
        };
        for (rank, (expiry, id)) in order.into_iter().enumerate() {
            let earliest = first + Duration::from_secs((rank / EXPIRIES_PER_SECOND) as u64);
            if earliest > expiry
                && let Some(lease) = leases.by_id.get_mut(&id)
            {
                lease.expiry = Some(earliest);
            }
        }
    }

    fn schedule_checkpoint(&self, lease: &mut Lease, now: Instant) {
        let remaining = lease
            .expiry
            .map_or(Duration::ZERO, |e| e.saturating_duration_since(now));
        lease.next_checkpoint =
            (remaining > self.checkpoint_interval).then(|| now + self.checkpoint_interval);
    }
}

fn secs(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_api::mvccpb::KeyValue;

    fn put(key: &str, lease: i64) -> Event {
        Event {
            r#type: EventType::Put as i32,
            kv: Some(KeyValue {
                key: key.into(),
                lease,
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    fn delete(key: &str) -> Event {
        Event {
            r#type: EventType::Delete as i32,
            kv: Some(KeyValue {
                key: key.into(),
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    fn lessor() -> Lessor {
        Lessor::new(2, Duration::from_secs(300))
    }

    #[test]
    fn grant_applies_the_minimum_and_the_maximum() {
        let l = lessor();
        assert_eq!(l.grant(1, 1).unwrap().ttl, 2);
        assert_eq!(l.grant(2, 60).unwrap().ttl, 60);
        assert_eq!(l.grant(1, 60), Err(EtcdError::LeaseExist));
        assert_eq!(
            l.grant(3, MAX_LEASE_TTL + 1),
            Err(EtcdError::LeaseTtlTooLarge)
        );
        assert_eq!(l.ids(), vec![1, 2]);
    }

    #[test]
    fn puts_and_deletes_move_keys_between_leases() {
        let l = lessor();
        l.grant(1, 10).unwrap();
        l.grant(2, 10).unwrap();
        l.track(&[put("a", 1), put("b", 1), put("c", 2)]);
        assert_eq!(
            l.attached_keys(1).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        l.track(&[put("a", 2), delete("b"), put("c", 0)]);
        assert!(l.attached_keys(1).unwrap().is_empty());
        assert_eq!(l.attached_keys(2).unwrap(), vec![b"a".to_vec()]);
        l.remove(2);
        assert_eq!(l.attached_keys(2), None);
        l.track(&[put("a", 0)]);
        assert!(!l.contains(2));
    }

    #[test]
    fn only_the_primary_renews_and_expires() {
        let l = lessor();
        l.grant(7, 10).unwrap();
        assert_eq!(l.renew(7), Renewal::NotPrimary);
        assert!(l.take_expired(10).is_empty());
        l.promote(Duration::ZERO);
        assert_eq!(
            l.renew(7),
            Renewal::Renewed {
                ttl: 10,
                clear_checkpoint: false
            }
        );
        assert_eq!(l.renew(8), Renewal::NotFound);
        let status = l.status(7, false).unwrap().unwrap();
        assert!((9..=10).contains(&status.remaining), "{status:?}");
        l.demote();
        assert_eq!(l.renew(7), Renewal::NotPrimary);
    }

    #[test]
    fn expired_leases_are_handed_out_once_until_the_retry() {
        let l = Lessor::new(0, Duration::from_secs(300));
        l.promote(Duration::ZERO);
        l.grant(1, 0).unwrap();
        l.grant(2, 100).unwrap();
        assert_eq!(l.take_expired(10), vec![1]);
        assert!(l.take_expired(10).is_empty(), "revocation in flight");
        assert_eq!(l.renew(1), Renewal::Expired);
    }

    #[test]
    fn a_new_primary_restarts_from_the_checkpoint_and_spreads_expiries() {
        let l = Lessor::new(1, Duration::from_secs(1));
        l.grant(1, 100).unwrap();
        l.checkpoint(&[LeaseCheckpoint {
            id: 1,
            remaining_ttl: 30,
        }]);
        for id in 10..2010 {
            l.grant(id, 5).unwrap();
        }
        l.promote(Duration::from_secs(1));
        let remaining = l.status(1, false).unwrap().unwrap().remaining;
        assert!(
            (29..=31).contains(&remaining),
            "restarted from 30 s + 1 s: {remaining}"
        );
        let mut by_second = HashMap::new();
        for id in 10..2010 {
            *by_second
                .entry(l.status(id, false).unwrap().unwrap().remaining)
                .or_insert(0) += 1;
        }
        assert!(
            by_second.values().all(|n| *n <= EXPIRIES_PER_SECOND + 1),
            "{by_second:?}"
        );
    }

    #[test]
    fn long_leases_are_checkpointed_by_the_primary() {
        let l = Lessor::new(1, Duration::ZERO);
        l.promote(Duration::ZERO);
        l.grant(1, 100).unwrap();
        let due = l.take_due_checkpoints(10);
        assert_eq!(due.len(), 1);
        assert!((99..=100).contains(&due[0].remaining_ttl));
        l.checkpoint(&due);
        assert!(matches!(
            l.renew(1),
            Renewal::Renewed {
                clear_checkpoint: true,
                ..
            }
        ));
    }
}
