//! One page of the in-memory index: a run of keys in byte order with their encoded histories
//! (`KeyIndex::encode`), packed back to back in one buffer with the start of each entry beside
//! it. A million keys in pages take a fifth of the memory they take as separate map entries
//! with their own allocations; a change rewrites its entry in place, moving at most one page.

use prost::encoding::{decode_varint, encode_varint};

/// Bytes past which a page is split in two.
pub(crate) const MAX_PAGE_BYTES: usize = 4096;

/// Below this many bytes a page is merged with a neighbour when the two fit in one.
pub(crate) const MIN_PAGE_BYTES: usize = MAX_PAGE_BYTES / 4;

/// Spare capacity a growing page takes at once, so that most changes do not reallocate.
const GROWTH_SLACK: usize = 256;

/// Keys in byte order with their encoded histories.
#[derive(Default)]
pub(crate) struct Page {
    /// Each entry: key length (varint), key, history length (varint), history.
    data: Vec<u8>,
    /// Where each entry starts in `data`, in key order.
    starts: Vec<u32>,
}

/// Splits one entry off the front of `bytes`: its key, its history and its length.
fn parse_entry(mut bytes: &[u8]) -> (&[u8], &[u8], usize) {
    let total = bytes.len();
    let key_len = decode_varint(&mut bytes).expect("a page holds what it encoded") as usize;
    let (key, mut rest) = bytes.split_at(key_len);
    let history_len = decode_varint(&mut rest).expect("a page holds what it encoded") as usize;
    let history = &rest[..history_len];
    let used = total - rest.len() + history_len;
    (key, history, used)
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).expect("a page is smaller than 4 GiB")
}

impl Page {
    /// Number of keys in the page.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Encoded bytes the page holds.
    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The key and history of entry `i`.
    pub(crate) fn entry(&self, i: usize) -> (&[u8], &[u8]) {
        let (key, history, _) = parse_entry(&self.data[self.starts[i] as usize..]);
        (key, history)
    }

    /// The key of entry `i`.
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        self.entry(i).0
    }

    /// Where `key` is (`Ok`), or where it would go (`Err`).
    pub(crate) fn find(&self, key: &[u8]) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    /// The entries from `from` on, in key order.
    pub(crate) fn entries_from(&self, from: usize) -> impl Iterator<Item = (&[u8], &[u8])> {
        let start = self
            .starts
            .get(from)
            .map_or(self.data.len(), |s| *s as usize);
        let mut rest = &self.data[start..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (key, history, used) = parse_entry(rest);
            rest = &rest[used..];
            Some((key, history))
        })
    }

    /// Writes entry `i`: replaces it (`present`) or inserts it before the entry now at `i`
    /// with `history`, or removes it (`history` is `None`).
    pub(crate) fn write(&mut self, i: usize, present: bool, key: &[u8], history: Option<&[u8]>) {
        let start = self.starts.get(i).map_or(self.data.len(), |s| *s as usize);
        let end = if present {
            start + parse_entry(&self.data[start..]).2
        } else {
            start
        };
        let mut entry = Vec::new();
        if let Some(history) = history {
            entry.reserve_exact(key.len() + history.len() + 4);
            encode_varint(key.len() as u64, &mut entry);
            entry.extend_from_slice(key);
            encode_varint(history.len() as u64, &mut entry);
            entry.extend_from_slice(history);
        }
        let new_len = self.data.len() - (end - start) + entry.len();
        if new_len > self.data.capacity() {
            self.data
                .reserve_exact(new_len - self.data.len() + GROWTH_SLACK);
        }
        let grown = entry.len() as i64 - (end - start) as i64;
        self.data.splice(start..end, entry);
        let after = match (present, history.is_some()) {
            (true, true) => i + 1,
            (true, false) => {
                self.starts.remove(i);
                i
            }
            (false, true) => {
                if self.starts.len() == self.starts.capacity() {
                    self.starts.reserve_exact(GROWTH_SLACK / 16);
                }
                self.starts.insert(i, offset(start));
                i + 1
            }
            (false, false) => return,
        };
        for s in &mut self.starts[after..] {
            *s = offset((i64::from(*s) + grown) as usize);
        }
    }

    /// Moves the entries from `at` on into a new page.
    pub(crate) fn split_off(&mut self, at: usize) -> Page {
        let start = self.starts[at] as usize;
        let data = self.data[start..].to_vec();
        let starts = self.starts[at..]
            .iter()
            .map(|s| offset(*s as usize - start))
            .collect();
        self.data.truncate(start);
        self.starts.truncate(at);
        self.shrink();
        Page { data, starts }
    }

    /// Appends the entries of `next`, whose keys all sort after this page's.
    pub(crate) fn append(&mut self, next: Page) {
        let base = self.data.len();
        self.data.reserve_exact(next.data.len());
        self.data.extend_from_slice(&next.data);
        self.starts.reserve_exact(next.starts.len());
        self.starts
            .extend(next.starts.iter().map(|s| offset(*s as usize + base)));
    }

    /// Gives back capacity well beyond the slack.
    pub(crate) fn shrink(&mut self) {
        if self.data.capacity() > self.data.len() + 2 * GROWTH_SLACK {
            self.data.shrink_to(self.data.len() + GROWTH_SLACK);
        }
        if self.starts.capacity() > self.starts.len() + GROWTH_SLACK / 8 {
            self.starts.shrink_to(self.starts.len() + GROWTH_SLACK / 16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(page: &Page) -> Vec<String> {
        page.entries_from(0)
            .map(|(k, h)| format!("{}={}", String::from_utf8_lossy(k), h.len()))
            .collect()
    }

    #[test]
    fn writes_insert_replace_and_remove_in_order() {
        let mut page = Page::default();
        page.write(0, false, b"b", Some(b"22"));
        page.write(0, false, b"a", Some(b"1"));
        page.write(2, false, b"d", Some(b""));
        assert_eq!(page.find(b"c"), Err(2));
        page.write(2, false, b"c", Some(b"333"));
        assert_eq!(keys(&page), ["a=1", "b=2", "c=3", "d=0"]);
        page.write(1, true, b"b", Some(b"bbbbbb"));
        assert_eq!(keys(&page), ["a=1", "b=6", "c=3", "d=0"]);
        page.write(0, true, b"a", None);
        assert_eq!(keys(&page), ["b=6", "c=3", "d=0"]);
        assert_eq!(page.find(b"d"), Ok(2));
        assert_eq!(page.entry(1), (&b"c"[..], &b"333"[..]));

        let tail = page.split_off(1);
        assert_eq!(keys(&page), ["b=6"]);
        assert_eq!(keys(&tail), ["c=3", "d=0"]);
        assert_eq!(tail.find(b"d"), Ok(1));
        page.append(tail);
        assert_eq!(keys(&page), ["b=6", "c=3", "d=0"]);
        assert_eq!(page.find(b"d"), Ok(2));
        assert_eq!(page.entries_from(2).count(), 1);
        assert_eq!(page.entries_from(3).count(), 0);
    }
}
