//! Splitting `watch` arguments as etcdctl's `parseWatchArgs` does: key and range end,
//! keys from `ETCDCTL_WATCH_KEY`/`ETCDCTL_WATCH_RANGE_END`, and an exec command after `--`,
//! with etcdctl's error messages.

use crate::cli::command::Command;
use crate::cli::command_path::CommandPath;
use crate::cli::flag::FlagSet;

/// No key, or a key both on the command line and in the environment.
pub const BAD_ARGS_NUM: &str = "bad number of arguments";
const BAD_ARGS_CONFLICT_ENV: &str = "bad number of arguments (found conflicting environment key)";
const BAD_ARGS_SEPARATOR: &str = "bad number of arguments (found separator --, but no commands)";
const BAD_INTERACTIVE: &str = "args[0] must be 'watch' for interactive calls";

/// What a watch line resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchArgs {
    /// Key and optional range end.
    pub keys: Vec<String>,
    /// Command to run for each event.
    pub exec: Vec<String>,
    /// `--prefix`, `--rev`, `--prev-kv` of an interactive line (the command's own flags
    /// otherwise).
    pub flags: Option<FlagSet>,
}

/// Parses the arguments of a `watch` command line (`interactive` false) or of a `watch ...`
/// line typed in interactive mode.
pub fn parse(
    watch_command: &Command,
    process_args: &[String],
    command_args: &[String],
    env_key: &str,
    env_range: &str,
    interactive: bool,
) -> Result<WatchArgs, String> {
    let mut raw: Vec<String> = process_args.to_vec();
    if let Some(at) = raw.iter().position(|a| a == "watch") {
        raw = raw[at + 1..].to_vec();
    }
    let mut watch_args: Vec<String> = command_args.to_vec();
    if interactive {
        if watch_args.first().map(String::as_str) != Some("watch") {
            return Err(BAD_INTERACTIVE.to_string());
        }
        watch_args.remove(0);
    }
    let mut parsed_flags = None;
    if !interactive {
        let separator = raw.iter().position(|a| a == "--");
        if separator == Some(raw.len().wrapping_sub(1)) {
            return Err(BAD_ARGS_SEPARATOR.to_string());
        }
        if separator.is_none() && raw.is_empty() && env_key.is_empty() {
            return Err(BAD_ARGS_NUM.to_string());
        }
        if let Some(exec_at) = separator
            && !env_key.is_empty()
        {
            let mut raw_index = raw.len() as isize - 1;
            for word in watch_args.iter().rev() {
                if raw_index >= 0 && *word == raw[raw_index as usize] {
                    raw_index -= 1;
                    continue;
                }
                if raw_index == exec_at as isize {
                    return Err(BAD_ARGS_CONFLICT_ENV.to_string());
                }
            }
        }
        if separator.is_none() && !watch_args.is_empty() && !env_key.is_empty() {
            return Err(BAD_ARGS_CONFLICT_ENV.to_string());
        }
    } else {
        let separator = watch_args.iter().position(|a| a == "--");
        if separator.is_some() && separator == Some(watch_args.len() - 1) {
            return Err(BAD_ARGS_SEPARATOR.to_string());
        }
        let mut flags = flag_set(watch_command);
        let positional = flags.parse(&watch_args)?;
        if separator.is_none() && env_key.is_empty() && positional.is_empty() {
            return Err(BAD_ARGS_NUM.to_string());
        }
        if separator.is_none() && !positional.is_empty() && !env_key.is_empty() {
            return Err(BAD_ARGS_CONFLICT_ENV.to_string());
        }
    }
    let with_separator = if interactive { watch_args.clone() } else { raw };
    let separator = with_separator.iter().position(|a| a == "--");
    let exec: Vec<String> = separator.map_or_else(Vec::new, |at| with_separator[at + 1..].to_vec());
    if interactive {
        let mut flags = flag_set(watch_command);
        watch_args = flags.parse(&with_separator)?;
        parsed_flags = Some(flags);
    }
    if !env_key.is_empty() {
        let mut keys = vec![env_key.to_string()];
        if !env_range.is_empty() {
            keys.push(env_range.to_string());
        }
        keys.extend(watch_args);
        watch_args = keys;
    }
    let Some(separator) = separator else {
        return Ok(WatchArgs {
            keys: watch_args,
            exec,
            flags: parsed_flags,
        });
    };
    // The exec command also shows up among the positional arguments; cut it off there.
    let first_exec = &with_separator[separator + 1];
    let end = watch_args
        .iter()
        .rposition(|a| a == first_exec)
        .unwrap_or(0);
    watch_args.truncate(end);
    Ok(WatchArgs {
        keys: watch_args,
        exec,
        flags: parsed_flags,
    })
}

/// The flags of `watch` alone, as etcdctl parses an interactive line with them.
fn flag_set(watch_command: &Command) -> FlagSet {
    let root_path = CommandPath::root(watch_command);
    FlagSet::new(root_path.local_flags())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command_path::find;
    use crate::cli::command_tree::tree;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    fn watch() -> Command {
        let root = tree();
        let (path, _) = find(&root, &strings(&["watch"]));
        path.command().clone()
    }

    #[test]
    fn key_range_and_exec_command() {
        let w = watch();
        let raw = strings(&["--endpoints=x", "watch", "k", "--", "echo", "hi"]);
        let parsed = parse(&w, &raw, &strings(&["k", "echo", "hi"]), "", "", false).unwrap();
        assert_eq!(parsed.keys, strings(&["k"]));
        assert_eq!(parsed.exec, strings(&["echo", "hi"]));

        let parsed = parse(
            &w,
            &strings(&["watch", "a", "b"]),
            &strings(&["a", "b"]),
            "",
            "",
            false,
        )
        .unwrap();
        assert_eq!(parsed.keys, strings(&["a", "b"]));
        assert!(parsed.exec.is_empty());
    }

    #[test]
    fn errors_match_etcdctl() {
        let w = watch();
        assert_eq!(
            parse(&w, &strings(&["watch"]), &[], "", "", false),
            Err(BAD_ARGS_NUM.into())
        );
        assert_eq!(
            parse(
                &w,
                &strings(&["watch", "k", "--"]),
                &strings(&["k"]),
                "",
                "",
                false
            ),
            Err(BAD_ARGS_SEPARATOR.into())
        );
        assert_eq!(
            parse(
                &w,
                &strings(&["watch", "k"]),
                &strings(&["k"]),
                "envkey",
                "",
                false
            ),
            Err(BAD_ARGS_CONFLICT_ENV.into())
        );
        let from_env = parse(&w, &strings(&["watch"]), &[], "envkey", "envend", false).unwrap();
        assert_eq!(from_env.keys, strings(&["envkey", "envend"]));
    }

    #[test]
    fn interactive_lines_carry_their_flags() {
        let w = watch();
        let line = strings(&["watch", "p", "--prefix", "--rev", "3"]);
        let parsed = parse(&w, &[], &line, "", "", true).unwrap();
        assert_eq!(parsed.keys, strings(&["p"]));
        let flags = parsed.flags.unwrap();
        assert!(flags.bool("prefix"));
        assert_eq!(flags.int("rev"), 3);
        assert_eq!(
            parse(&w, &[], &strings(&["nope", "k"]), "", "", true),
            Err(BAD_INTERACTIVE.into())
        );
    }
}
