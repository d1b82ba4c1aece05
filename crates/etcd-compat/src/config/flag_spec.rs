//! The types a row of the flag table is made of — how a value is parsed and stored
//! ([`Target`], with Go's `flag.Value` semantics), where it sits in the YAML file and in
//! `--help` — and the value rules etcd's custom flag types share with the config file.

use super::settings::{Settings, UrlFlag};
use crate::gotext::duration::parse_nanos as parse_duration;
use crate::gotext::strconv::{parse_bool, parse_int, parse_uint};

/// How a flag's text becomes a value: one variant per Go `flag.Value` type etcd uses.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// `flag.StringVar`.
    Str(fn(&mut Settings) -> &mut String),
    /// `flag.BoolVar`: may be given without a value.
    Bool(fn(&mut Settings) -> &mut bool),
    /// `flag.UintVar` / `Uint64Var`, or etcd's `Uint32Value` when the Go type named (used in
    /// YAML errors) is `uint32`.
    Uint(fn(&mut Settings) -> &mut u64, &'static str),
    /// `flag.IntVar` / `Int64Var`; the string is the Go type name used in YAML errors.
    Int(fn(&mut Settings) -> &mut i64, &'static str),
    /// `flag.DurationVar`, stored as nanoseconds.
    Duration(fn(&mut Settings) -> &mut i64),
    /// etcd's `UniqueURLs` (comma-separated URLs, sorted).
    Urls(fn(&mut Settings) -> &mut UrlFlag),
    /// etcd's `--cors` value: URLs, or `*`.
    Cors(fn(&mut Settings) -> &mut Vec<String>),
    /// etcd's `UniqueStringsValue` (comma-separated, deduplicated, sorted). In YAML the value
    /// is a list when the flag is `true`, otherwise one comma-separated string.
    UniqueStrings(fn(&mut Settings) -> &mut Vec<String>, bool),
    /// etcd's `StringsValue` (comma-separated, order kept); a list in YAML.
    Strings(fn(&mut Settings) -> &mut Vec<String>),
    /// etcd's `SelectiveStringValue`: one of a fixed set.
    Choice(fn(&mut Settings) -> &mut String, &'static [&'static str]),
    /// A flag from older etcd releases that is accepted and ignored, like a boolean.
    Ignored,
}

impl Target {
    /// Whether the flag may appear without a value (`--flag` means `--flag=true`).
    pub(super) fn is_bool(self) -> bool {
        matches!(self, Target::Bool(_) | Target::Ignored)
    }

    /// Sets the flag from text, with Go's `flag.Value.Set` semantics. The error is the text
    /// Go's flag package appends after the flag name (`parse error`, `invalid value`, ...).
    pub(super) fn set(self, settings: &mut Settings, value: &str) -> Result<(), String> {
        match self {
            Target::Str(field) => *field(settings) = value.to_string(),
            Target::Bool(field) => {
                *field(settings) = parse_bool(value).ok_or("parse error")?;
            }
            Target::Uint(field, "uint32") => *field(settings) = parse_uint32_value(value)?,
            Target::Uint(field, _) => {
                *field(settings) = parse_uint(value, 64).map_err(|e| e.flag_text())?;
            }
            Target::Int(field, _) => {
                *field(settings) = parse_int(value, 64).map_err(|e| e.flag_text())?;
            }
            Target::Duration(field) => {
                *field(settings) = parse_duration(value).map_err(|_| "parse error")?;
            }
            Target::Urls(field) => field(settings).set(value)?,
            Target::Cors(field) => set_cors(field(settings), value)?,
            Target::UniqueStrings(field, _) => *field(settings) = unique_sorted(value),
            Target::Strings(field) => {
                *field(settings) = value.split(',').map(str::to_string).collect();
            }
            Target::Choice(field, choices) => {
                if !choices.contains(&value) {
                    return Err("invalid value".to_string());
                }
                *field(settings) = value.to_string();
            }
            Target::Ignored => {}
        }
        Ok(())
    }
}

/// etcd's `Uint32Value`: decimal only, and its error is strconv's own text (Go's flag package
/// prints a custom value's error as it is).
fn parse_uint32_value(value: &str) -> Result<u64, String> {
    let failure = |why: &str| format!("strconv.ParseUint: parsing {value:?}: {why}");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(failure("invalid syntax"));
    }
    value
        .parse::<u32>()
        .map(u64::from)
        .map_err(|_| failure("value out of range"))
}

/// Splits a comma-separated list into a sorted set, as etcd's `UniqueStringsValue` does.
pub(crate) fn unique_sorted(value: &str) -> Vec<String> {
    let mut items: Vec<String> = value.split(',').map(str::to_string).collect();
    items.sort();
    items.dedup();
    items
}

/// etcd's `--cors` value: `*` is added to the set, anything else must be a URL list that
/// replaces it.
pub(crate) fn set_cors(cors: &mut Vec<String>, value: &str) -> Result<(), String> {
    if cors.iter().any(|v| v == value) {
        return Ok(());
    }
    if value == "*" {
        cors.push(value.to_string());
        cors.sort();
        return Ok(());
    }
    let urls = super::go_url::parse_url_list(value)?;
    let mut values: Vec<String> = urls.iter().map(ToString::to_string).collect();
    values.sort();
    values.dedup();
    *cors = values;
    Ok(())
}

/// Where a flag lives in the YAML config file.
#[derive(Clone, Copy)]
pub(crate) enum YamlKey {
    /// Not settable from the file (etcd's config struct has no field for it).
    None,
    /// A top-level key.
    Top(&'static str),
    /// A key inside `client-transport-security` or `peer-transport-security`.
    Nested(&'static str, &'static str),
}

/// The `--help` sections, in the order etcd prints them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Section {
    Member,
    Clustering,
    Security,
    Auth,
    Monitoring,
    Logging,
    Experimental,
    Unsafe,
    /// oxcd's own flags, which etcd does not have.
    Extensions,
    /// Not listed in `--help` (`--version`, `--config-file` and ignored legacy flags, which
    /// the usage text covers or which do nothing).
    Hidden,
}

impl Section {
    /// Sections as printed by `--help`, with their headings.
    pub(super) const LISTED: [(Section, &'static str); 9] = [
        (Section::Member, "Member"),
        (Section::Clustering, "Clustering"),
        (Section::Security, "Security"),
        (Section::Auth, "Auth"),
        (Section::Monitoring, "Profiling and Monitoring"),
        (Section::Logging, "Logging"),
        (Section::Experimental, "Experimental feature"),
        (Section::Unsafe, "Unsafe feature"),
        (Section::Extensions, "oxcd extensions (not in etcd)"),
    ];
}

/// One accepted flag.
pub(crate) struct FlagSpec {
    /// The flag name without dashes; also the `ETCD_*` variable after upper-casing.
    pub name: &'static str,
    /// How its value is parsed and stored.
    pub target: Target,
    /// Its YAML key.
    pub yaml: YamlKey,
    /// The help section it is listed under.
    pub section: Section,
    /// The default as shown by `--help`.
    pub default: &'static str,
    /// The help description.
    pub help: &'static str,
}

impl FlagSpec {
    /// The environment variable etcd reads for this flag (`ETCD_` + upper-case, `-` → `_`).
    pub(super) fn env_var(&self) -> String {
        env_var_for(self.name)
    }
}

/// The environment variable name for a flag name, as etcd's `flags.FlagToEnv("ETCD", name)`.
pub(crate) fn env_var_for(name: &str) -> String {
    format!("ETCD_{}", name.replace('-', "_").to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::flag_table::lookup;

    #[test]
    fn env_names_follow_etcd() {
        assert_eq!(env_var_for("data-dir"), "ETCD_DATA_DIR");
        assert_eq!(env_var_for("test.coverprofile"), "ETCD_TEST.COVERPROFILE");
    }

    #[test]
    fn setters_follow_go_flag_values() {
        let mut s = Settings::flag_defaults();
        let set = |s: &mut Settings, name: &str, v: &str| {
            lookup(name).expect("known flag").target.set(s, v)
        };
        set(&mut s, "snapshot-count", "0x10").expect("hex");
        assert_eq!(s.snapshot_count, 16);
        assert_eq!(
            set(&mut s, "snapshot-count", "-1"),
            Err("parse error".to_string())
        );
        assert_eq!(
            set(&mut s, "snapshot-count", "99999999999999999999"),
            Err("value out of range".to_string())
        );
        assert_eq!(
            set(&mut s, "initial-cluster-state", "bogus"),
            Err("invalid value".to_string())
        );
        set(&mut s, "initial-cluster-state", "existing").expect("valid");
        assert_eq!(s.initial_cluster_state, "existing");
        set(&mut s, "log-outputs", "stdout,/tmp/a,stdout").expect("valid");
        assert_eq!(s.log_outputs, vec!["/tmp/a", "stdout"]);
        set(&mut s, "cipher-suites", "b,a").expect("valid");
        assert_eq!(s.cipher_suites, vec!["b", "a"]);
        assert_eq!(s.max_concurrent_streams, u64::from(u32::MAX));
        set(&mut s, "max-concurrent-streams", "100").expect("valid");
        assert_eq!(s.max_concurrent_streams, 100);
        assert_eq!(
            set(&mut s, "max-concurrent-streams", "4294967296"),
            Err("strconv.ParseUint: parsing \"4294967296\": value out of range".to_string())
        );
        assert_eq!(
            set(&mut s, "max-concurrent-streams", "0x10"),
            Err("strconv.ParseUint: parsing \"0x10\": invalid syntax".to_string())
        );
        set(&mut s, "grpc-keepalive-timeout", "1m").expect("valid");
        assert_eq!(s.grpc_keepalive_timeout, 60_000_000_000);
        assert_eq!(
            set(&mut s, "grpc-keepalive-timeout", "60"),
            Err("parse error".to_string())
        );
        set(&mut s, "cors", "http://b:1,http://a:1").expect("valid");
        assert_eq!(s.cors, vec!["http://a:1", "http://b:1"]);
        set(&mut s, "cors", "*").expect("valid");
        assert_eq!(s.cors, vec!["*", "http://a:1", "http://b:1"]);
        set(&mut s, "quota-backend-bytes", "-1").expect("valid");
        assert_eq!(s.quota_backend_bytes, -1);
        set(&mut s, "peer-client-cert-auth", "T").expect("valid");
        assert!(s.peer_tls.client_cert_auth);
        set(&mut s, "cluster-active-size", "anything").expect("ignored");
    }
}
