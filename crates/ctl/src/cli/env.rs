//! `ETCDCTL_*` environment variables, applied as etcd's `flags.SetPflagsFromEnv` does: each
//! global flag not given on the command line takes a non-empty `ETCDCTL_<FLAG>` value;
//! unknown `ETCDCTL_*` variables draw a warning, and a variable shadowed by a flag given on
//! the command line is fatal.

use super::flag::{FlagSet, FlagSpec};
use crate::log::zap_line;
use oxcd_etcd_compat::gotext::zap::{Field, Level, TimeFormat};

/// The environment variable for a flag: `ETCDCTL_DIAL_TIMEOUT` for `dial-timeout`.
pub fn variable_for(flag: &str) -> String {
    format!("ETCDCTL_{}", flag.replace('-', "_").to_uppercase())
}

/// Applies the environment to `inherited` flags of `flags`. Warnings are printed to stderr
/// as zap lines; a conflict returns the fatal line to print before exiting with 1.
pub fn apply(
    flags: &mut FlagSet,
    inherited: &[FlagSpec],
    environ: &[(String, String)],
) -> Result<(), String> {
    let already_set: Vec<String> = inherited
        .iter()
        .filter(|f| flags.changed(f.name))
        .map(|f| variable_for(f.name))
        .collect();
    let mut used = Vec::new();
    for spec in inherited {
        let key = variable_for(spec.name);
        if already_set.contains(&key) {
            continue;
        }
        let Some((_, value)) = environ.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        used.push(key);
        // etcdctl ignores values that do not parse and keeps the default.
        let _ = flags.set(spec.name, value);
    }
    for (key, value) in environ {
        if used.contains(key) {
            continue;
        }
        if already_set.contains(key) {
            return Err(zap_line(
                Level::Fatal,
                TimeFormat::Epoch,
                None,
                "flags/flag.go:85",
                "conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag))",
                vec![Field::str("environment-variable", key.clone())],
            ));
        }
        if key.starts_with("ETCDCTL_") {
            eprintln!(
                "{}",
                zap_line(
                    Level::Warn,
                    TimeFormat::Epoch,
                    None,
                    "flags/flag.go:93",
                    "unrecognized environment variable",
                    vec![Field::str("environment-variable", format!("{key}={value}"))],
                )
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flag::FlagKind;

    fn specs() -> Vec<FlagSpec> {
        vec![
            FlagSpec::new("dial-timeout", FlagKind::Duration, "2s", ""),
            FlagSpec::new("hex", FlagKind::Bool, "false", ""),
            FlagSpec::new("endpoints", FlagKind::StringSlice, "127.0.0.1:2379", ""),
        ]
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_fills_unset_flags() {
        let mut flags = FlagSet::new(specs());
        apply(
            &mut flags,
            &specs(),
            &env(&[
                ("ETCDCTL_HEX", "true"),
                ("ETCDCTL_ENDPOINTS", "a:1,b:2"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert!(flags.bool("hex"));
        assert_eq!(
            flags.list("endpoints"),
            vec!["a:1".to_string(), "b:2".to_string()]
        );
    }

    #[test]
    fn bad_values_keep_the_default() {
        let mut flags = FlagSet::new(specs());
        apply(
            &mut flags,
            &specs(),
            &env(&[("ETCDCTL_DIAL_TIMEOUT", "abc")]),
        )
        .unwrap();
        assert_eq!(
            flags.duration("dial-timeout"),
            std::time::Duration::from_secs(2)
        );
    }

    #[test]
    fn a_flag_shadowing_the_environment_is_fatal() {
        let mut flags = FlagSet::new(specs());
        flags.parse(&["--hex".to_string()]).unwrap();
        let fatal = apply(&mut flags, &specs(), &env(&[("ETCDCTL_HEX", "false")])).unwrap_err();
        assert!(fatal.contains("\"level\":\"fatal\""));
        assert!(fatal.ends_with("\"environment-variable\":\"ETCDCTL_HEX\"}"));
        assert!(flags.bool("hex"));
    }
}
