//! The YAML `--config-file`, read as etcd 3.5 reads it: YAML converted to JSON and decoded
//! with Go's `encoding/json` rules (keys match case-insensitively, unknown keys are
//! skipped, a YAML number or boolean may fill a string field, a type mismatch is an error
//! naming the field), then the URL lists parsed in etcd's order.

use serde_yaml_ng::Value;

use super::error::{ConfigError, ErrorReport, Notice, NoticeStage};
use super::flag_spec::{FlagSpec, Target, YamlKey, set_cors, unique_sorted};
use super::flag_table::FLAGS;
use super::go_url::{Url, parse_url_list};
use super::settings::Settings;
use crate::gotext::io_error::go_io_error_text;
use crate::gotext::quote::quote;
use crate::gotext::zap::{Field, Level};

/// The settings a config file produced, and the notices reading it raised.
#[derive(Debug)]
pub(crate) struct LoadedFile {
    pub settings: Settings,
    pub notices: Vec<Notice>,
}

/// The URL-list keys in the order etcd parses them after decoding, with the name etcd's
/// error message uses for each (etcd 3.5 says `advertise-peer-urls` for the client list).
const URL_KEYS: [(&str, &str); 5] = [
    ("listen-peer-urls", "listen-peer-urls"),
    ("listen-client-urls", "listen-client-urls"),
    ("initial-advertise-peer-urls", "initial-advertise-peer-urls"),
    ("advertise-client-urls", "advertise-peer-urls"),
    ("listen-metrics-urls", "listen-metrics-urls"),
];

/// Reads and decodes the config file at `path` over etcd's `embed.NewConfig` defaults.
pub(crate) fn load(path: &str) -> Result<LoadedFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let op = if e.kind() == std::io::ErrorKind::IsADirectory {
            "read"
        } else {
            "open"
        };
        ConfigError::verify(format!("{op} {path}: {}", go_io_error_text(&e)), None)
    })?;
    let in_file = |message: String| {
        ConfigError::verify(format!("{message} (config file {})", quote(path)), None)
    };
    let document: Value = serde_yaml_ng::from_str(&text).map_err(|e| in_file(syntax_error(&e)))?;

    let mut decoder = Decoder {
        settings: Settings::embed_defaults(),
        notices: Vec::new(),
        url_texts: Vec::new(),
    };
    decoder.settings.config_file = path.to_string();
    decoder.document(&document).map_err(|e| {
        in_file(format!(
            "error unmarshaling JSON: while decoding JSON: json: {e}"
        ))
    })?;
    decoder.parse_url_lists()?;

    let mut settings = decoder.settings;
    if settings.initial_cluster_state.is_empty() {
        settings.initial_cluster_state = "new".to_string();
    }
    if settings.self_signed_cert_validity == 0 {
        settings.self_signed_cert_validity = 1;
    }
    Ok(LoadedFile {
        settings,
        notices: decoder.notices,
    })
}

/// Formats a YAML syntax error as Go's `yaml` package words it (`yaml: line 1: ...`).
fn syntax_error(err: &serde_yaml_ng::Error) -> String {
    let text = err.to_string();
    let problem = match text.find(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    match err.location() {
        Some(location) => format!(
            "error converting YAML to JSON: yaml: line {}: {problem}",
            location.line()
        ),
        None => format!("error converting YAML to JSON: yaml: {problem}"),
    }
}

/// JSON's name for the kind of a value, as Go's decoder reports mismatches.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "array",
        Value::Mapping(_) => "object",
        Value::Tagged(tagged) => json_kind(&tagged.value),
    }
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untag(&tagged.value),
        other => other,
    }
}

/// A key as the YAML-to-JSON conversion turns it into a JSON object key.
fn key_text(key: &Value) -> Option<String> {
    scalar_text(untag(key))
}

/// A scalar as text: how a YAML number or boolean lands in a Go string field.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (_, Some(i), _) => i.to_string(),
            (_, _, Some(f)) => (f as f32).to_string(),
            _ => n.to_string(),
        }),
        _ => None,
    }
}

/// A JSON number as Go's decoder quotes it in a range or type error.
fn number_literal(n: &serde_yaml_ng::Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) => f.to_string(),
        _ => n.to_string(),
    }
}

struct Decoder {
    settings: Settings,
    notices: Vec<Notice>,
    /// URL-list texts by key, parsed after decoding as etcd does.
    url_texts: Vec<(&'static str, String)>,
}

/// Where a field sits, for Go's error text (`configYAML.name`,
/// `securityConfig.client-transport-security.cert-file`).
struct GoField {
    owner: &'static str,
    path: String,
}

impl GoField {
    fn mismatch(&self, what: &str, go_type: &str) -> String {
        format!(
            "cannot unmarshal {what} into Go struct field {}.{} of type {go_type}",
            self.owner, self.path
        )
    }
}

impl Decoder {
    fn document(&mut self, document: &Value) -> Result<(), String> {
        let mapping = match untag(document) {
            Value::Null => return Ok(()),
            Value::Mapping(mapping) => mapping,
            other => {
                return Err(format!(
                    "cannot unmarshal {} into Go value of type embed.configYAML",
                    json_kind(other)
                ));
            }
        };
        for (key, value) in mapping {
            let Some(key) = key_text(key) else {
                continue;
            };
            if let Some(spec) = find_top(&key) {
                let YamlKey::Top(canonical) = spec.yaml else {
                    continue;
                };
                let field = GoField {
                    owner: "configYAML",
                    path: canonical.to_string(),
                };
                self.field(spec, canonical, &field, untag(value))?;
            } else if let Some(section) = ["client-transport-security", "peer-transport-security"]
                .into_iter()
                .find(|s| s.eq_ignore_ascii_case(&key))
            {
                self.security(section, untag(value))?;
            } else {
                self.notices.push(Notice::new(
                    NoticeStage::ConfigLoaded,
                    Level::Warn,
                    "ignoring unsupported configuration file key",
                    vec![
                        Field::str("key", key),
                        Field::str("path", self.settings.config_file.clone()),
                    ],
                ));
            }
        }
        Ok(())
    }

    fn security(&mut self, section: &'static str, value: &Value) -> Result<(), String> {
        let mapping = match value {
            Value::Null => return Ok(()),
            Value::Mapping(mapping) => mapping,
            other => {
                return Err(GoField {
                    owner: "configYAML",
                    path: section.to_string(),
                }
                .mismatch(json_kind(other), "embed.securityConfig"));
            }
        };
        for (key, value) in mapping {
            let Some(key) = key_text(key) else {
                continue;
            };
            let spec = find_best(&key, |spec| match spec.yaml {
                YamlKey::Nested(parent, child) if parent == section => Some(child),
                _ => None,
            });
            if let Some((spec, child)) = spec {
                let field = GoField {
                    owner: "securityConfig",
                    path: format!("{section}.{child}"),
                };
                self.field(spec, child, &field, untag(value))?;
            }
        }
        Ok(())
    }

    fn field(
        &mut self,
        spec: &'static FlagSpec,
        key: &'static str,
        field: &GoField,
        value: &Value,
    ) -> Result<(), String> {
        if matches!(value, Value::Null) {
            return Ok(());
        }
        let settings = &mut self.settings;
        match spec.target {
            Target::Str(target) | Target::Choice(target, _) => {
                *target(settings) = string_value(value, field)?;
            }
            Target::Bool(target) => match value {
                Value::Bool(b) => *target(settings) = *b,
                other => return Err(field.mismatch(json_kind(other), "bool")),
            },
            Target::Uint(target, go_type) => {
                let max = if go_type == "uint32" {
                    u64::from(u32::MAX)
                } else {
                    u64::MAX
                };
                *target(settings) = number_value(value, field, go_type, |n| {
                    n.as_u64()
                        .or_else(|| whole_float(n).and_then(|f| (f >= 0.0).then_some(f as u64)))
                        .filter(|&n| n <= max)
                })?;
            }
            Target::Int(target, go_type) => {
                *target(settings) = number_value(value, field, go_type, |n| {
                    n.as_i64().or_else(|| whole_float(n).map(|f| f as i64))
                })?;
            }
            Target::Duration(target) => {
                *target(settings) = number_value(value, field, "time.Duration", |n| {
                    n.as_i64().or_else(|| whole_float(n).map(|f| f as i64))
                })?;
            }
            Target::Urls(_) | Target::Cors(_) => {
                let text = string_value(value, field)?;
                self.url_texts.retain(|(k, _)| *k != key);
                self.url_texts.push((key, text));
            }
            Target::UniqueStrings(target, true) | Target::Strings(target) => {
                *target(settings) = list_value(value, field)?;
            }
            Target::UniqueStrings(target, false) => {
                let text = string_value(value, field)?;
                if !text.is_empty() {
                    *target(settings) = unique_sorted(&text);
                }
            }
            Target::Ignored => {}
        }
        Ok(())
    }

    /// Parses the URL-list texts in etcd's order; etcd prints these failures on stderr.
    fn parse_url_lists(&mut self) -> Result<(), ConfigError> {
        let text_of = |key: &str| {
            self.url_texts
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| t.clone())
                .filter(|t| !t.is_empty())
        };
        let mut parsed: Vec<(&str, Vec<Url>)> = Vec::new();
        for (key, label) in URL_KEYS {
            if let Some(text) = text_of(key) {
                let urls = parse_url_list(&text).map_err(|e| {
                    ConfigError::new(
                        format!("unexpected error setting up {label}: {e}"),
                        ErrorReport::Stderr,
                    )
                })?;
                parsed.push((key, urls));
            }
        }
        let cors = text_of("cors");
        for (key, urls) in parsed {
            let flag = match key {
                "listen-peer-urls" => &mut self.settings.listen_peer_urls,
                "listen-client-urls" => &mut self.settings.listen_client_urls,
                "initial-advertise-peer-urls" => &mut self.settings.initial_advertise_peer_urls,
                "advertise-client-urls" => &mut self.settings.advertise_client_urls,
                _ => &mut self.settings.listen_metrics_urls,
            };
            flag.replace(urls);
        }
        if let Some(text) = cors {
            let mut values = Vec::new();
            // etcd builds this with a constructor that panics on a bad URL.
            set_cors(&mut values, &text).map_err(|e| {
                ConfigError::new(
                    format!("new UniqueURLs should never fail: {e}"),
                    ErrorReport::Panic,
                )
            })?;
            self.settings.cors = values;
        }
        Ok(())
    }
}

/// Finds the flag whose top-level YAML key matches, preferring an exact match as Go does.
fn find_top(key: &str) -> Option<&'static FlagSpec> {
    find_best(key, |spec| match spec.yaml {
        YamlKey::Top(name) => Some(name),
        _ => None,
    })
    .map(|(spec, _)| spec)
}

fn find_best(
    key: &str,
    name_of: impl Fn(&FlagSpec) -> Option<&'static str>,
) -> Option<(&'static FlagSpec, &'static str)> {
    let candidates = || {
        FLAGS
            .iter()
            .filter_map(|spec| name_of(spec).map(|n| (spec, n)))
    };
    candidates()
        .find(|(_, name)| *name == key)
        .or_else(|| candidates().find(|(_, name)| name.eq_ignore_ascii_case(key)))
}

fn string_value(value: &Value, field: &GoField) -> Result<String, String> {
    scalar_text(value).ok_or_else(|| field.mismatch(json_kind(value), "string"))
}

fn list_value(value: &Value, field: &GoField) -> Result<Vec<String>, String> {
    let Value::Sequence(items) = value else {
        return Err(field.mismatch(json_kind(value), "[]string"));
    };
    items
        .iter()
        .map(|item| match untag(item) {
            Value::Null => Ok(String::new()),
            other => string_value(other, field),
        })
        .collect()
}

/// A float with no fractional part: the YAML-to-JSON step writes it as an integer.
fn whole_float(n: &serde_yaml_ng::Number) -> Option<f64> {
    n.as_f64().filter(|f| f.fract() == 0.0 && f.is_finite())
}

fn number_value<T>(
    value: &Value,
    field: &GoField,
    go_type: &str,
    convert: impl Fn(&serde_yaml_ng::Number) -> Option<T>,
) -> Result<T, String> {
    match value {
        Value::Number(n) => convert(n)
            .ok_or_else(|| field.mismatch(&format!("number {}", number_literal(n)), go_type)),
        other => Err(field.mismatch(json_kind(other), go_type)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write");
        file
    }

    fn load_text(text: &str) -> Result<LoadedFile, ConfigError> {
        let file = write(text);
        load(file.path().to_str().expect("utf8 path"))
    }

    fn error_text(text: &str) -> String {
        let file = write(text);
        let path = file.path().to_str().expect("utf8").to_string();
        let err = load(&path).expect_err("must fail");
        err.message().replace(&path, "PATH")
    }

    #[test]
    fn keys_set_settings_with_go_types() {
        let loaded = load_text(
            "name: infra1\n\
             data-dir: /var/lib/etcd\n\
             snapshot-count: 5000\n\
             heartbeat-interval: 200\n\
             election-timeout: 2000\n\
             quota-backend-bytes: -1\n\
             listen-peer-urls: http://10.0.0.1:2380,http://10.0.0.1:12380\n\
             listen-client-urls: http://10.0.0.1:2379\n\
             advertise-client-urls: http://10.0.0.1:2379\n\
             initial-advertise-peer-urls: http://10.0.0.1:2380\n\
             initial-cluster: infra1=http://10.0.0.1:2380\n\
             initial-cluster-state: existing\n\
             initial-cluster-token: tok\n\
             log-level: debug\n\
             log-outputs: [stdout, /tmp/x.log]\n\
             cipher-suites: [TLS_AES_128_GCM_SHA256]\n\
             auto-compaction-retention: 1\n\
             enable-pprof: true\n\
             grpc-keepalive-timeout: 3000000000\n\
             host-whitelist: b,a\n\
             cors: '*'\n",
        )
        .expect("valid file");
        let s = loaded.settings;
        assert_eq!(s.name, "infra1");
        assert_eq!(s.dir, "/var/lib/etcd");
        assert_eq!(s.snapshot_count, 5000);
        assert_eq!((s.tick_ms, s.election_ms), (200, 2000));
        assert_eq!(s.quota_backend_bytes, -1);
        assert_eq!(s.listen_peer_urls.urls.len(), 2);
        assert_eq!(
            s.listen_peer_urls.urls[0].to_string(),
            "http://10.0.0.1:12380",
            "sorted"
        );
        assert_eq!(s.initial_cluster_state, "existing");
        assert_eq!(s.log_outputs, vec!["stdout", "/tmp/x.log"]);
        assert_eq!(s.cipher_suites, vec!["TLS_AES_128_GCM_SHA256"]);
        assert_eq!(
            s.auto_compaction_retention, "1",
            "a YAML number fills a string"
        );
        assert!(s.enable_pprof);
        assert_eq!(s.grpc_keepalive_timeout, 3_000_000_000);
        assert_eq!(s.host_whitelist, vec!["a", "b"]);
        assert_eq!(s.cors, vec!["*"]);
        assert!(loaded.notices.is_empty());
    }

    #[test]
    fn defaults_are_etcds_embed_defaults() {
        let loaded = load_text("").expect("an empty file is valid");
        let mut expected = Settings::embed_defaults();
        expected.self_signed_cert_validity = 1;
        expected.config_file = loaded.settings.config_file.clone();
        assert_eq!(loaded.settings, expected);
        assert_eq!(loaded.settings.auto_compaction_mode, "");
    }

    #[test]
    fn keys_match_case_insensitively_and_unknown_keys_are_reported() {
        let loaded = load_text("NAME: n2\nenable-v2: true\n").expect("valid");
        assert_eq!(loaded.settings.name, "n2");
        assert_eq!(loaded.notices.len(), 1);
        assert_eq!(loaded.notices[0].fields[0], Field::str("key", "enable-v2"));
        assert_eq!(loaded.notices[0].stage, NoticeStage::ConfigLoaded);
    }

    #[test]
    fn security_sections_fill_tls_settings() {
        let loaded = load_text(
            "client-transport-security:\n  cert-file: /c.pem\n  key-file: /c.key\n  client-cert-auth: true\n  auto-tls: true\n\
             peer-transport-security:\n  trusted-ca-file: /ca.pem\n",
        )
        .expect("valid");
        let s = loaded.settings;
        assert_eq!(s.client_tls.cert_file, "/c.pem");
        assert_eq!(s.client_tls.key_file, "/c.key");
        assert!(s.client_tls.client_cert_auth && s.client_tls.auto_tls);
        assert_eq!(s.peer_tls.trusted_ca_file, "/ca.pem");
    }

    #[test]
    fn type_mismatches_name_the_field_like_go() {
        assert_eq!(
            error_text("name: n1\nsnapshot-count: abc\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.snapshot-count of type uint64 (config file \"PATH\")"
        );
        assert_eq!(
            error_text("log-outputs: stderr\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.log-outputs of type []string (config file \"PATH\")"
        );
        assert_eq!(
            error_text("heartbeat-interval: -1\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number -1 into Go struct field configYAML.heartbeat-interval of type uint (config file \"PATH\")"
        );
        assert_eq!(
            error_text("heartbeat-interval: 1.5\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number 1.5 into Go struct field configYAML.heartbeat-interval of type uint (config file \"PATH\")"
        );
        assert_eq!(
            error_text("max-concurrent-streams: 4294967296\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number 4294967296 into Go struct field configYAML.max-concurrent-streams of type uint32 (config file \"PATH\")"
        );
        assert_eq!(
            error_text("enable-pprof: \"true\"\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.enable-pprof of type bool (config file \"PATH\")"
        );
        assert_eq!(
            error_text("name: [a, b]\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field configYAML.name of type string (config file \"PATH\")"
        );
        assert_eq!(
            error_text("client-transport-security:\n  cert-file: [x]\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field securityConfig.client-transport-security.cert-file of type string (config file \"PATH\")"
        );
        assert_eq!(
            error_text("just a string\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go value of type embed.configYAML (config file \"PATH\")"
        );
    }

    #[test]
    fn syntax_errors_carry_the_line_and_the_file() {
        assert_eq!(
            error_text("name: [a\n"),
            "error converting YAML to JSON: yaml: line 2: did not find expected ',' or ']' (config file \"PATH\")"
        );
    }

    #[test]
    fn missing_files_fail_like_go() {
        let err = load("/nonexistent/oxcd.yaml").expect_err("missing");
        assert_eq!(
            err.message(),
            "open /nonexistent/oxcd.yaml: no such file or directory"
        );
        assert_eq!(err.exit_code(), 1);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().to_str().expect("utf8").to_string();
        let err = load(&path).expect_err("a directory");
        assert_eq!(err.message(), format!("read {path}: is a directory"));
    }

    #[test]
    fn bad_urls_are_reported_on_stderr_in_etcds_order() {
        let err = load_text("advertise-client-urls: x\nlisten-peer-urls: 127.0.0.1:2380\n")
            .expect_err("bad urls");
        assert_eq!(err.report(), &ErrorReport::Stderr);
        assert_eq!(
            err.message(),
            "unexpected error setting up listen-peer-urls: parse \"127.0.0.1:2380\": first path segment in URL cannot contain colon"
        );
        let err = load_text("advertise-client-urls: x\n").expect_err("bad url");
        assert_eq!(
            err.message(),
            "unexpected error setting up advertise-peer-urls: URL scheme must be http, https, unix, or unixs: x"
        );
        let err = load_text("cors: x\n").expect_err("bad cors");
        assert_eq!(err.report(), &ErrorReport::Panic);
        assert_eq!(err.exit_code(), 2);
    }
}
