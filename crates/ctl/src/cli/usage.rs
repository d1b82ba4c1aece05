//! Usage text exactly as etcdctl prints it (cobrautl's template, rendered through Go's
//! tabwriter): NAME, USAGE, VERSION, API VERSION, COMMANDS, DESCRIPTION, OPTIONS and
//! GLOBAL OPTIONS.

use super::command::Command;
use super::command_path::CommandPath;
use super::flag::{FlagKind, FlagSpec};
use crate::format::tabwriter;

/// The etcd version oxctl reports itself compatible with.
pub const VERSION: &str = "3.5.1";
/// The API version.
pub const API_VERSION: &str = "3.5";

/// The full usage text of a command.
pub fn render(path: &CommandPath<'_>) -> String {
    let command = path.command();
    let mut text = String::from("NAME:\n");
    let name = if path.is_root() {
        command.name.to_string()
    } else {
        path.name_below_root()
    };
    text.push_str(&format!("\t{name} - {}\n", command.short));
    text.push_str(&format!("\nUSAGE:\n\t{}\n", path.use_line()));
    if path.is_root() {
        text.push_str(&format!("\nVERSION:\n\t{VERSION}\n"));
    }
    if !command.children.is_empty() {
        text.push_str(&format!("\nAPI VERSION:\n\t{API_VERSION}\n"));
        text.push_str("\n\nCOMMANDS:\n");
        for (relative, sub) in descendants(command) {
            if sub.runnable() {
                text.push_str(&format!("\t{relative}\t{}\n", sub.short));
            }
        }
    }
    if !command.long.is_empty() {
        text.push_str("\nDESCRIPTION:\n");
        for line in command.long.trim_matches(['\n', '\t', ' ']).split('\n') {
            text.push_str(&format!("\t{line}\n"));
        }
    }
    text.push_str("\nOPTIONS:\n");
    text.push_str(&flag_lines(&path.local_flags()));
    let inherited = path.inherited_flags();
    if !inherited.is_empty() {
        text.push_str("\nGLOBAL OPTIONS:\n");
        text.push_str(&flag_lines(&inherited));
    }
    text.push('\n');
    tabwriter::align(&text)
}

/// Every descendant, depth first in name order, with its path relative to `command`.
fn descendants(command: &Command) -> Vec<(String, &Command)> {
    let mut out = Vec::new();
    for child in &command.children {
        out.push((child.name.to_string(), child));
        for (relative, grandchild) in descendants(child) {
            out.push((format!("{} {relative}", child.name), grandchild));
        }
    }
    out
}

/// cobrautl's flag listing: one tab-separated line per flag.
fn flag_lines(flags: &[FlagSpec]) -> String {
    let mut out = String::new();
    for flag in flags {
        match flag.shorthand {
            Some(letter) => out.push_str(&format!("  -{letter}, --{}", flag.name)),
            None => out.push_str(&format!("      --{}", flag.name)),
        }
        if flag.kind == FlagKind::Bool {
            out.push_str(&format!("[={}]", flag.default_display()));
        } else {
            out.push_str(&format!("={}", flag.default_display()));
        }
        out.push('\t');
        out.push_str(&flag.usage);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command_path::find;
    use crate::cli::command_tree::tree;

    #[test]
    fn member_usage_matches_etcdctl() {
        let root = tree();
        let (path, _) = find(&root, &["member".to_string()]);
        let expected = "NAME:\n\tmember - Membership related commands\n\nUSAGE:\n\tetcdctl member <subcommand> [flags]\n\nAPI VERSION:\n\t3.5\n\n\nCOMMANDS:\n\tadd\tAdds a member into the cluster\n\tlist\tLists all members in the cluster\n\tpromote\tPromotes a non-voting member in the cluster\n\tremove\tRemoves a member from the cluster\n\tupdate\tUpdates a member in the cluster\n\nOPTIONS:\n  -h, --help[=false]\thelp for member\n\nGLOBAL OPTIONS:\n";
        let text = render(&path);
        assert!(text.starts_with(expected), "{text}");
        assert!(text.ends_with("(fields, json, protobuf, simple, table)\n\n"));
    }

    #[test]
    fn get_options_are_tab_aligned() {
        let root = tree();
        let (path, _) = find(&root, &["get".to_string()]);
        let text = render(&path);
        assert!(
            text.contains("      --consistency=\"l\"\t\t\tLinearizable(l) or Serializable(s)\n")
        );
        assert!(text.contains("      --print-value-only[=false]\tOnly write values when using the \"simple\" output format\n"));
        assert!(text.contains("      --endpoints=[127.0.0.1:2379]\t\tgRPC endpoints\n"));
        assert!(text.contains("  -w, --write-out=\"simple\"\t\t\tset the output format (fields, json, protobuf, simple, table)\n"));
    }
}
