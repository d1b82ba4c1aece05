//! `oxutl backup`, etcdutl's legacy offline backup, side by side with real `etcdutl backup` on
//! real etcd: a member of a three-member cluster with a learner that never started is stopped
//! (an oxcd member killed), its data dir backed up, and the backup started under a new name
//! and new ports with `--force-new-cluster`. Real `etcdctl` then finds every key with its
//! value, create and mod revisions, version and lease, the lease with its keys, a single
//! member named by `--name`, and takes writes; the original data dir is byte for byte what it was. Then the refusals: a
//! running member's data dir, a non-empty backup dir or backup WAL dir, `--with-v3=false`, a
//! data dir that is not one, and cobra's answers for missing flags word for word as
//! etcdutl's; and a backup of a compacted log whose WAL is kept apart (`--backup-wal-dir`),
//! started with `--wal-dir`, which grows into a cluster of two once its peer URL is set; and
//! a conf change a killed member had committed but not applied, emptied in its backup.
//!
//! Needs `oxcd`, `oxutl` (`cargo build -p oxcd-server -p oxcd-utl`) and real etcd 3.5.1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use oxcd_api::etcdserverpb::RangeRequest;
use oxcd_testkit::ports::free_ports;
use oxcd_tests::binaries;
use oxcd_tests::grpc::{Clients, connect};
use oxcd_tests::member::{Member, MemberConfig};
use oxcd_tests::offline_tools::{oxutl, real_etcdutl, stderr, stdout};
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server, crash_points, data_dir};
use serde_json::Value;
use sha2::{Digest, Sha256};

const READY: Duration = Duration::from_secs(30);

fn succeeded(out: &Output) {
    assert!(stdout(out).is_empty(), "a backup prints nothing on stdout");
}

/// The last line of standard error.
fn last_error(out: &Output) -> String {
    stderr(out).lines().last().unwrap_or_default().to_owned()
}

/// Overwrites, a delete, two keys on a lease; returns the lease and the last revision.
async fn write_history(clients: &mut Clients) -> (i64, i64) {
    for n in 0..20 {
        clients
            .put(&format!("k{}", n % 7), &format!("v{n}"), 0)
            .await
            .unwrap();
    }
    clients.delete("k3").await.unwrap();
    let lease = clients.grant(600).await.unwrap();
    clients.put("leased/1", "a", lease).await.unwrap();
    let last = clients.put("leased/2", "b", lease).await.unwrap();
    (lease, last)
}

/// Waits until the member at `endpoint` has applied `revision` (a serializable read there).
async fn wait_applied(endpoint: &str, revision: i64) {
    let mut clients = connect(endpoint).await.unwrap();
    for _ in 0..100 {
        let resp = clients
            .kv
            .range(RangeRequest {
                key: b"k0".to_vec(),
                serializable: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if resp.header.unwrap().revision >= revision {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{endpoint} never applied revision {revision}");
}

async fn etcdctl_json(endpoint: &str, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["-w", "json"]);
    let out = Etcdctl::new([endpoint.to_owned()])
        .run(&args)
        .await
        .unwrap()
        .success()
        .unwrap();
    serde_json::from_str(out.stdout.trim()).unwrap()
}

/// Every key as real etcdctl prints it (key, value, revisions, version, lease) and the
/// revision of the read.
async fn every_key(endpoint: &str) -> (Value, i64) {
    let all = etcdctl_json(endpoint, &["get", "", "--from-key"]).await;
    (
        all["kvs"].clone(),
        all["header"]["revision"].as_i64().unwrap(),
    )
}

/// Adds a learner that never starts: a conf change in the log the backup must not replay.
async fn add_learner(endpoint: &str) {
    let peer = format!("--peer-urls=http://127.0.0.1:{}", free_ports(1)[0]);
    let ctl = Etcdctl::new([endpoint.to_owned()]);
    // Members refuse changes until their peers have been reachable for a while.
    for _ in 0..30 {
        let out = ctl
            .run(&["member", "add", "spare", "--learner", &peer])
            .await
            .unwrap();
        if out.code == Some(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{endpoint} never accepted a learner");
}

/// Every file under `dir` and the SHA-256 of its content.
fn digests(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    data_dir::contents(dir)
        .into_iter()
        .map(|(path, bytes)| (path, Sha256::digest(bytes).to_vec()))
        .collect()
}

/// A member started on the backup at `data_dir` as a new cluster: `--force-new-cluster`,
/// `name`, fresh ports, and `extra` arguments.
async fn start_backup(server: Server, dir: &Path, name: &str, extra: &[String]) -> Member {
    let ports = free_ports(2);
    let mut config = MemberConfig::new(
        dir,
        name,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        (ports[0], ports[1]),
        None,
    );
    config.data_dir = dir.join("backup");
    let (client, peer) = (config.client_url(), config.peer_url());
    config.args = [
        "--name",
        name,
        "--data-dir",
        &config.data_dir.to_string_lossy(),
        "--force-new-cluster",
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
        "--listen-peer-urls",
        &peer,
        "--initial-advertise-peer-urls",
        &peer,
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .chain(extra.iter().cloned())
    .collect();
    let mut member = Member::new(server, server.binary().unwrap(), config);
    member.start().unwrap();
    member.wait_ready(READY).await.unwrap();
    member
}

/// What each server's backup, started alone, showed of its membership.
struct Started {
    members: Vec<Value>,
}

async fn back_up_a_stopped_member(server: Server, tool: fn(&[&str]) -> Output) -> Started {
    let mut cluster = Cluster::start(ClusterSpec::new(server, 3)).await.unwrap();
    add_learner(&cluster.endpoint(0)).await;
    let mut clients = cluster.client(0).await.unwrap();
    let (lease, last) = write_history(&mut clients).await;
    let original = etcdctl_json(&cluster.endpoint(0), &["member", "list"]).await;
    let (before, revision) = every_key(&cluster.endpoint(0)).await;
    assert_eq!(revision, last);
    // Stopped once it has applied every write, so nothing it holds is uncommitted. An oxcd
    // member is killed: its backend may not hold the last writes durably, which the WAL
    // copied with it then replays. etcd keeps a hard state that needs no fsync in its WAL's
    // buffer, so a killed etcd member loses the commit index of its last entries and etcd
    // drops them as uncommitted: etcd's member is stopped gracefully.
    wait_applied(&cluster.endpoint(2), last).await;
    match server {
        Server::Oxcd => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cluster.kill9(2).unwrap();
        }
        Server::Etcd => cluster.stop(2).unwrap(),
    }

    let dir = tempfile::tempdir().unwrap();
    let data_dir = cluster.member(2).config().data_dir.clone();
    let files = digests(&data_dir);
    let backup_dir = dir.path().join("backup");
    succeeded(&tool(&[
        "backup",
        "--data-dir",
        &data_dir.to_string_lossy(),
        "--backup-dir",
        &backup_dir.to_string_lossy(),
    ]));
    assert_eq!(
        digests(&data_dir),
        files,
        "the original data dir is unchanged"
    );

    let member = start_backup(server, dir.path(), "restored", &[]).await;
    let endpoint = member.client_url();
    let (after, at) = every_key(&endpoint).await;
    assert_eq!(
        after, before,
        "{server:?}: every key with its revisions and lease"
    );
    assert_eq!(at, revision);
    let ttl = etcdctl_json(
        &endpoint,
        &["lease", "timetolive", &format!("{lease:x}"), "--keys"],
    )
    .await;
    assert!(ttl["ttl"].as_i64().unwrap() > 0, "{ttl}");
    assert_eq!(ttl["keys"].as_array().unwrap().len(), 2, "{ttl}");

    let listed = etcdctl_json(&endpoint, &["member", "list"]).await;
    let members = listed["members"].as_array().unwrap().clone();
    assert_eq!(members.len(), 1, "{server:?}: {listed}");
    assert_eq!(members[0]["name"], "restored");
    assert_eq!(members[0]["clientURLs"], serde_json::json!([endpoint]));
    if server == Server::Oxcd {
        // A new cluster: ids none of the original's; etcdutl's placeholder peer URL replaced
        // by the one the member was started with.
        let old_ids: Vec<&Value> = original["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["ID"])
            .collect();
        assert!(!old_ids.contains(&&members[0]["ID"]), "{listed}");
        assert_ne!(
            listed["header"]["cluster_id"],
            original["header"]["cluster_id"]
        );
        assert_eq!(
            members[0]["peerURLs"],
            serde_json::json!([member.config().peer_url()])
        );
        let log = std::fs::read_to_string(&member.config().log_path).unwrap();
        assert!(
            log.contains("replaced the backup's placeholder peer URL with this member's"),
            "the backup carried no placeholder to replace"
        );
    }

    let put = Etcdctl::new([endpoint.clone()])
        .run(&["put", "after", "backup"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(put.stdout, "OK\n");
    let written = etcdctl_json(&endpoint, &["get", "after"]).await;
    assert_eq!(written["kvs"][0]["mod_revision"], revision + 1);
    Started { members }
}

#[tokio::test]
async fn a_backup_of_a_stopped_member_starts_alone_with_every_key_as_etcds_does() {
    let etcd = back_up_a_stopped_member(Server::Etcd, real_etcdutl).await;
    let ours = back_up_a_stopped_member(Server::Oxcd, oxutl).await;
    let fields = |m: &Value| m.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(fields(&etcd.members[0]), fields(&ours.members[0]));
}

#[tokio::test]
async fn backup_refuses_what_it_cannot_do_and_keeps_the_wal_apart_on_request() {
    // Snapshots every few entries: the backed-up log starts after one.
    let mut cluster =
        Cluster::start(ClusterSpec::new(Server::Oxcd, 1).args(["--snapshot-count", "5"]))
            .await
            .unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    write_history(&mut clients).await;
    // A snapshot is taken once the backend holds its index durably (every 5 s at most).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, last) = write_history(&mut clients).await;
    let data_dir = cluster
        .member(0)
        .config()
        .data_dir
        .to_string_lossy()
        .into_owned();
    let dir = tempfile::tempdir().unwrap();
    let backup_dir = dir.path().join("backup");
    let backup_arg = backup_dir.to_string_lossy().into_owned();
    let nothing_beside = || {
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("oxutl-backup"))
            .collect();
        assert!(names.is_empty(), "staging left behind: {names:?}");
    };
    let back_up = |more: &[&str]| {
        let mut args = vec![
            "backup",
            "--data-dir",
            &data_dir,
            "--backup-dir",
            &backup_arg,
        ];
        args.extend_from_slice(more);
        oxutl(&args)
    };

    let out = back_up(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        last_error(&out).contains("is in use by a running member; stop it first"),
        "{}",
        stderr(&out)
    );
    assert!(!backup_dir.exists());
    nothing_beside();
    cluster.stop(0).unwrap();

    let out = back_up(&["--with-v3=false"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        last_error(&out).starts_with("Error: --with-v3=false is not supported by oxutl")
            && last_error(&out).contains("oxcd has no v2 store"),
        "{}",
        stderr(&out)
    );

    std::fs::create_dir(&backup_dir).unwrap();
    std::fs::write(backup_dir.join("keep"), b"x").unwrap();
    let out = back_up(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        last_error(&out),
        format!("Error: backup-dir \"{backup_arg}\" not empty or could not be read")
    );
    assert_eq!(std::fs::read_dir(&backup_dir).unwrap().count(), 1);
    std::fs::remove_file(backup_dir.join("keep")).unwrap();

    let wal_dir = dir.path().join("backup-wal");
    std::fs::create_dir(&wal_dir).unwrap();
    std::fs::write(wal_dir.join("keep"), b"x").unwrap();
    let wal_arg = wal_dir.to_string_lossy().into_owned();
    let with_wal = [
        "backup",
        "--data-dir",
        &data_dir,
        "--backup-dir",
        &backup_arg,
        "--backup-wal-dir",
        &wal_arg,
    ];
    let out = oxutl(&with_wal);
    assert_eq!(
        last_error(&out),
        format!("Error: backup-wal-dir \"{wal_arg}\" not empty or could not be read")
    );
    std::fs::remove_file(wal_dir.join("keep")).unwrap();

    let missing = dir.path().join("missing").to_string_lossy().into_owned();
    let out = oxutl(&[
        "backup",
        "--data-dir",
        &missing,
        "--backup-dir",
        &backup_arg,
    ]);
    assert_eq!(
        last_error(&out),
        format!("Error: stat {missing}/member/snap/db: no such file or directory")
    );
    // A backend alone, as `snapshot restore` leaves it: no member has run on it.
    let bare = dir.path().join("bare");
    std::fs::create_dir_all(data_dir::snap_dir(&bare)).unwrap();
    std::fs::copy(
        data_dir::backend_path(Path::new(&data_dir)),
        data_dir::backend_path(&bare),
    )
    .unwrap();
    let bare_arg = bare.to_string_lossy().into_owned();
    let out = oxutl(&[
        "backup",
        "--data-dir",
        &bare_arg,
        "--backup-dir",
        &backup_arg,
    ]);
    assert_eq!(
        last_error(&out),
        format!(
            "Error: no WAL in {bare_arg}/member/wal: {bare_arg} is not the data dir of a member \
             that has started, or its WAL is elsewhere (--wal-dir)"
        )
    );
    for args in [
        vec!["backup"],
        vec!["backup", "--data-dir", &data_dir],
        vec!["backup", "--backup-dir", &backup_arg, "--bogus"],
    ] {
        let (ours, theirs) = (oxutl(&args), real_etcdutl(&args));
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(stderr(&ours), stderr(&theirs), "{args:?}");
    }
    nothing_beside();
    assert_eq!(std::fs::read_dir(&backup_dir).unwrap().count(), 0);

    // The empty destinations are taken; the WAL goes where --backup-wal-dir says.
    succeeded(&oxutl(&with_wal));
    assert!(!backup_dir.join("member").join("wal").exists());
    let snapshots: Vec<String> = std::fs::read_dir(data_dir::snap_dir(&backup_dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snap"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert_ne!(
        snapshots[0], "0000000000000000-0000000000000000.snap",
        "the log was compacted"
    );
    assert!(std::fs::read_dir(&wal_dir).unwrap().count() > 0);
    nothing_beside();
    let member = start_backup(
        Server::Oxcd,
        dir.path(),
        "apart",
        &["--wal-dir".to_owned(), wal_arg.clone()],
    )
    .await;
    let (kvs, at) = every_key(&member.client_url()).await;
    assert_eq!(at, last);
    assert_eq!(kvs.as_array().unwrap().len(), 8);
    let listed = etcdctl_json(&member.client_url(), &["member", "list"]).await;
    assert_eq!(listed["members"][0]["name"], "apart");

    // With its real peer URL in place of the placeholder, the cluster of one grows as any
    // other.
    let ctl = Etcdctl::new([member.client_url()]);
    let ports = free_ports(2);
    let mut config = MemberConfig::new(
        dir.path(),
        "grown",
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        (ports[0], ports[1]),
        None,
    );
    let added = ctl
        .run(&[
            "member",
            "add",
            "grown",
            &format!("--peer-urls={}", config.peer_url()),
        ])
        .await
        .unwrap()
        .success()
        .unwrap();
    let (_, initial_cluster) = added.added_member().unwrap();
    config.args = config.args_for_state(&initial_cluster, "unused", "existing");
    let mut grown = Member::new(Server::Oxcd, binaries::oxcd().unwrap(), config);
    grown.start().unwrap();
    grown.wait_ready(READY).await.unwrap();
    let (kvs_there, _) = every_key(&grown.client_url()).await;
    assert_eq!(kvs_there, kvs);
}

#[tokio::test]
async fn a_conf_change_the_member_never_applied_is_emptied_in_its_backup() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 3))
        .await
        .unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    let (_, last) = write_history(&mut clients).await;
    let (before, _) = every_key(&cluster.endpoint(0)).await;
    wait_applied(&cluster.endpoint(2), last).await;
    // The member's apply loop stalls before its next commit while its raft goes on: the
    // learner's addition reaches its log, committed, and never its backend.
    crash_points::arm(
        &cluster.member(2).client_url(),
        "beforeCommit",
        "sleep(30000)",
    )
    .await
    .unwrap();
    add_learner(&cluster.endpoint(0)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.kill9(2).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let out = oxutl(&[
        "backup",
        "--data-dir",
        &cluster.member(2).config().data_dir.to_string_lossy(),
        "--backup-dir",
        &dir.path().join("backup").to_string_lossy(),
    ]);
    succeeded(&out);
    assert!(
        stderr(&out).contains(r#""msg":"ignoring EntryConfChange raft entry""#),
        "{}",
        stderr(&out)
    );
    let member = start_backup(Server::Oxcd, dir.path(), "alone", &[]).await;
    let listed = etcdctl_json(&member.client_url(), &["member", "list"]).await;
    assert_eq!(listed["members"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(every_key(&member.client_url()).await, (before, last));
}
