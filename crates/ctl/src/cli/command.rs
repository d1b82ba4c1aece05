//! One etcdctl command as cobra defines it — name, usage line, descriptions, flags,
//! subcommands — and the [`Action`] oxctl runs for it.

use super::flag::FlagSpec;

/// What running a command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `get`.
    Get,
    /// `put`.
    Put,
    /// `del`.
    Del,
    /// `txn`.
    Txn,
    /// `compaction`.
    Compaction,
    /// `member add`.
    MemberAdd,
    /// `member remove`.
    MemberRemove,
    /// `member update`.
    MemberUpdate,
    /// `member list`.
    MemberList,
    /// `member promote`.
    MemberPromote,
    /// `endpoint health`.
    EndpointHealth,
    /// `endpoint status`.
    EndpointStatus,
    /// `endpoint hashkv`.
    EndpointHashKv,
    /// `lease grant`.
    LeaseGrant,
    /// `lease revoke`.
    LeaseRevoke,
    /// `lease timetolive`.
    LeaseTimeToLive,
    /// `lease list`.
    LeaseList,
    /// `lease keep-alive`.
    LeaseKeepAlive,
    /// `alarm list`.
    AlarmList,
    /// `alarm disarm`.
    AlarmDisarm,
    /// `defrag`.
    Defrag,
    /// `move-leader`.
    MoveLeader,
    /// `lock`.
    Lock,
    /// `elect`.
    Elect,
    /// `auth enable`.
    AuthEnable,
    /// `auth disable`.
    AuthDisable,
    /// `auth status`.
    AuthStatus,
    /// `user add`.
    UserAdd,
    /// `user delete`.
    UserDelete,
    /// `user get`.
    UserGet,
    /// `user list`.
    UserList,
    /// `user passwd`.
    UserPasswd,
    /// `user grant-role`.
    UserGrantRole,
    /// `user revoke-role`.
    UserRevokeRole,
    /// `role add`.
    RoleAdd,
    /// `role delete`.
    RoleDelete,
    /// `role get`.
    RoleGet,
    /// `role list`.
    RoleList,
    /// `role grant-permission`.
    RoleGrantPermission,
    /// `role revoke-permission`.
    RoleRevokePermission,
    /// `watch`.
    Watch,
    /// `version`.
    Version,
    /// `snapshot save`.
    SnapshotSave,
    /// `snapshot status` (run by oxutl).
    SnapshotStatus,
    /// `snapshot restore` (run by oxutl).
    SnapshotRestore,
    /// `check perf`.
    CheckPerf,
    /// `check datascale`.
    CheckDatascale,
    /// `make-mirror`.
    MakeMirror,
    /// `help [command]`.
    Help,
}

/// One command of the tree.
#[derive(Debug, Clone)]
pub struct Command {
    /// Name (first word of `use_line`).
    pub name: &'static str,
    /// Cobra's `Use`.
    pub use_line: &'static str,
    /// One-line description.
    pub short: &'static str,
    /// Long description (may be empty).
    pub long: &'static str,
    /// Flags defined on this command.
    pub flags: Vec<FlagSpec>,
    /// Which of `flags` are inherited by subcommands.
    pub persistent: Vec<&'static str>,
    /// What it runs; `None` for pure parents.
    pub action: Option<Action>,
    /// Subcommands, sorted by name as cobra lists them.
    pub children: Vec<Command>,
}

impl Command {
    pub(super) fn new(
        use_line: &'static str,
        short: &'static str,
        action: Option<Action>,
    ) -> Command {
        Command {
            name: use_line.split(' ').next().unwrap_or(use_line),
            use_line,
            short,
            long: "",
            flags: Vec::new(),
            persistent: Vec::new(),
            action,
            children: Vec::new(),
        }
    }

    pub(super) fn long(mut self, long: &'static str) -> Command {
        self.long = long;
        self
    }

    pub(super) fn flag(mut self, spec: FlagSpec) -> Command {
        self.flags.push(spec);
        self
    }

    pub(super) fn persistent_flag(mut self, spec: FlagSpec) -> Command {
        self.persistent.push(spec.name);
        self.flags.push(spec);
        self
    }

    pub(super) fn child(mut self, child: Command) -> Command {
        self.children.push(child);
        self.children.sort_by_key(|c| c.name);
        self
    }

    /// Cobra's `Runnable`.
    pub fn runnable(&self) -> bool {
        self.action.is_some()
    }
}
