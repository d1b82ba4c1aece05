//! Generated code of the peer protocol (`proto/raftpeer.proto`, package `oxcdpeer`).

#![allow(missing_docs, unreachable_pub, clippy::all)]

tonic::include_proto!("oxcdpeer");
