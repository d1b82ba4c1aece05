//! The Auth service: every request goes through raft as an `AuthRequest` (`auth/request.rs`)
//! with its caller, whose permission is checked where it is applied, and is answered from what
//! applying it returned. Passwords are hashed (and, for `Authenticate`, compared) with bcrypt
//! here, on the member that received them, before the request is proposed: the log never
//! carries a clear-text password. `Authenticate` then has every member assign the simple
//! token (or this member signs the JWT).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::auth_server::Auth;
use oxcd_api::etcdserverpb::{
    AuthDisableRequest, AuthDisableResponse, AuthEnableRequest, AuthEnableResponse,
    AuthRoleAddRequest, AuthRoleAddResponse, AuthRoleDeleteRequest, AuthRoleDeleteResponse,
    AuthRoleGetRequest, AuthRoleGetResponse, AuthRoleGrantPermissionRequest,
    AuthRoleGrantPermissionResponse, AuthRoleListRequest, AuthRoleListResponse,
    AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse, AuthStatusRequest,
    AuthStatusResponse, AuthUserAddRequest, AuthUserAddResponse, AuthUserChangePasswordRequest,
    AuthUserChangePasswordResponse, AuthUserDeleteRequest, AuthUserDeleteResponse,
    AuthUserGetRequest, AuthUserGetResponse, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse,
    AuthUserListRequest, AuthUserListResponse, AuthUserRevokeRoleRequest,
    AuthUserRevokeRoleResponse, AuthenticateRequest, AuthenticateResponse, ResponseHeader,
};

use super::caller::caller;
use crate::auth::{
    AuthOp, AuthReply, AuthRequest, Caller, InternalAuthenticate, Passwords, SimpleTokens, Tokens,
};
use crate::server::EtcdServer;

/// `etcdserverpb.Auth`.
pub(super) struct AuthService {
    server: Arc<EtcdServer>,
    passwords: Passwords,
}

impl AuthService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        let passwords = Passwords::new(server.settings().bcrypt_cost);
        AuthService { server, passwords }
    }

    /// The caller of `request` and its message.
    async fn open<T>(&self, request: Request<T>) -> Result<(Caller, T), Status> {
        let caller = caller(&self.server, request.metadata(), request.extensions().get()).await?;
        Ok((caller, request.into_inner()))
    }

    /// Proposes `op` for `caller` (whose permission is checked where it is applied) and
    /// returns the finished header and the reply of applying it.
    async fn propose(
        &self,
        caller: &Caller,
        op: AuthOp,
    ) -> Result<(Option<ResponseHeader>, AuthReply), Status> {
        let answer = self
            .server
            .propose(caller, AuthRequest { op: Some(op) })
            .await?;
        let mut header = Some(answer.header);
        self.server.finish_header(&mut header);
        Ok((header, answer.reply))
    }

    /// Proposes the change in `request` (`op` made of its message) and returns the finished
    /// header.
    async fn change<T>(
        &self,
        request: Request<T>,
        op: impl FnOnce(T) -> AuthOp,
    ) -> Result<Option<ResponseHeader>, Status> {
        let (caller, message) = self.open(request).await?;
        Ok(self.propose(&caller, op(message)).await?.0)
    }

    /// bcrypt of `password` at `--bcrypt-cost`.
    async fn hash(&self, password: String) -> Result<String, Status> {
        self.passwords.hash(password).await
    }

    /// etcd's `CheckPassword`: the auth revision at which `password` was found to be user
    /// `name`'s.
    async fn check_password(&self, name: &str, password: &str) -> Result<u64, Status> {
        let refused = |e: EtcdError| {
            if e != EtcdError::AuthNotEnabled {
                tracing::warn!(user = name, error = %e, "invalid authentication was requested");
            }
            Status::from(e)
        };
        let (hash, revision) = self
            .server
            .state()
            .auth()
            .password_hash(name)
            .map_err(refused)?;
        if !self.passwords.matches(password.to_string(), hash).await? {
            return Err(refused(EtcdError::AuthFailed));
        }
        Ok(revision)
    }
}

/// The reply a request kind expects; any other is a bug in the apply step.
fn unexpected(reply: AuthReply) -> Status {
    Status::internal(format!("unexpected auth reply {reply:?}"))
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(
        &self,
        request: Request<AuthEnableRequest>,
    ) -> Result<Response<AuthEnableResponse>, Status> {
        let header = self.change(request, AuthOp::Enable).await?;
        Ok(Response::new(AuthEnableResponse { header }))
    }

    async fn auth_disable(
        &self,
        request: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        let header = self.change(request, AuthOp::Disable).await?;
        Ok(Response::new(AuthDisableResponse { header }))
    }

    async fn auth_status(
        &self,
        request: Request<AuthStatusRequest>,
    ) -> Result<Response<AuthStatusResponse>, Status> {
        let (caller, message) = self.open(request).await?;
        match self.propose(&caller, AuthOp::Status(message)).await? {
            (header, AuthReply::Status { enabled, revision }) => {
                Ok(Response::new(AuthStatusResponse {
                    header,
                    enabled,
                    auth_revision: revision,
                }))
            }
            (_, other) => Err(unexpected(other)),
        }
    }

    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let r = request.into_inner();
        self.server.read_barrier().await?;
        loop {
            let checked_at = self.check_password(&r.name, &r.password).await?;
            let state = self.server.state();
            let simple_token_prefix = match state.tokens() {
                Tokens::Simple(_) => SimpleTokens::prefix(),
                Tokens::Jwt(_) => String::new(),
            };
            let op = AuthOp::Authenticate(InternalAuthenticate {
                name: r.name.clone(),
                simple_token_prefix,
            });
            let (header, reply) = self.propose(&Caller::anonymous(), op).await?;
            let AuthReply::Authenticated {
                simple_token,
                revision,
            } = reply
            else {
                return Err(unexpected(reply));
            };
            // The password was checked outside raft: if auth changed meanwhile (the password
            // among it), check again against what is now applied.
            if checked_at != state.auth().status().1 {
                tracing::info!("revision when password checked became stale; retrying");
                continue;
            }
            let token = match (simple_token, state.tokens()) {
                (Some(token), _) => token,
                (None, Tokens::Jwt(jwt)) => jwt.sign(&r.name, revision).map_err(Status::unknown)?,
                (None, Tokens::Simple(_)) => return Err(EtcdError::InvalidAuthToken.into()),
            };
            return Ok(Response::new(AuthenticateResponse { header, token }));
        }
    }

    async fn user_add(
        &self,
        request: Request<AuthUserAddRequest>,
    ) -> Result<Response<AuthUserAddResponse>, Status> {
        let (caller, mut r) = self.open(request).await?;
        if !r.options.as_ref().is_some_and(|o| o.no_password) {
            r.hashed_password = self.hash(std::mem::take(&mut r.password)).await?;
        }
        r.password.clear();
        let (header, _) = self.propose(&caller, AuthOp::UserAdd(r)).await?;
        Ok(Response::new(AuthUserAddResponse { header }))
    }

    async fn user_get(
        &self,
        request: Request<AuthUserGetRequest>,
    ) -> Result<Response<AuthUserGetResponse>, Status> {
        let (caller, message) = self.open(request).await?;
        match self.propose(&caller, AuthOp::UserGet(message)).await? {
            (header, AuthReply::Roles(roles)) => {
                Ok(Response::new(AuthUserGetResponse { header, roles }))
            }
            (_, other) => Err(unexpected(other)),
        }
    }

    async fn user_list(
        &self,
        request: Request<AuthUserListRequest>,
    ) -> Result<Response<AuthUserListResponse>, Status> {
        let (caller, message) = self.open(request).await?;
        match self.propose(&caller, AuthOp::UserList(message)).await? {
            (header, AuthReply::Names(users)) => {
                Ok(Response::new(AuthUserListResponse { header, users }))
            }
            (_, other) => Err(unexpected(other)),
        }
    }

    async fn user_delete(
        &self,
        request: Request<AuthUserDeleteRequest>,
    ) -> Result<Response<AuthUserDeleteResponse>, Status> {
        let header = self.change(request, AuthOp::UserDelete).await?;
        Ok(Response::new(AuthUserDeleteResponse { header }))
    }

    async fn user_change_password(
        &self,
        request: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        let (caller, mut r) = self.open(request).await?;
        r.hashed_password = self.hash(std::mem::take(&mut r.password)).await?;
        let (header, _) = self.propose(&caller, AuthOp::UserChangePassword(r)).await?;
        Ok(Response::new(AuthUserChangePasswordResponse { header }))
    }

    async fn user_grant_role(
        &self,
        request: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let header = self.change(request, AuthOp::UserGrantRole).await?;
        Ok(Response::new(AuthUserGrantRoleResponse { header }))
    }

    async fn user_revoke_role(
        &self,
        request: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let header = self.change(request, AuthOp::UserRevokeRole).await?;
        Ok(Response::new(AuthUserRevokeRoleResponse { header }))
    }

    async fn role_add(
        &self,
        request: Request<AuthRoleAddRequest>,
    ) -> Result<Response<AuthRoleAddResponse>, Status> {
        let header = self.change(request, AuthOp::RoleAdd).await?;
        Ok(Response::new(AuthRoleAddResponse { header }))
    }

    async fn role_get(
        &self,
        request: Request<AuthRoleGetRequest>,
    ) -> Result<Response<AuthRoleGetResponse>, Status> {
        let (caller, message) = self.open(request).await?;
        match self.propose(&caller, AuthOp::RoleGet(message)).await? {
            (header, AuthReply::Permissions(perm)) => {
                Ok(Response::new(AuthRoleGetResponse { header, perm }))
            }
            (_, other) => Err(unexpected(other)),
        }
    }

    async fn role_list(
        &self,
        request: Request<AuthRoleListRequest>,
    ) -> Result<Response<AuthRoleListResponse>, Status> {
        let (caller, message) = self.open(request).await?;
        match self.propose(&caller, AuthOp::RoleList(message)).await? {
            (header, AuthReply::Names(roles)) => {
                Ok(Response::new(AuthRoleListResponse { header, roles }))
            }
            (_, other) => Err(unexpected(other)),
        }
    }

    async fn role_delete(
        &self,
        request: Request<AuthRoleDeleteRequest>,
    ) -> Result<Response<AuthRoleDeleteResponse>, Status> {
        let header = self.change(request, AuthOp::RoleDelete).await?;
        Ok(Response::new(AuthRoleDeleteResponse { header }))
    }

    async fn role_grant_permission(
        &self,
        request: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let header = self.change(request, AuthOp::RoleGrantPermission).await?;
        Ok(Response::new(AuthRoleGrantPermissionResponse { header }))
    }

    async fn role_revoke_permission(
        &self,
        request: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let header = self.change(request, AuthOp::RoleRevokePermission).await?;
        Ok(Response::new(AuthRoleRevokePermissionResponse { header }))
    }
}
