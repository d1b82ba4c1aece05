//! The cluster file (`oxadm.yaml`): the members of a cluster, where each runs and how oxadm
//! reaches it, the ports, directories and token they share, and further oxcd settings. Every
//! command reads it; `local up` and `init` write it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::pki::TlsFiles;

/// The file name commands look for in the current directory.
pub const DEFAULT_NAME: &str = "oxadm.yaml";

/// etcd's client port.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's peer port.
pub const PEER_PORT: u16 = 2380;

/// Config-file keys oxadm sets itself for every member; `settings` may not name them.
const OWNED_SETTINGS: [&str; 11] = [
    "name",
    "data-dir",
    "listen-client-urls",
    "advertise-client-urls",
    "listen-peer-urls",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-token",
    "initial-cluster-state",
    "client-transport-security",
    "peer-transport-security",
];

/// A whole cluster file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClusterFile {
    /// `--initial-cluster-token`: keeps this cluster's members apart from any other's.
    pub token: String,
    /// The client port of members that name none.
    #[serde(default = "client_port")]
    pub client_port: u16,
    /// The peer port of members that name none.
    #[serde(default = "peer_port")]
    pub peer_port: u16,
    /// Where each member keeps its files on its host: `<home>/<member name>/` holds its data,
    /// configuration, log and pid file. Relative to the SSH user's home on a remote host, to
    /// the cluster file's directory on this machine.
    #[serde(default = "home")]
    pub home: String,
    /// The oxcd binary to run; by default the `oxcd` beside `oxadm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<PathBuf>,
    /// Further arguments for every `ssh` oxadm runs (`-o Name=value`, `-J jump-host`, ...);
    /// `~/.ssh/config` applies as well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_options: Vec<String>,
    /// Further settings for every member, as keys of etcd's configuration file
    /// (`snapshot-count: 10000`, `auto-compaction-retention: "1"`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, serde_yaml_ng::Value>,
    /// Present when members serve clients and peers over TLS, with certificates signed by
    /// this certificate authority (`oxadm up --tls` makes it); oxadm presents this client
    /// certificate. Relative paths start at the cluster file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
    /// The members.
    pub members: Vec<MemberEntry>,
}

/// One member of the cluster file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MemberEntry {
    /// `--name`.
    pub name: String,
    /// The address the other members and clients reach it at, which it listens on.
    pub host: String,
    /// How oxadm logs in to the host; absent for a member on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshLogin>,
    /// Its client port, if not the cluster's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_port: Option<u16>,
    /// Its peer port, if not the cluster's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_port: Option<u16>,
}

/// An SSH login, as `ssh [-p PORT] [-i KEY] [USER@]HOST` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SshLogin {
    /// The user; by default the SSH client's (your login name or `~/.ssh/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The port; by default the SSH client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The private key file; by default the SSH client's keys and agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

fn client_port() -> u16 {
    CLIENT_PORT
}

fn peer_port() -> u16 {
    PEER_PORT
}

fn home() -> String {
    "oxcd".to_owned()
}

impl ClusterFile {
    /// Reads and checks the cluster file at `path`.
    pub fn load(path: &Path) -> Result<ClusterFile> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading the cluster file {} (create one with `oxadm init`, or run `oxadm up` or `oxadm local up` in this directory first)",
                path.display()
            )
        })?;
        let mut file: ClusterFile = serde_yaml_ng::from_str(&text)
            .with_context(|| format!("in the cluster file {}", path.display()))?;
        if let Some(tls) = &mut file.tls {
            tls.resolve(&directory_of(path));
        }
        file.check()
            .with_context(|| format!("in the cluster file {}", path.display()))?;
        Ok(file)
    }

    /// Writes the file to `path`, with a header saying what wrote it.
    pub fn save(&self, path: &Path, header: &str) -> Result<()> {
        let body = serde_yaml_ng::to_string(self)?;
        let text = format!("# {header}\n{body}");
        let partial = path.with_extension("yaml.partial");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, path))
            .with_context(|| format!("writing the cluster file {}", path.display()))
    }

    /// Refuses what cannot make a working cluster, saying what to change.
    pub fn check(&self) -> Result<()> {
        if self.token.trim().is_empty() {
            bail!("`token` is empty: give the cluster a token of its own");
        }
        if self.members.is_empty() {
            bail!("`members` is empty: a cluster needs at least one member");
        }
        let mut names = BTreeSet::new();
        let mut sockets = BTreeSet::new();
        for member in &self.members {
            if member.name.is_empty() || member.name.contains([',', '=', ' ']) {
                bail!(
                    "member name {:?} cannot be used: it must be non-empty, without ',', '=' or spaces",
                    member.name
                );
            }
            if !names.insert(member.name.as_str()) {
                bail!("member name {:?} is used twice", member.name);
            }
            if member.host.is_empty() {
                bail!("member {:?} has no host", member.name);
            }
            for port in [self.client_port_of(member), self.peer_port_of(member)] {
                if !sockets.insert((member.host.as_str(), port)) {
                    bail!(
                        "port {port} on {} is used twice (member {:?})",
                        member.host,
                        member.name
                    );
                }
            }
        }
        if let Some(key) = self
            .settings
            .keys()
            .find(|key| OWNED_SETTINGS.contains(&key.as_str()))
        {
            bail!(
                "`settings` may not set {key:?}: oxadm sets it for each member from `members`, `home` and `token`"
            );
        }
        Ok(())
    }

    /// The member named `name`.
    pub fn member(&self, name: &str) -> Result<&MemberEntry> {
        self.members
            .iter()
            .find(|member| member.name == name)
            .with_context(|| {
                let names: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
                format!("no member {name:?}; the members are {}", names.join(", "))
            })
    }

    /// The client port of `member`.
    pub fn client_port_of(&self, member: &MemberEntry) -> u16 {
        member.client_port.unwrap_or(self.client_port)
    }

    /// The peer port of `member`.
    pub fn peer_port_of(&self, member: &MemberEntry) -> u16 {
        member.peer_port.unwrap_or(self.peer_port)
    }

    /// `http`, or `https` when members serve TLS.
    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `member`'s client URL.
    pub fn client_url(&self, member: &MemberEntry) -> String {
        url(self.scheme(), &member.host, self.client_port_of(member))
    }

    /// `member`'s peer URL.
    pub fn peer_url(&self, member: &MemberEntry) -> String {
        url(self.scheme(), &member.host, self.peer_port_of(member))
    }

    /// Every member's client URL, in file order.
    pub fn client_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|member| self.client_url(member))
            .collect()
    }

    /// How a client reaches the members: TLS with oxadm's client certificate when they
    /// serve TLS.
    pub fn client_options(&self) -> oxcd_client::ConnectOptions {
        oxcd_client::ConnectOptions {
            tls: self.tls.as_ref().map(TlsFiles::client_options),
            ..oxcd_client::ConnectOptions::default()
        }
    }

    /// oxctl's (and etcdctl's) flags for the same.
    pub fn ctl_flags(&self) -> Vec<String> {
        self.tls
            .as_ref()
            .map(TlsFiles::ctl_flags)
            .unwrap_or_default()
    }

    /// `--initial-cluster`: every member's name and peer URL.
    pub fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|member| format!("{}={}", member.name, self.peer_url(member)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What `up` writes to the cluster file once every host passed its checks.
pub enum FileUpdate {
    /// The file stays as it is.
    Nothing,
    /// The whole file, from the command line's cluster.
    Write(PathBuf),
    /// A `tls:` section appended to the operator's file, which keeps its comments.
    AddTls(PathBuf),
}

impl FileUpdate {
    /// Writes `file` as the update says.
    pub fn apply(&self, file: &ClusterFile) -> Result<()> {
        let path = match self {
            FileUpdate::Nothing => return Ok(()),
            FileUpdate::Write(path) => {
                file.save(path, "Written by `oxadm up`; day-two commands read it.")?;
                path
            }
            FileUpdate::AddTls(path) => {
                add_tls_section(file, path)?;
                path
            }
        };
        println!("wrote {}", path.display());
        Ok(())
    }
}

/// Appends `file`'s `tls:` section to the cluster file at `path`, checking that the result
/// reads back as `file`.
fn add_tls_section(file: &ClusterFile, path: &Path) -> Result<()> {
    #[derive(Serialize)]
    struct Section<'a> {
        tls: &'a Option<TlsFiles>,
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the cluster file {}", path.display()))?;
    let section = serde_yaml_ng::to_string(&Section { tls: &file.tls })?;
    let separator = if text.ends_with('\n') { "" } else { "\n" };
    let updated = format!(
        "{text}{separator}# Added by `oxadm up --tls`: the cluster's certificate authority and oxadm's client certificate.\n{section}"
    );
    let partial = path.with_extension("yaml.partial");
    std::fs::write(&partial, &updated).with_context(|| format!("writing {}", partial.display()))?;
    match ClusterFile::load(&partial) {
        Ok(read_back) if read_back == *file => {}
        _ => {
            let _ = std::fs::remove_file(&partial);
            bail!(
                "cannot add a `tls:` section to {} by appending it; add this to the file yourself and run `oxadm up` again:\n{section}",
                path.display()
            );
        }
    }
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}

/// What `oxadm up NAME=[USER@]HOST[:SSH_PORT] ...` says about a cluster besides its members.
pub struct CommandLineCluster {
    /// `-i`: the private key for every host.
    pub key: Option<PathBuf>,
    /// `--token`; a random one when absent.
    pub token: Option<String>,
    /// `--home`.
    pub home: Option<String>,
    /// `--binary`.
    pub binary: Option<PathBuf>,
    /// `--ssh-option`s.
    pub ssh_options: Vec<String>,
    /// `--tls`: where the certificate authority is kept.
    pub tls: Option<TlsFiles>,
}

impl ClusterFile {
    /// The cluster file of a command line's member specs.
    pub fn from_command_line(specs: &[String], cluster: CommandLineCluster) -> Result<ClusterFile> {
        let members = specs
            .iter()
            .map(|spec| member_from_spec(spec, &cluster.key))
            .collect::<Result<Vec<_>>>()?;
        let token = match cluster.token {
            Some(token) => token,
            None => random_token()?,
        };
        let file = ClusterFile {
            token,
            client_port: CLIENT_PORT,
            peer_port: PEER_PORT,
            home: cluster.home.unwrap_or_else(home),
            binary: cluster.binary,
            ssh_options: cluster.ssh_options,
            settings: BTreeMap::new(),
            tls: cluster.tls,
            members,
        };
        file.check()?;
        Ok(file)
    }

    /// Whether `other` names the same members at the same addresses (logins aside).
    pub fn same_members(&self, other: &ClusterFile) -> bool {
        let places = |file: &ClusterFile| -> Vec<(String, String)> {
            file.members
                .iter()
                .map(|m| (m.name.clone(), m.host.clone()))
                .collect()
        };
        places(self) == places(other)
    }
}

/// `NAME=[USER@]HOST[:SSH_PORT]`, with `[...]` around an IPv6 host that has a port.
pub fn member_from_spec(spec: &str, key: &Option<PathBuf>) -> Result<MemberEntry> {
    let usage = || format!("member {spec:?} is not NAME=[USER@]HOST[:SSH_PORT]");
    let (name, login) = spec.split_once('=').with_context(usage)?;
    let (user, address) = match login.rsplit_once('@') {
        Some((user, address)) => (Some(user.to_owned()), address),
        None => (None, login),
    };
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']').with_context(usage)?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().with_context(usage)?),
            None if after.is_empty() => None,
            None => bail!(usage()),
        };
        (host, port)
    } else {
        match address.split_once(':') {
            Some((host, port)) if !port.contains(':') => {
                (host, Some(port.parse().with_context(usage)?))
            }
            _ => (address, None),
        }
    };
    if name.is_empty() || host.is_empty() {
        bail!(usage());
    }
    Ok(MemberEntry {
        name: name.to_owned(),
        host: host.to_owned(),
        ssh: Some(SshLogin {
            user,
            port,
            key: key.clone(),
        }),
        client_port: None,
        peer_port: None,
    })
}

/// A fresh cluster token: `oxcd-` and 64 random bits.
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("reading /dev/urandom for a cluster token")?;
    Ok(format!(
        "oxcd-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The directory holding the cluster file at `path` (where paths in it start).
pub fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `scheme://host:port`, with brackets around an IPv6 address.
fn url(scheme: &str, host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("{scheme}://[{host}]:{port}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClusterFile> {
        let file: ClusterFile = serde_yaml_ng::from_str(text)?;
        file.check()?;
        Ok(file)
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let file = parse(
            "token: prod\nmembers:\n  - {name: peer1, host: 10.0.0.1, ssh: {user: etcd}}\n  - {name: peer2, host: 10.0.0.2, peer-port: 12380}\n",
        )
        .unwrap();
        assert_eq!(file.client_port, 2379);
        assert_eq!(file.home, "oxcd");
        assert_eq!(
            file.initial_cluster(),
            "peer1=http://10.0.0.1:2380,peer2=http://10.0.0.2:12380"
        );
        assert_eq!(
            file.client_urls(),
            ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
        );
        assert_eq!(
            file.members[0].ssh.as_ref().unwrap().user.as_deref(),
            Some("etcd")
        );
    }

    #[test]
    fn mistakes_are_refused_with_what_to_change() {
        let err = |text: &str| format!("{:#}", parse(text).unwrap_err());
        assert!(err("token: t\nmembers: []\n").contains("at least one member"));
        assert!(
            err("token: t\nmembers:\n  - {name: a, host: h}\n  - {name: a, host: i}\n")
                .contains("used twice")
        );
        assert!(
            err("token: t\nmembers:\n  - {name: a, host: h}\n  - {name: b, host: h}\n")
                .contains("port 2379 on h is used twice")
        );
        assert!(
            err("token: t\nsettings: {data-dir: /x}\nmembers:\n  - {name: a, host: h}\n")
                .contains("may not set \"data-dir\"")
        );
        assert!(err("token: t\nmembers:\n  - {name: a, host: h, hots: x}\n").contains("hots"));
    }

    #[test]
    fn command_line_members_become_ssh_members() {
        let specs = [
            "peer1=etcd@10.0.0.1",
            "peer2=10.0.0.2:2222",
            "peer3=etcd@[fd00::3]:22",
        ]
        .map(String::from);
        let cluster = CommandLineCluster {
            key: Some("/k".into()),
            token: Some("t".into()),
            home: None,
            binary: None,
            ssh_options: vec![],
            tls: None,
        };
        let file = ClusterFile::from_command_line(&specs, cluster).unwrap();
        let login = |i: usize| file.members[i].ssh.clone().unwrap();
        assert_eq!(login(0).user.as_deref(), Some("etcd"));
        assert_eq!(login(1).port, Some(2222));
        assert_eq!(file.members[2].host, "fd00::3");
        assert_eq!(login(2).key.as_deref(), Some(Path::new("/k")));
        for bad in ["peer1", "=h", "p=[::1", "p=h:port"] {
            let cluster = CommandLineCluster {
                key: None,
                token: None,
                home: None,
                binary: None,
                ssh_options: vec![],
                tls: None,
            };
            assert!(
                ClusterFile::from_command_line(&[bad.to_owned()], cluster).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_saved_file_loads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_NAME);
        let file = parse(
            "token: t\nsettings: {snapshot-count: 500}\nmembers:\n  - {name: a, host: '::1'}\n",
        )
        .unwrap();
        file.save(&path, "written by a test").unwrap();
        assert_eq!(ClusterFile::load(&path).unwrap(), file);
        assert_eq!(file.client_urls(), ["http://[::1]:2379"]);
    }

    #[test]
    fn tls_paths_start_at_the_file_and_members_are_reached_over_https() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_NAME);
        std::fs::write(
            &path,
            "token: t\ntls: {ca-cert: pki/ca.pem, ca-key: pki/ca-key.pem, client-cert: /c.pem, client-key: /c-key.pem}\nmembers:\n  - {name: a, host: 10.0.0.1}\n",
        )
        .unwrap();
        let file = ClusterFile::load(&path).unwrap();
        let tls = file.tls.as_ref().unwrap();
        assert_eq!(tls.ca_cert, dir.path().join("pki/ca.pem"));
        assert_eq!(tls.client_cert, Path::new("/c.pem"));
        assert_eq!(file.client_urls(), ["https://10.0.0.1:2379"]);
        assert_eq!(file.initial_cluster(), "a=https://10.0.0.1:2380");
        assert!(file.ctl_flags().contains(&"--key=/c-key.pem".to_owned()));
    }

    #[test]
    fn adding_tls_keeps_the_operators_file_and_its_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.yaml");
        let text = "# ours\ntoken: t # the token\nmembers:\n  - {name: a, host: 10.0.0.1}";
        std::fs::write(&path, text).unwrap();
        let mut file = ClusterFile::load(&path).unwrap();
        file.tls = Some(TlsFiles::in_dir(&dir.path().join("pki")));
        FileUpdate::AddTls(path.clone()).apply(&file).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.starts_with(text), "{written}");
        assert_eq!(ClusterFile::load(&path).unwrap(), file);

        // A file that appending cannot extend (a flow mapping) is left alone.
        let flow = dir.path().join("flow.yaml");
        std::fs::write(&flow, "{token: t, members: [{name: a, host: h}]}\n").unwrap();
        let mut file = ClusterFile::load(&flow).unwrap();
        file.tls = Some(TlsFiles::in_dir(&dir.path().join("pki")));
        let error = FileUpdate::AddTls(flow.clone()).apply(&file).unwrap_err();
        assert!(
            error.to_string().contains("add this to the file yourself"),
            "{error}"
        );
        assert!(ClusterFile::load(&flow).unwrap().tls.is_none());
    }
}
