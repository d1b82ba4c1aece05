//! `oxlocker` processes contending for one lock or election: started (optionally inside a
//! network namespace) so they die with the test, their stdout read into time-stamped
//! [`Event`]s, and signalled (SIGKILL, SIGSTOP/SIGCONT) as faults. Dropping a [`Holder`] kills
//! its process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::event::Event;
use crate::{binaries, member, spawner};

/// How often waits look at the events again; the events carry their own time stamps, so this
/// only delays the test, not what it measures.
const POLL: Duration = Duration::from_millis(20);

/// Bound on a SIGSTOPped process's threads all stopping.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the processes contend for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lock the mutex, make guarded writes, unlock; again and again.
    Lock,
    /// Campaign, proclaim while leading, resign; again and again.
    Elect,
}

/// How every process of a group runs.
#[derive(Debug, Clone)]
pub struct HolderSpec {
    /// Lock or election.
    pub mode: Mode,
    /// Client URLs of the cluster.
    pub endpoints: Vec<String>,
    /// The lock's or election's name.
    pub name: String,
    /// The session's lease TTL in seconds.
    pub ttl: i64,
    /// Guarded writes (or proclamations) per tenure.
    pub rounds: u64,
    /// Pause before each guarded write or proclamation.
    pub interval: Duration,
    /// Write without the compare on the lock key (`oxlocker --unguarded`): unsafe on purpose,
    /// to show the checker catching a holder that writes after losing the lock.
    pub unguarded: bool,
}

impl HolderSpec {
    /// The `oxlocker` command line for process `id`.
    fn args(&self, id: u64) -> Vec<String> {
        let mut args = vec![
            "--id".to_owned(),
            id.to_string(),
            "--endpoints".to_owned(),
            self.endpoints.join(","),
            "--name".to_owned(),
            self.name.clone(),
            "--ttl".to_owned(),
            self.ttl.to_string(),
            "--rounds".to_owned(),
            self.rounds.to_string(),
            "--interval-ms".to_owned(),
            self.interval.as_millis().to_string(),
        ];
        if self.mode == Mode::Elect {
            args.push("--elect".to_owned());
        }
        if self.unguarded {
            args.push("--unguarded".to_owned());
        }
        args
    }
}

/// An event and when the test read it.
#[derive(Debug, Clone)]
pub struct Stamped {
    /// When the line arrived.
    pub at: Instant,
    /// What it said.
    pub event: Event,
}

/// One `oxlocker` process.
pub struct Holder {
    id: u64,
    child: Option<Child>,
    events: Arc<Mutex<Vec<Stamped>>>,
}

impl Holder {
    /// Starts process `id` for `spec`, inside namespace `netns` if given.
    pub fn start(spec: &HolderSpec, id: u64, netns: Option<&str>) -> Result<Holder> {
        let binary = binaries::oxlocker()?;
        let mut command = match netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        command
            .args(spec.args(id))
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = spawner::spawn(command)
            .with_context(|| format!("starting {} as holder {id}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the holder's stdout is piped")?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::Builder::new()
            .name(format!("oxlocker-{id}"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let event = line.parse().unwrap_or_else(|error| Event::Failed {
                        what: format!("{error:#}"),
                    });
                    let stamped = Stamped {
                        at: Instant::now(),
                        event,
                    };
                    sink.lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(stamped);
                }
            })
            .context("starting the holder's reader thread")?;
        Ok(Holder {
            id,
            child: Some(child),
            events,
        })
    }

    /// The id the process writes with.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Everything the process reported so far.
    pub fn events(&self) -> Vec<Stamped> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn pid(&self) -> Result<u32> {
        self.child
            .as_ref()
            .map(Child::id)
            .with_context(|| format!("holder {} is not running", self.id))
    }

    fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = self.pid()?;
        // SAFETY: kill(2) on our own child, which is not reaped before `kill9` waits on it.
        if unsafe { libc::kill(pid as libc::pid_t, signal) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("signal {signal} to holder {}", self.id));
        }
        Ok(())
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) -> Result<()> {
        let mut child = self
            .child
            .take()
            .with_context(|| format!("holder {} is not running", self.id))?;
        if child.try_wait().ok().flatten().is_none() {
            child.kill().context("killing a holder")?;
        }
        child.wait().context("reaping a holder")?;
        Ok(())
    }

    /// Freezes the process with SIGSTOP; returns once all its threads stopped.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(libc::SIGSTOP)?;
        let pid = self.pid()?;
        let deadline = Instant::now() + PAUSE_TIMEOUT;
        while !member::all_threads_stopped(pid) {
            if Instant::now() >= deadline {
                bail!("holder {} did not stop within {PAUSE_TIMEOUT:?}", self.id);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Thaws the process with SIGCONT.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(libc::SIGCONT)?;
        Ok(())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.child.is_some()
            && let Err(error) = self.kill9()
        {
            eprintln!("oxt: {error:#}");
        }
    }
}

/// A group of processes contending for one lock or election.
pub struct Holders {
    spec: HolderSpec,
    netns: Vec<String>,
    holders: Vec<Holder>,
}

/// An event of one process, found by [`Holders::wait_for`].
#[derive(Debug, Clone)]
pub struct Found<T> {
    /// The process's index in the group.
    pub index: usize,
    /// What the matcher made of the event.
    pub value: T,
    /// When the event arrived.
    pub at: Instant,
}

impl Holders {
    /// Starts `count` processes with ids 1..=count; process `i` runs in `netns[i]` when given.
    pub fn start(spec: &HolderSpec, count: usize, netns: &[String]) -> Result<Holders> {
        let holders = (0..count)
            .map(|i| Holder::start(spec, i as u64 + 1, netns.get(i).map(String::as_str)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Holders {
            spec: spec.clone(),
            netns: netns.to_vec(),
            holders,
        })
    }

    /// Replaces process `i` (killed, say) by a new one with the same id and namespace; the
    /// old one's events are kept in front of the new one's.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        let old = &mut self.holders[i];
        if old.child.is_some() {
            old.kill9()?;
        }
        let new = Holder::start(&self.spec, old.id, self.netns.get(i).map(String::as_str))?;
        let earlier = old.events();
        new.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .splice(0..0, earlier);
        self.holders[i] = new;
        Ok(())
    }

    /// Process `i`.
    pub fn get(&self, i: usize) -> &Holder {
        &self.holders[i]
    }

    /// Process `i`, to inject a fault.
    pub fn get_mut(&mut self, i: usize) -> &mut Holder {
        &mut self.holders[i]
    }

    /// Waits until an event that arrived after `since` from a process whose index passes
    /// `from` satisfies `matcher`, and returns the first such (earliest arrival).
    pub async fn wait_for<T>(
        &self,
        what: &str,
        since: Instant,
        from: impl Fn(usize) -> bool,
        timeout: Duration,
        matcher: impl Fn(&Event) -> Option<T>,
    ) -> Result<Found<T>> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .holders
                .iter()
                .enumerate()
                .filter(|&(index, _)| from(index))
                .flat_map(|(index, holder)| {
                    holder
                        .events()
                        .into_iter()
                        .filter(|stamped| stamped.at > since)
                        .filter_map(|stamped| {
                            matcher(&stamped.event).map(|value| Found {
                                index,
                                value,
                                at: stamped.at,
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .min_by_key(|found| found.at);
            if let Some(found) = found {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {timeout:?} waiting for {what}; last events: {}",
                    self.last_events()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Each process's last few events, for error messages.
    pub fn last_events(&self) -> String {
        self.holders
            .iter()
            .map(|holder| {
                let events = holder.events();
                let tail: Vec<String> = events
                    .iter()
                    .rev()
                    .take(3)
                    .rev()
                    .map(|stamped| stamped.event.to_string())
                    .collect();
                format!("[{}: {}]", holder.id, tail.join("; "))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
