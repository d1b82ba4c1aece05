//! etcdutl 3.5.1's command line as cobra parses it: the command tree, each command's flags
//! (with etcdutl's names, defaults and help text), flags anywhere among the arguments, `-h`,
//! the global `-w/--write-out`, and cobra's help and error texts, so scripts written against
//! etcdutl read the same answers from oxutl.

use std::collections::BTreeMap;

/// The program name cobra prints (oxutl answers as etcdutl, as oxctl answers as etcdctl).
pub const PROGRAM: &str = "etcdutl";

const WRITE_OUT_USAGE: &str =
    "set the output format (fields, json, protobuf, simple, table) (default \"simple\")";

/// Kinds of flag values, as pflag names them in help.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    Uint,
    Int,
}

/// One flag of a command.
struct FlagSpec {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    usage: &'static str,
    required: bool,
}

const fn flag(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    usage: &'static str,
) -> FlagSpec {
    FlagSpec {
        name,
        kind,
        default,
        usage,
        required: false,
    }
}

/// What the user asked to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `snapshot status <file>`.
    SnapshotStatus,
    /// `snapshot restore <file> ...`.
    SnapshotRestore,
    /// `snapshot save`: deprecated in etcdutl, which points to `etcdctl snapshot save`.
    SnapshotSave,
    /// `defrag --data-dir`.
    Defrag,
    /// `hashkv <file> [--rev]` (etcdutl 3.6's command).
    HashKv,
    /// `version`.
    Version,
    /// `backup`.
    Backup,
}

/// A command of the tree.
struct Spec {
    /// Path below the root (`"snapshot status"`; empty for the root).
    path: &'static str,
    /// cobra's `Use` after the name (`"<filename>"`).
    use_args: &'static str,
    short: &'static str,
    flags: &'static [FlagSpec],
    children: &'static [&'static str],
    action: Option<Action>,
    /// Left out of the parent's command list (etcdutl's deprecated `snapshot save`).
    hidden: bool,
}

const SNAPSHOT_RESTORE_FLAGS: &[FlagSpec] = &[
    flag(
        "bump-revision",
        Kind::Uint,
        "0",
        "How much to increase the latest revision after restore",
    ),
    FlagSpec {
        required: true,
        ..flag(
            "data-dir",
            Kind::Str,
            "",
            "Path to the output data directory",
        )
    },
    flag(
        "initial-advertise-peer-urls",
        Kind::Str,
        "http://localhost:2380",
        "List of this member's peer URLs to advertise to the rest of the cluster",
    ),
    flag(
        "initial-cluster",
        Kind::Str,
        "default=http://localhost:2380",
        "Initial cluster configuration for restore bootstrap",
    ),
    flag(
        "initial-cluster-token",
        Kind::Str,
        "etcd-cluster",
        "Initial cluster token for the etcd cluster during restore bootstrap",
    ),
    flag(
        "mark-compacted",
        Kind::Bool,
        "false",
        "Mark the latest revision after restore as the point of scheduled compaction (required if --bump-revision > 0, disallowed otherwise)",
    ),
    flag(
        "name",
        Kind::Str,
        "default",
        "Human-readable name for this member",
    ),
    flag(
        "skip-hash-check",
        Kind::Bool,
        "false",
        "Ignore snapshot integrity hash value (required if copied from data directory)",
    ),
    flag(
        "wal-dir",
        Kind::Str,
        "",
        "Path to the WAL directory (use --data-dir if none given)",
    ),
];

const DEFRAG_FLAGS: &[FlagSpec] = &[FlagSpec {
    required: true,
    ..flag(
        "data-dir",
        Kind::Str,
        "",
        "Required. Defragments a data directory not in use by etcd.",
    )
}];

const BACKUP_FLAGS: &[FlagSpec] = &[
    FlagSpec {
        required: true,
        ..flag("backup-dir", Kind::Str, "", "Path to the backup dir")
    },
    flag(
        "backup-wal-dir",
        Kind::Str,
        "",
        "Path to the backup wal dir",
    ),
    FlagSpec {
        required: true,
        ..flag("data-dir", Kind::Str, "", "Path to the etcd data dir")
    },
    flag("wal-dir", Kind::Str, "", "Path to the etcd wal dir"),
    flag("with-v3", Kind::Bool, "true", "Backup v3 backend data"),
];

const HASHKV_FLAGS: &[FlagSpec] = &[flag(
    "rev",
    Kind::Int,
    "0",
    "maximum revision to hash (default: latest revision)",
)];

const TREE: &[Spec] = &[
    Spec {
        path: "",
        use_args: "",
        short: "",
        flags: &[],
        children: &["backup", "defrag", "hashkv", "help", "snapshot", "version"],
        action: None,
        hidden: false,
    },
    Spec {
        path: "backup",
        use_args: "",
        short: "[legacy] offline backup of etcd directory",
        flags: BACKUP_FLAGS,
        children: &[],
        action: Some(Action::Backup),
        hidden: false,
    },
    Spec {
        path: "defrag",
        use_args: "",
        short: "Defragments the storage of the etcd",
        flags: DEFRAG_FLAGS,
        children: &[],
        action: Some(Action::Defrag),
        hidden: false,
    },
    Spec {
        path: "hashkv",
        use_args: "<filename>",
        short: "Prints the KV history hash of a given file",
        flags: HASHKV_FLAGS,
        children: &[],
        action: Some(Action::HashKv),
        hidden: false,
    },
    Spec {
        path: "help",
        use_args: "[command]",
        short: "Help about any command",
        flags: &[],
        children: &[],
        action: None,
        hidden: false,
    },
    Spec {
        path: "snapshot",
        use_args: "<subcommand>",
        short: "Manages etcd node snapshots",
        flags: &[],
        children: &["snapshot restore", "snapshot save", "snapshot status"],
        action: None,
        hidden: false,
    },
    Spec {
        path: "snapshot restore",
        use_args: "<filename> --data-dir {output dir} [options]",
        short: "Restores an etcd member snapshot to an etcd directory",
        flags: SNAPSHOT_RESTORE_FLAGS,
        children: &[],
        action: Some(Action::SnapshotRestore),
        hidden: false,
    },
    Spec {
        path: "snapshot save",
        use_args: "<filename>",
        short: "Stores an etcd node backend snapshot to a given file",
        flags: &[],
        children: &[],
        action: Some(Action::SnapshotSave),
        hidden: true,
    },
    Spec {
        path: "snapshot status",
        use_args: "<filename>",
        short: "Gets backend snapshot status of a given file",
        flags: &[],
        children: &[],
        action: Some(Action::SnapshotStatus),
        hidden: false,
    },
    Spec {
        path: "version",
        use_args: "",
        short: "Prints the version of etcdutl",
        flags: &[],
        children: &[],
        action: Some(Action::Version),
        hidden: false,
    },
];

fn spec(path: &str) -> &'static Spec {
    TREE.iter()
        .find(|s| s.path == path)
        .expect("every path named in the tree is in the tree")
}

fn name_of(path: &str) -> &str {
    path.rsplit(' ').next().unwrap_or(path)
}

/// A parsed command line.
#[derive(Debug)]
pub struct Invocation {
    /// What to run.
    pub action: Action,
    /// Positional arguments.
    pub args: Vec<String>,
    /// `-w/--write-out`.
    pub write_out: String,
    flags: BTreeMap<&'static str, String>,
    path: &'static str,
}

impl Invocation {
    /// A string flag's value (its default if not given).
    pub fn string(&self, name: &str) -> String {
        self.flags.get(name).cloned().unwrap_or_else(|| {
            spec(self.path)
                .flags
                .iter()
                .find(|f| f.name == name)
                .map_or_else(String::new, |f| f.default.to_owned())
        })
    }

    /// A boolean flag's value.
    pub fn bool(&self, name: &str) -> bool {
        self.string(name) == "true"
    }

    /// An unsigned flag's value (checked when parsed).
    pub fn uint(&self, name: &str) -> u64 {
        self.string(name).parse().unwrap_or(0)
    }

    /// A signed flag's value (checked when parsed).
    pub fn int(&self, name: &str) -> i64 {
        self.string(name).parse().unwrap_or(0)
    }
}

/// What parsing decided, besides running a command.
#[derive(Debug)]
pub enum Parsed {
    /// Run this.
    Run(Invocation),
    /// Print this help on stdout and exit 0.
    Help(String),
    /// cobra refused the command line (or answers on stderr): print the text on stderr and
    /// exit with the code.
    Refused {
        /// The whole stderr text.
        text: String,
        /// The exit code.
        code: i32,
    },
}

fn flag_error(path: &str, message: &str) -> Parsed {
    Parsed::Refused {
        text: format!("Error: {message}\n{}\nError: {message}\n", usage(path)),
        code: 1,
    }
}

/// Parses etcdutl's command line (without the program name).
pub fn parse(argv: &[String]) -> Parsed {
    let mut path: &'static str = "";
    let mut positional: Vec<String> = Vec::new();
    let mut flags: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut write_out = "simple".to_owned();
    let mut help = false;
    let mut rest = argv.iter();
    let mut only_args = false;
    while let Some(arg) = rest.next() {
        if only_args || !arg.starts_with('-') || arg == "-" {
            // Command names are recognised until the first positional argument.
            let candidate = if path.is_empty() {
                arg.clone()
            } else {
                format!("{path} {arg}")
            };
            if positional.is_empty()
                && let Some(child) = spec(path).children.iter().find(|c| **c == candidate)
            {
                path = child;
                continue;
            }
            positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            only_args = true;
            continue;
        }
        let missing_value = if arg.starts_with("--") {
            format!("flag needs an argument: {arg}")
        } else {
            format!(
                "flag needs an argument: '{}' in {arg}",
                arg.chars().nth(1).unwrap_or('-')
            )
        };
        let (name, inline) = match arg.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (long.to_owned(), None),
            },
            None => {
                let short = &arg[1..];
                let mut chars = short.chars();
                let letter = chars.next().unwrap_or('-');
                let tail: String = chars.collect();
                let inline = if tail.is_empty() {
                    None
                } else {
                    Some(tail.strip_prefix('=').unwrap_or(&tail).to_owned())
                };
                match letter {
                    'h' => ("help".to_owned(), inline),
                    'w' => ("write-out".to_owned(), inline),
                    other => {
                        return flag_error(
                            path,
                            &format!("unknown shorthand flag: '{other}' in {arg}"),
                        );
                    }
                }
            }
        };
        if name == "help" {
            help = true;
            continue;
        }
        if name == "write-out" {
            match inline.or_else(|| rest.next().cloned()) {
                Some(v) => write_out = v,
                None => return flag_error(path, &missing_value),
            }
            continue;
        }
        let Some(spec_flag) = spec(path).flags.iter().find(|f| f.name == name) else {
            return flag_error(path, &format!("unknown flag: --{name}"));
        };
        let value = if spec_flag.kind == Kind::Bool {
            inline.unwrap_or_else(|| "true".to_owned())
        } else {
            match inline.or_else(|| rest.next().cloned()) {
                Some(v) => v,
                None => return flag_error(path, &missing_value),
            }
        };
        let valid = match spec_flag.kind {
            Kind::Str => Ok(value.clone()),
            Kind::Bool => go_bool(&value),
            Kind::Uint => value
                .parse::<u64>()
                .map(|v| v.to_string())
                .map_err(|_| format!("strconv.ParseUint: parsing \"{value}\": invalid syntax")),
            Kind::Int => value
                .parse::<i64>()
                .map(|v| v.to_string())
                .map_err(|_| format!("strconv.ParseInt: parsing \"{value}\": invalid syntax")),
        };
        match valid {
            Ok(v) => {
                flags.insert(spec_flag.name, v);
            }
            Err(why) => {
                return flag_error(
                    path,
                    &format!("invalid argument \"{value}\" for \"--{name}\" flag: {why}"),
                );
            }
        }
    }

    if path == "help" {
        let target = positional.join(" ");
        return match TREE.iter().find(|s| !s.path.is_empty() && s.path == target) {
            Some(s) => Parsed::Help(help_text(s.path)),
            None if target.is_empty() => Parsed::Help(help_text("")),
            // cobra has not added the root's help flag yet when it answers this.
            None => Parsed::Refused {
                text: format!(
                    "Unknown help topic [{}]\n{}",
                    positional
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    usage("").replace(
                        &format!("  -h, --help               help for {PROGRAM}\n"),
                        ""
                    )
                ),
                code: 0,
            },
        };
    }
    if help {
        return Parsed::Help(help_text(path));
    }
    let Some(action) = spec(path).action else {
        if path.is_empty()
            && let Some(unknown) = positional.first()
        {
            let message = format!("unknown command \"{unknown}\" for \"{PROGRAM}\"");
            return Parsed::Refused {
                text: format!(
                    "Error: {message}\nRun '{PROGRAM} --help' for usage.\nError: {message}\n"
                ),
                code: 1,
            };
        }
        return Parsed::Help(help_text(path));
    };
    let missing: Vec<String> = spec(path)
        .flags
        .iter()
        .filter(|f| f.required && !flags.contains_key(f.name))
        .map(|f| format!("\"{}\"", f.name))
        .collect();
    if !missing.is_empty() {
        return flag_error(
            path,
            &format!("required flag(s) {} not set", missing.join(", ")),
        );
    }
    if action == Action::HashKv && positional.len() != 1 {
        return flag_error(
            path,
            &format!("accepts 1 arg(s), received {}", positional.len()),
        );
    }
    Parsed::Run(Invocation {
        action,
        args: positional,
        write_out,
        flags,
        path,
    })
}

/// Go's `strconv.ParseBool`, as pflag reads boolean flags.
fn go_bool(value: &str) -> Result<String, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".to_owned()),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".to_owned()),
        _ => Err(format!(
            "strconv.ParseBool: parsing \"{value}\": invalid syntax"
        )),
    }
}

/// cobra's help for a command: its usage text (etcdutl's commands print no description).
pub fn help_text(path: &str) -> String {
    usage(path)
}

/// cobra's usage text of the command at `path`.
fn usage(path: &str) -> String {
    let s = spec(path);
    let full = if path.is_empty() {
        PROGRAM.to_owned()
    } else {
        format!("{PROGRAM} {path}")
    };
    let mut out = String::from("Usage:\n");
    if s.children.is_empty() {
        let mut line = format!("  {full}");
        if !s.use_args.is_empty() {
            line.push(' ');
            line.push_str(s.use_args);
        }
        line.push_str(" [flags]");
        out.push_str(&line);
        out.push('\n');
    } else {
        out.push_str(&format!("  {full} [command]\n"));
        out.push_str("\nAvailable Commands:\n");
        for child in s.children.iter().filter(|c| !spec(c).hidden) {
            out.push_str(&format!("  {:<11} {}\n", name_of(child), spec(child).short));
        }
    }
    let help_line = (
        "-h, --help".to_owned(),
        format!("help for {}", name_of(&full)),
    );
    let mut lines: Vec<(String, String)> = Vec::new();
    for f in s.flags {
        let kind = match f.kind {
            Kind::Str => " string",
            Kind::Bool => "",
            Kind::Uint => " uint",
            Kind::Int => " int",
        };
        let default = match f.kind {
            Kind::Str if !f.default.is_empty() => format!(" (default \"{}\")", f.default),
            Kind::Bool if f.default == "true" => " (default true)".to_owned(),
            _ => String::new(),
        };
        lines.push((
            format!("    --{}{kind}", f.name),
            format!("{}{default}", f.usage),
        ));
    }
    if path.is_empty() {
        lines.push(help_line);
        lines.push((
            "-w, --write-out string".to_owned(),
            WRITE_OUT_USAGE.to_owned(),
        ));
    } else {
        lines.push(help_line);
    }
    lines.sort_by(|a, b| flag_sort_key(&a.0).cmp(flag_sort_key(&b.0)));
    out.push_str("\nFlags:\n");
    out.push_str(&flag_lines(&lines));
    if !path.is_empty() {
        out.push_str("\nGlobal Flags:\n");
        out.push_str(&flag_lines(&[(
            "-w, --write-out string".to_owned(),
            WRITE_OUT_USAGE.to_owned(),
        )]));
    }
    if !s.children.is_empty() {
        out.push_str(&format!(
            "\nUse \"{full} [command] --help\" for more information about a command.\n"
        ));
    }
    out
}

/// Flags sort by long name, as pflag lists them.
fn flag_sort_key(line: &str) -> &str {
    line.split("--").nth(1).unwrap_or(line)
}

/// pflag's `FlagUsages`: names padded to the longest, then three spaces and the usage.
fn flag_lines(lines: &[(String, String)]) -> String {
    let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(name, text)| format!("  {name:<width$}   {text}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn restore_help_is_etcdutls_with_the_revision_flags() {
        let Parsed::Help(text) = parse(&args("snapshot restore --help")) else {
            panic!("help expected");
        };
        assert!(text.starts_with(
            "Usage:\n  etcdutl snapshot restore <filename> --data-dir {output dir} [options] [flags]\n\nFlags:\n      --bump-revision uint                   How much"
        ), "{text}");
        assert!(text.contains(
            "      --data-dir string                      Path to the output data directory\n  -h, --help                                 help for restore\n"
        ), "{text}");
        assert!(text.ends_with("Global Flags:\n  -w, --write-out string   set the output format (fields, json, protobuf, simple, table) (default \"simple\")\n"), "{text}");
    }

    #[test]
    fn flags_go_anywhere_and_take_inline_values() {
        let Parsed::Run(inv) = parse(&args("snapshot status -w=json f.db")) else {
            panic!("run expected");
        };
        assert_eq!(inv.action, Action::SnapshotStatus);
        assert_eq!(inv.args, vec!["f.db".to_owned()]);
        assert_eq!(inv.write_out, "json");
        let Parsed::Run(inv) = parse(&args(
            "snapshot restore f.db --skip-hash-check --bump-revision=5 --data-dir d",
        )) else {
            panic!("run expected");
        };
        assert!(inv.bool("skip-hash-check"));
        assert_eq!(inv.uint("bump-revision"), 5);
        assert_eq!(inv.string("name"), "default");
    }

    #[test]
    fn refusals_are_cobras() {
        let Parsed::Refused { text, code } = parse(&args("snapshot restore f.db")) else {
            panic!("refusal expected");
        };
        assert_eq!(code, 1);
        assert!(text.starts_with("Error: required flag(s) \"data-dir\" not set\nUsage:\n"));
        let Parsed::Refused { text, .. } = parse(&args("bogus")) else {
            panic!("refusal expected");
        };
        assert_eq!(
            text,
            "Error: unknown command \"bogus\" for \"etcdutl\"\nRun 'etcdutl --help' for usage.\nError: unknown command \"bogus\" for \"etcdutl\"\n"
        );
        let Parsed::Refused { text, .. } = parse(&args("defrag --data-dir d --bump-revision 1"))
        else {
            panic!("refusal expected");
        };
        assert!(text.starts_with("Error: unknown flag: --bump-revision\n"));
    }
}
