//! The checks etcd runs on `--initial-cluster` when a member with an empty data directory
//! starts (`VerifyBootstrap` / `VerifyJoinExisting`): the member must be listed, its
//! advertised peer URLs must match its entry (host names resolved), URLs must be unique;
//! then the bootstrap members and IDs are derived.

use std::net::ToSocketAddrs;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::error::ConfigError;
use super::go_url::{Url, is_ip, split_host_port};
use super::initial_cluster::{InitialCluster, InitialMember};
use super::server_config::{ClusterState, ServerConfig};
use crate::gotext::io_error::go_io_error_text;
use crate::gotext::quote::{quote, quote_list};

/// How long etcd keeps trying to resolve host names in peer URLs.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(30);
const RESOLVE_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// The cluster a member with no data bootstraps from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootstrapCluster {
    /// The parsed `--initial-cluster`.
    pub initial_cluster: InitialCluster,
    /// Its members with etcd's IDs, by name.
    pub members: Vec<InitialMember>,
    /// This member's ID.
    pub local_member_id: u64,
    /// The cluster ID these members define. When joining an existing cluster
    /// (`--initial-cluster-state existing`) the real ID comes from the running peers.
    pub cluster_id: u64,
}

/// Resolves `host:port` to the `ip:port` text Go's `net.TCPAddr.String` prints.
type Resolver<'a> = dyn Fn(&str, &str) -> Result<String, String> + 'a;

impl ServerConfig {
    /// Parses and checks `--initial-cluster` the way etcd does before bootstrapping a member
    /// whose data directory is empty, and derives the member and cluster IDs. The errors are
    /// etcd's (e.g. `couldn't find local name "x" in the initial cluster configuration`),
    /// to be reported with [`crate::logging::report_start_failure`]. Host names in peer URLs
    /// are resolved, retrying for up to 30 seconds as etcd does.
    pub fn bootstrap_cluster(&self) -> Result<BootstrapCluster, ConfigError> {
        self.bootstrap_cluster_with(&|host, port| resolve_with_retry(host, port, RESOLVE_TIMEOUT))
    }

    fn bootstrap_cluster_with(
        &self,
        resolve: &Resolver<'_>,
    ) -> Result<BootstrapCluster, ConfigError> {
        let cluster = InitialCluster::parse(&self.initial_cluster).map_err(|e| {
            ConfigError::start_failed(format!("error setting up initial cluster: {e}"))
        })?;
        let Some(local_urls) = cluster.peer_urls(&self.name) else {
            return Err(ConfigError::start_failed(format!(
                "couldn't find local name {} in the initial cluster configuration",
                quote(&self.name)
            )));
        };
        if self.initial_cluster_state == ClusterState::New {
            advertise_matches_cluster(
                &self.name,
                local_urls,
                &self.initial_advertise_peer_urls,
                resolve,
            )
            .map_err(ConfigError::start_failed)?;
        }
        if cluster.has_duplicate_url() {
            return Err(ConfigError::start_failed(format!(
                "initial cluster {cluster} has duplicate url"
            )));
        }
        let members = cluster
            .members(&self.initial_cluster_token)
            .map_err(ConfigError::start_failed)?;
        let local_member_id = members
            .iter()
            .find(|m| m.name == self.name)
            .map(|m| m.id)
            .ok_or_else(|| {
                ConfigError::start_failed(format!(
                    "couldn't find local name {} in the initial cluster configuration",
                    quote(&self.name)
                ))
            })?;
        let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
        Ok(BootstrapCluster {
            cluster_id: super::ids::cluster_id(&ids),
            initial_cluster: cluster,
            members,
            local_member_id,
        })
    }
}

/// etcd's `advertiseMatchesCluster`: the member's `--initial-cluster` URLs and its
/// advertised peer URLs must be the same set once host names are resolved.
fn advertise_matches_cluster(
    name: &str,
    cluster_urls: &[Url],
    advertised: &[Url],
    resolve: &Resolver<'_>,
) -> Result<(), String> {
    let mut initial: Vec<String> = cluster_urls.iter().map(ToString::to_string).collect();
    let mut advertised_text: Vec<String> = advertised.iter().map(ToString::to_string).collect();
    initial.sort();
    advertised_text.sort();
    let reason = match urls_equal(&advertised_text, &initial, resolve) {
        Ok(()) => return Ok(()),
        Err(reason) => reason,
    };

    let missing_from_advertised: Vec<&String> = initial
        .iter()
        .filter(|u| !advertised_text.contains(u))
        .collect();
    let advertised_joined = advertised_text.join(",");
    if !missing_from_advertised.is_empty() {
        let listed: Vec<String> = missing_from_advertised
            .iter()
            .map(|u| format!("{name}={u}"))
            .collect();
        return Err(format!(
            "--initial-cluster has {} but missing from --initial-advertise-peer-urls={advertised_joined} ({reason})",
            listed.join(",")
        ));
    }
    // etcd names the advertised URLs here, printed as an initial-cluster entry.
    let as_cluster = InitialCluster::from_name(name, advertised);
    let missing_from_cluster: Vec<&String> = advertised_text
        .iter()
        .filter(|u| !initial.contains(u))
        .collect();
    if !missing_from_cluster.is_empty() {
        let listed: Vec<&str> = missing_from_cluster.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "--initial-advertise-peer-urls has {} but missing from --initial-cluster={}",
            listed.join(","),
            sorted_pairs(&as_cluster)
        ));
    }
    Err(format!(
        "failed to resolve {advertised_joined} to match --initial-cluster={} ({reason})",
        sorted_pairs(&as_cluster)
    ))
}

fn sorted_pairs(cluster_text: &str) -> String {
    let mut pairs: Vec<&str> = cluster_text.split(',').collect();
    pairs.sort();
    pairs.join(",")
}

/// etcd's `URLStringsEqual`: same length, and equal after resolving host names and sorting.
fn urls_equal(a: &[String], b: &[String], resolve: &Resolver<'_>) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("len({}) != len({})", quote_list(a), quote_list(b)));
    }
    let resolved_a = resolve_all(a, resolve)?;
    let resolved_b = resolve_all(b, resolve)?;
    for i in 0..resolved_a.len() {
        if resolved_a[i] != resolved_b[i] {
            return Err(format!(
                "{}(resolved from {}) != {}(resolved from {})",
                quote(&resolved_a[i]),
                quote(&a[i]),
                quote(&resolved_b[i]),
                quote(&b[i])
            ));
        }
    }
    Ok(())
}

/// Resolves each URL's host name (IPs, `localhost` and Unix sockets stay as they are) and
/// returns the URLs' texts sorted.
fn resolve_all(urls: &[String], resolve: &Resolver<'_>) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(urls.len());
    for text in urls {
        let url = Url::parse(text).map_err(|_| format!("failed to parse {}", quote(text)))?;
        let resolved = if url.is_unix() {
            url
        } else {
            let (host, port) = split_host_port(url.host()).map_err(|e| {
                format!(
                    "failed to resolve {} (address {}: {e})",
                    quote(text),
                    url.host()
                )
            })?;
            if host == "localhost" || is_ip(host) {
                url
            } else {
                let addr = resolve(host, port)
                    .map_err(|e| format!("failed to resolve {} ({e})", quote(text)))?;
                url.with_host(&addr)
            }
        };
        out.push(resolved.to_string());
    }
    out.sort();
    Ok(out)
}

/// Resolves `host` with the system resolver, retrying every second until `timeout`.
fn resolve_with_retry(host: &str, port: &str, timeout: Duration) -> Result<String, String> {
    let port: u16 = if port.is_empty() {
        0
    } else {
        port.parse()
            .map_err(|_| format!("address {port}: invalid port"))?
    };
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("lookup {host}: {}", go_io_error_text(&e)));
        match attempt.map(|mut addrs| addrs.next()) {
            Ok(Some(addr)) => return Ok(addr.to_string()),
            Ok(None) => {
                if Instant::now() >= deadline {
                    return Err(format!("lookup {host}: no such host"));
                }
            }
            Err(e) => {
                if Instant::now() >= deadline {
                    return Err(e);
                }
            }
        }
        sleep(RESOLVE_RETRY_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::error::ErrorReport;
    use std::collections::HashMap;

    fn config(args: &[&str]) -> ServerConfig {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match crate::config::parse(args, &HashMap::new()) {
            Ok(crate::config::ParseOutcome::Run(c)) => *c,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    fn no_dns(host: &str, _port: &str) -> Result<String, String> {
        Err(format!("unexpected lookup of {host}"))
    }

    fn bootstrap(c: &ServerConfig) -> Result<BootstrapCluster, String> {
        c.bootstrap_cluster_with(&no_dns).map_err(|e| {
            assert_eq!(e.report(), &ErrorReport::StartFailed { log: None });
            e.message().to_string()
        })
    }

    const PEER: &str = "--initial-advertise-peer-urls=http://127.0.0.1:32380";

    #[test]
    fn a_matching_cluster_bootstraps_with_etcds_ids() {
        let c = config(&[
            "--name=infra1",
            PEER,
            "--initial-cluster=infra1=http://127.0.0.1:32380",
        ]);
        let b = bootstrap(&c).expect("valid");
        assert_eq!(b.local_member_id, 443_629_905_751_424_238);
        assert_eq!(b.cluster_id, 13_455_796_455_940_752_355);
        assert_eq!(b.members.len(), 1);
    }

    #[test]
    fn name_only_bootstraps_a_one_member_cluster() {
        let c = config(&["--name=infra1", PEER]);
        assert_eq!(
            bootstrap(&c).expect("valid").local_member_id,
            443_629_905_751_424_238
        );
    }

    #[test]
    fn the_local_name_must_be_listed() {
        let c = config(&[
            "--name=infra1",
            PEER,
            "--initial-cluster=infra2=http://127.0.0.1:32380",
        ]);
        assert_eq!(
            bootstrap(&c),
            Err(
                "couldn't find local name \"infra1\" in the initial cluster configuration"
                    .to_string()
            )
        );
        let c = config(&["--name=infra1", PEER, "--initial-cluster="]);
        assert_eq!(
            bootstrap(&c),
            Err(
                "couldn't find local name \"infra1\" in the initial cluster configuration"
                    .to_string()
            )
        );
    }

    #[test]
    fn mismatched_advertise_urls_use_etcds_messages() {
        // Observed from etcd 3.5.1 with the same flags.
        let c = config(&[PEER, "--initial-cluster=default=http://127.0.0.1:32381"]);
        assert_eq!(
            bootstrap(&c),
            Err("--initial-cluster has default=http://127.0.0.1:32381 but missing from --initial-advertise-peer-urls=http://127.0.0.1:32380 (\"http://127.0.0.1:32380\"(resolved from \"http://127.0.0.1:32380\") != \"http://127.0.0.1:32381\"(resolved from \"http://127.0.0.1:32381\"))".to_string())
        );
        let c = config(&[PEER]);
        assert_eq!(
            bootstrap(&c),
            Err("--initial-cluster has default=http://localhost:2380 but missing from --initial-advertise-peer-urls=http://127.0.0.1:32380 (\"http://127.0.0.1:32380\"(resolved from \"http://127.0.0.1:32380\") != \"http://localhost:2380\"(resolved from \"http://localhost:2380\"))".to_string())
        );
        let c = config(&[
            PEER,
            "--initial-cluster=default=http://127.0.0.1:32380,default=http://127.0.0.1:32381",
        ]);
        assert_eq!(
            bootstrap(&c),
            Err("--initial-cluster has default=http://127.0.0.1:32381 but missing from --initial-advertise-peer-urls=http://127.0.0.1:32380 (len([\"http://127.0.0.1:32380\"]) != len([\"http://127.0.0.1:32380\" \"http://127.0.0.1:32381\"]))".to_string())
        );
        let c = config(&[
            "--initial-advertise-peer-urls=http://127.0.0.1:32380,http://127.0.0.1:32382",
            "--initial-cluster=default=http://127.0.0.1:32380",
        ]);
        assert_eq!(
            bootstrap(&c),
            Err("--initial-advertise-peer-urls has http://127.0.0.1:32382 but missing from --initial-cluster=default=http://127.0.0.1:32380,default=http://127.0.0.1:32382".to_string())
        );
    }

    #[test]
    fn host_names_are_resolved_before_comparing() {
        let c = config(&[
            "--name=a",
            "--initial-advertise-peer-urls=http://node-a.example:2380",
            "--initial-cluster=a=http://10.1.2.3:2380",
        ]);
        let fake = |host: &str, port: &str| {
            assert_eq!(host, "node-a.example");
            Ok(format!("10.1.2.3:{port}"))
        };
        let b = c
            .bootstrap_cluster_with(&fake)
            .expect("resolves to the listed URL");
        assert_eq!(b.members[0].name, "a");
        let failing = |host: &str, _: &str| Err(format!("lookup {host}: no such host"));
        let err = c
            .bootstrap_cluster_with(&failing)
            .expect_err("unresolvable");
        assert_eq!(
            err.message(),
            "--initial-cluster has a=http://10.1.2.3:2380 but missing from --initial-advertise-peer-urls=http://node-a.example:2380 (failed to resolve \"http://node-a.example:2380\" (lookup node-a.example: no such host))"
        );
    }

    #[test]
    fn duplicate_urls_and_bad_clusters_fail() {
        let c = config(&[
            PEER,
            "--initial-cluster=default=http://127.0.0.1:32380,other=http://127.0.0.1:32380",
        ]);
        assert_eq!(
            bootstrap(&c),
            Err("initial cluster default=http://127.0.0.1:32380,other=http://127.0.0.1:32380 has duplicate url".to_string())
        );
        let c = config(&[PEER, "--initial-cluster=default=127.0.0.1:32380"]);
        assert_eq!(
            bootstrap(&c),
            Err("error setting up initial cluster: parse \"127.0.0.1:32380\": first path segment in URL cannot contain colon".to_string())
        );
    }

    #[test]
    fn joining_an_existing_cluster_skips_the_advertise_check() {
        let c = config(&[
            "--name=new",
            "--initial-cluster-state=existing",
            "--initial-advertise-peer-urls=http://127.0.0.1:32390",
            "--initial-cluster=old=http://127.0.0.1:32380,new=http://127.0.0.1:32391",
        ]);
        let b = bootstrap(&c).expect("existing clusters are not compared");
        assert_eq!(b.members.len(), 2);
    }

    #[test]
    fn system_resolution_handles_ips_without_dns() {
        assert_eq!(
            resolve_with_retry("127.0.0.1", "2380", Duration::ZERO),
            Ok("127.0.0.1:2380".to_string())
        );
    }
}
