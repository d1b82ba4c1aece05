//! The Auth service: every request goes through raft as an `AuthRequest` (`auth/request.rs`)
//! and is answered from what applying it returned. Passwords are hashed with bcrypt at
//! `--bcrypt-cost` here, on the member that received them, off the async threads, before
//! the request is proposed: the log never carries a clear-text password.

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

use crate::auth::{AuthOp, AuthReply, AuthRequest};
use crate::server::EtcdServer;

/// `etcdserverpb.Auth`.
pub(super) struct AuthService {
    server: Arc<EtcdServer>,
}

impl AuthService {
    /// The service for `server`.
    pub(super) fn new(server: Arc<EtcdServer>) -> Self {
        AuthService { server }
    }

    /// Proposes `op` and returns the finished header and the reply of applying it.
    async fn propose(&self, op: AuthOp) -> Result<(Option<ResponseHeader>, AuthReply), Status> {
        let answer = self.server.propose(AuthRequest { op: Some(op) }).await?;
        let mut header = Some(answer.header);
        self.server.finish_header(&mut header);
        Ok((header, answer.reply))
    }

    /// Proposes `op`, a change, and returns the finished header.
    async fn change(&self, op: AuthOp) -> Result<Option<ResponseHeader>, Status> {
        Ok(self.propose(op).await?.0)
    }

    /// bcrypt of `password` at `--bcrypt-cost`, on a blocking thread.
    async fn hash(&self, password: String) -> Result<String, Status> {
        let cost = self.server.settings().bcrypt_cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|_| Status::from(EtcdError::Stopped))?
            .map_err(|e| Status::internal(format!("hashing the password: {e}")))
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
        let header = self.change(AuthOp::Enable(request.into_inner())).await?;
        Ok(Response::new(AuthEnableResponse { header }))
    }

    async fn auth_disable(
        &self,
        request: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        let header = self.change(AuthOp::Disable(request.into_inner())).await?;
        Ok(Response::new(AuthDisableResponse { header }))
    }

    async fn auth_status(
        &self,
        request: Request<AuthStatusRequest>,
    ) -> Result<Response<AuthStatusResponse>, Status> {
        match self.propose(AuthOp::Status(request.into_inner())).await? {
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
        _request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        Err(Status::unimplemented(
            "authentication tokens are not supported by oxcd yet",
        ))
    }

    async fn user_add(
        &self,
        request: Request<AuthUserAddRequest>,
    ) -> Result<Response<AuthUserAddResponse>, Status> {
        let mut r = request.into_inner();
        if !r.options.as_ref().is_some_and(|o| o.no_password) {
            r.hashed_password = self.hash(std::mem::take(&mut r.password)).await?;
        }
        r.password.clear();
        let header = self.change(AuthOp::UserAdd(r)).await?;
        Ok(Response::new(AuthUserAddResponse { header }))
    }

    async fn user_get(
        &self,
        request: Request<AuthUserGetRequest>,
    ) -> Result<Response<AuthUserGetResponse>, Status> {
        match self.propose(AuthOp::UserGet(request.into_inner())).await? {
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
        match self.propose(AuthOp::UserList(request.into_inner())).await? {
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
        let header = self
            .change(AuthOp::UserDelete(request.into_inner()))
            .await?;
        Ok(Response::new(AuthUserDeleteResponse { header }))
    }

    async fn user_change_password(
        &self,
        request: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        let mut r = request.into_inner();
        r.hashed_password = self.hash(std::mem::take(&mut r.password)).await?;
        let header = self.change(AuthOp::UserChangePassword(r)).await?;
        Ok(Response::new(AuthUserChangePasswordResponse { header }))
    }

    async fn user_grant_role(
        &self,
        request: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let header = self
            .change(AuthOp::UserGrantRole(request.into_inner()))
            .await?;
        Ok(Response::new(AuthUserGrantRoleResponse { header }))
    }

    async fn user_revoke_role(
        &self,
        request: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let header = self
            .change(AuthOp::UserRevokeRole(request.into_inner()))
            .await?;
        Ok(Response::new(AuthUserRevokeRoleResponse { header }))
    }

    async fn role_add(
        &self,
        request: Request<AuthRoleAddRequest>,
    ) -> Result<Response<AuthRoleAddResponse>, Status> {
        let header = self.change(AuthOp::RoleAdd(request.into_inner())).await?;
        Ok(Response::new(AuthRoleAddResponse { header }))
    }

    async fn role_get(
        &self,
        request: Request<AuthRoleGetRequest>,
    ) -> Result<Response<AuthRoleGetResponse>, Status> {
        match self.propose(AuthOp::RoleGet(request.into_inner())).await? {
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
        match self.propose(AuthOp::RoleList(request.into_inner())).await? {
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
        let header = self
            .change(AuthOp::RoleDelete(request.into_inner()))
            .await?;
        Ok(Response::new(AuthRoleDeleteResponse { header }))
    }

    async fn role_grant_permission(
        &self,
        request: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let header = self
            .change(AuthOp::RoleGrantPermission(request.into_inner()))
            .await?;
        Ok(Response::new(AuthRoleGrantPermissionResponse { header }))
    }

    async fn role_revoke_permission(
        &self,
        request: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let header = self
            .change(AuthOp::RoleRevokePermission(request.into_inner()))
            .await?;
        Ok(Response::new(AuthRoleRevokePermissionResponse { header }))
    }
}
