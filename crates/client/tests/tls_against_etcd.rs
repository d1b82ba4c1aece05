//! The client against real etcd 3.5.1 serving TLS with client-certificate auth: `https://` and
//! bare endpoints with [`TlsOptions`] work, and a server whose certificate does not chain to the
//! CA bundle, or a missing client certificate, fails calls as clientv3 fails them: at the
//! deadline, with `context deadline exceeded` (the handshake's reason is in the retry warning,
//! which `tests/tests/ctl_tls.rs` compares with etcdctl's).

use std::time::Duration;

use oxcd_client::{Client, ClientError, ConnectOptions, GetOptions, PutOptions, TlsOptions};
use oxcd_testkit::etcd_tls::{Pki, TlsEtcd};

fn options(tls: TlsOptions) -> ConnectOptions {
    ConnectOptions {
        tls: Some(tls),
        ..ConnectOptions::default()
    }
}

fn trusted(pki: &Pki) -> TlsOptions {
    TlsOptions {
        ca_file: Some(pki.ca.clone()),
        cert_file: Some(pki.client.cert.clone()),
        key_file: Some(pki.client.key.clone()),
        ..TlsOptions::default()
    }
}

/// A get that must fail at the client's deadline.
async fn assert_get_times_out(client: &Client) {
    let err = client
        .get("k", GetOptions::new())
        .await
        .expect_err("the get must fail");
    assert!(matches!(err, ClientError::Status(_)), "{err:?}");
    assert_eq!(err.code(), Some(tonic::Code::DeadlineExceeded), "{err:?}");
    assert_eq!(err.to_string(), "context deadline exceeded");
}

#[tokio::test]
async fn tls_endpoints_work_and_handshake_failures_say_why() {
    let pki = Pki::new().unwrap();
    let etcd = TlsEtcd::start(&pki).unwrap();
    let https = etcd.url();
    let bare = format!("127.0.0.1:{}", etcd.port);

    let client = Client::connect(std::slice::from_ref(&https), options(trusted(&pki)))
        .await
        .unwrap();
    client.put("k", "v", PutOptions::new()).await.unwrap();
    let bare_client = Client::connect(std::slice::from_ref(&bare), options(trusted(&pki)))
        .await
        .unwrap();
    let got = bare_client.get("k", GetOptions::new()).await.unwrap();
    assert_eq!(got.kvs()[0].value, b"v");
    let status = client.for_endpoint(&https).await.unwrap();
    status.get("k", GetOptions::new()).await.unwrap();

    let quick = |tls: TlsOptions| ConnectOptions {
        request_timeout: Some(Duration::from_secs(1)),
        ..options(tls)
    };
    let foreign_ca = TlsOptions {
        ca_file: Some(pki.foreign_ca.clone()),
        ..trusted(&pki)
    };
    let untrusting = Client::connect(std::slice::from_ref(&https), quick(foreign_ca))
        .await
        .unwrap();
    assert_get_times_out(&untrusting).await;
    let no_cert = TlsOptions {
        ca_file: Some(pki.ca.clone()),
        ..TlsOptions::default()
    };
    let anonymous = Client::connect(std::slice::from_ref(&https), quick(no_cert))
        .await
        .unwrap();
    assert_get_times_out(&anonymous).await;

    // A file that cannot be read fails at once, with etcd's message.
    let missing = pki.dir().join("missing.pem");
    let err = Client::connect(
        std::slice::from_ref(&https),
        options(TlsOptions {
            ca_file: Some(missing.clone()),
            ..TlsOptions::default()
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("open {}: no such file or directory", missing.display())
    );
}
