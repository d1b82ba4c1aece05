//! gRPC's length-prefixed messages, as the gateway writes them into a call and reads them out
//! of its response: a flag byte (0: not compressed), the length as a big-endian u32, the bytes.

use bytes::{Buf, Bytes, BytesMut};

/// The bytes before each message.
const PREFIX: usize = 5;

/// `message` with its prefix, as one frame of a gRPC request body.
pub(super) fn frame(message: &[u8]) -> Result<Bytes, TooLarge> {
    let len = u32::try_from(message.len()).map_err(|_| TooLarge)?;
    let mut framed = BytesMut::with_capacity(PREFIX + message.len());
    framed.extend_from_slice(&[0]);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed.freeze())
}

/// A message longer than gRPC's prefix can state.
#[derive(Debug)]
pub(super) struct TooLarge;

/// Cuts the messages out of a response body's data, however its frames split them.
#[derive(Default)]
pub(super) struct Deframer {
    pending: BytesMut,
}

impl Deframer {
    /// Adds the next piece of the body.
    pub(super) fn push(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
    }

    /// The next whole message, if one has arrived. Our own server never compresses, so a
    /// compressed flag is a broken response.
    pub(super) fn next_message(&mut self) -> Result<Option<Bytes>, &'static str> {
        if self.pending.len() < PREFIX {
            return Ok(None);
        }
        if self.pending[0] != 0 {
            return Err("compressed message in a gRPC response");
        }
        let len = u32::from_be_bytes([
            self.pending[1],
            self.pending[2],
            self.pending[3],
            self.pending[4],
        ]) as usize;
        if self.pending.len() < PREFIX + len {
            return Ok(None);
        }
        self.pending.advance(PREFIX);
        Ok(Some(self.pending.split_to(len).freeze()))
    }

    /// Whether part of a message is still waiting for the rest.
    pub(super) fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_anywhere_come_out_whole() {
        let mut body = Vec::new();
        for message in [&b"one"[..], b"", b"three"] {
            body.extend_from_slice(&frame(message).unwrap());
        }
        for split in 0..body.len() {
            let mut deframer = Deframer::default();
            let mut out = Vec::new();
            for part in [&body[..split], &body[split..]] {
                deframer.push(part);
                while let Some(message) = deframer.next_message().unwrap() {
                    out.push(message);
                }
            }
            assert_eq!(out, [&b"one"[..], b"", b"three"], "split at {split}");
            assert!(!deframer.has_partial());
        }
    }

    #[test]
    fn a_cut_message_stays_partial() {
        let framed = frame(b"abc").unwrap();
        let mut deframer = Deframer::default();
        deframer.push(&framed[..6]);
        assert_eq!(deframer.next_message().unwrap(), None);
        assert!(deframer.has_partial());
    }
}
