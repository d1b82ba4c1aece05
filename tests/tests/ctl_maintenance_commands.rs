//! oxctl's maintenance commands next to real etcdctl 3.5.1, and real etcdctl's load checks
//! against oxcd. Covered: `snapshot save` (both clients against a single-member oxcd and a
//! single-member etcd print the same, exit the same, refuse several endpoints with the same
//! message, and leave a file whose SHA-256 trailer matches its content); `check perf --load s`
//! and `check datascale --load s` of real etcdctl PASS against oxcd; oxctl's `check datascale`
//! PASSes against oxcd with etcdctl's output shape; `make-mirror` with `--prefix` and
//! `--dest-prefix` copies the existing keys and follows later puts and deletes, printing the
//! same count as etcdctl mirroring between two etcds; `defrag --cluster`, `alarm list` and
//! `alarm disarm` print what etcdctl prints, against oxcd and against etcd; `snapshot
//! status|restore` print etcdctl's deprecation warning and run `oxutl` with the same arguments.

use std::path::Path;
use std::time::Duration;

use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{AlarmRequest, AlarmType, StatusRequest};
use oxcd_tests::etcdctl::CtlOutput;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};
use sha2::{Digest, Sha256};

/// `check perf` judges latency and throughput on a 2-core machine: it runs alone, the other
/// tests of this file (which start servers and load them) run beside each other.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Bound on make-mirror's first count (printed after 30 s).
const MIRROR_REPORT_TIMEOUT: Duration = Duration::from_secs(60);

/// Bound on one `check` run (perf runs for 60 s).
const CHECK_TIMEOUT: Duration = Duration::from_secs(150);

async fn single(server: Server) -> Cluster {
    Cluster::start(ClusterSpec::new(server, 1)).await.unwrap()
}

fn etcdctl(cluster: &Cluster) -> Etcdctl {
    Etcdctl::new(cluster.endpoints())
}

fn oxctl(cluster: &Cluster) -> Etcdctl {
    Etcdctl::new(cluster.endpoints()).oxctl().unwrap()
}

/// Where the JSON value starting at `text[0]` ends: after its closing quote for a string
/// (escapes skipped), else at the next `,` or `}`.
fn value_end(text: &str) -> usize {
    let Some(quoted) = text.strip_prefix('"') else {
        return text.find([',', '}']).unwrap_or(text.len());
    };
    let mut escaped = false;
    for (i, c) in quoted.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return i + 2,
            _ => {}
        }
    }
    text.len()
}

/// The value after `"key":` in zap JSON lines replaced by `_`.
fn mask_json(text: &str, key: &str) -> String {
    let marker = format!("\"{key}\":");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at + marker.len()]);
        out.push('_');
        let after = &rest[at + marker.len()..];
        rest = &after[value_end(after)..];
    }
    out.push_str(rest);
    out
}

/// zap JSON lines without their `"key"` field (etcdctl's error lines carry a Go stack trace).
fn drop_json_field(text: &str, key: &str) -> String {
    let marker = format!(",\"{key}\":");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        rest = &after[value_end(after)..];
    }
    out.push_str(rest);
    out
}

/// Checks a saved snapshot: a database of whole 512-byte sectors followed by its SHA-256.
fn verify_snapshot(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 32, "{} is too small", path.display());
    assert_eq!(
        bytes.len() % 512,
        32,
        "no digest trailer in {}",
        path.display()
    );
    let (data, trailer) = bytes.split_at(bytes.len() - 32);
    assert_eq!(
        Sha256::digest(data).as_slice(),
        trailer,
        "digest mismatch in {}",
        path.display()
    );
}

/// Exit code, stdout and stderr with timestamps and the download time masked.
fn shown(output: &CtlOutput) -> (Option<i32>, String, String) {
    let stderr = mask_json(&mask_json(&output.stderr, "ts"), "took");
    (output.code, output.stdout.clone(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_save_matches_etcdctl() {
    let _machine = MACHINE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("member.db");
    let file_arg = file.to_str().unwrap();
    for server in [Server::Oxcd, Server::Etcd] {
        let cluster = single(server).await;
        etcdctl(&cluster).run(&["put", "k", "v"]).await.unwrap();
        let mut outputs = Vec::new();
        for tool in [etcdctl(&cluster), oxctl(&cluster)] {
            let output = tool.run(&["snapshot", "save", file_arg]).await.unwrap();
            assert_eq!(output.code, Some(0), "{server}: {output:?}");
            verify_snapshot(&file);
            assert!(!dir.path().join("member.db.part").exists());
            std::fs::remove_file(&file).unwrap();
            outputs.push(shown(&output));
        }
        assert_eq!(outputs[0], outputs[1], "{server}: etcdctl, then oxctl");
        assert_eq!(outputs[1].1, format!("Snapshot saved at {file_arg}\n"));

        let mut refusals = Vec::new();
        for tool in [Etcdctl::new(["127.0.0.1:1", "127.0.0.1:2"]), {
            Etcdctl::new(["127.0.0.1:1", "127.0.0.1:2"])
                .oxctl()
                .unwrap()
        }] {
            let several = tool.run(&["snapshot", "save", file_arg]).await.unwrap();
            let no_file = tool.run(&["snapshot", "save"]).await.unwrap();
            refusals.push((shown(&several), shown(&no_file)));
        }
        assert_eq!(refusals[0], refusals[1], "etcdctl, then oxctl");
        assert_eq!(refusals[1].0.0, Some(5));

        // A member that cannot be reached within --command-timeout: the part file is logged
        // and removed, the stream failure is logged (gRPC's wording of the cause differs)
        // and the exit code is 5.
        let mut unreachable = Vec::new();
        for tool in [Etcdctl::new(["127.0.0.1:1"]), {
            Etcdctl::new(["127.0.0.1:1"]).oxctl().unwrap()
        }] {
            let output = tool
                .run(&["--command-timeout=1s", "snapshot", "save", file_arg])
                .await
                .unwrap();
            let (code, stdout, stderr) = shown(&output);
            let stderr = drop_json_field(&mask_json(&stderr, "error"), "stacktrace");
            unreachable.push((code, stdout, stderr));
        }
        assert_eq!(unreachable[0], unreachable[1], "etcdctl, then oxctl");
        assert_eq!(unreachable[1].0, Some(5));
        assert!(!file.exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_etcdctl_load_checks_pass_against_oxcd() {
    let _machine = MACHINE.write().await;
    let cluster = single(Server::Oxcd).await;
    let tool = etcdctl(&cluster).timeout(CHECK_TIMEOUT);
    let perf = tool.run(&["check", "perf", "--load", "s"]).await.unwrap();
    assert_eq!(perf.code, Some(0), "check perf: {perf:?}");
    assert!(perf.stdout.ends_with("PASS\n"), "{}", perf.stdout);
    assert!(perf.stdout.contains("PASS: Throughput is "));
    let datascale = tool
        .run(&["check", "datascale", "--load", "s"])
        .await
        .unwrap();
    assert_eq!(datascale.code, Some(0), "check datascale: {datascale:?}");
    assert!(
        datascale
            .stdout
            .contains("PASS: Approximate system memory used : "),
        "{}",
        datascale.stdout
    );
}

/// `check datascale` output reduced to its shape: the first line, the progress bar's start
/// and end, and the verdict without the measured number.
fn datascale_shape(stdout: &str) -> Vec<String> {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let draws: Vec<&str> = lines[1].split('\r').collect();
    let last = draws.last().unwrap();
    let elapsed = last.rsplit(' ').next().unwrap();
    assert!(elapsed.ends_with('s'), "{last:?}");
    let verdict = lines[2]
        .strip_suffix(" MB.")
        .and_then(|l| l.rsplit_once(' '))
        .map(|(head, number)| {
            assert!(number.parse::<f64>().is_ok(), "{}", lines[2]);
            head.to_string()
        })
        .unwrap_or_else(|| lines[2].to_string());
    vec![
        lines[0].to_string(),
        draws[..2].join("|"),
        last.trim_end_matches(elapsed).to_string(),
        verdict,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxctl_check_datascale_passes_with_etcdctls_output() {
    let _machine = MACHINE.read().await;
    let cluster = single(Server::Oxcd).await;
    let mut shapes = Vec::new();
    for tool in [etcdctl(&cluster), oxctl(&cluster)] {
        let output = tool
            .timeout(CHECK_TIMEOUT)
            .run(&["check", "datascale", "--load", "s"])
            .await
            .unwrap();
        assert_eq!(output.code, Some(0), "{output:?}");
        shapes.push(datascale_shape(&output.stdout));
    }
    assert_eq!(shapes[0], shapes[1], "etcdctl, then oxctl");
    assert_eq!(
        shapes[1][3], "PASS: Approximate system memory used :",
        "{:?}",
        shapes[1]
    );
    for args in [["--load", "xxl"], ["--prefix", "/"]] {
        etcdctl(&cluster).run(&["put", "/x", "y"]).await.unwrap();
        let mut outputs = Vec::new();
        for tool in [etcdctl(&cluster), oxctl(&cluster)] {
            let mut all = vec!["check", "datascale"];
            all.extend(args);
            let output = tool.run(&all).await.unwrap();
            outputs.push((output.code, output.stdout, output.stderr));
        }
        assert_eq!(outputs[0], outputs[1], "{args:?}: etcdctl, then oxctl");
    }
}

/// Runs one make-mirror session between two fresh single members of `server` with `tool`
/// (etcdctl or oxctl) and returns what it printed and the destination's keys.
async fn mirror_session(server: Server, use_oxctl: bool) -> (String, String) {
    let source = single(server).await;
    let dest = single(server).await;
    let ctl = |cluster: &Cluster| {
        let tool = etcdctl(cluster);
        if use_oxctl {
            tool.oxctl().unwrap()
        } else {
            tool
        }
    };
    for (key, value) in [("/src/a", "1"), ("/src/b", "2"), ("/other/x", "3")] {
        ctl(&source).run(&["put", key, value]).await.unwrap();
    }
    let dest_url = dest.endpoint(0);
    let mut mirror = ctl(&source)
        .spawn(&[
            "make-mirror",
            "--prefix",
            "/src/",
            "--dest-prefix",
            "/dst/",
            &dest_url,
        ])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    ctl(&source).run(&["put", "/src/c", "4"]).await.unwrap();
    ctl(&source).run(&["del", "/src/a"]).await.unwrap();
    ctl(&source).run(&["put", "/other/y", "5"]).await.unwrap();
    ctl(&source).run(&["put", "/src/b", "22"]).await.unwrap();
    // etcdctl prints the count every 30 s; the first report is what is compared.
    let mut stdout = tokio::io::BufReader::new(mirror.stdout.take().unwrap());
    let mut report = String::new();
    tokio::time::timeout(
        MIRROR_REPORT_TIMEOUT,
        tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut report),
    )
    .await
    .expect("no count printed")
    .unwrap();
    mirror.start_kill().unwrap();
    mirror.wait().await.unwrap();
    let keys = ctl(&dest)
        .run(&["get", "--prefix", ""])
        .await
        .unwrap()
        .success()
        .unwrap()
        .stdout;
    (report, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_mirror_follows_like_etcdctl() {
    let _machine = MACHINE.read().await;
    let (ours, theirs) = tokio::join!(
        mirror_session(Server::Oxcd, true),
        mirror_session(Server::Etcd, false)
    );
    assert_eq!(ours.1, "/dst/b\n22\n/dst/c\n4\n");
    assert_eq!(
        ours, theirs,
        "oxctl between oxcds, then etcdctl between etcds"
    );
    assert_eq!(ours.0, "5\n");
}

/// Raises NOSPACE on the member of `cluster` so that `alarm list|disarm` have work.
async fn raise_alarm(cluster: &Cluster) {
    let mut c = cluster.client(0).await.unwrap();
    let member_id = c
        .maintenance
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .header
        .unwrap()
        .member_id;
    c.maintenance
        .alarm(AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id,
            alarm: AlarmType::Nospace as i32,
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defrag_and_alarm_commands_match_etcdctl() {
    let _machine = MACHINE.read().await;
    let cases: &[(&[&str], bool)] = &[
        (&["defrag", "--cluster"], false),
        (&["defrag"], false),
        (&["alarm", "list"], false),
        (&["alarm", "list"], true),
        (&["alarm", "list", "-w", "json"], true),
        (&["alarm", "disarm"], true),
        (&["alarm", "disarm", "-w", "table"], true),
        (&["alarm", "disarm"], false),
        (&["alarm", "list", "extra"], false),
        // A second endpoint that is down: the first is defragmented, the second fails.
        (&["defrag", "--endpoints=127.0.0.1:1"], false),
    ];
    for server in [Server::Oxcd, Server::Etcd] {
        let cluster = single(server).await;
        for (args, alarmed) in cases {
            let mut outputs = Vec::new();
            for tool in [etcdctl(&cluster), oxctl(&cluster)] {
                if *alarmed {
                    raise_alarm(&cluster).await;
                }
                let output = tool.run(args).await.unwrap();
                // Client warnings carry a time, a Go pointer, and gRPC's wording of a failed
                // dial, which depends on timing.
                let stderr = mask_json(&output.stderr, "ts");
                let stderr = mask_json(&mask_json(&stderr, "target"), "error");
                outputs.push((output.code, output.stdout, stderr));
            }
            assert_eq!(
                outputs[0], outputs[1],
                "{server} {args:?}: etcdctl, then oxctl"
            );
        }
    }
}

/// Runs `oxctl` copied into `dir` (so that what lies next to it is the test's choice) with
/// `PATH` limited to the system's directories.
fn run_copied_oxctl(dir: &Path, args: &[&str]) -> std::process::Output {
    let copy = dir.join("oxctl");
    if !copy.exists() {
        std::fs::copy(oxcd_tests::binaries::oxctl().unwrap(), &copy).unwrap();
    }
    std::process::Command::new(&copy)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_status_and_restore_are_handed_to_oxutl() {
    let _machine = MACHINE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let reference = Etcdctl::new(["127.0.0.1:1"])
        .run(&["snapshot", "restore", "missing.db"])
        .await
        .unwrap();
    let warning = "Deprecated: Use `etcdutl snapshot restore` instead.\n\n";
    assert!(reference.stderr.starts_with(warning), "{reference:?}");

    let alone = run_copied_oxctl(dir.path(), &["snapshot", "restore", "missing.db"]);
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert_eq!(alone.status.code(), Some(1));
    assert!(stderr.starts_with(warning), "{stderr}");
    assert!(
        stderr.contains("Error: `snapshot restore` is run by oxutl, which was found neither"),
        "{stderr}"
    );

    // A stand-in oxutl that shows what it was given and fails with its own code.
    let oxutl = dir.path().join("oxutl");
    std::fs::write(&oxutl, "#!/bin/sh\necho \"$@\"\nexit 3\n").unwrap();
    let mut permissions = std::fs::metadata(&oxutl).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&oxutl, permissions).unwrap();
    let restore = run_copied_oxctl(
        dir.path(),
        &[
            "--endpoints=127.0.0.1:1",
            "snapshot",
            "restore",
            "s.db",
            "--name",
            "m1",
            "--data-dir=/d",
        ],
    );
    assert_eq!(restore.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&restore.stderr), warning);
    assert_eq!(
        String::from_utf8_lossy(&restore.stdout),
        "snapshot restore --data-dir=/d --name=m1 -- s.db\n"
    );
    // The real oxutl beside oxctl in the target directory reads a snapshot oxctl saved.
    let cluster = single(Server::Oxcd).await;
    let saved = dir.path().join("saved.db");
    let saved_arg = saved.to_str().unwrap();
    oxctl(&cluster)
        .run(&["snapshot", "save", saved_arg])
        .await
        .unwrap()
        .success()
        .unwrap();
    let delegated = Etcdctl::new(["127.0.0.1:1"])
        .oxctl()
        .unwrap()
        .run(&["snapshot", "status", saved_arg, "-w", "json"])
        .await
        .unwrap();
    let direct = std::process::Command::new(oxcd_tests::binaries::oxutl().unwrap())
        .args(["snapshot", "status", saved_arg, "-w", "json"])
        .output()
        .unwrap();
    assert_eq!(delegated.code, Some(0), "{delegated:?}");
    assert_eq!(delegated.stdout, String::from_utf8_lossy(&direct.stdout));
    assert_eq!(
        delegated.stderr,
        "Deprecated: Use `etcdutl snapshot status` instead.\n\n"
    );

    let status = run_copied_oxctl(dir.path(), &["snapshot", "status", "s.db", "-w", "json"]);
    assert_eq!(status.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&status.stderr),
        "Deprecated: Use `etcdutl snapshot status` instead.\n\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "snapshot status --write-out=json -- s.db\n"
    );
}
