//! The snapshot file as `etcdctl snapshot save` writes it from `Maintenance.Snapshot`: the
//! backend database followed by the SHA-256 of the database (etcd's framing). A file whose size
//! is 32 more than a multiple of 512 carries the digest, as etcdutl decides; a database copied
//! from a data dir carries none.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use oxcd_etcd_compat::gotext::io_error::go_io_error_text;
use sha2::{Digest, Sha256};

use crate::exit::Failure;

/// Bytes of the digest at the end of a snapshot.
const DIGEST_LEN: u64 = 32;

/// Whether a file of `len` bytes ends with the digest (etcdutl's `hasChecksum`: databases are
/// made of 512-byte multiples).
pub fn has_digest(len: u64) -> bool {
    len % 512 == DIGEST_LEN
}

/// An OS error on `path` as Go's `*os.PathError` prints it.
pub fn path_error(op: &str, path: &Path, e: &io::Error) -> Failure {
    Failure::error(format!("{op} {}: {}", path.display(), go_io_error_text(e)))
}

/// etcdutl's first check of a file argument: `stat` it.
pub fn stat(path: &Path) -> Result<(), Failure> {
    std::fs::metadata(path)
        .map(drop)
        .map_err(|e| path_error("stat", path, &e))
}

/// Copies the database part of the snapshot at `src` into `dest` (created), checking the
/// digest unless `skip_hash_check`, as `etcdutl snapshot restore` does. Returns the database's
/// size.
pub fn copy_verified(src: &Path, dest: &Path, skip_hash_check: bool) -> Result<u64, Failure> {
    let mut input = File::open(src).map_err(|e| path_error("open", src, &e))?;
    let len = input
        .metadata()
        .map_err(|e| path_error("stat", src, &e))?
        .len();
    if len < DIGEST_LEN {
        return Err(path_error(
            "seek",
            src,
            &io::Error::from_raw_os_error(EINVAL),
        ));
    }
    let with_digest = has_digest(len);
    if !with_digest && !skip_hash_check {
        return Err(Failure::error(
            "snapshot missing hash but --skip-hash-check=false",
        ));
    }
    let db_len = if with_digest { len - DIGEST_LEN } else { len };
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| path_error("open", dest, &e))?;
    let mut digest = Sha256::new();
    let mut remaining = db_len;
    let mut buf = vec![0u8; 1 << 20];
    while remaining > 0 {
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        input
            .read_exact(&mut buf[..want])
            .map_err(|e| path_error("read", src, &e))?;
        digest.update(&buf[..want]);
        output
            .write_all(&buf[..want])
            .map_err(|e| path_error("write", dest, &e))?;
        remaining -= want as u64;
    }
    output
        .sync_all()
        .map_err(|e| path_error("sync", dest, &e))?;
    if with_digest && !skip_hash_check {
        let mut expected = [0u8; DIGEST_LEN as usize];
        input
            .seek(SeekFrom::Start(db_len))
            .and_then(|_| input.read_exact(&mut expected))
            .map_err(|e| path_error("read", src, &e))?;
        let got = digest.finalize();
        if got.as_slice() != expected {
            return Err(Failure::error(format!(
                "expected sha256 {}, got {}",
                go_bytes(&expected),
                go_bytes(&got)
            )));
        }
    }
    Ok(db_len)
}

/// `EINVAL`, what seeking before the start of a file fails with (etcdutl seeks to 32 bytes
/// before the end first).
const EINVAL: i32 = 22;

/// A byte slice as Go's `%v` prints it: `[1 2 3]`.
fn go_bytes(bytes: &[u8]) -> String {
    let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(db: &[u8]) -> Vec<u8> {
        let mut file = db.to_vec();
        file.extend_from_slice(&Sha256::digest(db));
        file
    }

    #[test]
    fn a_framed_snapshot_is_checked_and_unframed() {
        let dir = tempfile::tempdir().unwrap();
        let db = vec![7u8; 4096];
        let src = dir.path().join("snap");
        std::fs::write(&src, framed(&db)).unwrap();
        let dest = dir.path().join("db");
        assert_eq!(copy_verified(&src, &dest, false).unwrap(), 4096);
        assert_eq!(std::fs::read(&dest).unwrap(), db);
    }

    #[test]
    fn a_wrong_digest_is_refused_as_etcdutl_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = framed(&[7u8; 512]);
        file[3] = 8;
        let src = dir.path().join("snap");
        std::fs::write(&src, &file).unwrap();
        let err = copy_verified(&src, &dir.path().join("db"), false).unwrap_err();
        assert!(
            err.message.starts_with("expected sha256 ["),
            "{}",
            err.message
        );
        assert!(copy_verified(&src, &dir.path().join("db2"), true).is_ok());
    }

    #[test]
    fn an_unframed_database_needs_skip_hash_check() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("db");
        std::fs::write(&src, [1u8; 4096]).unwrap();
        let err = copy_verified(&src, &dir.path().join("out"), false).unwrap_err();
        assert_eq!(
            err.message,
            "snapshot missing hash but --skip-hash-check=false"
        );
        assert_eq!(
            copy_verified(&src, &dir.path().join("out2"), true).unwrap(),
            4096
        );
    }
}
