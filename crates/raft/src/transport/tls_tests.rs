//! Dialling peers over TLS: a TLS front (tokio-rustls, requiring client certificates from the
//! test CA) relays to the peer service of a loopback fixture, and a member's peer connection
//! and the join-time membership query reach it through `https://` URLs, presenting the peer
//! certificate; a certificate from another CA, or none, is refused.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oxcd_testkit::certs::{Authority, CertFiles};
use rustls::server::WebPkiClientVerifier;
use tokio::sync::mpsc;

use super::proto::raft_peer_client::RaftPeerClient;
use super::tests::{CLUSTER, batch, fixture, heartbeat, stamped};
use super::*;
use crate::peers::PeerUrls;
use crate::snap::SnapStore;

/// Accepts TLS on a loopback port with `server`'s certificate, requiring a client certificate
/// that chains to `ca`, and relays each connection to `plain` (`http://host:port`); returns
/// the `https://` URL.
async fn tls_front(server: &CertFiles, ca: &Path, plain: &str) -> String {
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(oxcd_tls::root_store(ca).unwrap()),
        oxcd_tls::crypto_provider(),
    )
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(oxcd_tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            oxcd_tls::certificates(&server.cert).unwrap(),
            oxcd_tls::private_key(&server.key).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let backend = plain.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await
                    && let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    url
}

fn peer_tls(ca: &Path, cert: Option<&CertFiles>) -> Option<Arc<rustls::ClientConfig>> {
    let settings = oxcd_tls::ClientTlsSettings {
        ca_file: Some(ca.to_path_buf()),
        cert_file: cert.map(|c| c.cert.clone()),
        key_file: cert.map(|c| c.key.clone()),
        insecure_skip_verify: false,
    };
    Some(oxcd_tls::client_config(&settings).unwrap())
}

/// A sending member (id 2) that knows member 1 at `url`.
fn sender(url: &str, tls: Option<Arc<rustls::ClientConfig>>, dir: &Path) -> PeerContext {
    let peers = PeerUrls::new();
    peers.set(1, vec![url.to_string()]);
    let (feedback, _) = mpsc::unbounded_channel();
    PeerContext {
        id: 2,
        cluster_id: CLUSTER,
        peers,
        activity: PeerActivity::default(),
        snaps: SnapStore::open(dir).unwrap(),
        feedback,
        tls,
        metrics: Arc::default(),
    }
}

#[tokio::test]
async fn peers_are_dialled_over_tls_with_the_peer_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "cluster").unwrap();
    let foreign = Authority::new(dir.path(), "foreign").unwrap();
    let member = ca.issue("member", "member", &["127.0.0.1"]).unwrap();
    let intruder = foreign.issue("intruder", "member", &["127.0.0.1"]).unwrap();
    let mut f = fixture();
    let url = tls_front(&member, &ca.ca_file(), &f.url).await;

    // The raft stream reaches the receiving member through TLS.
    let ctx = sender(&url, peer_tls(&ca.ca_file(), Some(&member)), dir.path());
    let channel = ctx.connect(1).await.unwrap();
    let batches = vec![batch(CLUSTER, vec![heartbeat(1)])];
    RaftPeerClient::new(channel)
        .stream(stamped(tokio_stream::iter(batches), CLUSTER, 1))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), f.inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got[0].from, got[0].to), (2, 1));

    // So does the membership query of a joining member.
    let timeout = Duration::from_secs(5);
    let remote = fetch_cluster(
        std::slice::from_ref(&url),
        timeout,
        peer_tls(&ca.ca_file(), Some(&member)),
    )
    .await
    .unwrap();
    assert_eq!(remote.cluster_id, CLUSTER);

    // A server certificate from a CA we do not trust is refused, in Go's words.
    let err = fetch_cluster(
        std::slice::from_ref(&url),
        timeout,
        peer_tls(&foreign.ca_file(), Some(&member)),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("x509: certificate signed by unknown authority"),
        "{err}"
    );

    // A member presenting another CA's certificate, or none, gets no answer.
    for presented in [Some(&intruder), None] {
        let ctx = sender(&url, peer_tls(&ca.ca_file(), presented), dir.path());
        let answered = match ctx.connect(1).await {
            Ok(channel) => RaftPeerClient::new(channel)
                .members(proto::MembersRequest {})
                .await
                .is_ok(),
            Err(_) => false,
        };
        assert!(!answered, "a peer presenting {presented:?} was answered");
    }

    // http:// URLs stay plain text even with peer TLS settings.
    let plain = sender(&f.url, peer_tls(&ca.ca_file(), Some(&member)), dir.path());
    plain.connect(1).await.unwrap();
}
