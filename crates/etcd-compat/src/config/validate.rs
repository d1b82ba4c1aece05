//! The checks etcd 3.5's `embed.Config.Validate` runs, in its order and with its messages:
//! logger setup, bind and advertise URLs, cluster state, heartbeat and election timeouts,
//! the advertise-client requirement and the compaction mode.

use std::path::PathBuf;

use super::error::{ConfigError, ErrorReport};
use super::go_url::{Url, is_ip, join_urls, split_host_port};
use super::log_config::{LogConfig, LogOutput};
use super::settings::Settings;
use crate::gotext::quote::quote;
use crate::gotext::zap::Level;

/// etcd's upper bound on `--election-timeout`, in milliseconds.
const MAX_ELECTION_MS: u64 = 50_000;

/// Validates `settings` and returns the logging configuration etcd sets up as its first
/// step. `advertise_client_cleared` is true when the command line set
/// `--listen-client-urls` without `--advertise-client-urls`.
pub(crate) fn validate(
    settings: &Settings,
    advertise_client_cleared: bool,
) -> Result<LogConfig, ConfigError> {
    let log = log_config(settings)?;
    let fail = |message: String| ConfigError::verify(message, Some(log.clone()));

    for urls in [
        &settings.listen_peer_urls.urls,
        &settings.listen_client_urls.urls,
        &settings.listen_metrics_urls.urls,
    ] {
        check_bind_urls(urls).map_err(fail)?;
    }
    let advertised_peers = &settings.initial_advertise_peer_urls.urls;
    if let Err(e) = check_host_urls(advertised_peers) {
        return Err(fail(format!(
            "--initial-advertise-peer-urls {} must be \"host:port\" ({e})",
            quote(join_urls(advertised_peers))
        )));
    }
    if !advertise_client_cleared {
        let advertised_clients = &settings.advertise_client_urls.urls;
        if let Err(e) = check_host_urls(advertised_clients) {
            return Err(fail(format!(
                "--advertise-client-urls {} must be \"host:port\" ({e})",
                quote(join_urls(advertised_clients))
            )));
        }
    }
    if !matches!(settings.initial_cluster_state.as_str(), "new" | "existing") {
        return Err(fail(format!(
            "unexpected clusterState {}",
            quote(&settings.initial_cluster_state)
        )));
    }
    let (tick, election) = (settings.tick_ms, settings.election_ms);
    if tick == 0 {
        return Err(fail(format!(
            "--heartbeat-interval must be >0 (set to {tick}ms)"
        )));
    }
    if election == 0 {
        return Err(fail(format!(
            "--election-timeout must be >0 (set to {election}ms)"
        )));
    }
    // Go's unsigned arithmetic wraps; so does etcd's check.
    if tick.wrapping_mul(5) > election {
        return Err(fail(format!(
            "--election-timeout[{election}ms] should be at least as 5 times as --heartbeat-interval[{tick}ms]"
        )));
    }
    if election > MAX_ELECTION_MS {
        return Err(fail(format!(
            "--election-timeout[{election}ms] is too long, and should be set less than {MAX_ELECTION_MS}ms"
        )));
    }
    if advertise_client_cleared {
        return Err(ConfigError::new(
            "--advertise-client-urls is required when --listen-client-urls is set explicitly",
            ErrorReport::VerifyFlags {
                log: Some(log),
                advertise_unset: true,
            },
        ));
    }
    if !matches!(
        settings.auto_compaction_mode.as_str(),
        "" | "periodic" | "revision"
    ) {
        return Err(fail(format!(
            "unknown auto-compaction-mode {}",
            quote(&settings.auto_compaction_mode)
        )));
    }
    Ok(log)
}

/// etcd's `setupLogging` for `--logger zap`: output targets, then the level.
fn log_config(settings: &Settings) -> Result<LogConfig, ConfigError> {
    match settings.logger.as_str() {
        "zap" => {}
        "capnslog" => {
            return Err(ConfigError::verify(
                "--logger=capnslog is removed in v3.5",
                None,
            ));
        }
        other => {
            return Err(ConfigError::verify(
                format!("unknown logger option {}", quote(other)),
                None,
            ));
        }
    }
    let mut outputs = settings.log_outputs.clone();
    if outputs.is_empty() {
        outputs.push("default".to_string());
    }
    if outputs.len() > 1 && outputs.iter().any(|o| o == "default") {
        return Err(ConfigError::verify(
            "multi logoutput for \"default\" is not supported yet",
            None,
        ));
    }
    let mut targets = Vec::with_capacity(outputs.len());
    for output in &outputs {
        targets.push(match output.as_str() {
            "default" | "stderr" => LogOutput::Stderr,
            "stdout" => LogOutput::Stdout,
            "systemd/journal" => {
                return Err(ConfigError::verify(
                    "--log-outputs=systemd/journal is not supported by oxcd; use stderr and let systemd capture it",
                    None,
                ));
            }
            path => LogOutput::File(PathBuf::from(path)),
        });
    }
    // As zap does, "/dev/null" anywhere discards every output.
    if outputs.iter().any(|o| o == "/dev/null") {
        targets.clear();
    }
    let level = Level::parse(&settings.log_level).ok_or_else(|| {
        ConfigError::new(
            format!("unrecognized level: {}", quote(&settings.log_level)),
            ErrorReport::Panic,
        )
    })?;
    Ok(LogConfig {
        level,
        outputs: targets,
    })
}

/// Listen URLs must name an IP address (or `localhost`): etcd binds them directly.
fn check_bind_urls(urls: &[Url]) -> Result<(), String> {
    for url in urls.iter().filter(|u| !u.is_unix()) {
        let (host, _) = split_host_port(url.host())
            .map_err(|reason| format!("address {}: {reason}", url.host()))?;
        if host != "localhost" && !is_ip(host) {
            return Err(format!("expected IP in URL for binding ({url})"));
        }
    }
    Ok(())
}

/// Advertised URLs must have a non-empty host.
fn check_host_urls(urls: &[Url]) -> Result<(), String> {
    for url in urls {
        let (host, _) = split_host_port(url.host())
            .map_err(|reason| format!("address {}: {reason}", url.host()))?;
        if host.is_empty() {
            return Err(format!("unexpected empty host ({url})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::UrlFlag;

    fn check(settings: &Settings) -> Result<LogConfig, String> {
        validate(settings, false).map_err(|e| e.message().to_string())
    }

    #[test]
    fn defaults_are_valid() {
        let log = validate(&Settings::flag_defaults(), false).expect("valid");
        assert_eq!(log, LogConfig::default());
    }

    #[test]
    fn timeouts_follow_etcds_rules() {
        let mut s = Settings::flag_defaults();
        s.election_ms = 400;
        assert_eq!(
            check(&s),
            Err("--election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]".to_string())
        );
        s.election_ms = 500;
        assert!(check(&s).is_ok(), "exactly 5x is allowed");
        s.election_ms = 60_000;
        assert_eq!(
            check(&s),
            Err(
                "--election-timeout[60000ms] is too long, and should be set less than 50000ms"
                    .to_string()
            )
        );
        s.election_ms = 50_000;
        assert!(check(&s).is_ok());
        s.tick_ms = 0;
        assert_eq!(
            check(&s),
            Err("--heartbeat-interval must be >0 (set to 0ms)".to_string())
        );
        s.tick_ms = 100;
        s.election_ms = 0;
        assert_eq!(
            check(&s),
            Err("--election-timeout must be >0 (set to 0ms)".to_string())
        );
    }

    #[test]
    fn listen_urls_must_be_ips_or_localhost() {
        let mut s = Settings::flag_defaults();
        s.listen_client_urls = UrlFlag::with_default("http://example.com:32379");
        assert_eq!(
            check(&s),
            Err("expected IP in URL for binding (http://example.com:32379)".to_string())
        );
        s.listen_client_urls = UrlFlag::with_default("http://0.0.0.0:2379,http://[::]:2379");
        assert!(check(&s).is_ok());
        s.listen_client_urls = UrlFlag::with_default("unix://anything:0");
        assert!(check(&s).is_ok(), "unix sockets are not checked");
    }

    #[test]
    fn advertised_urls_need_a_host() {
        let mut s = Settings::flag_defaults();
        s.initial_advertise_peer_urls = UrlFlag::with_default("http://:32380");
        assert_eq!(
            check(&s),
            Err("--initial-advertise-peer-urls \"http://:32380\" must be \"host:port\" (unexpected empty host (http://:32380))".to_string())
        );
        let mut s = Settings::flag_defaults();
        s.advertise_client_urls = UrlFlag::with_default("http://:1");
        assert!(
            check(&s)
                .unwrap_err()
                .starts_with("--advertise-client-urls \"http://:1\"")
        );
    }

    #[test]
    fn missing_advertise_client_urls_is_reported_with_its_extra_warning() {
        let err = validate(&Settings::flag_defaults(), true).expect_err("error");
        assert_eq!(
            err.message(),
            "--advertise-client-urls is required when --listen-client-urls is set explicitly"
        );
        assert!(matches!(
            err.report(),
            ErrorReport::VerifyFlags {
                log: Some(_),
                advertise_unset: true
            }
        ));
    }

    #[test]
    fn cluster_state_and_compaction_mode_are_checked() {
        let mut s = Settings::embed_defaults();
        s.initial_cluster_state = "bogus".to_string();
        assert_eq!(
            check(&s),
            Err("unexpected clusterState \"bogus\"".to_string())
        );
        let mut s = Settings::flag_defaults();
        s.auto_compaction_mode = "foo".to_string();
        assert_eq!(
            check(&s),
            Err("unknown auto-compaction-mode \"foo\"".to_string())
        );
    }

    #[test]
    fn logger_settings_are_checked_first() {
        let mut s = Settings::flag_defaults();
        s.election_ms = 1;
        s.logger = "capnslog".to_string();
        let err = validate(&s, false).expect_err("error");
        assert_eq!(err.message(), "--logger=capnslog is removed in v3.5");
        assert!(matches!(
            err.report(),
            ErrorReport::VerifyFlags { log: None, .. }
        ));
        s.logger = "bogus".to_string();
        assert_eq!(
            check(&s),
            Err("unknown logger option \"bogus\"".to_string())
        );

        let mut s = Settings::flag_defaults();
        s.log_outputs = vec!["default".to_string(), "stdout".to_string()];
        assert_eq!(
            check(&s),
            Err("multi logoutput for \"default\" is not supported yet".to_string())
        );

        let mut s = Settings::flag_defaults();
        s.log_level = "bogus".to_string();
        let err = validate(&s, false).expect_err("error");
        assert_eq!(err.message(), "unrecognized level: \"bogus\"");
        assert_eq!(err.report(), &ErrorReport::Panic);
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn log_outputs_map_to_targets() {
        let mut s = Settings::flag_defaults();
        s.log_outputs = vec!["/var/log/etcd.log".to_string(), "stdout".to_string()];
        s.log_level = "warn".to_string();
        let log = validate(&s, false).expect("valid");
        assert_eq!(log.level, Level::Warn);
        assert_eq!(
            log.outputs,
            vec![
                LogOutput::File(PathBuf::from("/var/log/etcd.log")),
                LogOutput::Stdout
            ]
        );
        s.log_outputs = vec!["/dev/null".to_string(), "stdout".to_string()];
        assert!(validate(&s, false).expect("valid").outputs.is_empty());
    }

    #[test]
    fn later_errors_carry_the_logger_already_set_up() {
        let mut s = Settings::flag_defaults();
        s.election_ms = 1;
        let err = validate(&s, false).expect_err("error");
        assert_eq!(
            err.report(),
            &ErrorReport::VerifyFlags {
                log: Some(LogConfig::default()),
                advertise_unset: false
            }
        );
    }
}
