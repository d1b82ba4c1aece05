//! The `mixed` workload: reads and writes of uniformly random keys of the loaded key space in
//! a fixed proportion, as etcd's rw-heatmaps measure (a request is a put with probability
//! `--write-ratio`, otherwise a range of one key).

use anyhow::{Result, bail};
use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::keys::KeySpace;
use crate::range::Consistency;

/// One request of a `mixed` run.
#[derive(Clone, Debug, PartialEq)]
pub enum MixedRequest {
    /// A write.
    Put(PutRequest),
    /// A read of one key.
    Range(RangeRequest),
}

/// Builds the requests of a `mixed` run.
#[derive(Clone, Debug)]
pub struct MixedWorkload {
    keys: KeySpace,
    write_ratio: f64,
    value: Vec<u8>,
    serializable: bool,
}

impl MixedWorkload {
    /// Puts of `value` with probability `write_ratio` (0 to 1), otherwise reads with
    /// `consistency`, each of a random key of `keys`.
    pub fn new(
        keys: KeySpace,
        write_ratio: f64,
        value: Vec<u8>,
        consistency: Consistency,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&write_ratio) {
            bail!("expected --write-ratio between 0 and 1, got {write_ratio}");
        }
        Ok(Self {
            keys,
            write_ratio,
            value,
            serializable: consistency == Consistency::Serializable,
        })
    }

    /// The next request.
    pub fn request(&self, rng: &mut SmallRng) -> MixedRequest {
        let key = self.keys.key(rng.random_range(0..self.keys.size()));
        if rng.random_bool(self.write_ratio) {
            MixedRequest::Put(PutRequest {
                key,
                value: self.value.clone(),
                ..PutRequest::default()
            })
        } else {
            MixedRequest::Range(RangeRequest {
                key,
                serializable: self.serializable,
                ..RangeRequest::default()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn writes_of(ratio: f64) -> usize {
        let keys = KeySpace::new(100, 8).unwrap();
        let workload =
            MixedWorkload::new(keys, ratio, vec![1; 4], Consistency::Linearizable).unwrap();
        let mut rng = SmallRng::seed_from_u64(3);
        (0..10_000)
            .filter(|_| matches!(workload.request(&mut rng), MixedRequest::Put(_)))
            .count()
    }

    #[test]
    fn writes_come_in_the_asked_proportion() {
        assert_eq!(writes_of(0.0), 0);
        assert_eq!(writes_of(1.0), 10_000);
        let half = writes_of(0.5);
        assert!((4_700..5_300).contains(&half), "{half} writes of 10,000");
        let tenth = writes_of(0.1);
        assert!((850..1_150).contains(&tenth), "{tenth} writes of 10,000");
    }

    #[test]
    fn ratios_outside_zero_to_one_are_refused() {
        let keys = KeySpace::new(1, 8).unwrap();
        for bad in [-0.1, 1.5, f64::NAN] {
            assert!(MixedWorkload::new(keys, bad, vec![], Consistency::Serializable).is_err());
        }
    }
}
