//! `ETCD_*` environment variables, applied as etcd 3.5's `flags.SetFlagsFromEnv` applies
//! them: a variable sets its flag only when the command line did not; a variable whose flag
//! *was* given on the command line is a fatal conflict; unknown `ETCD_*` variables are
//! warned about; `ETCD_VERSION` is refused.

use std::collections::HashMap;

use super::command_line::CommandLine;
use super::error::{ConfigError, ErrorReport, Notice, NoticeStage};
use super::flag_spec::env_var_for;
use super::flag_table::FLAGS;
use super::settings::Settings;
use crate::gotext::quote::quote;
use crate::gotext::zap::{Field, Level};

/// The variable etcd refuses to read, because it would otherwise mean `--version`.
const VERSION_VAR: &str = "ETCD_VERSION";

/// Applies the environment to `settings` for every flag not given on the command line,
/// recording each applied flag in `line` (etcd then treats it as set) and etcd's messages
/// in `notices`.
pub(crate) fn apply(
    env: &HashMap<String, String>,
    settings: &mut Settings,
    line: &mut CommandLine,
    notices: &mut Vec<Notice>,
) -> Result<(), ConfigError> {
    let mut env: Vec<(&String, &String)> = env.iter().collect();
    // A HashMap has no order; etcd walks the process environment, which is usually sorted.
    env.sort();
    if let Some(index) = env
        .iter()
        .position(|(k, v)| k.as_str() == VERSION_VAR && !v.is_empty())
    {
        let (key, value) = env.remove(index);
        notices.push(Notice::new(
            NoticeStage::FlagParsing,
            Level::Warn,
            "cannot set special environment variable",
            vec![
                Field::str("key", key.as_str()),
                Field::str("value", value.as_str()),
            ],
        ));
    }
    let lookup = |key: &str| {
        env.iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    };

    let given_on_command_line: Vec<String> = line
        .set_flags
        .iter()
        .map(|name| env_var_for(name))
        .collect();
    let mut used: Vec<String> = Vec::new();
    let mut failure = None;
    for spec in FLAGS {
        let key = spec.env_var();
        if given_on_command_line.contains(&key) {
            continue;
        }
        let Some(value) = lookup(&key).filter(|v| !v.is_empty()) else {
            continue;
        };
        used.push(key.clone());
        // etcd keeps going after a bad value and reports the last one, after its checks.
        match spec.target.set(settings, value) {
            Ok(()) => {
                line.set_flags.push(spec.name);
                notices.push(Notice::new(
                    NoticeStage::FlagParsing,
                    Level::Info,
                    "recognized and used environment variable",
                    vec![
                        Field::str("variable-name", key.as_str()),
                        Field::str("variable-value", value),
                    ],
                ));
            }
            Err(reason) => {
                failure = Some(format!(
                    "invalid value {} for {key}: {reason}",
                    quote(value)
                ));
            }
        }
    }

    for (key, value) in &env {
        if used.contains(key) {
            continue;
        }
        if given_on_command_line.contains(key) {
            return Err(ConfigError::new(
                "conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag))",
                ErrorReport::FlagParsingFatal {
                    fields: vec![Field::str("environment-variable", key.as_str())],
                },
            )
            .with_notices(std::mem::take(notices)));
        }
        if key.starts_with("ETCD_") {
            notices.push(Notice::new(
                NoticeStage::FlagParsing,
                Level::Warn,
                "unrecognized environment variable",
                vec![Field::str("environment-variable", format!("{key}={value}"))],
            ));
        }
    }

    match failure {
        Some(message) => {
            Err(ConfigError::verify(message, None).with_notices(std::mem::take(notices)))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::command_line::{Scan, scan};

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> (Result<(), ConfigError>, Settings, CommandLine, Vec<Notice>) {
        let mut settings = Settings::flag_defaults();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let Ok(Scan::Flags(mut line)) = scan(&args, &mut settings) else {
            panic!("flags must parse");
        };
        let mut notices = Vec::new();
        let result = apply(&env(vars), &mut settings, &mut line, &mut notices);
        (result, settings, line, notices)
    }

    #[test]
    fn variables_fill_flags_not_on_the_command_line() {
        let (result, s, line, notices) = run(
            &["--name=cli"],
            &[
                ("ETCD_SNAPSHOT_COUNT", "5"),
                ("ETCD_DATA_DIR", "/d"),
                ("PATH", "/bin"),
            ],
        );
        assert_eq!(result, Ok(()));
        assert_eq!(s.name, "cli");
        assert_eq!(s.snapshot_count, 5);
        assert_eq!(s.dir, "/d");
        assert!(line.is_set("snapshot-count") && line.is_set("data-dir"));
        let msgs: Vec<&str> = notices.iter().map(|n| n.msg.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "recognized and used environment variable",
                "recognized and used environment variable"
            ]
        );
        // Applied in flag-name order, as etcd's VisitAll does.
        assert_eq!(
            notices[0].fields[0],
            Field::str("variable-name", "ETCD_DATA_DIR")
        );
        assert_eq!(notices[1].fields[1], Field::str("variable-value", "5"));
        assert!(notices.iter().all(|n| n.stage == NoticeStage::FlagParsing));
    }

    #[test]
    fn a_variable_shadowed_by_a_flag_is_fatal() {
        for value in ["x", ""] {
            let (result, ..) = run(&["--name=y"], &[("ETCD_NAME", value)]);
            let err = result.expect_err("conflict");
            assert_eq!(
                err.report(),
                &ErrorReport::FlagParsingFatal {
                    fields: vec![Field::str("environment-variable", "ETCD_NAME")]
                }
            );
            assert!(
                err.message()
                    .starts_with("conflicting environment variable is shadowed")
            );
            assert_eq!(err.exit_code(), 1);
        }
    }

    #[test]
    fn unknown_and_empty_variables_are_warned_about() {
        let (result, s, _, notices) = run(&[], &[("ETCD_FOO", "bar"), ("ETCD_NAME", "")]);
        assert_eq!(result, Ok(()));
        assert_eq!(s.name, "default", "an empty variable sets nothing");
        let warned: Vec<&Field> = notices.iter().map(|n| &n.fields[0]).collect();
        assert_eq!(
            warned,
            [
                &Field::str("environment-variable", "ETCD_FOO=bar"),
                &Field::str("environment-variable", "ETCD_NAME=")
            ]
        );
        assert!(
            notices
                .iter()
                .all(|n| n.msg == "unrecognized environment variable")
        );
    }

    #[test]
    fn etcd_version_is_refused() {
        let (result, s, _, notices) = run(&[], &[("ETCD_VERSION", "1")]);
        assert_eq!(result, Ok(()));
        assert!(!s.print_version);
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].msg, "cannot set special environment variable");
        assert_eq!(notices[0].level, Level::Warn);
    }

    #[test]
    fn bad_values_fail_verification_naming_the_variable() {
        let (result, ..) = run(&[], &[("ETCD_SNAPSHOT_COUNT", "abc")]);
        let err = result.expect_err("bad value");
        assert_eq!(
            err.message(),
            "invalid value \"abc\" for ETCD_SNAPSHOT_COUNT: parse error"
        );
        assert!(matches!(
            err.report(),
            ErrorReport::VerifyFlags { log: None, .. }
        ));
        let (result, ..) = run(&[], &[("ETCD_FORCE_NEW_CLUSTER", "yes")]);
        assert_eq!(
            result.err().map(|e| e.message().to_string()),
            Some("invalid value \"yes\" for ETCD_FORCE_NEW_CLUSTER: parse error".to_string())
        );
    }
}
