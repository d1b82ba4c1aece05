//! oxctl's TLS flags against etcdctl 3.5.1's: real etcd 3.5.1 serves clients over TLS with
//! client-certificate auth (certificates from `oxcd_testkit::certs`), and the same command lines
//! run through etcdctl and through oxctl must exit alike and print alike (log timestamps, Go
//! pointers and measured durations normalised). Covered: put/get, `endpoint health` and
//! `endpoint status` with a client certificate; without one; with another CA's certificate;
//! `--insecure-skip-tls-verify` alone (etcdctl 3.5.1 ignores it without TLS settings) and with
//! them; bare `host:port` endpoints taking TLS from the flags, `http://` ones never; unusable
//! files (exit 128 with Go's messages); and `make-mirror` into a TLS destination.
//!
//! One known difference is asserted as such: a plain-text client on the TLS port fails with
//! exit 1 from both tools, but etcdctl waits for its deadline (`connection closed`) where
//! oxctl's HTTP/2 connection reports the broken pipe at once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use oxcd_testkit::etcd_cluster::Cluster;
use oxcd_testkit::etcd_tls::{Pki, TlsEtcd};
use oxcd_testkit::ports::free_port;
use oxcd_tests::etcdctl::{CtlOutput, Etcdctl};

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `args` preceded by our CA and the client certificate.
fn with_cert(pki: &Pki, args: &[&str]) -> Vec<String> {
    let mut all = pki.client_flags();
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

/// A file in the test's directory, written with `text`.
fn write_file(pki: &Pki, name: &str, text: &str) -> Result<PathBuf> {
    let path = pki.dir().join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// What cannot be equal between two runs: log timestamps, Go pointers, measured durations.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        // Quoted values (ISO timestamps, durations) end at the quote, numeric ones (epoch
        // timestamps) at the comma.
        for (start, end) in [("\"ts\":\"", '"'), ("\"took\":\"", '"'), ("\"ts\":", ',')] {
            if let Some(at) = line.find(start) {
                let from = at + start.len();
                if let Some(len) = line[from..].find(end) {
                    line.replace_range(from..from + len, "X");
                }
            }
        }
        if let Some(at) = line.find("took = ") {
            let from = at + "took = ".len();
            let len = line[from..].find(' ').unwrap_or(line.len() - from);
            line.replace_range(from..from + len, "X");
        }
        if let Some(at) = line.find("0xc") {
            let len = line[at..]
                .find(|c: char| !c.is_ascii_hexdigit() && c != 'x')
                .unwrap_or(line.len() - at);
            line.replace_range(at..at + len, "PTR");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Runs `args` through etcdctl and oxctl against `endpoints`; returns a description of any
/// difference, else what etcdctl printed.
async fn compare(
    endpoints: &str,
    args: &[String],
) -> Result<std::result::Result<CtlOutput, String>> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let etcdctl = Etcdctl::new([endpoints]).run(&args).await?;
    let oxctl = Etcdctl::new([endpoints]).oxctl()?.run(&args).await?;
    let same = etcdctl.code == oxctl.code
        && normalize(&etcdctl.stdout) == normalize(&oxctl.stdout)
        && normalize(&etcdctl.stderr) == normalize(&oxctl.stderr);
    if same {
        Ok(Ok(etcdctl))
    } else {
        Ok(Err(format!(
            "--endpoints={endpoints} {}\n  etcdctl: {:?}\n  oxctl:   {:?}",
            args.join(" "),
            etcdctl,
            oxctl
        )))
    }
}

/// One command line, its endpoints and the exit code both tools must give.
type CtlCase<'a> = (&'a str, Vec<String>, Option<i32>);

/// Compares one case; a description of what went wrong, if anything did.
async fn check((endpoints, args, expected): &CtlCase<'_>) -> Result<Option<String>> {
    Ok(match compare(endpoints, args).await? {
        Ok(output) if output.code == *expected => None,
        Ok(output) => Some(format!(
            "--endpoints={endpoints} {}: both exited {:?}, expected {expected:?}: {output:?}",
            args.join(" "),
            output.code
        )),
        Err(difference) => Some(difference),
    })
}

#[tokio::test]
async fn oxctl_over_tls_answers_as_etcdctl() -> Result<()> {
    let pki = Pki::new()?;
    let etcd = TlsEtcd::start(&pki)?;
    let https = etcd.url();
    let bare = format!("127.0.0.1:{}", etcd.port);
    let http = format!("http://127.0.0.1:{}", etcd.port);
    let ca = format!("--cacert={}", path(&pki.ca));
    let foreign_ca = format!("--cacert={}", path(&pki.foreign_ca));
    let quick = "--command-timeout=1s";
    let cases: Vec<CtlCase> = vec![
        (&https, with_cert(&pki, &["put", "foo", "bar"]), Some(0)),
        (&https, with_cert(&pki, &["get", "foo"]), Some(0)),
        (
            &https,
            with_cert(&pki, &["get", "foo", "-w", "json"]),
            Some(0),
        ),
        (&https, with_cert(&pki, &["endpoint", "health"]), Some(0)),
        (
            &https,
            with_cert(&pki, &["endpoint", "health", "-w", "json"]),
            Some(0),
        ),
        (
            &https,
            with_cert(&pki, &["endpoint", "status", "-w", "table"]),
            Some(0),
        ),
        (
            &https,
            with_cert(&pki, &["endpoint", "status", "-w", "json"]),
            Some(0),
        ),
        // Bare endpoints take TLS from the flags.
        (&bare, with_cert(&pki, &["get", "foo"]), Some(0)),
        // No client certificate: the server refuses the handshake.
        (
            &https,
            vec![
                quick.into(),
                ca.clone(),
                "put".into(),
                "k".into(),
                "v".into(),
            ],
            Some(1),
        ),
        (
            &https,
            vec![quick.into(), ca.clone(), "endpoint".into(), "health".into()],
            Some(1),
        ),
        (
            &https,
            vec![quick.into(), ca.clone(), "endpoint".into(), "status".into()],
            Some(1),
        ),
        // A CA that did not sign the server's certificate.
        (
            &https,
            vec![
                quick.into(),
                foreign_ca.clone(),
                format!("--cert={}", path(&pki.client.cert)),
                format!("--key={}", path(&pki.client.key)),
                "get".into(),
                "foo".into(),
            ],
            Some(1),
        ),
        // A client certificate from another CA.
        (
            &https,
            vec![
                quick.into(),
                ca.clone(),
                format!("--cert={}", path(&pki.foreign_client.cert)),
                format!("--key={}", path(&pki.foreign_client.key)),
                "get".into(),
                "foo".into(),
            ],
            Some(1),
        ),
        // Alone, the switch changes nothing: the system's roots do not know our CA.
        (
            &https,
            vec![
                quick.into(),
                "--insecure-skip-tls-verify".into(),
                "get".into(),
                "foo".into(),
            ],
            Some(1),
        ),
        // With a client certificate there are TLS settings, and the switch applies.
        (
            &https,
            vec![
                "--insecure-skip-tls-verify".into(),
                format!("--cert={}", path(&pki.client.cert)),
                format!("--key={}", path(&pki.client.key)),
                "get".into(),
                "foo".into(),
            ],
            Some(0),
        ),
        (
            &https,
            vec![
                "--insecure-skip-tls-verify".into(),
                "--insecure-transport=false".into(),
                format!("--cert={}", path(&pki.client.cert)),
                format!("--key={}", path(&pki.client.key)),
                "get".into(),
                "foo".into(),
            ],
            Some(0),
        ),
    ];
    // The cases that succeed run in order (a put, then what reads it); the failing ones, each
    // waiting for its deadline, run at the same time.
    let (succeeding, failing): (Vec<_>, Vec<_>) = cases
        .iter()
        .partition(|(_, _, expected)| *expected == Some(0));
    let mut outcomes = Vec::new();
    for case in &succeeding {
        outcomes.push(check(case).await?);
    }
    for outcome in futures::future::join_all(failing.iter().map(|case| check(case))).await {
        outcomes.push(outcome?);
    }
    let differences: Vec<String> = outcomes.into_iter().flatten().collect();
    ensure!(differences.is_empty(), "{}", differences.join("\n"));

    // A plain-text client on the TLS port: both fail with exit 1 and an error line.
    let args = [quick, "put", "k", "v"];
    for endpoints in [&http, &bare] {
        let etcdctl = Etcdctl::new([endpoints.as_str()]).run(&args).await?;
        let oxctl = Etcdctl::new([endpoints.as_str()])
            .oxctl()?
            .run(&args)
            .await?;
        for (tool, output) in [("etcdctl", &etcdctl), ("oxctl", &oxctl)] {
            ensure!(
                output.code == Some(1) && output.stderr.lines().any(|l| l.starts_with("Error: ")),
                "{tool} on a TLS port without TLS: {output:?}"
            );
        }
    }
    let with_http = with_cert(&pki, &["put", "k", "v"]);
    let args: Vec<&str> = std::iter::once(quick)
        .chain(with_http.iter().map(String::as_str))
        .collect();
    let oxctl = Etcdctl::new([http.as_str()]).oxctl()?.run(&args).await?;
    ensure!(
        oxctl.code == Some(1),
        "an http:// endpoint must stay plain text despite --cacert: {oxctl:?}"
    );
    Ok(())
}

#[tokio::test]
async fn unusable_tls_files_are_refused_with_etcdctls_messages() -> Result<()> {
    let pki = Pki::new()?;
    let not_pem = write_file(&pki, "not-pem.txt", "not a certificate\n")?;
    let missing = pki.dir().join("missing.pem");
    let cert = format!("--cert={}", path(&pki.client.cert));
    let key = format!("--key={}", path(&pki.client.key));
    let cases: Vec<Vec<String>> = vec![
        vec![
            format!("--cacert={}", path(&missing)),
            "get".into(),
            "foo".into(),
        ],
        vec![
            format!("--cert={}", path(&missing)),
            key.clone(),
            "get".into(),
            "foo".into(),
        ],
        vec![
            cert.clone(),
            format!("--key={}", path(&missing)),
            "get".into(),
            "foo".into(),
        ],
        vec![cert.clone(), "get".into(), "foo".into()],
        vec![key.clone(), "get".into(), "foo".into()],
        vec![
            format!("--cert={}", path(&not_pem)),
            key.clone(),
            "get".into(),
            "foo".into(),
        ],
        vec![
            cert.clone(),
            format!("--key={}", path(&not_pem)),
            "get".into(),
            "foo".into(),
        ],
        vec![
            cert.clone(),
            format!("--key={}", path(&pki.foreign_client.key)),
            "get".into(),
            "foo".into(),
        ],
        vec!["--cacert=".into(), "get".into(), "foo".into()],
    ];
    // Nothing listens there: the files are read before anything is dialled.
    let endpoint = format!("https://127.0.0.1:{}", free_port());
    let mut differences = Vec::new();
    for args in &cases {
        match compare(&endpoint, args).await? {
            Ok(output) if output.code == Some(128) && output.stderr.starts_with("Error: ") => {}
            Ok(output) => differences.push(format!("{args:?}: both printed {output:?}")),
            Err(difference) => differences.push(difference),
        }
    }
    ensure!(differences.is_empty(), "{}", differences.join("\n"));
    Ok(())
}

#[tokio::test]
async fn make_mirror_copies_into_a_tls_destination() -> Result<()> {
    let pki = Pki::new()?;
    let destination = TlsEtcd::start(&pki)?;
    let source = Cluster::start(1);
    let source_ep = source.endpoints()[0].clone();
    Etcdctl::new([source_ep.as_str()])
        .ok(&["put", "mirrored/a", "1"])
        .await?;
    let dest_flags = [
        format!("--dest-cacert={}", path(&pki.ca)),
        format!("--dest-cert={}", path(&pki.client.cert)),
        format!("--dest-key={}", path(&pki.client.key)),
    ];
    for (tool, prefix) in [("etcdctl", "by-etcdctl/"), ("oxctl", "by-oxctl/")] {
        let mut ctl = Etcdctl::new([source_ep.as_str()]);
        if tool == "oxctl" {
            ctl = ctl.oxctl()?;
        }
        let mut args = vec![
            "make-mirror".to_string(),
            "--prefix=mirrored/".into(),
            format!("--dest-prefix={prefix}"),
        ];
        args.extend(dest_flags.iter().cloned());
        args.push(destination.url());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut mirror = ctl.spawn(&args)?;
        let dest = Etcdctl::new([destination.url()]);
        let key = format!("{prefix}a");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let get = with_cert(&pki, &["get", &key, "--print-value-only"]);
            let got = dest.ok(&strs(&get)).await?;
            if got.stdout == "1\n" {
                break;
            }
            if Instant::now() > deadline {
                let _ = mirror.start_kill();
                let output = mirror.wait_with_output().await?;
                bail!(
                    "{tool} make-mirror did not copy {key} into the TLS destination: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        mirror.start_kill()?;
        mirror.wait().await?;
    }

    // A destination CA file that cannot be read stops both before anything is copied.
    let args = vec![
        "make-mirror".to_string(),
        format!("--dest-cacert={}", path(&pki.dir().join("missing.pem"))),
        destination.url(),
    ];
    match compare(&source_ep, &args).await? {
        Ok(output) if output.code == Some(128) => Ok(()),
        Ok(output) => bail!("make-mirror with a missing destination CA: {output:?}"),
        Err(difference) => bail!("{difference}"),
    }
}
