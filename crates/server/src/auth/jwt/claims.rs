//! What a JWT carries (etcd's claims) and why a JWT setup is refused, shared by the
//! jsonwebtoken methods and the ECDSA ones.

/// The claims of an etcd JWT.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Claims {
    pub(super) username: String,
    pub(super) revision: u64,
    pub(super) exp: u64,
}

/// Why `--auth-token jwt,...` cannot be used, in etcd's words where etcd has them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwtSetupError {
    /// A missing or unknown `sign-method`.
    #[error("auth: invalid auth signature method")]
    Method,
    /// No key for the method.
    #[error("auth: missing key data")]
    MissingKey,
    /// The keys do not belong together.
    #[error("auth: public and private keys don't match")]
    Mismatch,
    /// A key file or the TTL could not be used.
    #[error("auth: invalid auth options ({0})")]
    Options(String),
}
