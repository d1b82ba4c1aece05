//! Which calls may be retried, mirroring clientv3's `retry.go`: reads and other repeatable
//! calls retry on `Unavailable`; mutations retry only when they never left the client.

/// How a call may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RpcKind {
    /// Safe to resend after any `Unavailable` outcome (Range, MemberList, Status, ...).
    Repeatable,
    /// Resent only if it certainly never reached a server (Put, Txn, Compact, ...).
    NonRepeatable,
    /// A call whose request is a stream of messages (Watch, LeaseKeepAlive); it cannot be
    /// buffered, so it is sent once, to an endpoint believed healthy.
    ClientStream,
}

impl RpcKind {
    /// Classifies a gRPC method by its path, e.g. `/etcdserverpb.KV/Range`.
    pub(crate) fn of_path(path: &str) -> RpcKind {
        let method = path.trim_start_matches('/');
        match method {
            "etcdserverpb.Watch/Watch" | "etcdserverpb.Lease/LeaseKeepAlive" => {
                RpcKind::ClientStream
            }
            "etcdserverpb.KV/Range"
            | "etcdserverpb.Lease/LeaseTimeToLive"
            | "etcdserverpb.Lease/LeaseLeases"
            | "etcdserverpb.Lease/LeaseGrant"
            | "etcdserverpb.Lease/LeaseRevoke"
            | "etcdserverpb.Cluster/MemberList"
            | "etcdserverpb.Maintenance/Alarm"
            | "etcdserverpb.Maintenance/Status"
            | "etcdserverpb.Maintenance/Hash"
            | "etcdserverpb.Maintenance/HashKV"
            | "etcdserverpb.Maintenance/Snapshot"
            | "etcdserverpb.Maintenance/MoveLeader"
            | "etcdserverpb.Auth/UserList"
            | "etcdserverpb.Auth/UserGet"
            | "etcdserverpb.Auth/RoleGet"
            | "etcdserverpb.Auth/RoleList"
            | "v3electionpb.Election/Leader"
            | "v3electionpb.Election/Observe"
            | "grpc.health.v1.Health/Check" => RpcKind::Repeatable,
            _ => RpcKind::NonRepeatable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_repeatable_and_writes_are_not() {
        assert_eq!(
            RpcKind::of_path("/etcdserverpb.KV/Range"),
            RpcKind::Repeatable
        );
        assert_eq!(
            RpcKind::of_path("/etcdserverpb.Maintenance/Status"),
            RpcKind::Repeatable
        );
        for write in [
            "/etcdserverpb.KV/Put",
            "/etcdserverpb.KV/DeleteRange",
            "/etcdserverpb.KV/Txn",
            "/etcdserverpb.KV/Compact",
            "/etcdserverpb.Cluster/MemberAdd",
            "/etcdserverpb.Maintenance/Defragment",
            "/v3lockpb.Lock/Lock",
        ] {
            assert_eq!(RpcKind::of_path(write), RpcKind::NonRepeatable, "{write}");
        }
        assert_eq!(
            RpcKind::of_path("/etcdserverpb.Watch/Watch"),
            RpcKind::ClientStream
        );
    }
}
