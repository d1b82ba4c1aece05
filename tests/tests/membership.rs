//! Membership changes with real etcdctl 3.5.1, compared with etcd 3.5.1, and the cluster's
//! life through them.
//!
//! The differential script starts a one-member cluster of each implementation and runs the
//! same `member add|promote|update|remove|list` commands, refusals included (a second learner,
//! a peer URL in use, promoting a voter or a learner that has not caught up, unknown ids), has
//! a learner join with `--initial-cluster-state existing`, serve serializable reads and refuse
//! writes, get promoted and removed (and exit); every command's output and exit code, with ids
//! and URLs replaced by names, goes into a transcript and the transcripts must be equal, with
//! the leader's learner-promotion metrics at the end.
//!
//! The scenario test grows an oxcd cluster from one member to five and back to three, each
//! member on a host of its own (a network namespace), while a writer keeps writing: voters and learners join and are promoted, a dead member is replaced
//! (removed, its data wiped, added again and started with `existing`), the leader is removed;
//! every acknowledged write is then on every remaining member, and a removed member's data
//! dir is refused on restart.
//!
//! With `--auto-promote-learners`, a learner is promoted by the leader alone once it has
//! caught up, and not before.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use oxcd_api::etcdserverpb::{MemberListRequest, PutRequest, RangeRequest, StatusRequest};
use oxcd_tests::etcdctl::CtlOutput;
use oxcd_tests::grpc::connect;
use oxcd_tests::{Cluster, ClusterSpec, Etcdctl, NetnsLab, Placement, Server};

/// Bound on a removed member's process ending.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on a learner catching up enough to be promoted.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(20);

/// Replaces ids and URLs, which differ between two clusters, by the names of what they are.
#[derive(Default)]
struct Masks {
    pairs: Vec<(String, String)>,
}

impl Masks {
    fn add(&mut self, text: impl Into<String>, label: &str) {
        self.pairs.push((text.into(), format!("<{label}>")));
    }

    /// An id as etcdctl prints it, plain (`%x`) or padded to 16 columns (`%16x`).
    fn id(&mut self, id: u64, label: &str) {
        self.add(format!("{id:16x}"), label);
        self.add(format!("{id:x}"), label);
    }

    fn member(&mut self, cluster: &Cluster, i: usize) {
        let config = cluster.member(i).config();
        let name = config.name.clone();
        self.add(
            config.peer_url().trim_start_matches("http://"),
            &format!("peer:{name}"),
        );
        self.add(
            config.client_url().trim_start_matches("http://"),
            &format!("client:{name}"),
        );
    }

    fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, so no text is replaced inside a longer one.
        let mut pairs: Vec<&(String, String)> = self.pairs.iter().collect();
        pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        for (from, to) in pairs {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

/// `ETCD_INITIAL_CLUSTER` lists the members in id order, and ids differ between the
/// clusters: its entries are sorted.
fn sorted_initial_cluster(line: &str) -> String {
    let Some(list) = line.strip_prefix("ETCD_INITIAL_CLUSTER=") else {
        return line.to_string();
    };
    let mut entries: Vec<&str> = list.trim_matches('"').split(',').collect();
    entries.sort_unstable();
    format!("ETCD_INITIAL_CLUSTER=\"{}\"", entries.join(","))
}

struct Transcript {
    lines: Vec<String>,
    masks: Masks,
}

impl Transcript {
    /// Records what one etcdctl command printed; `sorted` sorts the lines of its standard
    /// output (member lists come in id order, and ids differ between the clusters).
    async fn ctl(&mut self, what: &str, ctl: &Etcdctl, args: &[&str], sorted: bool) -> CtlOutput {
        let out = ctl.run(args).await.expect("etcdctl runs");
        let mut stdout: Vec<String> = self
            .masks
            .apply(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if sorted {
            stdout.sort();
        }
        for line in &mut stdout {
            *line = sorted_initial_cluster(line);
        }
        // etcdctl's client logs (retries) carry timestamps; its last line is the verdict.
        let stderr = out
            .stderr
            .lines()
            .filter(|l| !l.starts_with('{'))
            .map(|l| self.masks.apply(l))
            .collect::<Vec<_>>()
            .join(" | ");
        self.lines.push(format!(
            "{what}: exit {:?}\n{}\nstderr: {stderr}",
            out.code,
            stdout.join("\n")
        ));
        out
    }
}

async fn member_id(cluster: &Cluster, i: usize) -> u64 {
    let mut client = connect(&cluster.endpoint(i)).await.expect("connect");
    client
        .maintenance
        .status(StatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .header
        .expect("header")
        .member_id
}

async fn script(server: Server) -> Vec<String> {
    let mut cluster = Cluster::start(ClusterSpec::new(server, 1).names(["m1"]))
        .await
        .expect("cluster starts");
    let m2 = cluster.new_member("m2").expect("m2");
    let m3 = cluster.new_member("m3").expect("m3");
    let mut t = Transcript {
        lines: Vec::new(),
        masks: Masks::default(),
    };
    for i in [0, m2, m3] {
        t.masks.member(&cluster, i);
    }
    let m1_id = member_id(&cluster, 0).await;
    t.masks.id(m1_id, "id:m1");
    let mut client = connect(&cluster.endpoint(0)).await.expect("connect");
    let header = client
        .cluster
        .member_list(MemberListRequest::default())
        .await
        .expect("member list")
        .into_inner()
        .header
        .expect("header");
    t.masks.id(header.cluster_id, "cluster");
    client
        .kv
        .put(PutRequest {
            key: b"foo".to_vec(),
            value: b"bar".to_vec(),
            ..Default::default()
        })
        .await
        .expect("put");

    let ctl = Etcdctl::new([cluster.endpoint(0)]);
    let p2 = cluster.member(m2).config().peer_url();
    let p3 = cluster.member(m3).config().peer_url();
    let added = t
        .ctl(
            "add learner m2",
            &ctl,
            &["member", "add", "m2", "--learner", "--peer-urls", &p2],
            false,
        )
        .await;
    let (m2_id, _) = added.added_member().expect("member add prints the id");
    t.masks
        .id(u64::from_str_radix(&m2_id, 16).expect("hex id"), "id:m2");
    let last = t.lines.pop().expect("recorded");
    t.lines.push(t.masks.apply(&last));
    t.ctl(
        "a second learner",
        &ctl,
        &["member", "add", "m3", "--learner", "--peer-urls", &p3],
        false,
    )
    .await;
    // Another URL with it, so the new id (URLs and the second it is asked in) is never m2's
    // and the answer does not depend on the clock.
    let p2_and_p3 = format!("{p3},{p2}");
    t.ctl(
        "a peer URL in use",
        &ctl,
        &["member", "add", "m3", "--peer-urls", &p2_and_p3],
        false,
    )
    .await;
    t.ctl(
        "bad peer URL",
        &ctl,
        &["member", "add", "m3", "--peer-urls", "127.0.0.1:1"],
        false,
    )
    .await;
    t.ctl(
        "promote a voter",
        &ctl,
        &["member", "promote", &format!("{m1_id:x}")],
        false,
    )
    .await;
    t.ctl(
        "promote a learner not started",
        &ctl,
        &["member", "promote", &m2_id],
        false,
    )
    .await;
    t.ctl("remove unknown", &ctl, &["member", "remove", "abc"], false)
        .await;
    t.ctl(
        "update unknown",
        &ctl,
        &["member", "update", "abc", "--peer-urls", &p3],
        false,
    )
    .await;
    t.ctl("list with m2 unstarted", &ctl, &["member", "list"], true)
        .await;

    let initial = format!("m1={},m2={p2}", cluster.member(0).config().peer_url());
    cluster.join(m2, &initial).await.expect("m2 joins");
    let learner = Etcdctl::new([cluster.endpoint(m2)]);
    t.ctl(
        "serializable get on the learner",
        &learner,
        &["get", "foo", "--consistency=s"],
        false,
    )
    .await;
    t.ctl("put on the learner", &learner, &["put", "x", "y"], false)
        .await;
    t.ctl("list with m2 a learner", &ctl, &["member", "list"], true)
        .await;

    let deadline = tokio::time::Instant::now() + PROMOTE_TIMEOUT;
    loop {
        let out = ctl
            .run(&["member", "promote", &m2_id])
            .await
            .expect("etcdctl runs");
        if out.code == Some(0) {
            t.lines
                .push(format!("promoted: {}", t.masks.apply(&out.stdout)));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{server}: m2 never promoted: {}",
            out.stderr
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    t.ctl("list with m2 a voter", &ctl, &["member", "list"], true)
        .await;
    t.ctl(
        "update m2's peer URLs",
        &ctl,
        &["member", "update", &m2_id, "--peer-urls", &p2],
        false,
    )
    .await;
    t.ctl(
        "update to a peer URL in use",
        &ctl,
        &[
            "member",
            "update",
            &m2_id,
            "--peer-urls",
            &cluster.member(0).config().peer_url(),
        ],
        false,
    )
    .await;
    // etcd removes a voter only once every voter has been reachable for five seconds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    t.ctl(
        "remove m2",
        &Etcdctl::new([cluster.endpoint(0)]),
        &["member", "remove", &m2_id],
        false,
    )
    .await;
    let exit = cluster.wait_exit(m2, EXIT_TIMEOUT).await;
    t.lines.push(format!(
        "m2 after its removal: {:?}",
        exit.map_err(|_| "runs")
    ));
    t.ctl("list after the removal", &ctl, &["member", "list"], true)
        .await;
    t.lines.extend(promotion_metrics(&cluster.endpoint(0)));
    t.lines
}

/// The learner-promotion samples of the member at `endpoint` (the leader throughout the
/// script, so the one that counted every promotion). A learner catching up is refused as not
/// in sync any number of times, so that count is only said to be one or more.
fn promotion_metrics(endpoint: &str) -> Vec<String> {
    let port = endpoint
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("endpoint has a port");
    let metrics = oxcd_testkit::http::get(port, "/metrics").expect("GET /metrics");
    metrics
        .lines()
        .filter(|line| line.starts_with("etcd_server_learner_promote"))
        .map(|line| match line.rsplit_once(' ') {
            Some((sample, count)) if sample.contains("in sync with leader") => {
                let count: u64 = count.parse().expect("a count");
                format!("{sample} {}", if count >= 1 { "1 or more" } else { "0" })
            }
            _ => line.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_membership_commands_answer_as_etcd() {
    let etcd = script(Server::Etcd).await;
    let oxcd = script(Server::Oxcd).await;
    assert_eq!(
        oxcd.join("\n---\n"),
        etcd.join("\n---\n"),
        "oxcd (left) and etcd (right) differ"
    );
}

/// Puts `w/<n>` through any member until told to stop; counts acknowledged writes.
fn spawn_writer(
    endpoints: Arc<Endpoints>,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for endpoint in endpoints.current() {
                let Ok(mut client) = connect(&endpoint).await else {
                    continue;
                };
                let put = client.kv.put(PutRequest {
                    key: format!("w/{n:08}").into_bytes(),
                    value: b"v".to_vec(),
                    ..Default::default()
                });
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), put).await {
                    acked.store(n + 1, Ordering::Relaxed);
                    n += 1;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// The client URLs the writer may use, changed as members come and go.
#[derive(Default)]
struct Endpoints(std::sync::Mutex<Vec<String>>);

impl Endpoints {
    fn set(&self, endpoints: Vec<String>) {
        *self.0.lock().expect("endpoints lock") = endpoints;
    }

    fn current(&self) -> Vec<String> {
        self.0.lock().expect("endpoints lock").clone()
    }
}

/// Adds member `i` (a learner first when `learner`, then promoted) and starts it.
async fn grow(cluster: &mut Cluster, via: &Etcdctl, i: usize, learner: bool) -> String {
    let name = cluster.member(i).name().to_string();
    let peer = cluster.member(i).config().peer_url();
    let mut args = vec!["member", "add", &name, "--peer-urls", &peer];
    if learner {
        args.push("--learner");
    }
    let (id, initial) = until_healthy(via, &args)
        .await
        .added_member()
        .expect("member add prints the id and the initial cluster");
    cluster
        .join(i, &initial)
        .await
        .expect("the new member joins");
    if learner {
        let deadline = tokio::time::Instant::now() + PROMOTE_TIMEOUT;
        while via.run(&["member", "promote", &id]).await.unwrap().code != Some(0) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never promoted"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    id
}

/// Bound on the strict reconfiguration check letting a change through.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a membership change, again while etcd's strict check refuses it for a member that
/// has not been reachable for long enough yet (as an operator's script would); it must then
/// succeed.
async fn until_healthy(via: &Etcdctl, args: &[&str]) -> CtlOutput {
    let deadline = tokio::time::Instant::now() + HEALTHY_TIMEOUT;
    loop {
        let out = via.run(args).await.unwrap();
        let refused = out.stderr.contains("unhealthy cluster")
            || out.stderr.contains("not enough started members");
        if !refused || tokio::time::Instant::now() >= deadline {
            return out.success().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn voters(cluster: &Cluster, via: usize) -> BTreeMap<String, bool> {
    let mut client = connect(&cluster.endpoint(via)).await.unwrap();
    client
        .members()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.is_learner))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_grows_is_repaired_and_shrinks_under_writes() {
    // Five hosts, each a network namespace with its own address; the cluster starts on one.
    let lab = NetnsLab::create(5).expect("network namespaces (needs root)");
    let spec = ClusterSpec::new(Server::Oxcd, 1)
        .names(["m1"])
        .placement(Placement::Hosts(vec![lab.host(0).clone()]));
    let mut cluster = Cluster::start(spec).await.expect("cluster starts");
    let new: Vec<usize> = ["m2", "m3", "m4", "m5"]
        .iter()
        .enumerate()
        .map(|(k, n)| cluster.new_member_on(n, lab.host(k + 1)).unwrap())
        .collect();
    let endpoints = Arc::new(Endpoints::default());
    endpoints.set(vec![cluster.endpoint(0)]);
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let writer = spawn_writer(endpoints.clone(), stop.clone(), acked.clone());

    // 1 → 3 voters directly, then 5 through learners.
    let via = Etcdctl::new([cluster.endpoint(0)]);
    let mut ids = BTreeMap::new();
    for (k, &i) in new.iter().enumerate() {
        let id = grow(&mut cluster, &via, i, k >= 2).await;
        ids.insert(i, id);
        endpoints.set(cluster.endpoints());
    }
    let listed = voters(&cluster, 0).await;
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(listed.values().all(|learner| !learner), "{listed:?}");

    // Replace a dead member: kill it, remove it, wipe it, add it again, start it.
    let dead = new[1];
    cluster.kill9(dead).unwrap();
    until_healthy(&via, &["member", "remove", &ids[&dead]]).await;
    let id = grow(&mut cluster, &via, dead, false).await;
    assert_ne!(id, ids[&dead], "a member added again gets a new id");
    ids.insert(dead, id);

    // Remove the leader: it stops, the others elect a new one and writes go on.
    let leader = cluster.leader(Duration::from_secs(10)).await.unwrap();
    let leader_id = if leader == 0 {
        format!("{:x}", member_id(&cluster, 0).await)
    } else {
        ids[&leader].clone()
    };
    let others: Vec<String> = (0..cluster.size())
        .filter(|&i| i != leader)
        .map(|i| cluster.endpoint(i))
        .collect();
    endpoints.set(others.clone());
    until_healthy(
        &Etcdctl::new(others.clone()),
        &["member", "remove", &leader_id],
    )
    .await;
    let exit = cluster.wait_exit(leader, EXIT_TIMEOUT).await.unwrap();
    assert_eq!(exit, Some(0), "a removed member stops cleanly");

    // Shrink to three: remove one more follower.
    let survivors: Vec<usize> = (0..cluster.size()).filter(|&i| i != leader).collect();
    let gone = survivors[survivors.len() - 1];
    let gone_id = if gone == 0 {
        format!("{:x}", member_id(&cluster, 0).await)
    } else {
        ids[&gone].clone()
    };
    let remaining: Vec<usize> = survivors.into_iter().filter(|&i| i != gone).collect();
    let remaining_endpoints: Vec<String> = remaining.iter().map(|&i| cluster.endpoint(i)).collect();
    endpoints.set(remaining_endpoints.clone());
    until_healthy(
        &Etcdctl::new(remaining_endpoints.clone()),
        &["member", "remove", &gone_id],
    )
    .await;
    cluster.wait_exit(gone, EXIT_TIMEOUT).await.unwrap();

    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let written = acked.load(Ordering::Relaxed);
    assert!(written > 0, "the writer got writes through");
    let listed = voters(&cluster, remaining[0]).await;
    assert_eq!(listed.len(), 3, "{listed:?}");

    // Every acknowledged write is on every remaining member.
    let mut client = connect(&remaining_endpoints[0]).await.unwrap();
    let revision = client
        .kv
        .range(RangeRequest {
            key: b"w/".to_vec(),
            range_end: b"w0".to_vec(),
            count_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .header
        .unwrap()
        .revision;
    for endpoint in &remaining_endpoints {
        let mut client = connect(endpoint).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let count = client
                .kv
                .range(RangeRequest {
                    key: b"w/".to_vec(),
                    range_end: b"w0".to_vec(),
                    count_only: true,
                    serializable: true,
                    revision,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().count);
            if let Ok(count) = count
                && count as u64 >= written
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{endpoint} lacks acknowledged writes: {count:?} < {written}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // A removed member started again stops by itself, without ever serving.
    cluster.start_with_env(gone, &[]).unwrap();
    let code = cluster.wait_exit(gone, EXIT_TIMEOUT).await.unwrap();
    assert_eq!(code, Some(0), "a removed member stops as removed");
    let log = cluster.member(gone).current_log();
    assert!(
        log.contains("permanently removed from the cluster"),
        "{log}"
    );
    assert!(
        !log.contains(oxcd_tests::member::READY_LOG_LINE),
        "a removed member must not serve: {log}"
    );
}

/// With `--auto-promote-learners` (an oxcd extension) the leader promotes a learner by itself
/// once the learner has caught up, and not before: while it has not started it stays a learner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_promotes_a_caught_up_learner_when_asked_to_at_start() {
    let spec = ClusterSpec::new(Server::Oxcd, 1)
        .names(["m1"])
        .args(["--auto-promote-learners"]);
    let mut cluster = Cluster::start(spec).await.expect("cluster starts");
    let mut client = connect(&cluster.endpoint(0)).await.expect("connect");
    for n in 0..500 {
        client
            .put(&format!("k/{n:04}"), &"v".repeat(100), 0)
            .await
            .expect("put");
    }
    let m2 = cluster.new_member("m2").expect("m2");
    let via = Etcdctl::new([cluster.endpoint(0)]);
    let peer = cluster.member(m2).config().peer_url();
    let (id, initial) = via
        .ok(&["member", "add", "m2", "--learner", "--peer-urls", &peer])
        .await
        .unwrap()
        .added_member()
        .expect("member add prints the id and the initial cluster");

    let id = u64::from_str_radix(&id, 16).expect("hex id");
    let m1 = cluster.endpoint(0);
    let is_learner = async || {
        let members = connect(&m1).await.unwrap().members().await.unwrap();
        members.iter().find(|m| m.id == id).map(|m| m.is_learner)
    };
    // Three of the promoter's rounds: a learner that has not started has not caught up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(is_learner().await, Some(true));

    cluster.join(m2, &initial).await.expect("m2 joins");
    let deadline = tokio::time::Instant::now() + PROMOTE_TIMEOUT;
    while is_learner().await != Some(false) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "m2 was never promoted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let on_m2 = Etcdctl::new([cluster.endpoint(m2)]);
    on_m2.ok(&["put", "after", "promotion"]).await.unwrap();
    assert_eq!(
        promotion_metrics(&cluster.endpoint(0)),
        ["etcd_server_learner_promote_successes 1"],
        "one promotion, no failure counted for the rounds that passed m2 over"
    );
}
