//! `oxutl`, etcdutl's counterpart, on the files real oxcd members make: `snapshot status` of a
//! snapshot taken with real `etcdctl snapshot save` (the same shapes as etcdutl's for an etcd
//! snapshot, the revision of the member it came from), disaster recovery (`snapshot restore`
//! of three members with `--bump-revision --mark-compacted`, then a fresh cluster started on
//! them, each on a host of its own: a network namespace), the new cluster's and members' ids (etcdutl's for the same flags), the refusals
//! etcdutl makes (an existing data dir, a damaged snapshot, a missing file), and offline
//! `defrag` of a stopped member.
//!
//! Needs `oxcd`, `oxutl` (`cargo build -p oxcd-server -p oxcd-utl`) and real etcd 3.5.1.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use oxcd_api::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, HashKvRequest, LeaseTimeToLiveRequest,
    MemberListRequest, WatchCreateRequest, WatchRequest, watch_request,
};
use oxcd_tests::binaries;
use oxcd_tests::data_dir::backend_path;
use oxcd_tests::grpc::{Clients, connect};
use oxcd_tests::member::{Member, MemberConfig};
use oxcd_tests::offline_tools::{oxutl, real_etcdutl, stderr, stdout};
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, NetnsLab, Server};

const READY: Duration = Duration::from_secs(30);

/// Puts a small history (overwrites, a delete, a key on a lease) and returns the lease id.
async fn write_history(clients: &mut Clients) -> i64 {
    for (key, value) in [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")] {
        clients.put(key, value, 0).await.unwrap();
    }
    clients.delete("c").await.unwrap();
    let lease = clients.grant(600).await.unwrap();
    clients.put("leased", "v", lease).await.unwrap();
    lease
}

async fn snapshot(cluster: &Cluster, path: &Path) {
    Etcdctl::new([cluster.endpoint(0)])
        .run(&["snapshot", "save", &path.to_string_lossy()])
        .await
        .unwrap()
        .success()
        .unwrap();
}

/// The JSON object's keys, in order.
fn json_keys(text: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    value
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>()
}

/// Names of `"Name" : value` lines.
fn field_names(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split(" : ").next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn snapshot_status_describes_an_oxcd_snapshot_as_etcdutl_describes_etcds() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for (server, tool) in [
        (Server::Etcd, real_etcdutl as fn(&[&str]) -> Output),
        (Server::Oxcd, oxutl as fn(&[&str]) -> Output),
    ] {
        let cluster = Cluster::start(ClusterSpec::new(server, 1)).await.unwrap();
        let mut clients = cluster.client(0).await.unwrap();
        write_history(&mut clients).await;
        let (_, revision) = clients.all_keys().await.unwrap();
        let file = dir.path().join(format!("{server:?}.db"));
        snapshot(&cluster, &file).await;
        let path = file.to_string_lossy().into_owned();
        let formats: Vec<String> = ["json", "table", "simple", "fields"]
            .iter()
            .map(|w| stdout(&tool(&["snapshot", "status", &path, "-w", w])))
            .collect();
        let json: serde_json::Value = serde_json::from_str(formats[0].trim()).unwrap();
        assert_eq!(json["revision"], revision, "{server:?}: {}", formats[0]);
        let size = std::fs::metadata(&file).unwrap().len() - 32;
        assert_eq!(json["totalSize"], size, "{server:?}: {}", formats[0]);
        assert!(json["totalKey"].as_u64().unwrap() > 0);
        if server == Server::Oxcd {
            // The hash is of the file's content: the same for every reading of it.
            assert_eq!(
                stdout(&tool(&["snapshot", "status", &path, "-w", "json"])),
                formats[0]
            );
            let hashkv = stdout(&tool(&["hashkv", &path, "-w", "json"]));
            let hashkv: serde_json::Value = serde_json::from_str(hashkv.trim()).unwrap();
            let live = clients
                .maintenance
                .hash_kv(HashKvRequest { revision: 0 })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(hashkv["hash"], live.hash);
            assert_eq!(hashkv["hashRevision"], revision);
        }
        outputs.push(formats);
    }
    let (etcd, ox) = (&outputs[0], &outputs[1]);
    assert_eq!(json_keys(&etcd[0]), json_keys(&ox[0]));
    // Column widths follow the values (the hash has no leading zeros): compare the cells.
    let cells = |table: &str| -> Vec<Vec<String>> {
        table
            .lines()
            .map(|line| line.split('|').map(|c| c.trim().replace('-', "")).collect())
            .collect()
    };
    assert_eq!(
        cells(&etcd[1])[1],
        cells(&ox[1])[1],
        "{}\n{}",
        etcd[1],
        ox[1]
    );
    assert_eq!(etcd[1].lines().count(), ox[1].lines().count());
    let simple_shape = |s: &str| s.trim().split(", ").count();
    assert_eq!(simple_shape(&etcd[2]), simple_shape(&ox[2]));
    assert_eq!(field_names(&etcd[3]), field_names(&ox[3]));
}

/// Runs the members of a restored cluster and waits until all serve (each needs a quorum).
async fn start_members(configs: Vec<MemberConfig>) -> Vec<Member> {
    let mut members: Vec<Member> = configs
        .into_iter()
        .map(|config| Member::new(Server::Oxcd, binaries::oxcd().unwrap(), config))
        .collect();
    for member in &mut members {
        member.start().unwrap();
    }
    for member in &mut members {
        member.wait_ready(READY).await.unwrap();
    }
    members
}

#[tokio::test]
async fn disaster_recovery_restores_three_members_with_a_bumped_compacted_revision() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.db");
    let (before, old_revision, lease) = {
        let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
            .await
            .unwrap();
        let mut clients = cluster.client(0).await.unwrap();
        let lease = write_history(&mut clients).await;
        let (kvs, revision) = clients.all_keys().await.unwrap();
        snapshot(&cluster, &file).await;
        (kvs, revision, lease)
    };

    // The new cluster's members each on a host of their own, with etcd's standard ports.
    let lab = NetnsLab::create(3).expect("network namespaces (needs root)");
    let token = "oxt-restored";
    let configs: Vec<MemberConfig> = lab
        .hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| MemberConfig {
            name: format!("r{}", i + 1),
            ip: IpAddr::V4(host.ip),
            client_port: 2379,
            peer_port: 2380,
            data_dir: dir.path().join(format!("r{}", i + 1)),
            log_path: dir.path().join(format!("r{}.log", i + 1)),
            netns: Some(host.netns.clone()),
            args: Vec::new(),
            client_tls: None,
            peer_tls: None,
        })
        .collect();
    let initial_cluster = configs
        .iter()
        .map(|c| format!("{}={}", c.name, c.peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    let mut members = Vec::new();
    for (i, mut config) in configs.into_iter().enumerate() {
        let data_dir = config.data_dir.to_string_lossy().into_owned();
        let snap = file.to_string_lossy().into_owned();
        let peer_url = config.peer_url();
        let mut args = vec![
            "snapshot",
            "restore",
            &snap,
            "--name",
            &config.name,
            "--initial-cluster",
            &initial_cluster,
            "--initial-cluster-token",
            token,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--data-dir",
            &data_dir,
            "--bump-revision",
            "1000",
            "--mark-compacted",
        ];
        // The last member keeps its WAL apart, given to oxutl and oxcd alike.
        let wal_dir = format!("{data_dir}-wal");
        if i == 2 {
            args.extend(["--wal-dir", &wal_dir]);
        }
        stdout(&oxutl(&args));
        config.args = config.seed_args(&initial_cluster, token);
        if i == 2 {
            config
                .args
                .extend(["--wal-dir".to_owned(), wal_dir.clone()]);
        }
        members.push(config);
    }
    let mut running = start_members(members).await;
    let endpoints: Vec<String> = running.iter().map(Member::client_url).collect();
    let mut clients = connect(&endpoints[0]).await.unwrap();

    let (after, revision) = clients.all_keys().await.unwrap();
    assert_eq!(after, before, "every key with its revisions");
    assert!(
        revision >= old_revision + 1000,
        "{revision} < {old_revision} + 1000"
    );

    let ttl = clients
        .lease
        .lease_time_to_live(LeaseTimeToLiveRequest {
            id: lease,
            keys: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ttl.ttl > 0, "the lease survives: {ttl:?}");
    assert_eq!(ttl.keys, vec![b"leased".to_vec()]);

    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: b"a".to_vec(),
                start_revision: old_revision,
                ..Default::default()
            },
        )),
    })
    .await
    .unwrap();
    let mut stream = clients
        .watch
        .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let compacted = loop {
        let resp = stream.message().await.unwrap().expect("a watch response");
        if resp.canceled || resp.compact_revision != 0 {
            break resp;
        }
    };
    assert_eq!(compacted.compact_revision, old_revision + 1000);
    drop(tx);

    let listed = clients
        .cluster
        .member_list(MemberListRequest::default())
        .await
        .unwrap()
        .into_inner()
        .members;
    let mut names: Vec<String> = listed.iter().map(|m| m.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["r1", "r2", "r3"]);
    for m in &running {
        assert!(
            listed
                .iter()
                .any(|l| l.peer_ur_ls == [m.config().peer_url()]),
            "{listed:?}"
        );
    }

    let written = clients.put("after", "restore", 0).await.unwrap();
    assert_eq!(written, revision + 1);
    let mut hashes = Vec::new();
    for endpoint in &endpoints {
        let mut c = connect(endpoint).await.unwrap();
        let (_, at) = c.all_keys().await.unwrap();
        assert_eq!(at, written, "{endpoint} applied the write");
        hashes.push(
            c.maintenance
                .hash_kv(HashKvRequest { revision: written })
                .await
                .unwrap()
                .into_inner()
                .hash,
        );
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");

    // A restored member restarts from its own WAL like any other.
    for i in [0, 2] {
        let member = &mut running[i];
        member.terminate(Duration::from_secs(10)).unwrap();
        member.start().unwrap();
        member.wait_ready(READY).await.unwrap();
        let mut c = connect(&member.client_url()).await.unwrap();
        let (kvs, at) = c.all_keys().await.unwrap();
        assert_eq!(at, written);
        assert_eq!(kvs.len(), before.len() + 1);
    }
}

#[tokio::test]
async fn restore_refuses_what_etcdutl_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.db");
    {
        let cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
            .await
            .unwrap();
        let mut clients = cluster.client(0).await.unwrap();
        write_history(&mut clients).await;
        snapshot(&cluster, &file).await;
    }
    let snap = file.to_string_lossy().into_owned();

    // A data dir in use is never touched.
    let used = dir.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("keep"), b"x").unwrap();
    let used_arg = used.to_string_lossy().into_owned();
    let out = oxutl(&["snapshot", "restore", &snap, "--data-dir", &used_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).lines().last().unwrap(),
        format!("Error: data-dir \"{used_arg}\" not empty or could not be read")
    );
    assert_eq!(std::fs::read_dir(&used).unwrap().count(), 1);

    // A damaged snapshot: the digest no longer matches, as etcdutl reports it.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 0xff;
    let damaged = dir.path().join("damaged.db");
    std::fs::write(&damaged, &bytes).unwrap();
    let target = dir.path().join("target");
    let out = oxutl(&[
        "snapshot",
        "restore",
        &damaged.to_string_lossy(),
        "--data-dir",
        &target.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let last = stderr(&out).lines().last().unwrap().to_owned();
    assert!(last.starts_with("Error: expected sha256 ["), "{last}");
    assert!(!target.exists(), "nothing is left to start a member from");

    // etcdutl's own answers for the same mistakes, word for word.
    let missing = dir.path().join("missing.db").to_string_lossy().into_owned();
    let elsewhere = dir.path().join("elsewhere").to_string_lossy().into_owned();
    for args in [
        vec!["snapshot", "status", missing.as_str()],
        vec!["snapshot", "status"],
        vec!["snapshot", "status", missing.as_str(), "--bogus"],
        vec!["snapshot", "status", missing.as_str(), "-w", "protobuf"],
        vec![
            "snapshot",
            "restore",
            missing.as_str(),
            "--data-dir",
            &elsewhere,
        ],
        vec!["snapshot", "restore", "--data-dir", &elsewhere],
        vec!["defrag"],
        vec!["bogus"],
    ] {
        let (ours, theirs) = (oxutl(&args), real_etcdutl(&args));
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(without_logs(&ours), without_logs(&theirs), "{args:?}");
    }
    let out = oxutl(&[
        "snapshot",
        "restore",
        &snap,
        "--data-dir",
        &target.to_string_lossy(),
        "--bump-revision",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(128));
    assert_eq!(
        stderr(&out),
        "Error: --mark-compacted required if --revision-bump > 0\n"
    );
}

/// Standard error without log lines (zap's: etcdutl's start with the time, oxutl's are JSON).
fn without_logs(out: &Output) -> String {
    stderr(out)
        .lines()
        .filter(|l| !l.starts_with('{') && !l.starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The `(cluster id, member id)` pairs a restore logged as added, in hex.
fn added_members(log: &str) -> Vec<(String, String)> {
    let value_after = |line: &str, key: &str| -> String {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        rest.chars()
            .skip_while(|c| !c.is_ascii_hexdigit())
            .take_while(char::is_ascii_hexdigit)
            .collect()
    };
    let mut added: Vec<(String, String)> = log
        .lines()
        .filter(|l| l.contains("added member"))
        .map(|l| {
            (
                value_after(l, "cluster-id"),
                value_after(l, "added-peer-id"),
            )
        })
        .collect();
    added.sort();
    added
}

#[tokio::test]
async fn restore_gives_the_new_cluster_and_its_members_etcdutls_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut logs = Vec::new();
    for (server, tool) in [
        (Server::Etcd, real_etcdutl as fn(&[&str]) -> Output),
        (Server::Oxcd, oxutl as fn(&[&str]) -> Output),
    ] {
        let file = dir.path().join(format!("{server:?}.db"));
        {
            let cluster = Cluster::start(ClusterSpec::new(server, 1)).await.unwrap();
            snapshot(&cluster, &file).await;
        }
        let data_dir = dir.path().join(format!("{server:?}.etcd"));
        let out = tool(&[
            "snapshot",
            "restore",
            &file.to_string_lossy(),
            "--name",
            "b",
            "--initial-cluster",
            "a=http://127.0.0.1:12380,b=http://127.0.0.1:22380,c=http://127.0.0.1:32380",
            "--initial-cluster-token",
            "restored-token",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:22380",
            "--data-dir",
            &data_dir.to_string_lossy(),
        ]);
        stdout(&out);
        logs.push(added_members(&stderr(&out)));
    }
    assert_eq!(logs[0].len(), 3, "{:?}", logs[0]);
    assert!(
        logs[0].iter().all(|(c, m)| c.len() > 8 && m.len() > 8),
        "{:?}",
        logs[0]
    );
    assert_eq!(logs[0], logs[1]);
}

fn backend_size(data_dir: &Path) -> u64 {
    std::fs::metadata(backend_path(data_dir)).unwrap().len()
}

#[tokio::test]
async fn defrag_shrinks_a_stopped_members_backend() {
    let mut cluster = Cluster::start(ClusterSpec::new(Server::Oxcd, 1))
        .await
        .unwrap();
    let data_dir: PathBuf = cluster.member(0).config().data_dir.clone();
    let mut clients = cluster.client(0).await.unwrap();
    for n in 0..2000 {
        clients
            .put(&format!("bulk/{n:05}"), &"x".repeat(1024), 0)
            .await
            .unwrap();
    }
    clients.put("kept", "v", 0).await.unwrap();
    let deleted = clients
        .kv
        .delete_range(DeleteRangeRequest {
            key: b"bulk/".to_vec(),
            range_end: b"bulk0".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let revision = deleted.header.unwrap().revision;
    clients
        .kv
        .compact(CompactionRequest {
            revision,
            physical: true,
        })
        .await
        .unwrap();
    let (kvs, _) = clients.all_keys().await.unwrap();
    drop(clients);

    let dir_arg = data_dir.to_string_lossy().into_owned();
    let out = oxutl(&["defrag", "--data-dir", &dir_arg]);
    assert_eq!(out.status.code(), Some(1), "a running member is refused");
    assert!(
        stderr(&out).contains("in use by a running member"),
        "{}",
        stderr(&out)
    );

    cluster.stop(0).unwrap();
    let before = backend_size(&data_dir);
    stdout(&oxutl(&["defrag", "--data-dir", &dir_arg]));
    let after = backend_size(&data_dir);
    assert!(after < before / 2, "{before} -> {after} bytes");

    cluster.restart(0).await.unwrap();
    let mut clients = cluster.client(0).await.unwrap();
    assert_eq!(clients.all_keys().await.unwrap(), (kvs, revision));
}
