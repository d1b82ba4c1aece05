//! TLS on the client listeners, against real etcd 3.5.1: a one-member etcd and a one-member oxcd
//! get the same TLS flags, real etcdctl 3.5.1 runs the same commands against both, and the
//! outcomes must agree (exit status, and the stable part of what is printed: values, "is
//! healthy", the final `Error:` line; never timings). HTTPS `/health`, `/version` and
//! `/metrics` are fetched with a rustls client. Needs etcd 3.5.1 and fails without it.

use std::path::Path;
use std::time::Duration;

use oxcd_testkit::certs::{Authority, CertFiles};
use oxcd_testkit::ports::free_ports;
use oxcd_tests::etcdctl::CtlOutput;
use oxcd_tests::tls_member::{TlsMember, https_get};
use oxcd_tests::{Etcdctl, Server};
use tempfile::TempDir;

/// Short enough that refused connections fail fast, long enough for a loaded machine.
const DIAL: &str = "--dial-timeout=1s";
const COMMAND: &str = "--command-timeout=3s";

/// The certificates of the tests: our CA, a foreign one, the members' certificate and clients.
struct Pki {
    _dir: TempDir,
    ca: Authority,
    foreign: Authority,
    server: CertFiles,
    alice: CertFiles,
    bob: CertFiles,
    mallory: CertFiles,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ours").unwrap();
    let foreign = Authority::new(dir.path(), "theirs").unwrap();
    let server = ca.issue("server", "server", &["127.0.0.1"]).unwrap();
    let alice = ca.issue("alice", "alice", &["alice.example"]).unwrap();
    let bob = ca.issue("bob", "bob", &["bob.example"]).unwrap();
    let mallory = foreign
        .issue("mallory", "alice", &["alice.example"])
        .unwrap();
    Pki {
        _dir: dir,
        ca,
        foreign,
        server,
        alice,
        bob,
        mallory,
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// `--cert-file`/`--key-file` of the members.
fn served(pki: &Pki) -> Vec<String> {
    vec![
        "--cert-file".into(),
        path(&pki.server.cert),
        "--key-file".into(),
        path(&pki.server.key),
    ]
}

/// etcdctl's TLS flags: trusting `ca`, presenting `client` if given.
fn ctl_tls(ca: &Path, client: Option<&CertFiles>) -> Vec<String> {
    let mut flags = vec![format!("--cacert={}", path(ca))];
    if let Some(files) = client {
        flags.push(format!("--cert={}", path(&files.cert)));
        flags.push(format!("--key={}", path(&files.key)));
    }
    flags
}

/// Both members of one scenario, with their client URLs.
struct Pair {
    etcd: TlsMember,
    oxcd: TlsMember,
    /// Per member, its listen URLs (same schemes, own ports).
    urls: [Vec<String>; 2],
}

/// Starts etcd and oxcd with client URLs of `schemes` (one port each) and `flags`.
fn start_pair(schemes: &[&str], flags: &[String]) -> Pair {
    let ports = free_ports(2 * schemes.len());
    let urls_of = |offset: usize| -> Vec<String> {
        schemes
            .iter()
            .enumerate()
            .map(|(i, scheme)| format!("{scheme}://127.0.0.1:{}", ports[offset + i]))
            .collect()
    };
    let urls = [urls_of(0), urls_of(schemes.len())];
    let etcd = TlsMember::start(Server::Etcd, &urls[0], flags).expect("etcd starts");
    let oxcd = TlsMember::start(Server::Oxcd, &urls[1], flags).expect("oxcd starts");
    Pair { etcd, oxcd, urls }
}

impl Pair {
    /// Runs `etcdctl args` against URL `index` of each member; asserts both exit alike and
    /// returns (etcd's, oxcd's) output.
    async fn same(&self, index: usize, args: &[String]) -> (CtlOutput, CtlOutput) {
        let mut all: Vec<&str> = vec![DIAL, COMMAND];
        all.extend(args.iter().map(String::as_str));
        let run = |url: &String| {
            let ctl = Etcdctl::new([url.clone()]).timeout(Duration::from_secs(30));
            let all = all.clone();
            async move { ctl.run(&all).await.expect("etcdctl runs") }
        };
        // Both at once: a refused command takes its whole timeout.
        let (etcd, oxcd) = futures::join!(run(&self.urls[0][index]), run(&self.urls[1][index]));
        assert_eq!(
            etcd.code,
            oxcd.code,
            "etcdctl {args:?}: etcd exited {:?}, oxcd {:?}\netcd: {}{}\noxcd: {}{}\noxcd log:\n{}",
            etcd.code,
            oxcd.code,
            etcd.stdout,
            etcd.stderr,
            oxcd.stdout,
            oxcd.stderr,
            self.oxcd.log()
        );
        assert_eq!(
            last_error(&etcd),
            last_error(&oxcd),
            "etcdctl {args:?}: etcd: {}\noxcd: {}",
            etcd.stderr,
            oxcd.stderr
        );
        (etcd, oxcd)
    }

    /// Runs `etcdctl args` on URL `index` of both; both must succeed and print the same.
    async fn same_success(&self, index: usize, args: &[String]) {
        let (etcd, oxcd) = self.same(index, args).await;
        assert_eq!(etcd.code, Some(0), "{}", etcd.stderr);
        assert_eq!(etcd.stdout, oxcd.stdout, "etcdctl {args:?}");
    }

    /// Runs `etcdctl args` on URL `index` of both; both must fail alike.
    async fn same_failure(&self, index: usize, args: &[String]) {
        let (etcd, _) = self.same(index, args).await;
        assert_ne!(etcd.code, Some(0), "etcd accepted etcdctl {args:?}");
    }

    /// The port of URL `index` of etcd (0) or oxcd (1).
    fn port(&self, member: usize, index: usize) -> u16 {
        self.urls[member][index]
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }
}

/// The `Error: ...` line etcdctl ends with on failure.
fn last_error(out: &CtlOutput) -> Option<String> {
    out.stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("Error:"))
        .map(str::to_owned)
}

fn with(base: &[String], more: &[&str]) -> Vec<String> {
    base.iter().cloned().chain(strings(more)).collect()
}

#[tokio::test]
async fn server_tls_serves_trusting_clients_and_refuses_the_others() {
    let pki = pki();
    let pair = start_pair(&["https"], &served(&pki));
    let ours = ctl_tls(&pki.ca.ca_file(), None);
    pair.same_success(0, &with(&ours, &["put", "k", "v"])).await;
    pair.same_success(0, &with(&ours, &["get", "k"])).await;
    let (etcd, oxcd) = pair.same(0, &with(&ours, &["endpoint", "health"])).await;
    assert!(etcd.stdout.contains("is healthy") && oxcd.stdout.contains("is healthy"));

    // A client trusting another CA refuses the member.
    let theirs = ctl_tls(&pki.foreign.ca_file(), None);
    pair.same_failure(0, &with(&theirs, &["get", "k"])).await;
    // Plaintext on the TLS port: a clean error for the client, a logged rejection for oxcd.
    let plain_url = pair
        .urls
        .clone()
        .map(|urls| urls[0].replace("https://", "http://"));
    for (urls, member) in [(&plain_url[0], &pair.etcd), (&plain_url[1], &pair.oxcd)] {
        let out = Etcdctl::new([urls.clone()])
            .run(&[DIAL, COMMAND, "get", "k"])
            .await
            .unwrap();
        assert_ne!(out.code, Some(0), "plaintext get on a TLS port succeeded");
        assert_eq!(
            last_error(&out).as_deref(),
            Some("Error: context deadline exceeded")
        );
        assert!(member.log().contains(r#""msg":"rejected connection""#));
    }
    assert!(
        pair.oxcd
            .log()
            .contains("tls: first record does not look like a TLS handshake")
    );

    // HTTPS /health and /version, over HTTP/1.1.
    for member in 0..2 {
        let health = https_get(pair.port(member, 0), "/health", &pki.ca.ca_file(), None).unwrap();
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        assert!(health.contains(r#"{"health":"true""#), "{health}");
        let version = https_get(pair.port(member, 0), "/version", &pki.ca.ca_file(), None).unwrap();
        assert!(version.contains(r#""etcdserver":"3.5.1""#), "{version}");
    }
}

#[tokio::test]
async fn client_cert_auth_refuses_clients_without_a_certificate_of_the_trusted_ca() {
    let pki = pki();
    let mut flags = served(&pki);
    flags.extend(strings(&["--client-cert-auth", "--trusted-ca-file"]));
    flags.push(path(&pki.ca.ca_file()));
    let pair = start_pair(&["https"], &flags);
    let ca = pki.ca.ca_file();
    pair.same_success(
        0,
        &with(&ctl_tls(&ca, Some(&pki.alice)), &["put", "k", "v"]),
    )
    .await;
    pair.same_success(0, &with(&ctl_tls(&ca, Some(&pki.alice)), &["get", "k"]))
        .await;
    pair.same_failure(0, &with(&ctl_tls(&ca, None), &["get", "k"]))
        .await;
    pair.same_failure(0, &with(&ctl_tls(&ca, Some(&pki.mallory)), &["get", "k"]))
        .await;
    // The right certificate, but the member is not trusted (`--cacert` mismatch).
    let foreign = pki.foreign.ca_file();
    pair.same_failure(
        0,
        &with(&ctl_tls(&foreign, Some(&pki.alice)), &["get", "k"]),
    )
    .await;
    let (etcd, oxcd) = pair
        .same(0, &with(&ctl_tls(&ca, None), &["endpoint", "health"]))
        .await;
    for out in [etcd, oxcd] {
        assert!(format!("{}{}", out.stdout, out.stderr).contains("is unhealthy"));
    }

    for member in 0..2 {
        let port = pair.port(member, 0);
        let health = https_get(port, "/health", &ca, Some(&pki.alice)).unwrap();
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        assert!(https_get(port, "/health", &ca, None).is_err());
        assert!(https_get(port, "/health", &ca, Some(&pki.mallory)).is_err());
    }
    assert!(
        pair.oxcd
            .log()
            .contains("tls: client didn't provide a certificate")
    );
}

#[tokio::test]
async fn http_and_https_listeners_side_by_side() {
    let pki = pki();
    let mut flags = served(&pki);
    flags.extend(strings(&["--client-cert-auth", "--trusted-ca-file"]));
    flags.push(path(&pki.ca.ca_file()));
    let pair = start_pair(&["https", "http"], &flags);
    let ca = pki.ca.ca_file();
    pair.same_success(
        0,
        &with(&ctl_tls(&ca, Some(&pki.alice)), &["put", "k", "v"]),
    )
    .await;
    // The http:// URL ignores the certificates and client-cert auth, as etcd warns.
    pair.same_success(1, &strings(&["get", "k"])).await;
    pair.same_failure(0, &with(&ctl_tls(&ca, None), &["get", "k"]))
        .await;
    for member in [&pair.etcd, &pair.oxcd] {
        let log = member.log();
        assert!(log.contains(
            "scheme is HTTP while key and cert files are present; ignoring key and cert files"
        ));
        assert!(log.contains("serving client traffic securely"));
        assert!(log.contains("serving client traffic insecurely"));
    }
}

#[tokio::test]
async fn one_address_serves_both_schemes() {
    let pki = pki();
    let ports = free_ports(2);
    let both = |port: u16| {
        vec![
            format!("https://127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}"),
        ]
    };
    let pair = Pair {
        etcd: TlsMember::start(Server::Etcd, &both(ports[0]), &served(&pki)).unwrap(),
        oxcd: TlsMember::start(Server::Oxcd, &both(ports[1]), &served(&pki)).unwrap(),
        urls: [both(ports[0]), both(ports[1])],
    };
    // etcd logs that it is ready a moment before its shared socket tells the schemes apart.
    for port in ports {
        let healthy =
            || oxcd_testkit::http::get(port, "/health").is_some_and(|r| r.contains("200 OK"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !healthy() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let ours = ctl_tls(&pki.ca.ca_file(), None);
    pair.same_success(0, &with(&ours, &["put", "k", "v"])).await;
    pair.same_success(1, &strings(&["get", "k"])).await;
    for member in 0..2 {
        let health = https_get(pair.port(member, 0), "/health", &pki.ca.ca_file(), None).unwrap();
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    }
}

#[tokio::test]
async fn allowed_hostname_refuses_other_certificates() {
    let pki = pki();
    let mut flags = served(&pki);
    flags.extend(strings(&[
        "--client-cert-auth",
        "--client-cert-allowed-hostname=alice.example",
        "--trusted-ca-file",
    ]));
    flags.push(path(&pki.ca.ca_file()));
    let pair = start_pair(&["https"], &flags);
    let ca = pki.ca.ca_file();
    pair.same_success(
        0,
        &with(&ctl_tls(&ca, Some(&pki.alice)), &["put", "k", "v"]),
    )
    .await;
    pair.same_failure(0, &with(&ctl_tls(&ca, Some(&pki.bob)), &["get", "k"]))
        .await;
}

#[tokio::test]
async fn metrics_and_cipher_suites_over_tls() {
    let pki = pki();
    let ports = free_ports(2);
    let mut flags = served(&pki);
    flags.push("--cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into());
    let etcd_flags = with(
        &flags,
        &[
            "--listen-metrics-urls",
            &format!("https://127.0.0.1:{}", ports[0]),
        ],
    );
    let oxcd_flags = with(
        &flags,
        &[
            "--listen-metrics-urls",
            &format!("https://127.0.0.1:{}", ports[1]),
        ],
    );
    let ports_c = free_ports(2);
    let etcd = TlsMember::start(
        Server::Etcd,
        &[format!("https://127.0.0.1:{}", ports_c[0])],
        &etcd_flags,
    )
    .unwrap();
    let oxcd = TlsMember::start(
        Server::Oxcd,
        &[format!("https://127.0.0.1:{}", ports_c[1])],
        &oxcd_flags,
    )
    .unwrap();
    for port in ports {
        let metrics = https_get(port, "/metrics", &pki.ca.ca_file(), None).unwrap();
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(
            metrics.contains("etcd_server_has_leader"),
            "{}",
            &metrics[..200.min(metrics.len())]
        );
    }
    for port in ports_c {
        let out = Etcdctl::new([format!("https://127.0.0.1:{port}")])
            .run(&[
                DIAL,
                COMMAND,
                &format!("--cacert={}", path(&pki.ca.ca_file())),
                "put",
                "k",
                "v",
            ])
            .await
            .unwrap();
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    drop((etcd, oxcd));
}

#[test]
fn unusable_tls_settings_refuse_to_start_as_etcd() {
    let pki = pki();
    let port = free_ports(2);
    let cert_only = format!(
        "KeyFile and CertFile must both be present[key: , cert: {}]",
        path(&pki.server.cert)
    );
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            Vec::new(),
            "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:PORT with HTTPS scheme",
        ),
        (
            with(&served(&pki), &["--cipher-suites=TLS_BOGUS"]),
            r#"unexpected TLS cipher suite \"TLS_BOGUS\""#,
        ),
        (
            vec!["--cert-file".into(), path(&pki.server.cert)],
            &cert_only,
        ),
        (
            strings(&[
                "--cert-file",
                "/nonexistent.pem",
                "--key-file",
                "/nonexistent-key.pem",
            ]),
            "open /nonexistent.pem: no such file or directory",
        ),
    ];
    for (flags, error) in cases {
        for (server, port) in [(Server::Etcd, port[0]), (Server::Oxcd, port[1])] {
            let url = format!("https://127.0.0.1:{port}");
            let (code, log) = TlsMember::refused(server, &[url], &flags).unwrap();
            assert_ne!(code, Some(0), "{server} started with {flags:?}");
            let error = error.replace("PORT", &port.to_string());
            assert!(
                log.contains(&error),
                "{server} {flags:?}: no {error:?} in\n{log}"
            );
        }
    }
}

#[tokio::test]
async fn auto_tls_serves_a_self_signed_certificate_kept_in_the_data_dir() {
    let pair = start_pair(&["https"], &strings(&["--auto-tls"]));
    let insecure = strings(&[
        "--insecure-transport=false",
        "--insecure-skip-tls-verify",
        "put",
        "k",
        "v",
    ]);
    pair.same_success(0, &insecure).await;
    for member in [&pair.etcd, &pair.oxcd] {
        let fixtures = member.data_dir().join("fixtures").join("client");
        assert!(
            fixtures.join("cert.pem").is_file(),
            "{}",
            fixtures.display()
        );
        assert!(fixtures.join("key.pem").is_file());
    }
    // Not signed by anything the client trusts.
    let pki = pki();
    pair.same_failure(0, &with(&ctl_tls(&pki.ca.ca_file(), None), &["get", "k"]))
        .await;
}

#[tokio::test]
async fn revoked_client_certificates_are_refused() {
    let pki = pki();
    let crl = pki.ca.revocation_list("crl", &[&pki.bob]).unwrap();
    let mut flags = served(&pki);
    flags.extend(strings(&["--client-cert-auth", "--trusted-ca-file"]));
    flags.push(path(&pki.ca.ca_file()));
    flags.push(format!("--client-crl-file={}", path(&crl)));
    let pair = start_pair(&["https"], &flags);
    let ca = pki.ca.ca_file();
    pair.same_success(
        0,
        &with(&ctl_tls(&ca, Some(&pki.alice)), &["put", "k", "v"]),
    )
    .await;
    pair.same_failure(0, &with(&ctl_tls(&ca, Some(&pki.bob)), &["get", "k"]))
        .await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_restart() {
    let pki = pki();
    // The members serve copies, which the test then overwrites.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("served.pem");
    let key = dir.path().join("served-key.pem");
    std::fs::copy(&pki.server.cert, &cert).unwrap();
    std::fs::copy(&pki.server.key, &key).unwrap();
    let flags = vec![
        "--cert-file".into(),
        path(&cert),
        "--key-file".into(),
        path(&key),
    ];
    let pair = start_pair(&["https"], &flags);
    pair.same_success(
        0,
        &with(&ctl_tls(&pki.ca.ca_file(), None), &["put", "k", "v"]),
    )
    .await;
    let renewed = pki
        .foreign
        .issue("renewed", "server", &["127.0.0.1"])
        .unwrap();
    std::fs::copy(&renewed.cert, &cert).unwrap();
    std::fs::copy(&renewed.key, &key).unwrap();
    pair.same_success(
        0,
        &with(&ctl_tls(&pki.foreign.ca_file(), None), &["get", "k"]),
    )
    .await;
    pair.same_failure(0, &with(&ctl_tls(&pki.ca.ca_file(), None), &["get", "k"]))
        .await;
}

#[tokio::test]
async fn a_cluster_serves_its_clients_over_tls_only() {
    use oxcd_tests::grpc_tls::ClusterTls;
    use oxcd_tests::{Cluster, ClusterSpec};
    let pki = pki();
    let tls = ClusterTls {
        ca: pki.ca.ca_file(),
        server: pki.server.clone(),
        client_cert_auth: true,
        harness_client: Some(pki.alice.clone()),
    };
    let server = Server::from_env().unwrap();
    let cluster = Cluster::start(ClusterSpec::new(server, 3).client_tls(tls))
        .await
        .expect("a TLS cluster starts");
    let mut clients = cluster
        .client(1)
        .await
        .expect("the harness connects over TLS");
    clients.put("k", "v", 0).await.unwrap();
    for endpoint in cluster.endpoints() {
        assert!(endpoint.starts_with("https://"), "{endpoint}");
        let mut args = vec![DIAL.to_string(), COMMAND.to_string()];
        args.extend(ctl_tls(&pki.ca.ca_file(), Some(&pki.alice)));
        args.extend(strings(&["get", "k", "--print-value-only"]));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = Etcdctl::new([endpoint]).ok(&args).await.unwrap();
        assert_eq!(out.stdout, "v\n");
    }
}
