//! Authentication and role-based access, as etcd's auth store: users, roles and the switch
//! (`store.rs`), and a user's key permissions merged from its roles (`permissions.rs`).

mod permissions;
mod store;
