//! The command tree of etcdctl 3.5.1 as far as oxctl implements it: names, usage lines,
//! descriptions and flags exactly as etcdctl defines them. Finding the command an argument
//! list names is `command_path.rs`.

use super::command::{Action, Command};
use super::flag::{FlagKind, FlagSpec};
use super::maintenance_commands;

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

    let lock = Command::new(
        "lock <lockname> [exec-command arg1 arg2 ...]",
        "Acquires a named lock",
        Some(Action::Lock),
    )
    .flag(FlagSpec::new("ttl", Int64, "10", "timeout for session"));

    let elect = Command::new(
        "elect <election-name> [proposal]",
        "Observes and participates in leader election",
        Some(Action::Elect),
    )
    .flag(FlagSpec::new("listen", Bool, "false", "observation mode").short('l'));

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

    let snapshot = maintenance_commands::snapshot();
    let check = maintenance_commands::check();
    let make_mirror = maintenance_commands::make_mirror();

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
        .child(lock)
        .child(elect)
        .child(auth)
        .child(user)
        .child(role)
        .child(member)
        .child(snapshot)
        .child(check)
        .child(make_mirror)
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
