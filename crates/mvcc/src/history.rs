//! The change history as watch events: every revision's changes read back from the key table,
//! for watchers that start in the past or fell behind (etcd's unsynced-watcher catch-up).

use oxcd_api::EtcdError;
use oxcd_api::mvccpb::Event;
use oxcd_api::mvccpb::event::EventType;

use crate::error::BackendError;
use crate::read_view::SnapshotView;
use crate::revision::Revision;
use crate::view::{ReadError, decode_kv};

/// How much one read of the change history gathers: it stops at the first revision boundary
/// after either bound is reached, so a revision is never split (one larger than the bounds is
/// returned whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimit {
    /// Events.
    pub events: usize,
    /// Bytes of keys and values.
    pub bytes: usize,
}

impl ChunkLimit {
    /// A bound on the number of events only.
    pub fn events(events: usize) -> ChunkLimit {
        ChunkLimit {
            events,
            bytes: usize::MAX,
        }
    }

    /// Whether `events` events of `bytes` bytes reach the limit.
    pub(crate) fn reached(&self, events: usize, bytes: usize) -> bool {
        events >= self.events || bytes >= self.bytes
    }
}

/// The bytes an event counts for against a [`ChunkLimit`].
pub(crate) fn event_bytes(event: &Event) -> usize {
    event
        .kv
        .as_ref()
        .map_or(0, |kv| kv.key.len() + kv.value.len())
}

/// Events of revisions `from..=` the view's current revision, oldest first, within `limit`.
/// Returns them with the revision to read from next. `Compacted` if `from` is below the
/// compacted revision (etcd's watch rule).
pub(crate) fn events(
    view: &SnapshotView<'_>,
    from: i64,
    limit: ChunkLimit,
) -> Result<(Vec<Event>, i64), ReadError> {
    if from < view.compact {
        return Err(EtcdError::Compacted.into());
    }
    let from = from.max(1);
    let mut out = Vec::new();
    if from > view.current {
        return Ok((out, from));
    }
    let start = Revision::new(from, 0).to_key(false);
    let end = Revision::new(view.current.saturating_add(1), 0).to_key(false);
    let mut next = view.current + 1;
    let mut bytes = 0;
    for row in view
        .snapshot
        .table
        .range::<&[u8]>(start.as_bytes()..end.as_bytes())
        .map_err(BackendError::with("scanning key table"))?
    {
        let (k, v) = row.map_err(BackendError::with("scanning key table"))?;
        let Some((rev, tombstone)) = Revision::from_key(k.value()) else {
            continue;
        };
        if limit.reached(out.len(), bytes)
            && out
                .last()
                .is_some_and(|e: &Event| event_revision(e) != rev.main)
        {
            next = rev.main;
            break;
        }
        let mut kv = decode_kv(v.value())?;
        let kind = if tombstone {
            kv.mod_revision = rev.main;
            EventType::Delete
        } else {
            EventType::Put
        };
        let event = Event {
            r#type: kind as i32,
            kv: Some(kv),
            prev_kv: None,
        };
        bytes += event_bytes(&event);
        out.push(event);
    }
    Ok((out, next))
}

/// The revision an event happened at.
pub(crate) fn event_revision(event: &Event) -> i64 {
    event.kv.as_ref().map_or(0, |kv| kv.mod_revision)
}
