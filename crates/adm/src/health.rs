//! What the members say of themselves and of the cluster — each endpoint's `Status`, the
//! raised alarms, a linearizable read as `etcdctl endpoint health` makes — printed as one
//! table, and waiting until the cluster is healthy with a progress line.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmType, RangeRequest, StatusRequest, StatusResponse,
};
use oxcd_client::{Client, ConnectOptions};

use crate::cluster_file::{ClusterFile, MemberEntry};
use crate::member_control::{first_failed_start, log_tails};

/// Bound on each call made to gather a report.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// One member's answer.
pub struct MemberReport {
    /// Its name in the cluster file.
    pub name: String,
    /// Its client URL.
    pub endpoint: String,
    /// Its `Status`, or why it gave none.
    pub status: Result<StatusResponse, String>,
}

impl MemberReport {
    /// Its raft id, if it answered.
    pub fn id(&self) -> Option<u64> {
        self.status.as_ref().ok().map(member_id)
    }
}

/// The cluster as its members describe it.
pub struct ClusterReport {
    /// Every member of the cluster file, in its order.
    pub members: Vec<MemberReport>,
    /// Whether a linearizable read went through (it needs a leader and a quorum).
    pub read: Result<(), String>,
    /// Raised alarms as `(member id, alarm name)`.
    pub alarms: Vec<(u64, String)>,
}

impl ClusterReport {
    /// Asks every member of `file`.
    pub async fn collect(file: &ClusterFile) -> ClusterReport {
        let endpoints = file.client_urls();
        let mut members = Vec::new();
        for (entry, endpoint) in file.members.iter().zip(&endpoints) {
            members.push(MemberReport {
                name: entry.name.clone(),
                endpoint: endpoint.clone(),
                status: member_status(file, endpoint).await,
            });
        }
        let (read, alarms) = match connect(file, &endpoints).await {
            Ok(client) => (linearizable_read(&client).await, alarms(&client).await),
            Err(error) => (Err(error), Vec::new()),
        };
        ClusterReport {
            members,
            read,
            alarms,
        }
    }

    /// The report of `file`'s cluster, or an error showing it when the cluster is not healthy;
    /// `refusal` says what cannot be done then and why.
    pub async fn require_healthy(file: &ClusterFile, refusal: &str) -> Result<ClusterReport> {
        let report = ClusterReport::collect(file).await;
        if !report.is_healthy() {
            bail!(
                "the cluster is not healthy ({}): {refusal}\n{}",
                report.summary(),
                report.table()
            );
        }
        Ok(report)
    }

    /// The member whose raft id is `id`, if it answered.
    pub fn member_with_id(&self, id: u64) -> Option<&MemberReport> {
        self.members.iter().find(|m| m.id() == Some(id))
    }

    /// The leader's report, if every answering member names the same leader and it answered.
    pub fn leader_member(&self) -> Option<&MemberReport> {
        self.member_with_id(self.leader()?)
    }

    /// The leader's id, if every answering member names the same one.
    pub fn leader(&self) -> Option<u64> {
        let mut leaders = self
            .members
            .iter()
            .filter_map(|m| m.status.as_ref().ok())
            .map(|status| status.leader);
        let first = leaders.next()?;
        (first != 0 && leaders.all(|leader| leader == first)).then_some(first)
    }

    /// Every member answers, all agree on a leader, and a linearizable read goes through.
    pub fn is_healthy(&self) -> bool {
        self.members.iter().all(|m| m.status.is_ok())
            && self.leader().is_some()
            && self.read.is_ok()
    }

    /// One line: how far the cluster is from healthy.
    pub fn summary(&self) -> String {
        let answering = self.members.iter().filter(|m| m.status.is_ok()).count();
        let leader = match self.leader() {
            Some(id) => format!("leader {}", self.name_of(id)),
            None => "no leader yet".to_owned(),
        };
        let read = match &self.read {
            Ok(()) => "reads go through".to_owned(),
            Err(_) => "reads fail".to_owned(),
        };
        format!(
            "{answering}/{} members answer, {leader}, {read}",
            self.members.len()
        )
    }

    /// The member name of raft id `id`, or the id in hex for a member not in the file.
    fn name_of(&self, id: u64) -> String {
        self.member_with_id(id)
            .map(|m| m.name.clone())
            .unwrap_or_else(|| format!("{id:x}"))
    }

    /// The status table: one row per member, then the cluster's health and alarms.
    pub fn table(&self) -> String {
        let header = [
            "NAME",
            "ENDPOINT",
            "ID",
            "LEADER",
            "HEALTH",
            "DB SIZE",
            "RAFT TERM",
            "RAFT INDEX",
            "VERSION",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for member in &self.members {
            let row = match &member.status {
                Ok(status) => vec![
                    member.name.clone(),
                    member.endpoint.clone(),
                    format!("{:x}", member_id(status)),
                    (status.leader == member_id(status)).to_string(),
                    if status.errors.is_empty() {
                        "healthy".to_owned()
                    } else {
                        status.errors.join("; ")
                    },
                    human_bytes(status.db_size),
                    status.raft_term.to_string(),
                    status.raft_index.to_string(),
                    status.version.clone(),
                ],
                Err(error) => vec![
                    member.name.clone(),
                    member.endpoint.clone(),
                    "-".into(),
                    "-".into(),
                    format!("unreachable: {error}"),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ],
            };
            rows.push(row);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(&format!("cluster: {}\n", self.summary()));
        if self.alarms.is_empty() {
            out.push_str("alarms: none\n");
        } else {
            for (member, alarm) in &self.alarms {
                out.push_str(&format!(
                    "alarm: {alarm} on member {}\n",
                    self.name_of(*member)
                ));
            }
        }
        out
    }
}

/// Waits until the cluster of `file` is healthy, showing progress on standard error, for at
/// most `timeout`; the error carries the last report.
pub async fn wait_healthy(file: &ClusterFile, timeout: Duration) -> Result<ClusterReport> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut last_line = String::new();
    loop {
        let report = ClusterReport::collect(file).await;
        let line = format!(
            "waiting for the cluster: {} ({}s)",
            report.summary(),
            started.elapsed().as_secs()
        );
        if report.is_healthy() {
            if terminal {
                eprint!("\r\x1b[2K");
            }
            return Ok(report);
        }
        if started.elapsed() >= timeout {
            if terminal {
                eprintln!();
            }
            bail!(
                "the cluster is not healthy after {}s: {}\n{}",
                timeout.as_secs(),
                report.summary(),
                report.table()
            );
        }
        if terminal {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        } else if report.summary() != last_line {
            eprintln!("{line}");
            last_line = report.summary();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits up to `timeout` until `file`'s cluster (whose file is in `file_dir`) is healthy,
/// failing at once when one of `started`, the members just started, fails to start; a timeout
/// shows the end of the log of every member that does not answer.
pub async fn wait_started(
    file: &ClusterFile,
    file_dir: &Path,
    started: &[&MemberEntry],
    timeout: Duration,
) -> Result<ClusterReport> {
    tokio::select! {
        healthy = wait_healthy(file, timeout) => match healthy {
            Ok(report) => Ok(report),
            Err(error) => {
                let report = ClusterReport::collect(file).await;
                let silent: Vec<&MemberEntry> = file
                    .members
                    .iter()
                    .zip(&report.members)
                    .filter(|(_, answer)| answer.status.is_err())
                    .map(|(member, _)| member)
                    .collect();
                Err(error.context(log_tails(file, file_dir, &silent).await))
            }
        },
        failure = first_failed_start(file, file_dir, started) => Err(failure),
    }
}

/// A client of `file`'s cluster for calls that change it (membership, leadership) through
/// `endpoints`, with room for them to be applied.
pub async fn change_client(file: &ClusterFile, endpoints: &[String]) -> Result<Client> {
    let options = ConnectOptions {
        request_timeout: Some(Duration::from_secs(10)),
        ..file.client_options()
    };
    Ok(Client::connect(endpoints, options).await?)
}

fn member_id(status: &StatusResponse) -> u64 {
    status.header.as_ref().map_or(0, |h| h.member_id)
}

async fn connect(file: &ClusterFile, endpoints: &[String]) -> Result<Client, String> {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(1),
        request_timeout: Some(CALL_TIMEOUT),
        ..file.client_options()
    };
    Client::connect(endpoints, options)
        .await
        .map_err(|e| e.to_string())
}

async fn member_status(file: &ClusterFile, endpoint: &str) -> Result<StatusResponse, String> {
    let client = connect(file, &[endpoint.to_owned()]).await?;
    let response = client.maintenance().status(StatusRequest {}).await;
    response
        .map(|r| r.into_inner())
        .map_err(|e| e.message().to_owned())
}

async fn linearizable_read(client: &Client) -> Result<(), String> {
    let request = RangeRequest {
        key: b"health".to_vec(),
        ..RangeRequest::default()
    };
    match client.kv().range(request).await {
        Ok(_) => Ok(()),
        // As `etcdctl endpoint health`: a refusal by auth still proves the cluster serves.
        Err(status) if status.code() == tonic::Code::PermissionDenied => Ok(()),
        Err(status) => Err(status.message().to_owned()),
    }
}

async fn alarms(client: &Client) -> Vec<(u64, String)> {
    let request = AlarmRequest {
        action: AlarmAction::Get as i32,
        member_id: 0,
        alarm: AlarmType::None as i32,
    };
    match client.maintenance().alarm(request).await {
        Ok(response) => response
            .into_inner()
            .alarms
            .into_iter()
            .map(|a| {
                let name = AlarmType::try_from(a.alarm)
                    .map_or_else(|_| a.alarm.to_string(), |t| t.as_str_name().to_owned());
                (a.member_id, name)
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Bytes as etcdctl shows them (`20 kB`, `1.2 MB`).
fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
