//! Acting on one member where it runs, through systemd when it is a unit (`systemd_unit.rs`),
//! else through its supervisor's pid file: stop it, restart oxcd (SIGHUP to the supervisor),
//! tell whether it failed to start, read the end of its log. The scripts find the member's directory as
//! `up` laid it out: `<home>/<name>/`, `home` relative to the SSH login's home (or, for a
//! member on this machine, to the cluster file's directory).

use std::path::Path;

use anyhow::{Context, Result, bail};
use futures::future::join_all;

use crate::cluster_file::{ClusterFile, MemberEntry};
use crate::host::{Host, quote};
use crate::supervisor::{RESTARTING_AFTER_FAILURE, SUPERVISING};
use crate::systemd_unit::{UNIT_DIR, shell_prelude};

/// Seconds a supervisor may take to stop its member before both are killed.
const STOP_GRACE_SECONDS: u32 = 20;

/// Shell lines that set `pid` to the running supervisor's, or say `not running` and exit.
const FIND_SUPERVISOR: &str = r#"running() { [ -r /proc/$1/stat ] && [ "$(awk '{print $3}' /proc/$1/stat)" != Z ]; }
pid=$(cat supervisor.pid 2>/dev/null || true)
if [ -z "$pid" ] || ! running "$pid" || ! tr '\0' ' ' < /proc/$pid/cmdline | grep -q supervise; then echo "not running"; exit 0; fi
"#;

/// One member and the host it runs on.
pub struct MemberOnHost<'a> {
    /// The member.
    pub member: &'a MemberEntry,
    /// Its host.
    pub host: Host,
    /// `cd` into the member's directory (fails when there is none).
    enter: String,
    /// Sets what tells whether the member runs under systemd ([`shell_prelude`]).
    prelude: String,
}

impl<'a> MemberOnHost<'a> {
    /// `member` of `file`, whose cluster file is in `file_dir`.
    pub fn new(file: &ClusterFile, member: &'a MemberEntry, file_dir: &Path) -> MemberOnHost<'a> {
        let host = Host::of(member, &file.ssh_options);
        let base = host.base_dir(file_dir);
        let enter = format!(
            "cd {} && cd {} 2>/dev/null && cd {} 2>/dev/null",
            quote(&base),
            quote(&file.home),
            quote(&member.name)
        );
        MemberOnHost {
            member,
            host,
            enter,
            prelude: shell_prelude(&member.name),
        }
    }

    /// Stops the member (a unit is also disabled: it does not start at the next boot); what
    /// happened (`stopped`, `not running`, ...).
    pub async fn stop(&self) -> Result<String> {
        let script = format!(
            r#"{enter} || {{ echo "not running"; exit 0; }}
{prelude}if has_unit; then
  if systemctl is-active --quiet "$unit"; then $S systemctl disable --now --quiet "$unit" && echo stopped; else $S systemctl disable --quiet "$unit"; echo "not running"; fi
  exit 0
fi
{FIND_SUPERVISOR}kill -TERM "$pid"
i=0
while running "$pid" && [ $i -lt {ticks} ]; do sleep 0.1; i=$((i + 1)); done
if running "$pid"; then kill -KILL "$pid"; echo "killed after {STOP_GRACE_SECONDS}s"; else echo stopped; fi
"#,
            enter = self.enter,
            prelude = self.prelude,
            ticks = STOP_GRACE_SECONDS * 10,
        );
        self.run(&script, "stopping").await
    }

    /// Deletes the member's unit, if it has one (it was removed from the cluster).
    pub async fn remove_unit(&self) -> Result<()> {
        let script = format!(
            "{}if [ -f {UNIT_DIR}/\"$unit\" ]; then $S rm -f {UNIT_DIR}/\"$unit\" && $S systemctl daemon-reload; fi\n",
            self.prelude
        );
        self.run(&script, "removing the unit of").await.map(drop)
    }

    /// Has systemd or the supervisor restart oxcd (it stops it gracefully first), and waits
    /// until the new oxcd process runs.
    pub async fn restart(&self) -> Result<()> {
        let script = format!(
            r#"{} || {{ echo "not running"; exit 0; }}
{}if has_unit; then
  if systemctl is-active --quiet "$unit"; then $S systemctl restart "$unit" && echo restarting; else echo "not running"; fi
  exit 0
fi
{FIND_SUPERVISOR}children() {{ cat /proc/$pid/task/*/children 2>/dev/null | tr -s ' ' '\n' | grep . || true; }}
old=$(children)
kill -HUP "$pid"
i=0
while [ $i -lt {ticks} ]; do
  now=$(children)
  if [ -n "$now" ] && [ "$now" != "$old" ]; then echo restarting; exit 0; fi
  sleep 0.1; i=$((i + 1))
done
echo "still not restarted after {STOP_GRACE_SECONDS}s"
"#,
            self.enter,
            self.prelude,
            ticks = STOP_GRACE_SECONDS * 10 + 100,
        );
        let said = self.run(&script, "restarting").await?;
        if said != "restarting" {
            bail!(
                "{} is {said} on {}: start it with `oxadm up`",
                self.member.name,
                self.host.describe()
            );
        }
        Ok(())
    }

    /// The member's directory, absolute on its host.
    pub async fn dir(&self) -> Result<String> {
        let script = format!(
            "{} || {{ echo 'no such member directory: set it up with `oxadm up`' >&2; exit 1; }}\npwd\n",
            self.enter
        );
        self.run(&script, "finding the directory of").await
    }

    /// The end of the log when oxcd failed since systemd or its supervisor started it (it is
    /// being restarted after a failure), else `None`.
    pub async fn failed_start(&self) -> Result<Option<String>> {
        let script = format!(
            "{} || exit 0\n{}if has_unit; then\n  n=$(systemctl show -p NRestarts --value \"$unit\" 2>/dev/null || true)\n  if [ \"${{n:-0}}\" -gt 0 ] || systemctl is-failed --quiet \"$unit\"; then tail -n {LOG_TAIL_LINES} oxcd.log; fi\n  exit 0\nfi\nawk -v start={} -v failed={} 'index($0, start) {{ n = 0; bad = 0 }} {{ tail[n++ % {LOG_TAIL_LINES}] = $0 }} index($0, failed) {{ bad = 1 }} END {{ if (bad) for (i = n - {LOG_TAIL_LINES}; i < n; i++) if (i >= 0) print tail[i % {LOG_TAIL_LINES}] }}' oxcd.log 2>/dev/null || true\n",
            self.enter,
            self.prelude,
            quote(&format!("oxadm supervise: {SUPERVISING}")),
            quote(RESTARTING_AFTER_FAILURE),
        );
        let tail = self.host.run(&script, b"").await?;
        Ok((!tail.trim().is_empty()).then_some(tail))
    }

    /// The last `lines` lines of the member's log.
    pub async fn log_tail(&self, lines: u32) -> Result<String> {
        let script = format!(
            "{} || {{ echo 'no such member directory' >&2; exit 1; }}\ntail -n {lines} oxcd.log\n",
            self.enter
        );
        self.host.run(&script, b"").await.with_context(|| {
            format!(
                "reading {}'s log on {}",
                self.member.name,
                self.host.describe()
            )
        })
    }

    async fn run(&self, script: &str, doing: &str) -> Result<String> {
        let said =
            self.host.run(script, b"").await.with_context(|| {
                format!("{doing} {} on {}", self.member.name, self.host.describe())
            })?;
        Ok(said.trim().to_owned())
    }
}

/// Lines of each log shown with an error.
const LOG_TAIL_LINES: u32 = 15;

/// Returns once one of `members` of `file` failed to start, with an error showing the end of
/// its log; until then it checks every two seconds.
pub async fn first_failed_start(
    file: &ClusterFile,
    file_dir: &Path,
    members: &[&MemberEntry],
) -> anyhow::Error {
    loop {
        for member in members {
            let on_host = MemberOnHost::new(file, member, file_dir);
            if let Ok(Some(tail)) = on_host.failed_start().await {
                return anyhow::anyhow!(
                    "{} failed to start on {} (its supervisor restarts it until stopped with `oxadm down` or `oxadm local down`); the end of its log:\n{tail}",
                    member.name,
                    on_host.host.describe()
                );
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// The end of the log of each of `members` of `file`, to go with an error; a log that cannot
/// be read is left out.
pub async fn log_tails(file: &ClusterFile, file_dir: &Path, members: &[&MemberEntry]) -> String {
    let tails = join_all(members.iter().map(|member| async move {
        let on_host = MemberOnHost::new(file, member, file_dir);
        match on_host.log_tail(LOG_TAIL_LINES).await {
            Ok(tail) => format!("the end of {}'s log:\n{tail}", member.name),
            Err(_) => String::new(),
        }
    }))
    .await;
    tails.join("")
}
