//! The maintenance commands of etcdctl 3.5.1's tree that work on a whole cluster or its
//! files — `snapshot`, `check perf|datascale` and `make-mirror` — as etcdctl defines them
//! (names, usage lines, descriptions, flags). The rest of the tree is `command_tree.rs`.

use super::command::{Action, Command};
use super::flag::{FlagKind, FlagSpec};

/// `snapshot save|status|restore`.
pub(super) fn snapshot() -> Command {
    use FlagKind::*;
    Command::new("snapshot <subcommand>", "Manages etcd node snapshots", None)
        .child(Command::new(
            "save <filename>",
            "Stores an etcd node backend snapshot to a given file",
            Some(Action::SnapshotSave),
        ))
        .child(
            Command::new(
                "restore <filename> [options]",
                "Restores an etcd member snapshot to an etcd directory",
                Some(Action::SnapshotRestore),
            )
            .long("Moved to `etcdctl snapshot restore ...`\n")
            .flag(FlagSpec::new(
                "data-dir",
                String,
                "",
                "Path to the data directory",
            ))
            .flag(FlagSpec::new(
                "wal-dir",
                String,
                "",
                "Path to the WAL directory (use --data-dir if none given)",
            ))
            .flag(FlagSpec::new(
                "initial-cluster",
                String,
                "default=http://localhost:2380",
                "Initial cluster configuration for restore bootstrap",
            ))
            .flag(FlagSpec::new(
                "initial-cluster-token",
                String,
                "etcd-cluster",
                "Initial cluster token for the etcd cluster during restore bootstrap",
            ))
            .flag(FlagSpec::new(
                "initial-advertise-peer-urls",
                String,
                "http://localhost:2380",
                "List of this member's peer URLs to advertise to the rest of the cluster",
            ))
            .flag(FlagSpec::new(
                "name",
                String,
                "default",
                "Human-readable name for this member",
            ))
            .flag(FlagSpec::new(
                "skip-hash-check",
                Bool,
                "false",
                "Ignore snapshot integrity hash value (required if copied from data directory)",
            )),
        )
        .child(
            Command::new(
                "status <filename>",
                "[deprecated] Gets backend snapshot status of a given file",
                Some(Action::SnapshotStatus),
            )
            .long(SNAPSHOT_STATUS_LONG),
        )
}

/// `check perf|datascale`.
pub(super) fn check() -> Command {
    use FlagKind::*;
    Command::new(
        "check <subcommand>",
        "commands for checking properties of the etcd cluster",
        None,
    )
    .child(
        Command::new(
            "perf [options]",
            "Check the performance of the etcd cluster",
            Some(Action::CheckPerf),
        )
        .flag(FlagSpec::new(
            "load",
            String,
            "s",
            "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)",
        ))
        .flag(FlagSpec::new(
            "prefix",
            String,
            "/etcdctl-check-perf/",
            "The prefix for writing the performance check's keys.",
        ))
        .flag(FlagSpec::new(
            "auto-compact",
            Bool,
            "false",
            "Compact storage with last revision after test is finished.",
        ))
        .flag(FlagSpec::new(
            "auto-defrag",
            Bool,
            "false",
            "Defragment storage after test is finished.",
        )),
    )
    .child(
        Command::new(
            "datascale [options]",
            "Check the memory usage of holding data for different workloads on a given server endpoint.",
            Some(Action::CheckDatascale),
        )
        .long("If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.")
        .flag(FlagSpec::new(
            "load",
            String,
            "s",
            "The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)",
        ))
        .flag(FlagSpec::new(
            "prefix",
            String,
            "/etcdctl-check-datascale/",
            "The prefix for writing the datascale check's keys.",
        ))
        .flag(FlagSpec::new(
            "auto-compact",
            Bool,
            "false",
            "Compact storage with last revision after test is finished.",
        ))
        .flag(FlagSpec::new(
            "auto-defrag",
            Bool,
            "false",
            "Defragment storage after test is finished.",
        )),
    )
}

/// `make-mirror`.
pub(super) fn make_mirror() -> Command {
    use FlagKind::*;
    Command::new(
        "make-mirror [options] <destination>",
        "Makes a mirror at the destination etcd cluster",
        Some(Action::MakeMirror),
    )
    .flag(FlagSpec::new("prefix", String, "", "Key-value prefix to mirror"))
    .flag(FlagSpec::new(
        "dest-prefix",
        String,
        "",
        "destination prefix to mirror a prefix to a different prefix in the destination cluster",
    ))
    .flag(FlagSpec::new(
        "no-dest-prefix",
        Bool,
        "false",
        "mirror key-values to the root of the destination cluster",
    ))
    .flag(FlagSpec::new(
        "dest-cert",
        String,
        "",
        "Identify secure client using this TLS certificate file for the destination cluster",
    ))
    .flag(FlagSpec::new(
        "dest-key",
        String,
        "",
        "Identify secure client using this TLS key file",
    ))
    .flag(FlagSpec::new(
        "dest-cacert",
        String,
        "",
        "Verify certificates of TLS enabled secure servers using this CA bundle",
    ))
    .flag(FlagSpec::new(
        "dest-insecure-transport",
        Bool,
        "true",
        "Disable transport security for client connections",
    ))
    .flag(FlagSpec::new(
        "dest-user",
        String,
        "",
        "Destination username[:password] for authentication (prompt if password is not supplied)",
    ))
    .flag(FlagSpec::new(
        "dest-password",
        String,
        "",
        "Destination password for authentication (if this option is used, --user option shouldn't include password)",
    ))
}

const SNAPSHOT_STATUS_LONG: &str = "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.

Moved to 'etcdctl snapshot status ...'
";
