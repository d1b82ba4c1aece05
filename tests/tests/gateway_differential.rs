//! The JSON gateway compared with etcd 3.5.1's: one script of HTTP requests runs against a
//! one-member etcd and a one-member cluster of the server under test, and every answer (HTTP
//! status, content type, the JSON with member-specific fields masked) goes into a transcript;
//! the transcripts must be equal. It covers every route etcd 3.5 serves (and the CORS headers of
//! etcd's default `--cors=*`) — kv, lease (also under
//! `/v3/kv/lease/`), watch and keep-alive streams, cluster, maintenance (snapshot as a stream),
//! auth with the `Authorization` header, lock and election — with `/v3beta/`, bad JSON, unknown
//! fields, wrong methods and unknown paths. `Downgrade` is left out: oxcd refuses it (README,
//! "Not yet").

use std::time::Duration;

use oxcd_tests::http_json::{Lines, Post};
use oxcd_tests::{Cluster, ClusterSpec, Server};
use serde_json::Value;

/// How long a stream may take to show its next line.
const LINE_WAIT: Duration = Duration::from_secs(10);

/// Fields whose values differ between two clusters holding the same data.
const MEMBER_SPECIFIC: [&str; 11] = [
    "cluster_id",
    "member_id",
    "raft_term",
    "leader",
    "hash",
    "dbSize",
    "dbSizeInUse",
    "raftIndex",
    "raftAppliedIndex",
    "raftTerm",
    "token",
];

/// Also masked in membership answers: member ids and URLs are the cluster's own.
const MEMBERSHIP: [&str; 3] = ["ID", "peerURLs", "clientURLs"];

fn mask(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if keys.contains(&key.as_str()) {
                    *field = Value::String("<masked>".into());
                } else {
                    mask(field, keys);
                }
                // Members are listed in the order of their ids, which are the cluster's own.
                if key == "members"
                    && let Value::Array(members) = field
                {
                    members.sort_by_key(Value::to_string);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask(item, keys)),
        _ => {}
    }
}

/// A body for the transcript: JSON masked (and re-serialized, so the same JSON compares equal
/// however its keys were ordered), anything else as it is.
fn shown_body(body: &str, keys: &[&str]) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(mut json) => {
            mask(&mut json, keys);
            json.to_string()
        }
        Err(_) => body.to_owned(),
    }
}

/// Runs the script against the member serving on `port`.
struct Script {
    port: u16,
    out: Vec<String>,
}

impl Script {
    /// POSTs `body` to `path`, notes the answer under `label`, returns its JSON.
    async fn call(&mut self, label: &str, path: &str, body: &str) -> Value {
        self.call_with(label, Post::new(self.port, path, body), &[])
            .await
    }

    async fn call_with(&mut self, label: &str, post: Post<'_>, extra_mask: &[&str]) -> Value {
        let answer = post.answer().await.unwrap();
        let keys: Vec<&str> = MEMBER_SPECIFIC.iter().chain(extra_mask).copied().collect();
        self.out.push(format!(
            "{label}: {} {} origins {:?} {}",
            answer.status,
            answer.content_type,
            answer.allowed_origin,
            shown_body(&answer.body, &keys)
        ));
        serde_json::from_str(&answer.body).unwrap_or(Value::Null)
    }

    /// Opens a streamed answer and notes its status.
    async fn open(&mut self, label: &str, path: &str, body: &str) -> Lines {
        let (status, lines) = Post::new(self.port, path, body).stream().await.unwrap();
        self.out.push(format!("{label}: {status}"));
        lines
    }

    /// Notes the next line of a stream (`end` when it ended).
    async fn line(&mut self, label: &str, lines: &mut Lines) {
        let line = lines.next(LINE_WAIT).await.unwrap();
        let shown = line.map_or("end".to_owned(), |l| shown_body(&l, &MEMBER_SPECIFIC));
        self.out.push(format!("{label}: {shown}"));
    }
}

async fn kv(s: &mut Script) {
    s.call("put", "/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#)
        .await;
    s.call("range", "/v3/kv/range", r#"{"key":"Zm9v"}"#).await;
    s.call("range missing", "/v3/kv/range", r#"{"key":"bm8="}"#)
        .await;
    s.call(
        "range camelCase",
        "/v3/kv/range",
        r#"{"key":"Zm9v","countOnly":true}"#,
    )
    .await;
    s.call(
        "range unknown field",
        "/v3/kv/range",
        r#"{"key":"Zm9v","bogus":1}"#,
    )
    .await;
    s.call("range cut JSON", "/v3/kv/range", r#"{"key":"#).await;
    s.call("range empty body", "/v3/kv/range", "").await;
    s.call("put without key", "/v3/kv/put", r#"{"value":"YmFy"}"#)
        .await;
    s.call(
        "range future revision",
        "/v3/kv/range",
        r#"{"key":"Zm9v","revision":"100"}"#,
    )
    .await;
    s.call(
        "range revision as number",
        "/v3/kv/range",
        r#"{"key":"Zm9v","revision":1}"#,
    )
    .await;
    s.call("put a", "/v3/kv/put", r#"{"key":"YQ==","value":"MQ=="}"#)
        .await;
    s.call(
        "txn success",
        "/v3/kv/txn",
        r#"{"compare":[{"key":"YQ==","result":"EQUAL","target":"VALUE","value":"MQ=="}],
            "success":[{"request_range":{"key":"YQ=="}},{"request_put":{"key":"Yg==","value":"Mg==","prev_kv":true}}],
            "failure":[{"request_delete_range":{"key":"YQ=="}}]}"#,
    )
    .await;
    s.call(
        "txn failure, nested txn",
        "/v3/kv/txn",
        r#"{"compare":[{"key":"YQ==","result":"GREATER","target":"CREATE","create_revision":"100"}],
            "failure":[{"request_txn":{}}]}"#,
    )
    .await;
    s.call(
        "deleterange prev_kv",
        "/v3/kv/deleterange",
        r#"{"key":"Zm9v","prev_kv":true}"#,
    )
    .await;
    s.call("compaction", "/v3/kv/compaction", r#"{"revision":"3"}"#)
        .await;
    s.call(
        "compaction again",
        "/v3/kv/compaction",
        r#"{"revision":"3"}"#,
    )
    .await;
    s.call(
        "range compacted",
        "/v3/kv/range",
        r#"{"key":"YQ==","revision":"2"}"#,
    )
    .await;
    s.call(
        "range sorted by name",
        "/v3/kv/range",
        r#"{"key":"AA==","range_end":"AA==","sort_order":"DESCEND","sort_target":"MOD"}"#,
    )
    .await;
    s.call(
        "range sorted by number",
        "/v3/kv/range",
        r#"{"key":"AA==","range_end":"AA==","sort_order":1,"keys_only":true}"#,
    )
    .await;
    s.call("v3beta", "/v3beta/kv/range", r#"{"key":"YQ=="}"#)
        .await;
    s.call("v3alpha", "/v3alpha/kv/range", r#"{"key":"YQ=="}"#)
        .await;
    s.call("unknown route", "/v3/kv/rangex", "{}").await;
    s.call("hashkv has no route", "/v3/maintenance/hashkv", "{}")
        .await;
    let mut get = Post::new(s.port, "/v3/kv/range", "");
    get.method = "GET";
    s.call_with("GET", get, &[]).await;
    let mut preflight = Post::new(s.port, "/v3/kv/range", "");
    preflight.method = "OPTIONS";
    s.call_with("CORS preflight", preflight, &[]).await;
    let mut health = Post::new(s.port, "/health", "");
    health.method = "GET";
    s.call_with("health", health, &[]).await;
}

async fn lease(s: &mut Script) {
    s.call("grant", "/v3/lease/grant", r#"{"TTL":"60","ID":"4660"}"#)
        .await;
    s.call(
        "grant taken id",
        "/v3/lease/grant",
        r#"{"TTL":60,"ID":4660}"#,
    )
    .await;
    s.call("leases", "/v3/lease/leases", "{}").await;
    s.call("kv/lease/leases", "/v3/kv/lease/leases", "{}").await;
    s.call(
        "put with lease",
        "/v3/kv/put",
        r#"{"key":"bGVhc2Vk","value":"eA==","lease":"4660"}"#,
    )
    .await;
    s.call(
        "timetolive keys",
        "/v3/lease/timetolive",
        r#"{"ID":"4660","keys":true}"#,
    )
    .await;
    s.call(
        "kv/lease/timetolive",
        "/v3/kv/lease/timetolive",
        r#"{"ID":"4660"}"#,
    )
    .await;
    let mut keepalive = s
        .open("keepalive", "/v3/lease/keepalive", r#"{"ID":"4660"}"#)
        .await;
    s.line("keepalive 1", &mut keepalive).await;
    s.line("keepalive 2", &mut keepalive).await;
    let mut empty = s
        .open("keepalive without a request", "/v3/lease/keepalive", "")
        .await;
    s.line("keepalive without a request 1", &mut empty).await;
    s.call("revoke", "/v3/lease/revoke", r#"{"ID":"4660"}"#)
        .await;
    s.call("kv/lease/revoke", "/v3/kv/lease/revoke", r#"{"ID":"4660"}"#)
        .await;
    let mut keepalive = s
        .open(
            "keepalive revoked",
            "/v3/lease/keepalive",
            r#"{"ID":"4660"}"#,
        )
        .await;
    s.line("keepalive revoked 1", &mut keepalive).await;
    s.line("keepalive revoked 2", &mut keepalive).await;
}

async fn watch(s: &mut Script) {
    let mut watch = s
        .open(
            "watch",
            "/v3/watch",
            r#"{"create_request":{"key":"dw==","prev_kv":true}}"#,
        )
        .await;
    s.line("watch created", &mut watch).await;
    s.call("put w", "/v3/kv/put", r#"{"key":"dw==","value":"MQ=="}"#)
        .await;
    s.call(
        "put w again",
        "/v3/kv/put",
        r#"{"key":"dw==","value":"Mg=="}"#,
    )
    .await;
    s.call("delete w", "/v3/kv/deleterange", r#"{"key":"dw=="}"#)
        .await;
    for i in 1..=3 {
        s.line(&format!("watch event {i}"), &mut watch).await;
    }
    drop(watch);
    let mut compacted = s
        .open(
            "watch compacted",
            "/v3/watch",
            r#"{"create_request":{"key":"YQ==","start_revision":"1"}}"#,
        )
        .await;
    s.line("watch compacted 1", &mut compacted).await;
    s.line("watch compacted 2", &mut compacted).await;
    let mut two = s
        .open(
            "watch two requests",
            "/v3/watch",
            r#"{"create_request":{"key":"dw=="}}{"create_request":{"key":"YQ==","watch_id":"7"}}"#,
        )
        .await;
    for i in 1..=2 {
        s.line(&format!("watch two requests {i}"), &mut two).await;
    }
    s.call("watch broken JSON", "/v3/watch", r#"{"bogus"#).await;
}

/// A pause before a membership change that follows another: etcd answers a change once
/// applied but tells raft a moment later, and raft drops a change proposed while the last is
/// not reported applied (etcd then waits until the request times out).
async fn after_a_membership_change() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

async fn membership(s: &mut Script) {
    let listed = s
        .call_with(
            "member list",
            Post::new(s.port, "/v3/cluster/member/list", "{}"),
            &MEMBERSHIP,
        )
        .await;
    // The member itself, updated to the peer URLs it has: a learner's update is left out, as
    // etcd 3.5.1 drops the learner flag from its answer.
    let own = &listed["members"][0];
    let update = serde_json::json!({"ID": own["ID"], "peerURLs": own["peerURLs"]}).to_string();
    s.call_with(
        "member update",
        Post::new(s.port, "/v3/cluster/member/update", &update),
        &MEMBERSHIP,
    )
    .await;
    after_a_membership_change().await;
    let added = s
        .call_with(
            "member add learner",
            Post::new(
                s.port,
                "/v3/cluster/member/add",
                r#"{"peerURLs":["http://127.0.0.1:1"],"isLearner":true}"#,
            ),
            &MEMBERSHIP,
        )
        .await;
    let id = added["member"]["ID"].as_str().unwrap_or("0").to_owned();
    let by_id = format!(r#"{{"ID":"{id}"}}"#);
    after_a_membership_change().await;
    s.call_with(
        "member promote unready learner",
        Post::new(s.port, "/v3/cluster/member/promote", &by_id),
        &MEMBERSHIP,
    )
    .await;
    after_a_membership_change().await;
    s.call_with(
        "member remove",
        Post::new(s.port, "/v3/cluster/member/remove", &by_id),
        &MEMBERSHIP,
    )
    .await;
    after_a_membership_change().await;
    s.call(
        "member remove unknown",
        "/v3/cluster/member/remove",
        r#"{"ID":"1"}"#,
    )
    .await;
    after_a_membership_change().await;
    s.call(
        "member promote unknown",
        "/v3/cluster/member/promote",
        r#"{"ID":"1"}"#,
    )
    .await;
}

async fn maintenance(s: &mut Script) {
    s.call("status", "/v3/maintenance/status", "{}").await;
    s.call("alarm get", "/v3/maintenance/alarm", r#"{"action":"GET"}"#)
        .await;
    s.call("hash", "/v3/maintenance/hash", "{}").await;
    s.call("defragment", "/v3/maintenance/defragment", "{}")
        .await;
    s.call(
        "transfer to nobody",
        "/v3/maintenance/transfer-leadership",
        r#"{"targetID":"1"}"#,
    )
    .await;
    let (status, mut lines) = Post::new(s.port, "/v3/maintenance/snapshot", "{}")
        .stream()
        .await
        .unwrap();
    // The chunking follows the database's size, which differs: what must hold is that every
    // chunk carries bytes and the last is the 32-byte digest.
    let mut blobs = Vec::new();
    while let Some(line) = lines.next(LINE_WAIT).await.unwrap() {
        let json: Value = serde_json::from_str(&line).unwrap();
        blobs.push(
            json["result"]["blob"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let digest = blobs.last().map(String::len);
    let all_carry_bytes = blobs.iter().all(|b| !b.is_empty());
    s.out.push(format!(
        "snapshot: {status}, every chunk with bytes: {all_carry_bytes}, base64 length of the last: {digest:?}"
    ));
}

async fn auth(s: &mut Script) {
    s.call("auth status", "/v3/auth/status", "{}").await;
    s.call("enable without root", "/v3/auth/enable", "{}").await;
    s.call(
        "user add root",
        "/v3/auth/user/add",
        r#"{"name":"root","password":"rootpw"}"#,
    )
    .await;
    s.call(
        "user add alice",
        "/v3/auth/user/add",
        r#"{"name":"alice","password":"alicepw"}"#,
    )
    .await;
    s.call("role add", "/v3/auth/role/add", r#"{"name":"reader"}"#)
        .await;
    s.call(
        "role grant",
        "/v3/auth/role/grant",
        r#"{"name":"reader","perm":{"permType":"READ","key":"YQ==","range_end":"Yg=="}}"#,
    )
    .await;
    s.call(
        "user grant root",
        "/v3/auth/user/grant",
        r#"{"user":"root","role":"root"}"#,
    )
    .await;
    s.call(
        "user grant alice",
        "/v3/auth/user/grant",
        r#"{"user":"alice","role":"reader"}"#,
    )
    .await;
    s.call("user get", "/v3/auth/user/get", r#"{"name":"alice"}"#)
        .await;
    s.call("role get", "/v3/auth/role/get", r#"{"role":"reader"}"#)
        .await;
    s.call("user list", "/v3/auth/user/list", "{}").await;
    s.call("role list", "/v3/auth/role/list", "{}").await;
    s.call("enable", "/v3/auth/enable", "{}").await;
    s.call("range without token", "/v3/kv/range", r#"{"key":"YQ=="}"#)
        .await;
    s.call(
        "authenticate wrong password",
        "/v3/auth/authenticate",
        r#"{"name":"alice","password":"nope"}"#,
    )
    .await;
    let alice = s
        .call(
            "authenticate alice",
            "/v3/auth/authenticate",
            r#"{"name":"alice","password":"alicepw"}"#,
        )
        .await;
    let alice = alice["token"].as_str().unwrap_or_default().to_owned();
    let range = Post::new(s.port, "/v3/kv/range", r#"{"key":"YQ=="}"#).token(&alice);
    s.call_with("range with token", range, &[]).await;
    let put = Post::new(s.port, "/v3/kv/put", r#"{"key":"YQ==","value":"eA=="}"#).token(&alice);
    s.call_with("put without permission", put, &[]).await;
    let bad = Post::new(s.port, "/v3/kv/range", r#"{"key":"YQ=="}"#).token("not-a-token");
    s.call_with("range with a bad token", bad, &[]).await;
    let root = s
        .call(
            "authenticate root",
            "/v3/auth/authenticate",
            r#"{"name":"root","password":"rootpw"}"#,
        )
        .await;
    let root = root["token"].as_str().unwrap_or_default().to_owned();
    let steps = [
        (
            "user changepw",
            "/v3/auth/user/changepw",
            r#"{"name":"alice","password":"new"}"#,
        ),
        (
            "user revoke",
            "/v3/auth/user/revoke",
            r#"{"name":"alice","role":"reader"}"#,
        ),
        (
            "role revoke",
            "/v3/auth/role/revoke",
            r#"{"role":"reader","key":"YQ==","range_end":"Yg=="}"#,
        ),
        ("user delete", "/v3/auth/user/delete", r#"{"name":"alice"}"#),
        (
            "role delete",
            "/v3/auth/role/delete",
            r#"{"role":"reader"}"#,
        ),
        ("disable", "/v3/auth/disable", "{}"),
    ];
    for (label, path, body) in steps {
        s.call_with(label, Post::new(s.port, path, body).token(&root), &[])
            .await;
    }
    s.call("auth status after", "/v3/auth/status", "{}").await;
}

async fn lock_and_election(s: &mut Script) {
    s.call("grant", "/v3/lease/grant", r#"{"TTL":"60","ID":"4661"}"#)
        .await;
    let locked = s
        .call(
            "lock",
            "/v3/lock/lock",
            r#"{"name":"bG9jaw==","lease":"4661"}"#,
        )
        .await;
    let key = locked["key"].as_str().unwrap_or_default().to_owned();
    s.call(
        "unlock",
        "/v3/lock/unlock",
        &format!(r#"{{"key":"{key}"}}"#),
    )
    .await;
    s.call("unlock without key", "/v3/lock/unlock", "{}").await;
    let campaign = s
        .call(
            "campaign",
            "/v3/election/campaign",
            r#"{"name":"ZWxlY3Rpb24=","lease":"4661","value":"djE="}"#,
        )
        .await;
    let leader = campaign["leader"].to_string();
    s.call(
        "leader",
        "/v3/election/leader",
        r#"{"name":"ZWxlY3Rpb24="}"#,
    )
    .await;
    s.call(
        "proclaim",
        "/v3/election/proclaim",
        &format!(r#"{{"leader":{leader},"value":"djI="}}"#),
    )
    .await;
    s.call("proclaim without leader", "/v3/election/proclaim", "{}")
        .await;
    let mut observe = s
        .open(
            "observe",
            "/v3/election/observe",
            r#"{"name":"ZWxlY3Rpb24="}"#,
        )
        .await;
    s.line("observe 1", &mut observe).await;
    s.call(
        "resign",
        "/v3/election/resign",
        &format!(r#"{{"leader":{leader}}}"#),
    )
    .await;
    s.call(
        "leader after resign",
        "/v3/election/leader",
        r#"{"name":"ZWxlY3Rpb24="}"#,
    )
    .await;
}

async fn transcript(cluster: &Cluster) -> Vec<String> {
    let mut script = Script {
        port: cluster.member(0).config().client_port,
        out: Vec::new(),
    };
    kv(&mut script).await;
    lease(&mut script).await;
    watch(&mut script).await;
    membership(&mut script).await;
    maintenance(&mut script).await;
    auth(&mut script).await;
    lock_and_election(&mut script).await;
    script.out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_gateway_answers_as_etcds_does() {
    let target = Server::from_env().unwrap();
    let (oracle, subject) = tokio::join!(
        Cluster::start(ClusterSpec::new(Server::Etcd, 1).token("oxt-gw-a")),
        Cluster::start(ClusterSpec::new(target, 1).token("oxt-gw-b")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    let (expected, actual) = tokio::join!(transcript(&oracle), transcript(&subject));
    let (expected, actual) = (expected.join("\n"), actual.join("\n"));
    if expected != actual {
        for (e, a) in expected.lines().zip(actual.lines()) {
            if e != a {
                eprintln!("etcd: {e}\nours: {a}\n");
            }
        }
    }
    assert_eq!(expected, actual, "left: etcd 3.5.1, right: {target:?}");
}

/// Both with `--enable-grpc-gateway=false`: no route under `/v3/` (Go's mux answers, as for any
/// unknown path), while gRPC is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_gateway_serves_no_route() {
    let target = Server::from_env().unwrap();
    let off = ["--enable-grpc-gateway=false"];
    let (oracle, subject) = tokio::join!(
        Cluster::start(
            ClusterSpec::new(Server::Etcd, 1)
                .args(off)
                .token("oxt-gw-c")
        ),
        Cluster::start(ClusterSpec::new(target, 1).args(off).token("oxt-gw-d")),
    );
    let (oracle, subject) = (oracle.unwrap(), subject.unwrap());
    for cluster in [&oracle, &subject] {
        let port = cluster.member(0).config().client_port;
        let answer = Post::new(port, "/v3/kv/range", r#"{"key":"YQ=="}"#)
            .answer()
            .await
            .unwrap();
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (404, "404 page not found\n"),
            "{:?}",
            cluster.server()
        );
        let mut clients = oxcd_tests::grpc::connect(&cluster.member(0).client_url())
            .await
            .unwrap();
        clients.put("k", "v", 0).await.unwrap();
    }
}
