//! The `put` workload: one `Put` of a fixed random value per request, to sequential or
//! uniformly random keys of the key space.

use oxcd_api::etcdserverpb::PutRequest;
use rand::Rng;
use rand::rngs::SmallRng;

use crate::keys::KeySpace;

/// How `put` picks the key of each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// Request `i` writes key `i` (wrapping around the key space).
    Sequential,
    /// Every request writes a uniformly random key of the key space.
    Random,
}

/// Builds the `PutRequest`s of a `put` run.
#[derive(Clone, Debug)]
pub struct PutWorkload {
    keys: KeySpace,
    order: KeyOrder,
    value: Vec<u8>,
}

impl PutWorkload {
    /// Puts of `value` to keys of `keys`, chosen in `order`.
    pub fn new(keys: KeySpace, order: KeyOrder, value: Vec<u8>) -> Self {
        Self { keys, order, value }
    }

    /// The request number `index` of the run.
    pub fn request(&self, index: u64, rng: &mut SmallRng) -> PutRequest {
        let number = match self.order {
            KeyOrder::Sequential => index,
            KeyOrder::Random => rng.random_range(0..self.keys.size()),
        };
        PutRequest {
            key: self.keys.key(number),
            value: self.value.clone(),
            ..PutRequest::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sequential_puts_walk_the_key_space_in_order() {
        let keys = KeySpace::new(3, 8).unwrap();
        let workload = PutWorkload::new(keys, KeyOrder::Sequential, vec![7; 16]);
        let mut rng = SmallRng::seed_from_u64(1);
        let written: Vec<Vec<u8>> = (0..4).map(|i| workload.request(i, &mut rng).key).collect();
        assert_eq!(
            written,
            vec![keys.key(0), keys.key(1), keys.key(2), keys.key(0)]
        );
        let request = workload.request(0, &mut rng);
        assert_eq!(request.value, vec![7; 16]);
        assert!(!request.prev_kv);
        assert_eq!(request.lease, 0);
    }

    #[test]
    fn random_puts_spread_over_the_whole_key_space() {
        let keys = KeySpace::new(4, 8).unwrap();
        let workload = PutWorkload::new(keys, KeyOrder::Random, vec![1]);
        let mut rng = SmallRng::seed_from_u64(7);
        let seen: std::collections::HashSet<Vec<u8>> = (0..200)
            .map(|i| workload.request(i, &mut rng).key)
            .collect();
        let all: std::collections::HashSet<Vec<u8>> = (0..4).map(|i| keys.key(i)).collect();
        assert_eq!(seen, all);
    }
}
