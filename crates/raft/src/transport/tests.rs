//! The peer service's checks: cluster identity, recipient, malformed input, and snapshot
//! reception — exercised over real gRPC on a loopback listener.

use crate::metrics::RaftMetrics;
use std::sync::Arc;

use bytes::Bytes;
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::Code;
use tonic::transport::Channel;

use super::context::{CLUSTER_ID_HEADER, CLUSTER_MISMATCH, FROM_HEADER, TO_HEADER};
use super::proto::raft_peer_client::RaftPeerClient;
use super::proto::{MessageBatch, SnapshotChunk};
use super::*;
use crate::config::PeerListener;
use crate::node::event::Inbox;
use crate::peers::PeerUrls;
use crate::snap::SnapStore;

pub(super) const CLUSTER: u64 = 0xabc;

pub(super) struct Fixture {
    pub(super) url: String,
    pub(super) inbox: mpsc::Receiver<Inbox>,
    snaps: SnapStore,
    tasks: Vec<JoinHandle<()>>,
    metrics: Arc<RaftMetrics>,
    _dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub(super) fn fixture() -> Fixture {
    fixture_serving(None)
}

/// A fixture whose listener serves `tls` (plaintext when `None`).
fn fixture_serving(tls: Option<Arc<rustls::ServerConfig>>) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = SnapStore::open(dir.path()).expect("snap store");
    let (feedback, _) = mpsc::unbounded_channel();
    let metrics = Arc::new(RaftMetrics::default());
    let ctx = Arc::new(PeerContext {
        id: 1,
        cluster_id: CLUSTER,
        peers: PeerUrls::new(),
        activity: PeerActivity::default(),
        snaps: snaps.clone(),
        feedback,
        tls: None,
        metrics: metrics.clone(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (inbox_tx, inbox) = mpsc::channel(16);
    let tasks = serve(
        vec![PeerListener {
            socket: listener,
            tls,
            check_san: true,
        }],
        ctx,
        inbox_tx,
        &tokio::runtime::Handle::current(),
    )
    .expect("serve");
    Fixture {
        url,
        inbox,
        snaps,
        tasks,
        metrics,
        _dir: dir,
    }
}

pub(super) fn heartbeat(to: u64) -> Bytes {
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgHeartbeat);
    m.from = 2;
    m.to = to;
    m.term = 5;
    Bytes::from(m.write_to_bytes().expect("encode"))
}

pub(super) fn stamped<T>(body: T, cluster: u64, to: u64) -> tonic::Request<T> {
    let mut req = tonic::Request::new(body);
    let meta = req.metadata_mut();
    meta.insert(
        CLUSTER_ID_HEADER,
        format!("{cluster:x}").parse().expect("header"),
    );
    meta.insert(FROM_HEADER, "2".parse().expect("header"));
    meta.insert(TO_HEADER, format!("{to:x}").parse().expect("header"));
    req
}

async fn client(url: &str) -> RaftPeerClient<Channel> {
    RaftPeerClient::connect(url.to_string())
        .await
        .expect("connect")
}

pub(super) fn batch(cluster_id: u64, messages: Vec<Bytes>) -> MessageBatch {
    MessageBatch {
        cluster_id,
        from: 2,
        to: 1,
        messages,
    }
}

#[tokio::test]
async fn messages_from_our_cluster_reach_the_inbox() {
    let mut f = fixture();
    let mut c = client(&f.url).await;
    let batches = vec![batch(CLUSTER, vec![heartbeat(1), heartbeat(1)])];
    c.stream(stamped(tokio_stream::iter(batches), CLUSTER, 1))
        .await
        .expect("stream");
    let got = f.inbox.recv().await.expect("inbox");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].get_msg_type(), MessageType::MsgHeartbeat);
    assert_eq!((got[0].from, got[0].to, got[0].term), (2, 1, 5));
    let traffic = f.metrics.peer_traffic();
    assert_eq!(traffic.len(), 1);
    assert_eq!(traffic[0].0, 2);
    assert_eq!(traffic[0].1.received_bytes, 2 * heartbeat(1).len() as u64);
}

#[tokio::test]
async fn another_cluster_is_rejected_with_a_clear_status() {
    let mut f = fixture();
    let mut c = client(&f.url).await;
    let batches = vec![batch(0xdef, vec![heartbeat(1)])];
    let err = c
        .stream(stamped(tokio_stream::iter(batches.clone()), 0xdef, 1))
        .await
        .expect_err("foreign cluster header");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.message(), CLUSTER_MISMATCH);
    // The envelope is checked too, not just the stream's headers.
    let err = c
        .stream(stamped(tokio_stream::iter(batches), CLUSTER, 1))
        .await
        .expect_err("foreign cluster envelope");
    assert_eq!(err.message(), CLUSTER_MISMATCH);
    // Messages for another member are refused.
    let err = c
        .stream(stamped(
            tokio_stream::iter(vec![batch(CLUSTER, vec![heartbeat(9)])]),
            CLUSTER,
            1,
        ))
        .await
        .expect_err("wrong recipient");
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .stream(stamped(
            tokio_stream::iter(Vec::<MessageBatch>::new()),
            CLUSTER,
            9,
        ))
        .await
        .expect_err("wrong recipient header");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        f.inbox.try_recv().is_err(),
        "nothing rejected may reach raft"
    );
}

#[tokio::test]
async fn malformed_messages_are_refused_and_the_service_keeps_working() {
    let mut f = fixture();
    let mut c = client(&f.url).await;
    let garbage = vec![batch(
        CLUSTER,
        vec![Bytes::from_static(b"\xff\xff\xff\xff\x0fnot raft")],
    )];
    let err = c
        .stream(stamped(tokio_stream::iter(garbage), CLUSTER, 1))
        .await
        .expect_err("garbage message");
    assert_eq!(err.code(), Code::InvalidArgument);
    let good = vec![batch(CLUSTER, vec![heartbeat(1)])];
    c.stream(stamped(tokio_stream::iter(good), CLUSTER, 1))
        .await
        .expect("stream");
    assert_eq!(f.inbox.recv().await.expect("inbox").len(), 1);
}

#[tokio::test]
async fn snapshots_are_stored_before_raft_sees_them() {
    let mut f = fixture();
    let mut c = client(&f.url).await;
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgSnapshot);
    m.from = 2;
    m.to = 1;
    m.mut_snapshot().mut_metadata().index = 77;
    m.mut_snapshot().mut_metadata().term = 3;
    let chunk = |message: Bytes, data: &'static [u8]| SnapshotChunk {
        cluster_id: CLUSTER,
        from: 2,
        to: 1,
        message,
        data: Bytes::from_static(data),
        ..SnapshotChunk::default()
    };
    let trailer = |size: u64, content: &[u8]| SnapshotChunk {
        total_size: size,
        sha256: Bytes::from(Sha256::digest(content).to_vec()),
        ..chunk(Bytes::new(), b"")
    };
    let header = || chunk(Bytes::from(m.write_to_bytes().expect("encode")), b"hello ");
    let content = b"hello snapshot world";
    let transfers = [
        // Cut short (the sender's read failed): no trailer.
        vec![header(), chunk(Bytes::new(), b"snapshot ")],
        // A trailer that does not match the data.
        vec![
            header(),
            chunk(Bytes::new(), b"snapshot "),
            chunk(Bytes::new(), b"w0rld"),
            trailer(20, content),
        ],
        // A trailer with another size.
        vec![
            header(),
            chunk(Bytes::new(), b"snapshot "),
            trailer(20, b"hello snapshot "),
        ],
    ];
    for (n, chunks) in transfers.into_iter().enumerate() {
        let err = c
            .snapshot(stamped(tokio_stream::iter(chunks), CLUSTER, 1))
            .await
            .expect_err(&format!("damaged transfer {n} was accepted"));
        assert_eq!(err.code(), Code::DataLoss, "{err:?}");
        assert!(!f.snaps.received_db_path(77).exists());
        assert!(f.inbox.try_recv().is_err(), "raft never hears of it");
    }
    let chunks = vec![
        header(),
        chunk(Bytes::new(), b"snapshot "),
        chunk(Bytes::new(), b"world"),
        trailer(20, content),
    ];
    c.snapshot(stamped(tokio_stream::iter(chunks), CLUSTER, 1))
        .await
        .expect("snapshot");
    let path = f.snaps.received_db_path(77);
    assert_eq!(std::fs::read(&path).expect("stored db"), content);
    let leftovers: Vec<_> = std::fs::read_dir(f.snaps.dir())
        .expect("snap dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let got = f.inbox.recv().await.expect("inbox");
    assert_eq!(got[0].get_msg_type(), MessageType::MsgSnapshot);
    assert_eq!(got[0].get_snapshot().get_metadata().index, 77);

    let foreign = vec![SnapshotChunk {
        cluster_id: 0xdef,
        ..chunk(Bytes::new(), b"")
    }];
    let err = c
        .snapshot(stamped(tokio_stream::iter(foreign), 0xdef, 1))
        .await
        .expect_err("foreign cluster");
    assert_eq!(err.message(), CLUSTER_MISMATCH);
}

/// A peer client over TLS trusting `ca` and presenting `cert`, as the dialing side will.
async fn tls_client(
    url: &str,
    ca: &std::path::Path,
    cert: &oxcd_testkit::certs::CertFiles,
) -> RaftPeerClient<Channel> {
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().expect("addr");
    let mut config = rustls::ClientConfig::builder_with_provider(oxcd_tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(oxcd_tls::root_store(ca).expect("ca"))
        .with_client_auth_cert(
            oxcd_tls::certificates(&cert.cert).expect("cert"),
            oxcd_tls::private_key(&cert.key).expect("key"),
        )
        .expect("client auth");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let config = Arc::new(config);
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let config = config.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("endpoint")
        .connect_with_connector_lazy(connector);
    RaftPeerClient::new(channel)
}

#[tokio::test]
async fn a_tls_peer_listener_serves_peers_of_the_trusted_ca_only() {
    use oxcd_testkit::certs::Authority;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Authority::new(dir.path(), "ours").expect("ca");
    let foreign = Authority::new(dir.path(), "theirs").expect("ca");
    let member = ca.issue("m1", "m1", &["127.0.0.1"]).expect("cert");
    let peer = ca.issue("m2", "m2", &["127.0.0.1"]).expect("cert");
    let intruder = foreign.issue("m3", "m2", &["127.0.0.1"]).expect("cert");
    let elsewhere = ca.issue("m4", "m2", &["10.9.8.7"]).expect("cert");
    let settings = oxcd_tls::ServerTlsSettings {
        cert_file: member.cert.clone(),
        key_file: member.key.clone(),
        trusted_ca_file: Some(ca.ca_file()),
        client_cert_auth: true,
        allowed_cn: Some("m2".to_string()),
        ..oxcd_tls::ServerTlsSettings::default()
    };
    let config = oxcd_tls::server_config(&settings, &[b"h2"]).expect("config");
    let mut f = fixture_serving(Some(config));

    let mut c = tls_client(&f.url, &ca.ca_file(), &peer).await;
    let batches = vec![batch(CLUSTER, vec![heartbeat(1)])];
    c.stream(stamped(tokio_stream::iter(batches.clone()), CLUSTER, 1))
        .await
        .expect("a peer of our CA is served");
    assert_eq!(f.inbox.recv().await.expect("inbox").len(), 1);

    for (refused, why) in [
        (&intruder, "another CA"),
        (&member, "a common name other than --peer-cert-allowed-cn"),
        (
            &elsewhere,
            "a certificate not naming the address it connects from",
        ),
    ] {
        let mut c = tls_client(&f.url, &ca.ca_file(), refused).await;
        let outcome = c
            .stream(stamped(tokio_stream::iter(batches.clone()), CLUSTER, 1))
            .await;
        assert!(outcome.is_err(), "a peer with {why} was served");
    }
    // A plaintext peer gets nothing from a TLS listener.
    let mut plain = client_lazy(&f.url);
    assert!(
        plain
            .stream(stamped(tokio_stream::iter(batches), CLUSTER, 1))
            .await
            .is_err()
    );
    assert!(f.inbox.try_recv().is_err(), "nothing else reached raft");
}

fn client_lazy(url: &str) -> RaftPeerClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("endpoint")
        .connect_lazy();
    RaftPeerClient::new(channel)
}
