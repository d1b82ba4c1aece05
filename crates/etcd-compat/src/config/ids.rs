//! Member and cluster IDs derived exactly as etcd derives them, so an oxcd member bootstrapped
//! with the same flags as an etcd member gets the same IDs (clients and dashboards show them;
//! `member add` from one implementation must be understood by the other).
//!
//! * member ID: the first 8 bytes, big-endian, of SHA-1 over the member's peer URLs sorted
//!   and concatenated without separator, then the cluster token, then — for a member added
//!   at runtime — the addition time in Unix seconds as decimal text;
//! * cluster ID: the first 8 bytes, big-endian, of SHA-1 over the member IDs sorted
//!   ascending, each as 8 big-endian bytes.

use std::time::SystemTime;

use sha1::{Digest, Sha1};

use super::go_url::Url;

/// Computes a member ID from its peer URLs (as text, e.g. `http://10.0.0.1:2380`), the
/// cluster token, and the time it was added at runtime (`None` for members in the initial
/// cluster). etcd's `MemberAdd` RPC passes an empty token and the current time.
pub(super) fn member_id<U: ToString>(
    peer_urls: &[U],
    token: &str,
    added_at: Option<SystemTime>,
) -> u64 {
    let mut urls: Vec<String> = peer_urls.iter().map(ToString::to_string).collect();
    urls.sort();
    let mut hasher = Sha1::new();
    for url in &urls {
        hasher.update(url.as_bytes());
    }
    hasher.update(token.as_bytes());
    if let Some(time) = added_at {
        hasher.update(unix_seconds(time).to_string().as_bytes());
    }
    first_eight_bytes(&hasher.finalize())
}

/// The ID etcd's `MemberAdd` gives a member added at `now` with `peer_urls`.
pub fn added_member_id(peer_urls: &[Url], now: SystemTime) -> u64 {
    member_id(peer_urls, "", Some(now))
}

/// Computes the cluster ID from its members' IDs (in any order).
pub(super) fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut hasher = Sha1::new();
    for id in ids {
        hasher.update(id.to_be_bytes());
    }
    first_eight_bytes(&hasher.finalize())
}

/// Go's `time.Time.Unix()`: whole seconds, rounded towards negative infinity.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                -whole - 1
            } else {
                -whole
            }
        }
    }
}

fn first_eight_bytes(digest: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    //! The expected IDs were observed from real etcd 3.5.1 on loopback: each member was
    //! started with `etcd --name <n> --initial-advertise-peer-urls <u> --initial-cluster
    //! <cluster> [--initial-cluster-token <t>]` in a temporary directory, and the IDs were read
    //! with `etcdctl member list -w json` and `etcdctl endpoint status -w json`.

    use super::*;
    use std::time::Duration;

    #[test]
    fn default_member_matches_etcd() {
        // `etcd` with no flags logs local-member-id 8e9e05c52164694d, cluster-id
        // cdf818194e3a8c32.
        let id = member_id(&["http://localhost:2380"], "etcd-cluster", None);
        assert_eq!(id, 0x8e9e_05c5_2164_694d);
        assert_eq!(cluster_id(&[id]), 0xcdf8_1819_4e3a_8c32);
    }

    #[test]
    fn one_member_cluster_matches_etcd() {
        // etcd --name infra1 --initial-advertise-peer-urls http://127.0.0.1:32380
        //      --initial-cluster infra1=http://127.0.0.1:32380
        let id = member_id(&["http://127.0.0.1:32380"], "etcd-cluster", None);
        assert_eq!(id, 443_629_905_751_424_238);
        assert_eq!(cluster_id(&[id]), 13_455_796_455_940_752_355);
    }

    #[test]
    fn three_member_cluster_matches_etcd() {
        // --initial-cluster infra1=http://127.0.0.1:32380,infra2=http://127.0.0.1:32382,
        // infra3=http://127.0.0.1:32384 --initial-cluster-token tok-3
        let infra1 = member_id(&["http://127.0.0.1:32380"], "tok-3", None);
        let infra2 = member_id(&["http://127.0.0.1:32382"], "tok-3", None);
        let infra3 = member_id(&["http://127.0.0.1:32384"], "tok-3", None);
        assert_eq!(infra1, 8_969_939_487_737_491_088);
        assert_eq!(infra2, 13_480_796_732_600_576_856);
        assert_eq!(infra3, 6_959_368_840_077_181_992);
        assert_eq!(
            cluster_id(&[infra1, infra2, infra3]),
            524_734_462_902_618_249
        );
        assert_eq!(
            cluster_id(&[infra3, infra1, infra2]),
            524_734_462_902_618_249
        );
    }

    #[test]
    fn multiple_peer_urls_are_sorted_before_hashing() {
        // --initial-advertise-peer-urls http://127.0.0.1:32386,http://127.0.0.1:32380
        // --initial-cluster multi=http://127.0.0.1:32386,multi=http://127.0.0.1:32380
        // --initial-cluster-token tok-multi
        let id = member_id(
            &["http://127.0.0.1:32386", "http://127.0.0.1:32380"],
            "tok-multi",
            None,
        );
        assert_eq!(id, 4_239_526_641_151_007_616);
        assert_eq!(cluster_id(&[id]), 10_341_132_366_688_448_227);
    }

    #[test]
    fn added_member_hashes_the_time_with_an_empty_token() {
        // `etcdctl member add added --peer-urls=http://127.0.0.1:32390` against the cluster
        // above at Unix time 1795605748 returned ID 4866256921559053522.
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_605_748_730);
        assert_eq!(
            member_id(&["http://127.0.0.1:32390"], "", Some(at)),
            4_866_256_921_559_053_522
        );
    }

    #[test]
    fn unix_seconds_floor_like_go() {
        assert_eq!(
            unix_seconds(SystemTime::UNIX_EPOCH + Duration::from_millis(1500)),
            1
        );
        assert_eq!(
            unix_seconds(SystemTime::UNIX_EPOCH - Duration::from_millis(1500)),
            -2
        );
        assert_eq!(
            unix_seconds(SystemTime::UNIX_EPOCH - Duration::from_secs(2)),
            -2
        );
    }
}
