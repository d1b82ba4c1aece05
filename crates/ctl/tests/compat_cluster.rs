//! etcdctl compatibility (see `compat_with_etcdctl.rs`) of cluster-wide commands, run
//! read-only against one real 3-member cluster, before and after a member dies, and of
//! commands against a server with authentication enabled.

mod support;

use oxcd_testkit::etcd::require_etcdctl;
use oxcd_testkit::etcd_cluster::Cluster;
use support::{Case, case, compare_all, run_tool, server_state, timed};

/// Read-only commands across a 3-member cluster.
const CLUSTER_CASES: &[Case] = &[
    case(&["--endpoints={EPS}", "member", "list", "-w", "table"]),
    case(&["--endpoints={EP}", "member", "list", "-w", "json"]),
    case(&["--endpoints={EPS}", "member", "list"]),
    case(&[
        "--endpoints={EP}",
        "endpoint",
        "status",
        "--cluster",
        "-w",
        "table",
    ]),
    case(&[
        "--endpoints={EP}",
        "endpoint",
        "status",
        "--cluster",
        "-w",
        "json",
    ]),
    case(&["--endpoints={EPS}", "endpoint", "status"]),
    case(&["--endpoints={EP}", "endpoint", "hashkv", "--cluster"]),
    case(&["--endpoints={EPS}", "endpoint", "hashkv", "-w", "json"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "--cluster"]),
    timed(&["--endpoints={EPS}", "endpoint", "health", "-w", "fields"]),
    timed(&["--endpoints={EP}", "endpoint", "health", "-w", "json"]),
    case(&["--endpoints={EPS}", "get", "k"]),
];

/// The same cases after one member was killed.
const DEGRADED_CLUSTER_CASES: &[Case] = &[
    case(&[
        "--endpoints={EPS}",
        "--command-timeout=500ms",
        "endpoint",
        "status",
    ]),
    case(&[
        "--endpoints={EPS}",
        "--command-timeout=500ms",
        "endpoint",
        "hashkv",
        "-w",
        "table",
    ]),
    case(&["--endpoints={EPS}", "--command-timeout=2s", "get", "k"]),
    case(&[
        "--endpoints={EPS}",
        "--command-timeout=2s",
        "member",
        "list",
    ]),
];

#[test]
fn oxctl_matches_etcdctl_on_a_cluster_and_after_a_member_dies() {
    let mut cluster = Cluster::start(3);
    let etcdctl = require_etcdctl();
    let endpoints = cluster.endpoints().join(",");
    let first = cluster.members[0].client_port;
    let put = run_tool(
        &etcdctl,
        &[
            "--endpoints".into(),
            endpoints.clone(),
            "put".into(),
            "k".into(),
            "v".into(),
        ],
        "",
        &[],
    );
    assert_eq!(put.code, Some(0), "{}", put.stderr);

    let with_cluster = |cases: &'static [Case]| -> Vec<Case> {
        cases
            .iter()
            .map(|c| Case {
                args: leak_args(c.args, &endpoints),
                stdin: c.stdin,
                env: c.env,
                timed: c.timed,
                unordered: c.unordered,
                same_server: c.same_server,
            })
            .collect()
    };
    let failures = compare_all(&etcdctl, &with_cluster(CLUSTER_CASES), first, first);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    cluster.members[2].kill();
    let failures = compare_all(
        &etcdctl,
        &with_cluster(DEGRADED_CLUSTER_CASES),
        first,
        first,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Substitutes `{EPS}` (all endpoints) in static case arguments; test-only, so leaking the
/// few strings keeps the case tables `'static`.
fn leak_args(args: &[&str], endpoints: &str) -> &'static [&'static str] {
    let expanded: Vec<&'static str> = args
        .iter()
        .map(|a| &*Box::leak(a.replace("{EPS}", endpoints).into_boxed_str()))
        .collect();
    Box::leak(expanded.into_boxed_slice())
}

/// Commands against a server with authentication enabled (user `root`, password `pw`).
const AUTH_CASES: &[Case] = &[
    server_state(&["--endpoints={EP}", "get", "foo"]),
    server_state(&["--endpoints={EP}", "--user=root:pw", "get", "foo"]),
    server_state(&[
        "--endpoints={EP}",
        "--user",
        "root",
        "--password",
        "pw",
        "get",
        "foo",
        "-w",
        "json",
    ]),
    server_state(&["--endpoints={EP}", "--user=root:wrong", "get", "foo"]),
    server_state(&["--endpoints={EP}", "--user=nobody:pw", "get", "foo"]),
    server_state(&["--endpoints={EP}", "--user=root:pw", "member", "list"]),
    server_state(&["--endpoints={EP}", "--user=root:pw", "endpoint", "hashkv"]),
    server_state(&["--endpoints={EP}", "endpoint", "hashkv"]),
    Case {
        timed: true,
        ..server_state(&["--endpoints={EP}", "--user=root:pw", "endpoint", "health"])
    },
    Case {
        timed: true,
        ..server_state(&["--endpoints={EP}", "endpoint", "health"])
    },
];

#[test]
fn oxctl_authenticates_like_etcdctl() {
    let cluster = Cluster::start(1);
    let etcdctl = require_etcdctl();
    let endpoint = cluster.endpoints()[0].clone();
    for setup in [
        vec!["put", "foo", "bar"],
        vec!["user", "add", "root:pw"],
        vec!["auth", "enable"],
    ] {
        let mut args = vec!["--endpoints".to_string(), endpoint.clone()];
        args.extend(setup.iter().map(|s| s.to_string()));
        let done = run_tool(&etcdctl, &args, "", &[]);
        assert_eq!(done.code, Some(0), "{setup:?}: {}", done.stderr);
    }
    let port = cluster.members[0].client_port;
    let failures = compare_all(&etcdctl, AUTH_CASES, port, port);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
