//! The directories oxutl writes a member's files into: whether one may be written (absent or
//! empty, as etcdutl requires) and making new names in it durable.

use std::path::Path;

use crate::exit::Failure;
use crate::snapshot_file;

/// etcd's `!Exist(dir) || DirEmpty(dir)`: a directory that cannot be read counts as not empty.
pub fn absent_or_empty(dir: &Path) -> bool {
    if !dir.exists() {
        return true;
    }
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// Makes the new names in `dir` durable.
pub fn sync(dir: &Path) -> Result<(), Failure> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| snapshot_file::path_error("sync", dir, &e))
}
