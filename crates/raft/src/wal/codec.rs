//! Payload encodings of the WAL's record types (little-endian, no protobuf on the hot path).

use raft::prelude::{Entry, EntryType, HardState};

/// Identity stored at the head of every segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The member that wrote the WAL.
    pub member_id: u64,
    /// The cluster it belongs to.
    pub cluster_id: u64,
}

/// A snapshot marker: the log below `index` is covered by a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SnapshotMarker {
    /// Index of the snapshot.
    pub index: u64,
    /// Term of the entry at `index`.
    pub term: u64,
}

/// A payload that does not parse.
#[derive(Debug)]
pub(super) struct Malformed(pub &'static str);

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed("payload shorter than its fields"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn finish(&self) -> Result<(), Malformed> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Malformed("trailing bytes after payload"))
        }
    }
}

fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(b);
}

/// Encodes identity metadata.
pub(super) fn put_metadata(buf: &mut Vec<u8>, m: Metadata) {
    put_u64(buf, m.member_id);
    put_u64(buf, m.cluster_id);
}

/// Decodes identity metadata.
pub(super) fn get_metadata(p: &[u8]) -> Result<Metadata, Malformed> {
    let mut c = Cursor(p);
    let m = Metadata {
        member_id: c.u64()?,
        cluster_id: c.u64()?,
    };
    c.finish()?;
    Ok(m)
}

/// Encodes a hard state.
pub(super) fn put_hard_state(buf: &mut Vec<u8>, hs: &HardState) {
    put_u64(buf, hs.term);
    put_u64(buf, hs.vote);
    put_u64(buf, hs.commit);
}

/// Decodes a hard state.
pub(super) fn get_hard_state(p: &[u8]) -> Result<HardState, Malformed> {
    let mut c = Cursor(p);
    let hs = HardState {
        term: c.u64()?,
        vote: c.u64()?,
        commit: c.u64()?,
        ..Default::default()
    };
    c.finish()?;
    Ok(hs)
}

/// Encodes a snapshot marker.
pub(super) fn put_snapshot_marker(buf: &mut Vec<u8>, m: SnapshotMarker) {
    put_u64(buf, m.index);
    put_u64(buf, m.term);
}

/// Decodes a snapshot marker.
pub(super) fn get_snapshot_marker(p: &[u8]) -> Result<SnapshotMarker, Malformed> {
    let mut c = Cursor(p);
    let m = SnapshotMarker {
        index: c.u64()?,
        term: c.u64()?,
    };
    c.finish()?;
    Ok(m)
}

fn entry_type_byte(t: EntryType) -> u8 {
    match t {
        EntryType::EntryNormal => 0,
        EntryType::EntryConfChange => 1,
        EntryType::EntryConfChangeV2 => 2,
    }
}

fn entry_type_from_byte(b: u8) -> Result<EntryType, Malformed> {
    match b {
        0 => Ok(EntryType::EntryNormal),
        1 => Ok(EntryType::EntryConfChange),
        2 => Ok(EntryType::EntryConfChangeV2),
        _ => Err(Malformed("unknown entry type")),
    }
}

/// Encodes a run of entries: count, then per entry index, term, type, data, context.
pub(super) fn put_entries(buf: &mut Vec<u8>, entries: &[Entry]) {
    let extra: usize = entries
        .iter()
        .map(|e| 25 + e.data.len() + e.context.len())
        .sum();
    buf.reserve(4 + extra);
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&count.to_le_bytes());
    for e in entries {
        put_u64(buf, e.index);
        put_u64(buf, e.term);
        buf.push(entry_type_byte(e.get_entry_type()));
        put_bytes(buf, &e.data);
        put_bytes(buf, &e.context);
    }
}

/// Decodes a run of entries, checking they are consecutive.
pub(super) fn get_entries(p: &[u8]) -> Result<Vec<Entry>, Malformed> {
    let mut c = Cursor(p);
    let count = c.u32()? as usize;
    // Bound the allocation by what the payload could possibly hold (25 bytes per entry).
    let mut out = Vec::with_capacity(count.min(p.len() / 25));
    for _ in 0..count {
        let mut e = Entry {
            index: c.u64()?,
            term: c.u64()?,
            ..Default::default()
        };
        e.set_entry_type(entry_type_from_byte(c.u8()?)?);
        let data_len = c.u32()? as usize;
        e.data = bytes::Bytes::copy_from_slice(c.take(data_len)?);
        let ctx_len = c.u32()? as usize;
        e.context = bytes::Bytes::copy_from_slice(c.take(ctx_len)?);
        if out.last().is_some_and(|p: &Entry| e.index != p.index + 1) {
            return Err(Malformed("entries are not consecutive"));
        }
        out.push(e);
    }
    c.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let hs = HardState {
            term: 3,
            vote: 2,
            commit: 99,
            ..Default::default()
        };
        let mut buf = Vec::new();
        put_hard_state(&mut buf, &hs);
        assert_eq!(get_hard_state(&buf).expect("hard state"), hs);

        let e1 = Entry {
            index: 5,
            term: 2,
            data: bytes::Bytes::from_static(b"hello"),
            ..Default::default()
        };
        let mut e2 = Entry {
            index: 6,
            term: 2,
            ..Default::default()
        };
        e2.set_entry_type(EntryType::EntryConfChangeV2);
        e2.context = bytes::Bytes::from_static(b"ctx");
        let mut buf = Vec::new();
        put_entries(&mut buf, &[e1.clone(), e2.clone()]);
        assert_eq!(get_entries(&buf).expect("entries"), vec![e1, e2]);
        assert!(get_entries(&buf[..buf.len() - 1]).is_err());
    }
}
