//! etcd-compatible configuration: flags, `ETCD_*` variables and the YAML config file.
