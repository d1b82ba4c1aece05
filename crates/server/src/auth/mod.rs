//! Authentication and role-based access, as etcd's auth store: users, roles and their key
//! permissions (`permissions.rs`).

mod permissions;
