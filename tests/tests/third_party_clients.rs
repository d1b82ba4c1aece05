//! Third-party etcd clients' own test suites, unchanged, against real etcd 3.5.1 and against
//! oxcd side by side (each server alone in its own network namespace on `localhost:2379`):
//! every test must end on oxcd exactly as on etcd. The Rust etcd-client crate's suite covers
//! auth enable/disable, users, roles and permissions, and token refresh (expiry after the
//! two-second TTL, and a single re-authentication for concurrent calls, counted through
//! `/metrics`); python-etcd3's covers its KV, watch, lease, lock, txn and member calls.
//! Needs root and the suites that `scripts/install-test-deps.sh` installs.

use oxcd_tests::Server;
use oxcd_tests::third_party::{
    SuiteRun, SuiteServer, assert_same_outcomes, etcd_client_crate, python_etcd3,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_client_crate_tests_end_on_oxcd_as_on_etcd() {
    let binaries = etcd_client_crate::build_tests().await.unwrap();
    let run = |server| {
        let binaries = &binaries;
        async move {
            let suite_server = SuiteServer::start(server).await?;
            etcd_client_crate::run(&suite_server, binaries).await
        }
    };
    let (etcd, oxcd) = tokio::join!(run(Server::Etcd), run(Server::Oxcd));
    let (etcd, oxcd): (SuiteRun, SuiteRun) = (etcd.unwrap(), oxcd.unwrap());
    assert_same_outcomes("etcd-client", &etcd, &oxcd, &[], 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_etcd3_tests_end_on_oxcd_as_on_etcd() {
    let run = |server| async move {
        let suite_server = SuiteServer::start(server).await?;
        python_etcd3::run(&suite_server).await
    };
    let (etcd, oxcd) = tokio::join!(run(Server::Etcd), run(Server::Oxcd));
    let known = [(
        "tests/test_etcd3.py::TestEtcd3::test_snapshot",
        "the test reads the snapshot with `etcdctl snapshot status`, which opens only etcd's \
         bbolt files; oxcd's snapshot is its redb backend (DESIGN.md), read by `oxutl snapshot \
         status`",
    )];
    assert_same_outcomes("python-etcd3", &etcd.unwrap(), &oxcd.unwrap(), &known, 60);
}
