//! The auth token a client attaches to every call once it has authenticated, and how it is
//! obtained (etcd's `Authenticate` RPC, sent in the `token` metadata as clientv3 does).

use crate::options::Credentials;
use http::HeaderValue;
use std::sync::{Arc, RwLock};

/// Metadata key carrying the token, as etcd's server reads it.
pub(crate) const TOKEN_HEADER: &str = "token";

/// The path of the call that must go out without a token.
pub(crate) const AUTHENTICATE_PATH: &str = "/etcdserverpb.Auth/Authenticate";

/// Credentials and the current token, shared by every channel of one client.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthToken {
    credentials: Option<Credentials>,
    token: Arc<RwLock<Option<HeaderValue>>>,
}

impl AuthToken {
    pub(crate) fn new(credentials: Option<Credentials>) -> AuthToken {
        AuthToken {
            credentials,
            token: Arc::default(),
        }
    }

    pub(crate) fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The token to send, if any.
    pub(crate) fn current(&self) -> Option<HeaderValue> {
        // A poisoned lock only means another thread panicked mid-write of a plain value.
        match self.token.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the token; an empty or unrepresentable token clears it.
    pub(crate) fn set(&self, token: &str) {
        let value = if token.is_empty() {
            None
        } else {
            HeaderValue::from_str(token).ok()
        };
        match self.token.write() {
            Ok(mut guard) => *guard = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}
