//! The WAL's record framing: `[len u32][type u8][crc u32][payload]`, little-endian, where
//! each record's CRC-32 covers its length, type and payload and is seeded with the previous
//! record's CRC. The chain makes a torn, reordered or bit-flipped record detectable.

/// Size of a record header in bytes.
pub(super) const HEADER_LEN: usize = 9;

/// What a record's payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum RecordType {
    /// Member ID and cluster ID; first record of every segment.
    Metadata = 1,
    /// A raft hard state (term, vote, commit).
    HardState = 2,
    /// A run of consecutive log entries; replaces any entries from its first index on.
    Entries = 3,
    /// A snapshot was persisted at (index, term).
    SnapshotMarker = 4,
}

impl RecordType {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(RecordType::Metadata),
            2 => Some(RecordType::HardState),
            3 => Some(RecordType::Entries),
            4 => Some(RecordType::SnapshotMarker),
            _ => None,
        }
    }
}

/// Computes a record's chained CRC.
fn record_crc(prev_crc: u32, len: u32, kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(prev_crc);
    h.update(&len.to_le_bytes());
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// Appends one framed record to `buf`, whose payload is produced by `write_payload`, and
/// returns the record's CRC (the seed of the next one). The payload is written in place so
/// large entry batches are encoded without an intermediate buffer.
pub(super) fn encode(
    buf: &mut Vec<u8>,
    prev_crc: u32,
    kind: RecordType,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> u32 {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEADER_LEN]);
    write_payload(buf);
    let payload_len = buf.len() - start - HEADER_LEN;
    // Payloads are bounded by raft's message limits, far below 4 GiB; saturate to make an
    // impossible overflow fail the CRC check instead of wrapping silently.
    let len = u32::try_from(payload_len).unwrap_or(u32::MAX);
    let crc = record_crc(prev_crc, len, kind as u8, &buf[start + HEADER_LEN..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4] = kind as u8;
    buf[start + 5..start + 9].copy_from_slice(&crc.to_le_bytes());
    crc
}

/// One record decoded from a segment.
#[derive(Debug)]
pub(super) struct Decoded<'a> {
    /// The record's type.
    pub kind: RecordType,
    /// The record's payload.
    pub payload: &'a [u8],
    /// The record's CRC (the seed of the next one).
    pub crc: u32,
    /// Total bytes the record occupies, header included.
    pub size: usize,
}

/// Why no record could be decoded at some offset.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// A zeroed header: the end of the written part of a preallocated segment.
    End,
    /// Fewer bytes remain than the header or its declared payload needs.
    Truncated {
        /// Where the record would end according to its header (may exceed the data).
        claimed_end: u64,
    },
    /// The type byte is unknown.
    BadType(u8),
    /// The CRC does not match the chain.
    BadCrc {
        /// Where the damaged record ends.
        end: usize,
    },
}

/// Decodes the record starting at `data[0]`, checking its CRC against the chain seed.
pub(super) fn decode(data: &[u8], prev_crc: u32) -> Result<Decoded<'_>, DecodeError> {
    if data.len() < HEADER_LEN {
        if data.iter().all(|&b| b == 0) {
            return Err(DecodeError::End);
        }
        return Err(DecodeError::Truncated {
            claimed_end: HEADER_LEN as u64,
        });
    }
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let kind_byte = data[4];
    let crc = u32::from_le_bytes([data[5], data[6], data[7], data[8]]);
    if len == 0 && kind_byte == 0 && crc == 0 {
        return Err(DecodeError::End);
    }
    let end = HEADER_LEN as u64 + u64::from(len);
    if end > data.len() as u64 {
        return Err(DecodeError::Truncated { claimed_end: end });
    }
    let end = end as usize;
    let payload = &data[HEADER_LEN..end];
    if record_crc(prev_crc, len, kind_byte, payload) != crc {
        return Err(DecodeError::BadCrc { end });
    }
    let kind = RecordType::from_byte(kind_byte).ok_or(DecodeError::BadType(kind_byte))?;
    Ok(Decoded {
        kind,
        payload,
        crc,
        size: end,
    })
}

/// Where a record starting at `data[0]` would end and the CRC its header stores, if its header
/// names a known type and its claimed length fits in `data`; nothing is verified.
pub(super) fn peek(data: &[u8]) -> Option<(usize, u32)> {
    if data.len() < HEADER_LEN {
        return None;
    }
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    RecordType::from_byte(data[4])?;
    let crc = u32::from_le_bytes([data[5], data[6], data[7], data[8]]);
    let end = HEADER_LEN.checked_add(usize::try_from(len).ok()?)?;
    (end <= data.len()).then_some((end, crc))
}

/// The CRC the record at `data[0]` would have under chain seed `prev_crc` if its stored CRC
/// were wrong but its length right (`None` if the length does not fit).
pub(super) fn recompute(data: &[u8], prev_crc: u32) -> Option<u32> {
    if data.len() < HEADER_LEN {
        return None;
    }
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let end = HEADER_LEN.checked_add(usize::try_from(len).ok()?)?;
    let payload = data.get(HEADER_LEN..end)?;
    Some(record_crc(prev_crc, len, data[4], payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_chain() {
        let mut buf = Vec::new();
        let c1 = encode(&mut buf, 0, RecordType::HardState, |b| {
            b.extend_from_slice(b"abc")
        });
        let c2 = encode(&mut buf, c1, RecordType::Entries, |b| {
            b.extend_from_slice(b"defg")
        });
        let r1 = decode(&buf, 0).expect("first record");
        assert_eq!(
            (r1.kind, r1.payload, r1.crc),
            (RecordType::HardState, &b"abc"[..], c1)
        );
        let r2 = decode(&buf[r1.size..], r1.crc).expect("second record");
        assert_eq!(
            (r2.kind, r2.payload, r2.crc),
            (RecordType::Entries, &b"defg"[..], c2)
        );
        // The same bytes under a different chain seed are rejected.
        assert!(matches!(
            decode(&buf[r1.size..], 0),
            Err(DecodeError::BadCrc { .. })
        ));
    }

    #[test]
    fn damage_is_detected() {
        let mut buf = Vec::new();
        encode(&mut buf, 0, RecordType::Entries, |b| {
            b.extend_from_slice(b"payload")
        });
        let mut flipped = buf.clone();
        flipped[HEADER_LEN + 2] ^= 1;
        assert!(matches!(
            decode(&flipped, 0),
            Err(DecodeError::BadCrc { .. })
        ));
        assert!(matches!(
            decode(&buf[..buf.len() - 1], 0),
            Err(DecodeError::Truncated { .. })
        ));
        assert_eq!(decode(&[0u8; 32], 0).map(|r| r.size), Err(DecodeError::End));
    }
}
