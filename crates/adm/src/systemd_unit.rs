//! Members run by systemd: where systemd runs and the login may manage system units (root, or
//! passwordless sudo), a member is the unit `oxcd-<name>.service` — restarted after a failure,
//! started again after a reboot — instead of an `oxadm supervise` process. This file owns the
//! unit's name and text and the shell lines that tell a script whether its member has a unit.

/// Where oxadm installs units.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// How long oxcd may take to stop before systemd kills it (as the supervisor's grace).
const STOP_TIMEOUT_SECONDS: u32 = 15;

/// The unit of member `name`: `oxcd-<name>.service`, with characters unit names may not hold
/// escaped as `systemd-escape` does.
pub fn unit_name(name: &str) -> String {
    let escaped: String = name
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b':' | b'_' | b'.' | b'-' => {
                char::from(byte).to_string()
            }
            _ => format!("\\x{byte:02x}"),
        })
        .collect();
    format!("oxcd-{escaped}.service")
}

/// The unit running member `name` as `user` from its directory `member_dir` with the `oxcd`
/// in `bin_dir`, its output appended to the member's log as the supervisor appends it.
pub fn unit_file(name: &str, token: &str, user: &str, member_dir: &str, bin_dir: &str) -> String {
    let log = format!("{member_dir}/oxcd.log");
    format!(
        "# Written by oxadm for member {name} of cluster {token}; `oxadm` commands manage it.
[Unit]
Description=oxcd member {name}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={member_dir}
ExecStart={exec} --config-file {config}
StandardOutput=append:{log}
StandardError=append:{log}
# A member removed from the cluster exits with status 0 and stays stopped.
Restart=on-failure
RestartSec=2s
TimeoutStopSec={STOP_TIMEOUT_SECONDS}s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
",
        exec = exec_quote(&format!("{bin_dir}/oxcd")),
        config = exec_quote(&format!("{member_dir}/oxcd.yaml")),
    )
}

/// Shell lines setting `unit` to the member's unit, `S` to what runs a command as root
/// (nothing for root, `sudo -n` otherwise) and `has_unit` to a test: the member runs under
/// systemd.
pub fn shell_prelude(name: &str) -> String {
    format!(
        "unit={unit}\nS=; [ \"$(id -u)\" = 0 ] || S='sudo -n'\nhas_unit() {{ [ -d /run/systemd/system ] && [ -f {UNIT_DIR}/\"$unit\" ]; }}\n",
        unit = crate::host::quote(&unit_name(name)),
    )
}

/// `text` as one word of an `ExecStart=` line.
fn exec_quote(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        text.to_owned()
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_systemd_escape_does() {
        assert_eq!(unit_name("peer1"), "oxcd-peer1.service");
        assert_eq!(unit_name("db/a b"), "oxcd-db\\x2fa\\x20b.service");
    }

    #[test]
    fn the_unit_runs_the_members_configuration_as_its_user() {
        let unit = unit_file(
            "peer1",
            "t1",
            "etcd",
            "/home/etcd/oxcd/peer1",
            "/home/etcd/oxcd/bin",
        );
        assert!(unit.contains("\nUser=etcd\n"));
        assert!(unit.contains(
            "\nExecStart=/home/etcd/oxcd/bin/oxcd --config-file /home/etcd/oxcd/peer1/oxcd.yaml\n"
        ));
        assert!(unit.contains("\nStandardError=append:/home/etcd/oxcd/peer1/oxcd.log\n"));
        let spaced = unit_file("p", "t", "u", "/srv/my data/p", "/srv/my data/bin");
        assert!(spaced.contains(
            "ExecStart=\"/srv/my data/bin/oxcd\" --config-file \"/srv/my data/p/oxcd.yaml\""
        ));
    }
}
