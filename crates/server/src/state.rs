//! The replicated state machine as one swappable unit: the backend database, the KV store on it
//! and the membership and alarms read from it, plus the applied indexes. A snapshot from the leader replaces
//! the database wholesale; readers holding the old store finish on it undisturbed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use oxcd_mvcc::watch::WatchHub;
use oxcd_mvcc::{Backend, CompactionObserver, DefragReport, KvStore, LeasedKeys};
use oxcd_raft::{ConfStateSummary, StateMachine};

use crate::alarms::Alarms;
use crate::auth::{AuthStore, Tokens};
use crate::key_deletes::KeyDeletes;
use crate::lease::{Lessor, table as lease_table};
use crate::membership::{Identity, Membership};

/// Failure opening or swapping the state machine's storage.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct StateError(pub String);

fn err<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> StateError + '_ {
    move |e| StateError(format!("{context}: {e}"))
}

/// Bytes of recent changes kept in memory for watchers; older ones are read from the backend.
const WATCH_RING_BYTES: usize = 8 * 1024 * 1024;

/// Name prefix of the backend copies made for clients' snapshots, so that copies left by a
/// member that stopped while streaming one are recognised and removed at the next start.
const BACKEND_COPY_PREFIX: &str = "maintenance-snapshot-";

struct Storage {
    backend: Arc<Backend>,
    kv: Arc<KvStore>,
}

impl Storage {
    /// Opens the backend at `path` and its store; also the live keys attached to leases.
    fn open(path: &Path) -> Result<(Storage, LeasedKeys), StateError> {
        let backend = Arc::new(Backend::open(path).map_err(err("opening backend"))?);
        let (kv, leased) =
            KvStore::open_with_leased_keys(backend.clone()).map_err(err("loading key index"))?;
        Ok((
            Storage {
                backend,
                kv: Arc::new(kv),
            },
            leased,
        ))
    }
}

/// Shared by the apply loop (writer), the services (readers) and raft (snapshots).
pub(crate) struct ServerState {
    storage: RwLock<Storage>,
    membership: Membership,
    alarms: Alarms,
    auth: AuthStore,
    tokens: Tokens,
    lessor: Arc<Lessor>,
    watch_hub: Arc<WatchHub>,
    key_deletes: Arc<KeyDeletes>,
    backend_path: PathBuf,
    applied_index: AtomicU64,
    durable_applied_index: AtomicU64,
    /// Held by whatever puts another file at the backend's path (a snapshot from the leader, a
    /// defragmentation), so two never replace it at once.
    backend_file: parking_lot::Mutex<()>,
    /// Told of the physical compactions of the store, also of a store a snapshot installs.
    compaction_observer: RwLock<Option<Arc<CompactionObserver>>>,
}

impl ServerState {
    /// Opens a bootstrapped backend at `backend_path`; `lessor` is filled from it. `tokens`
    /// issues and checks the tokens of authenticated clients.
    pub(crate) fn open(
        backend_path: &Path,
        lessor: Lessor,
        tokens: Tokens,
    ) -> Result<ServerState, StateError> {
        remove_backend_copies(backend_path.parent().unwrap_or(Path::new(".")));
        let (storage, leased) = Storage::open(backend_path)?;
        restore_leases(&lessor, &storage, leased)?;
        let membership = Membership::load(&storage.backend).map_err(err("loading membership"))?;
        let alarms = Alarms::load(&storage.backend).map_err(err("loading alarms"))?;
        let auth = AuthStore::load(&storage.backend).map_err(err("loading the auth store"))?;
        let (applied, _term) = storage
            .backend
            .consistent_index()
            .map_err(err("reading consistent index"))?;
        let watch_hub = Arc::new(WatchHub::new(
            storage.kv.current_revision(),
            WATCH_RING_BYTES,
        ));
        Ok(ServerState {
            storage: RwLock::new(storage),
            membership,
            alarms,
            auth,
            tokens,
            lessor: Arc::new(lessor),
            watch_hub,
            key_deletes: Arc::default(),
            backend_path: backend_path.to_path_buf(),
            applied_index: AtomicU64::new(applied),
            durable_applied_index: AtomicU64::new(applied),
            backend_file: parking_lot::Mutex::new(()),
            compaction_observer: RwLock::new(None),
        })
    }

    /// Has `observer` told of every physical compaction from now on.
    pub(crate) fn observe_compactions(&self, observer: Arc<CompactionObserver>) {
        self.kv().observe_compactions(observer.clone());
        *self.compaction_observer.write() = Some(observer);
    }

    /// The current KV store.
    pub(crate) fn kv(&self) -> Arc<KvStore> {
        self.storage.read().kv.clone()
    }

    /// The current backend.
    pub(crate) fn backend(&self) -> Arc<Backend> {
        self.storage.read().backend.clone()
    }

    /// A consistent copy of the live backend, in a temporary file beside it that is removed
    /// when dropped. It is read from one read transaction, so writers go on meanwhile.
    pub(crate) fn backend_copy(&self) -> Result<tempfile::NamedTempFile, StateError> {
        let dir = self.backend_path.parent().unwrap_or(Path::new("."));
        let file = tempfile::Builder::new()
            .prefix(BACKEND_COPY_PREFIX)
            .suffix(".db")
            .tempfile_in(dir)
            .map_err(err("creating the backend copy"))?;
        self.backend()
            .copy_to(file.path())
            .map_err(err("copying the backend"))?;
        Ok(file)
    }

    /// Rewrites the backend into a compact file while reads and writes go on (writes wait only
    /// for the final copy and the swap); see `oxcd_mvcc::KvStore::defragment`.
    pub(crate) fn defragment(&self) -> Result<DefragReport, StateError> {
        let _only_one = self.backend_file.lock();
        self.kv()
            .defragment()
            .map_err(err("defragmenting the backend"))
    }

    /// Recent committed changes and the revision watchers wait on.
    pub(crate) fn watch_hub(&self) -> &Arc<WatchHub> {
        &self.watch_hub
    }

    /// The lock and election waiters, woken by the deletes they wait for.
    pub(crate) fn key_deletes(&self) -> &Arc<KeyDeletes> {
        &self.key_deletes
    }

    /// Membership of the cluster.
    pub(crate) fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Users, roles and whether authentication is on.
    pub(crate) fn auth(&self) -> &AuthStore {
        &self.auth
    }

    /// The tokens this member issued or can check.
    pub(crate) fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The alarms raised in the cluster.
    pub(crate) fn alarms(&self) -> &Alarms {
        &self.alarms
    }

    /// Every lease and the keys attached to them.
    pub(crate) fn lessor(&self) -> &Arc<Lessor> {
        &self.lessor
    }

    /// Index of the last applied raft entry.
    pub(crate) fn applied_index(&self) -> u64 {
        self.applied_index.load(Ordering::Acquire)
    }

    /// Called by the apply loop after each batch.
    pub(crate) fn set_applied_index(&self, index: u64) {
        self.applied_index.store(index, Ordering::Release);
    }

    /// Called by the apply loop after a durable (fsynced) backend commit.
    pub(crate) fn set_durable_applied_index(&self, index: u64) {
        self.durable_applied_index.store(index, Ordering::Release);
    }

    /// Replaces the whole database with a snapshot received from the leader for raft index
    /// `index` and returns the applied index it contains. The snapshot carries the sender's
    /// notion of "local member", so ours is written back into it before it goes live.
    pub(crate) fn restore_backend(&self, db_path: &Path, index: u64) -> Result<u64, StateError> {
        let _only_one = self.backend_file.lock();
        let identity = self.membership.identity();
        stamp_local_identity(db_path, identity)?;
        // The received database is opened and checked where it lies: a file that does not
        // open, or holds another index than raft's snapshot, never replaces the live one.
        let (restored, leased) = Storage::open(db_path)?;
        let (applied, _term) = restored
            .backend
            .consistent_index()
            .map_err(err("reading consistent index"))?;
        if applied != index {
            return Err(StateError(format!(
                "snapshot database {} holds applied index {applied}, raft's snapshot is at {index}; not installing it",
                db_path.display()
            )));
        }
        self.membership
            .reload(&restored.backend)
            .map_err(err("reloading membership"))?;
        restore_leases(&self.lessor, &restored, leased)?;
        self.alarms
            .reload(&restored.backend)
            .map_err(err("reloading alarms"))?;
        self.auth
            .reload(&restored.backend)
            .map_err(err("reloading the auth store"))?;
        // Readers keep using the old store until the swap below: the old database file stays
        // readable through its open handle after the rename, as the new one does through its.
        std::fs::rename(db_path, &self.backend_path)
            .map_err(err("installing snapshot database"))?;
        restored.backend.moved_to(&self.backend_path);
        let member_dir = self.backend_path.parent().unwrap_or(Path::new("."));
        oxcd_raft::fsutil::sync_dir(member_dir).map_err(err("syncing the member directory"))?;
        let revision = restored.kv.current_revision();
        if let Some(observer) = self.compaction_observer.read().clone() {
            restored.kv.observe_compactions(observer);
        }
        *self.storage.write() = restored;
        self.watch_hub.reset(revision);
        self.key_deletes.wake_all();
        Ok(applied)
    }
}

/// Removes backend copies a member left in `member_dir` when it stopped while streaming one.
fn remove_backend_copies(member_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(member_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(BACKEND_COPY_PREFIX)
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove an old backend copy");
        }
    }
}

fn restore_leases(
    lessor: &Lessor,
    storage: &Storage,
    attached: LeasedKeys,
) -> Result<(), StateError> {
    let stored = lease_table::load(&storage.backend).map_err(err("loading leases"))?;
    lessor.restore(stored, attached);
    Ok(())
}

fn stamp_local_identity(db_path: &Path, identity: Identity) -> Result<(), StateError> {
    let backend = Backend::open(db_path).map_err(err("opening snapshot database"))?;
    backend
        .write(|tables| Membership::set_local_identity(tables, identity))
        .map_err(err("writing snapshot database"))
}

impl StateMachine for ServerState {
    fn durable_applied_index(&self) -> u64 {
        self.durable_applied_index.load(Ordering::Acquire)
    }

    fn write_snapshot(&self, dest: &Path) -> std::io::Result<u64> {
        let (index, _term) = self
            .backend()
            .copy_to(dest)
            .map_err(std::io::Error::other)?;
        Ok(index)
    }

    fn conf_state(&self) -> Option<ConfStateSummary> {
        match Membership::stored_conf_state(&self.backend()) {
            Ok(conf) => conf,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the stored membership; raft replays its log's conf changes");
                None
            }
        }
    }
}

#[cfg(test)]
impl ServerState {
    /// The state of a fresh backend at `path` that belongs to member 2 of cluster 1.
    pub(crate) fn bootstrapped_for_test(path: &Path) -> ServerState {
        let identity = Identity {
            cluster_id: 1,
            member_id: 2,
        };
        Backend::open(path)
            .unwrap()
            .write(|tables| Membership::bootstrap(tables, identity, &[]))
            .unwrap();
        let tokens = Tokens::from_flag("simple", std::time::Duration::from_secs(300)).unwrap();
        ServerState::open(
            path,
            Lessor::new(1, std::time::Duration::from_secs(300)),
            tokens,
        )
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use oxcd_raft::StateMachine;

    use super::*;

    #[test]
    fn a_snapshot_database_for_another_index_never_replaces_the_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let live_path = dir.path().join("db");
        let state = ServerState::bootstrapped_for_test(&live_path);
        let received = dir.path().join("received.snap.db");
        let index = state.write_snapshot(&received).unwrap();
        let live_before = std::fs::read(&live_path).unwrap();

        let refused = state.restore_backend(&received, index + 1);
        let error = refused.expect_err("a database for another index must be refused");
        assert!(error.0.contains("not installing it"), "{}", error.0);
        assert!(received.exists(), "the received file stays where it was");
        assert_eq!(std::fs::read(&live_path).unwrap(), live_before);

        assert_eq!(state.restore_backend(&received, index).unwrap(), index);
        assert!(!received.exists(), "installed under the live path");
    }
}
