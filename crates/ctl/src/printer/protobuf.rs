//! The `protobuf` format: the response's wire encoding, written as-is without a newline.

use crate::out::Out;

/// Writes `message` encoded.
pub fn print<M: prost::Message>(out: &mut Out, message: &M) {
    out.bytes(&message.encode_to_vec());
}
