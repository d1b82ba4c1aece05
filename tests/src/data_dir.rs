//! A member's files as they lie on disk, for tests that check what a tool or a crash left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a member with data directory `data_dir` keeps its backend and raft snapshots
/// (`member/snap`, as etcd lays it out).
pub fn snap_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("member").join("snap")
}

/// A member's backend database file (`member/snap/db`).
pub fn backend_path(data_dir: &Path) -> PathBuf {
    snap_dir(data_dir).join("db")
}

/// Every file under `dir`, recursively, with its contents.
pub fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                out.insert(path, bytes);
            }
        }
    }
    out
}
