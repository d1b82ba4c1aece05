//! Generated code of the peer protocol (`proto/raftpeer.proto`, package `oxcdpeer`).

#![allow(missing_docs, clippy::all)]

tonic::include_proto!("oxcdpeer");
