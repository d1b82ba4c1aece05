//! Cobra's way of finding the command an argument list names (prefix matching enabled, flags
//! skipped), and the path from the root to it that usage text and flag inheritance read.

use super::command::Command;
use super::flag::{FlagKind, FlagSet, FlagSpec};

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
    use crate::cli::command_tree::tree;

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
