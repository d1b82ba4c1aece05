//! Batching of linearizable read barriers (like etcd's linearizableReadLoop): every caller
//! that arrives while a ReadIndex round is in flight waits for the next round, and one round
//! answers all of its callers. A round that gets no answer is re-sent, and fails its callers
//! with `Timeout` after an election timeout.

use tokio::sync::oneshot;

use crate::error::RaftError;

/// Where a read-index caller gets its answer.
pub(super) type ReadReply = oneshot::Sender<Result<u64, RaftError>>;

struct Round {
    /// Contexts sent for this round (the first, plus re-sends); any answer completes it.
    contexts: Vec<u64>,
    waiters: Vec<ReadReply>,
    age_ticks: usize,
    since_send_ticks: usize,
}

/// Pending and in-flight read barriers.
pub(super) struct ReadIndexBatcher {
    waiting: Vec<ReadReply>,
    inflight: Option<Round>,
    /// Contexts are `[member id][counter]`, so requests forwarded to the leader by different
    /// followers (and by earlier incarnations of this one) never collide there: the leader
    /// ignores a ReadIndex whose context is already pending.
    member_id: u64,
    next_ctx: u64,
    retry_ticks: usize,
    timeout_ticks: usize,
}

impl ReadIndexBatcher {
    /// A batcher re-sending after `retry_ticks` and giving up after `timeout_ticks`.
    pub(super) fn new(member_id: u64, retry_ticks: usize, timeout_ticks: usize) -> Self {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        ReadIndexBatcher {
            waiting: Vec::new(),
            inflight: None,
            member_id,
            next_ctx: epoch,
            retry_ticks: retry_ticks.max(1),
            timeout_ticks: timeout_ticks.max(1),
        }
    }

    /// Queues a caller for the next round.
    pub(super) fn push(&mut self, reply: ReadReply) {
        self.waiting.push(reply);
    }

    fn new_ctx(&mut self) -> u64 {
        let ctx = self.next_ctx;
        self.next_ctx = self.next_ctx.wrapping_add(1);
        ctx
    }

    fn encode(&self, ctx: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.member_id.to_be_bytes());
        out.extend_from_slice(&ctx.to_be_bytes());
        out
    }

    /// If no round is in flight and callers wait, starts a round; returns the context to
    /// send with raft's ReadIndex.
    pub(super) fn start_round(&mut self) -> Option<Vec<u8>> {
        if self.inflight.is_some() || self.waiting.is_empty() {
            return None;
        }
        let ctx = self.new_ctx();
        let waiters = std::mem::take(&mut self.waiting);
        self.inflight = Some(Round {
            contexts: vec![ctx],
            waiters,
            age_ticks: 0,
            since_send_ticks: 0,
        });
        Some(self.encode(ctx))
    }

    /// Handles raft's answer for `ctx`: answers the round's callers with `index`.
    pub(super) fn on_read_state(&mut self, ctx: &[u8], index: u64) {
        let Ok(bytes) = <[u8; 16]>::try_from(ctx) else {
            return;
        };
        let (member, counter) = bytes.split_at(8);
        if member != self.member_id.to_be_bytes() {
            return;
        }
        let Ok(counter) = <[u8; 8]>::try_from(counter) else {
            return;
        };
        let ctx = u64::from_be_bytes(counter);
        if self
            .inflight
            .as_ref()
            .is_some_and(|r| r.contexts.contains(&ctx))
            && let Some(round) = self.inflight.take()
        {
            for w in round.waiters {
                let _ = w.send(Ok(index));
            }
        }
    }

    /// Advances time by one tick; returns a context to re-send the in-flight round with, when
    /// it has waited long enough without an answer.
    pub(super) fn tick(&mut self) -> Option<Vec<u8>> {
        let round = self.inflight.as_mut()?;
        round.age_ticks += 1;
        round.since_send_ticks += 1;
        if round.age_ticks >= self.timeout_ticks {
            self.fail_all(|| RaftError::Timeout);
            return None;
        }
        if round.since_send_ticks >= self.retry_ticks {
            round.since_send_ticks = 0;
            let ctx = self.new_ctx();
            if let Some(round) = self.inflight.as_mut() {
                round.contexts.push(ctx);
            }
            return Some(self.encode(ctx));
        }
        None
    }

    /// Re-sends the in-flight round (after a leader change the old request is lost).
    pub(super) fn resend(&mut self) -> Option<Vec<u8>> {
        self.inflight.as_ref()?;
        let ctx = self.new_ctx();
        let round = self.inflight.as_mut()?;
        round.contexts.push(ctx);
        round.since_send_ticks = 0;
        Some(self.encode(ctx))
    }

    /// Fails every waiting and in-flight caller.
    pub(super) fn fail_all(&mut self, err: impl Fn() -> RaftError) {
        if let Some(round) = self.inflight.take() {
            for w in round.waiters {
                let _ = w.send(Err(err()));
            }
        }
        for w in self.waiting.drain(..) {
            let _ = w.send(Err(err()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(b: &mut ReadIndexBatcher) -> oneshot::Receiver<Result<u64, RaftError>> {
        let (tx, rx) = oneshot::channel();
        b.push(tx);
        rx
    }

    #[test]
    fn callers_share_rounds_and_late_callers_wait_for_the_next() {
        let mut b = ReadIndexBatcher::new(7, 5, 10);
        let mut first = caller(&mut b);
        let mut second = caller(&mut b);
        let ctx = b.start_round().expect("a round starts");
        assert!(b.start_round().is_none(), "one round at a time");
        let mut late = caller(&mut b);
        assert!(b.start_round().is_none());
        b.on_read_state(&ctx, 42);
        assert_eq!(first.try_recv().expect("answered").expect("ok"), 42);
        assert_eq!(second.try_recv().expect("answered").expect("ok"), 42);
        assert!(late.try_recv().is_err(), "late caller needs a fresh round");
        let ctx2 = b.start_round().expect("next round");
        assert_ne!(ctx, ctx2);
        b.on_read_state(&ctx, 41);
        assert!(
            late.try_recv().is_err(),
            "a stale answer does not complete the round"
        );
        b.on_read_state(&ctx2, 43);
        assert_eq!(late.try_recv().expect("answered").expect("ok"), 43);
    }

    #[test]
    fn contexts_are_unique_per_member() {
        let mut a = ReadIndexBatcher::new(1, 5, 10);
        let mut b = ReadIndexBatcher::new(2, 5, 10);
        let _ra = caller(&mut a);
        let mut rb = caller(&mut b);
        let ca = a.start_round().expect("round");
        let cb = b.start_round().expect("round");
        assert_ne!(ca, cb);
        // Another member's answer does not complete our round.
        b.on_read_state(&ca, 9);
        assert!(rb.try_recv().is_err());
        b.on_read_state(&cb, 10);
        assert_eq!(rb.try_recv().expect("answered").expect("ok"), 10);
    }

    #[test]
    fn unanswered_rounds_are_resent_then_time_out() {
        let mut b = ReadIndexBatcher::new(7, 2, 5);
        let mut rx = caller(&mut b);
        let ctx = b.start_round().expect("round");
        assert!(b.tick().is_none());
        let resent = b.tick().expect("re-sent after retry ticks");
        assert_ne!(resent, ctx);
        b.tick();
        b.tick();
        assert!(rx.try_recv().is_err());
        b.tick();
        assert!(matches!(rx.try_recv(), Ok(Err(RaftError::Timeout))));
    }
}
