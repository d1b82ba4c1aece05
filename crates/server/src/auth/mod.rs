//! Authentication and role-based access, as etcd's auth store: users, roles and the switch
//! (`store.rs`), a user's key permissions merged from its roles (`permissions.rs`), and the
//! auth requests as raft carries them (`request.rs`).

mod permissions;
mod request;
mod store;

pub(crate) use request::{AuthAnswer, AuthOp, AuthReply, AuthRequest};
pub(crate) use store::{AuthError, AuthStore};
