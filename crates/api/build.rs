//! Compiles the etcd API `.proto` files with protox (no system `protoc`) and generates prost
//! messages plus tonic clients and servers for every service (with our codec,
//! `src/codec.rs`); with the `json` feature, also the serde impls of the proto3 JSON mapping
//! under the `.proto` field names (`cluster_id`, `ID`, `dbSize`), as etcd's gateway writes
//! JSON.

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
    if std::env::var_os("CARGO_FEATURE_JSON").is_some() {
        let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
        let encoded = prost::Message::encode_to_vec(&descriptors);
        pbjson_build::Builder::new()
            .out_dir(out_dir)
            .register_descriptors(&encoded)
            .expect("descriptors protox made")
            .preserve_proto_field_names()
            // etcd's gateway ignores fields it does not know.
            .ignore_unknown_fields()
            .build(&[
                ".mvccpb",
                ".authpb",
                ".etcdserverpb",
                ".v3lockpb",
                ".v3electionpb",
            ])
            .expect("JSON code generation from etcd .proto files");
    }
    tonic_prost_build::configure()
        .codec_path("crate::codec::Codec")
        .compile_fds(descriptors)
        .expect("code generation from etcd .proto files");
}
