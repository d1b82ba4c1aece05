//! Server configurations from settings, checked by real handshakes over loopback: which
//! clients each configuration admits, and the common name it reports.

use std::net::TcpListener;
use std::path::Path;

use oxcd_testkit::certs::{Authority, CertFiles};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::*;
use crate::pem_files::{certificates, private_key};
use crate::server_listener::{Incoming, ListenerMode};
use crate::server_verify::Revocations;

struct Setup {
    _dir: tempfile::TempDir,
    ca: Authority,
    foreign: Authority,
    server: CertFiles,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ours").unwrap();
    let foreign = Authority::new(dir.path(), "theirs").unwrap();
    let server = ca.issue("server", "server", &["127.0.0.1"]).unwrap();
    Setup {
        _dir: dir,
        ca,
        foreign,
        server,
    }
}

fn settings(s: &Setup) -> ServerTlsSettings {
    ServerTlsSettings {
        cert_file: s.server.cert.clone(),
        key_file: s.server.key.clone(),
        ..ServerTlsSettings::default()
    }
}

fn client_config(ca_file: &Path, cert: Option<&CertFiles>) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(root_store(ca_file).unwrap());
    match cert {
        Some(files) => builder
            .with_client_auth_cert(
                certificates(&files.cert).unwrap(),
                private_key(&files.key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

/// Serves one connection with `settings`; returns the common name the server saw, or the
/// client's error.
async fn connect(
    settings: &ServerTlsSettings,
    client: ClientConfig,
) -> Result<Option<String>, String> {
    connect_checking(settings, client, false).await
}

/// [`connect`] to a listener that checks the client certificate's SAN if `check_san`.
async fn connect_checking(
    settings: &ServerTlsSettings,
    client: ClientConfig,
    check_san: bool,
) -> Result<Option<String>, String> {
    let config = server_config(settings, ALPN_H2_AND_HTTP1).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut incoming = Incoming::start(
        listener,
        ListenerMode {
            tls: Some(config),
            plain: false,
            check_san,
        },
    )
    .unwrap();
    let server = tokio::spawn(async move {
        let mut accepted = incoming.next().await?;
        let mut byte = [0u8; 1];
        accepted.stream.read_exact(&mut byte).await.ok()?;
        accepted.stream.write_all(&byte).await.ok()?;
        accepted.stream.flush().await.ok()?;
        Some(accepted.peer_common_name)
    });
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let exchange = async {
        let mut tls = TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await?;
        tls.write_all(b"x").await?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await?;
        Ok::<_, std::io::Error>(())
    };
    let outcome = exchange.await.map_err(|e| e.to_string());
    let seen = if outcome.is_ok() {
        server.await.unwrap()
    } else {
        server.abort();
        None
    };
    outcome.map(|()| seen.flatten())
}

#[tokio::test]
async fn serves_without_client_certificates_by_default() {
    let s = setup();
    let seen = connect(&settings(&s), client_config(&s.ca.ca_file(), None)).await;
    assert_eq!(seen, Ok(None));
    let refused = connect(&settings(&s), client_config(&s.foreign.ca_file(), None)).await;
    assert!(refused.is_err(), "the client does not trust the server");
}

#[tokio::test]
async fn client_cert_auth_requires_a_certificate_of_the_trusted_ca() {
    let s = setup();
    let mut auth = settings(&s);
    auth.client_cert_auth = true;
    auth.trusted_ca_file = Some(s.ca.ca_file());
    let alice = s.ca.issue("alice", "alice", &[]).unwrap();
    let mallory = s.foreign.issue("mallory", "alice", &[]).unwrap();
    let ca = s.ca.ca_file();
    assert_eq!(
        connect(&auth, client_config(&ca, Some(&alice))).await,
        Ok(Some("alice".to_string()))
    );
    assert!(connect(&auth, client_config(&ca, None)).await.is_err());
    assert!(
        connect(&auth, client_config(&ca, Some(&mallory)))
            .await
            .is_err()
    );

    // As etcd: a CA bundle alone requires client certificates too.
    let mut ca_only = settings(&s);
    ca_only.trusted_ca_file = Some(s.ca.ca_file());
    assert!(connect(&ca_only, client_config(&ca, None)).await.is_err());
}

#[tokio::test]
async fn allowed_common_name_and_host_name() {
    let s = setup();
    let mut by_cn = settings(&s);
    by_cn.trusted_ca_file = Some(s.ca.ca_file());
    by_cn.allowed_cn = Some("alice".to_string());
    let alice = s.ca.issue("alice", "alice", &["alice.example"]).unwrap();
    let bob = s.ca.issue("bob", "bob", &["bob.example"]).unwrap();
    let ca = s.ca.ca_file();
    assert!(
        connect(&by_cn, client_config(&ca, Some(&alice)))
            .await
            .is_ok()
    );
    assert!(
        connect(&by_cn, client_config(&ca, Some(&bob)))
            .await
            .is_err()
    );

    let mut by_host = settings(&s);
    by_host.trusted_ca_file = Some(s.ca.ca_file());
    by_host.allowed_hostname = Some("bob.example".to_string());
    assert!(
        connect(&by_host, client_config(&ca, Some(&bob)))
            .await
            .is_ok()
    );
    assert!(
        connect(&by_host, client_config(&ca, Some(&alice)))
            .await
            .is_err()
    );

    by_host.allowed_cn = Some("alice".to_string());
    let err = server_config(&by_host, ALPN_H2_AND_HTTP1).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"AllowedCN and AllowedHostname are mutually exclusive (cn="alice", hostname="bob.example")"#
    );
}

#[test]
fn unusable_settings_are_errors_naming_the_file() {
    let s = setup();
    let mut no_ca = settings(&s);
    no_ca.client_cert_auth = true;
    let err = server_config(&no_ca, ALPN_H2_AND_HTTP1).unwrap_err();
    assert!(err.to_string().contains("trusted CA file"), "{err}");

    let mut wrong_key = settings(&s);
    let other = s.ca.issue("other", "other", &[]).unwrap();
    wrong_key.key_file = other.key.clone();
    let err = server_config(&wrong_key, ALPN_H2_AND_HTTP1).unwrap_err();
    assert!(
        err.to_string().contains("private key does not match"),
        "{err}"
    );

    let mut missing = settings(&s);
    missing.cert_file = s.server.cert.with_file_name("missing.pem");
    let err = server_config(&missing, ALPN_H2_AND_HTTP1).unwrap_err();
    assert!(err.to_string().starts_with("open "), "{err}");
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_restart() {
    let s = setup();
    let config = settings(&s);
    let ca = s.ca.ca_file();
    assert!(connect(&config, client_config(&ca, None)).await.is_ok());
    // The files now hold a certificate of another CA: the same configuration serves it.
    let renewed = s
        .foreign
        .issue("renewed", "server", &["127.0.0.1"])
        .unwrap();
    let resolver = ReloadingCert::load(
        config.cert_file.clone(),
        config.key_file.clone(),
        crate::crypto_provider(),
    )
    .unwrap();
    let before = resolver.current().unwrap();
    std::fs::copy(&renewed.cert, &config.cert_file).unwrap();
    std::fs::copy(&renewed.key, &config.key_file).unwrap();
    let after = resolver.current().unwrap();
    assert_ne!(before.cert[0], after.cert[0]);
    assert!(
        connect(&config, client_config(&s.foreign.ca_file(), None))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn revoked_certificates_are_refused() {
    let s = setup();
    let alice = s.ca.issue("alice", "alice", &[]).unwrap();
    let bob = s.ca.issue("bob", "bob", &[]).unwrap();
    let crl = s.ca.revocation_list("crl", &[&alice]).unwrap();
    let mut config = settings(&s);
    config.trusted_ca_file = Some(s.ca.ca_file());
    config.crl_file = Some(crl.clone());
    let ca = s.ca.ca_file();
    assert!(
        connect(&config, client_config(&ca, Some(&alice)))
            .await
            .is_err()
    );
    assert_eq!(
        connect(&config, client_config(&ca, Some(&bob))).await,
        Ok(Some("bob".to_string()))
    );

    // A renewed list is read at the next handshake.
    let revocations = Revocations::load(crl.clone()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(10));
    s.ca.revocation_list("crl", &[&bob]).unwrap();
    let bob_cert = certificates(&bob.cert).unwrap();
    let err = revocations.check(&[&bob_cert[0]]).unwrap_err();
    assert!(
        err.starts_with("transport: certificate serial ") && err.ends_with(" revoked"),
        "{err}"
    );
}

#[tokio::test]
async fn peer_listeners_check_the_hosts_a_client_certificate_names() {
    let s = setup();
    let mut config = settings(&s);
    config.trusted_ca_file = Some(s.ca.ca_file());
    let ca = s.ca.ca_file();
    let local = s.ca.issue("local", "m1", &["127.0.0.1"]).unwrap();
    let elsewhere = s.ca.issue("elsewhere", "m2", &["10.1.2.3"]).unwrap();
    let nameless = s.ca.issue("nameless", "m3", &[]).unwrap();
    let by_name = s.ca.issue("by-name", "m4", &["localhost"]).unwrap();
    for (files, admitted) in [
        (&local, true),
        (&elsewhere, false),
        (&nameless, true),
        (&by_name, true),
    ] {
        let outcome = connect_checking(&config, client_config(&ca, Some(files)), true).await;
        assert_eq!(
            outcome.is_ok(),
            admitted,
            "{}: {outcome:?}",
            files.cert.display()
        );
    }
    // Client listeners do not check.
    assert!(
        connect(&config, client_config(&ca, Some(&elsewhere)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn cipher_suites_restrict_tls12_only() {
    use rustls::crypto::aws_lc_rs::cipher_suite;
    let s = setup();
    let mut config = settings(&s);
    config.cipher_suites = crate::cipher_suites::cipher_suites(&[
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".to_string(),
    ])
    .unwrap();
    // A TLS 1.2 client offering only `suite`.
    let tls12_client = |suite: rustls::SupportedCipherSuite| {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        provider.cipher_suites = vec![suite];
        ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(root_store(&s.ca.ca_file()).unwrap())
            .with_no_client_auth()
    };
    assert!(
        connect(
            &config,
            tls12_client(cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
        )
        .await
        .is_ok()
    );
    assert!(
        connect(
            &config,
            tls12_client(cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        )
        .await
        .is_err()
    );
    // TLS 1.3 is untouched, as in Go.
    assert!(
        connect(&config, client_config(&s.ca.ca_file(), None))
            .await
            .is_ok()
    );
}
