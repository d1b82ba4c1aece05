//! TLS for oxcd, built on rustls with the `aws-lc-rs` provider (its default, with post-quantum key exchange): the PEM files etcd's flags name
//! (certificates, private keys, CA bundles) loaded with errors that name the file. The server
//! side (client and peer listeners: `server*.rs`) and the client side (oxctl, the Rust client,
//! peers dialling each other) build their rustls configurations from these.

#![warn(unreachable_pub)]

mod cipher_suites;
mod pem_files;
mod server;
mod server_cert;
mod server_listener;
mod server_self_signed;
mod server_verify;

pub use cipher_suites::cipher_suites;
pub use pem_files::{TlsError, certificates, private_key, root_store};
pub use server::{ALPN_H2_AND_HTTP1, ServerTlsError, ServerTlsSettings, server_config};
pub use server_listener::{Accepted, Incoming, ListenerMode, ServerStream};
pub use server_self_signed::{SelfSigned, self_signed_cert};
pub use server_verify::common_name;

/// The cryptography every oxcd TLS configuration uses (rustls' `aws-lc-rs` provider), so that no
/// configuration depends on a process-wide default being installed first.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
