//! Cobra's built-in usage template and pflag's `FlagUsages`, which etcdctl shows (on stderr)
//! when a `txn` request line has a bad flag: those lines are parsed by a bare cobra command
//! that lacks etcdctl's own usage function.

use super::command_path::CommandPath;
use super::flag::{FlagKind, FlagSpec};

/// The usage text cobra prints for `path`'s command when it hangs under a nameless root.
pub fn render(path: &CommandPath<'_>) -> String {
    let command = path.command();
    let mut text = format!("Usage:\n   {} [flags]\n", command.use_line);
    text.push_str("\nFlags:\n");
    text.push_str(flag_usages(&path.local_flags()).trim_end());
    text.push('\n');
    text
}

/// pflag's `FlagUsages`: flags with their value type and non-zero defaults, descriptions
/// aligned one column after the longest flag.
fn flag_usages(flags: &[FlagSpec]) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    for flag in flags {
        let mut head = match flag.shorthand {
            Some(letter) => format!("  -{letter}, --{}", flag.name),
            None => format!("      --{}", flag.name),
        };
        let type_name = match flag.kind {
            FlagKind::Bool => "",
            FlagKind::String => "string",
            FlagKind::Int64 => "int",
            FlagKind::Duration => "duration",
            FlagKind::StringSlice => "strings",
        };
        if !type_name.is_empty() {
            head.push(' ');
            head.push_str(type_name);
        }
        let mut usage = flag.usage.to_string();
        let zero = match flag.kind {
            FlagKind::Bool => flag.default == "false",
            FlagKind::String => flag.default.is_empty(),
            FlagKind::Int64 => flag.default == "0",
            FlagKind::Duration => flag.default == "0" || flag.default == "0s",
            FlagKind::StringSlice => flag.default.is_empty(),
        };
        if !zero {
            match flag.kind {
                FlagKind::String => usage.push_str(&format!(
                    " (default {})",
                    oxcd_etcd_compat::gotext::quote::quote(flag.default.as_bytes())
                )),
                _ => usage.push_str(&format!(" (default {})", flag.default_display())),
            }
        }
        lines.push((head, usage));
    }
    // pflag measures including a separator byte, then pads one short of it.
    let widest = lines.iter().map(|(h, _)| h.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (head, usage) in lines {
        let padding = " ".repeat(widest - head.len());
        out.push_str(&format!("{head} {padding} {usage}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command_path::find;
    use crate::cli::command_tree::tree;

    #[test]
    fn get_usage_matches_cobra() {
        let root = tree();
        let (path, _) = find(&root, &["get".to_string()]);
        let text = render(&path);
        assert!(text.starts_with(
            "Usage:\n   get [options] <key> [range_end] [flags]\n\nFlags:\n      --consistency string   Linearizable(l) or Serializable(s) (default \"l\")\n      --count-only           Get only the count\n"
        ), "{text}");
        assert!(text.ends_with(
            "      --sort-by string       Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION\n"
        ));
    }
}
