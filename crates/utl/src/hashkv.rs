//! `hashkv <file> [--rev]` (etcdutl 3.6's command; 3.5.1 has none): the KV history hash of a
//! snapshot or a stopped member's database, the value `etcdctl endpoint hashkv` reports for a
//! member holding that state.

use std::path::Path;

use oxcd_mvcc::KvStore;

use crate::exit::Failure;
use crate::output::{self, Format, HashKv};
use crate::{snapshot_file, status};

/// Runs `hashkv` and returns what to print.
pub fn run(file: &str, rev: i64, format: &str) -> Result<String, Failure> {
    let format = Format::parse(format)?;
    let path = Path::new(file);
    snapshot_file::stat(path)?;
    let (_dir, db, _) = status::private_copy(path)?;
    let store = KvStore::open(status::open(&db, path)?)
        .map_err(|e| Failure::error(format!("invalid database ({e})")))?;
    let (hash, current, compacted) = store
        .hash_kv(rev)
        .map_err(|e| Failure::error(e.message().to_owned()))?;
    let report = HashKv {
        hash,
        hash_revision: if rev == 0 { current } else { rev },
        compact_revision: compacted,
    };
    output::hash_kv(format, &report)
}
