//! Distributed locks and elections under faults, with holders and campaigners as real
//! `oxlocker` processes contending on a three-member cluster: a holder SIGKILLed, SIGSTOPped
//! past its TTL, or cut off in its own network namespace loses the lock to the next one within
//! TTL + election timeout (+ slack), measured from the fault; a resumed holder's guarded writes
//! are refused; killing the leader member does not stop the lock from moving on; and the
//! guarded writes read back afterwards never interleave. A killed election leader is replaced
//! within the same bound and an observer sees the leaders in order. The lock scenario also
//! runs against real etcd 3.5.1: mutual exclusion is a property of the recipe. A short run of
//! `oxrobust --workload locks` mixes all of these faults at random. Holders that write without
//! the guard show that the checks catch a paused holder writing after it lost the lock.

use std::time::{Duration, Instant};

use oxcd_client::{Client, ConnectOptions};
use oxcd_tests::locks::event::Event;
use oxcd_tests::locks::holders::{HolderSpec, Holders, Mode};
use oxcd_tests::locks::run::{self as lock_run, LockRunSpec};
use oxcd_tests::locks::steps::{
    Observer, SESSION_TTL, SETTLE, acquired, check_observed, failover_bound, leading, timing_args,
};
use oxcd_tests::locks::tenures;
use oxcd_tests::{Cluster, ClusterSpec, NetnsLab, Placement, Server};

fn spec(mode: Mode, endpoints: Vec<String>, name: &str) -> HolderSpec {
    HolderSpec {
        mode,
        endpoints,
        name: name.to_owned(),
        ttl: SESSION_TTL,
        rounds: 4,
        interval: Duration::from_millis(200),
        unguarded: false,
    }
}

async fn check_history(endpoints: &[String], name: &str) -> tenures::TenureReport {
    let client = Client::connect(endpoints, ConnectOptions::default())
        .await
        .unwrap();
    let report = tenures::read_and_check(&client, name).await.unwrap();
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    assert!(
        report.tenures >= 4 && report.holders.len() >= 2,
        "too little happened to check: {report}"
    );
    report
}

/// Kill, pause and leader-member faults against lock holders on `server`.
async fn holder_and_member_faults(server: Server, token: &str) {
    let mut cluster = Cluster::start(ClusterSpec::new(server, 3).token(token).args(timing_args()))
        .await
        .unwrap();
    let name = "job";
    let mut holders = Holders::start(&spec(Mode::Lock, cluster.endpoints(), name), 4, &[]).unwrap();

    let grant = holders.fresh(SETTLE, acquired).await.unwrap();
    holders.get_mut(grant.index).kill9().unwrap();
    let killed = Instant::now();
    let next = holders
        .successor(grant.index, grant.value, killed, failover_bound(), acquired)
        .await
        .unwrap();
    eprintln!(
        "{server}: holder killed -> next holder acquired after {:?}",
        next.at - killed
    );
    holders.restart(grant.index).unwrap();

    let grant = holders.fresh(SETTLE, acquired).await.unwrap();
    let victim = grant.index;
    holders.get_mut(victim).pause().unwrap();
    let paused = Instant::now();
    let next = holders
        .successor(victim, grant.value, paused, failover_bound(), acquired)
        .await
        .unwrap();
    eprintln!(
        "{server}: holder paused -> next holder acquired after {:?}",
        next.at - paused
    );
    holders.first_write(&next, SETTLE).await.unwrap();
    holders.get_mut(victim).resume().unwrap();
    holders
        .victim_learns_it_lost(victim, grant.value, next.value, paused, true, SETTLE)
        .await
        .unwrap();

    let leader = cluster.leader(SETTLE).await.unwrap();
    cluster.kill9(leader).unwrap();
    let crashed = Instant::now();
    let moved = holders
        .wait_for(
            "the lock to move on after the leader member died",
            crashed,
            |_| true,
            failover_bound(),
            acquired,
        )
        .await
        .unwrap();
    eprintln!(
        "{server}: leader member killed -> next grant after {:?}",
        moved.at - crashed
    );
    cluster.restart(leader).await.unwrap();
    holders.more(4, SETTLE, acquired).await.unwrap();
    drop(holders);
    check_history(&cluster.endpoints(), name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_paused_and_leaderless_holders_never_overlap() {
    holder_and_member_faults(Server::from_env().unwrap(), "oxt-lockf-a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_faults_keep_etcds_locks_exclusive() {
    holder_and_member_faults(Server::Etcd, "oxt-lockf-b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_cut_off_loses_the_lock_and_writes_nothing_after() {
    let holder_count = 3;
    let lab = NetnsLab::create(3 + holder_count).unwrap();
    let members = lab.hosts()[..3].to_vec();
    let cluster = Cluster::start(
        ClusterSpec::new(Server::from_env().unwrap(), 3)
            .placement(Placement::Hosts(members))
            .args(timing_args()),
    )
    .await
    .unwrap();
    let name = "cutoff";
    let netns: Vec<String> = lab.hosts()[3..]
        .iter()
        .map(|host| host.netns.clone())
        .collect();
    let holders = Holders::start(
        &spec(Mode::Lock, cluster.endpoints(), name),
        holder_count,
        &netns,
    )
    .unwrap();
    for _ in 0..2 {
        let grant = holders.fresh(SETTLE, acquired).await.unwrap();
        lab.isolate(3 + grant.index).unwrap();
        let cut = Instant::now();
        let next = holders
            .successor(grant.index, grant.value, cut, failover_bound(), acquired)
            .await
            .unwrap();
        eprintln!(
            "holder cut off -> next holder acquired after {:?}",
            next.at - cut
        );
        holders.first_write(&next, SETTLE).await.unwrap();
        lab.heal().unwrap();
        holders
            .victim_learns_it_lost(grant.index, grant.value, next.value, cut, false, SETTLE)
            .await
            .unwrap();
    }
    holders.more(3, SETTLE, acquired).await.unwrap();
    drop(holders);
    check_history(&cluster.endpoints(), name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_in_time_and_observed_in_order() {
    let cluster = Cluster::start(
        ClusterSpec::new(Server::from_env().unwrap(), 3)
            .token("oxt-lockf-e")
            .args(timing_args()),
    )
    .await
    .unwrap();
    let name = "primary";
    let client = Client::connect(&cluster.endpoints(), ConnectOptions::default())
        .await
        .unwrap();
    let observer = Observer::start(&client, name);
    let mut campaigners =
        Holders::start(&spec(Mode::Elect, cluster.endpoints(), name), 3, &[]).unwrap();
    let mut successors = Vec::new();
    for _ in 0..2 {
        let leader = campaigners.fresh(SETTLE, leading).await.unwrap();
        campaigners.get_mut(leader.index).kill9().unwrap();
        let killed = Instant::now();
        let next = campaigners
            .successor(
                leader.index,
                leader.value,
                killed,
                failover_bound(),
                leading,
            )
            .await
            .unwrap();
        eprintln!("leader killed -> next leader after {:?}", next.at - killed);
        successors.push(next.value);
        campaigners.restart(leader.index).unwrap();
    }
    campaigners.more(2, SETTLE, leading).await.unwrap();
    drop(campaigners);
    let seen = observer.seen();
    let problems = check_observed(&seen, &successors);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_lock_run_with_every_fault_passes() {
    let spec = LockRunSpec::new(
        Server::from_env().unwrap(),
        3,
        Duration::from_secs(20),
        oxcd_testkit::rng::seed_from_env(11).unwrap(),
    );
    let summary = lock_run::run(spec).await.unwrap();
    eprintln!("{}", summary.render());
    assert!(summary.passed(), "{}", summary.render());
    assert!(
        summary.injected.values().sum::<usize>() >= 3,
        "{}",
        summary.render()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_writing_without_the_guard_is_caught() {
    let cluster = Cluster::start(
        ClusterSpec::new(Server::from_env().unwrap(), 3)
            .token("oxt-lockf-u")
            .args(timing_args()),
    )
    .await
    .unwrap();
    let name = "unguarded";
    let unguarded = HolderSpec {
        unguarded: true,
        ..spec(Mode::Lock, cluster.endpoints(), name)
    };
    let mut holders = Holders::start(&unguarded, 3, &[]).unwrap();
    let grant = holders.fresh(SETTLE, acquired).await.unwrap();
    let victim = grant.index;
    holders.get_mut(victim).pause().unwrap();
    let paused = Instant::now();
    let next = holders
        .successor(victim, grant.value, paused, failover_bound(), acquired)
        .await
        .unwrap();
    holders.first_write(&next, SETTLE).await.unwrap();
    holders.get_mut(victim).resume().unwrap();
    let token = grant.value;
    holders
        .wait_for(
            "the resumed holder's write without the guard",
            paused,
            |i| i == victim,
            SETTLE,
            |event| matches!(event, Event::Wrote { token: t, .. } if *t == token).then_some(()),
        )
        .await
        .unwrap();
    let learned = holders
        .victim_learns_it_lost(victim, token, next.value, paused, true, SETTLE)
        .await;
    assert!(learned.is_err(), "the unguarded write went unnoticed");
    drop(holders);
    let client = Client::connect(&cluster.endpoints(), ConnectOptions::default())
        .await
        .unwrap();
    let report = tenures::read_and_check(&client, name).await.unwrap();
    eprintln!("{report}");
    assert!(
        report.violations.iter().any(|v| v.contains("older token")),
        "the checker missed a write under a lost lock: {report}"
    );
}
