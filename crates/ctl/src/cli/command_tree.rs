//! The command tree of etcdctl 3.5.1 as far as oxctl implements it: names, usage lines,
//! descriptions and flags exactly as etcdctl defines them, and cobra's way of finding the
//! command an argument list names (prefix matching enabled, flags skipped).

use super::flag::{FlagKind, FlagSet, FlagSpec};

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
    fn new(use_line: &'static str, short: &'static str, action: Option<Action>) -> Command {
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

    fn long(mut self, long: &'static str) -> Command {
        self.long = long;
        self
    }

    fn flag(mut self, spec: FlagSpec) -> Command {
        self.flags.push(spec);
        self
    }

    fn persistent_flag(mut self, spec: FlagSpec) -> Command {
        self.persistent.push(spec.name);
        self.flags.push(spec);
        self
    }

    fn child(mut self, child: Command) -> Command {
        self.children.push(child);
        self.children.sort_by_key(|c| c.name);
        self
    }

    /// Cobra's `Runnable`.
    pub fn runnable(&self) -> bool {
        self.action.is_some()
    }
}

/// The root `etcdctl` command with every subcommand.
pub fn tree() -> Command {
    use FlagKind::*;
    let root = Command::new("etcdctl", "A simple command line client for etcd3.", None)
        .persistent_flag(FlagSpec::new("endpoints", StringSlice, "127.0.0.1:2379", "gRPC endpoints"))
        .persistent_flag(FlagSpec::new("debug", Bool, "false", "enable client-side debug logging"))
        .persistent_flag(
            FlagSpec::new(
                "write-out",
                String,
                "simple",
                "set the output format (fields, json, protobuf, simple, table)",
            )
            .short('w'),
        )
        .persistent_flag(FlagSpec::new("hex", Bool, "false", "print byte strings as hex encoded strings"))
        .persistent_flag(FlagSpec::new("dial-timeout", Duration, "2s", "dial timeout for client connections"))
        .persistent_flag(FlagSpec::new(
            "command-timeout",
            Duration,
            "5s",
            "timeout for short running command (excluding dial timeout)",
        ))
        .persistent_flag(FlagSpec::new("keepalive-time", Duration, "2s", "keepalive time for client connections"))
        .persistent_flag(FlagSpec::new(
            "keepalive-timeout",
            Duration,
            "6s",
            "keepalive timeout for client connections",
        ))
        .persistent_flag(FlagSpec::new(
            "insecure-transport",
            Bool,
            "true",
            "disable transport security for client connections",
        ))
        .persistent_flag(FlagSpec::new(
            "insecure-discovery",
            Bool,
            "true",
            "accept insecure SRV records describing cluster endpoints",
        ))
        .persistent_flag(FlagSpec::new(
            "insecure-skip-tls-verify",
            Bool,
            "false",
            "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)",
        ))
        .persistent_flag(FlagSpec::new("cert", String, "", "identify secure client using this TLS certificate file"))
        .persistent_flag(FlagSpec::new("key", String, "", "identify secure client using this TLS key file"))
        .persistent_flag(FlagSpec::new(
            "cacert",
            String,
            "",
            "verify certificates of TLS-enabled secure servers using this CA bundle",
        ))
        .persistent_flag(FlagSpec::new(
            "user",
            String,
            "",
            "username[:password] for authentication (prompt if password is not supplied)",
        ))
        .persistent_flag(FlagSpec::new(
            "password",
            String,
            "",
            "password for authentication (if this option is used, --user option shouldn't include password)",
        ))
        .persistent_flag(
            FlagSpec::new(
                "discovery-srv",
                String,
                "",
                "domain name to query for SRV records describing cluster endpoints",
            )
            .short('d'),
        )
        .persistent_flag(FlagSpec::new(
            "discovery-srv-name",
            String,
            "",
            "service name to query when using DNS discovery",
        ));

    let get = Command::new(
        "get [options] <key> [range_end]",
        "Gets the key or a range of keys",
        Some(Action::Get),
    )
    .flag(FlagSpec::new(
        "consistency",
        String,
        "l",
        "Linearizable(l) or Serializable(s)",
    ))
    .flag(FlagSpec::new(
        "order",
        String,
        "",
        "Order of results; ASCEND or DESCEND (ASCEND by default)",
    ))
    .flag(FlagSpec::new(
        "sort-by",
        String,
        "",
        "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION",
    ))
    .flag(FlagSpec::new(
        "limit",
        Int64,
        "0",
        "Maximum number of results",
    ))
    .flag(FlagSpec::new(
        "prefix",
        Bool,
        "false",
        "Get keys with matching prefix",
    ))
    .flag(FlagSpec::new(
        "from-key",
        Bool,
        "false",
        "Get keys that are greater than or equal to the given key using byte compare",
    ))
    .flag(FlagSpec::new("rev", Int64, "0", "Specify the kv revision"))
    .flag(FlagSpec::new(
        "keys-only",
        Bool,
        "false",
        "Get only the keys",
    ))
    .flag(FlagSpec::new(
        "count-only",
        Bool,
        "false",
        "Get only the count",
    ))
    .flag(FlagSpec::new(
        "print-value-only",
        Bool,
        "false",
        "Only write values when using the \"simple\" output format",
    ));

    let put = Command::new(
        "put [options] <key> <value> (<value> can also be given from stdin)",
        "Puts the given key into the store",
        Some(Action::Put),
    )
    .long(PUT_LONG)
    .flag(FlagSpec::new(
        "lease",
        String,
        "0",
        "lease ID (in hexadecimal) to attach to the key",
    ))
    .flag(FlagSpec::new(
        "prev-kv",
        Bool,
        "false",
        "return the previous key-value pair before modification",
    ))
    .flag(FlagSpec::new(
        "ignore-value",
        Bool,
        "false",
        "updates the key using its current value",
    ))
    .flag(FlagSpec::new(
        "ignore-lease",
        Bool,
        "false",
        "updates the key using its current lease",
    ));

    let del = Command::new(
        "del [options] <key> [range_end]",
        "Removes the specified key or range of keys [key, range_end)",
        Some(Action::Del),
    )
    .flag(FlagSpec::new(
        "prefix",
        Bool,
        "false",
        "delete keys with matching prefix",
    ))
    .flag(FlagSpec::new(
        "prev-kv",
        Bool,
        "false",
        "return deleted key-value pairs",
    ))
    .flag(FlagSpec::new(
        "from-key",
        Bool,
        "false",
        "delete keys that are greater than or equal to the given key using byte compare",
    ));

    let txn = Command::new(
        "txn [options]",
        "Txn processes all the requests in one transaction",
        Some(Action::Txn),
    )
    .flag(
        FlagSpec::new(
            "interactive",
            Bool,
            "false",
            "Input transaction in interactive mode",
        )
        .short('i'),
    );

    let compaction = Command::new(
        "compaction [options] <revision>",
        "Compacts the event history in etcd",
        Some(Action::Compaction),
    )
    .flag(FlagSpec::new(
        "physical",
        Bool,
        "false",
        "'true' to wait for compaction to physically remove all old revisions",
    ));

    let member = Command::new("member <subcommand>", "Membership related commands", None)
        .child(
            Command::new(
                "add <memberName> [options]",
                "Adds a member into the cluster",
                Some(Action::MemberAdd),
            )
            .flag(FlagSpec::new(
                "peer-urls",
                String,
                "",
                "comma separated peer URLs for the new member.",
            ))
            .flag(FlagSpec::new(
                "learner",
                Bool,
                "false",
                "indicates if the new member is raft learner",
            )),
        )
        .child(Command::new(
            "remove <memberID>",
            "Removes a member from the cluster",
            Some(Action::MemberRemove),
        ))
        .child(
            Command::new(
                "update <memberID> [options]",
                "Updates a member in the cluster",
                Some(Action::MemberUpdate),
            )
            .flag(FlagSpec::new(
                "peer-urls",
                String,
                "",
                "comma separated peer URLs for the updated member.",
            )),
        )
        .child(
            Command::new(
                "list",
                "Lists all members in the cluster",
                Some(Action::MemberList),
            )
            .long(MEMBER_LIST_LONG),
        )
        .child(
            Command::new(
                "promote <memberID>",
                "Promotes a non-voting member in the cluster",
                Some(Action::MemberPromote),
            )
            .long("Promotes a non-voting learner member to a voting one in the cluster.\n"),
        );

    let endpoint = Command::new("endpoint <subcommand>", "Endpoint related commands", None)
        .persistent_flag(FlagSpec::new(
            "cluster",
            Bool,
            "false",
            "use all endpoints from the cluster member list",
        ))
        .child(Command::new(
            "health",
            "Checks the healthiness of endpoints specified in `--endpoints` flag",
            Some(Action::EndpointHealth),
        ))
        .child(
            Command::new(
                "status",
                "Prints out the status of endpoints specified in `--endpoints` flag",
                Some(Action::EndpointStatus),
            )
            .long(ENDPOINT_STATUS_LONG),
        )
        .child(
            Command::new(
                "hashkv",
                "Prints the KV history hash for each endpoint in --endpoints",
                Some(Action::EndpointHashKv),
            )
            .persistent_flag(FlagSpec::new(
                "rev",
                Int64,
                "0",
                "maximum revision to hash (default: all revisions)",
            )),
        );

    let version = Command::new(
        "version",
        "Prints the version of etcdctl",
        Some(Action::Version),
    );

    let lease = Command::new("lease <subcommand>", "Lease related commands", None)
        .child(Command::new(
            "grant <ttl>",
            "Creates leases",
            Some(Action::LeaseGrant),
        ))
        .child(Command::new(
            "revoke <leaseID>",
            "Revokes leases",
            Some(Action::LeaseRevoke),
        ))
        .child(
            Command::new(
                "timetolive <leaseID> [options]",
                "Get lease information",
                Some(Action::LeaseTimeToLive),
            )
            .flag(FlagSpec::new(
                "keys",
                Bool,
                "false",
                "Get keys attached to this lease",
            )),
        )
        .child(Command::new(
            "list",
            "List all active leases",
            Some(Action::LeaseList),
        ))
        .child(
            Command::new(
                "keep-alive [options] <leaseID>",
                "Keeps leases alive (renew)",
                Some(Action::LeaseKeepAlive),
            )
            .flag(FlagSpec::new(
                "once",
                Bool,
                "false",
                "Resets the keep-alive time to its original value and cobrautl.Exits immediately",
            )),
        );

    let alarm = Command::new("alarm <subcommand>", "Alarm related commands", None)
        .child(Command::new(
            "disarm",
            "Disarms all alarms",
            Some(Action::AlarmDisarm),
        ))
        .child(Command::new(
            "list",
            "Lists all alarms",
            Some(Action::AlarmList),
        ));

    let defrag = Command::new(
        "defrag",
        "Defragments the storage of the etcd members with given endpoints",
        Some(Action::Defrag),
    )
    .persistent_flag(FlagSpec::new(
        "cluster",
        Bool,
        "false",
        "use all endpoints from the cluster member list",
    ))
    .flag(FlagSpec::new(
        "data-dir",
        String,
        "",
        "Optional. If present, defragments a data directory not in use by etcd.",
    ));

    let move_leader = Command::new(
        "move-leader <transferee-member-id>",
        "Transfers leadership to another etcd cluster member.",
        Some(Action::MoveLeader),
    );

    let watch = Command::new(
        "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
        "Watches events stream on keys or prefixes",
        Some(Action::Watch),
    )
    .flag(FlagSpec::new("interactive", Bool, "false", "Interactive mode").short('i'))
    .flag(FlagSpec::new(
        "prefix",
        Bool,
        "false",
        "Watch on a prefix if prefix is set",
    ))
    .flag(FlagSpec::new(
        "rev",
        Int64,
        "0",
        "Revision to start watching",
    ))
    .flag(FlagSpec::new(
        "prev-kv",
        Bool,
        "false",
        "get the previous key-value pair before the event happens",
    ))
    .flag(FlagSpec::new(
        "progress-notify",
        Bool,
        "false",
        "get periodic watch progress notification from server",
    ));

    let auth = Command::new(
        "auth <enable or disable>",
        "Enable or disable authentication",
        None,
    )
    .child(Command::new(
        "enable",
        "Enables authentication",
        Some(Action::AuthEnable),
    ))
    .child(Command::new(
        "disable",
        "Disables authentication",
        Some(Action::AuthDisable),
    ))
    .child(Command::new(
        "status",
        "Returns authentication status",
        Some(Action::AuthStatus),
    ));

    let user = Command::new("user <subcommand>", "User related commands", None)
        .child(
            Command::new(
                "add <user name or user:password> [options]",
                "Adds a new user",
                Some(Action::UserAdd),
            )
            .flag(FlagSpec::new(
                "interactive",
                Bool,
                "true",
                "Read password from stdin instead of interactive terminal",
            ))
            .flag(FlagSpec::new(
                "new-user-password",
                String,
                "",
                "Supply password from the command line flag",
            ))
            .flag(FlagSpec::new(
                "no-password",
                Bool,
                "false",
                "Create a user without password (CN based auth only)",
            )),
        )
        .child(Command::new(
            "delete <user name>",
            "Deletes a user",
            Some(Action::UserDelete),
        ))
        .child(
            Command::new(
                "get <user name> [options]",
                "Gets detailed information of a user",
                Some(Action::UserGet),
            )
            .flag(FlagSpec::new(
                "detail",
                Bool,
                "false",
                "Show permissions of roles granted to the user",
            )),
        )
        .child(Command::new(
            "list",
            "Lists all users",
            Some(Action::UserList),
        ))
        .child(
            Command::new(
                "passwd <user name> [options]",
                "Changes password of user",
                Some(Action::UserPasswd),
            )
            .flag(FlagSpec::new(
                "interactive",
                Bool,
                "true",
                "If true, read password from stdin instead of interactive terminal",
            )),
        )
        .child(Command::new(
            "grant-role <user name> <role name>",
            "Grants a role to a user",
            Some(Action::UserGrantRole),
        ))
        .child(Command::new(
            "revoke-role <user name> <role name>",
            "Revokes a role from a user",
            Some(Action::UserRevokeRole),
        ));

    let role = Command::new("role <subcommand>", "Role related commands", None)
        .child(Command::new("add <role name>", "Adds a new role", Some(Action::RoleAdd)))
        .child(Command::new("delete <role name>", "Deletes a role", Some(Action::RoleDelete)))
        .child(Command::new("get <role name>", "Gets detailed information of a role", Some(Action::RoleGet)))
        .child(Command::new("list", "Lists all roles", Some(Action::RoleList)))
        .child(
            Command::new(
                "grant-permission [options] <role name> <permission type> <key> [endkey]",
                "Grants a key to a role",
                Some(Action::RoleGrantPermission),
            )
            .flag(FlagSpec::new("prefix", Bool, "false", "grant a prefix permission"))
            .flag(FlagSpec::new(
                "from-key",
                Bool,
                "false",
                "grant a permission of keys that are greater than or equal to the given key using byte compare",
            )),
        )
        .child(
            Command::new(
                "revoke-permission <role name> <key> [endkey]",
                "Revokes a key from a role",
                Some(Action::RoleRevokePermission),
            )
            .flag(FlagSpec::new("prefix", Bool, "false", "revoke a prefix permission"))
            .flag(FlagSpec::new(
                "from-key",
                Bool,
                "false",
                "revoke a permission of keys that are greater than or equal to the given key using byte compare",
            )),
        );

    let help = Command::new("help [command]", "Help about any command", Some(Action::Help)).long(
        "Help provides help for any command in the application.\nSimply type etcdctl help [path to command] for full details.",
    );

    root.child(get)
        .child(put)
        .child(del)
        .child(txn)
        .child(compaction)
        .child(endpoint)
        .child(version)
        .child(lease)
        .child(alarm)
        .child(defrag)
        .child(move_leader)
        .child(watch)
        .child(auth)
        .child(user)
        .child(role)
        .child(member)
        .child(help)
}

const PUT_LONG: &str = "
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
";

const MEMBER_LIST_LONG: &str = "When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
";

const ENDPOINT_STATUS_LONG: &str = "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
";

/// A command together with its ancestors, root first.
#[derive(Debug, Clone)]
pub struct CommandPath<'a> {
    chain: Vec<&'a Command>,
}

impl<'a> CommandPath<'a> {
    /// The path of the root alone.
    pub fn root(root: &'a Command) -> CommandPath<'a> {
        CommandPath { chain: vec![root] }
    }

    /// The command itself.
    pub fn command(&self) -> &'a Command {
        self.chain[self.chain.len() - 1]
    }

    /// True for the root command.
    pub fn is_root(&self) -> bool {
        self.chain.len() == 1
    }

    /// Cobra's `CommandPath`: `etcdctl member list`.
    pub fn command_path(&self) -> String {
        self.chain
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The path without the root (`member list`), as usage's NAME shows it.
    pub fn name_below_root(&self) -> String {
        self.chain[1..]
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Cobra's `UseLine`.
    pub fn use_line(&self) -> String {
        let command = self.command();
        let mut line = if self.is_root() {
            command.use_line.to_string()
        } else {
            let parent: Vec<&str> = self.chain[..self.chain.len() - 1]
                .iter()
                .map(|c| c.name)
                .collect();
            format!("{} {}", parent.join(" "), command.use_line)
        };
        if !line.contains("[flags]") {
            line.push_str(" [flags]");
        }
        line
    }

    /// Flags defined on the command plus its `--help`, as cobra's `LocalFlags`.
    pub fn local_flags(&self) -> Vec<FlagSpec> {
        let command = self.command();
        let mut flags = command.flags.clone();
        flags.push(
            FlagSpec::new(
                "help",
                FlagKind::Bool,
                "false",
                format!("help for {}", command.name),
            )
            .short('h'),
        );
        flags.sort_by_key(|f| f.name);
        flags
    }

    /// Persistent flags of the ancestors, as cobra's `InheritedFlags`.
    pub fn inherited_flags(&self) -> Vec<FlagSpec> {
        let mut flags: Vec<FlagSpec> = self.chain[..self.chain.len() - 1]
            .iter()
            .flat_map(|c| {
                c.flags
                    .iter()
                    .filter(|f| c.persistent.contains(&f.name))
                    .cloned()
            })
            .collect();
        flags.sort_by_key(|f| f.name);
        flags
    }

    /// Every flag the command accepts.
    pub fn flag_set(&self) -> FlagSet {
        let mut specs = self.local_flags();
        specs.extend(self.inherited_flags());
        FlagSet::new(specs)
    }

    fn child(&self, command: &'a Command) -> CommandPath<'a> {
        let mut chain = self.chain.clone();
        chain.push(command);
        CommandPath { chain }
    }
}

/// Finds the command `args` name, like cobra's `Find`: returns it and the arguments left for
/// it (its flags and positional arguments).
pub fn find<'a>(root: &'a Command, args: &[String]) -> (CommandPath<'a>, Vec<String>) {
    let mut path = CommandPath::root(root);
    let mut rest = args.to_vec();
    loop {
        let words = strip_flags(&rest, &path.flag_set());
        let Some(next) = words.first() else {
            return (path, rest);
        };
        let Some(child) = find_next(path.command(), next) else {
            return (path, rest);
        };
        if let Some(position) = rest.iter().position(|a| a == next) {
            rest.remove(position);
        }
        path = path.child(child);
    }
}

/// A child named exactly `name`, else the only child whose name starts with it.
pub fn find_next<'a>(command: &'a Command, name: &str) -> Option<&'a Command> {
    if let Some(exact) = command.children.iter().find(|c| c.name == name) {
        return Some(exact);
    }
    let mut prefixed = command.children.iter().filter(|c| c.name.starts_with(name));
    match (prefixed.next(), prefixed.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The non-flag words of `args` (cobra's `stripFlags`), skipping values of flags that take
/// one; an unknown `--flag` is assumed to take one.
pub fn strip_flags(args: &[String], flags: &FlagSet) -> Vec<String> {
    let takes_no_value = |name: &str| flags.spec(name).is_some_and(|s| s.kind == FlagKind::Bool);
    let short_takes_no_value = |letter: &str| {
        flags.specs().iter().any(|s| {
            s.kind == FlagKind::Bool && s.shorthand.map(String::from).as_deref() == Some(letter)
        })
    };
    let mut words = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let skips_value =
            (arg.starts_with("--") && !arg.contains('=') && !takes_no_value(&arg[2..]))
                || (arg.starts_with('-')
                    && !arg.starts_with("--")
                    && !arg.contains('=')
                    && arg.len() == 2
                    && !short_takes_no_value(&arg[1..]));
        if skips_value {
            if args.len() - i <= 1 {
                break;
            }
            i += 1;
            continue;
        }
        if !arg.is_empty() && !arg.starts_with('-') {
            words.push(arg.clone());
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_commands_through_flags_and_prefixes() {
        let root = tree();
        let (path, rest) = find(
            &root,
            &strings(&["--endpoints", "x:1", "get", "k", "--prefix"]),
        );
        assert_eq!(path.command_path(), "etcdctl get");
        assert_eq!(rest, strings(&["--endpoints", "x:1", "k", "--prefix"]));

        let (path, _) = find(&root, &strings(&["mem", "l"]));
        assert_eq!(path.command_path(), "etcdctl member list");

        let (path, rest) = find(&root, &strings(&["-w", "json", "endpoint", "status"]));
        assert_eq!(path.command_path(), "etcdctl endpoint status");
        assert_eq!(rest, strings(&["-w", "json"]));
    }

    #[test]
    fn use_lines_and_flags_match_cobra() {
        let root = tree();
        let (path, _) = find(&root, &strings(&["endpoint", "hashkv"]));
        assert_eq!(path.use_line(), "etcdctl endpoint hashkv [flags]");
        let local: Vec<&str> = path.local_flags().iter().map(|f| f.name).collect();
        assert_eq!(local, vec!["help", "rev"]);
        assert!(path.inherited_flags().iter().any(|f| f.name == "cluster"));
        assert_eq!(CommandPath::root(&root).use_line(), "etcdctl [flags]");
    }
}
