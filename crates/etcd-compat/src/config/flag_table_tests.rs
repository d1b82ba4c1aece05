//! The flag table's own invariants: sorted, unique names, YAML keys and sections consistent, and
//! every etcd 3.5 flag oxcd serves present.

use super::flag_spec::*;
use super::flag_table::*;

#[test]
fn table_is_sorted_and_unique() {
    for pair in FLAGS.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} must sort before {}",
            pair[0].name,
            pair[1].name
        );
    }
}

#[test]
fn listed_flags_have_help_and_hidden_ones_are_special() {
    for f in FLAGS {
        if f.section == Section::Hidden {
            assert!(
                matches!(f.target, Target::Ignored)
                    || f.name == "version"
                    || f.name == "config-file",
                "{} is hidden",
                f.name
            );
        } else {
            assert!(!f.help.is_empty(), "{} needs help text", f.name);
        }
    }
}

#[test]
fn required_etcd_flags_are_present() {
    for name in [
        "name",
        "data-dir",
        "wal-dir",
        "initial-advertise-peer-urls",
        "listen-peer-urls",
        "advertise-client-urls",
        "listen-client-urls",
        "initial-cluster",
        "initial-cluster-state",
        "initial-cluster-token",
        "heartbeat-interval",
        "election-timeout",
        "snapshot-count",
        "max-request-bytes",
        "max-txn-ops",
        "quota-backend-bytes",
        "log-level",
        "logger",
        "log-outputs",
        "config-file",
        "version",
        "listen-metrics-urls",
        "enable-pprof",
        "auto-compaction-mode",
        "auto-compaction-retention",
        "enable-grpc-gateway",
        "strict-reconfig-check",
        "auto-promote-learners",
        "force-new-cluster",
        "cert-file",
        "key-file",
        "trusted-ca-file",
        "client-cert-auth",
        "peer-cert-file",
        "peer-key-file",
        "peer-trusted-ca-file",
        "peer-client-cert-auth",
    ] {
        assert!(lookup(name).is_some(), "{name} missing");
    }
    assert!(lookup("enable-v2").is_none());
    assert!(lookup("experimental-enable-distributed-tracing").is_none());
}
