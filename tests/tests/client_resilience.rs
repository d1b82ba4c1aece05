//! `oxcd_client`'s long-lived calls on a 3-member cluster while members die: the resumable
//! watch sees every revision once and in order while the member it reads from and the leader
//! are killed and restarted; the config watcher stays exact across kills and, when a
//! compaction outran it, reloads once and goes on exactly; the service registry follows its
//! instances as sessions are revoked, orphaned and closed, and re-registers lost ones; an
//! election observer outlives the member it watched on; a lease keeper renews through every
//! member's death; and a watch leaves a member cut off from the leader (`hasleader`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxcd_client::concurrency::{Election, LeaderChanges, Session, observe_election};
use oxcd_client::discovery::{Instances, discover, register};
use oxcd_client::{
    Client, ConfigEvent, ConfigWatch, ConnectOptions, GetOptions, PutOptions, WatchOptions,
};
use oxcd_tests::{Cluster, ClusterSpec, Server};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Bound on waits for something that should happen soon after a failover.
const SOON: Duration = Duration::from_secs(20);

async fn cluster(token: &str) -> Cluster {
    let server = Server::from_env().unwrap();
    Cluster::start(ClusterSpec::new(server, 3).token(token))
        .await
        .unwrap()
}

async fn connect(endpoints: &[String]) -> Client {
    let options = ConnectOptions {
        request_timeout: Some(Duration::from_secs(3)),
        ..ConnectOptions::default()
    };
    Client::connect(endpoints, options).await.unwrap()
}

/// The index of the member with raft id `id`.
fn member_index(cluster: &Cluster, id: u64) -> usize {
    (0..cluster.size())
        .find(|&i| cluster.member(i).id() == Some(id))
        .unwrap_or_else(|| panic!("member {id:x} is not in the cluster"))
}

/// Kills member `victim` and starts it again after a pause.
async fn bounce(cluster: &mut Cluster, victim: usize) {
    cluster.kill9(victim).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    cluster.restart(victim).await.unwrap();
}

/// Puts increasing numbers under `key` until stopped; returns the (revision, value) of every
/// acknowledged put. Each attempt gets a new number, so a put whose answer was lost shows up
/// in the watch with a number no acknowledged put has.
fn writer(
    client: Client,
    key: &'static str,
    value_size: usize,
) -> (watch::Sender<bool>, JoinHandle<Vec<(i64, u64)>>) {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut n = 0u64;
        while !*stopped.borrow() {
            n += 1;
            let value = format!("{n:0width$}", width = value_size);
            match client.put(key, value, PutOptions::new()).await {
                Ok(put) => acked.push((put.revision(), n)),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        acked
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_every_revision_once_while_its_member_and_the_leader_die() {
    let mut cluster = cluster("oxt-cres-watch").await;
    let client = connect(&cluster.endpoints()).await;
    let start = client
        .get("seq", GetOptions::new())
        .await
        .unwrap()
        .revision();
    let mut changes = client.watch_stream("seq", WatchOptions::new().start_revision(start + 1));
    // Every delivered event as (revision, value, member that sent it).
    let seen: Arc<Mutex<Vec<(i64, u64, u64)>>> = Arc::default();
    let reader = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(batch) = changes.next().await {
                let batch = batch.expect("the watch ended");
                let mut seen = seen.lock().unwrap();
                for event in batch.events {
                    let kv = event.kv.unwrap();
                    let value = String::from_utf8(kv.value).unwrap().parse().unwrap();
                    seen.push((kv.mod_revision, value, batch.header.member_id));
                }
            }
        })
    };
    let (stop, writing) = writer(client.clone(), "seq", 1);
    let last_member = || seen.lock().unwrap().last().map(|&(_, _, member)| member);
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let victim = if round == 1 {
            cluster.leader(SOON).await.unwrap()
        } else {
            let member = tokio::time::timeout(SOON, async {
                loop {
                    if let Some(member) = last_member() {
                        return member;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .expect("no event before the kill");
            member_index(&cluster, member)
        };
        bounce(&mut cluster, victim).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.send(true).unwrap();
    let acked = writing.await.unwrap();
    let end = client
        .get("seq", GetOptions::new())
        .await
        .unwrap()
        .revision();
    let caught_up = async {
        while seen
            .lock()
            .unwrap()
            .last()
            .is_none_or(|&(rev, _, _)| rev < end)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(SOON, caught_up)
        .await
        .expect("the watch did not catch up with the last write");
    reader.abort();
    let seen = seen.lock().unwrap().clone();
    let revisions: Vec<i64> = seen.iter().map(|&(rev, _, _)| rev).collect();
    let expected: Vec<i64> = (start + 1..=end).collect();
    assert_eq!(
        revisions, expected,
        "revisions skipped, repeated or out of order"
    );
    // A put that timed out may still be applied after later ones, so values need not be in
    // order; each attempt's value is unique, so each may show up only once.
    let values: std::collections::BTreeSet<u64> = seen.iter().map(|&(_, value, _)| value).collect();
    assert_eq!(values.len(), seen.len(), "a put was delivered twice");
    let delivered: BTreeMap<i64, u64> = seen.iter().map(|&(rev, value, _)| (rev, value)).collect();
    for (rev, value) in &acked {
        assert_eq!(
            delivered.get(rev),
            Some(value),
            "acknowledged put at {rev} missing"
        );
    }
    let members: std::collections::BTreeSet<u64> = seen.iter().map(|&(_, _, m)| m).collect();
    assert!(
        members.len() >= 2,
        "the watch never moved to another member"
    );
    assert!(
        acked.len() > 50,
        "too few writes to mean anything: {}",
        acked.len()
    );
}

/// What a config watcher's consumer checks on each event: changes come once, in revision
/// order, after the snapshot they follow, and every value is one that was written.
#[derive(Default)]
struct Exactly {
    revision: i64,
    reloads: usize,
    changes: usize,
}

impl Exactly {
    fn check(&mut self, event: &ConfigEvent) {
        match event {
            ConfigEvent::Loaded(snapshot) => self.revision = snapshot.revision,
            ConfigEvent::Reloaded(snapshot) => {
                assert!(
                    snapshot.revision > self.revision,
                    "reload went back in time"
                );
                self.revision = snapshot.revision;
                self.reloads += 1;
            }
            ConfigEvent::Changed(batch) => {
                for event in &batch.events {
                    let rev = event.kv.as_ref().unwrap().mod_revision;
                    assert_eq!(rev, self.revision + 1, "change skipped or repeated");
                    self.revision = rev;
                    self.changes += 1;
                }
            }
        }
    }
}

/// Reads events until the watcher's view reaches revision `end`.
async fn drain_to(config: &mut ConfigWatch, exactly: &mut Exactly, end: i64) {
    while config.current().revision < end {
        let event = tokio::time::timeout(SOON, config.next())
            .await
            .expect("the config watch fell silent")
            .expect("the config watch ended")
            .expect("the config watch failed");
        exactly.check(&event);
    }
}

/// Puts `value` under `key`, trying again when a dying member lost the answer (a repeated put
/// adds a revision, which the exactness checks count like any other).
async fn must_put(client: &Client, key: &str, value: &str) -> i64 {
    for _ in 0..5 {
        match client.put(key, value, PutOptions::new()).await {
            Ok(put) => return put.revision(),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("put {key} kept failing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_watch_is_exact_across_kills_and_reloads_once_after_a_compaction() {
    let mut cluster = cluster("oxt-cres-config").await;
    let client = connect(&cluster.endpoints()).await;
    for key in ["cfg/a", "cfg/b"] {
        must_put(&client, key, "0").await;
    }
    let mut config = client.watch_config("cfg/");
    let mut exactly = Exactly::default();
    let first = config.next().await.unwrap().unwrap();
    assert!(matches!(&first, ConfigEvent::Loaded(s) if s.kvs.len() == 2));
    exactly.check(&first);

    // Kills of the watcher's member and of the leader while the consumer keeps reading.
    let (stop, writing) = writer(client.clone(), "cfg/a", 1);
    let last_member = Arc::new(Mutex::new(0u64));
    let (done, mut finish) = watch::channel(false);
    let consumer = {
        let last_member = last_member.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = config.next() => {
                        let event = event.unwrap().unwrap();
                        exactly.check(&event);
                        if let ConfigEvent::Changed(batch) = &event {
                            *last_member.lock().unwrap() = batch.header.member_id;
                        }
                    }
                    _ = finish.changed() => return (config, exactly),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let watched = tokio::time::timeout(SOON, async {
        loop {
            let member = *last_member.lock().unwrap();
            if member != 0 {
                return member;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("no change reached the watcher");
    let watched = member_index(&cluster, watched);
    bounce(&mut cluster, watched).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let leader = cluster.leader(SOON).await.unwrap();
    bounce(&mut cluster, leader).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.send(true).unwrap();
    writing.await.unwrap();
    done.send(true).unwrap();
    let (mut config, mut exactly) = consumer.await.unwrap();
    let end = client
        .get("cfg/", GetOptions::new().prefix())
        .await
        .unwrap();
    drain_to(&mut config, &mut exactly, end.revision()).await;
    assert_eq!(exactly.reloads, 0, "reloaded without a compaction");
    assert!(exactly.changes > 20, "too few changes: {}", exactly.changes);

    // The consumer stalls while more changes go by than the client and the server buffer
    // (the HTTP/2 window is 2 MiB), the history is compacted, and the member the stalled
    // stream is on dies: the watch can only resume below the compaction, so the watcher must
    // reload, once, and go on exactly.
    let before = must_put(&client, "cfg/b", "1").await;
    drain_to(&mut config, &mut exactly, before).await;
    let filler = "x".repeat(8 * 1024);
    for i in 0..600 {
        must_put(&client, &format!("cfg/big/{}", i % 7), &filler).await;
    }
    let compact_at = must_put(&client, "cfg/c", "new").await;
    client.compact(compact_at, true).await.unwrap();
    let connected = watcher_member(&mut config, &mut exactly).await;
    cluster.kill9(member_index(&cluster, connected)).unwrap();
    must_put(&client, "cfg/a", "after").await;
    client
        .delete("cfg/big/3", Default::default())
        .await
        .unwrap();
    let end = client
        .get("cfg/", GetOptions::new().prefix())
        .await
        .unwrap();
    drain_to(&mut config, &mut exactly, end.revision()).await;
    assert_eq!(
        exactly.reloads, 1,
        "no reload (or several) after the compaction"
    );
    let want: BTreeMap<Vec<u8>, Vec<u8>> = end
        .kvs()
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    let got: BTreeMap<Vec<u8>, Vec<u8>> = config
        .current()
        .kvs
        .iter()
        .map(|(key, kv)| (key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(got, want, "the watcher's view differs from the store");
}

/// Reads one more event and returns the member that sent it (the stream's member). Reading
/// one event does not unblock the backlog of hundreds, so the watch stays far behind.
async fn watcher_member(config: &mut ConfigWatch, exactly: &mut Exactly) -> u64 {
    let event = tokio::time::timeout(SOON, config.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    exactly.check(&event);
    match event {
        ConfigEvent::Changed(batch) => batch.header.member_id,
        other => panic!("expected a change, got {other:?}"),
    }
}

/// Waits until discovery shows exactly `ids`.
async fn until_instances(
    found: &mut oxcd_client::discovery::Discovery,
    ids: &[&str],
    within: Duration,
) -> Vec<Instances> {
    let mut history = Vec::new();
    let waited = tokio::time::timeout(within, async {
        loop {
            let snapshot = found.next().await.unwrap().unwrap();
            let now: Vec<&str> = snapshot.instances.keys().map(String::as_str).collect();
            let done = now == ids;
            history.push(snapshot);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "discovery never showed {ids:?}: {history:?}"
    );
    history
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_follows_live_instances_and_reregisters_lost_sessions() {
    let cluster = cluster("oxt-cres-registry").await;
    let client = connect(&cluster.endpoints()).await;
    let ttl = 2;
    let a = register(&client, "svc", "a", "10.0.0.1:1", ttl)
        .await
        .unwrap();
    let mut found = discover(&client, "svc");
    let b = register(&client, "svc", "b", "10.0.0.2:1", ttl)
        .await
        .unwrap();
    let c = register(&client, "svc", "c", "10.0.0.3:1", ttl)
        .await
        .unwrap();
    let history = until_instances(&mut found, &["a", "b", "c"], SOON).await;
    assert_eq!(history.last().unwrap().instances["b"], b"10.0.0.2:1");

    // a's session is lost (its lease revoked): the instance goes, then comes back on a new
    // lease under the same key.
    let mut state = a.state();
    let old_lease = state.borrow().lease.unwrap();
    client.lease_revoke(old_lease).await.unwrap();
    let history = until_instances(&mut found, &["b", "c"], SOON).await;
    assert!(!history.is_empty());
    until_instances(&mut found, &["a", "b", "c"], SOON).await;
    tokio::time::timeout(
        SOON,
        state.wait_for(|s| s.registrations == 2 && s.lease.is_some()),
    )
    .await
    .unwrap()
    .unwrap();
    let new_lease = state.borrow().lease.unwrap();
    assert_ne!(new_lease, old_lease);
    let key = client.get("svc/a", GetOptions::new()).await.unwrap();
    assert_eq!(key.first().unwrap().lease, new_lease);

    // b stops renewing as a crashed process would: it goes when its lease expires.
    b.orphan().await;
    until_instances(
        &mut found,
        &["a", "c"],
        Duration::from_secs(ttl as u64) + SOON,
    )
    .await;
    // c leaves cleanly: at once.
    c.deregister().await;
    until_instances(&mut found, &["a"], SOON).await;
    a.deregister().await;
    until_instances(&mut found, &[], SOON).await;
}

/// The next value the observer reports, and the member that sent it.
async fn next_value(observer: &mut LeaderChanges) -> (String, u64) {
    let change = tokio::time::timeout(SOON, observer.next())
        .await
        .expect("the observer fell silent")
        .expect("the observer ended")
        .expect("the observer failed");
    let kv = change.kvs.into_iter().next().unwrap();
    (
        String::from_utf8(kv.value).unwrap(),
        change.header.unwrap().member_id,
    )
}

/// Proclaims `value`, trying again when a dying member lost the answer.
async fn proclaim(election: &mut Election, value: &str) {
    for _ in 0..5 {
        match election.proclaim(value).await {
            Ok(()) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("proclaim {value} kept failing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_observer_survives_the_death_of_its_member() {
    let mut cluster = cluster("oxt-cres-observe").await;
    let client = connect(&cluster.endpoints()).await;
    let session = Session::new(&client, 10).await.unwrap();
    let mut election = Election::new(&session, "boss");
    election.campaign("v1").await.unwrap();
    let mut observer = observe_election(&client, "boss");
    assert_eq!(next_value(&mut observer).await.0, "v1");
    proclaim(&mut election, "v2").await;
    let (value, member) = next_value(&mut observer).await;
    assert_eq!(value, "v2");
    let victim = member_index(&cluster, member);
    cluster.kill9(victim).unwrap();
    proclaim(&mut election, "v3").await;
    let (value, moved_to) = next_value(&mut observer).await;
    assert_eq!(value, "v3");
    assert_ne!(
        moved_to, member,
        "the observer still reads from a dead member"
    );
    cluster.restart(victim).await.unwrap();
    proclaim(&mut election, "v4").await;
    assert_eq!(next_value(&mut observer).await.0, "v4");
    let rival_session = Session::new(&client, 10).await.unwrap();
    let rival = tokio::spawn(async move {
        let mut rival = Election::new(&rival_session, "boss");
        rival.campaign("rival").await.unwrap();
        (rival, rival_session)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    election.resign().await.unwrap();
    assert_eq!(next_value(&mut observer).await.0, "rival");
    let (mut rival, rival_session) = rival.await.unwrap();
    rival.resign().await.unwrap();
    rival_session.close().await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_keeper_renews_across_member_kills_and_reports_a_revoke() {
    let mut cluster = cluster("oxt-cres-lease").await;
    let client = connect(&cluster.endpoints()).await;
    let lease = client.lease_grant(8).await.unwrap();
    let keeper = client.lease_keep_alive(lease.id, lease.ttl);
    // Every member dies in turn, and together they are down for longer than the TTL: only
    // renewals re-opened on the survivors keep the lease.
    for victim in 0..3 {
        bounce(&mut cluster, victim).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert!(keeper.is_alive(), "the keeper gave up during the kills");
    let status = client.lease_time_to_live(lease.id, false).await.unwrap();
    assert!(status.exists(), "the lease expired while kept alive");
    client.lease_revoke(lease.id).await.unwrap();
    // The next renewal (every TTL/3) learns that the lease is gone; slack for a loaded machine.
    tokio::time::timeout(Duration::from_secs(lease.ttl as u64 + 5), keeper.lost())
        .await
        .expect("the revoke was not reported within a TTL");
    assert!(!keeper.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_leaves_a_member_cut_off_from_the_leader() {
    // oxcd only: a cut-off etcd 3.5.1 follower pre-votes and keeps its old leader's id, so it
    // never ends the streams that require a leader (Go's clientv3 stays on it as well).
    let spec = ClusterSpec::new(Server::Oxcd, 3)
        .token("oxt-cres-cutoff")
        .with_peer_proxies();
    let cluster = Cluster::start(spec).await.unwrap();
    let client = connect(&cluster.endpoints()).await;
    let start = client
        .get("cut", GetOptions::new())
        .await
        .unwrap()
        .revision();
    let mut changes = client.watch_stream("cut", WatchOptions::new().start_revision(start + 1));
    let (stop, writing) = writer(client.clone(), "cut", 1);
    let first = tokio::time::timeout(SOON, changes.next())
        .await
        .expect("no first event")
        .unwrap()
        .unwrap();
    let cut_off = first.header.member_id;
    let mut revisions: Vec<i64> = first
        .events
        .iter()
        .map(|e| e.kv.as_ref().unwrap().mod_revision)
        .collect();
    // Nothing reaches the member's peer port any more: it hears no leader, so a watch that
    // requires one is ended by it, and must carry on elsewhere rather than fall silent.
    let proxy = cluster.peer_proxy(member_index(&cluster, cut_off)).unwrap();
    proxy.set(oxcd_tests::proxy::LinkFaults {
        blackhole: true,
        ..Default::default()
    });
    let moved = tokio::time::timeout(SOON, async {
        loop {
            let batch = changes.next().await.unwrap().unwrap();
            revisions.extend(
                batch
                    .events
                    .iter()
                    .map(|e| e.kv.as_ref().unwrap().mod_revision),
            );
            if batch.header.member_id != cut_off {
                return;
            }
        }
    })
    .await;
    assert!(moved.is_ok(), "the watch stayed on the cut-off member");
    proxy.heal();
    stop.send(true).unwrap();
    writing.await.unwrap();
    let end = client
        .get("cut", GetOptions::new())
        .await
        .unwrap()
        .revision();
    tokio::time::timeout(SOON, async {
        while revisions.last().is_none_or(|&rev| rev < end) {
            let batch = changes.next().await.unwrap().unwrap();
            revisions.extend(
                batch
                    .events
                    .iter()
                    .map(|e| e.kv.as_ref().unwrap().mod_revision),
            );
        }
    })
    .await
    .expect("the watch did not catch up");
    let expected: Vec<i64> = (start + 1..=end).collect();
    assert_eq!(
        revisions, expected,
        "revisions skipped, repeated or out of order"
    );
}
