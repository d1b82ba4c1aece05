//! etcdutl 3.5.1's command line as cobra parses it: the command tree, each command's flags
//! (with etcdutl's names, defaults and help text), flags anywhere among the arguments, `-h`,
//! the global `-w/--write-out`, and cobra's help and error texts, so scripts written against
//! etcdutl read the same answers from oxutl.
//!
//! `tree` holds the commands and their flags, `usage` renders cobra's help; this file parses.

mod tree;
mod usage;

use std::collections::BTreeMap;

pub use tree::Action;
use tree::{Kind, PROGRAM, TREE, spec};
use usage::usage;

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
            Some(s) => Parsed::Help(usage(s.path)),
            None if target.is_empty() => Parsed::Help(usage("")),
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
        return Parsed::Help(usage(path));
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
        return Parsed::Help(usage(path));
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
