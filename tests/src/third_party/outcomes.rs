//! Per-test outcomes read from a test runner's report (libtest's `test NAME ... ok` lines,
//! pytest's `-v` lines), and how two runs of one suite differ.

use std::collections::{BTreeMap, BTreeSet};

/// What each test of a suite run ended as, by test id (`ok`, `FAILED`, `ignored`, `PASSED`,
/// …; a pytest test that also errored in teardown reads `PASSED+ERROR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes(BTreeMap<String, String>);

impl Outcomes {
    /// Reads libtest's report of test binary `binary`; ids are `binary::test_name`.
    pub fn from_libtest(binary: &str, report: &str) -> Outcomes {
        let mut outcomes = Outcomes::default();
        for line in report.lines() {
            let Some((name, verdict)) = line
                .strip_prefix("test ")
                .and_then(|rest| rest.split_once(" ... "))
            else {
                continue;
            };
            // `ignored, <reason>`: the reason is the suite's, the verdict is `ignored`.
            let verdict = verdict.split(',').next().unwrap_or(verdict).trim();
            outcomes.record(format!("{binary}::{name}"), verdict);
        }
        outcomes
    }

    /// Reads pytest's `-v` report; ids are pytest's node ids (`tests/x.py::Class::test`).
    pub fn from_pytest(report: &str) -> Outcomes {
        const VERDICTS: [&str; 6] = ["PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL", "XPASS"];
        let mut outcomes = Outcomes::default();
        for line in report.lines() {
            let mut words = line.split_whitespace();
            let (Some(id), Some(verdict)) = (words.next(), words.next()) else {
                continue;
            };
            if id.contains("::") && VERDICTS.contains(&verdict) {
                outcomes.record(id.to_owned(), verdict);
            }
        }
        outcomes
    }

    fn record(&mut self, id: String, verdict: &str) {
        self.0
            .entry(id)
            .and_modify(|seen| {
                seen.push('+');
                seen.push_str(verdict);
            })
            .or_insert_with(|| verdict.to_owned());
    }

    /// Adds another binary's outcomes to these.
    pub fn merge(&mut self, other: Outcomes) {
        self.0.extend(other.0);
    }

    /// How many tests ran to a pass.
    pub fn passed(&self) -> usize {
        self.0
            .values()
            .filter(|verdict| matches!(verdict.as_str(), "ok" | "PASSED"))
            .count()
    }

    /// The outcome of test `id`, if it ran.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// Every test whose outcome here differs from `reference`'s, as
    /// `(id, outcome here, outcome in reference)`; a test missing from one run reads `absent`.
    pub fn differences(&self, reference: &Outcomes) -> Vec<(String, String, String)> {
        let ids: BTreeSet<&String> = self.0.keys().chain(reference.0.keys()).collect();
        ids.into_iter()
            .filter_map(|id| {
                let here = self.get(id).unwrap_or("absent");
                let there = reference.get(id).unwrap_or("absent");
                (here != there).then(|| (id.clone(), here.to_owned(), there.to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines_give_the_verdict_without_the_ignore_reason() {
        let report = "running 3 tests\n\
                      test test_put ... ok\n\
                      test test_get_stream ... ignored, requires etcd v3.7 or later\n\
                      test test_auth ... FAILED\n\
                      \n\
                      test result: FAILED. 1 passed; 1 failed; 1 ignored\n";
        let outcomes = Outcomes::from_libtest("client", report);
        assert_eq!(outcomes.get("client::test_put"), Some("ok"));
        assert_eq!(outcomes.get("client::test_get_stream"), Some("ignored"));
        assert_eq!(outcomes.get("client::test_auth"), Some("FAILED"));
        assert_eq!(outcomes.passed(), 1);
    }

    #[test]
    fn pytest_lines_keep_every_verdict_of_a_test() {
        let report = "tests/t.py::TestA::test_put PASSED                 [ 50%]\n\
                      tests/t.py::TestA::test_put ERROR                  [ 50%]\n\
                      tests/t.py::TestA::test_get FAILED                 [100%]\n\
                      FAILED tests/t.py::TestA::test_get - assert 1 == 3\n";
        let outcomes = Outcomes::from_pytest(report);
        assert_eq!(
            outcomes.get("tests/t.py::TestA::test_put"),
            Some("PASSED+ERROR")
        );
        assert_eq!(outcomes.get("tests/t.py::TestA::test_get"), Some("FAILED"));
        assert_eq!(outcomes.passed(), 0);
    }

    #[test]
    fn differences_name_tests_that_ran_differently_or_only_once() {
        let etcd = Outcomes::from_pytest("t.py::a PASSED\nt.py::b PASSED\nt.py::c FAILED\n");
        let oxcd = Outcomes::from_pytest("t.py::a PASSED\nt.py::b FAILED\nt.py::d PASSED\n");
        assert_eq!(
            oxcd.differences(&etcd),
            [
                ("t.py::b".into(), "FAILED".into(), "PASSED".into()),
                ("t.py::c".into(), "absent".into(), "FAILED".into()),
                ("t.py::d".into(), "PASSED".into(), "absent".into()),
            ]
        );
    }
}
