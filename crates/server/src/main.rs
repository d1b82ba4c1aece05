//! `oxcd`: the server binary.
fn main() {}
