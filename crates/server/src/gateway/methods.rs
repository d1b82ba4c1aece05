//! The routes of etcd 3.5's JSON gateway: each `/v3/...` path with the gRPC method it calls,
//! the shape of the call, and the JSON ↔ protobuf conversion of its messages. The paths are
//! etcd's (the HTTP annotations of its `.proto` files, as its gateway serves them: `HashKV` has
//! none, and the lease routes are also served under `/v3/kv/lease/`).

use oxcd_api::etcdserverpb as pb;
use oxcd_api::{v3electionpb as election, v3lockpb as lock};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many messages each side of a call carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses (`Snapshot`, `Observe`).
    ResponseStream,
    /// Streams both ways (`Watch`, `LeaseKeepAlive`): the request body is a sequence of JSON
    /// objects, each sent as it arrives.
    BothStreams,
}

/// One gateway route.
pub(super) struct Method {
    /// The path after `/v3/`.
    pub(super) http: &'static str,
    /// The gRPC method's path.
    pub(super) grpc: &'static str,
    pub(super) shape: Shape,
    /// A request in JSON (the proto3 mapping, either field spelling) as protobuf bytes.
    pub(super) request: fn(serde_json::Value) -> Result<Vec<u8>, serde_json::Error>,
    /// A response in protobuf bytes as etcd's gateway writes it in JSON.
    pub(super) response: fn(&[u8]) -> Result<String, String>,
}

/// The route for the path after `/v3/`.
pub(super) fn find(http: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.http == http)
}

fn to_proto<M: prost::Message + DeserializeOwned>(
    json: serde_json::Value,
) -> Result<Vec<u8>, serde_json::Error> {
    Ok(serde_json::from_value::<M>(json)?.encode_to_vec())
}

fn to_json<M: prost::Message + Default + Serialize>(bytes: &[u8]) -> Result<String, String> {
    let message = M::decode(bytes).map_err(|e| e.to_string())?;
    serde_json::to_string(&message).map_err(|e| e.to_string())
}

macro_rules! method {
    ($shape:ident, $http:literal, $grpc:literal, $request:ty, $response:ty) => {
        Method {
            http: $http,
            grpc: $grpc,
            shape: Shape::$shape,
            request: to_proto::<$request>,
            response: to_json::<$response>,
        }
    };
}

const METHODS: &[Method] = &[
    method!(
        Unary,
        "kv/range",
        "/etcdserverpb.KV/Range",
        pb::RangeRequest,
        pb::RangeResponse
    ),
    method!(
        Unary,
        "kv/put",
        "/etcdserverpb.KV/Put",
        pb::PutRequest,
        pb::PutResponse
    ),
    method!(
        Unary,
        "kv/deleterange",
        "/etcdserverpb.KV/DeleteRange",
        pb::DeleteRangeRequest,
        pb::DeleteRangeResponse
    ),
    method!(
        Unary,
        "kv/txn",
        "/etcdserverpb.KV/Txn",
        pb::TxnRequest,
        pb::TxnResponse
    ),
    method!(
        Unary,
        "kv/compaction",
        "/etcdserverpb.KV/Compact",
        pb::CompactionRequest,
        pb::CompactionResponse
    ),
    method!(
        BothStreams,
        "watch",
        "/etcdserverpb.Watch/Watch",
        pb::WatchRequest,
        pb::WatchResponse
    ),
    method!(
        Unary,
        "lease/grant",
        "/etcdserverpb.Lease/LeaseGrant",
        pb::LeaseGrantRequest,
        pb::LeaseGrantResponse
    ),
    method!(
        Unary,
        "lease/revoke",
        "/etcdserverpb.Lease/LeaseRevoke",
        pb::LeaseRevokeRequest,
        pb::LeaseRevokeResponse
    ),
    method!(
        Unary,
        "kv/lease/revoke",
        "/etcdserverpb.Lease/LeaseRevoke",
        pb::LeaseRevokeRequest,
        pb::LeaseRevokeResponse
    ),
    method!(
        BothStreams,
        "lease/keepalive",
        "/etcdserverpb.Lease/LeaseKeepAlive",
        pb::LeaseKeepAliveRequest,
        pb::LeaseKeepAliveResponse
    ),
    method!(
        Unary,
        "lease/timetolive",
        "/etcdserverpb.Lease/LeaseTimeToLive",
        pb::LeaseTimeToLiveRequest,
        pb::LeaseTimeToLiveResponse
    ),
    method!(
        Unary,
        "kv/lease/timetolive",
        "/etcdserverpb.Lease/LeaseTimeToLive",
        pb::LeaseTimeToLiveRequest,
        pb::LeaseTimeToLiveResponse
    ),
    method!(
        Unary,
        "lease/leases",
        "/etcdserverpb.Lease/LeaseLeases",
        pb::LeaseLeasesRequest,
        pb::LeaseLeasesResponse
    ),
    method!(
        Unary,
        "kv/lease/leases",
        "/etcdserverpb.Lease/LeaseLeases",
        pb::LeaseLeasesRequest,
        pb::LeaseLeasesResponse
    ),
    method!(
        Unary,
        "cluster/member/add",
        "/etcdserverpb.Cluster/MemberAdd",
        pb::MemberAddRequest,
        pb::MemberAddResponse
    ),
    method!(
        Unary,
        "cluster/member/remove",
        "/etcdserverpb.Cluster/MemberRemove",
        pb::MemberRemoveRequest,
        pb::MemberRemoveResponse
    ),
    method!(
        Unary,
        "cluster/member/update",
        "/etcdserverpb.Cluster/MemberUpdate",
        pb::MemberUpdateRequest,
        pb::MemberUpdateResponse
    ),
    method!(
        Unary,
        "cluster/member/list",
        "/etcdserverpb.Cluster/MemberList",
        pb::MemberListRequest,
        pb::MemberListResponse
    ),
    method!(
        Unary,
        "cluster/member/promote",
        "/etcdserverpb.Cluster/MemberPromote",
        pb::MemberPromoteRequest,
        pb::MemberPromoteResponse
    ),
    method!(
        Unary,
        "maintenance/alarm",
        "/etcdserverpb.Maintenance/Alarm",
        pb::AlarmRequest,
        pb::AlarmResponse
    ),
    method!(
        Unary,
        "maintenance/status",
        "/etcdserverpb.Maintenance/Status",
        pb::StatusRequest,
        pb::StatusResponse
    ),
    method!(
        Unary,
        "maintenance/defragment",
        "/etcdserverpb.Maintenance/Defragment",
        pb::DefragmentRequest,
        pb::DefragmentResponse
    ),
    method!(
        Unary,
        "maintenance/hash",
        "/etcdserverpb.Maintenance/Hash",
        pb::HashRequest,
        pb::HashResponse
    ),
    method!(
        ResponseStream,
        "maintenance/snapshot",
        "/etcdserverpb.Maintenance/Snapshot",
        pb::SnapshotRequest,
        pb::SnapshotResponse
    ),
    method!(
        Unary,
        "maintenance/transfer-leadership",
        "/etcdserverpb.Maintenance/MoveLeader",
        pb::MoveLeaderRequest,
        pb::MoveLeaderResponse
    ),
    method!(
        Unary,
        "maintenance/downgrade",
        "/etcdserverpb.Maintenance/Downgrade",
        pb::DowngradeRequest,
        pb::DowngradeResponse
    ),
    method!(
        Unary,
        "auth/enable",
        "/etcdserverpb.Auth/AuthEnable",
        pb::AuthEnableRequest,
        pb::AuthEnableResponse
    ),
    method!(
        Unary,
        "auth/disable",
        "/etcdserverpb.Auth/AuthDisable",
        pb::AuthDisableRequest,
        pb::AuthDisableResponse
    ),
    method!(
        Unary,
        "auth/status",
        "/etcdserverpb.Auth/AuthStatus",
        pb::AuthStatusRequest,
        pb::AuthStatusResponse
    ),
    method!(
        Unary,
        "auth/authenticate",
        "/etcdserverpb.Auth/Authenticate",
        pb::AuthenticateRequest,
        pb::AuthenticateResponse
    ),
    method!(
        Unary,
        "auth/user/add",
        "/etcdserverpb.Auth/UserAdd",
        pb::AuthUserAddRequest,
        pb::AuthUserAddResponse
    ),
    method!(
        Unary,
        "auth/user/get",
        "/etcdserverpb.Auth/UserGet",
        pb::AuthUserGetRequest,
        pb::AuthUserGetResponse
    ),
    method!(
        Unary,
        "auth/user/list",
        "/etcdserverpb.Auth/UserList",
        pb::AuthUserListRequest,
        pb::AuthUserListResponse
    ),
    method!(
        Unary,
        "auth/user/delete",
        "/etcdserverpb.Auth/UserDelete",
        pb::AuthUserDeleteRequest,
        pb::AuthUserDeleteResponse
    ),
    method!(
        Unary,
        "auth/user/changepw",
        "/etcdserverpb.Auth/UserChangePassword",
        pb::AuthUserChangePasswordRequest,
        pb::AuthUserChangePasswordResponse
    ),
    method!(
        Unary,
        "auth/user/grant",
        "/etcdserverpb.Auth/UserGrantRole",
        pb::AuthUserGrantRoleRequest,
        pb::AuthUserGrantRoleResponse
    ),
    method!(
        Unary,
        "auth/user/revoke",
        "/etcdserverpb.Auth/UserRevokeRole",
        pb::AuthUserRevokeRoleRequest,
        pb::AuthUserRevokeRoleResponse
    ),
    method!(
        Unary,
        "auth/role/add",
        "/etcdserverpb.Auth/RoleAdd",
        pb::AuthRoleAddRequest,
        pb::AuthRoleAddResponse
    ),
    method!(
        Unary,
        "auth/role/get",
        "/etcdserverpb.Auth/RoleGet",
        pb::AuthRoleGetRequest,
        pb::AuthRoleGetResponse
    ),
    method!(
        Unary,
        "auth/role/list",
        "/etcdserverpb.Auth/RoleList",
        pb::AuthRoleListRequest,
        pb::AuthRoleListResponse
    ),
    method!(
        Unary,
        "auth/role/delete",
        "/etcdserverpb.Auth/RoleDelete",
        pb::AuthRoleDeleteRequest,
        pb::AuthRoleDeleteResponse
    ),
    method!(
        Unary,
        "auth/role/grant",
        "/etcdserverpb.Auth/RoleGrantPermission",
        pb::AuthRoleGrantPermissionRequest,
        pb::AuthRoleGrantPermissionResponse
    ),
    method!(
        Unary,
        "auth/role/revoke",
        "/etcdserverpb.Auth/RoleRevokePermission",
        pb::AuthRoleRevokePermissionRequest,
        pb::AuthRoleRevokePermissionResponse
    ),
    method!(
        Unary,
        "lock/lock",
        "/v3lockpb.Lock/Lock",
        lock::LockRequest,
        lock::LockResponse
    ),
    method!(
        Unary,
        "lock/unlock",
        "/v3lockpb.Lock/Unlock",
        lock::UnlockRequest,
        lock::UnlockResponse
    ),
    method!(
        Unary,
        "election/campaign",
        "/v3electionpb.Election/Campaign",
        election::CampaignRequest,
        election::CampaignResponse
    ),
    method!(
        Unary,
        "election/proclaim",
        "/v3electionpb.Election/Proclaim",
        election::ProclaimRequest,
        election::ProclaimResponse
    ),
    method!(
        Unary,
        "election/leader",
        "/v3electionpb.Election/Leader",
        election::LeaderRequest,
        election::LeaderResponse
    ),
    method!(
        ResponseStream,
        "election/observe",
        "/v3electionpb.Election/Observe",
        election::LeaderRequest,
        election::LeaderResponse
    ),
    method!(
        Unary,
        "election/resign",
        "/v3electionpb.Election/Resign",
        election::ResignRequest,
        election::ResignResponse
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_grpc_methods_well_formed() {
        for (i, method) in METHODS.iter().enumerate() {
            assert!(
                METHODS[i + 1..].iter().all(|m| m.http != method.http),
                "{} listed twice",
                method.http
            );
            assert!(method.grpc.starts_with('/') && method.grpc.matches('/').count() == 2);
        }
        assert!(
            find("maintenance/hashkv").is_none(),
            "etcd 3.5 serves no HashKV route"
        );
    }

    #[test]
    fn requests_take_either_spelling_and_answers_use_proto_names() {
        let range = find("kv/range").unwrap();
        let bytes = (range.request)(serde_json::json!({
            "key": "Zm9v", "countOnly": true, "revision": "7", "limit": 3, "unknown": 1
        }))
        .unwrap();
        let decoded = <pb::RangeRequest as prost::Message>::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.key, b"foo");
        assert!(decoded.count_only);
        assert_eq!((decoded.revision, decoded.limit), (7, 3));

        let status = pb::StatusResponse {
            db_size: 20480,
            raft_index: 16,
            version: "3.5.1".into(),
            ..Default::default()
        };
        let json =
            (find("maintenance/status").unwrap().response)(&prost::Message::encode_to_vec(&status))
                .unwrap();
        assert_eq!(
            json,
            r#"{"version":"3.5.1","dbSize":"20480","raftIndex":"16"}"#
        );
    }
}
