//! `oxadm init`: writes a commented example cluster file to start from — every key the file
//! takes, what it means and its default — for an operator who prefers a file to listing the
//! members on `oxadm up`'s command line.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The example: three members, as the seed lays them out, with the optional keys commented.
const EXAMPLE: &str = r#"# An oxadm cluster file: `oxadm up -f oxadm.yaml` brings this cluster up, and every other
# command (`status`, `restart`, `add`, `backup`, ...) reads it.

# Keeps this cluster's members apart from any other's (etcd's --initial-cluster-token).
token: my-cluster

# Ports of members that name none of their own.
# client-port: 2379
# peer-port: 2380

# Where each member keeps its files on its host: <home>/<member name>/ holds its data, its
# configuration, its log and its certificates. Relative to the SSH user's home.
# home: oxcd

# The oxcd binary to install on the hosts; by default the oxcd beside oxadm.
# binary: /usr/local/bin/oxcd

# Further arguments for every ssh oxadm runs; ~/.ssh/config applies as well.
# ssh-options: ["-J", "bastion.example.com"]

# Further settings for every member, as keys of etcd's configuration file.
# settings:
#   snapshot-count: 10000
#   auto-compaction-mode: periodic
#   auto-compaction-retention: "1h"

# Serve clients and peers over TLS only, with certificates of a certificate authority oxadm
# makes (`oxadm up --tls` adds this section and the files). Relative paths start here.
# tls:
#   ca-cert: pki/ca.pem
#   ca-key: pki/ca-key.pem
#   client-cert: pki/client.pem
#   client-key: pki/client-key.pem

# The members: a name, the address clients and the other members reach it at, and how oxadm
# logs in to its host (user, port and key default to ssh's own).
members:
  - name: etcd1
    host: 192.168.1.101
    ssh: {user: etcd}
  - name: etcd2
    host: 192.168.1.102
    ssh: {user: etcd}
  - name: etcd3
    host: 192.168.1.103
    ssh:
      user: etcd
      # port: 22
      # key: /home/me/.ssh/id_ed25519
    # client-port: 2379
    # peer-port: 2380
"#;

/// Writes the example to `path`, which must not exist yet.
pub fn init(path: &Path) -> Result<()> {
    if path.exists() {
        bail!(
            "{} exists already; nothing was written (remove it, or give another name with -f)",
            path.display()
        );
    }
    std::fs::write(path, EXAMPLE).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {}: set the token and members, then run `oxadm up -f {}`",
        path.display(),
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_file::ClusterFile;

    #[test]
    fn the_example_is_a_valid_cluster_file_and_is_never_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oxadm.yaml");
        init(&path).unwrap();
        let file = ClusterFile::load(&path).unwrap();
        assert_eq!(file.members.len(), 3);
        assert!(file.tls.is_none());

        // Every commented key, uncommented, must be valid too.
        let uncommented: String = EXAMPLE
            .lines()
            .map(|line| {
                let (indent, rest) = line.split_at(line.len() - line.trim_start().len());
                match rest.strip_prefix("# ") {
                    Some(commented) if is_key_line(commented) => format!("{indent}{commented}\n"),
                    Some(_) => String::new(),
                    None => format!("{line}\n"),
                }
            })
            .collect();
        let full: ClusterFile =
            serde_yaml_ng::from_str(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert_eq!(full.client_port, 2379);
        assert!(full.tls.is_some());
        assert_eq!(full.settings.len(), 3);
        assert_eq!(full.members[2].ssh.as_ref().unwrap().port, Some(22));
        assert_eq!(full.members[2].peer_port, Some(2380));

        std::fs::write(&path, "mine").unwrap();
        assert!(init(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    }

    /// `key: ...` or a continuation of one (indented); not prose.
    fn is_key_line(text: &str) -> bool {
        if text.starts_with("  ") {
            return true;
        }
        text.split_once(':').is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
    }
}
