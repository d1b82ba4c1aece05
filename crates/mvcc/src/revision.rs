//! Revisions: the `(main, sub)` pair that orders every change, and its byte encoding as the key
//! of the key table (8-byte big-endian main, `_`, 8-byte big-endian sub, plus a `t` marker byte
//! for tombstones). The encoding is etcd's, so the key table hashes to the same value.

/// One change in the store: `main` is the revision of the request (all changes of one request
/// share it), `sub` numbers the changes within that request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Revision {
    /// Revision of the request that made the change.
    pub main: i64,
    /// Position of the change within its request.
    pub sub: i64,
}

/// Byte length of an encoded revision without the tombstone marker.
pub(crate) const REVISION_KEY_LEN: usize = 17;
const TOMBSTONE_MARK: u8 = b't';

impl Revision {
    /// A revision from its two parts.
    pub(crate) const fn new(main: i64, sub: i64) -> Revision {
        Revision { main, sub }
    }

    /// The key-table key of this revision; `tombstone` appends the deletion marker.
    pub(crate) fn to_key(self, tombstone: bool) -> RevisionKey {
        let mut bytes = [0u8; REVISION_KEY_LEN + 1];
        bytes[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        bytes[8] = b'_';
        bytes[9..17].copy_from_slice(&(self.sub as u64).to_be_bytes());
        let len = if tombstone {
            bytes[REVISION_KEY_LEN] = TOMBSTONE_MARK;
            REVISION_KEY_LEN + 1
        } else {
            REVISION_KEY_LEN
        };
        RevisionKey { bytes, len }
    }

    /// Decodes a key-table key; `None` if it is not a revision key.
    pub(crate) fn from_key(key: &[u8]) -> Option<(Revision, bool)> {
        let tombstone = match key.len() {
            REVISION_KEY_LEN => false,
            n if n == REVISION_KEY_LEN + 1 && key[REVISION_KEY_LEN] == TOMBSTONE_MARK => true,
            _ => return None,
        };
        let main = u64::from_be_bytes(key[..8].try_into().ok()?) as i64;
        let sub = u64::from_be_bytes(key[9..17].try_into().ok()?) as i64;
        Some((Revision { main, sub }, tombstone))
    }
}

/// An encoded revision, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RevisionKey {
    bytes: [u8; REVISION_KEY_LEN + 1],
    len: usize,
}

impl RevisionKey {
    /// The encoded bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Debug for RevisionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Revision::from_key(self.as_bytes()) {
            Some((rev, tomb)) => {
                write!(f, "{}.{}{}", rev.main, rev.sub, if tomb { "t" } else { "" })
            }
            None => write!(f, "{:?}", self.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_etcds_layout() {
        let key = Revision::new(0x0102, 3).to_key(false);
        assert_eq!(
            key.as_bytes(),
            &[0, 0, 0, 0, 0, 0, 1, 2, b'_', 0, 0, 0, 0, 0, 0, 0, 3]
        );
        let tomb = Revision::new(5, 0).to_key(true);
        assert_eq!(tomb.as_bytes().len(), 18);
        assert_eq!(tomb.as_bytes()[17], b't');
    }

    #[test]
    fn keys_sort_in_revision_order_and_round_trip() {
        let a = Revision::new(1, 9).to_key(false);
        let b = Revision::new(2, 0).to_key(true);
        assert!(a.as_bytes() < b.as_bytes());
        assert_eq!(
            Revision::from_key(b.as_bytes()),
            Some((Revision::new(2, 0), true))
        );
        assert_eq!(Revision::from_key(b"short"), None);
    }
}
