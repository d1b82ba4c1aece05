//! The health probes tell the truth. `/health` is compared with etcd 3.5.1's through raised and
//! cleared alarms (`?exclude=`, `?serializable=true`, a wrong method); `/livez` and `/readyz`
//! (which etcd 3.5.1 lacks; their text is etcd 3.5's later releases') fail on a CORRUPT alarm
//! and without a leader, and recover; the gRPC health service says NOT_SERVING without a leader
//! and SERVING again once one is elected.

use std::time::Duration;

use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{AlarmRequest, AlarmType};
use oxcd_tests::grpc::connect;
use oxcd_tests::http_json::{Answer, Post};
use oxcd_tests::{Cluster, ClusterSpec, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long a member may take to notice it lost its leader, or to elect one.
const SETTLE: Duration = Duration::from_secs(20);

async fn get(port: u16, path: &str) -> Answer {
    let mut request = Post::new(port, path, "");
    request.method = "GET";
    request.answer().await.unwrap()
}

fn shown(label: &str, answer: &Answer) -> String {
    format!(
        "{label}: {} {} {:?}",
        answer.status, answer.content_type, answer.body
    )
}

/// Raises (or clears) `alarm` for the member behind `url`.
async fn alarm(url: &str, action: AlarmAction, alarm: AlarmType) {
    let mut clients = connect(url).await.unwrap();
    let member = clients.member_id().await.unwrap();
    clients
        .maintenance
        .alarm(AlarmRequest {
            action: action as i32,
            member_id: member,
            alarm: alarm as i32,
        })
        .await
        .unwrap();
}

/// The `/health` answers through alarms raised and cleared.
async fn health_transcript(cluster: &Cluster) -> Vec<String> {
    let port = cluster.member(0).config().client_port;
    let url = cluster.member(0).client_url();
    let mut out = vec![shown("healthy", &get(port, "/health").await)];
    out.push(shown(
        "POST",
        &Post::new(port, "/health", "").answer().await.unwrap(),
    ));
    alarm(&url, AlarmAction::Activate, AlarmType::Nospace).await;
    for path in [
        "/health",
        "/health?exclude=NOSPACE",
        "/health?serializable=true",
    ] {
        out.push(shown(&format!("NOSPACE {path}"), &get(port, path).await));
    }
    alarm(&url, AlarmAction::Activate, AlarmType::Corrupt).await;
    for path in [
        "/health?exclude=NOSPACE",
        "/health?exclude=NOSPACE&exclude=CORRUPT",
    ] {
        out.push(shown(&format!("both {path}"), &get(port, path).await));
    }
    alarm(&url, AlarmAction::Deactivate, AlarmType::Nospace).await;
    alarm(&url, AlarmAction::Deactivate, AlarmType::Corrupt).await;
    out.push(shown("cleared", &get(port, "/health").await));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_as_etcds_through_alarms() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-probe-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-probe-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(health_transcript(&oracle), health_transcript(&subject));
    assert_eq!(
        expected.join("\n"),
        actual.join("\n"),
        "left: etcd 3.5.1, right: {target:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_on_a_corrupt_alarm_and_recovers() {
    let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1).token("oxt-probe-c"))
        .await
        .unwrap();
    let port = cluster.member(0).config().client_port;
    let url = cluster.member(0).client_url();
    let ready = get(port, "/readyz?verbose").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (
            200,
            "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n\
             [+]non_learner ok\nok\n"
        )
    );
    assert_eq!(get(port, "/readyz").await.body, "ok\n");
    alarm(&url, AlarmAction::Activate, AlarmType::Corrupt).await;
    let corrupt = get(port, "/readyz").await;
    assert_eq!(corrupt.status, 503);
    assert!(
        corrupt
            .body
            .starts_with("[-]data_corruption failed: alarm activated: CORRUPT\n"),
        "{corrupt:?}"
    );
    let excluded = get(port, "/readyz?exclude=data_corruption").await;
    assert_eq!((excluded.status, excluded.body.as_str()), (200, "ok\n"));
    assert_eq!(get(port, "/readyz/data_corruption").await.status, 503);
    // etcd's probe metrics record it.
    let metrics = get(port, "/metrics").await.body;
    for line in [
        "etcd_server_healthcheck{name=\"data_corruption\",type=\"readyz\"} 0",
        "etcd_server_healthchecks_total{name=\"data_corruption\",status=\"error\",type=\"readyz\"} 2",
        "etcd_server_healthchecks_total{name=\"data_corruption\",status=\"success\",type=\"readyz\"} 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line} in:\n{metrics}"
        );
    }
    assert_eq!(get(port, "/livez").await.status, 200);
    alarm(&url, AlarmAction::Deactivate, AlarmType::Corrupt).await;
    assert_eq!(get(port, "/readyz").await.status, 200);
    assert_eq!(get(port, "/readyz/nonexistent").await.status, 404);
}

async fn grpc_status(url: &str) -> Option<ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .ok()?
        .connect()
        .await
        .ok()?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(answer.into_inner().status).ok()
}

/// Polls `probe` until it holds.
async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + SETTLE;
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_fail_without_a_leader_and_recover() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 3).token("oxt-probe-d"))
        .await
        .unwrap();
    let port = cluster.member(0).config().client_port;
    let url = cluster.member(0).client_url();
    assert_eq!(grpc_status(&url).await, Some(ServingStatus::Serving));
    cluster.kill9(1).unwrap();
    cluster.kill9(2).unwrap();

    eventually("/health says there is no leader", || async {
        get(port, "/health").await.body == "{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}\n"
    })
    .await;
    assert_eq!(get(port, "/health?serializable=true").await.status, 200);
    let live = get(port, "/livez?verbose").await;
    assert_eq!(
        (live.status, live.body.as_str()),
        (200, "[+]serializable_read ok\nok\n")
    );
    let ready = get(port, "/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(
        ready.body.contains("[+]serializable_read ok\n")
            && ready.body.contains("[-]linearizable_read failed: "),
        "{ready:?}"
    );
    let local = get(port, "/readyz?exclude=linearizable_read").await;
    assert_eq!((local.status, local.body.as_str()), (200, "ok\n"));
    assert_eq!(grpc_status(&url).await, Some(ServingStatus::NotServing));

    cluster.restart_stopped().await.unwrap();
    eventually("/readyz passes again", || async {
        get(port, "/readyz").await.status == 200
    })
    .await;
    eventually("the gRPC health service serves again", || async {
        grpc_status(&url).await == Some(ServingStatus::Serving)
    })
    .await;
    assert_eq!(get(port, "/health").await.status, 200);
}
