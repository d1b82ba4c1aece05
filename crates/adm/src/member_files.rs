//! A member's files on its host, all under `<home>/<member name>/`: `data/` (its data dir),
//! `oxcd.yaml` (its configuration, in etcd's config-file format), `oxcd.log`,
//! `supervisor.pid` (the process that runs and restarts it) and `tls/` (its certificates, when
//! the cluster runs with TLS) — and the configuration's text.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_yaml_ng::{Mapping, Value};

use crate::cluster_file::{ClusterFile, MemberEntry};

/// Where one member's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFiles {
    dir: PathBuf,
}

impl MemberFiles {
    /// The files of member `name` under `home`.
    pub fn new(home: &Path, name: &str) -> MemberFiles {
        MemberFiles {
            dir: home.join(name),
        }
    }

    /// The files of a member whose directory is `dir`.
    pub fn at(dir: &Path) -> MemberFiles {
        MemberFiles {
            dir: dir.to_path_buf(),
        }
    }

    /// `<home>/<name>/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The member's data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The member's configuration file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("oxcd.yaml")
    }

    /// The member's log (oxcd's output and the supervisor's own lines).
    pub fn log(&self) -> PathBuf {
        self.dir.join("oxcd.log")
    }

    /// The supervisor's pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("supervisor.pid")
    }

    /// Where its certificates are: `ca.pem`, `server.pem`, `server-key.pem`, `peer.pem`,
    /// `peer-key.pem`.
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }
}

/// The configuration of `member` as etcd's config file has it: its name, data dir and URLs,
/// the whole initial cluster and token, `state` (`new`, or `existing` for a member joining a
/// running cluster), its certificates when the cluster runs with TLS, then the file's
/// `settings`.
pub fn member_config(
    file: &ClusterFile,
    member: &MemberEntry,
    files: &MemberFiles,
    state: &str,
) -> Result<String> {
    let client_url = file.client_url(member);
    let peer_url = file.peer_url(member);
    let mut config = Mapping::new();
    let mut set = |key: &str, value: Value| {
        config.insert(Value::from(key), value);
    };
    set("name", member.name.clone().into());
    set("data-dir", path_value(&files.data_dir()));
    set("listen-client-urls", client_url.clone().into());
    set("advertise-client-urls", client_url.into());
    set("listen-peer-urls", peer_url.clone().into());
    set("initial-advertise-peer-urls", peer_url.into());
    set("initial-cluster", file.initial_cluster().into());
    set("initial-cluster-token", file.token.clone().into());
    // A member that already has data ignores the `initial-*` keys, as etcd does.
    set("initial-cluster-state", state.into());
    if file.tls.is_some() {
        set(
            "client-transport-security",
            transport_security(files, "server"),
        );
        set("peer-transport-security", transport_security(files, "peer"));
    }
    for (key, value) in &file.settings {
        set(key, value.clone());
    }
    let body = serde_yaml_ng::to_string(&config)?;
    Ok(format!(
        "# Written by oxadm from the cluster file; changes here are overwritten.\n{body}"
    ))
}

/// A `*-transport-security` section: the member's `kind` certificate, and only clients (or
/// peers) with a certificate of the cluster's authority let in.
fn transport_security(files: &MemberFiles, kind: &str) -> Value {
    let tls = files.tls_dir();
    let mut section = Mapping::new();
    let mut set = |key: &str, value: Value| {
        section.insert(Value::from(key), value);
    };
    set("cert-file", path_value(&tls.join(format!("{kind}.pem"))));
    set("key-file", path_value(&tls.join(format!("{kind}-key.pem"))));
    set("client-cert-auth", true.into());
    set("trusted-ca-file", path_value(&tls.join("ca.pem")));
    Value::Mapping(section)
}

fn path_value(path: &Path) -> Value {
    path.to_string_lossy().into_owned().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_names_the_member_the_cluster_and_the_settings() {
        let file: ClusterFile = serde_yaml_ng::from_str(
            "token: t1\nsettings: {snapshot-count: 500}\nmembers:\n  - {name: a, host: 10.0.0.1}\n  - {name: b, host: 10.0.0.2}\n",
        )
        .unwrap();
        let files = MemberFiles::new(Path::new("/home/etcd/oxcd"), "b");
        let text = member_config(&file, &file.members[1], &files, "new").unwrap();
        let config: Mapping = serde_yaml_ng::from_str(&text).unwrap();
        let get = |key: &str| config.get(key).cloned().unwrap();
        assert_eq!(get("name"), Value::from("b"));
        assert_eq!(get("data-dir"), Value::from("/home/etcd/oxcd/b/data"));
        assert_eq!(get("listen-peer-urls"), Value::from("http://10.0.0.2:2380"));
        assert_eq!(
            get("initial-cluster"),
            Value::from("a=http://10.0.0.1:2380,b=http://10.0.0.2:2380")
        );
        assert_eq!(get("snapshot-count"), Value::from(500));
        assert!(config.get("client-transport-security").is_none());
    }

    #[test]
    fn with_tls_both_sides_serve_the_members_certificates_to_holders_of_the_authoritys() {
        let mut file: ClusterFile =
            serde_yaml_ng::from_str("token: t1\nmembers:\n  - {name: a, host: 10.0.0.1}\n")
                .unwrap();
        file.tls = Some(crate::pki::TlsFiles::in_dir(Path::new("/pki")));
        let files = MemberFiles::new(Path::new("/home/etcd/oxcd"), "a");
        let text = member_config(&file, &file.members[0], &files, "new").unwrap();
        let config: Mapping = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(
            config.get("listen-client-urls"),
            Some(&Value::from("https://10.0.0.1:2379"))
        );
        let peer = config.get("peer-transport-security").unwrap();
        assert_eq!(
            peer.get("cert-file"),
            Some(&Value::from("/home/etcd/oxcd/a/tls/peer.pem"))
        );
        assert_eq!(peer.get("client-cert-auth"), Some(&Value::from(true)));
        let client = config.get("client-transport-security").unwrap();
        assert_eq!(
            client.get("trusted-ca-file"),
            Some(&Value::from("/home/etcd/oxcd/a/tls/ca.pem"))
        );
    }
}
