//! The `table` format, which etcdctl offers for member and endpoint commands only.

use super::{EpHashKv, EpHealth, EpStatus, hashkv_rows, health_rows, member_rows, status_rows};
use crate::format::table::render;
use oxcd_api::etcdserverpb::MemberListResponse;

/// `member list`.
pub fn member_list(r: &MemberListResponse) -> String {
    render(
        &[
            "ID",
            "Status",
            "Name",
            "Peer Addrs",
            "Client Addrs",
            "Is Learner",
        ],
        &member_rows(r),
    )
}

/// `endpoint health`.
pub fn endpoint_health(list: &[EpHealth]) -> String {
    render(&["endpoint", "health", "took", "error"], &health_rows(list))
}

/// `endpoint status`.
pub fn endpoint_status(list: &[EpStatus]) -> String {
    render(
        &[
            "endpoint",
            "ID",
            "version",
            "db size",
            "is leader",
            "is learner",
            "raft term",
            "raft index",
            "raft applied index",
            "errors",
        ],
        &status_rows(list),
    )
}

/// `endpoint hashkv`.
pub fn endpoint_hashkv(list: &[EpHashKv]) -> String {
    render(&["endpoint", "hash"], &hashkv_rows(list))
}
