//! Authentication and role-based access driven by real etcdctl 3.5.1 against a single-member
//! etcd 3.5.1 and a single-member server under test: the same commands in the same order, and
//! every exit status, output and error must match. Covered: users and roles (add, get, list,
//! grant, revoke, delete, the errors for unknown and duplicate names), enabling authentication
//! (refused without a root user holding the root role), then per-key, prefix, range and
//! from-key permissions granted and denied for reads, writes, deletes and txns, wrong
//! passwords, users without password, what a non-root user may see of users and roles, the
//! root-only maintenance calls, a permission revoked and a password changed taking effect at
//! once, and disabling authentication.
//!
//! A second script has users named by their client certificates (`--client-cert-auth`, no
//! token), as etcd allows.
//!
//! Where oxcd is deliberately stricter than etcd 3.5.1 (compaction needs write permission on
//! every key; raising or clearing alarms needs root) the commands are not compared here; see
//! `auth_enforcement.rs`.

use std::time::Duration;

use oxcd_testkit::certs::Authority;
use oxcd_tests::ctl_pair::CtlPair;
use oxcd_tests::grpc_tls::ClusterTls;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, Server};

/// How long a command reading standard input (`txn`, `user passwd`) may take.
const STDIN_COMMAND: Duration = Duration::from_secs(10);

/// Nothing in these outputs differs between the two servers by design but member and cluster
/// ids, which only `member list` prints (its first column).
fn mask(line: &str) -> String {
    match line.split_once(", ") {
        Some((id, rest)) if id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("<id>, {}", rest.split(", ").nth(1).unwrap_or_default())
        }
        _ => line.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_auth_behaves_as_against_etcd() {
    let target = Server::from_env().unwrap();
    let spec = |server, token| {
        ClusterSpec::new(server, 1)
            .token(token)
            .args(["--bcrypt-cost", "4"])
    };
    let (oracle, subject) = tokio::join!(
        Cluster::start(spec(Server::Etcd, "oxt-auth-a")),
        Cluster::start(spec(target, "oxt-auth-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut pair = CtlPair::new(
        Etcdctl::new(oracle.endpoints()),
        Etcdctl::new(subject.endpoints()),
        mask,
    );

    // Users and roles while authentication is off.
    for args in [
        &["auth", "status"][..],
        &["auth", "enable"],
        &["user", "add", "root:rootpw"],
        &["auth", "enable"],
        &["user", "add", "root:again"],
        &["user", "get", "nobody"],
        &["user", "grant-role", "root", "root"],
        &["role", "add", "r1"],
        &["role", "add", "r1"],
        &["role", "add", "r2"],
        &["role", "get", "nosuch"],
        &["role", "grant-permission", "r1", "readwrite", "foo"],
        &["role", "grant-permission", "r1", "read", "--prefix", "bar/"],
        &["role", "grant-permission", "r1", "write", "k1", "k5"],
        &[
            "role",
            "grant-permission",
            "r2",
            "readwrite",
            "--from-key",
            "z",
        ],
        &["role", "grant-permission", "r2", "read", "k3", "k9"],
        &["role", "grant-permission", "r1", "rw", "foo"],
        &["role", "get", "r1"],
        &["role", "get", "r2"],
        &["role", "list"],
        &["user", "add", "alice:apw"],
        &["user", "add", "carol", "--no-password"],
        &["user", "grant-role", "alice", "r1"],
        &["user", "grant-role", "alice", "r1"],
        &["user", "grant-role", "alice", "nosuch"],
        &["user", "grant-role", "nobody", "r1"],
        &["user", "grant-role", "carol", "r2"],
        &["user", "list"],
        &["user", "get", "alice"],
        &["user", "get", "alice", "--detail"],
        &["user", "revoke-role", "alice", "r2"],
        &["role", "revoke-permission", "r2", "nosuch"],
        &["auth", "enable"],
        &["auth", "enable"],
    ] {
        pair.compare(args).await;
    }

    // With authentication on.
    let alice = "--user=alice:apw";
    let root = "--user=root:rootpw";
    for args in [
        &["put", "foo", "x"][..],
        &["get", "foo"],
        &["auth", "status"],
        &[alice, "put", "foo", "1"],
        &[alice, "get", "foo"],
        &[alice, "get", "foo", "-w", "json"],
        &[alice, "put", "bar/x", "1"],
        &[alice, "get", "bar/x"],
        &[alice, "get", "--prefix", "bar/"],
        &[alice, "get", "--prefix", "ba"],
        &[alice, "put", "k3", "v"],
        &[alice, "get", "k3"],
        &[alice, "put", "k5", "v"],
        &[alice, "del", "k1", "k5"],
        &[alice, "del", "k1", "k6"],
        &[alice, "del", "foo", "--prev-kv"],
        &[alice, "put", "zz", "1"],
        &["--user=alice:wrong", "get", "foo"],
        &["--user=nobody:x", "get", "foo"],
        &["--user=carol:", "get", "foo"],
        &[alice, "user", "list"],
        &[alice, "user", "get", "alice"],
        &[alice, "user", "get", "root"],
        &[alice, "role", "get", "r1"],
        &[alice, "role", "get", "r2"],
        &[alice, "role", "list"],
        &[alice, "user", "add", "eve:x"],
        &[alice, "auth", "disable"],
        &[alice, "auth", "status"],
        &[alice, "member", "list"],
        &[alice, "defrag"],
        &[alice, "endpoint", "hashkv"],
        &[alice, "move-leader", "1"],
        &[root, "put", "bar/y", "2"],
        &[root, "get", "--prefix", ""],
        &[root, "user", "list"],
        &[root, "role", "revoke-permission", "r1", "foo"],
        &[alice, "get", "foo"],
        &[root, "role", "grant-permission", "r1", "read", "foo"],
        &[alice, "get", "foo"],
        &[alice, "put", "foo", "2"],
        &[root, "user", "revoke-role", "alice", "r1"],
        &[alice, "get", "bar/x"],
        &[root, "user", "grant-role", "alice", "r1"],
        &[root, "user", "delete", "root"],
        &[root, "role", "delete", "root"],
        &[root, "role", "revoke-permission", "r1", "k1", "k5"],
        &[root, "role", "get", "r1"],
    ] {
        pair.compare(args).await;
    }

    // A txn mixing keys the user may and may not touch is refused as a whole.
    for (args, stdin) in [
        (
            &[alice, "txn", "--interactive=false"][..],
            "value(\"foo\") = \"1\"\n\nput bar/x no\n\nget foo\n\n",
        ),
        (
            &[alice, "txn", "--interactive=false"],
            "value(\"foo\") = \"1\"\n\nget bar/x\n\nget foo\n\n",
        ),
        (
            &[alice, "txn", "--interactive=false"],
            "value(\"k7\") = \"1\"\n\nget bar/x\n\n\n",
        ),
        (
            &[root, "user", "passwd", "alice", "--interactive=false"],
            "newpw\n",
        ),
    ] {
        pair.compare_for(args, stdin, STDIN_COMMAND).await;
    }
    for args in [
        &[alice, "get", "foo"][..],
        &["--user=alice:newpw", "get", "foo"],
        &[root, "user", "delete", "alice"],
        &["--user=alice:newpw", "get", "foo"],
        &[root, "auth", "disable"],
        &["auth", "status"],
        &["get", "--prefix", ""],
        &["user", "list"],
        &["role", "delete", "r1"],
        &["role", "list"],
    ] {
        pair.compare(args).await;
    }
    pair.assert_same();
}

/// Nothing differs by design in what this script prints.
fn same(line: &str) -> String {
    line.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_names_the_user_as_in_etcd() {
    let target = Server::from_env().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "test").unwrap();
    let server_cert = ca.issue("server", "server", &["127.0.0.1"]).unwrap();
    let root_cert = ca.issue("root", "root", &[]).unwrap();
    let alice_cert = ca.issue("alice", "alice", &[]).unwrap();
    let tls = ClusterTls {
        ca: ca.ca_file(),
        server: server_cert,
        client_cert_auth: true,
        harness_client: Some(root_cert.clone()),
    };
    let spec = |server, token| {
        ClusterSpec::new(server, 1)
            .token(token)
            .client_tls(tls.clone())
            .args(["--bcrypt-cost", "4"])
    };
    let (oracle, subject) = tokio::join!(
        Cluster::start(spec(Server::Etcd, "oxt-cn-a")),
        Cluster::start(spec(target, "oxt-cn-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let mut pair = CtlPair::new(
        Etcdctl::new(oracle.endpoints()),
        Etcdctl::new(subject.endpoints()),
        same,
    );
    let cacert = format!("--cacert={}", ca.ca_file().display());
    let as_cert = |files: &oxcd_testkit::certs::CertFiles| {
        [
            cacert.clone(),
            format!("--cert={}", files.cert.display()),
            format!("--key={}", files.key.display()),
        ]
    };
    let (root, alice) = (as_cert(&root_cert), as_cert(&alice_cert));
    let with = |who: &[String; 3], args: &[&str]| -> Vec<String> {
        who.iter()
            .cloned()
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    };
    for (who, args) in [
        (&root, &["user", "add", "root:rootpw"][..]),
        (&root, &["user", "grant-role", "root", "root"]),
        (&root, &["user", "add", "alice", "--no-password"]),
        (&root, &["role", "add", "r1"]),
        (
            &root,
            &["role", "grant-permission", "r1", "readwrite", "foo"],
        ),
        (&root, &["user", "grant-role", "alice", "r1"]),
        (&root, &["auth", "enable"]),
        (&alice, &["put", "foo", "by-certificate"]),
        (&alice, &["get", "foo"]),
        (&alice, &["put", "bar", "x"]),
        (&alice, &["user", "list"]),
        (&root, &["put", "bar", "root"]),
        (&root, &["user", "list"]),
        (&alice, &["--user=root:rootpw", "get", "bar"]),
        (&root, &["auth", "disable"]),
    ] {
        let args = with(who, args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pair.compare(&args).await;
    }
    pair.assert_same();
}
