//! File-system durability helpers shared by the WAL, the snapshot store and the server's
//! data-dir setup: a created or removed name only survives a crash once its parent directory
//! is synced, and a preallocated file only guarantees its space once the blocks are allocated;
//! and how code on the runtime waits for the disk.

use std::fs::{self, File};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::{IoContext, RaftError};

/// Flushes a directory so a created, renamed or removed file name in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), RaftError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("sync directory {}", dir.display()))
}

/// Creates `dir` and any missing ancestors with permissions `mode`, syncing the parent of each
/// directory it creates so the new names survive a crash.
pub fn create_dir_all_durable(dir: &Path, mode: u32) -> Result<(), RaftError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all_durable(parent, mode)?;
    }
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        // Another process (or a racing thread) created it meanwhile; its creator syncs it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => {
            return Err(RaftError::io(
                format!("create directory {}", dir.display()),
                e,
            ));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(parent)
}

/// Extends `file` to `len` bytes with allocated blocks (`fallocate(2)` mode 0, as etcd does),
/// so a full disk fails here rather than in the middle of a later write. Falls back to a
/// sparse `set_len` only where the file system cannot allocate (EOPNOTSUPP).
pub(crate) fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    let Ok(len_arg) = libc::off_t::try_from(len) else {
        return Err(std::io::Error::from_raw_os_error(libc::EFBIG));
    };
    loop {
        // SAFETY: the descriptor is owned by `file`, open for the duration of the call.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len_arg) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP) => return file.set_len(len),
            _ => return Err(err),
        }
    }
}

/// Runs `f`, which waits on the disk, telling a multi-threaded runtime so: its other tasks
/// move to another worker meanwhile (elsewhere, and on a current-thread runtime, it just
/// waits).
pub(crate) fn waiting_on_disk<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn nested_directories_are_created_with_their_mode() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a/b/c");
        create_dir_all_durable(&dir, 0o700).expect("create");
        for d in [root.path().join("a"), root.path().join("a/b"), dir.clone()] {
            let meta = fs::metadata(&d).expect("stat");
            assert!(meta.is_dir());
            assert_eq!(meta.mode() & 0o777, 0o700, "{}", d.display());
        }
        create_dir_all_durable(&dir, 0o700).expect("existing directory is fine");
        let file = root.path().join("file");
        fs::write(&file, b"x").expect("write");
        assert!(create_dir_all_durable(&file.join("below"), 0o700).is_err());
    }

    #[test]
    fn preallocation_allocates_blocks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = File::create(dir.path().join("f")).expect("create");
        preallocate(&file, 1 << 20).expect("preallocate");
        let meta = file.metadata().expect("stat");
        assert_eq!(meta.len(), 1 << 20);
        // A sparse set_len would leave the file without blocks; fallocate allocates them
        // (unless this file system cannot, in which case the fallback is all there is).
        let allocated = meta.blocks() * 512;
        let probe = File::create(dir.path().join("probe")).expect("create");
        // SAFETY: the descriptor is owned by `probe`, open for the duration of the call.
        let supported = unsafe { libc::fallocate(probe.as_raw_fd(), 0, 0, 4096) } == 0;
        if supported {
            assert!(allocated >= 1 << 20, "only {allocated} bytes allocated");
        }
    }
}
