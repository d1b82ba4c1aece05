//! A member's files on its host, all under `<home>/<member name>/`: `data/` (its data dir),
//! `oxcd.yaml` (its configuration, in etcd's config-file format), `oxcd.log` and
//! `supervisor.pid` (the process that runs and restarts it) — and the configuration's text.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_yaml_ng::{Mapping, Value};

use crate::cluster_file::{ClusterFile, MemberEntry, url};

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
}

/// The configuration of `member` as etcd's config file has it: its name, data dir and URLs,
/// the whole initial cluster and token, `state` (`new`, or `existing` for a member joining a
/// running cluster), then the file's `settings`.
pub fn member_config(
    file: &ClusterFile,
    member: &MemberEntry,
    data_dir: &Path,
    state: &str,
) -> Result<String> {
    let client_url = url(&member.host, file.client_port_of(member));
    let peer_url = url(&member.host, file.peer_port_of(member));
    let mut config = Mapping::new();
    let mut set = |key: &str, value: Value| {
        config.insert(Value::from(key), value);
    };
    set("name", member.name.clone().into());
    set("data-dir", data_dir.to_string_lossy().into_owned().into());
    set("listen-client-urls", client_url.clone().into());
    set("advertise-client-urls", client_url.into());
    set("listen-peer-urls", peer_url.clone().into());
    set("initial-advertise-peer-urls", peer_url.into());
    set("initial-cluster", file.initial_cluster().into());
    set("initial-cluster-token", file.token.clone().into());
    // A member that already has data ignores the `initial-*` keys, as etcd does.
    set("initial-cluster-state", state.into());
    for (key, value) in &file.settings {
        set(key, value.clone());
    }
    let body = serde_yaml_ng::to_string(&config)?;
    Ok(format!(
        "# Written by oxadm from the cluster file; changes here are overwritten.\n{body}"
    ))
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
        let text = member_config(&file, &file.members[1], &files.data_dir(), "new").unwrap();
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
    }
}
