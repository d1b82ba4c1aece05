//! The auth store: users, roles, whether authentication is on, and the auth revision — etcd's
//! auth store, with its rules and errors. It is replicated state: changed only by applying an
//! auth request from the raft log, in that batch's backend transaction (etcd's `auth`,
//! `authUsers` and `authRoles` buckets), and reloaded from the backend at start and with a
//! snapshot. Every change but enabling bumps the auth revision, which tokens carry so that a
//! request made with an older view of the permissions is refused.
//!
//! Passwords arrive already hashed (the member that received the request hashed it before
//! proposing it), so applying never runs bcrypt.

use std::collections::{BTreeMap, HashMap};

use parking_lot::RwLock;

use oxcd_api::EtcdError;
use oxcd_api::authpb::{Permission, Role, User, UserAddOptions};
use oxcd_mvcc::{Backend, BackendError, Proto, Table, TableWriter};

use super::permissions::{Access, RangePermissions};

/// The user that may enable authentication, and the role that grants everything.
pub(crate) const ROOT: &str = "root";

/// User name → `authpb.User` (etcd's `authUsers` bucket).
pub(crate) const USER_TABLE: Table<Vec<u8>, Proto<User>> = Table::new("authUsers");
/// Role name → `authpb.Role` (etcd's `authRoles` bucket).
pub(crate) const ROLE_TABLE: Table<Vec<u8>, Proto<Role>> = Table::new("authRoles");
/// `authEnabled` → 1 or 0, `authRevision` → the revision, 8 bytes big-endian (etcd's `auth`
/// bucket).
pub(crate) const AUTH_TABLE: Table<Vec<u8>, Vec<u8>> = Table::new("auth");
const ENABLED_KEY: &[u8] = b"authEnabled";
const REVISION_KEY: &[u8] = b"authRevision";

/// Why an auth change or check did not go through.
#[derive(Debug)]
pub(crate) enum AuthError {
    /// Refused by etcd's rules; the client gets this error.
    Refused(EtcdError),
    /// The backend failed; the member cannot go on.
    Storage(BackendError),
}

impl From<EtcdError> for AuthError {
    fn from(error: EtcdError) -> AuthError {
        AuthError::Refused(error)
    }
}

impl From<BackendError> for AuthError {
    fn from(error: BackendError) -> AuthError {
        AuthError::Storage(error)
    }
}

#[derive(Default)]
struct State {
    enabled: bool,
    revision: u64,
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Role>,
    /// Each user's merged permissions, computed when first needed.
    merged: HashMap<String, RangePermissions>,
}

impl State {
    fn user(&self, name: &str) -> Result<&User, EtcdError> {
        self.users.get(name).ok_or(EtcdError::UserNotFound)
    }

    fn role(&self, name: &str) -> Result<&Role, EtcdError> {
        self.roles.get(name).ok_or(EtcdError::RoleNotFound)
    }

    /// The user `name` if it may authenticate: authentication is on, the user exists and has
    /// a password.
    fn user_to_authenticate(&self, name: &str) -> Result<&User, EtcdError> {
        if !self.enabled {
            return Err(EtcdError::AuthNotEnabled);
        }
        match self.users.get(name) {
            Some(user) if !is_passwordless(user) => Ok(user),
            _ => Err(EtcdError::AuthFailed),
        }
    }

    fn bump(&mut self, tables: TableWriter<'_>) -> Result<(), BackendError> {
        self.revision += 1;
        tables.put(
            &AUTH_TABLE,
            &REVISION_KEY.to_vec(),
            &self.revision.to_be_bytes().to_vec(),
        )
    }

    fn put_user(&mut self, tables: TableWriter<'_>, user: User) -> Result<(), BackendError> {
        tables.put(&USER_TABLE, &user.name, &user)?;
        let name = text(&user.name);
        self.merged.remove(&name);
        self.users.insert(name, user);
        Ok(())
    }

    fn put_role(&mut self, tables: TableWriter<'_>, role: Role) -> Result<(), BackendError> {
        tables.put(&ROLE_TABLE, &role.name, &role)?;
        // A role's change may change any user's permissions, as etcd's cache is cleared.
        self.merged.clear();
        self.roles.insert(text(&role.name), role);
        Ok(())
    }
}

/// Users, roles and the switch, shared by the apply loop (the only writer) and the services.
#[derive(Default)]
pub(crate) struct AuthStore {
    state: RwLock<State>,
}

impl AuthStore {
    /// The auth state stored in `backend`.
    pub(crate) fn load(backend: &Backend) -> Result<AuthStore, BackendError> {
        let store = AuthStore::default();
        store.reload(backend)?;
        Ok(store)
    }

    /// Replaces the state with the one stored in `backend` (a snapshot was installed).
    pub(crate) fn reload(&self, backend: &Backend) -> Result<(), BackendError> {
        let tables = backend.read()?;
        let flags: HashMap<Vec<u8>, Vec<u8>> = tables.rows(&AUTH_TABLE)?.into_iter().collect();
        let enabled = flags.get(ENABLED_KEY).is_some_and(|v| v.as_slice() == [1]);
        let revision = flags
            .get(REVISION_KEY)
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            // etcd starts every auth store at revision 1.
            .map_or(1, u64::from_be_bytes);
        let users = tables.rows(&USER_TABLE)?;
        let roles = tables.rows(&ROLE_TABLE)?;
        *self.state.write() = State {
            enabled,
            revision,
            users: users.into_iter().map(|(k, u)| (text(&k), u)).collect(),
            roles: roles.into_iter().map(|(k, r)| (text(&k), r)).collect(),
            merged: HashMap::new(),
        };
        Ok(())
    }

    /// Whether authentication is on, and the auth revision.
    pub(crate) fn status(&self) -> (bool, u64) {
        let state = self.state.read();
        (state.enabled, state.revision)
    }

    /// Turns authentication on: the root user must exist and hold the root role. Already on
    /// is no error. Leaves the revision as it is, as etcd does.
    pub(crate) fn enable(&self, tables: TableWriter<'_>) -> Result<(), AuthError> {
        let mut state = self.state.write();
        if state.enabled {
            return Ok(());
        }
        let root = state.users.get(ROOT).ok_or(EtcdError::RootUserNotExist)?;
        if !has_root_role(root) {
            return Err(EtcdError::RootRoleNotExist.into());
        }
        tables.put(&AUTH_TABLE, &ENABLED_KEY.to_vec(), &vec![1])?;
        state.enabled = true;
        state.merged.clear();
        Ok(())
    }

    /// Turns authentication off (already off is no error).
    pub(crate) fn disable(&self, tables: TableWriter<'_>) -> Result<(), AuthError> {
        let mut state = self.state.write();
        if !state.enabled {
            return Ok(());
        }
        tables.put(&AUTH_TABLE, &ENABLED_KEY.to_vec(), &vec![0])?;
        state.bump(tables)?;
        state.enabled = false;
        Ok(())
    }

    /// Adds user `name` with `password_hash` (empty for a user without password).
    pub(crate) fn add_user(
        &self,
        tables: TableWriter<'_>,
        name: &str,
        password_hash: Vec<u8>,
        no_password: bool,
    ) -> Result<(), AuthError> {
        if name.is_empty() {
            return Err(EtcdError::UserEmpty.into());
        }
        let mut state = self.state.write();
        if state.users.contains_key(name) {
            return Err(EtcdError::UserAlreadyExist.into());
        }
        let user = User {
            name: name.as_bytes().to_vec(),
            password: if no_password {
                Vec::new()
            } else {
                password_hash
            },
            roles: Vec::new(),
            options: Some(UserAddOptions { no_password }),
        };
        state.put_user(tables, user)?;
        state.bump(tables)?;
        Ok(())
    }

    /// Deletes user `name`; never root while authentication is on.
    pub(crate) fn delete_user(&self, tables: TableWriter<'_>, name: &str) -> Result<(), AuthError> {
        let mut state = self.state.write();
        if state.enabled && name == ROOT {
            return Err(EtcdError::InvalidAuthMgmt.into());
        }
        state.user(name)?;
        tables.delete(&USER_TABLE, &name.as_bytes().to_vec())?;
        state.users.remove(name);
        state.merged.remove(name);
        state.bump(tables)?;
        Ok(())
    }

    /// Sets user `name`'s password hash (a user without password keeps none).
    pub(crate) fn change_password(
        &self,
        tables: TableWriter<'_>,
        name: &str,
        password_hash: Vec<u8>,
    ) -> Result<(), AuthError> {
        let mut state = self.state.write();
        let mut user = state.user(name)?.clone();
        user.password = if is_passwordless(&user) {
            Vec::new()
        } else {
            password_hash
        };
        state.put_user(tables, user)?;
        state.bump(tables)?;
        Ok(())
    }

    /// Grants `role` to user `name` (root may be granted before a root role exists); granting
    /// it again changes nothing, not even the revision.
    pub(crate) fn grant_role(
        &self,
        tables: TableWriter<'_>,
        name: &str,
        role: &str,
    ) -> Result<(), AuthError> {
        let mut state = self.state.write();
        let mut user = state.user(name)?.clone();
        if role != ROOT {
            state.role(role)?;
        }
        let Err(at) = user.roles.binary_search_by(|r| r.as_str().cmp(role)) else {
            return Ok(());
        };
        user.roles.insert(at, role.to_string());
        state.put_user(tables, user)?;
        state.bump(tables)?;
        Ok(())
    }

    /// Revokes `role` from user `name`; never root's root role while authentication is on.
    pub(crate) fn revoke_role(
        &self,
        tables: TableWriter<'_>,
        name: &str,
        role: &str,
    ) -> Result<(), AuthError> {
        let mut state = self.state.write();
        if state.enabled && name == ROOT && role == ROOT {
            return Err(EtcdError::InvalidAuthMgmt.into());
        }
        let mut user = state.user(name)?.clone();
        let before = user.roles.len();
        user.roles.retain(|r| r != role);
        if user.roles.len() == before {
            return Err(EtcdError::RoleNotGranted.into());
        }
        state.put_user(tables, user)?;
        state.bump(tables)?;
        Ok(())
    }

    /// Adds role `name`.
    pub(crate) fn add_role(&self, tables: TableWriter<'_>, name: &str) -> Result<(), AuthError> {
        if name.is_empty() {
            return Err(EtcdError::RoleEmpty.into());
        }
        let mut state = self.state.write();
        if state.roles.contains_key(name) {
            return Err(EtcdError::RoleAlreadyExist.into());
        }
        let role = Role {
            name: name.as_bytes().to_vec(),
            key_permission: Vec::new(),
        };
        state.put_role(tables, role)?;
        state.bump(tables)?;
        Ok(())
    }

    /// Deletes role `name` and takes it from every user holding it; never root while
    /// authentication is on.
    pub(crate) fn delete_role(&self, tables: TableWriter<'_>, name: &str) -> Result<(), AuthError> {
        let mut state = self.state.write();
        if state.enabled && name == ROOT {
            return Err(EtcdError::InvalidAuthMgmt.into());
        }
        state.role(name)?;
        tables.delete(&ROLE_TABLE, &name.as_bytes().to_vec())?;
        state.roles.remove(name);
        state.merged.clear();
        let holders: Vec<User> = state
            .users
            .values()
            .filter(|user| user.roles.iter().any(|r| r == name))
            .cloned()
            .collect();
        for mut user in holders {
            user.roles.retain(|r| r != name);
            state.put_user(tables, user)?;
        }
        state.bump(tables)?;
        Ok(())
    }

    /// Grants `permission` to role `name`. As etcd: the permissions stay sorted by key, and
    /// a grant for the first permission with the same key and the same range end changes its
    /// type instead of adding one.
    pub(crate) fn grant_permission(
        &self,
        tables: TableWriter<'_>,
        name: &str,
        permission: Option<&Permission>,
    ) -> Result<(), AuthError> {
        let permission = permission.ok_or(EtcdError::PermissionNotGiven)?;
        let mut state = self.state.write();
        let mut role = state.role(name)?.clone();
        let at = role
            .key_permission
            .partition_point(|p| p.key.as_slice() < permission.key.as_slice());
        match role.key_permission.get_mut(at) {
            Some(same) if same.key == permission.key && same.range_end == permission.range_end => {
                same.perm_type = permission.perm_type;
            }
            _ => {
                role.key_permission.push(permission.clone());
                role.key_permission.sort_by(|a, b| a.key.cmp(&b.key));
            }
        }
        state.put_role(tables, role)?;
        state.bump(tables)?;
        Ok(())
    }

    /// Revokes from role `name` every permission on exactly `[key, range_end)`.
    pub(crate) fn revoke_permission(
        &self,
        tables: TableWriter<'_>,
        name: &str,
        key: &[u8],
        range_end: &[u8],
    ) -> Result<(), AuthError> {
        let mut state = self.state.write();
        let mut role = state.role(name)?.clone();
        let before = role.key_permission.len();
        role.key_permission
            .retain(|p| p.key != key || p.range_end != range_end);
        if role.key_permission.len() == before {
            return Err(EtcdError::PermissionNotGranted.into());
        }
        state.put_role(tables, role)?;
        state.bump(tables)?;
        Ok(())
    }

    /// The roles of user `name`, sorted.
    pub(crate) fn user_roles(&self, name: &str) -> Result<Vec<String>, EtcdError> {
        Ok(self.state.read().user(name)?.roles.clone())
    }

    /// Every user's name, in byte order.
    pub(crate) fn user_names(&self) -> Vec<String> {
        self.state.read().users.keys().cloned().collect()
    }

    /// The permissions of role `name`.
    pub(crate) fn role_permissions(&self, name: &str) -> Result<Vec<Permission>, EtcdError> {
        Ok(self.state.read().role(name)?.key_permission.clone())
    }

    /// Every role's name, in byte order.
    pub(crate) fn role_names(&self) -> Vec<String> {
        self.state.read().roles.keys().cloned().collect()
    }

    /// The stored password hash of user `name` and the auth revision it was read at, for the
    /// password to be compared outside the lock (bcrypt is slow): etcd's `CheckPassword` up to
    /// the comparison. A user without password never authenticates with one.
    pub(crate) fn password_hash(&self, name: &str) -> Result<(Vec<u8>, u64), EtcdError> {
        let state = self.state.read();
        let user = state.user_to_authenticate(name)?;
        Ok((user.password.clone(), state.revision))
    }

    /// Whether user `name` may be given a token now: the apply step of `Authenticate`, after
    /// the password was checked by the member that received it.
    pub(crate) fn may_authenticate(&self, name: &str) -> Result<(), EtcdError> {
        self.state.read().user_to_authenticate(name).map(drop)
    }

    /// Whether user `name` exists and holds `role`.
    pub(crate) fn has_role(&self, name: &str, role: &str) -> bool {
        let state = self.state.read();
        state
            .users
            .get(name)
            .is_some_and(|user| user.roles.iter().any(|r| r == role))
    }

    /// Whether `user`, holding a token issued at auth `revision`, may have `access` to `key`
    /// (empty `range_end`) or `[key, range_end)`. Everything is allowed while authentication
    /// is off; a root user is allowed everything.
    pub(crate) fn check(
        &self,
        user: &str,
        revision: u64,
        key: &[u8],
        range_end: &[u8],
        access: Access,
    ) -> Result<(), EtcdError> {
        {
            let state = self.state.read();
            if !state.enabled {
                return Ok(());
            }
            if revision == 0 {
                return Err(EtcdError::UserEmpty);
            }
            if revision < state.revision {
                return Err(EtcdError::AuthOldRevision);
            }
            let holder = state.users.get(user).ok_or(EtcdError::PermissionDenied)?;
            if has_root_role(holder) {
                return Ok(());
            }
            if let Some(merged) = state.merged.get(user) {
                return permitted(merged.permits(key, range_end, access));
            }
        }
        let mut state = self.state.write();
        let Some(holder) = state.users.get(user) else {
            return Err(EtcdError::PermissionDenied);
        };
        let merged =
            RangePermissions::merge(holder.roles.iter().filter_map(|role| state.roles.get(role)));
        let allowed = merged.permits(key, range_end, access);
        state.merged.insert(user.to_string(), merged);
        permitted(allowed)
    }

    /// Whether `user` may call the administrative RPCs (membership, alarms, defragment,
    /// snapshot, auth management): only a root while authentication is on.
    pub(crate) fn check_admin(&self, user: &str) -> Result<(), EtcdError> {
        let state = self.state.read();
        if !state.enabled {
            return Ok(());
        }
        if user.is_empty() {
            return Err(EtcdError::UserEmpty);
        }
        if has_root_role(state.user(user)?) {
            Ok(())
        } else {
            Err(EtcdError::PermissionDenied)
        }
    }
}

fn permitted(allowed: bool) -> Result<(), EtcdError> {
    if allowed {
        Ok(())
    } else {
        Err(EtcdError::PermissionDenied)
    }
}

fn has_root_role(user: &User) -> bool {
    user.roles.iter().any(|role| role == ROOT)
}

fn is_passwordless(user: &User) -> bool {
    user.options.as_ref().is_some_and(|o| o.no_password)
}

/// A name as stored (bytes) made text; etcd's names are Go strings, any bytes.
fn text(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

#[cfg(test)]
mod tests {
    use oxcd_api::authpb::permission;

    use super::*;

    fn open() -> (tempfile::TempDir, Backend, AuthStore) {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let store = AuthStore::load(&backend).unwrap();
        (dir, backend, store)
    }

    /// Runs `change` in one backend transaction, as the apply loop does.
    fn apply(
        backend: &Backend,
        change: impl FnOnce(TableWriter<'_>) -> Result<(), AuthError>,
    ) -> Result<(), EtcdError> {
        match backend.write(change) {
            Ok(()) => Ok(()),
            Err(AuthError::Refused(e)) => Err(e),
            Err(AuthError::Storage(e)) => panic!("backend: {e}"),
        }
    }

    fn grant(kind: permission::Type, key: &str, end: &str) -> Permission {
        Permission {
            perm_type: kind as i32,
            key: key.as_bytes().to_vec(),
            range_end: end.as_bytes().to_vec(),
        }
    }

    #[test]
    fn enabling_needs_a_root_user_holding_the_root_role_and_keeps_the_revision() {
        let (_dir, b, s) = open();
        assert_eq!(s.status(), (false, 1), "etcd starts at auth revision 1");
        assert_eq!(apply(&b, |t| s.enable(t)), Err(EtcdError::RootUserNotExist));
        apply(&b, |t| s.add_user(t, ROOT, b"hash".to_vec(), false)).unwrap();
        assert_eq!(apply(&b, |t| s.enable(t)), Err(EtcdError::RootRoleNotExist));
        apply(&b, |t| s.grant_role(t, ROOT, ROOT)).unwrap();
        apply(&b, |t| s.enable(t)).unwrap();
        assert_eq!(s.status(), (true, 3));
        apply(&b, |t| s.enable(t)).unwrap();
        assert_eq!(s.status(), (true, 3));
        apply(&b, |t| s.disable(t)).unwrap();
        assert_eq!(s.status(), (false, 4));
        apply(&b, |t| s.disable(t)).unwrap();
        assert_eq!(s.status(), (false, 4));
    }

    #[test]
    fn root_stays_root_while_authentication_is_on() {
        let (_dir, b, s) = open();
        apply(&b, |t| s.add_user(t, ROOT, Vec::new(), false)).unwrap();
        apply(&b, |t| s.add_role(t, ROOT)).unwrap();
        apply(&b, |t| s.grant_role(t, ROOT, ROOT)).unwrap();
        apply(&b, |t| s.enable(t)).unwrap();
        let refused = Err(EtcdError::InvalidAuthMgmt);
        assert_eq!(apply(&b, |t| s.delete_user(t, ROOT)), refused);
        assert_eq!(apply(&b, |t| s.revoke_role(t, ROOT, ROOT)), refused);
        assert_eq!(apply(&b, |t| s.delete_role(t, ROOT)), refused);
        apply(&b, |t| s.disable(t)).unwrap();
        apply(&b, |t| s.delete_role(t, ROOT)).unwrap();
        assert_eq!(
            s.user_roles(ROOT),
            Ok(Vec::new()),
            "a deleted role leaves its users"
        );
        apply(&b, |t| s.delete_user(t, ROOT)).unwrap();
        assert_eq!(s.user_names(), Vec::<String>::new());
    }

    #[test]
    fn users_and_roles_are_refused_as_etcd_refuses_them() {
        let (_dir, b, s) = open();
        assert_eq!(
            apply(&b, |t| s.add_user(t, "", Vec::new(), false)),
            Err(EtcdError::UserEmpty)
        );
        assert_eq!(apply(&b, |t| s.add_role(t, "")), Err(EtcdError::RoleEmpty));
        apply(&b, |t| s.add_user(t, "u", b"h".to_vec(), false)).unwrap();
        apply(&b, |t| s.add_role(t, "r")).unwrap();
        assert_eq!(
            apply(&b, |t| s.add_user(t, "u", Vec::new(), false)),
            Err(EtcdError::UserAlreadyExist)
        );
        assert_eq!(
            apply(&b, |t| s.add_role(t, "r")),
            Err(EtcdError::RoleAlreadyExist)
        );
        assert_eq!(
            apply(&b, |t| s.grant_role(t, "x", "r")),
            Err(EtcdError::UserNotFound)
        );
        assert_eq!(
            apply(&b, |t| s.grant_role(t, "u", "x")),
            Err(EtcdError::RoleNotFound)
        );
        assert_eq!(
            apply(&b, |t| s.revoke_role(t, "u", "r")),
            Err(EtcdError::RoleNotGranted)
        );
        assert_eq!(
            apply(&b, |t| s.delete_user(t, "x")),
            Err(EtcdError::UserNotFound)
        );
        assert_eq!(
            apply(&b, |t| s.delete_role(t, "x")),
            Err(EtcdError::RoleNotFound)
        );
        assert_eq!(
            apply(&b, |t| s.grant_permission(t, "r", None)),
            Err(EtcdError::PermissionNotGiven)
        );
        assert_eq!(
            apply(&b, |t| s.revoke_permission(t, "r", b"k", b"")),
            Err(EtcdError::PermissionNotGranted)
        );
        let revision = s.status().1;
        apply(&b, |t| s.grant_role(t, "u", "r")).unwrap();
        apply(&b, |t| s.grant_role(t, "u", "r")).unwrap();
        assert_eq!(s.status().1, revision + 1, "a second grant changes nothing");
        assert_eq!(s.user_roles("u"), Ok(vec!["r".to_string()]));
    }

    #[test]
    fn grants_stay_sorted_by_key_and_a_repeated_grant_changes_the_type() {
        let (_dir, b, s) = open();
        apply(&b, |t| s.add_role(t, "r")).unwrap();
        for p in [
            grant(permission::Type::Read, "m", ""),
            grant(permission::Type::Write, "a", "b"),
            grant(permission::Type::Read, "m", "n"),
            grant(permission::Type::Readwrite, "a", "b"),
        ] {
            apply(&b, |t| s.grant_permission(t, "r", Some(&p))).unwrap();
        }
        assert_eq!(
            s.role_permissions("r").unwrap(),
            vec![
                grant(permission::Type::Readwrite, "a", "b"),
                grant(permission::Type::Read, "m", ""),
                grant(permission::Type::Read, "m", "n"),
            ]
        );
        apply(&b, |t| s.revoke_permission(t, "r", b"m", b"n")).unwrap();
        assert_eq!(s.role_permissions("r").unwrap().len(), 2);
    }

    #[test]
    fn checks_follow_roles_root_and_the_revision_of_the_token() {
        let (_dir, b, s) = open();
        apply(&b, |t| s.add_user(t, ROOT, Vec::new(), true)).unwrap();
        apply(&b, |t| s.grant_role(t, ROOT, ROOT)).unwrap();
        apply(&b, |t| s.add_user(t, "u", Vec::new(), true)).unwrap();
        apply(&b, |t| s.add_role(t, "r")).unwrap();
        apply(&b, |t| s.grant_role(t, "u", "r")).unwrap();
        let p = grant(permission::Type::Read, "k/", "k0");
        apply(&b, |t| s.grant_permission(t, "r", Some(&p))).unwrap();
        assert_eq!(
            s.check("", 0, b"x", b"", Access::Write),
            Ok(()),
            "auth is off"
        );
        apply(&b, |t| s.enable(t)).unwrap();
        let rev = s.status().1;

        assert_eq!(s.check("u", rev, b"k/1", b"", Access::Read), Ok(()));
        assert_eq!(
            s.check("u", rev, b"k/1", b"", Access::Write),
            Err(EtcdError::PermissionDenied)
        );
        assert_eq!(
            s.check("u", rev, b"x", b"", Access::Read),
            Err(EtcdError::PermissionDenied)
        );
        assert_eq!(s.check(ROOT, rev, b"x", b"\0", Access::Write), Ok(()));
        assert_eq!(
            s.check("nobody", rev, b"k/1", b"", Access::Read),
            Err(EtcdError::PermissionDenied)
        );
        assert_eq!(
            s.check("u", 0, b"k/1", b"", Access::Read),
            Err(EtcdError::UserEmpty)
        );

        apply(&b, |t| s.revoke_permission(t, "r", b"k/", b"k0")).unwrap();
        assert_eq!(
            s.check("u", rev, b"k/1", b"", Access::Read),
            Err(EtcdError::AuthOldRevision),
            "a token from before the change is refused"
        );
        let rev = s.status().1;
        assert_eq!(
            s.check("u", rev, b"k/1", b"", Access::Read),
            Err(EtcdError::PermissionDenied),
            "the merged permissions of the role's users were recomputed"
        );

        assert_eq!(s.check_admin(ROOT), Ok(()));
        assert_eq!(s.check_admin("u"), Err(EtcdError::PermissionDenied));
        assert_eq!(s.check_admin("nobody"), Err(EtcdError::UserNotFound));
        assert_eq!(s.check_admin(""), Err(EtcdError::UserEmpty));
    }

    #[test]
    fn the_state_is_reloaded_from_the_backend() {
        let (_dir, b, s) = open();
        apply(&b, |t| s.add_user(t, ROOT, b"hash".to_vec(), false)).unwrap();
        apply(&b, |t| s.grant_role(t, ROOT, ROOT)).unwrap();
        apply(&b, |t| s.add_role(t, "r")).unwrap();
        let p = grant(permission::Type::Write, "a", "\0");
        apply(&b, |t| s.grant_permission(t, "r", Some(&p))).unwrap();
        apply(&b, |t| s.enable(t)).unwrap();
        apply(&b, |t| s.change_password(t, ROOT, b"other".to_vec())).unwrap();

        let reloaded = AuthStore::load(&b).unwrap();
        assert_eq!(reloaded.status(), s.status());
        assert_eq!(reloaded.user_names(), s.user_names());
        assert_eq!(reloaded.role_names(), vec!["r".to_string()]);
        assert_eq!(reloaded.role_permissions("r"), s.role_permissions("r"));
        assert_eq!(
            reloaded.state.read().users[ROOT].password,
            b"other".to_vec()
        );
    }
}
