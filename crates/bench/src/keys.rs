//! The key space and the value of the write benchmarks.
//!
//! Key number `i` is its zig-zag varint encoding, zero-padded to `--key-size` bytes: the same
//! layout etcd's own benchmark writes, so runs of either tool address the same keys.

use anyhow::{Result, bail};
use rand::RngCore;

/// Bytes a zig-zag varint needs for `index` (never fewer than one).
pub fn varint_len(index: u64) -> usize {
    let mut rest = zigzag(index);
    let mut len = 1;
    while rest >= 0x80 {
        rest >>= 7;
        len += 1;
    }
    len
}

/// Zig-zag mapping of a non-negative signed value: twice its magnitude. `KeySpace::new` caps
/// key numbers at `i64::MAX`, so the doubling never overflows.
fn zigzag(index: u64) -> u64 {
    index << 1
}

/// The keys `0..size`, each `key_size` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpace {
    size: u64,
    key_size: usize,
}

impl KeySpace {
    /// A key space of `size` keys of `key_size` bytes; fails when there are no keys or when the
    /// largest key number does not fit in `key_size` bytes (two keys would collide).
    pub fn new(size: u64, key_size: usize) -> Result<Self> {
        if size == 0 || size > i64::MAX as u64 {
            bail!(
                "expected positive --key-space-size no larger than {}, got ({size})",
                i64::MAX
            );
        }
        let needed = varint_len(size - 1);
        if key_size < needed {
            bail!(
                "--key-size {key_size} is too small for --key-space-size {size}: \
                 key numbers up to {} need {needed} bytes",
                size - 1
            );
        }
        Ok(Self { size, key_size })
    }

    /// How many distinct keys there are.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The key for `number` (taken modulo the key space size), in a freshly allocated buffer
    /// of exactly `key_size` bytes, ready to move into a request.
    pub fn key(&self, number: u64) -> Vec<u8> {
        let mut key = vec![0u8; self.key_size];
        let mut rest = zigzag(number % self.size);
        let mut at = 0;
        while rest >= 0x80 {
            key[at] = (rest as u8) | 0x80;
            rest >>= 7;
            at += 1;
        }
        key[at] = rest as u8;
        key
    }
}

/// A random value of `size` bytes, generated once and reused by every request.
pub fn random_value(size: usize) -> Vec<u8> {
    let mut value = vec![0u8; size];
    rand::rng().fill_bytes(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_use_zigzag_varints_padded_to_key_size() {
        let space = KeySpace::new(100_000, 8).unwrap();
        assert_eq!(space.key(0), vec![0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(space.key(1), vec![2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(space.key(63), vec![126, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(space.key(64), vec![0x80, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(space.key(300), vec![0xd8, 0x04, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn key_numbers_wrap_around_the_key_space() {
        let space = KeySpace::new(10, 4).unwrap();
        assert_eq!(space.key(13), space.key(3));
    }

    #[test]
    fn every_key_of_a_space_is_distinct() {
        let space = KeySpace::new(20_000, 3).unwrap();
        let keys: std::collections::HashSet<Vec<u8>> = (0..20_000).map(|i| space.key(i)).collect();
        assert_eq!(keys.len(), 20_000);
    }

    #[test]
    fn too_small_keys_are_rejected_instead_of_colliding() {
        assert_eq!(varint_len(63), 1);
        assert_eq!(varint_len(64), 2);
        assert!(KeySpace::new(64, 1).is_ok());
        let err = KeySpace::new(65, 1).unwrap_err().to_string();
        assert!(err.contains("too small"), "{err}");
        assert!(KeySpace::new(0, 8).is_err());
    }

    #[test]
    fn values_have_the_requested_size() {
        assert_eq!(random_value(256).len(), 256);
        assert!(random_value(0).is_empty());
    }
}
