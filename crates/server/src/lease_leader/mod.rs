//! The leader's side of leases, on top of the replicated state in [`crate::lease`]: only the
//! leader times leases, so it alone expires and checkpoints them ([`primary`], which turns its
//! findings into raft proposals) and answers keep-alives and TTL queries, which a follower
//! takes to it ([`forward`]). Nothing here is replicated or written to the backend directly:
//! every change it causes goes through raft and the apply loop.

pub(crate) mod forward;
pub(crate) mod primary;
