//! Logging in etcd's formats (zap JSON lines by default).
