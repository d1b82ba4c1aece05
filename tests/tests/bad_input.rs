//! Hostile and malformed input: oversized requests (etcd's own limit and gRPC's), empty keys,
//! inverted ranges, and raw garbage on the client and peer ports (random bytes, HTTP/1, an
//! HTTP/2 preface followed by junk, a TLS hello that never finishes). Each must get a clear
//! error or a closed connection, the server must keep serving, and the data must be exactly
//! as before (same revision, same `HashKV`, same keys).

use std::time::Duration;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::etcdserverpb::request_op::Request;
use oxcd_api::etcdserverpb::{
    Compare, DeleteRangeRequest, HashKvRequest, PutRequest, RangeRequest, RangeResponse, RequestOp,
    TxnRequest,
};
use oxcd_testkit::kv_generator::{GRPC_OVERHEAD_BYTES, MAX_REQUEST_BYTES};
use oxcd_testkit::rng::SeededRng;
use oxcd_tests::grpc::Clients;
use oxcd_tests::{Cluster, ClusterSpec, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a server may take to answer or drop a garbage connection.
const GARBAGE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

fn put_request(key: &str, value_len: usize) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: vec![b'v'; value_len],
        ..PutRequest::default()
    }
}

fn expect_error<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    error: EtcdError,
    what: &str,
) {
    match result {
        Ok(response) => panic!("{what}: expected {error:?}, got {response:?}"),
        Err(status) => {
            assert_eq!(status.code(), error.code(), "{what}: {status:?}");
            assert_eq!(status.message(), error.message(), "{what}: {status:?}");
        }
    }
}

/// gRPC's refusal of a message above the server's receive limit, as grpc-go words it.
fn expect_grpc_size_refusal<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    limit: usize,
    what: &str,
) {
    match result {
        Ok(response) => panic!("{what}: expected a size refusal, got {response:?}"),
        Err(status) => {
            assert_eq!(
                status.code(),
                tonic::Code::ResourceExhausted,
                "{what}: {status:?}"
            );
            let message = status.message();
            assert!(
                message.starts_with("grpc: received message larger than max (")
                    && message.ends_with(&format!(" vs. {limit})")),
                "{what}: {message:?}"
            );
        }
    }
}

async fn everything(clients: &mut Clients) -> RangeResponse {
    clients
        .kv
        .range(RangeRequest {
            key: b"\0".to_vec(),
            range_end: b"\0".to_vec(),
            ..RangeRequest::default()
        })
        .await
        .expect("range over every key")
        .into_inner()
}

/// Revision, HashKV and every key-value pair: what must not change.
async fn fingerprint(clients: &mut Clients) -> (i64, u32, RangeResponse) {
    let mut all = everything(clients).await;
    let revision = all.header.expect("header").revision;
    let hash = clients
        .maintenance
        .hash_kv(HashKvRequest { revision })
        .await
        .expect("hashkv")
        .into_inner()
        .hash;
    all.header = None;
    (revision, hash, all)
}

/// What a raw connection got back: the bytes, and whether the server closed it.
struct RawReply {
    bytes: Vec<u8>,
    closed: bool,
}

impl RawReply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn is_http_status(&self, class: &str) -> bool {
        self.text().starts_with(&format!("HTTP/1.1 {class}"))
    }
}

/// Sends `payload` on a fresh connection to `address` and collects the reply until the
/// server closes the connection or [`GARBAGE_REPLY_TIMEOUT`] passes.
async fn send_raw(address: &str, payload: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(address)
        .await
        .unwrap_or_else(|e| panic!("connect {address}: {e}"));
    stream.write_all(payload).await.expect("write payload");
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + GARBAGE_REPLY_TIMEOUT;
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => bytes.extend_from_slice(&buffer[..n]),
        }
    };
    RawReply { bytes, closed }
}

/// `http://host:port` -> `host:port`.
fn socket_address(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_etcds_errors_and_change_nothing() {
    let cluster = Cluster::start(ClusterSpec::new(Server::from_env().unwrap(), 1))
        .await
        .unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    for i in 0..50 {
        clients
            .kv
            .put(put_request(&format!("data/{i:02}"), i))
            .await
            .unwrap();
    }
    // Just below the limit is fine (the raft request adds a few bytes of framing).
    clients
        .kv
        .put(put_request("big", MAX_REQUEST_BYTES - 1024))
        .await
        .expect("a put just below --max-request-bytes");
    let before = fingerprint(&mut clients).await;

    expect_error(
        clients.kv.put(put_request("big", MAX_REQUEST_BYTES)).await,
        EtcdError::RequestTooLarge,
        "put of max-request-bytes",
    );
    let txn_puts = (0..4)
        .map(|i| RequestOp {
            request: Some(Request::RequestPut(put_request(
                &format!("t{i}"),
                400 * 1024,
            ))),
        })
        .collect();
    expect_error(
        clients
            .kv
            .txn(TxnRequest {
                success: txn_puts,
                ..TxnRequest::default()
            })
            .await,
        EtcdError::RequestTooLarge,
        "txn of 1.6 MiB",
    );
    let grpc_limit = MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES;
    expect_grpc_size_refusal(
        clients.kv.put(put_request("huge", grpc_limit)).await,
        grpc_limit,
        "put above gRPC's limit",
    );
    expect_grpc_size_refusal(
        clients
            .kv
            .range(RangeRequest {
                key: vec![b'k'; grpc_limit + 1],
                ..RangeRequest::default()
            })
            .await,
        grpc_limit,
        "range with a key above gRPC's limit",
    );

    expect_error(
        clients.kv.put(put_request("", 1)).await,
        EtcdError::EmptyKey,
        "put without key",
    );
    expect_error(
        clients.kv.range(RangeRequest::default()).await,
        EtcdError::EmptyKey,
        "range without key",
    );
    expect_error(
        clients.kv.delete_range(DeleteRangeRequest::default()).await,
        EtcdError::EmptyKey,
        "delete without key",
    );
    expect_error(
        clients
            .kv
            .txn(TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Version as i32,
                    target_union: Some(TargetUnion::Version(0)),
                    ..Compare::default()
                }],
                ..TxnRequest::default()
            })
            .await,
        EtcdError::EmptyKey,
        "compare without key",
    );

    // An inverted range is not an error in etcd: it selects nothing.
    let inverted = clients
        .kv
        .range(RangeRequest {
            key: b"data/40".to_vec(),
            range_end: b"data/10".to_vec(),
            ..RangeRequest::default()
        })
        .await
        .expect("inverted range")
        .into_inner();
    assert!(
        inverted.kvs.is_empty() && inverted.count == 0,
        "{inverted:?}"
    );
    let deleted = clients
        .kv
        .delete_range(DeleteRangeRequest {
            key: b"data/40".to_vec(),
            range_end: b"data/10".to_vec(),
            prev_kv: true,
        })
        .await
        .expect("inverted delete")
        .into_inner();
    assert_eq!((deleted.deleted, deleted.prev_kvs.len()), (0, 0));
    assert_eq!(
        deleted.header.expect("header").revision,
        before.0,
        "deleting nothing creates no revision"
    );

    assert!(
        fingerprint(&mut clients).await == before,
        "rejected requests changed the data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_request_bytes_moves_both_limits() {
    const LIMIT: usize = 100_000;
    let spec = ClusterSpec::new(Server::from_env().unwrap(), 1)
        .args(["--max-request-bytes", &LIMIT.to_string()]);
    let cluster = Cluster::start(spec).await.unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    clients
        .kv
        .put(put_request("k", LIMIT - 100))
        .await
        .expect("a put just below the limit");
    expect_error(
        clients.kv.put(put_request("k", LIMIT)).await,
        EtcdError::RequestTooLarge,
        "put of --max-request-bytes",
    );
    expect_grpc_size_refusal(
        clients
            .kv
            .put(put_request("k", LIMIT + GRPC_OVERHEAD_BYTES))
            .await,
        LIMIT + GRPC_OVERHEAD_BYTES,
        "put above the gRPC limit",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_client_and_peer_ports_is_refused_and_harmless() {
    let cluster = Cluster::start(ClusterSpec::new(Server::from_env().unwrap(), 1))
        .await
        .unwrap();
    let pid = cluster.member(0).pid().expect("running");
    let mut clients = cluster.client(0).await.unwrap();
    for i in 0..20 {
        clients
            .kv
            .put(put_request(&format!("data/{i:02}"), i))
            .await
            .unwrap();
    }
    let before = fingerprint(&mut clients).await;
    let client = socket_address(&cluster.endpoint(0));
    let peer = socket_address(&cluster.member(0).config().peer_url());
    let mut rng = SeededRng::new(0xbad_1e7);
    let h2_preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    // A TLS 1.2 ClientHello record header promising 512 bytes, then silence.
    let tls_hello_start: &[u8] = &[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];

    // Connections that never complete a message stay open meanwhile; the server must keep
    // serving everyone else.
    let mut stalled = Vec::new();
    for address in [&client, &peer] {
        for payload in [tls_hello_start.to_vec(), rng.bytes(64)] {
            let mut stream = TcpStream::connect(address).await.expect("connect");
            stream.write_all(&payload).await.expect("write");
            stalled.push(stream);
        }
    }

    for address in [&client, &peer] {
        let mut junk = rng.bytes(256);
        junk.extend_from_slice(b"\r\n\r\n");
        let reply = send_raw(address, &junk).await;
        assert!(
            reply.closed || reply.is_http_status("4"),
            "{address}: random bytes neither refused nor closed: {:?}",
            reply.text()
        );

        let mut h2_junk = h2_preface.to_vec();
        h2_junk.extend(rng.bytes(64));
        let reply = send_raw(address, &h2_junk).await;
        assert!(
            reply.closed,
            "{address}: HTTP/2 preface plus junk left the connection open"
        );

        let reply = send_raw(
            address,
            b"GET /oxt-no-such-path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            reply.closed || reply.is_http_status("4"),
            "{address}: HTTP/1 GET neither refused nor closed: {:?}",
            reply.text()
        );
    }

    // The client port also serves etcd's HTTP endpoints on the same listener.
    let not_found = send_raw(
        &client,
        b"GET /oxt-no-such-path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(not_found.is_http_status("404"), "{:?}", not_found.text());
    let health = send_raw(
        &client,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(health.is_http_status("200"), "{:?}", health.text());
    assert!(
        health.text().contains(r#""health":"true""#),
        "{:?}",
        health.text()
    );

    // Still serving while the stalled connections hang, and nothing changed.
    let mut fresh = cluster.client(0).await.unwrap();
    assert!(
        fingerprint(&mut fresh).await == before,
        "garbage changed the data"
    );
    drop(stalled);
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server died"
    );
    fresh
        .kv
        .put(put_request("after-garbage", 1))
        .await
        .expect("the server still takes writes");
}
