//! End-to-end tests of [`parse`](super::parse): command line, environment and config file
//! together, checked against what etcd 3.5.1 does with the same input.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run_with(list: &[&str], vars: &[(&str, &str)]) -> ServerConfig {
    match parse(args(list), &env(vars)) {
        Ok(ParseOutcome::Run(c)) => *c,
        other => panic!("expected a configuration, got {other:?}"),
    }
}

fn run(list: &[&str]) -> ServerConfig {
    run_with(list, &[])
}

fn fail_with(list: &[&str], vars: &[(&str, &str)]) -> ConfigError {
    match parse(args(list), &env(vars)) {
        Err(e) => e,
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

fn fail(list: &[&str]) -> ConfigError {
    fail_with(list, &[])
}

fn yaml(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write");
    file
}

fn path_of(file: &tempfile::NamedTempFile) -> String {
    file.path().to_str().expect("utf8 path").to_string()
}

#[test]
fn no_arguments_give_etcds_defaults() {
    let c = run(&[]);
    assert_eq!(c.name, "default");
    assert_eq!(c.data_dir, PathBuf::from("default.etcd"));
    assert_eq!(c.listen_peer_urls[0].to_string(), "http://localhost:2380");
    assert_eq!(c.listen_client_urls[0].to_string(), "http://localhost:2379");
    assert_eq!(
        c.initial_advertise_peer_urls[0].to_string(),
        "http://localhost:2380"
    );
    assert_eq!(
        c.advertise_client_urls[0].to_string(),
        "http://localhost:2379"
    );
    assert!(c.listen_metrics_urls.is_empty());
    assert_eq!(c.initial_cluster, "default=http://localhost:2380");
    assert_eq!(c.initial_cluster_state, ClusterState::New);
    assert_eq!(c.initial_cluster_token, "etcd-cluster");
    assert_eq!(c.heartbeat_interval, Duration::from_millis(100));
    assert_eq!(c.election_timeout, Duration::from_millis(1000));
    assert_eq!(c.snapshot_count, 100_000);
    assert_eq!(c.max_request_bytes, 1_572_864);
    assert_eq!(c.max_txn_ops, 128);
    assert_eq!(c.quota_backend_bytes, 0);
    assert_eq!(c.backend_quota(), Some(2 * 1024 * 1024 * 1024));
    assert_eq!(c.log, LogConfig::default());
    assert!(c.enable_grpc_gateway);
    assert!(c.strict_reconfig_check);
    assert!(c.pre_vote);
    assert!(!c.force_new_cluster);
    assert_eq!(c.auto_compaction_mode, "periodic");
    assert_eq!(c.auto_compaction, AutoCompaction::Disabled);
    assert_eq!(c.auth_token, "simple");
    assert_eq!(c.cors, vec!["*"]);
    assert_eq!(c.host_whitelist, vec!["*"]);
    assert_eq!(c.config_file, None);
    assert_eq!(c.self_signed_cert_validity_years, 1);
}

#[test]
fn a_typical_cluster_member() {
    let c = run(&[
        "--name",
        "infra1",
        "--data-dir=/var/lib/etcd",
        "-listen-peer-urls",
        "http://127.0.0.1:2380",
        "-initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--listen-client-urls=http://127.0.0.1:2379,http://10.0.0.1:2379",
        "--advertise-client-urls=http://10.0.0.1:2379",
        "--initial-cluster=infra1=http://127.0.0.1:2380,infra2=http://127.0.0.2:2380",
        "--initial-cluster-state=existing",
        "--initial-cluster-token=tok",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--log-level=debug",
        "--log-outputs=stdout",
        "--auto-compaction-retention=0",
        "--enable-pprof=false",
        "--listen-metrics-urls=http://127.0.0.1:2381",
    ]);
    assert_eq!(c.name, "infra1");
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/etcd"));
    assert_eq!(c.wal_dir, PathBuf::from("/var/lib/etcd/member/wal"));
    let clients: Vec<String> = c
        .listen_client_urls
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        clients,
        ["http://10.0.0.1:2379", "http://127.0.0.1:2379"],
        "sorted like etcd"
    );
    assert_eq!(c.initial_cluster_state, ClusterState::Existing);
    assert_eq!(c.election_ticks(), 10);
    assert_eq!(c.log.level, crate::gotext::zap::Level::Debug);
    assert_eq!(c.log.outputs, vec![LogOutput::Stdout]);
    assert_eq!(c.auto_compaction, AutoCompaction::Disabled);
    assert!(!c.enable_pprof);
    assert_eq!(c.listen_metrics_urls.len(), 1);
    assert!(c.notices.is_empty(), "nothing to report: {:?}", c.notices);
}

#[test]
fn command_line_beats_environment_beats_default() {
    let c = run_with(
        &["--snapshot-count=7"],
        &[("ETCD_HEARTBEAT_INTERVAL", "50"), ("ETCD_NAME", "from-env")],
    );
    assert_eq!(c.snapshot_count, 7);
    assert_eq!(c.heartbeat_interval, Duration::from_millis(50));
    assert_eq!(c.name, "from-env");
    assert_eq!(c.max_txn_ops, 128);
    let used: Vec<&Notice> = c
        .notices
        .iter()
        .filter(|n| n.msg == "recognized and used environment variable")
        .collect();
    assert_eq!(used.len(), 2);
}

#[test]
fn environment_and_flag_for_the_same_setting_conflict() {
    let err = fail_with(&["--name=y"], &[("ETCD_NAME", "x")]);
    assert!(matches!(err.report(), ErrorReport::FlagParsingFatal { .. }));
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn listen_client_urls_from_the_environment_also_need_advertise_urls() {
    let err = fail_with(&[], &[("ETCD_LISTEN_CLIENT_URLS", "http://127.0.0.1:2379")]);
    assert_eq!(
        err.message(),
        "--advertise-client-urls is required when --listen-client-urls is set explicitly"
    );
    let notices: Vec<&str> = err.notices().iter().map(|n| n.msg.as_str()).collect();
    assert_eq!(notices, ["recognized and used environment variable"]);
}

#[test]
fn listen_client_urls_without_advertise_urls_fails_like_etcd() {
    let err = fail(&["--listen-client-urls=http://127.0.0.1:2379"]);
    assert_eq!(
        err.report(),
        &ErrorReport::VerifyFlags {
            log: Some(LogConfig::default()),
            advertise_unset: true
        }
    );
}

#[test]
fn positional_arguments_are_rejected_after_flag_parsing() {
    let err = fail(&["foo"]);
    assert_eq!(err.message(), "'foo' is not a valid flag");
    assert_eq!(
        err.report(),
        &ErrorReport::VerifyFlags {
            log: None,
            advertise_unset: false
        }
    );
    assert_eq!(err.exit_code(), 1);
    let err = fail(&["--name=a", "--", "x"]);
    assert_eq!(err.message(), "'x' is not a valid flag");
    // A flag error is found first, and exits 2.
    assert_eq!(fail(&["--bogus", "foo"]).exit_code(), 2);
}

#[test]
fn a_lone_double_dash_is_fine() {
    assert_eq!(run(&["--name=a", "--"]).name, "a");
}

#[test]
fn version_and_help() {
    match parse(args(&["--version"]), &HashMap::new()) {
        Ok(ParseOutcome::PrintVersion(text)) => assert!(text.starts_with("etcd Version: 3.5.1\n")),
        other => panic!("{other:?}"),
    }
    // --version wins over other problems found later, but not over flag errors.
    assert!(matches!(
        parse(
            args(&["--version", "--election-timeout=1"]),
            &HashMap::new()
        ),
        Ok(ParseOutcome::PrintVersion(_))
    ));
    assert!(parse(args(&["--version", "x"]), &HashMap::new()).is_err());
    match parse(args(&["--name=x", "-h"]), &HashMap::new()) {
        Ok(ParseOutcome::PrintHelp(help)) => {
            assert!(help.usage.starts_with("Usage:"));
            assert!(help.flags.contains("--initial-cluster-token"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_and_unsupported_flags_fail_like_go() {
    let err = fail(&["--experimental-memory-mlock"]);
    assert_eq!(
        err.message(),
        "flag provided but not defined: -experimental-memory-mlock"
    );
    assert_eq!(err.report(), &ErrorReport::Usage);
    assert_eq!(err.exit_code(), 2);
    assert_eq!(fail(&["--enable-v2=false"]).exit_code(), 2);
}

#[test]
fn raft_timeouts_are_raised_to_five_seconds() {
    let c = run(&["--raft-read-timeout=1s", "--raft-write-timeout=5s"]);
    assert_eq!(c.raft_read_timeout, Duration::from_secs(5));
    assert_eq!(c.raft_write_timeout, Duration::from_secs(5));
    let raised: Vec<&str> = c
        .notices
        .iter()
        .filter(|n| n.stage == NoticeStage::FlagParsing)
        .map(|n| n.msg.as_str())
        .collect();
    assert_eq!(raised, ["raft-read-timeout increased to minimum value: 5s"]);
}

#[test]
fn config_file_replaces_flags_and_environment() {
    let file = yaml(
        "name: from-file\n\
         data-dir: /srv/etcd\n\
         listen-client-urls: http://127.0.0.1:2379\n\
         initial-advertise-peer-urls: http://127.0.0.1:2380\n\
         auto-compaction-mode: revision\n\
         auto-compaction-retention: \"0\"\n",
    );
    let path = path_of(&file);
    let c = run_with(
        &[
            "--config-file",
            &path,
            "--name=ignored",
            "--snapshot-count=1",
        ],
        &[("ETCD_NAME", "also-ignored"), ("ETCD_BOGUS", "x")],
    );
    assert_eq!(c.name, "from-file");
    assert_eq!(c.snapshot_count, 100_000);
    assert_eq!(c.config_file, Some(PathBuf::from(&path)));
    assert_eq!(c.auto_compaction_mode, "revision");
    assert_eq!(c.auto_compaction, AutoCompaction::Disabled);
    // No advertise-client-urls needed in a file: the default stays.
    assert_eq!(
        c.advertise_client_urls[0].to_string(),
        "http://localhost:2379"
    );
    assert_eq!(c.initial_cluster, "from-file=http://127.0.0.1:2380");
    let msgs: Vec<&str> = c.notices.iter().map(|n| n.msg.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided"
        ],
        "environment variables are not even inspected"
    );
    assert_eq!(c.notices[0].fields, vec![Field::str("path", path)]);
}

#[test]
fn config_file_may_come_from_the_environment() {
    let file = yaml("name: via-env\n");
    let c = run_with(&[], &[("ETCD_CONFIG_FILE", &path_of(&file))]);
    assert_eq!(c.name, "via-env");
    assert_eq!(c.data_dir, PathBuf::from("via-env.etcd"));
}

#[test]
fn config_file_errors_keep_etcds_reporting() {
    let err = fail(&["--config-file=/nonexistent.yaml"]);
    assert_eq!(
        err.message(),
        "open /nonexistent.yaml: no such file or directory"
    );
    assert_eq!(
        err.report(),
        &ErrorReport::VerifyFlags {
            log: None,
            advertise_unset: false
        }
    );

    let file = yaml("election-timeout: 300\n");
    let err = fail(&["--config-file", &path_of(&file)]);
    assert_eq!(
        err.message(),
        "--election-timeout[300ms] should be at least as 5 times as --heartbeat-interval[100ms]"
    );
    assert!(
        err.notices().is_empty(),
        "etcd never logs the loaded line here"
    );
    assert_eq!(
        err.report(),
        &ErrorReport::VerifyFlags {
            log: None,
            advertise_unset: false
        }
    );

    let file = yaml("logger: capnslog\n");
    let err = fail(&["--config-file", &path_of(&file)]);
    assert_eq!(err.message(), "--logger=capnslog is removed in v3.5");
    assert!(
        err.notices().is_empty(),
        "no logger yet, so nothing was logged"
    );

    let file = yaml("initial-cluster-state: bogus\n");
    assert_eq!(
        fail(&["--config-file", &path_of(&file)]).message(),
        "unexpected clusterState \"bogus\""
    );
}

#[test]
fn bad_compaction_retention_fails_at_start() {
    let err = fail(&["--auto-compaction-retention=abc"]);
    assert_eq!(
        err.message(),
        "error parsing CompactionRetention: time: invalid duration \"abc\""
    );
    assert!(matches!(err.report(), ErrorReport::StartFailed { .. }));
}

#[test]
fn ids_for_a_parsed_configuration() {
    let c = run(&[
        "--name=infra2",
        "--initial-advertise-peer-urls=http://127.0.0.1:32382",
        "--initial-cluster=infra1=http://127.0.0.1:32380,infra2=http://127.0.0.1:32382,infra3=http://127.0.0.1:32384",
        "--initial-cluster-token=tok-3",
    ]);
    let b = c.bootstrap_cluster().expect("valid cluster");
    assert_eq!(b.local_member_id, 13_480_796_732_600_576_856);
    assert_eq!(b.cluster_id, 524_734_462_902_618_249);
}

/// Asserts `err` is the startup refusal of an unsupported flag: etcd's `failed to verify
/// flags` report with the configured logger, exit code 1, its message naming `flag`.
fn assert_refused(err: &ConfigError, flag: &str) {
    assert!(
        err.message().starts_with(flag) && err.message().contains(" is not supported yet: "),
        "{flag}: {}",
        err.message()
    );
    assert!(
        matches!(
            err.report(),
            ErrorReport::VerifyFlags {
                log: Some(_),
                advertise_unset: false
            }
        ),
        "{flag}: {:?}",
        err.report()
    );
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn peer_tls_flags_are_accepted() {
    // The files are read, and their combinations checked, when the listeners are set up.
    let c = run(&[
        "--listen-peer-urls=https://127.0.0.1:2380",
        "--initial-advertise-peer-urls=https://127.0.0.1:2380",
        "--initial-cluster=default=https://127.0.0.1:2380",
        "--peer-cert-file=/p.pem",
        "--peer-key-file=/p.key",
        "--peer-client-cert-file=/p.pem",
        "--peer-client-key-file=/p.key",
        "--peer-trusted-ca-file=/ca.pem",
        "--peer-client-cert-auth=true",
        "--peer-auto-tls",
        "--peer-crl-file=/crl.pem",
        "--peer-cert-allowed-cn=c",
    ]);
    assert_eq!(c.peer_tls.cert_file, Some(PathBuf::from("/p.pem")));
    assert!(c.peer_tls.client_cert_auth && c.peer_tls.auto_tls);
    assert_eq!(c.peer_tls.allowed_cn.as_deref(), Some("c"));
    assert!(c.listen_peer_urls[0].is_tls());
}

#[test]
fn client_tls_flags_are_accepted() {
    // The files are read, and their combinations checked, when the listeners are set up.
    let c = run(&[
        "--listen-client-urls=https://127.0.0.1:2379,http://127.0.0.1:22379",
        "--advertise-client-urls=https://127.0.0.1:2379",
        "--listen-metrics-urls=https://127.0.0.1:2381",
        "--cert-file=/c.pem",
        "--key-file=/c.key",
        "--client-cert-file=/c.pem",
        "--client-key-file=/c.key",
        "--trusted-ca-file=/ca.pem",
        "--client-cert-auth",
        "--auto-tls",
        "--client-crl-file=/crl.pem",
        "--client-cert-allowed-hostname=h",
        "--cipher-suites=TLS_AES_128_GCM_SHA256",
        "--self-signed-cert-validity=2",
    ]);
    assert_eq!(c.client_tls.cert_file, Some(PathBuf::from("/c.pem")));
    assert!(c.client_tls.client_cert_auth && c.client_tls.auto_tls);
    assert_eq!(c.client_tls.allowed_hostname.as_deref(), Some("h"));
    assert_eq!(c.cipher_suites, ["TLS_AES_128_GCM_SHA256"]);
    assert_eq!(c.self_signed_cert_validity_years, 2);
}

#[test]
fn unix_socket_urls_are_refused() {
    for (args, flag) in [
        (
            "--listen-metrics-urls=unixs://metrics:0",
            "--listen-metrics-urls=unixs://metrics:0",
        ),
        (
            "--listen-peer-urls=unix://peer:0",
            "--listen-peer-urls=unix://peer:0",
        ),
    ] {
        assert_refused(&fail(&[args]), flag);
    }
}

#[test]
fn the_auth_flags_are_taken() {
    let c = run(&[
        "--auth-token=jwt,sign-method=RS256,pub-key=/k.pub",
        "--auth-token-ttl=60",
        "--bcrypt-cost=4",
    ]);
    assert_eq!(c.auth_token, "jwt,sign-method=RS256,pub-key=/k.pub");
    assert_eq!(c.auth_token_ttl, std::time::Duration::from_secs(60));
    assert_eq!(c.bcrypt_cost, 4);
}

#[test]
fn flags_oxcd_cannot_honour_are_refused_when_set() {
    for (flag, name) in [
        (
            "--backend-batch-interval=10ms",
            "--backend-batch-interval=10ms",
        ),
        ("--backend-batch-limit=5", "--backend-batch-limit=5"),
        (
            "--backend-bbolt-freelist-type=array",
            "--backend-bbolt-freelist-type=array",
        ),
        ("--cors=http://a:1", "--cors=http://a:1"),
        ("--enable-pprof", "--enable-pprof"),
        (
            "--experimental-compaction-batch-limit=10",
            "--experimental-compaction-batch-limit=10",
        ),
        (
            "--experimental-warning-apply-duration=1s",
            "--experimental-warning-apply-duration=1s",
        ),
        (
            "--grpc-keepalive-interval=1m",
            "--grpc-keepalive-interval=60s",
        ),
        (
            "--grpc-keepalive-min-time=1s",
            "--grpc-keepalive-min-time=1s",
        ),
        (
            "--grpc-keepalive-timeout=0s",
            "--grpc-keepalive-timeout=0ns",
        ),
        (
            "--host-whitelist=example.com",
            "--host-whitelist=example.com",
        ),
        ("--raft-read-timeout=10s", "--raft-read-timeout=10s"),
        ("--raft-write-timeout=6s", "--raft-write-timeout=6s"),
        ("--socket-reuse-port", "--socket-reuse-port"),
    ] {
        assert_refused(&fail(&[flag]), name);
    }
}

#[test]
fn flags_at_etcds_default_or_honoured_are_accepted() {
    let c = run(&[
        "--auto-compaction-retention=0",
        "--auto-compaction-mode=revision",
        "--quota-backend-bytes=0",
        "--client-cert-auth=false",
        "--peer-client-cert-auth=false",
        "--auto-tls=false",
        "--peer-auto-tls=false",
        "--cert-file=",
        "--peer-key-file=",
        "--cipher-suites=",
        "--self-signed-cert-validity=1",
        "--force-new-cluster=false",
        "--enable-pprof=false",
        "--strict-reconfig-check=true",
        "--strict-reconfig-check=false",
        "--force-new-cluster",
        "--experimental-initial-corrupt-check=false",
        "--experimental-corrupt-check-time=0s",
        "--experimental-compaction-batch-limit=1000",
        "--experimental-warning-apply-duration=100ms",
        "--metrics=basic",
        "--cors=*",
        "--host-whitelist=*",
        "--auth-token=simple",
        "--auth-token-ttl=300",
        "--bcrypt-cost=10",
        "--backend-batch-interval=100ms",
        "--backend-batch-limit=10000",
        "--backend-bbolt-freelist-type=map",
        "--grpc-keepalive-min-time=5s",
        "--grpc-keepalive-interval=2h",
        "--grpc-keepalive-timeout=20s",
        "--raft-read-timeout=5s",
        "--raft-write-timeout=1s",
        "--socket-reuse-port=false",
        "--socket-reuse-address",
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        // Honoured, or what oxcd does anyway: any value is fine.
        "--pre-vote=false",
        "--max-snapshots=0",
        "--max-wals=0",
        "--unsafe-no-fsync",
        "--enable-grpc-gateway=false",
        "--metrics=extensive",
        "--initial-election-tick-advance=false",
        "--experimental-enable-lease-checkpoint",
    ]);
    assert_eq!(c.auto_compaction, AutoCompaction::Disabled);
    assert!(!c.pre_vote);
    assert_eq!(
        run(&[
            "--auto-compaction-mode=revision",
            "--auto-compaction-retention=1000"
        ])
        .auto_compaction,
        AutoCompaction::Revision(1000)
    );
    assert_eq!(
        run(&["--auto-compaction-retention=30m"]).auto_compaction,
        AutoCompaction::Periodic(std::time::Duration::from_secs(1800))
    );
    assert_eq!((c.max_snapshots, c.max_wals), (0, 0));
    assert!(c.unsafe_no_fsync);
    // A negative quota disables the quota; a positive one is the limit.
    assert_eq!(run(&["--quota-backend-bytes=-1"]).backend_quota(), None);
    assert_eq!(
        run(&["--quota-backend-bytes=8589934592"]).backend_quota(),
        Some(8 << 30)
    );
}

#[test]
fn refusals_apply_to_environment_variables() {
    let err = fail_with(&[], &[("ETCD_ENABLE_PPROF", "true")]);
    assert_refused(&err, "--enable-pprof");
    let notices: Vec<&str> = err.notices().iter().map(|n| n.msg.as_str()).collect();
    assert_eq!(
        notices,
        [
            "recognized and used environment variable",
            "'data-dir' was empty; using default"
        ],
        "what etcd would have logged before the refusal is still logged"
    );
    assert_refused(
        &fail_with(&[], &[("ETCD_BACKEND_BATCH_LIMIT", "5")]),
        "--backend-batch-limit=5",
    );
    assert_refused(
        &fail_with(&[], &[("ETCD_LISTEN_PEER_URLS", "unix://peer:0")]),
        "--listen-peer-urls=unix://peer:0",
    );
    let c = run_with(
        &[],
        &[
            ("ETCD_QUOTA_BACKEND_BYTES", "0"),
            ("ETCD_CLIENT_CERT_AUTH", "false"),
        ],
    );
    assert_eq!(c.quota_backend_bytes, 0);
}

#[test]
fn refusals_apply_to_the_config_file() {
    let file = yaml("peer-transport-security:\n  cert-file: /c.pem\n  key-file: /c.key\n");
    let c = run(&["--config-file", &path_of(&file)]);
    assert_eq!(c.peer_tls.key_file, Some(PathBuf::from("/c.key")));
    let file = yaml("listen-peer-urls: unix://peer:0\n");
    assert_refused(
        &fail(&["--config-file", &path_of(&file)]),
        "--listen-peer-urls=unix://peer:0",
    );
    let file = yaml("client-transport-security:\n  cert-file: /c.pem\n  key-file: /c.key\n");
    let c = run(&["--config-file", &path_of(&file)]);
    assert_eq!(c.client_tls.key_file, Some(PathBuf::from("/c.key")));
    let file = yaml("backend-batch-limit: 5\n");
    assert_refused(
        &fail(&["--config-file", &path_of(&file)]),
        "--backend-batch-limit=5",
    );
    let file = yaml(
        "quota-backend-bytes: 0\n\
         auto-compaction-retention: \"0\"\n\
         force-new-cluster: false\n\
         client-transport-security:\n  client-cert-auth: false\n  auto-tls: false\n",
    );
    let c = run(&["--config-file", &path_of(&file)]);
    assert_eq!(c.auto_compaction, AutoCompaction::Disabled);
}
