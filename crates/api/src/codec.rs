//! The protobuf codec of every etcd service, for servers and clients alike: prost messages in
//! gRPC frames, with buffers sized for etcd's traffic. tonic's default codec starts every call
//! with an 8 KiB buffer each way, where a typical etcd request or response is a few hundred
//! bytes: two large allocations per unary call (a measurable share of a busy member's CPU) and
//! 16 KiB held by every open watch stream. Here a buffer starts at 512 bytes and a message is
//! encoded into exactly the room it needs.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec as GrpcCodec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Bytes a call's encode and decode buffers start with.
const INITIAL_BUFFER: usize = 512;
/// Encoded bytes of a stream's messages gathered before they are handed to HTTP/2 (tonic's
/// default).
const YIELD_THRESHOLD: usize = 32 * 1024;

fn buffer_settings() -> BufferSettings {
    BufferSettings::new(INITIAL_BUFFER, YIELD_THRESHOLD)
}

/// Encodes `T` and decodes `U` (the generated services name it through `codec_path`).
#[derive(Debug)]
pub struct Codec<T, U>(PhantomData<fn(T) -> U>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> GrpcCodec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = MessageEncoder<T>;
    type Decoder = MessageDecoder<U>;

    fn encoder(&mut self) -> MessageEncoder<T> {
        MessageEncoder(PhantomData)
    }

    fn decoder(&mut self) -> MessageDecoder<U> {
        MessageDecoder(PhantomData)
    }
}

/// Writes one message into the call's buffer, reserving its encoded length first so the
/// buffer grows at most once per message.
#[derive(Debug)]
pub struct MessageEncoder<T>(PhantomData<fn(T)>);

impl<T: Message> Encoder for MessageEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.reserve(item.encoded_len());
        item.encode(buf)
            .map_err(|e| Status::internal(format!("encoding a message: {e}")))
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer_settings()
    }
}

/// Reads one message from a complete gRPC frame.
#[derive(Debug)]
pub struct MessageDecoder<U>(PhantomData<fn() -> U>);

impl<U: Message + Default> Decoder for MessageDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // Malformed protobuf is INTERNAL, as gRPC's status code guide asks.
        U::decode(buf)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer_settings()
    }
}
