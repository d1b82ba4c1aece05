//! Applying auth requests to the auth store, in the batch's backend transaction, so every
//! member holds the same users, roles and auth revision at the same point of the log; and the
//! member's tokens that follow from them (assigned by `Authenticate`, forgotten with their
//! user's deletion or new password, or all of them when authentication is turned off).

use oxcd_api::EtcdError;

use super::step::{Apply, ApplyContext, ApplyError};
use crate::auth::{AuthAnswer, AuthError, AuthOp, AuthReply, AuthRequest};
use crate::proposal::Outcome;

impl Apply for AuthRequest {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<AuthAnswer>, ApplyError> {
        let store = cx.state.auth();
        let tables = cx.batch.tables();
        let done = |changed: Result<(), AuthError>| changed.map(|()| AuthReply::Done);
        let refused = |e: EtcdError| AuthError::Refused(e);
        let reply = match &self.op {
            None => Err(AuthError::Refused(EtcdError::InvalidAuthMgmt)),
            Some(AuthOp::Enable(_)) => done(store.enable(tables)),
            Some(AuthOp::Disable(_)) => {
                let disabled = store.disable(tables);
                if disabled.is_ok() {
                    cx.state.tokens().forget_all();
                }
                done(disabled)
            }
            Some(AuthOp::Status(_)) => {
                let (enabled, revision) = store.status();
                Ok(AuthReply::Status { enabled, revision })
            }
            Some(AuthOp::UserAdd(r)) => done(store.add_user(
                tables,
                &r.name,
                r.hashed_password.as_bytes().to_vec(),
                r.options.as_ref().is_some_and(|o| o.no_password),
            )),
            Some(AuthOp::UserDelete(r)) => {
                let deleted = store.delete_user(tables, &r.name);
                if deleted.is_ok() {
                    cx.state.tokens().forget_user(&r.name);
                }
                done(deleted)
            }
            Some(AuthOp::UserChangePassword(r)) => {
                let changed =
                    store.change_password(tables, &r.name, r.hashed_password.as_bytes().to_vec());
                if changed.is_ok() {
                    cx.state.tokens().forget_user(&r.name);
                }
                done(changed)
            }
            Some(AuthOp::UserGrantRole(r)) => done(store.grant_role(tables, &r.user, &r.role)),
            Some(AuthOp::UserGet(r)) => store
                .user_roles(&r.name)
                .map(AuthReply::Roles)
                .map_err(refused),
            Some(AuthOp::UserList(_)) => Ok(AuthReply::Names(store.user_names())),
            Some(AuthOp::UserRevokeRole(r)) => done(store.revoke_role(tables, &r.name, &r.role)),
            Some(AuthOp::RoleAdd(r)) => done(store.add_role(tables, &r.name)),
            Some(AuthOp::RoleGrantPermission(r)) => {
                done(store.grant_permission(tables, &r.name, r.perm.as_ref()))
            }
            Some(AuthOp::RoleGet(r)) => store
                .role_permissions(&r.role)
                .map(AuthReply::Permissions)
                .map_err(refused),
            Some(AuthOp::RoleList(_)) => Ok(AuthReply::Names(store.role_names())),
            Some(AuthOp::RoleRevokePermission(r)) => {
                done(store.revoke_permission(tables, &r.role, &r.key, &r.range_end))
            }
            Some(AuthOp::RoleDelete(r)) => done(store.delete_role(tables, &r.role)),
            Some(AuthOp::Authenticate(r)) => {
                store.may_authenticate(&r.name).map_err(refused).map(|()| {
                    // Every member assigns the token, so the client may use it on any of them.
                    let simple_token = cx
                        .state
                        .tokens()
                        .simple()
                        .filter(|_| !r.simple_token_prefix.is_empty())
                        .map(|tokens| tokens.assign(&r.simple_token_prefix, cx.index, &r.name));
                    AuthReply::Authenticated {
                        simple_token,
                        revision: store.status().1,
                    }
                })
            }
        };
        match reply {
            Ok(reply) => Ok(Ok(AuthAnswer {
                header: cx.header(),
                reply,
            })),
            Err(AuthError::Refused(e)) => Ok(Err(e)),
            Err(AuthError::Storage(e)) => Err(ApplyError::storage(e)),
        }
    }
}
