//! Authentication and role-based access, as etcd's auth store: users, roles and the switch
//! (`store.rs`), passwords (`passwords.rs`), a user's key permissions merged from its roles (`permissions.rs`), the auth
//! requests as raft carries them (`request.rs`), who made a request (`caller.rs`) and what each
//! request needs of its permissions (`request_check.rs`), and the
//! tokens clients authenticate with (`tokens.rs`: `simple_tokens.rs` or `jwt/`).

mod caller;
mod jwt;
mod passwords;
mod permissions;
mod request;
mod request_check;
mod simple_tokens;
mod store;
mod tokens;

pub(crate) use caller::Caller;
pub(crate) use passwords::Passwords;
pub(crate) use request::{AuthAnswer, AuthOp, AuthReply, AuthRequest, InternalAuthenticate};
pub(crate) use request_check::RequestCheck;
pub(crate) use simple_tokens::SimpleTokens;
pub(crate) use store::{AuthError, AuthStore};
pub(crate) use tokens::{Holder, Tokens};
