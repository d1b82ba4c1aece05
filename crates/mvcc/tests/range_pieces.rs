//! Ranges answered in pieces (`KvStore::range_within`) decode to exactly the response the whole
//! path builds, for random stores and requests (limits, `keys_only`, old revisions, single
//! keys); the pieces stay near the piece size and are never empty, and outlive a
//! defragmentation that replaces the database under them; ranges that need every value at once stay whole.

use std::sync::Arc;

use oxcd_api::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_api::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest, ResponseHeader};
use oxcd_mvcc::{Backend, KvStore, RangeAnswer, RangePieces};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn no_leases(_: i64) -> bool {
    false
}

/// A store with a few hundred keys of mixed sizes written over many revisions, some deleted.
fn filled_store(dir: &std::path::Path, rng: &mut StdRng) -> KvStore {
    let backend = Arc::new(Backend::open(&dir.join("db")).unwrap());
    let store = KvStore::open(backend).unwrap();
    for _ in 0..60 {
        let mut batch = store.begin_apply().unwrap();
        for _ in 0..rng.random_range(1..8) {
            let key = format!("k{:03}", rng.random_range(0..300)).into_bytes();
            if rng.random_bool(0.1) {
                batch
                    .delete_range(&DeleteRangeRequest {
                        key,
                        ..Default::default()
                    })
                    .unwrap();
            } else {
                let size = [0, 3, 100, 5000][rng.random_range(0..4)];
                let req = PutRequest {
                    key,
                    value: vec![rng.random::<u8>(); size],
                    ..Default::default()
                };
                batch.put(&req, &no_leases).unwrap();
            }
        }
        batch.commit(false).unwrap();
    }
    store
}

fn random_request(rng: &mut StdRng, store: &KvStore) -> RangeRequest {
    let from = rng.random_range(0..300);
    let key = format!("k{from:03}").into_bytes();
    let range_end = match rng.random_range(0..4) {
        0 => Vec::new(),
        1 => vec![0],
        _ => format!("k{:03}", rng.random_range(from..=300)).into_bytes(),
    };
    RangeRequest {
        key,
        range_end,
        revision: if rng.random_bool(0.3) {
            rng.random_range(1..=store.current_revision())
        } else {
            0
        },
        limit: if rng.random_bool(0.4) {
            rng.random_range(1..50)
        } else {
            0
        },
        keys_only: rng.random_bool(0.3),
        // Sorting by anything but the key happens even without an order.
        sort_target: if rng.random_bool(0.1) {
            rng.random_range(1..5)
        } else {
            0
        },
        ..Default::default()
    }
}

fn header(revision: i64) -> ResponseHeader {
    ResponseHeader {
        cluster_id: 7,
        member_id: 9,
        revision,
        raft_term: 3,
    }
}

/// Encodes `pieces` with pieces of `piece_bytes`, checking each piece's size.
fn encode_all(pieces: RangePieces, piece_bytes: usize) -> Vec<u8> {
    let header = header(pieces.revision());
    let expected = pieces.encoded_len(&header);
    let encoder = pieces.encoder(header, piece_bytes);
    assert_eq!(encoder.total_len(), expected);
    let mut out = Vec::new();
    for index in 0..encoder.piece_count() {
        let piece = encoder.piece(index).unwrap();
        // A piece ends with the pair that reached the size; pairs here are at most 5 KB.
        assert!(!piece.is_empty(), "an empty piece");
        assert!(piece.len() < piece_bytes + 6000, "piece of {}", piece.len());
        out.extend_from_slice(&piece);
    }
    assert_eq!(out.len(), expected, "announced length");
    out
}

#[test]
fn pieces_decode_to_the_whole_response() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0014);
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path(), &mut rng);
    let mut pieced = 0;
    for _ in 0..400 {
        let req = random_request(&mut rng, &store);
        let mut whole = store.range(&req).unwrap();
        let budget = rng.random_range(0..20_000);
        match store.range_within(&req, budget).unwrap() {
            RangeAnswer::Whole(resp) => {
                assert_eq!(resp, whole, "{req:?}");
                // Sorted ranges are whole whatever the budget.
                assert!(
                    req.sort_target != 0
                        || resp
                            .kvs
                            .iter()
                            .map(|kv| prost::encoding::message::encoded_len(2, kv))
                            .sum::<usize>()
                            <= budget,
                    "a whole answer over the budget: {req:?}"
                );
            }
            RangeAnswer::Pieces(pieces) => {
                pieced += 1;
                assert_eq!(pieces.len(), whole.kvs.len());
                let bytes = encode_all(pieces, rng.random_range(1..4096));
                whole.header = Some(header(whole.header.unwrap().revision));
                let decoded = oxcd_api::etcdserverpb::RangeResponse::decode(&bytes[..]).unwrap();
                assert_eq!(decoded, whole, "{req:?}");
            }
        }
    }
    assert!(pieced > 100, "only {pieced} ranges went through the pieces");
}

#[test]
fn sorted_filtered_and_counting_ranges_stay_whole() {
    let mut rng = StdRng::seed_from_u64(2);
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path(), &mut rng);
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    for req in [
        RangeRequest {
            sort_order: SortOrder::Descend as i32,
            ..all.clone()
        },
        RangeRequest {
            min_mod_revision: 2,
            ..all.clone()
        },
        RangeRequest {
            count_only: true,
            ..all.clone()
        },
        RangeRequest {
            sort_target: SortTarget::Value as i32,
            ..all.clone()
        },
    ] {
        let RangeAnswer::Whole(resp) = store.range_within(&req, 0).unwrap() else {
            panic!("{req:?} answered in pieces");
        };
        assert_eq!(resp, store.range(&req).unwrap());
    }
    let RangeAnswer::Pieces(_) = store.range_within(&all, 0).unwrap() else {
        panic!("the plain range stays whole");
    };
}

#[test]
fn pieces_outlive_a_defragmentation_that_replaces_the_database() {
    let mut rng = StdRng::seed_from_u64(3);
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path(), &mut rng);
    let req = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    let mut whole = store.range(&req).unwrap();
    let RangeAnswer::Pieces(pieces) = store.range_within(&req, 0).unwrap() else {
        panic!("a range over everything with no budget is answered in pieces");
    };
    let report = store.defragment().unwrap();
    assert!(report.size_after > 0);
    let bytes = encode_all(pieces, 1024);
    whole.header = Some(header(whole.header.unwrap().revision));
    let decoded = oxcd_api::etcdserverpb::RangeResponse::decode(&bytes[..]).unwrap();
    assert_eq!(decoded, whole);
    assert_eq!(store.range(&req).unwrap().kvs, whole.kvs);
}
