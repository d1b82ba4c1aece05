//! Who a TLS client proved to be: the common name of the certificate it presented on a listener
//! with `--client-cert-auth` (or `--trusted-ca-file`), after the chain was verified against the
//! trusted CA and etcd's checks passed. etcd takes this name as the user of a request that
//! carries no token when auth is enabled, and only when `--client-cert-auth` is set (a
//! `--trusted-ca-file` alone also verifies client certificates, but etcd then ignores their
//! names for auth).

/// The verified client certificate of the connection a request arrived on, found in the
/// request's extensions (`request.extensions().get::<ClientIdentity>()`, in a tonic handler
/// as in an axum one). Absent on plaintext connections, on TLS connections without a client
/// certificate, and for a certificate without a common name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientIdentity {
    /// The subject common name of the client certificate.
    pub(crate) common_name: String,
}
