//! Backing up a stopped member's data dir as the seed of a new one-member cluster (`oxutl
//! backup`, etcdutl's legacy `backup`): a copy in which the old cluster's membership gives way
//! to a single new member, which `oxcd --force-new-cluster` then starts with every key,
//! revision and lease of the original.
//!
//! The backend is copied byte for byte (the source is never opened, so never repaired or
//! written) and its membership replaced by one member with fresh random member and cluster
//! ids, named `etcdctl-v2-backup` with the placeholder peer URL
//! `http://use-flag--force-new-cluster:2080`, as etcdutl names it; its consistent index is
//! kept. The raft log is copied by `oxcd_raft::SourceLog` under the new ids, the membership
//! entries of the old cluster (conf changes, published attributes, peer URL updates) emptied in
//! place, so the entries the backend had not applied yet replay on the first start exactly as
//! they would have on the original member. If the member stopped between receiving a
//! leader's snapshot and applying it, that snapshot's database is the one copied.

use std::fs::File;
use std::path::Path;

use prost::Message;

use oxcd_api::etcdserverpb::Member;
use oxcd_etcd_compat::config::ServerConfig;
use oxcd_mvcc::Backend;
use oxcd_raft::{CommittedEntry, EntryKind, LogBackup, SourceLog};

use crate::membership::{Identity, Membership};
use crate::proposal::{InternalRequest, Request};

/// The name etcdutl gives the one member of a backup.
pub const BACKUP_MEMBER_NAME: &str = "etcdctl-v2-backup";
/// The peer URL etcdutl gives the one member of a backup, telling how to start it.
pub const BACKUP_PEER_URL: &str = "http://use-flag--force-new-cluster:2080";

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The new cluster's id.
    pub cluster_id: u64,
    /// The new member's id.
    pub member_id: u64,
    /// The raft index the copied backend has applied.
    pub applied: u64,
    /// Whether the backend came from a received snapshot the member had not applied.
    pub from_snapshot_db: bool,
    /// The copied log.
    pub log: LogBackup,
    /// The membership entries emptied, in log order.
    pub emptied: Vec<EmptiedEntry>,
}

/// A log entry of the old cluster's membership, emptied in the backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptiedEntry {
    /// Its index.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// What it changed.
    pub change: MembershipEntry,
}

/// The kinds of membership entries a backup empties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipEntry {
    /// A raft conf change (a member added, promoted or removed).
    ConfChange,
    /// A member publishing its name and client URLs.
    Attributes {
        /// The member.
        member_id: u64,
        /// The name it published.
        name: String,
    },
    /// New peer URLs for a member.
    PeerUrls {
        /// The member.
        member_id: u64,
    },
}

/// Backs up the stopped member whose files `source` locates into the new, empty locations of
/// `dest` (its `--data-dir` and `--wal-dir`). The caller has made sure no member runs on
/// `source` and removes `dest` if this fails.
pub fn back_up(source: &ServerConfig, dest: &ServerConfig) -> Result<Backup, BackupError> {
    let log = SourceLog::read(&source.wal_dir, &source.snap_dir).map_err(fail)?;
    oxcd_raft::fsutil::create_dir_all_durable(&dest.snap_dir, 0o700).map_err(fail)?;
    let db = dest.backend_path();
    copy_file(&source.backend_path(), &db)?;
    let mut backend = Backend::open(&db).map_err(fail)?;
    let mut applied = backend.consistent_index().map_err(fail)?.0;
    let from_snapshot_db = applied < log.snapshot_index();
    if from_snapshot_db {
        // The log starts after a snapshot the backend lacks: its database is the state.
        drop(backend);
        let snapshot_db = log.snapshot_db();
        if !snapshot_db.exists() {
            return Err(fail(format!(
                "the backend has applied index {applied}, behind the snapshot at {} the log \
                 starts after, and that snapshot's database {} is missing: the data dir is \
                 damaged",
                log.snapshot_index(),
                snapshot_db.display()
            )));
        }
        std::fs::remove_file(&db).map_err(|e| fail(format!("remove {}: {e}", db.display())))?;
        copy_file(&snapshot_db, &db)?;
        backend = Backend::open(&db).map_err(fail)?;
        applied = backend.consistent_index().map_err(fail)?.0;
    }
    let identity = fresh_identity();
    let member = Member {
        id: identity.member_id,
        name: BACKUP_MEMBER_NAME.to_owned(),
        peer_ur_ls: vec![BACKUP_PEER_URL.to_owned()],
        ..Default::default()
    };
    backend
        .write(|tables| Membership::reseed(tables, identity, &[member]))
        .map_err(fail)?;
    drop(backend);

    let mut emptied = Vec::new();
    let log = log
        .write_backup(
            &dest.wal_dir,
            &dest.snap_dir,
            (identity.member_id, identity.cluster_id),
            applied,
            |entry| match membership_entry(entry) {
                Some(change) => {
                    emptied.push(EmptiedEntry {
                        index: entry.index,
                        term: entry.term,
                        change,
                    });
                    false
                }
                None => true,
            },
        )
        .map_err(fail)?;
    Ok(Backup {
        cluster_id: identity.cluster_id,
        member_id: identity.member_id,
        applied,
        from_snapshot_db,
        log,
        emptied,
    })
}

/// What a log entry changes of the membership, if anything. Entries that do not decode are
/// left for the member to judge, as it judges them in the original.
fn membership_entry(entry: &CommittedEntry) -> Option<MembershipEntry> {
    match entry.kind {
        EntryKind::ConfChange | EntryKind::ConfChangeV2 => Some(MembershipEntry::ConfChange),
        EntryKind::Normal if entry.data.is_empty() => None,
        EntryKind::Normal => match InternalRequest::decode(entry.data.as_slice())
            .ok()?
            .request?
        {
            Request::MemberAttributes(attrs) => Some(MembershipEntry::Attributes {
                member_id: attrs.id,
                name: attrs.name,
            }),
            Request::MemberUpdate(update) => Some(MembershipEntry::PeerUrls {
                member_id: update.id,
            }),
            _ => None,
        },
    }
}

/// New random ids for the backup's member and cluster: nonzero, and distinct from each other.
fn fresh_identity() -> Identity {
    let nonzero = || loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return id;
        }
    };
    let member_id = nonzero();
    let cluster_id = loop {
        let id = nonzero();
        if id != member_id {
            break id;
        }
    };
    Identity {
        cluster_id,
        member_id,
    }
}

/// Copies `src` to a new file `dest` and makes it durable.
fn copy_file(src: &Path, dest: &Path) -> Result<(), BackupError> {
    std::fs::copy(src, dest)
        .and_then(|_| File::open(dest)?.sync_all())
        .map_err(|e| {
            fail(format!(
                "copying {} to {}: {e}",
                src.display(),
                dest.display()
            ))
        })
}

fn fail(e: impl std::fmt::Display) -> BackupError {
    BackupError(e.to_string())
}

#[cfg(test)]
mod tests {
    use oxcd_api::etcdserverpb::{MemberUpdateRequest, PutRequest};

    use super::*;
    use crate::proposal::MemberAttributes;

    fn normal(request: Request) -> CommittedEntry {
        CommittedEntry {
            index: 1,
            term: 1,
            kind: EntryKind::Normal,
            data: InternalRequest {
                id: 7,
                request: Some(request),
                caller: None,
            }
            .encode_to_vec(),
        }
    }

    #[test]
    fn only_membership_entries_are_emptied() {
        let attrs = normal(Request::MemberAttributes(MemberAttributes {
            id: 3,
            name: "m3".into(),
            client_urls: vec!["http://c".into()],
        }));
        assert_eq!(
            membership_entry(&attrs),
            Some(MembershipEntry::Attributes {
                member_id: 3,
                name: "m3".into()
            })
        );
        let update = normal(Request::MemberUpdate(MemberUpdateRequest {
            id: 4,
            peer_ur_ls: vec!["http://p".into()],
        }));
        assert_eq!(
            membership_entry(&update),
            Some(MembershipEntry::PeerUrls { member_id: 4 })
        );
        let conf_change = CommittedEntry {
            kind: EntryKind::ConfChangeV2,
            data: b"cc".to_vec(),
            ..normal(Request::Put(PutRequest::default()))
        };
        assert_eq!(
            membership_entry(&conf_change),
            Some(MembershipEntry::ConfChange)
        );
        assert_eq!(
            membership_entry(&normal(Request::Put(PutRequest::default()))),
            None
        );
        let leader_no_op = CommittedEntry {
            data: Vec::new(),
            ..normal(Request::Put(PutRequest::default()))
        };
        assert_eq!(membership_entry(&leader_no_op), None);
    }

    #[test]
    fn fresh_identities_differ() {
        let (a, b) = (fresh_identity(), fresh_identity());
        assert_ne!(a.member_id, a.cluster_id);
        assert_ne!(a, b);
    }
}
