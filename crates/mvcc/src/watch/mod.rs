//! The watchable store: what watch streams read committed changes from.
//!
//! [`WatchHub`] keeps the most recent committed changes in a ring bounded in bytes and tells
//! subscribers when the published revision moves. A [`Watcher`] is one watch's position in the
//! change history: it reads from the ring while it keeps up and from the backend (the key table
//! holds every revision) once it has fallen behind the ring, so a slow watcher pins no memory
//! and loses nothing — until compaction overtakes it, when it learns the compacted revision.
//! Streams register their watchers' spans with the hub (`interest.rs`): a publish wakes only
//! the streams a change concerns, and the others' watchers later skip those revisions unread.

mod hub;
mod interest;
mod watcher;

pub use hub::WatchHub;
pub use interest::{InterestId, StreamSignal};
pub use watcher::{EventFilter, WatchChunk, WatchProgress, Watcher};
