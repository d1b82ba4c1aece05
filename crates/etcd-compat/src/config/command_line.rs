//! The command line, read with the rules of Go's `flag` package as etcd uses it: `-flag`,
//! `--flag`, `-flag=value`, `-flag value`, bare booleans, `--` ending the flags, the first
//! non-flag argument stopping the scan, and Go's exact error texts.

use super::error::ConfigError;
use super::flag_table::lookup;
use super::settings::Settings;
use crate::gotext::quote::quote;

/// The flags named on the command line (in order, repeats kept) and the arguments left
/// after the scan stopped.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CommandLine {
    pub set_flags: Vec<&'static str>,
    pub positional: Vec<String>,
}

impl CommandLine {
    /// Whether `name` was given on the command line (Go's `flag.Visit`).
    pub(super) fn is_set(&self, name: &str) -> bool {
        self.set_flags.contains(&name)
    }
}

/// What the scan found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Flags were applied to the settings.
    Flags(CommandLine),
    /// `-h`, `--help` (or `-help`) was given.
    Help,
}

/// Applies `args` (without the program name) to `settings`.
pub(crate) fn scan(args: &[String], settings: &mut Settings) -> Result<Scan, ConfigError> {
    let mut line = CommandLine::default();
    let mut rest = args;
    while let Some((arg, tail)) = rest.split_first() {
        let bytes = arg.as_bytes();
        if bytes.len() < 2 || bytes[0] != b'-' {
            break;
        }
        let dashes = if bytes[1] == b'-' { 2 } else { 1 };
        if dashes == 2 && bytes.len() == 2 {
            rest = tail;
            break;
        }
        let name_and_value = &arg[dashes..];
        if name_and_value.starts_with(['-', '=']) {
            return Err(ConfigError::usage(format!("bad flag syntax: {arg}")));
        }
        rest = tail;
        // The first '=' after the first character separates the value.
        let first_len = name_and_value.chars().next().map_or(1, char::len_utf8);
        let (name, inline_value) = match name_and_value[first_len..].find('=') {
            Some(i) => (
                &name_and_value[..first_len + i],
                Some(&name_and_value[first_len + i + 1..]),
            ),
            None => (name_and_value, None),
        };
        let Some(spec) = lookup(name) else {
            if name == "help" || name == "h" {
                return Ok(Scan::Help);
            }
            return Err(ConfigError::usage(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        if spec.target.is_bool() {
            let value = inline_value.unwrap_or("true");
            spec.target.set(settings, value).map_err(|reason| {
                ConfigError::usage(format!(
                    "invalid boolean value {} for -{name}: {reason}",
                    quote(value)
                ))
            })?;
        } else {
            let value = match inline_value {
                Some(v) => v,
                None => match rest.split_first() {
                    Some((next, tail)) => {
                        rest = tail;
                        next.as_str()
                    }
                    None => {
                        return Err(ConfigError::usage(format!(
                            "flag needs an argument: -{name}"
                        )));
                    }
                },
            };
            spec.target.set(settings, value).map_err(|reason| {
                ConfigError::usage(format!(
                    "invalid value {} for flag -{name}: {reason}",
                    quote(value)
                ))
            })?;
        }
        line.set_flags.push(spec.name);
    }
    line.positional = rest.to_vec();
    Ok(Scan::Flags(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::error::ErrorReport;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(list: &[&str]) -> Result<(Settings, CommandLine), ConfigError> {
        let mut s = Settings::flag_defaults();
        match scan(&args(list), &mut s)? {
            Scan::Flags(line) => Ok((s, line)),
            Scan::Help => panic!("unexpected help"),
        }
    }

    fn usage_error(list: &[&str]) -> String {
        let err = run(list).expect_err("must fail");
        assert_eq!(err.report(), &ErrorReport::Usage);
        assert_eq!(err.exit_code(), 2);
        err.message().to_string()
    }

    #[test]
    fn all_go_spellings_are_accepted() {
        for form in [
            &["--name=a"][..],
            &["--name", "a"],
            &["-name", "a"],
            &["-name=a"],
        ] {
            let (s, line) = run(form).expect("valid");
            assert_eq!(s.name, "a", "{form:?}");
            assert!(line.is_set("name"));
        }
    }

    #[test]
    fn booleans_take_no_separate_value() {
        let (s, _) = run(&["--force-new-cluster"]).expect("valid");
        assert!(s.force_new_cluster);
        let (s, _) = run(&["--strict-reconfig-check=false"]).expect("valid");
        assert!(!s.strict_reconfig_check);
        // A bare boolean never consumes the next argument, which becomes positional.
        let (s, line) = run(&["--enable-pprof", "false"]).expect("valid");
        assert!(s.enable_pprof);
        assert_eq!(line.positional, ["false"]);
    }

    #[test]
    fn values_may_contain_equals_and_start_with_dashes() {
        let (s, _) = run(&["--initial-cluster=a=http://h:1,b=http://h:2"]).expect("valid");
        assert_eq!(s.initial_cluster, "a=http://h:1,b=http://h:2");
        let (s, _) = run(&["--name", "-weird"]).expect("valid");
        assert_eq!(s.name, "-weird");
        let (s, _) = run(&["--name="]).expect("valid");
        assert_eq!(s.name, "");
    }

    #[test]
    fn later_flags_win() {
        let (s, line) = run(&["--name=a", "--name=b"]).expect("valid");
        assert_eq!(s.name, "b");
        assert_eq!(line.set_flags, ["name", "name"]);
    }

    #[test]
    fn scanning_stops_at_the_first_non_flag_or_double_dash() {
        let (s, line) = run(&["--name=a", "extra", "--name=b"]).expect("valid");
        assert_eq!(s.name, "a");
        assert_eq!(line.positional, ["extra", "--name=b"]);
        let (_, line) = run(&["--", "--name=b"]).expect("valid");
        assert_eq!(line.positional, ["--name=b"]);
        let (_, line) = run(&["-"]).expect("valid");
        assert_eq!(line.positional, ["-"]);
    }

    #[test]
    fn errors_use_go_flag_texts() {
        assert_eq!(
            usage_error(&["--foo"]),
            "flag provided but not defined: -foo"
        );
        assert_eq!(
            usage_error(&["--foo=1"]),
            "flag provided but not defined: -foo"
        );
        assert_eq!(
            usage_error(&["--experimental-enable-distributed-tracing"]),
            "flag provided but not defined: -experimental-enable-distributed-tracing"
        );
        assert_eq!(usage_error(&["--name"]), "flag needs an argument: -name");
        assert_eq!(usage_error(&["---x"]), "bad flag syntax: ---x");
        assert_eq!(usage_error(&["-=x"]), "bad flag syntax: -=x");
        assert_eq!(usage_error(&["-é=1"]), "flag provided but not defined: -é");
        assert_eq!(
            usage_error(&["--heartbeat-interval=abc"]),
            "invalid value \"abc\" for flag -heartbeat-interval: parse error"
        );
        assert_eq!(
            usage_error(&["--initial-cluster-state=bogus"]),
            "invalid value \"bogus\" for flag -initial-cluster-state: invalid value"
        );
        assert_eq!(
            usage_error(&["--client-cert-auth=maybe"]),
            "invalid boolean value \"maybe\" for -client-cert-auth: parse error"
        );
        assert_eq!(
            usage_error(&["--listen-peer-urls=127.0.0.1:2380"]),
            "invalid value \"127.0.0.1:2380\" for flag -listen-peer-urls: parse \"127.0.0.1:2380\": first path segment in URL cannot contain colon"
        );
    }

    #[test]
    fn help_is_recognised_in_every_spelling() {
        for h in ["-h", "--h", "-help", "--help", "--help=x"] {
            let mut s = Settings::flag_defaults();
            assert_eq!(scan(&args(&[h]), &mut s), Ok(Scan::Help), "{h}");
        }
    }

    #[test]
    fn legacy_flags_are_accepted_and_ignored() {
        let (s, _) = run(&["--v", "--peer-heartbeat-interval=5"]).expect("valid");
        assert_eq!(s, {
            let mut d = Settings::flag_defaults();
            d.print_version = false;
            d
        });
    }
}
