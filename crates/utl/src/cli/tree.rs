//! etcdutl 3.5.1's command tree: each command's path, usage line, description and flags,
//! with etcdutl's names, defaults and help text (and etcdutl 3.6's `hashkv`, and the
//! `--bump-revision`/`--mark-compacted` restore flags of later releases).

/// The program name cobra prints (oxutl answers as etcdutl, as oxctl answers as etcdctl).
pub(crate) const PROGRAM: &str = "etcdutl";

pub(super) const WRITE_OUT_USAGE: &str =
    "set the output format (fields, json, protobuf, simple, table) (default \"simple\")";

/// Kinds of flag values, as pflag names them in help.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Bool,
    Uint,
    Int,
}

/// One flag of a command.
pub(super) struct FlagSpec {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    pub(super) default: &'static str,
    pub(super) usage: &'static str,
    pub(super) required: bool,
}

const fn flag(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    usage: &'static str,
) -> FlagSpec {
    FlagSpec {
        name,
        kind,
        default,
        usage,
        required: false,
    }
}

/// What the user asked to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `snapshot status <file>`.
    SnapshotStatus,
    /// `snapshot restore <file> ...`.
    SnapshotRestore,
    /// `snapshot save`: deprecated in etcdutl, which points to `etcdctl snapshot save`.
    SnapshotSave,
    /// `defrag --data-dir`.
    Defrag,
    /// `hashkv <file> [--rev]` (etcdutl 3.6's command).
    HashKv,
    /// `version`.
    Version,
    /// `backup`.
    Backup,
}

/// A command of the tree.
pub(super) struct Spec {
    /// Path below the root (`"snapshot status"`; empty for the root).
    pub(super) path: &'static str,
    /// cobra's `Use` after the name (`"<filename>"`).
    pub(super) use_args: &'static str,
    pub(super) short: &'static str,
    pub(super) flags: &'static [FlagSpec],
    pub(super) children: &'static [&'static str],
    pub(super) action: Option<Action>,
    /// Left out of the parent's command list (etcdutl's deprecated `snapshot save`).
    pub(super) hidden: bool,
}

const SNAPSHOT_RESTORE_FLAGS: &[FlagSpec] = &[
    flag(
        "bump-revision",
        Kind::Uint,
        "0",
        "How much to increase the latest revision after restore",
    ),
    FlagSpec {
        required: true,
        ..flag(
            "data-dir",
            Kind::Str,
            "",
            "Path to the output data directory",
        )
    },
    flag(
        "initial-advertise-peer-urls",
        Kind::Str,
        "http://localhost:2380",
        "List of this member's peer URLs to advertise to the rest of the cluster",
    ),
    flag(
        "initial-cluster",
        Kind::Str,
        "default=http://localhost:2380",
        "Initial cluster configuration for restore bootstrap",
    ),
    flag(
        "initial-cluster-token",
        Kind::Str,
        "etcd-cluster",
        "Initial cluster token for the etcd cluster during restore bootstrap",
    ),
    flag(
        "mark-compacted",
        Kind::Bool,
        "false",
        "Mark the latest revision after restore as the point of scheduled compaction (required if --bump-revision > 0, disallowed otherwise)",
    ),
    flag(
        "name",
        Kind::Str,
        "default",
        "Human-readable name for this member",
    ),
    flag(
        "skip-hash-check",
        Kind::Bool,
        "false",
        "Ignore snapshot integrity hash value (required if copied from data directory)",
    ),
    flag(
        "wal-dir",
        Kind::Str,
        "",
        "Path to the WAL directory (use --data-dir if none given)",
    ),
];

const DEFRAG_FLAGS: &[FlagSpec] = &[FlagSpec {
    required: true,
    ..flag(
        "data-dir",
        Kind::Str,
        "",
        "Required. Defragments a data directory not in use by etcd.",
    )
}];

const BACKUP_FLAGS: &[FlagSpec] = &[
    FlagSpec {
        required: true,
        ..flag("backup-dir", Kind::Str, "", "Path to the backup dir")
    },
    flag(
        "backup-wal-dir",
        Kind::Str,
        "",
        "Path to the backup wal dir",
    ),
    FlagSpec {
        required: true,
        ..flag("data-dir", Kind::Str, "", "Path to the etcd data dir")
    },
    flag("wal-dir", Kind::Str, "", "Path to the etcd wal dir"),
    flag("with-v3", Kind::Bool, "true", "Backup v3 backend data"),
];

const HASHKV_FLAGS: &[FlagSpec] = &[flag(
    "rev",
    Kind::Int,
    "0",
    "maximum revision to hash (default: latest revision)",
)];

pub(super) const TREE: &[Spec] = &[
    Spec {
        path: "",
        use_args: "",
        short: "",
        flags: &[],
        children: &["backup", "defrag", "hashkv", "help", "snapshot", "version"],
        action: None,
        hidden: false,
    },
    Spec {
        path: "backup",
        use_args: "",
        short: "[legacy] offline backup of etcd directory",
        flags: BACKUP_FLAGS,
        children: &[],
        action: Some(Action::Backup),
        hidden: false,
    },
    Spec {
        path: "defrag",
        use_args: "",
        short: "Defragments the storage of the etcd",
        flags: DEFRAG_FLAGS,
        children: &[],
        action: Some(Action::Defrag),
        hidden: false,
    },
    Spec {
        path: "hashkv",
        use_args: "<filename>",
        short: "Prints the KV history hash of a given file",
        flags: HASHKV_FLAGS,
        children: &[],
        action: Some(Action::HashKv),
        hidden: false,
    },
    Spec {
        path: "help",
        use_args: "[command]",
        short: "Help about any command",
        flags: &[],
        children: &[],
        action: None,
        hidden: false,
    },
    Spec {
        path: "snapshot",
        use_args: "<subcommand>",
        short: "Manages etcd node snapshots",
        flags: &[],
        children: &["snapshot restore", "snapshot save", "snapshot status"],
        action: None,
        hidden: false,
    },
    Spec {
        path: "snapshot restore",
        use_args: "<filename> --data-dir {output dir} [options]",
        short: "Restores an etcd member snapshot to an etcd directory",
        flags: SNAPSHOT_RESTORE_FLAGS,
        children: &[],
        action: Some(Action::SnapshotRestore),
        hidden: false,
    },
    Spec {
        path: "snapshot save",
        use_args: "<filename>",
        short: "Stores an etcd node backend snapshot to a given file",
        flags: &[],
        children: &[],
        action: Some(Action::SnapshotSave),
        hidden: true,
    },
    Spec {
        path: "snapshot status",
        use_args: "<filename>",
        short: "Gets backend snapshot status of a given file",
        flags: &[],
        children: &[],
        action: Some(Action::SnapshotStatus),
        hidden: false,
    },
    Spec {
        path: "version",
        use_args: "",
        short: "Prints the version of etcdutl",
        flags: &[],
        children: &[],
        action: Some(Action::Version),
        hidden: false,
    },
];

pub(super) fn spec(path: &str) -> &'static Spec {
    TREE.iter()
        .find(|s| s.path == path)
        .expect("every path named in the tree is in the tree")
}

pub(super) fn name_of(path: &str) -> &str {
    path.rsplit(' ').next().unwrap_or(path)
}
