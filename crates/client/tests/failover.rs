//! Failover as clientv3 does it: calls skip endpoints that cannot be reached, repeatable calls
//! move on after `Unavailable`, and writes that reached a server are never sent twice.
//! Checked against scripted in-process servers (to count deliveries exactly) and a real
//! 3-member etcd cluster with a member killed.

use oxcd_api::etcdserverpb::kv_server::{Kv, KvServer};
use oxcd_api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
};
use oxcd_client::{Client, ClientError, ConnectOptions};
use oxcd_testkit::etcd_cluster::Cluster;
use oxcd_testkit::ports::free_port;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tonic::{Request, Response, Status};

/// A KV server that either answers every call or fails every call with `Unavailable`,
/// counting what it received.
#[derive(Default)]
struct ScriptedKv {
    unavailable: bool,
    ranges: AtomicUsize,
    puts: AtomicUsize,
}

impl ScriptedKv {
    fn answer<T>(&self, ok: T) -> Result<Response<T>, Status> {
        if self.unavailable {
            Err(Status::unavailable("etcdserver: leader changed"))
        } else {
            Ok(Response::new(ok))
        }
    }
}

#[tonic::async_trait]
impl Kv for ScriptedKv {
    async fn range(&self, _: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        self.ranges.fetch_add(1, Ordering::SeqCst);
        self.answer(RangeResponse {
            header: Some(ResponseHeader {
                revision: 7,
                ..Default::default()
            }),
            ..Default::default()
        })
    }
    async fn put(&self, _: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.answer(PutResponse::default())
    }
    async fn delete_range(
        &self,
        _: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        self.answer(DeleteRangeResponse::default())
    }
    async fn txn(&self, _: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        self.answer(TxnResponse::default())
    }
    async fn compact(
        &self,
        _: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        self.answer(CompactionResponse::default())
    }
}

/// Serves `kv` on a fresh loopback port and returns the endpoint.
async fn serve(kv: Arc<ScriptedKv>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(KvServer::from_arc(kv))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    format!("127.0.0.1:{}", addr.port())
}

fn key(k: &str) -> RangeRequest {
    RangeRequest {
        key: k.into(),
        ..Default::default()
    }
}

fn options() -> ConnectOptions {
    ConnectOptions {
        request_timeout: Some(Duration::from_secs(5)),
        ..ConnectOptions::default()
    }
}

#[tokio::test]
async fn repeatable_calls_move_on_after_unavailable() {
    let failing = Arc::new(ScriptedKv {
        unavailable: true,
        ..Default::default()
    });
    let healthy = Arc::new(ScriptedKv::default());
    let endpoints = vec![serve(failing.clone()).await, serve(healthy.clone()).await];
    let client = Client::connect(&endpoints, options()).await.unwrap();

    let response = client.kv().range(key("k")).await.unwrap().into_inner();
    assert_eq!(response.header.unwrap().revision, 7);
    assert_eq!(failing.ranges.load(Ordering::SeqCst), 1);
    assert_eq!(healthy.ranges.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn writes_that_reached_a_server_are_not_resent() {
    let failing = Arc::new(ScriptedKv {
        unavailable: true,
        ..Default::default()
    });
    let healthy = Arc::new(ScriptedKv::default());
    let endpoints = vec![serve(failing.clone()).await, serve(healthy.clone()).await];
    let client = Client::connect(&endpoints, options()).await.unwrap();

    let status = client
        .kv()
        .put(PutRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(matches!(
        ClientError::from(status),
        ClientError::Etcd {
            error: oxcd_api::EtcdError::LeaderChanged,
            ..
        }
    ));
    assert_eq!(failing.puts.load(Ordering::SeqCst), 1);
    assert_eq!(healthy.puts.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn writes_skip_endpoints_that_cannot_be_reached() {
    let healthy = Arc::new(ScriptedKv::default());
    let dead = format!("127.0.0.1:{}", free_port());
    let endpoints = vec![dead, serve(healthy.clone()).await];
    let client = Client::connect(&endpoints, options()).await.unwrap();
    for _ in 0..4 {
        client
            .kv()
            .put(PutRequest {
                key: b"k".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(healthy.puts.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn survives_a_killed_member_of_a_real_cluster() {
    let mut cluster = Cluster::start(3);
    let client = Client::connect(&cluster.endpoints(), options())
        .await
        .unwrap();
    let mut kv = client.kv();
    kv.put(PutRequest {
        key: b"before".to_vec(),
        value: b"1".to_vec(),
        ..Default::default()
    })
    .await
    .unwrap();

    // Kill a follower: killing the leader would stall writes for an election, which is the
    // server's business, not the client's.
    let victim = follower_index(&client, &cluster).await;
    cluster.members[victim].kill();
    // Reads find the dead member (a read may be resent anywhere); writes then avoid it, and a
    // write whose connection cannot be made goes to the next member.
    for i in 0..10 {
        let got = kv.range(key("before")).await.unwrap().into_inner();
        assert_eq!(got.kvs[0].value, b"1");
        kv.put(PutRequest {
            key: format!("after{i}").into_bytes(),
            value: b"2".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    }

    // The killed member comes back and serves again through the same client.
    cluster.members[victim].restart();
    cluster.wait_ready();
    let only_first = client
        .for_endpoint(&cluster.members[victim].endpoint())
        .await
        .unwrap();
    let got = only_first
        .kv()
        .range(RangeRequest {
            key: b"after".to_vec(),
            range_end: b"aftes".to_vec(),
            serializable: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.count, 10);
}

/// The index of a member that is not the leader.
async fn follower_index(client: &Client, cluster: &Cluster) -> usize {
    for (i, member) in cluster.members.iter().enumerate() {
        let one = client.for_endpoint(&member.endpoint()).await.unwrap();
        let status = one
            .maintenance()
            .status(oxcd_api::etcdserverpb::StatusRequest {})
            .await
            .unwrap()
            .into_inner();
        if status.leader != status.header.unwrap().member_id {
            return i;
        }
    }
    panic!("every member claims to lead");
}
