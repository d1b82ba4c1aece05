//! `backup --data-dir DIR --backup-dir DIR [--wal-dir] [--backup-wal-dir]`: etcdutl's legacy
//! offline backup of a stopped member, a new data dir that `oxcd --force-new-cluster` starts
//! as a one-member cluster holding every key, revision and lease of the original
//! (`oxcd_server::backup` makes the copy).
//!
//! A data dir a running member holds is refused, as `defrag` refuses it, and so is a backup dir
//! (or backup WAL dir) that is not empty. The backup is written into a temporary directory
//! beside its destination and renamed into place once complete, so a failure leaves nothing a
//! member could start from. `--with-v3=false` (the v2 store alone) is refused: oxcd has none.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oxcd_etcd_compat::config::{self, ParseOutcome, ServerConfig};
use oxcd_etcd_compat::gotext::quote::quote;
use oxcd_etcd_compat::gotext::zap::Field;
use oxcd_mvcc::offline;
use oxcd_server::backup::{BACKUP_MEMBER_NAME, BACKUP_PEER_URL, Backup, MembershipEntry, back_up};

use crate::cli::Invocation;
use crate::exit::Failure;
use crate::{dirs, log, snapshot_file};

/// The backup flags, as etcdutl names them.
struct BackupFlags {
    data_dir: PathBuf,
    wal_dir: Option<PathBuf>,
    backup_dir: PathBuf,
    backup_wal_dir: Option<PathBuf>,
}

/// Runs `backup`.
pub fn run(inv: &Invocation) -> Result<(), Failure> {
    if !inv.bool("with-v3") {
        return Err(Failure::bad_feature(
            "--with-v3=false is not supported by oxutl: it backs up the v2 store alone, and \
             oxcd has no v2 store (keys, leases and membership all live in the v3 backend)",
        ));
    }
    let dir = |name: &str| {
        Some(inv.string(name))
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    let flags = BackupFlags {
        data_dir: PathBuf::from(inv.string("data-dir")),
        wal_dir: dir("wal-dir"),
        backup_dir: PathBuf::from(inv.string("backup-dir")),
        backup_wal_dir: dir("backup-wal-dir"),
    };
    backup(&flags)
}

/// Where `oxcd --data-dir data_dir [--wal-dir wal_dir]` keeps its files.
fn layout(data_dir: &Path, wal_dir: Option<&Path>) -> Result<ServerConfig, Failure> {
    let mut args = vec![format!("--data-dir={}", data_dir.display())];
    if let Some(wal) = wal_dir {
        args.push(format!("--wal-dir={}", wal.display()));
    }
    match config::parse(args, &HashMap::new()) {
        Ok(ParseOutcome::Run(cfg)) => Ok(*cfg),
        Ok(_) => Err(Failure::error("unexpected help or version request")),
        Err(e) => Err(Failure::error(e.to_string())),
    }
}

fn in_use(db: &Path) -> Failure {
    Failure::error(format!(
        "{} is in use by a running member; stop it first, or back up the running member with \
         `etcdctl snapshot save`",
        db.display()
    ))
}

/// Whether `dir` holds WAL segments (checked again, and read, by `oxcd_raft::SourceLog`).
fn has_wal(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|ext| ext == "wal"))
    })
}

fn not_empty(flag: &str, dir: &Path) -> Failure {
    Failure::error(format!(
        "{flag} {} not empty or could not be read",
        quote(dir.to_string_lossy().as_bytes())
    ))
}

fn backup(flags: &BackupFlags) -> Result<(), Failure> {
    let source = layout(&flags.data_dir, flags.wal_dir.as_deref())?;
    let db = source.backend_path();
    snapshot_file::stat(&db)?;
    if offline::in_use(&db) {
        return Err(in_use(&db));
    }
    if !has_wal(&source.wal_dir) {
        return Err(Failure::error(format!(
            "no WAL in {}: {} is not the data dir of a member that has started, or its WAL \
             is elsewhere (--wal-dir)",
            source.wal_dir.display(),
            flags.data_dir.display()
        )));
    }
    if !dirs::absent_or_empty(&flags.backup_dir) {
        return Err(not_empty("backup-dir", &flags.backup_dir));
    }
    if let Some(wal) = &flags.backup_wal_dir
        && !dirs::absent_or_empty(wal)
    {
        return Err(not_empty("backup-wal-dir", wal));
    }
    let staged = Staging::new(flags)?;
    let dest = layout(staged.data_dir(), staged.wal_dir())?;
    let dest_wal = flags
        .backup_wal_dir
        .clone()
        .unwrap_or_else(|| flags.backup_dir.join("member").join("wal"));
    log::info(
        "backing up data dir",
        vec![
            Field::str("data-dir", flags.data_dir.display().to_string()),
            Field::str("wal-dir", source.wal_dir.display().to_string()),
            Field::str("backup-dir", flags.backup_dir.display().to_string()),
            Field::str("backup-wal-dir", dest_wal.display().to_string()),
        ],
    );
    let backup =
        back_up(&source, &dest).map_err(|e| Failure::error(format!("backup failed: {e}")))?;
    // A member started meanwhile may have changed what was being copied.
    if offline::in_use(&db) {
        return Err(in_use(&db));
    }
    for dir in [&dest.snap_dir, &dest.member_dir, &dest.data_dir] {
        dirs::sync(dir)?;
    }
    report(&backup);
    staged.install(flags)?;
    log::info(
        "backed up data dir; start the backup with --force-new-cluster",
        vec![
            Field::str("backup-dir", flags.backup_dir.display().to_string()),
            Field::str("backup-wal-dir", dest_wal.display().to_string()),
            Field::str("cluster-id", format!("{:x}", backup.cluster_id)),
            Field::str("member-id", format!("{:x}", backup.member_id)),
            Field::str("member-name", BACKUP_MEMBER_NAME),
            Field::strings("member-peer-urls", vec![BACKUP_PEER_URL.to_owned()]),
            Field::uint("applied-index", backup.applied),
            Field::uint("commit-index", backup.log.commit),
        ],
    );
    Ok(())
}

/// Logs what the backup changed, in etcdutl's words where it has them.
fn report(backup: &Backup) {
    if backup.from_snapshot_db {
        log::info(
            "the member had not applied the snapshot it received; backing up its database",
            vec![Field::uint("snapshot-index", backup.log.snapshot_index)],
        );
    }
    for entry in &backup.emptied {
        let place = vec![
            Field::uint("index", entry.index),
            Field::uint("term", entry.term),
        ];
        match &entry.change {
            MembershipEntry::ConfChange => log::info("ignoring EntryConfChange raft entry", place),
            MembershipEntry::Attributes { member_id, name } => {
                let mut fields = place;
                fields.push(Field::str("member-id", format!("{member_id:x}")));
                fields.push(Field::str("name", name.clone()));
                log::info("ignoring member attribute update on", fields);
            }
            MembershipEntry::PeerUrls { member_id } => {
                let mut fields = place;
                fields.push(Field::str("member-id", format!("{member_id:x}")));
                log::info("ignoring member peer URL update", fields);
            }
        }
    }
    if backup.log.dropped_uncommitted > 0 {
        log::info(
            "dropping uncommitted raft entries",
            vec![
                Field::uint("dropped-entries", backup.log.dropped_uncommitted as u64),
                Field::uint("commit-index", backup.log.commit),
            ],
        );
    }
    log::info(
        "Trimming membership information from the backend...",
        vec![],
    );
}

/// Temporary directories beside the destinations, removed unless installed.
struct Staging {
    data: tempfile::TempDir,
    /// A `--backup-wal-dir` outside `--backup-dir` is staged beside itself.
    wal: Option<tempfile::TempDir>,
    wal_dir: Option<PathBuf>,
}

/// A private temporary directory in the directory that will hold `dest`.
fn stage_beside(dest: &Path) -> Result<tempfile::TempDir, Failure> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| snapshot_file::path_error("mkdir", parent, &e))?;
    let name = dest
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    tempfile::Builder::new()
        .prefix(&format!(".{name}.oxutl-backup-"))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)
        .map_err(|e| snapshot_file::path_error("mkdir", parent, &e))
}

impl Staging {
    fn new(flags: &BackupFlags) -> Result<Staging, Failure> {
        let data = stage_beside(&flags.backup_dir)?;
        let (wal, wal_dir) = match &flags.backup_wal_dir {
            None => (None, None),
            Some(dir) => match dir.strip_prefix(&flags.backup_dir) {
                Ok(inside) => (None, Some(data.path().join(inside))),
                Err(_) => {
                    let wal = stage_beside(dir)?;
                    let path = wal.path().to_path_buf();
                    (Some(wal), Some(path))
                }
            },
        };
        Ok(Staging { data, wal, wal_dir })
    }

    fn data_dir(&self) -> &Path {
        self.data.path()
    }

    fn wal_dir(&self) -> Option<&Path> {
        self.wal_dir.as_deref()
    }

    /// Renames the staged directories to their destinations (empty directories there are
    /// replaced) and makes the new names durable.
    fn install(self, flags: &BackupFlags) -> Result<(), Failure> {
        let installed_wal = match (self.wal, &flags.backup_wal_dir) {
            (Some(wal), Some(dest)) => {
                rename(wal.path(), dest)?;
                // Installed: the TempDir no longer owns it.
                let _ = wal.keep();
                Some(dest)
            }
            _ => None,
        };
        if let Err(failure) = rename(self.data.path(), &flags.backup_dir) {
            if let Some(wal) = installed_wal {
                let _ = std::fs::remove_dir_all(wal);
            }
            return Err(failure);
        }
        let _ = self.data.keep();
        for dest in std::iter::once(&flags.backup_dir).chain(installed_wal) {
            if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                dirs::sync(parent)?;
            }
        }
        Ok(())
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), Failure> {
    std::fs::rename(from, to).map_err(|e| {
        Failure::error(format!(
            "rename {} {}: {}",
            from.display(),
            to.display(),
            oxcd_etcd_compat::gotext::io_error::go_io_error_text(&e)
        ))
    })
}
