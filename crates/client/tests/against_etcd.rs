//! The client against a real single-member etcd 3.5: every service accessor works, server
//! errors come back typed, per-endpoint clients target one member, and deadlines apply.

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, MemberListRequest, PutRequest,
    RangeRequest, StatusRequest, TxnRequest, WatchCreateRequest, WatchRequest, compare, request_op,
    watch_request,
};
use oxcd_api::etcdserverpb::{Compare, RequestOp};
use oxcd_client::{Client, ClientError, ConnectOptions};
use oxcd_testkit::etcd_cluster::Cluster;
use oxcd_testkit::ports::free_port;
use std::time::Duration;

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn kv_lease_watch_cluster_and_maintenance_work_against_etcd() {
    let cluster = Cluster::start(1);
    let endpoint = format!("http://{}", cluster.endpoints()[0]);
    let client = Client::connect(std::slice::from_ref(&endpoint), ConnectOptions::default())
        .await
        .unwrap();

    let mut kv = client.kv();
    let put_resp = kv.put(put("a", "1")).await.unwrap().into_inner();
    let rev = put_resp.header.unwrap().revision;
    kv.put(put("ab", "2")).await.unwrap();
    let range = kv
        .range(RangeRequest {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(range.count, 2);
    assert_eq!(range.kvs[0].value, b"1");
    assert_eq!(range.kvs[1].key, b"ab");

    let txn = kv
        .txn(TxnRequest {
            compare: vec![Compare {
                result: compare::CompareResult::Equal as i32,
                target: compare::CompareTarget::Value as i32,
                key: b"a".to_vec(),
                target_union: Some(compare::TargetUnion::Value(b"1".to_vec())),
                ..Default::default()
            }],
            success: vec![RequestOp {
                request: Some(request_op::Request::RequestPut(put("t", "yes"))),
            }],
            failure: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(txn.succeeded);

    let deleted = kv
        .delete_range(DeleteRangeRequest {
            key: b"t".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.deleted, 1);

    kv.compact(CompactionRequest {
        revision: rev,
        physical: true,
    })
    .await
    .unwrap();

    let lease = client
        .lease()
        .lease_grant(LeaseGrantRequest { ttl: 30, id: 0 })
        .await
        .unwrap()
        .into_inner();
    assert!(lease.id != 0);
    assert_eq!(lease.ttl, 30);

    let members = client
        .cluster()
        .member_list(MemberListRequest {
            linearizable: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 1);
    assert_eq!(members.members[0].client_ur_ls, vec![endpoint.clone()]);

    let status = client
        .maintenance()
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.version, "3.5.1");

    // A watch is a client stream: it must go through the balanced channel unbuffered.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: b"w".to_vec(),
                ..Default::default()
            },
        )),
    })
    .await
    .unwrap();
    let mut events = client
        .watch()
        .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let created = events.message().await.unwrap().unwrap();
    assert!(created.created);
    kv.put(put("w", "seen")).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), events.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.events[0].kv.as_ref().unwrap().value, b"seen");
    drop(tx);
}

#[tokio::test]
async fn server_errors_are_typed() {
    let cluster = Cluster::start(1);
    let client = Client::connect(&cluster.endpoints(), ConnectOptions::default())
        .await
        .unwrap();
    let status = client
        .kv()
        .range(RangeRequest::default())
        .await
        .unwrap_err();
    let err = ClientError::from(status);
    assert_eq!(err.etcd_error(), Some(EtcdError::EmptyKey));
    assert_eq!(err.to_string(), "etcdserver: key is not provided");

    let status = client
        .kv()
        .compact(CompactionRequest {
            revision: 1000,
            physical: false,
        })
        .await
        .unwrap_err();
    assert_eq!(
        ClientError::from(status).etcd_error(),
        Some(EtcdError::FutureRev)
    );
}

#[tokio::test]
async fn credentials_obtain_and_send_a_token() {
    let cluster = Cluster::start(1);
    let endpoints = cluster.endpoints();
    let admin = Client::connect(&endpoints, ConnectOptions::default())
        .await
        .unwrap();
    let mut auth = admin.auth();
    auth.user_add(oxcd_api::etcdserverpb::AuthUserAddRequest {
        name: "root".into(),
        password: "pw".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    auth.user_grant_role(oxcd_api::etcdserverpb::AuthUserGrantRoleRequest {
        user: "root".into(),
        role: "root".into(),
    })
    .await
    .unwrap();
    auth.auth_enable(oxcd_api::etcdserverpb::AuthEnableRequest {})
        .await
        .unwrap();

    // Without credentials the server refuses; with them every service works.
    let anonymous = Client::connect(&endpoints, ConnectOptions::default())
        .await
        .unwrap();
    let refused = anonymous.kv().put(put("k", "v")).await.unwrap_err();
    assert_eq!(
        ClientError::from(refused).etcd_error(),
        Some(EtcdError::UserEmpty)
    );
    let options = ConnectOptions {
        credentials: Some(oxcd_client::Credentials {
            user: "root".into(),
            password: "pw".into(),
        }),
        ..ConnectOptions::default()
    };
    let root = Client::connect(&endpoints, options).await.unwrap();
    root.kv().put(put("k", "v")).await.unwrap();
    let one = root.for_endpoint(&endpoints[0]).await.unwrap();
    let got = one
        .kv()
        .range(RangeRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.kvs[0].value, b"v");

    let wrong = ConnectOptions {
        credentials: Some(oxcd_client::Credentials {
            user: "root".into(),
            password: "nope".into(),
        }),
        ..ConnectOptions::default()
    };
    let err = Client::connect(&endpoints, wrong).await.unwrap_err();
    assert_eq!(err.etcd_error(), Some(EtcdError::AuthFailed));
}

#[tokio::test]
async fn unreachable_endpoint_hits_the_request_deadline() {
    let port = free_port();
    let options = ConnectOptions {
        request_timeout: Some(Duration::from_millis(600)),
        ..ConnectOptions::default()
    };
    let client = Client::connect(&[format!("127.0.0.1:{port}")], options)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let status = client
        .kv()
        .range(RangeRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    assert_eq!(
        ClientError::from(status).to_string(),
        "context deadline exceeded"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "gave up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
}

#[tokio::test]
async fn connect_rejects_bad_input() {
    let err = Client::connect(&[], ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoEndpoints));
    let err = Client::connect(
        &["https://127.0.0.1:2379".into()],
        ConnectOptions {
            tls: Some(oxcd_client::TlsOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            }),
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::Tls(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "open /nonexistent/ca.pem: no such file or directory"
    );
    let err = Client::connect(&["ftp://x:1".into()], ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidEndpoint { .. }));
    let err = Client::connect(
        &["127.0.0.1:1".into()],
        ConnectOptions {
            max_send_msg_size: 10,
            max_recv_msg_size: 5,
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::InvalidOptions(_)));
}
