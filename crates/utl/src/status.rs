//! `snapshot status <file>`: the hash, revision, row count and size of a snapshot's database,
//! read from a private copy (the digest trailer, if any, left out) so the file itself is never
//! opened for writing. Like etcdutl, status does not check the digest; restore does.

use std::path::Path;
use std::sync::Arc;

use oxcd_mvcc::{Backend, offline};

use crate::exit::Failure;
use crate::output::{self, Format, SnapshotStatus};
use crate::snapshot_file;

/// Runs `snapshot status` and returns what to print.
pub fn run(args: &[String], format: &str) -> Result<String, Failure> {
    if args.len() != 1 {
        return Err(Failure::bad_args(
            "snapshot status requires exactly one argument",
        ));
    }
    let format = Format::parse(format)?;
    let status = status_of(Path::new(&args[0]))?;
    output::snapshot_status(format, &status)
}

/// The status of the snapshot (or bare database) at `path`.
pub fn status_of(path: &Path) -> Result<SnapshotStatus, Failure> {
    snapshot_file::stat(path)?;
    let (_dir, db, total_size) = private_copy(path)?;
    let backend = open(&db, path)?;
    let status = offline::status(&backend).map_err(|e| Failure::error(e.to_string()))?;
    Ok(SnapshotStatus {
        hash: status.hash,
        revision: status.revision,
        total_keys: status.total_keys,
        total_size,
    })
}

/// Copies the database part of `path` into a temporary directory; returns the directory (removed
/// when dropped), the copy's path and its size.
pub fn private_copy(path: &Path) -> Result<(tempfile::TempDir, std::path::PathBuf, u64), Failure> {
    let dir = tempfile::Builder::new()
        .prefix("oxutl-")
        .tempdir()
        .map_err(|e| Failure::error(format!("creating a temporary directory: {e}")))?;
    let db = dir.path().join("db");
    let size = snapshot_file::copy_verified(path, &db, true)?;
    Ok((dir, db, size))
}

/// Opens the copy `db` of the file `original`, refusing one that is not a database as
/// etcdutl does (naming the user's file, not the copy).
pub fn open(db: &Path, original: &Path) -> Result<Arc<Backend>, Failure> {
    Backend::open(db).map(Arc::new).map_err(|e| {
        let why = e
            .to_string()
            .replace(&db.display().to_string(), &original.display().to_string());
        Failure::error(format!("invalid database ({why})"))
    })
}
