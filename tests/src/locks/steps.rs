//! The steps a lock or election fault is made of, shared by the tests and `oxrobust`: wait
//! for a fresh grant (so the fault hits a holder with its whole tenure ahead), wait for the
//! successor within the bound, make sure the victim learned it lost and wrote nothing after —
//! and the check of what an election observer saw. Also the timing both use: the sessions'
//! TTL, the members' election timeout, and the failover bound derived from them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use oxcd_client::Client;
use oxcd_client::concurrency::observe_election;
use tokio::task::JoinHandle;

use super::event::Event;
use super::holders::{Found, Holders};

/// The lease TTL of every holder's and campaigner's session, in seconds.
pub const SESSION_TTL: i64 = 2;

/// The members' `--election-timeout` in milliseconds (heartbeats every 100 ms).
pub const ELECTION_TIMEOUT_MS: u64 = 1000;

/// Extra time on top of TTL + election timeout, for a busy two-core machine.
pub const SLACK: Duration = Duration::from_secs(4);

/// Bound on waits that follow no fault.
pub const SETTLE: Duration = Duration::from_secs(30);

/// The members' timing flags.
pub fn timing_args() -> Vec<String> {
    vec![
        "--heartbeat-interval".into(),
        "100".into(),
        "--election-timeout".into(),
        ELECTION_TIMEOUT_MS.to_string(),
    ]
}

/// TTL + election timeout + [`SLACK`]: how long after a fault the lock or leadership may
/// take to move on.
pub fn failover_bound() -> Duration {
    Duration::from_secs(SESSION_TTL as u64) + Duration::from_millis(ELECTION_TIMEOUT_MS) + SLACK
}

/// The fencing token of a grant.
pub fn acquired(event: &Event) -> Option<i64> {
    match event {
        Event::Acquired { token } => Some(*token),
        _ => None,
    }
}

/// The key revision of a new leader.
pub fn leading(event: &Event) -> Option<i64> {
    match event {
        Event::Leading { revision } => Some(*revision),
        _ => None,
    }
}

impl Holders {
    /// Waits for a grant (lock mode) or a new leader (election mode) after now.
    pub async fn fresh(
        &self,
        timeout: Duration,
        matcher: fn(&Event) -> Option<i64>,
    ) -> Result<Found<i64>> {
        self.wait_for("a new holder", Instant::now(), |_| true, timeout, matcher)
            .await
    }

    /// Waits until a process other than `victim` holds (by `matcher`) after `fault`, within
    /// `bound`; its token or key revision must exceed the victim's `token`.
    pub async fn successor(
        &self,
        victim: usize,
        token: i64,
        fault: Instant,
        bound: Duration,
        matcher: fn(&Event) -> Option<i64>,
    ) -> Result<Found<i64>> {
        let next = self
            .wait_for("a successor", fault, |i| i != victim, bound, matcher)
            .await?;
        if next.value <= token {
            bail!("successor's token {} is not above {token}", next.value);
        }
        Ok(next)
    }

    /// Waits until the holder of `grant` reported its first write, so later writes are known
    /// to follow it.
    pub async fn first_write(&self, grant: &Found<i64>, timeout: Duration) -> Result<()> {
        let token = grant.value;
        self.wait_for(
            "the new holder's first write",
            grant.at,
            |i| i == grant.index,
            timeout,
            |event| matches!(event, Event::Wrote { token: t, .. } if *t == token).then_some(()),
        )
        .await?;
        Ok(())
    }

    /// After a fault at `fault`, the victim must report that its tenure with `token` is over
    /// before it acquires again — by a refused guarded write, or (unless `refusal_only`) a
    /// failed call — and every write of that tenure it reported must precede the successor's
    /// token `successor`.
    pub async fn victim_learns_it_lost(
        &self,
        victim: usize,
        token: i64,
        successor: i64,
        fault: Instant,
        refusal_only: bool,
        timeout: Duration,
    ) -> Result<()> {
        let learned = self
            .wait_for(
                "the victim to learn it lost the lock",
                fault,
                |i| i == victim,
                timeout,
                |event| match event {
                    Event::Refused { token: t, .. } if *t == token => Some(true),
                    Event::Failed { .. } if !refusal_only => Some(true),
                    Event::Acquired { token: t } if *t > token => Some(false),
                    _ => None,
                },
            )
            .await?;
        let id = self.get(victim).id();
        if !learned.value {
            bail!("holder {id} acquired again without noticing it lost token {token}");
        }
        for stamped in self.get(victim).events() {
            if let Event::Wrote {
                token: t, revision, ..
            } = stamped.event
                && t == token
                && revision >= successor
            {
                bail!(
                    "holder {id} wrote at revision {revision} with token {token} after token {successor} was granted"
                );
            }
        }
        Ok(())
    }

    /// Waits for `count` more grants or leaders (by `matcher`), one after the other.
    pub async fn more(
        &self,
        count: usize,
        timeout: Duration,
        matcher: fn(&Event) -> Option<i64>,
    ) -> Result<()> {
        let mut since = Instant::now();
        for _ in 0..count {
            since = self
                .wait_for("more grants", since, |_| true, timeout, matcher)
                .await?
                .at;
        }
        Ok(())
    }
}

/// A leader as an observer saw it: key, the key's create revision, value.
pub type Observation = (Vec<u8>, i64, Vec<u8>);

/// How long the observer waits before observing again after its stream ended.
const REOBSERVE_PAUSE: Duration = Duration::from_millis(200);

/// Follows an election in the background, recording every leader and proclamation. An
/// observation ends with an error (its member died, say); the observer then starts a new one,
/// so what it saw comes in segments, one per observation.
pub struct Observer {
    seen: Arc<Mutex<Vec<Vec<Observation>>>>,
    task: JoinHandle<()>,
}

impl Observer {
    /// Starts observing election `name`.
    pub fn start(client: &Client, name: &str) -> Observer {
        let seen: Arc<Mutex<Vec<Vec<Observation>>>> = Arc::default();
        let sink = seen.clone();
        let client = client.clone();
        let name = name.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let mut changes = observe_election(&client, &name);
                sink.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(Vec::new());
                while let Some(Ok(response)) = changes.next().await {
                    let mut sink = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if let Some(segment) = sink.last_mut() {
                        segment.extend(
                            response
                                .kvs
                                .into_iter()
                                .map(|kv| (kv.key, kv.create_revision, kv.value)),
                        );
                    }
                }
                tokio::time::sleep(REOBSERVE_PAUSE).await;
            }
        });
        Observer { seen, task }
    }

    /// What was seen so far, one segment per observation.
    pub fn seen(&self) -> Vec<Vec<Observation>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Problems with what an observer saw, in segments (one per observation): within one,
/// leaders must come in the order of their keys' create revisions and each leader's
/// proclamations (`<id> <round>`) in round order; a later segment never starts with an older
/// leader than the one an earlier segment ended with; and the leaders in `expected` (key
/// revisions) must all have been seen.
pub fn check_observed(segments: &[Vec<Observation>], expected: &[i64]) -> Vec<String> {
    let mut problems = Vec::new();
    if segments.iter().all(Vec::is_empty) {
        problems.push("the observer saw no leader".to_owned());
    }
    let round = |value: &[u8]| -> Option<u64> {
        String::from_utf8_lossy(value)
            .split_once(' ')
            .and_then(|(_, round)| round.parse().ok())
    };
    for seen in segments {
        for pair in seen.windows(2) {
            let ((key_a, rev_a, value_a), (key_b, rev_b, value_b)) = (&pair[0], &pair[1]);
            if key_a == key_b && rev_a == rev_b {
                if round(value_a).is_some() && round(value_a) >= round(value_b) {
                    problems.push(format!(
                        "proclamations out of order: {:?} then {:?}",
                        String::from_utf8_lossy(value_a),
                        String::from_utf8_lossy(value_b)
                    ));
                }
            } else if rev_a >= rev_b {
                problems.push(format!("leader {rev_b} observed after leader {rev_a}"));
            }
        }
    }
    let nonempty: Vec<&Vec<Observation>> =
        segments.iter().filter(|seen| !seen.is_empty()).collect();
    for pair in nonempty.windows(2) {
        let (ended, started) = (pair[0][pair[0].len() - 1].1, pair[1][0].1);
        if started < ended {
            problems.push(format!(
                "leader {started} observed after leader {ended} (across observations)"
            ));
        }
    }
    for revision in expected {
        if !segments.iter().flatten().any(|(_, rev, _)| rev == revision) {
            problems.push(format!(
                "the observer missed leader {revision}: saw {:?}",
                segments
                    .iter()
                    .map(|seen| seen.iter().map(|(_, rev, _)| *rev).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(steps: &[(&str, i64, &str)]) -> Vec<Observation> {
        steps
            .iter()
            .map(|&(key, rev, value)| (key.into(), rev, value.into()))
            .collect()
    }

    #[test]
    fn leaders_in_order_with_ordered_proclamations_pass() {
        let ok = seen(&[
            ("e/1", 5, "1"),
            ("e/1", 5, "1 0"),
            ("e/1", 5, "1 1"),
            ("e/2", 9, "2"),
        ]);
        assert!(check_observed(&[ok], &[5, 9]).is_empty());
        // A new observation starts again with the current leader's latest proclamation.
        let first = seen(&[("e/1", 5, "1"), ("e/1", 5, "1 1")]);
        let again = seen(&[("e/1", 5, "1 1"), ("e/2", 9, "2")]);
        assert!(check_observed(&[first, again], &[9]).is_empty());
    }

    #[test]
    fn older_leaders_late_proclamations_and_missed_leaders_are_flagged() {
        let back = seen(&[("e/2", 9, "2"), ("e/1", 5, "1")]);
        assert_eq!(check_observed(&[back], &[]).len(), 1);
        let rounds = seen(&[("e/1", 5, "1 2"), ("e/1", 5, "1 1")]);
        assert_eq!(check_observed(&[rounds], &[]).len(), 1);
        let missed = seen(&[("e/1", 5, "1")]);
        assert_eq!(check_observed(&[missed], &[9]).len(), 1);
        assert_eq!(check_observed(&[], &[]).len(), 1);
        let across = [seen(&[("e/2", 9, "2")]), seen(&[("e/1", 5, "1")])];
        assert_eq!(check_observed(&across, &[]).len(), 1);
    }
}
