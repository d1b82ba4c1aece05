//! Reads the fields needed to rebuild the index (key, create revision, version) and the lease
//! table's attachments (lease) straight from a stored `mvccpb.KeyValue`, without allocating
//! its value.

use crate::error::BackendError;

/// The index-relevant fields of a stored key-value.
pub(crate) struct KvHeader<'a> {
    pub key: &'a [u8],
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
}

/// Parses the protobuf encoding of `mvccpb.KeyValue`, skipping the value.
pub(crate) fn parse(mut bytes: &[u8]) -> Result<KvHeader<'_>, BackendError> {
    let mut header = KvHeader {
        key: &[],
        create_revision: 0,
        version: 0,
        lease: 0,
    };
    while !bytes.is_empty() {
        let tag = varint(&mut bytes)?;
        match (tag >> 3, tag & 7) {
            (field, 0) => {
                let v = varint(&mut bytes)? as i64;
                match field {
                    2 => header.create_revision = v,
                    4 => header.version = v,
                    6 => header.lease = v,
                    _ => {}
                }
            }
            (field, 2) => {
                let len = usize::try_from(varint(&mut bytes)?).map_err(|_| malformed())?;
                if len > bytes.len() {
                    return Err(malformed());
                }
                let (data, rest) = bytes.split_at(len);
                if field == 1 {
                    header.key = data;
                }
                bytes = rest;
            }
            _ => return Err(malformed()),
        }
    }
    Ok(header)
}

fn varint(bytes: &mut &[u8]) -> Result<u64, BackendError> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    Err(malformed())
}

fn malformed() -> BackendError {
    BackendError::new("decoding stored key-value", "malformed protobuf")
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_api::mvccpb::KeyValue;
    use prost::Message;

    #[test]
    fn reads_what_prost_wrote() {
        let kv = KeyValue {
            key: b"foo".to_vec(),
            create_revision: 300,
            mod_revision: 400,
            version: 7,
            value: vec![1; 200],
            lease: -5,
        };
        let bytes = kv.encode_to_vec();
        let h = parse(&bytes).unwrap();
        assert_eq!(
            (h.key, h.create_revision, h.version, h.lease),
            (&b"foo"[..], 300, 7, -5)
        );
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
    }
}
