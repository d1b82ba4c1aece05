//! `snapshot restore <file> --data-dir ...`: turns a snapshot into the data dir of one member
//! of a brand-new cluster, as etcdutl does for etcd.
//!
//! The snapshot's database is copied to `<data-dir>/member/snap/db` (its digest checked unless
//! `--skip-hash-check`), and `oxcd_server::restore::seed_new_cluster` replaces its membership
//! with the new cluster's (ids computed from `--initial-cluster` and `--initial-cluster-token`
//! exactly as `oxcd` computes them at bootstrap) and resets its consistent index. No WAL is
//! written: `oxcd --initial-cluster-state new` with the same flags finds its own identity in the
//! backend and starts the new raft log itself. `--bump-revision N --mark-compacted` raises the
//! store's revision by N and compacts at it (etcd-io/etcd#16028), so revisions never go back
//! for clients and watchers resuming from before the restore are told they were compacted.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use oxcd_etcd_compat::config::{self, InitialCluster, ParseOutcome, ServerConfig};
use oxcd_etcd_compat::gotext::quote::quote;
use oxcd_etcd_compat::gotext::zap::Field;
use oxcd_mvcc::offline;
use oxcd_server::restore::seed_new_cluster;

use crate::cli::Invocation;
use crate::exit::Failure;
use crate::{dirs, log, snapshot_file, status};

/// The restore flags, as etcdutl names them.
struct RestoreFlags {
    snapshot: PathBuf,
    name: String,
    data_dir: PathBuf,
    wal_dir: Option<PathBuf>,
    initial_cluster: String,
    token: String,
    peer_urls: String,
    skip_hash_check: bool,
    bump_revision: u64,
}

/// Runs `snapshot restore`.
pub fn run(inv: &Invocation) -> Result<(), Failure> {
    if inv.args.len() != 1 {
        return Err(Failure::bad_args(
            "snapshot restore requires exactly one argument",
        ));
    }
    let bump_revision = inv.uint("bump-revision");
    if (bump_revision == 0) == inv.bool("mark-compacted") {
        return Err(Failure::bad_args(
            "--mark-compacted required if --revision-bump > 0",
        ));
    }
    let name = inv.string("name");
    let data_dir = match inv.string("data-dir") {
        dir if dir.is_empty() => format!("{name}.etcd"),
        dir => dir,
    };
    let flags = RestoreFlags {
        snapshot: PathBuf::from(&inv.args[0]),
        name,
        data_dir: PathBuf::from(data_dir),
        wal_dir: Some(inv.string("wal-dir"))
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
        initial_cluster: inv.string("initial-cluster"),
        token: inv.string("initial-cluster-token"),
        peer_urls: inv.string("initial-advertise-peer-urls"),
        skip_hash_check: inv.bool("skip-hash-check"),
        bump_revision,
    };
    restore(&flags)
}

/// The configuration `oxcd` would start the restored member with.
fn member_config(flags: &RestoreFlags) -> Result<ServerConfig, Failure> {
    let mut args = vec![
        format!("--name={}", flags.name),
        format!("--data-dir={}", flags.data_dir.display()),
        format!("--initial-cluster={}", flags.initial_cluster),
        format!("--initial-cluster-token={}", flags.token),
        format!("--initial-advertise-peer-urls={}", flags.peer_urls),
        "--initial-cluster-state=new".to_owned(),
    ];
    if let Some(wal) = &flags.wal_dir {
        args.push(format!("--wal-dir={}", wal.display()));
    }
    match config::parse(args, &HashMap::new()) {
        Ok(ParseOutcome::Run(cfg)) => Ok(*cfg),
        Ok(_) => Err(Failure::error("unexpected help or version request")),
        Err(e) => Err(Failure::error(e.to_string())),
    }
}

fn restore(flags: &RestoreFlags) -> Result<(), Failure> {
    // etcdutl's own checks and words first; oxcd's configuration would default or reword them.
    let cluster = InitialCluster::parse(&flags.initial_cluster).map_err(Failure::error)?;
    if cluster.peer_urls(&flags.name).is_none() {
        return Err(Failure::error(format!(
            "couldn't find local name {} in the initial cluster configuration",
            quote(flags.name.as_bytes())
        )));
    }
    let cfg = member_config(flags)?;
    cfg.bootstrap_cluster()
        .map_err(|e| Failure::error(e.to_string()))?;
    if !dirs::absent_or_empty(&flags.data_dir) {
        return Err(Failure::error(format!(
            "data-dir {} not empty or could not be read",
            quote(flags.data_dir.to_string_lossy().as_bytes())
        )));
    }
    if let Some(wal) = &flags.wal_dir
        && wal.exists()
    {
        return Err(Failure::error(format!(
            "wal-dir {} exists",
            quote(wal.to_string_lossy().as_bytes())
        )));
    }
    let data_dir_existed = flags.data_dir.exists();
    log::info(
        "restoring snapshot",
        vec![
            Field::str("path", flags.snapshot.display().to_string()),
            Field::str("wal-dir", cfg.wal_dir.display().to_string()),
            Field::str("data-dir", flags.data_dir.display().to_string()),
            Field::str("snap-dir", cfg.snap_dir.display().to_string()),
        ],
    );
    let result = write_data_dir(flags, &cfg);
    if result.is_err() {
        // Leave nothing half-made that a member could later start from.
        let _ = std::fs::remove_dir_all(&cfg.member_dir);
        if !data_dir_existed {
            let _ = std::fs::remove_dir_all(&flags.data_dir);
        }
    }
    result
}

fn write_data_dir(flags: &RestoreFlags, cfg: &ServerConfig) -> Result<(), Failure> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&cfg.snap_dir)
        .map_err(|e| snapshot_file::path_error("mkdir", &cfg.snap_dir, &e))?;
    let db = cfg.backend_path();
    snapshot_file::copy_verified(&flags.snapshot, &db, flags.skip_hash_check)?;
    let backend = status::open(&db, &flags.snapshot)?;
    let identity = seed_new_cluster(&backend, cfg).map_err(|e| Failure::error(e.to_string()))?;
    for (id, urls) in &identity.members {
        log::info(
            "added member",
            vec![
                Field::str("cluster-id", format!("{:x}", identity.cluster_id)),
                Field::str("local-member-id", format!("{:x}", identity.member_id)),
                Field::str("added-peer-id", format!("{id:x}")),
                Field::strings("added-peer-peer-urls", urls.clone()),
            ],
        );
    }
    if flags.bump_revision > 0 {
        let bump = offline::bump_revision(&backend, flags.bump_revision)
            .map_err(|e| Failure::error(e.to_string()))?;
        log::info(
            "bumped latest revision and marked it compacted",
            vec![
                Field::str("latest-revision", bump.latest.to_string()),
                Field::uint("bump-amount", flags.bump_revision),
                Field::str("new-latest-revision", bump.bumped.to_string()),
            ],
        );
    }
    drop(backend);
    for dir in [&cfg.snap_dir, &cfg.member_dir, &flags.data_dir] {
        dirs::sync(dir)?;
    }
    log::info(
        "restored snapshot",
        vec![
            Field::str("path", flags.snapshot.display().to_string()),
            Field::str("wal-dir", cfg.wal_dir.display().to_string()),
            Field::str("data-dir", flags.data_dir.display().to_string()),
            Field::str("snap-dir", cfg.snap_dir.display().to_string()),
        ],
    );
    Ok(())
}
