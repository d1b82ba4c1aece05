//! Compiles the peer transport's `.proto` (package `oxcdpeer`) with protox (no system `protoc`)
//! and generates the prost messages plus the tonic client and server.

fn main() {
    let files = ["proto/raftpeer.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"]).expect("raftpeer.proto must compile");
    tonic_prost_build::configure()
        .bytes(".oxcdpeer")
        .compile_fds(descriptors)
        .expect("code generation from raftpeer.proto");
}
