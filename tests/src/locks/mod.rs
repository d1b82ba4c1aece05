//! Locks and elections under faults: holders and campaigners run as separate `oxlocker`
//! processes ([`holders`]) so tests can SIGKILL, SIGSTOP or cut them off; each holder records
//! every write it makes under the lock in etcd itself, and [`tenures`] checks the history read
//! back: the guarded writes of different holders never interleave and fencing tokens only grow.
//! [`event`] is the line protocol `oxlocker` reports on stdout, and the key layout of the
//! recorded history, shared by the binary and the harness.

pub mod event;
pub mod holders;
pub mod run;
pub mod steps;
pub mod tenures;
