//! Third-party etcd clients' own test suites, unchanged, run against a server the way their
//! authors run them (a member on `localhost:2379`), so that one run against
//! real etcd 3.5.1 and one against oxcd can be compared test by test.
//! `scripts/install-third-party-suites.sh` installs the suites under `.third-party/`.

pub mod etcd_client_crate;
pub mod outcomes;
pub mod python_suite;
pub mod suite_server;

use std::path::PathBuf;

use anyhow::{Result, bail};

pub use outcomes::Outcomes;
pub use suite_server::SuiteServer;

/// One suite run: its per-test outcomes and the runner's whole report, to show on a mismatch.
pub struct SuiteRun {
    /// What each test ended as.
    pub outcomes: Outcomes,
    /// What the runner printed.
    pub report: String,
}

/// The directory `name` under `.third-party/`, once the install script completed it.
pub fn installed(name: &str) -> Result<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.third-party")).join(name);
    if !dir.join(".complete").is_file() {
        bail!(
            "{} is not installed; run scripts/install-test-deps.sh (the test command does)",
            dir.display()
        );
    }
    Ok(dir)
}

/// Panics unless every test of `suite` ended on oxcd as on etcd, apart from `known`
/// differences (test id, why) — which must still differ, so the list stays true — and unless
/// etcd passed at least `min_passed` tests (a run that ran nothing proves nothing).
pub fn assert_same_outcomes(
    suite: &str,
    etcd: &SuiteRun,
    oxcd: &SuiteRun,
    known: &[(&str, &str)],
    min_passed: usize,
) {
    let etcd_passed = etcd.outcomes.passed();
    assert!(
        etcd_passed >= min_passed,
        "{suite}: only {etcd_passed} tests passed against etcd 3.5.1 (expected at least \
         {min_passed}); its report:\n{}",
        etcd.report
    );
    let differences = oxcd.outcomes.differences(&etcd.outcomes);
    let unexpected: Vec<_> = differences
        .iter()
        .filter(|(id, ..)| !known.iter().any(|(known_id, _)| known_id == id))
        .collect();
    let vanished: Vec<_> = known
        .iter()
        .filter(|(known_id, _)| !differences.iter().any(|(id, ..)| id == known_id))
        .collect();
    assert!(
        unexpected.is_empty() && vanished.is_empty(),
        "{suite}: tests that ended differently on oxcd than on etcd 3.5.1 \
         (id, oxcd, etcd): {unexpected:#?}\nknown differences that no longer differ: \
         {vanished:#?}\noxcd's report:\n{}",
        oxcd.report
    );
}
