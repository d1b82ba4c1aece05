//! `defrag --data-dir DIR`: defragments the backend of a stopped member, giving the space of
//! deleted and compacted rows back to the filesystem (the online defragmentation of
//! `oxcd_mvcc`, run with no member attached). A data dir whose backend a running member holds
//! is refused at once: etcdutl would wait for the lock, but defragmenting a running member is
//! `etcdctl defrag`'s job.

use std::path::Path;
use std::sync::Arc;

use oxcd_etcd_compat::gotext::humanize;
use oxcd_etcd_compat::gotext::zap::Field;
use oxcd_mvcc::{Backend, KvStore, offline};

use crate::exit::Failure;
use crate::{log, snapshot_file};

/// Runs `defrag --data-dir`.
pub fn run(data_dir: &str) -> Result<(), Failure> {
    defragment(data_dir).map_err(|why| {
        Failure::error(format!(
            "Failed to defragment etcd data[{data_dir}] ({why})"
        ))
    })
}

fn defragment(data_dir: &str) -> Result<(), String> {
    let db = Path::new(data_dir).join("member").join("snap").join("db");
    snapshot_file::stat(&db).map_err(|f| f.message)?;
    if offline::in_use(&db) {
        return Err(format!(
            "{} is in use by a running member; stop it first, or defragment the running \
             member with `etcdctl defrag --endpoints ...`",
            db.display()
        ));
    }
    let backend = Arc::new(Backend::open(&db).map_err(|e| e.to_string())?);
    let before = backend.size();
    log::info(
        "defragmenting",
        vec![
            Field::str("path", db.display().to_string()),
            Field::uint("current-db-size-bytes", before),
            Field::str("current-db-size", humanize::bytes(before)),
        ],
    );
    let store = KvStore::open(backend).map_err(|e| e.to_string())?;
    let report = store.defragment().map_err(|e| e.to_string())?;
    log::info(
        "finished defragmenting directory",
        vec![
            Field::str("path", db.display().to_string()),
            Field::str(
                "current-db-size-bytes-diff",
                (report.size_after as i64 - report.size_before as i64).to_string(),
            ),
            Field::uint("current-db-size-bytes", report.size_after),
            Field::str("current-db-size", humanize::bytes(report.size_after)),
            Field::str("took", format!("{:?}", report.took)),
        ],
    );
    Ok(())
}
