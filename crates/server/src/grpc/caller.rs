//! Who is calling, and the checks made before a request is served or proposed. The caller is
//! the holder of the token in the call's metadata (`token`, or `authorization` as etcd's
//! gateway sends it), else — with `--client-cert-auth` — the common name of the verified client
//! certificate, else nobody. A token this member does not know (never issued, expired,
//! forgotten, signed with another key) is "invalid auth token", and clients authenticate again.
//!
//! Writes are checked where they are applied (`apply/authorization.rs`); what is served here
//! without going through raft — reads, watches, lease queries, administrative calls — is checked
//! here, against this member's auth state, as etcd checks it.

use tonic::metadata::MetadataMap;

use oxcd_api::EtcdError;

use super::identity::ClientIdentity;
use crate::auth::{Caller, Holder, SimpleTokens};
use crate::server::EtcdServer;

/// The metadata keys a token may come in, in etcd's order of preference.
const TOKEN_KEYS: [&str; 2] = ["token", "authorization"];

/// The caller of a call with `metadata` on a connection whose client certificate, if any,
/// was `identity`.
pub(super) async fn caller(
    server: &EtcdServer,
    metadata: &MetadataMap,
    identity: Option<&ClientIdentity>,
) -> Result<Caller, EtcdError> {
    let Some(token) = TOKEN_KEYS.iter().find_map(|key| metadata.get(*key)) else {
        return Ok(match identity {
            Some(identity) if server.settings().client_cert_auth => {
                let (_, revision) = server.state().auth().status();
                Caller::user(identity.common_name.clone(), revision)
            }
            _ => Caller::anonymous(),
        });
    };
    let token = token.to_str().map_err(|_| EtcdError::InvalidAuthToken)?;
    let state = server.state();
    let tokens = state.tokens();
    if tokens.simple().is_some() {
        // A token made on another member names an entry this one may not have applied yet.
        let index = SimpleTokens::index(token).ok_or(EtcdError::InvalidAuthToken)?;
        if index > state.applied_index() {
            server
                .wait_applied(index)
                .await
                .map_err(|_| EtcdError::InvalidAuthToken)?;
        }
    }
    match tokens.holder(token) {
        Some(Holder::Simple(user)) => Ok(Caller::user(user, state.auth().status().1)),
        Some(Holder::Jwt(holder)) => Ok(Caller::user(holder.user, holder.revision)),
        None => {
            tracing::warn!(token, "invalid auth token");
            Err(EtcdError::InvalidAuthToken)
        }
    }
}

/// The caller of a call with `metadata`, if it may call the administrative RPCs (only a user
/// with the root role while authentication is on).
pub(super) async fn admin(
    server: &EtcdServer,
    metadata: &MetadataMap,
    identity: Option<&ClientIdentity>,
) -> Result<Caller, EtcdError> {
    let caller = caller(server, metadata, identity).await?;
    server.state().auth().check_admin(&caller.user)?;
    Ok(caller)
}

/// A read served here was answered with permissions looked up at the caller's auth revision;
/// if auth changed meanwhile the answer is withheld, as etcd withholds it.
pub(super) fn still_current(server: &EtcdServer, caller: &Caller) -> Result<(), EtcdError> {
    let (_, revision) = server.state().auth().status();
    if caller.auth_revision != 0 && caller.auth_revision != revision {
        return Err(EtcdError::AuthOldRevision);
    }
    Ok(())
}

/// A client without credentials may not use leases while authentication is on (etcd 3.5's
/// later releases require a user for them too).
pub(super) fn require_user(server: &EtcdServer, caller: &Caller) -> Result<(), EtcdError> {
    let (enabled, _) = server.state().auth().status();
    if enabled && caller.auth_revision == 0 {
        return Err(EtcdError::UserEmpty);
    }
    Ok(())
}
