//! Third-party etcd clients' own test suites, unchanged, against real etcd 3.5.1 and against
//! oxcd side by side (each server alone in its own network namespace on `localhost:2379`):
//! every test must end on oxcd exactly as on etcd. The Rust etcd-client crate's suite covers
//! auth enable/disable, users, roles and permissions, and token refresh (expiry after the
//! two-second TTL, and a single re-authentication for concurrent calls, counted through
//! `/metrics`); python-etcd3's and aetcd's cover their KV, watch, lease, lock, txn, member and
//! maintenance calls, and aetcd's a client authenticating after `auth enable`; etcd3gw's (an
//! HTTP-only client) the JSON gateway's KV, txn, lease, watch and lock routes.
//! Needs root and the suites that `scripts/install-test-deps.sh` installs.

use oxcd_tests::Server;
use oxcd_tests::third_party::python_suite::{AETCD, ETCD3GW, PYTHON_ETCD3, PythonSuite};
use oxcd_tests::third_party::{SuiteServer, assert_same_outcomes, etcd_client_crate};

/// Both Python suites save a snapshot over gRPC and read it with `etcdctl snapshot status`.
const SNAPSHOT_READ_BY_ETCDCTL: &str = "etcdctl 3.5 opens only etcd's bbolt files; oxcd's \
    snapshot is its redb backend (DESIGN.md), which `oxutl snapshot status` reads";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_client_crate_tests_end_on_oxcd_as_on_etcd() {
    let binaries = etcd_client_crate::build_tests().await.unwrap();
    let run = |server| {
        let binaries = &binaries;
        async move {
            let suite_server = SuiteServer::start(server).await?;
            suite_server.add_root_user().await?;
            etcd_client_crate::run(&suite_server, binaries).await
        }
    };
    let (etcd, oxcd) = tokio::join!(run(Server::Etcd), run(Server::Oxcd));
    assert_same_outcomes("etcd-client", &etcd.unwrap(), &oxcd.unwrap(), &[], 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_etcd3_tests_end_on_oxcd_as_on_etcd() {
    let known = [(
        "tests/test_etcd3.py::TestEtcd3::test_snapshot",
        SNAPSHOT_READ_BY_ETCDCTL,
    )];
    compare_python_suite(&PYTHON_ETCD3, &known, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aetcd_tests_end_on_oxcd_as_on_etcd() {
    let known = [(
        "tests/integration/test_maintenance.py::test_snapshot",
        SNAPSHOT_READ_BY_ETCDCTL,
    )];
    compare_python_suite(&AETCD, &known, 80).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd3gw_tests_end_on_oxcd_as_on_etcd() {
    compare_python_suite(&ETCD3GW, &[], 35).await;
}

async fn compare_python_suite(suite: &PythonSuite, known: &[(&str, &str)], min_passed: usize) {
    let run = |server| async move {
        let suite_server = SuiteServer::start(server).await?;
        suite.run(&suite_server).await
    };
    let (etcd, oxcd) = tokio::join!(run(Server::Etcd), run(Server::Oxcd));
    assert_same_outcomes(suite.dir, &etcd.unwrap(), &oxcd.unwrap(), known, min_passed);
}
