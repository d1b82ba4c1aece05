//! `oxctl`: the etcdctl-compatible CLI.
fn main() {}
