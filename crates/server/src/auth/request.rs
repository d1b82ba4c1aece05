//! What an auth request carries through raft, and what applying it answers. Every auth
//! request goes through the log, as in etcd 3.5 (reads such as `UserList` too, so they see
//! every change before them); passwords travel hashed by the member that received them, and
//! `Authenticate` travels without its password, checked before proposing.

use oxcd_api::authpb::Permission;
use oxcd_api::etcdserverpb::{
    AuthDisableRequest, AuthEnableRequest, AuthRoleAddRequest, AuthRoleDeleteRequest,
    AuthRoleGetRequest, AuthRoleGrantPermissionRequest, AuthRoleListRequest,
    AuthRoleRevokePermissionRequest, AuthStatusRequest, AuthUserAddRequest,
    AuthUserChangePasswordRequest, AuthUserDeleteRequest, AuthUserGetRequest,
    AuthUserGrantRoleRequest, AuthUserListRequest, AuthUserRevokeRoleRequest, ResponseHeader,
};

/// One auth request, as a raft entry carries it.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AuthRequest {
    /// The operation.
    #[prost(
        oneof = "AuthOp",
        tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17"
    )]
    pub(crate) op: Option<AuthOp>,
}

impl AuthRequest {
    /// The request's kind as etcd's `etcd_server_apply_duration_seconds` names it.
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.op {
            Some(AuthOp::Enable(_)) => "AuthEnable",
            Some(AuthOp::Disable(_)) => "AuthDisable",
            Some(AuthOp::Status(_)) => "AuthStatus",
            Some(AuthOp::UserAdd(_)) => "AuthUserAdd",
            Some(AuthOp::UserDelete(_)) => "AuthUserDelete",
            Some(AuthOp::UserChangePassword(_)) => "AuthUserChangePassword",
            Some(AuthOp::UserGrantRole(_)) => "AuthUserGrantRole",
            Some(AuthOp::UserGet(_)) => "AuthUserGet",
            Some(AuthOp::UserList(_)) => "AuthUserList",
            Some(AuthOp::UserRevokeRole(_)) => "AuthUserRevokeRole",
            Some(AuthOp::RoleAdd(_)) => "AuthRoleAdd",
            Some(AuthOp::RoleGrantPermission(_)) => "AuthRoleGrantPermission",
            Some(AuthOp::RoleGet(_)) => "AuthRoleGet",
            Some(AuthOp::RoleList(_)) => "AuthRoleList",
            Some(AuthOp::RoleRevokePermission(_)) => "AuthRoleRevokePermission",
            Some(AuthOp::RoleDelete(_)) => "AuthRoleDelete",
            Some(AuthOp::Authenticate(_)) => "Authenticate",
            None => "unknown",
        }
    }
}

/// etcd's auth requests.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum AuthOp {
    /// `AuthEnable`.
    #[prost(message, tag = "1")]
    Enable(AuthEnableRequest),
    /// `AuthDisable`.
    #[prost(message, tag = "2")]
    Disable(AuthDisableRequest),
    /// `AuthStatus`.
    #[prost(message, tag = "3")]
    Status(AuthStatusRequest),
    /// `UserAdd`, its password hashed into `hashed_password`.
    #[prost(message, tag = "4")]
    UserAdd(AuthUserAddRequest),
    /// `UserDelete`.
    #[prost(message, tag = "5")]
    UserDelete(AuthUserDeleteRequest),
    /// `UserChangePassword`, its password hashed into `hashed_password`.
    #[prost(message, tag = "6")]
    UserChangePassword(AuthUserChangePasswordRequest),
    /// `UserGrantRole`.
    #[prost(message, tag = "7")]
    UserGrantRole(AuthUserGrantRoleRequest),
    /// `UserGet`.
    #[prost(message, tag = "8")]
    UserGet(AuthUserGetRequest),
    /// `UserList`.
    #[prost(message, tag = "9")]
    UserList(AuthUserListRequest),
    /// `UserRevokeRole`.
    #[prost(message, tag = "10")]
    UserRevokeRole(AuthUserRevokeRoleRequest),
    /// `RoleAdd`.
    #[prost(message, tag = "11")]
    RoleAdd(AuthRoleAddRequest),
    /// `RoleGrantPermission`.
    #[prost(message, tag = "12")]
    RoleGrantPermission(AuthRoleGrantPermissionRequest),
    /// `RoleGet`.
    #[prost(message, tag = "13")]
    RoleGet(AuthRoleGetRequest),
    /// `RoleList`.
    #[prost(message, tag = "14")]
    RoleList(AuthRoleListRequest),
    /// `RoleRevokePermission`.
    #[prost(message, tag = "15")]
    RoleRevokePermission(AuthRoleRevokePermissionRequest),
    /// `RoleDelete`.
    #[prost(message, tag = "16")]
    RoleDelete(AuthRoleDeleteRequest),
    /// `Authenticate`, its password already checked by the member that received it.
    #[prost(message, tag = "17")]
    Authenticate(InternalAuthenticate),
}

/// What `Authenticate` carries through raft: the user, whose password the receiving member
/// checked (the log never carries it), and the random part of the simple token every member
/// assigns when it applies the entry (empty with JWTs, which the receiving member signs).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InternalAuthenticate {
    /// The user.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// The simple token's prefix.
    #[prost(string, tag = "2")]
    pub(crate) simple_token_prefix: String,
}

/// What applying an auth request answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuthAnswer {
    /// The response header, at the store's revision.
    pub(crate) header: ResponseHeader,
    /// What the request asked for.
    pub(crate) reply: AuthReply,
}

/// The payload of an auth answer, by request kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AuthReply {
    /// A change was made (or was a no-op etcd accepts).
    Done,
    /// `AuthStatus`.
    Status {
        /// Whether authentication is on.
        enabled: bool,
        /// The auth revision.
        revision: u64,
    },
    /// `UserGet`: the user's roles.
    Roles(Vec<String>),
    /// `UserList`, `RoleList`: names in byte order.
    Names(Vec<String>),
    /// `RoleGet`: the role's permissions.
    Permissions(Vec<Permission>),
    /// `Authenticate`: the simple token assigned (none with JWTs) and the auth revision.
    Authenticated {
        /// The simple token.
        simple_token: Option<String>,
        /// The auth revision the user was authenticated at.
        revision: u64,
    },
}
