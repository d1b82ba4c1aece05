//! `oxcd_client::concurrency` against real etcd 3.5.1 and against the server under test, the
//! same scenarios on each: mutual exclusion and fencing tokens, `try_lock`, guarded writes
//! refused once the lock key is gone, session loss reported, a lock never granted on a lost
//! session, a cancelled wait leaving no key, election campaign/proclaim/observe/resign in
//! order — and a lock held by real `etcdctl lock` excluding ours (the same key layout).

use std::process::Stdio;
use std::time::Duration;

use oxcd_client::api::etcdserverpb::{
    DeleteRangeRequest, LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, request_op,
};
use oxcd_client::api::key_range::prefix_end;
use oxcd_client::concurrency::{ConcurrencyError, Election, Mutex, Session};
use oxcd_client::{Client, ConnectOptions};
use oxcd_tests::{Cluster, ClusterSpec, Server};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Bound on anything that should happen promptly.
const PROMPTLY: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_recipes_behave_the_same_on_etcd_and_on_the_server_under_test() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-conc-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-conc-b")),
    );
    for cluster in [oracle.unwrap(), subject.unwrap()] {
        let server = format!("{:?}", cluster.server());
        let client = Client::connect(&cluster.endpoints(), ConnectOptions::default())
            .await
            .unwrap();
        let scenarios = async {
            mutual_exclusion_and_fencing(&client).await;
            try_lock_refuses_and_leaves_no_key(&client).await;
            guarded_txn_refused_once_lock_key_is_gone(&client).await;
            session_loss_is_reported(&client).await;
            lock_is_not_granted_on_a_lost_session(&client).await;
            cancelled_wait_deletes_its_key(&client).await;
            election_in_order(&client).await;
            etcdctl_lock_excludes_our_mutex(&client, &cluster.endpoints()).await;
        };
        tokio::time::timeout(Duration::from_secs(60), scenarios)
            .await
            .unwrap_or_else(|_| panic!("{server}: scenarios took over 60s"));
    }
}

/// Keys under `prefix` + "/".
async fn keys_under(client: &Client, name: &str) -> Vec<String> {
    let prefix = format!("{name}/").into_bytes();
    let found = client
        .kv()
        .range(RangeRequest {
            range_end: prefix_end(&prefix),
            key: prefix,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    found
        .kvs
        .into_iter()
        .map(|kv| String::from_utf8(kv.key).unwrap())
        .collect()
}

fn put(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })),
    }
}

async fn mutual_exclusion_and_fencing(client: &Client) {
    let first = Session::new(client, 10).await.unwrap();
    let second = Session::new(client, 10).await.unwrap();
    let mut held = Mutex::new(&first, "mx");
    held.lock().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(held.key()),
        format!("mx/{:x}", first.lease())
    );
    let first_token = held.fencing_token();
    assert!(first_token > 0);

    let mut waiter = Mutex::new(&second, "mx");
    let waiting = tokio::spawn(async move {
        waiter.lock().await.unwrap();
        waiter
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "second locker got a held lock");
    held.unlock().await.unwrap();
    let mut waiter = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .expect("waiter not woken by unlock")
        .unwrap();
    assert!(waiter.fencing_token() > first_token);
    waiter.unlock().await.unwrap();
    assert!(keys_under(client, "mx").await.is_empty());
    // A second unlock has nothing to release.
    waiter.unlock().await.unwrap();
    assert_eq!(waiter.fencing_token(), -1);
    first.close().await.unwrap();
    second.close().await.unwrap();
}

async fn try_lock_refuses_and_leaves_no_key(client: &Client) {
    let first = Session::new(client, 10).await.unwrap();
    let second = Session::new(client, 10).await.unwrap();
    let mut held = Mutex::new(&first, "try");
    held.try_lock().await.unwrap();
    let mut other = Mutex::new(&second, "try");
    let refused = other.try_lock().await.unwrap_err();
    assert!(matches!(refused, ConcurrencyError::Locked));
    assert_eq!(refused.to_string(), "mutex: Locked by another session");
    assert_eq!(keys_under(client, "try").await.len(), 1);
    held.unlock().await.unwrap();
    other.try_lock().await.unwrap();
    other.unlock().await.unwrap();
    first.close().await.unwrap();
    second.close().await.unwrap();
}

async fn guarded_txn_refused_once_lock_key_is_gone(client: &Client) {
    let session = Session::new(client, 10).await.unwrap();
    let mut mutex = Mutex::new(&session, "guard");
    mutex.lock().await.unwrap();
    let done = mutex.guarded_txn(vec![put("guarded", "1")]).await.unwrap();
    assert!(done.held);
    assert_eq!(done.responses.len(), 1);
    client
        .kv()
        .delete_range(DeleteRangeRequest {
            key: mutex.key().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let refused = mutex.guarded_txn(vec![put("guarded", "2")]).await.unwrap();
    assert!(!refused.held);
    let stored = client
        .kv()
        .range(RangeRequest {
            key: b"guarded".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.kvs[0].value, b"1");
    session.close().await.unwrap();
}

async fn session_loss_is_reported(client: &Client) {
    let session = Session::new(client, 5).await.unwrap();
    assert!(session.is_alive());
    client
        .lease()
        .lease_revoke(LeaseRevokeRequest {
            id: session.lease(),
        })
        .await
        .unwrap();
    tokio::time::timeout(PROMPTLY, session.done())
        .await
        .expect("revoked session not reported lost");
    assert!(!session.is_alive());
}

async fn lock_is_not_granted_on_a_lost_session(client: &Client) {
    let holder = Session::new(client, 10).await.unwrap();
    let doomed = Session::new(client, 5).await.unwrap();
    let mut held = Mutex::new(&holder, "lost");
    held.lock().await.unwrap();
    let mut waiter = Mutex::new(&doomed, "lost");
    let waiting = tokio::spawn(async move { waiter.lock().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    client
        .lease()
        .lease_revoke(LeaseRevokeRequest { id: doomed.lease() })
        .await
        .unwrap();
    let ended = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .expect("wait on a lost session did not end")
        .unwrap();
    assert!(matches!(ended, Err(ConcurrencyError::SessionExpired)));
    held.unlock().await.unwrap();
    holder.close().await.unwrap();
}

async fn cancelled_wait_deletes_its_key(client: &Client) {
    let holder = Session::new(client, 10).await.unwrap();
    let impatient = Session::new(client, 10).await.unwrap();
    let mut held = Mutex::new(&holder, "cancel");
    held.lock().await.unwrap();
    let mut waiter = Mutex::new(&impatient, "cancel");
    let gave_up = tokio::time::timeout(Duration::from_millis(300), waiter.lock()).await;
    assert!(gave_up.is_err());
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    while keys_under(client, "cancel").await.len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "cancelled key left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    held.unlock().await.unwrap();
    holder.close().await.unwrap();
    impatient.close().await.unwrap();
}

async fn election_in_order(client: &Client) {
    let first = Session::new(client, 10).await.unwrap();
    let second = Session::new(client, 10).await.unwrap();
    let mut leader = Election::new(&first, "elect");
    let no_leader = leader.leader().await.unwrap_err();
    assert_eq!(no_leader.to_string(), "election: no leader");
    assert_eq!(
        leader.proclaim("x").await.unwrap_err().to_string(),
        "election: not leader"
    );
    let mut changes = leader.observe();

    leader.campaign("a").await.unwrap();
    leader.proclaim("b").await.unwrap();
    let mut challenger = Election::new(&second, "elect");
    let campaigning = tokio::spawn(async move {
        challenger.campaign("c").await.unwrap();
        challenger
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!campaigning.is_finished(), "two leaders at once");
    assert_eq!(leader.leader().await.unwrap().value, b"b");
    leader.resign().await.unwrap();
    let mut challenger = tokio::time::timeout(PROMPTLY, campaigning)
        .await
        .expect("challenger not elected after resign")
        .unwrap();
    assert_eq!(challenger.leader().await.unwrap().value, b"c");

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let change = tokio::time::timeout(PROMPTLY, changes.next())
            .await
            .expect("observe missed a change")
            .unwrap()
            .unwrap();
        assert_eq!(change.kvs.len(), 1);
        let kv = change.kvs.into_iter().next().unwrap();
        seen.push((
            String::from_utf8(kv.key).unwrap(),
            String::from_utf8(kv.value).unwrap(),
        ));
    }
    let first_key = format!("elect/{:x}", first.lease());
    let second_key = format!("elect/{:x}", second.lease());
    assert_eq!(
        seen,
        [
            (first_key.clone(), "a".to_string()),
            (first_key, "b".to_string()),
            (second_key, "c".to_string()),
        ]
    );
    // Deleting the leader's key from outside ends its leadership: proclaim says so.
    client
        .kv()
        .delete_range(DeleteRangeRequest {
            key: challenger.key().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(
        challenger.proclaim("d").await,
        Err(ConcurrencyError::NotLeader)
    ));
    challenger.resign().await.unwrap();
    assert!(matches!(
        challenger.leader().await,
        Err(ConcurrencyError::NoLeader)
    ));
    first.close().await.unwrap();
    second.close().await.unwrap();
}

async fn etcdctl_lock_excludes_our_mutex(client: &Client, endpoints: &[String]) {
    let etcdctl = oxcd_testkit::etcd::require_etcdctl();
    let mut holder = tokio::process::Command::new(etcdctl)
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["lock", "shared"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let key = tokio::time::timeout(PROMPTLY, lines.next_line())
        .await
        .expect("etcdctl lock printed nothing")
        .unwrap()
        .unwrap();
    assert!(key.starts_with("shared/"), "{key}");

    let session = Session::new(client, 10).await.unwrap();
    let mut mutex = Mutex::new(&session, "shared");
    assert!(matches!(
        mutex.try_lock().await,
        Err(ConcurrencyError::Locked)
    ));
    let waiting = tokio::spawn(async move {
        mutex.lock().await.unwrap();
        mutex
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "took a lock etcdctl holds");
    // SIGINT makes etcdctl unlock and exit, as a user's Ctrl-C does.
    let pid = holder.id().unwrap() as i32;
    // SAFETY: signalling a child this test started and still owns.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let mut mutex = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .expect("not granted after etcdctl unlocked")
        .unwrap();
    assert_eq!(holder.wait().await.unwrap().code(), Some(0));
    mutex.unlock().await.unwrap();
    session.close().await.unwrap();
}
