//! `oxadm up -f cluster.yaml --tls` on three SSH hosts (network namespaces with their own sshd
//! and private homes), from an operator's own cluster file: oxadm makes a certificate
//! authority, server, peer and client certificates, and real etcdctl 3.5.1 with the generated
//! client certificate runs the seed's checks over https, while a client without one is
//! refused. `certs renew` gives every member and oxadm new certificates that the members serve
//! at once, without a restart; the data stays. A cluster made with TLS is not brought up
//! without it.

use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use oxcd_tests::Etcdctl;
use oxcd_tests::oxadm_runs::{oxadm_ok, oxadm_refused};
use oxcd_tests::seed_checks::assert_seed_checks;
use oxcd_tests::ssh_hosts::SshHosts;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_with_tls_serves_etcdctl_with_the_client_certificate_and_certs_renew_in_place() {
    let hosts = SshHosts::start(3).await.unwrap();
    let work = tempfile::Builder::new()
        .prefix("oxt-adm-tls-")
        .tempdir()
        .unwrap();
    let text = hosts.cluster_file_text("tls-cluster", 3);
    let file = work.path().join("cluster.yaml");
    std::fs::write(&file, &text).unwrap();
    let file_arg = file.to_str().unwrap().to_owned();

    let started = Instant::now();
    let up = oxadm_ok(&["up", "-f", &file_arg, "--tls"]).await;
    eprintln!(
        "oxadm up --tls: bare hosts to a healthy cluster in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        up.text().contains("made a certificate authority"),
        "{}",
        up.text()
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with(&text),
        "the operator's file was rewritten:\n{written}"
    );
    assert!(written.contains("\ntls:\n"), "{written}");
    let pki = work.path().join("pki");
    for key in ["ca-key.pem", "client-key.pem"] {
        let mode = std::fs::metadata(pki.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{key} is readable by others");
    }
    for i in 0..3 {
        let key = hosts
            .home(i)
            .join(format!("oxcd/peer{}/tls/peer-key.pem", i + 1));
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is readable by others", key.display());
    }

    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("https://{}:2379", hosts.ip(i)))
        .collect();
    let client_flags = |pki: &std::path::Path| {
        ["ca.pem", "client.pem", "client-key.pem"]
            .iter()
            .zip(["--cacert", "--cert", "--key"])
            .map(|(name, flag)| format!("{flag}={}", pki.join(name).display()))
            .collect::<Vec<_>>()
    };
    let etcdctl = Etcdctl::new(endpoints.clone()).with_flags(client_flags(&pki));
    assert_seed_checks(&etcdctl, 3, "peer").await.unwrap();
    etcdctl.ok(&["put", "/tls/before", "1"]).await.unwrap();

    // Without the client certificate, or in plain text, nothing is served.
    let ca_only = Etcdctl::new(endpoints.clone())
        .with_flags([format!("--cacert={}", pki.join("ca.pem").display())]);
    let refused = ca_only.run(&["get", "/tls/before"]).await.unwrap();
    assert_ne!(refused.code, Some(0), "served without a client certificate");
    let plain = Etcdctl::new([format!("http://{}:2379", hosts.ip(0))]);
    assert_ne!(
        plain.run(&["get", "/tls/before"]).await.unwrap().code,
        Some(0)
    );

    let status = oxadm_ok(&["status", "-f", &file_arg]).await;
    assert!(
        status.text().contains("3/3 members answer"),
        "{}",
        status.text()
    );

    // New certificates everywhere, served at once; the old client certificate is replaced.
    let old_client = std::fs::read(pki.join("client.pem")).unwrap();
    let old_server = std::fs::read(hosts.home(0).join("oxcd/peer1/tls/server.pem")).unwrap();
    let started = Instant::now();
    let renew = oxadm_ok(&["certs", "renew", "-f", &file_arg]).await;
    eprintln!("oxadm certs renew: {:.1}s", started.elapsed().as_secs_f64());
    for what in ["clients", "peers"] {
        renew.assert_says(&format!("serves {what} its new certificate"), 3);
    }
    assert_ne!(std::fs::read(pki.join("client.pem")).unwrap(), old_client);
    assert_ne!(
        std::fs::read(hosts.home(0).join("oxcd/peer1/tls/server.pem")).unwrap(),
        old_server
    );
    etcdctl.ok(&["put", "/tls/after", "2"]).await.unwrap();
    let got = etcdctl
        .ok(&["get", "/tls/", "--prefix", "--print-value-only"])
        .await
        .unwrap();
    // Sorted by key: /tls/after, /tls/before.
    assert_eq!(got.stdout, "2\n1\n");
    assert_seed_checks(&etcdctl, 3, "peer").await.unwrap();

    // Running `up` again changes nothing.
    let again = oxadm_ok(&["up", "-f", &file_arg]).await;
    again.assert_says("already running", 3);

    // The same cluster without TLS is refused before anything changes.
    oxadm_ok(&["down", "-f", &file_arg]).await;
    let plain_file = work.path().join("plain.yaml");
    std::fs::write(&plain_file, &text).unwrap();
    oxadm_refused(
        &["up", "-f", plain_file.to_str().unwrap()],
        "switching a cluster between TLS and plain connections is not supported",
    )
    .await;
}
