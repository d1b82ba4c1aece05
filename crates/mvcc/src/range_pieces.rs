//! Range answers too large to build whole. A range whose key-value pairs encode to more than a
//! budget is answered as [`RangePieces`]: the revisions of its keys, the backend snapshot that
//! holds their values, and the encoded length of each pair, measured in a first pass over the
//! snapshot. The response message is then encoded straight from the snapshot in pieces, each
//! pair written where its measured length puts it, so serving it holds 20 bytes per key and the
//! pieces under way, whatever the values weigh (etcd builds the whole response;
//! etcd-io/etcd#12342). Both passes read rows in revision order (`row_cursor.rs`). The bytes
//! are exactly those of the `RangeResponse` the whole path would answer, up to the
//! order-preserving re-encoding of each pair.

use std::sync::Arc;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::range_request::SortTarget;
use oxcd_api::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use oxcd_api::mvccpb::KeyValue;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use crate::error::BackendError;
use crate::index::KeySpan;
use crate::range::{keys_to_read, needs_every_value, range, scan_keys};
use crate::read_view::SnapshotView;
use crate::revision::Revision;
use crate::row_cursor::{RowCursor, revision_order};
use crate::shared::Snapshot;
use crate::view::{ReadError, decode_kv, load_stored, read_failure};

/// `RangeResponse`'s field numbers (etcd's `rpc.proto`).
const HEADER_FIELD: u32 = 1;
const KVS_FIELD: u32 = 2;
const MORE_FIELD: u32 = 3;
const COUNT_FIELD: u32 = 4;

/// A range answer: whole, or to be encoded in pieces.
pub enum RangeAnswer {
    /// The response, built in memory (within the budget).
    Whole(RangeResponse),
    /// A response over the budget, encoded on demand.
    Pieces(RangePieces),
}

/// A range response to encode from a backend snapshot in pieces (see the module doc).
pub struct RangePieces {
    snapshot: Arc<Snapshot>,
    revs: Vec<Revision>,
    /// The encoded length of each pair, measured in the first pass.
    lens: Vec<u32>,
    keys_only: bool,
    more: bool,
    count: i64,
    revision: i64,
    /// Encoded bytes of all `kvs` fields, tags and lengths included.
    kvs_len: usize,
}

/// Answers `req` from `view`, whole if its pairs encode within `budget` bytes, otherwise as
/// [`RangePieces`]. Sorted and filtered ranges are always whole: they need their values at once.
pub(crate) fn answer(
    view: &mut SnapshotView<'_>,
    req: &RangeRequest,
    budget: usize,
) -> Result<RangeAnswer, ReadError> {
    // A target other than the key sorts even without an order (`range::sort_kvs`).
    let sorted = req.sort_target != SortTarget::Key as i32;
    if needs_every_value(req) || sorted || req.count_only {
        return Ok(RangeAnswer::Whole(range(view, req)?));
    }
    let span = KeySpan::new(&req.key, &req.range_end);
    let mut scanned = scan_keys(view, span, req.revision, keys_to_read(req), false)?;
    let more = req.limit > 0 && i64::try_from(scanned.found.len()).unwrap_or(i64::MAX) > req.limit;
    if more {
        scanned
            .found
            .truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
    }
    let mut kvs = Vec::with_capacity(scanned.found.len().min(1024));
    let mut kvs_len = 0usize;
    for key in &scanned.found {
        let mut kv = load_stored(&view.snapshot.table, &key.modified)?;
        if req.keys_only {
            kv.value = Vec::new();
        }
        kvs_len = kvs_len.saturating_add(field_len(KVS_FIELD, kv.encoded_len()));
        if kvs_len > budget {
            drop(kvs);
            let revs = scanned.found.iter().map(|k| k.modified).collect();
            drop(scanned.found);
            return Ok(RangeAnswer::Pieces(RangePieces::measure(
                view.snapshot.clone(),
                revs,
                req.keys_only,
                more,
                scanned.count,
                scanned.rev,
            )?));
        }
        kvs.push(kv);
    }
    Ok(RangeAnswer::Whole(RangeResponse {
        header: Some(ResponseHeader {
            revision: scanned.rev,
            ..Default::default()
        }),
        kvs,
        more,
        count: scanned.count,
    }))
}

impl RangePieces {
    /// The first pass: the encoded length of every pair, its rows read in revision order.
    fn measure(
        snapshot: Arc<Snapshot>,
        revs: Vec<Revision>,
        keys_only: bool,
        more: bool,
        count: i64,
        revision: i64,
    ) -> Result<RangePieces, ReadError> {
        let mut lens = vec![0u32; revs.len()];
        let mut rows = RowCursor::new(&snapshot.table);
        for i in revision_order(&revs) {
            let i = i as usize;
            let len = rows.read(revs[i], |row| pair_len(row, keys_only))??;
            lens[i] = u32::try_from(len).map_err(|_| too_large(len))?;
        }
        let kvs_len = lens.iter().fold(0usize, |sum, len| {
            sum.saturating_add(field_len(KVS_FIELD, *len as usize))
        });
        drop(rows);
        Ok(RangePieces {
            snapshot,
            revs,
            lens,
            keys_only,
            more,
            count,
            revision,
            kvs_len,
        })
    }

    /// The revision the range was read at (the response header's revision).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Number of key-value pairs in the response.
    pub fn len(&self) -> usize {
        self.revs.len()
    }

    /// Whether the response holds no pair (never, past a budget; for completeness).
    pub fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }

    /// Bytes of the encoded response with `header`.
    pub fn encoded_len(&self, header: &ResponseHeader) -> usize {
        let mut len = field_len(HEADER_FIELD, header.encoded_len()).saturating_add(self.kvs_len);
        if self.more {
            len += key_len(MORE_FIELD) + 1;
        }
        if self.count != 0 {
            len += prost::encoding::int64::encoded_len(COUNT_FIELD, &self.count);
        }
        len
    }

    /// Starts the second pass: the response with `header`, cut into pieces of about
    /// `piece_bytes` (each ends with the pair that reaches the size).
    pub fn encoder(self, header: ResponseHeader, piece_bytes: usize) -> RangeEncoder {
        let mut header_field = Vec::new();
        prost::encoding::message::encode(HEADER_FIELD, &header, &mut header_field);
        let total = self.encoded_len(&header);
        let mut starts = vec![0];
        let mut at = header_field.len();
        for (i, len) in self.lens.iter().enumerate() {
            // A piece holds at least one pair, however large.
            if at >= piece_bytes && starts.last() != Some(&i) {
                starts.push(i);
                at = 0;
            }
            at += field_len(KVS_FIELD, *len as usize);
        }
        starts.push(self.lens.len());
        RangeEncoder {
            pieces: self,
            header_field,
            starts,
            total,
        }
    }
}

/// The second pass over a [`RangePieces`]: the encoded response, cut into pieces that are
/// encoded independently ([`RangeEncoder::piece`]), so several can be encoded at once on
/// different threads. They add up to exactly [`RangeEncoder::total_len`] bytes; a snapshot that
/// reads differently than in the first pass is damage, reported (`Corrupt`, logged) in place of
/// the piece.
pub struct RangeEncoder {
    pieces: RangePieces,
    /// The response header's field, which starts the first piece.
    header_field: Vec<u8>,
    /// The first pair of each piece, then the number of pairs.
    starts: Vec<usize>,
    total: usize,
}

impl RangeEncoder {
    /// Bytes of the whole encoded response.
    pub fn total_len(&self) -> usize {
        self.total
    }

    /// Number of pieces (at least one).
    pub fn piece_count(&self) -> usize {
        self.starts.len() - 1
    }

    /// Encodes piece `index` (below [`RangeEncoder::piece_count`]): its pairs placed by their
    /// measured lengths and filled in revision order.
    pub fn piece(&self, index: usize) -> Result<Vec<u8>, EtcdError> {
        self.fill(index).map_err(read_failure)
    }

    fn fill(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        let pieces = &self.pieces;
        let (first, end) = (self.starts[index], self.starts[index + 1]);
        let last = index + 1 == self.piece_count();
        let mut buf = Vec::new();
        if index == 0 {
            buf.extend_from_slice(&self.header_field);
        }
        let mut slots = Vec::with_capacity(end - first);
        let mut at = buf.len();
        for len in &pieces.lens[first..end] {
            slots.push(at);
            at += field_len(KVS_FIELD, *len as usize);
        }
        // The trailing fields take a few bytes more.
        buf.reserve_exact(at - buf.len() + if last { 16 } else { 0 });
        buf.resize(at, 0);
        let chunk = &pieces.revs[first..end];
        let mut rows = RowCursor::new(&pieces.snapshot.table);
        for i in revision_order(chunk) {
            let i = i as usize;
            let len = pieces.lens[first + i] as usize;
            let mut slot = &mut buf[slots[i]..slots[i] + field_len(KVS_FIELD, len)];
            encode_key(KVS_FIELD, WireType::LengthDelimited, &mut slot);
            encode_varint(len as u64, &mut slot);
            rows.read(chunk[i], |row| -> Result<(), ReadError> {
                if pieces.keys_only {
                    let kv = key_only(row)?;
                    if kv.encoded_len() != len {
                        return Err(changed(chunk[i]));
                    }
                    kv.encode_raw(&mut slot);
                } else {
                    if row.len() != len {
                        return Err(changed(chunk[i]));
                    }
                    slot.copy_from_slice(row);
                }
                Ok(())
            })??;
        }
        if last {
            if pieces.more {
                prost::encoding::bool::encode(MORE_FIELD, &true, &mut buf);
            }
            if pieces.count != 0 {
                prost::encoding::int64::encode(COUNT_FIELD, &pieces.count, &mut buf);
            }
        }
        Ok(buf)
    }
}

/// Bytes of a length-delimited field `tag` whose content is `len` bytes.
fn field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// The encoded length of the pair stored as `row`, without its value if `keys_only`.
fn pair_len(row: &[u8], keys_only: bool) -> Result<usize, ReadError> {
    Ok(if keys_only {
        key_only(row)?.encoded_len()
    } else {
        row.len()
    })
}

/// The pair stored as `row`, without its value.
fn key_only(row: &[u8]) -> Result<KeyValue, ReadError> {
    let mut kv = decode_kv(row)?;
    kv.value = Vec::new();
    Ok(kv)
}

/// A row that reads differently than in the first pass: the snapshot is damaged.
fn changed(rev: Revision) -> ReadError {
    BackendError::new(
        "encoding a range in pieces",
        format!("the row of revision {rev:?} changed length since it was measured"),
    )
    .into()
}

/// A pair too large for a gRPC message.
fn too_large(len: usize) -> ReadError {
    BackendError::new("measuring a range", format!("a stored pair of {len} bytes")).into()
}
