//! `oxbench` against a real etcd 3.5.1 member serving TLS with client-certificate auth, with
//! etcd's benchmark flags `--cacert --cert --key`: the run stores what it reports, the leader
//! is found over TLS, and unusable TLS settings fail as etcd's tool fails.

use std::process::{Command, Output};

use oxcd_testkit::etcd::require_etcdctl;
use oxcd_testkit::etcd_tls::{Pki, TlsEtcd};
use serde_json::Value;

fn oxbench(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbench"))
        .args(args)
        .output()
        .unwrap()
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn oxbench_puts_over_tls_with_a_client_certificate() {
    let pki = Pki::new().unwrap();
    let etcd = TlsEtcd::start(&pki).unwrap();
    let mut put = args(&["--endpoints", &etcd.url(), "--target-leader"]);
    put.extend(pki.client_flags());
    put.extend(args(&[
        "--clients",
        "4",
        "--conns",
        "2",
        "--total",
        "200",
        "--json",
        "put",
        "--sequential-keys",
        "--key-space-size",
        "200",
    ]));
    let output = oxbench(&put);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "oxbench failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["requests"], 200);
    assert_eq!(summary["errors"], 0);

    let count = Command::new(require_etcdctl())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", etcd.url()))
        .args(pki.client_flags())
        .args(["get", "--from-key", "", "--count-only", "-w", "fields"])
        .output()
        .unwrap();
    let fields = String::from_utf8_lossy(&count.stdout);
    assert!(
        fields.lines().any(|l| l == "\"Count\" : 200"),
        "every sequential key was written once: {fields}{}",
        String::from_utf8_lossy(&count.stderr)
    );

    // Without our CA the server is not trusted; a missing file is reported before dialling.
    let untrusted = oxbench(&args(&[
        "--endpoints",
        &etcd.url(),
        "--dial-timeout",
        "2s",
        "put",
        "--total",
        "1",
    ]));
    assert!(!untrusted.status.success());
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        stderr.contains("x509: certificate signed by unknown authority"),
        "{stderr}"
    );
    let missing = pki.dir().join("missing.pem");
    let bad = oxbench(&args(&[
        "--endpoints",
        &etcd.url(),
        "--cacert",
        &missing.display().to_string(),
        "put",
    ]));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success()
            && stderr.contains(&format!(
                "bad tls config: open {}: no such file or directory",
                missing.display()
            )),
        "{stderr}"
    );
}
