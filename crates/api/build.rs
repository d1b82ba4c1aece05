//! Compiles the etcd API `.proto` files with protox (no system `protoc`) and generates prost
//! messages plus tonic clients and servers for every service.

fn main() {
    let files = [
        "proto/mvccpb/kv.proto",
        "proto/authpb/auth.proto",
        "proto/etcdserverpb/rpc.proto",
        "proto/v3lockpb/v3lock.proto",
        "proto/v3electionpb/v3election.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"]).expect("etcd .proto files must compile");
    tonic_prost_build::configure()
        .compile_fds(descriptors)
        .expect("code generation from etcd .proto files");
}
