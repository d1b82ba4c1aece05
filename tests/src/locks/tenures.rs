//! The mutual-exclusion check over the guarded writes read back from etcd: in revision order
//! the writes must form contiguous tenures, one per (holder, fencing token); a tenure never
//! resumes once another began, tokens strictly increase from tenure to tenure (so no write with
//! an older token follows a newer token's), each token precedes its writes, and the protected
//! resource holds the last write.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use anyhow::{Context, Result};
use oxcd_client::Client;
use oxcd_client::api::etcdserverpb::{
    RangeRequest, RequestOp, TxnRequest, request_op, response_op,
};
use oxcd_client::api::key_range::prefix_end;

use super::event::{WriteRecord, history_prefix, resource_key};

/// A guarded write as found in etcd: its record and the revision that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardedWrite {
    /// The revision of the transaction that made the write.
    pub revision: i64,
    /// Who wrote, under which token, which write of the tenure.
    pub record: WriteRecord,
}

impl fmt::Display for GuardedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let WriteRecord { holder, token, seq } = self.record;
        write!(
            f,
            "rev {}: holder {holder} token {token} write {seq}",
            self.revision
        )
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Default)]
pub struct TenureReport {
    /// Guarded writes checked.
    pub writes: usize,
    /// Tenures (maximal runs of one holder's writes under one token).
    pub tenures: usize,
    /// Holders that wrote at least once.
    pub holders: BTreeSet<u64>,
    /// Every breach of mutual exclusion, with the revisions involved.
    pub violations: Vec<String>,
}

impl TenureReport {
    /// True when no violation was found.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for TenureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} guarded writes in {} tenures by holders {:?}: {} violations",
            self.writes,
            self.tenures,
            self.holders,
            self.violations.len()
        )?;
        for violation in &self.violations {
            write!(f, "\n  {violation}")?;
        }
        Ok(())
    }
}

/// The tenure being extended while walking the history.
struct Tenure {
    first: GuardedWrite,
    last: GuardedWrite,
}

/// Checks `writes` (in any order; sorted by revision here) for interleaved tenures.
pub fn check(writes: &[GuardedWrite]) -> TenureReport {
    let mut writes = writes.to_vec();
    writes.sort_by_key(|write| write.revision);
    let mut report = TenureReport {
        writes: writes.len(),
        ..TenureReport::default()
    };
    let mut ended: HashSet<i64> = HashSet::new();
    let mut newest_token = i64::MIN;
    let mut current: Option<Tenure> = None;
    let mut previous_revision = None;
    for write in writes {
        let WriteRecord { holder, token, seq } = write.record;
        report.holders.insert(holder);
        if previous_revision == Some(write.revision) {
            report
                .violations
                .push(format!("two guarded writes at one revision: {write}"));
        }
        previous_revision = Some(write.revision);
        if token >= write.revision {
            report.violations.push(format!(
                "{write}: the token is not older than the write it guards"
            ));
        }
        if let Some(tenure) = current.as_mut()
            && tenure.last.record.token == token
        {
            if tenure.last.record.holder != holder {
                report.violations.push(format!(
                    "token {token} used by two holders: {} and {write}",
                    tenure.last
                ));
            }
            if seq <= tenure.last.record.seq {
                report.violations.push(format!(
                    "writes of one tenure out of order: {} then {write}",
                    tenure.last
                ));
            }
            tenure.last = write;
            continue;
        }
        if ended.contains(&token) {
            report.violations.push(format!(
                "interleaved tenures: {write} resumes a tenure after {}",
                current
                    .as_ref()
                    .map_or_else(String::new, |t| t.last.to_string())
            ));
        } else if token < newest_token {
            report.violations.push(format!(
                "older token after a newer one: {write} follows token {newest_token} (first written by {})",
                current.as_ref().map_or_else(String::new, |t| t.first.to_string())
            ));
        }
        if let Some(tenure) = current.take() {
            ended.insert(tenure.last.record.token);
        }
        newest_token = newest_token.max(token);
        report.tenures += 1;
        current = Some(Tenure {
            first: write,
            last: write,
        });
    }
    report
}

/// Reads back every guarded write of lock `name` and the resource key (in one transaction, so
/// at one revision) and checks them: the tenure rules of [`check`], and the resource holding
/// exactly the last write.
pub async fn read_and_check(client: &Client, name: &str) -> Result<TenureReport> {
    let prefix = history_prefix(name).into_bytes();
    let read = |range: RangeRequest| RequestOp {
        request: Some(request_op::Request::RequestRange(range)),
    };
    let answer = client
        .kv()
        .txn(TxnRequest {
            compare: Vec::new(),
            success: vec![
                read(RangeRequest {
                    range_end: prefix_end(&prefix),
                    key: prefix,
                    ..RangeRequest::default()
                }),
                read(RangeRequest {
                    key: resource_key(name).into_bytes(),
                    ..RangeRequest::default()
                }),
            ],
            failure: Vec::new(),
        })
        .await
        .context("reading the guarded writes and the resource")?
        .into_inner();
    let mut ranges = answer
        .responses
        .into_iter()
        .filter_map(|op| match op.response {
            Some(response_op::Response::ResponseRange(range)) => Some(range.kvs),
            _ => None,
        });
    let (history, resource) = (
        ranges.next().unwrap_or_default(),
        ranges.next().unwrap_or_default(),
    );
    let writes = history
        .iter()
        .map(|kv| {
            let text = String::from_utf8_lossy(&kv.value);
            Ok(GuardedWrite {
                revision: kv.mod_revision,
                record: text.parse()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut report = check(&writes);
    let last = writes.iter().max_by_key(|write| write.revision);
    match (resource.first(), last) {
        (None, None) => {}
        (Some(kv), Some(last))
            if kv.mod_revision == last.revision
                && kv.value == last.record.to_string().as_bytes() => {}
        (kv, last) => report.violations.push(format!(
            "the resource does not hold the last guarded write ({}): {:?}",
            last.map_or_else(|| "none".to_owned(), ToString::to_string),
            kv.map(|kv| (
                kv.mod_revision,
                String::from_utf8_lossy(&kv.value).into_owned()
            ))
        )),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes at revisions 10, 11, ... from `(holder, token, seq)` triples, in that order.
    fn history(steps: &[(u64, i64, u64)]) -> Vec<GuardedWrite> {
        steps
            .iter()
            .enumerate()
            .map(|(i, &(holder, token, seq))| GuardedWrite {
                revision: 10 + i as i64,
                record: WriteRecord { holder, token, seq },
            })
            .collect()
    }

    #[test]
    fn contiguous_tenures_with_growing_tokens_pass() {
        let report = check(&history(&[
            (1, 2, 0),
            (1, 2, 1),
            (2, 5, 0),
            (1, 8, 0),
            (1, 8, 2),
        ]));
        assert!(report.passed(), "{report}");
        assert_eq!(
            (report.writes, report.tenures, report.holders.len()),
            (5, 3, 2)
        );
        assert!(check(&[]).passed());
    }

    #[test]
    fn order_comes_from_revisions_not_from_the_input() {
        let mut writes = history(&[(1, 2, 0), (2, 5, 0), (2, 5, 1)]);
        writes.reverse();
        assert!(check(&writes).passed());
    }

    #[test]
    fn a_tenure_resumed_after_another_is_flagged() {
        let report = check(&history(&[(1, 2, 0), (2, 5, 0), (1, 2, 1)]));
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(report.violations[0].contains("interleaved"), "{report}");
    }

    #[test]
    fn an_older_token_after_a_newer_one_is_flagged() {
        // Holder 1 never wrote before holder 2, but its token is older: a holder that lost
        // the lock wrote after its successor did.
        let report = check(&history(&[(2, 5, 0), (1, 3, 0)]));
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(report.violations[0].contains("older token"), "{report}");
    }

    #[test]
    fn shared_tokens_reordered_writes_and_late_tokens_are_flagged() {
        let shared = check(&history(&[(1, 2, 0), (2, 2, 1)]));
        assert!(shared.violations[0].contains("two holders"), "{shared}");
        let reordered = check(&history(&[(1, 2, 1), (1, 2, 0)]));
        assert!(
            reordered.violations[0].contains("out of order"),
            "{reordered}"
        );
        let late = check(&history(&[(1, 30, 0)]));
        assert!(late.violations[0].contains("not older"), "{late}");
        let mut same_revision = history(&[(1, 2, 0), (1, 2, 1)]);
        same_revision[1].revision = same_revision[0].revision;
        assert!(!check(&same_revision).passed());
    }
}
