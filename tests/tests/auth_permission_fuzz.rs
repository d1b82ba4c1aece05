//! Permission decisions against a reference model: random roles with random read, write and
//! read-write permissions on keys, ranges, prefixes and from-keys, random users holding random
//! roles, then a seeded stream of requests of every kind from every user — ranges, puts,
//! deletes (with and without previous values), txns mixing allowed and denied keys in their
//! compares and both branches (nested too), watches over ranges that cross permissions — with
//! permissions granted and revoked along the way. Every decision must be the model's: refused
//! with "permission denied" exactly when the model says some key is outside the user's
//! permissions; and what is stored at the end is what the allowed writes wrote, so no request
//! changed a key outside its permissions.
//!
//! The model is written independently of the server: a permission is an interval of keys (a
//! key alone is `[key, key + "\0")`, a from-key permission has no end), and a request is allowed
//! when the union of the user's intervals of the needed kind covers every key it touches.
//! Nested txns are checked as etcd's later releases check them, so this runs against oxcd
//! (`OXT_SEED` replays a run).

use std::collections::BTreeMap;

use oxcd_api::authpb::{Permission, permission};
use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::etcdserverpb::{
    AuthEnableRequest, AuthRoleAddRequest, AuthRoleGrantPermissionRequest,
    AuthRoleRevokePermissionRequest, AuthUserAddRequest, AuthUserGrantRoleRequest,
    AuthenticateRequest, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest, request_op,
};
use oxcd_testkit::rng::{SeededRng, seed_from_env};
use oxcd_tests::grpc::{Clients, connect, first_watch_answer, with_token};
use oxcd_tests::{Cluster, ClusterSpec, Server};

/// Requests sent in one run.
const REQUESTS: usize = 400;
const USERS: [&str; 3] = ["u0", "u1", "u2"];
const ROLES: [&str; 3] = ["r0", "r1", "r2"];
/// The key space: short keys over a small alphabet, so that permissions and requests overlap.
const LETTERS: &[u8] = b"abc";

/// An end of a key interval: a key, or past every key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Key(Vec<u8>),
    Infinity,
}

/// The keys `[key, range_end)` as etcd reads a request's or a permission's range.
fn interval(key: &[u8], range_end: &[u8]) -> (Vec<u8>, End) {
    match range_end {
        [] => {
            let mut next = key.to_vec();
            next.push(0);
            (key.to_vec(), End::Key(next))
        }
        [0] => (key.to_vec(), End::Infinity),
        end => (key.to_vec(), End::Key(end.to_vec())),
    }
}

/// Whether the union of `granted` covers all of `wanted` (an empty range covers nothing and
/// needs nothing).
fn covers(granted: &[(Vec<u8>, End)], wanted: &(Vec<u8>, End)) -> bool {
    let (start, end) = wanted;
    if let End::Key(end) = end
        && end <= start
    {
        return true;
    }
    let mut sorted = granted.to_vec();
    sorted.sort();
    let mut reached = End::Key(start.clone());
    for (from, to) in sorted {
        if End::Key(from) <= reached && to > reached {
            reached = to;
        }
    }
    reached >= *end
}

/// The model: each role's permissions and each user's roles.
#[derive(Default)]
struct Model {
    roles: BTreeMap<&'static str, Vec<Permission>>,
    users: BTreeMap<&'static str, Vec<&'static str>>,
}

impl Model {
    fn may(&self, user: &str, read: bool, key: &[u8], range_end: &[u8]) -> bool {
        let granted: Vec<(Vec<u8>, End)> = self.users[user]
            .iter()
            .flat_map(|role| &self.roles[role])
            .filter(|p| {
                let kind = permission::Type::try_from(p.perm_type).unwrap();
                kind == permission::Type::Readwrite
                    || (read && kind == permission::Type::Read)
                    || (!read && kind == permission::Type::Write)
            })
            .map(|p| interval(&p.key, &p.range_end))
            .collect();
        covers(&granted, &interval(key, range_end))
    }

    fn may_txn(&self, user: &str, txn: &TxnRequest) -> bool {
        txn.compare
            .iter()
            .all(|c| self.may(user, true, &c.key, &c.range_end))
            && txn
                .success
                .iter()
                .chain(&txn.failure)
                .all(|op| match &op.request {
                    Some(request_op::Request::RequestRange(r)) => {
                        self.may(user, true, &r.key, &r.range_end)
                    }
                    Some(request_op::Request::RequestPut(p)) => self.may(user, false, &p.key, &[]),
                    Some(request_op::Request::RequestDeleteRange(d)) => {
                        self.may(user, false, &d.key, &d.range_end)
                            && (!d.prev_kv || self.may(user, true, &d.key, &d.range_end))
                    }
                    Some(request_op::Request::RequestTxn(t)) => self.may_txn(user, t),
                    None => true,
                })
    }
}

fn key(rng: &mut SeededRng) -> Vec<u8> {
    let len = 1 + rng.index(2);
    (0..len).map(|_| *rng.pick(LETTERS)).collect()
}

/// A random range end for `key`: none, a later key, a prefix's end, or from the key on.
fn range_end(rng: &mut SeededRng, key: &[u8]) -> Vec<u8> {
    match rng.index(4) {
        0 => Vec::new(),
        1 => {
            let mut end = key.to_vec();
            *end.last_mut().unwrap() += 1;
            end
        }
        2 => vec![0],
        _ => {
            let other = self::key(rng);
            if other > key.to_vec() {
                other
            } else {
                Vec::new()
            }
        }
    }
}

fn random_permission(rng: &mut SeededRng) -> Permission {
    let key = key(rng);
    let kind = *rng.pick(&[
        permission::Type::Read,
        permission::Type::Write,
        permission::Type::Readwrite,
    ]);
    Permission {
        perm_type: kind as i32,
        range_end: range_end(rng, &key),
        key,
    }
}

fn op(request: request_op::Request) -> RequestOp {
    RequestOp {
        request: Some(request),
    }
}

fn random_op(rng: &mut SeededRng, depth: usize) -> RequestOp {
    let k = key(rng);
    match rng.index(if depth == 0 { 4 } else { 3 }) {
        0 => op(request_op::Request::RequestRange(RangeRequest {
            range_end: range_end(rng, &k),
            key: k,
            ..Default::default()
        })),
        1 => op(request_op::Request::RequestPut(PutRequest {
            key: k,
            value: b"t".to_vec(),
            ..Default::default()
        })),
        2 => op(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                range_end: range_end(rng, &k),
                key: k,
                prev_kv: rng.percent(30),
            },
        )),
        _ => op(request_op::Request::RequestTxn(random_txn(rng, depth + 1))),
    }
}

fn random_txn(rng: &mut SeededRng, depth: usize) -> TxnRequest {
    let compares = rng.index(3);
    let compare = (0..compares)
        .map(|_| {
            let k = key(rng);
            Compare {
                result: CompareResult::Greater as i32,
                target: CompareTarget::Version as i32,
                range_end: range_end(rng, &k),
                key: k,
                target_union: Some(TargetUnion::Version(0)),
            }
        })
        .collect();
    let ops = |rng: &mut SeededRng| (0..rng.index(3)).map(|_| random_op(rng, depth)).collect();
    TxnRequest {
        compare,
        success: ops(rng),
        failure: ops(rng),
    }
}

/// Whether an answer was a permission refusal; any other error fails the test.
fn refused<T>(answer: Result<T, tonic::Status>, what: &str) -> bool {
    match answer {
        Ok(_) => false,
        Err(status) if status.code() == tonic::Code::PermissionDenied => true,
        Err(status) => panic!("{what}: unexpected error {status:?}"),
    }
}

async fn watch_refused(c: &mut Clients, token: &str, key: Vec<u8>, range_end: Vec<u8>) -> bool {
    let first = first_watch_answer(c, token, &key, &range_end)
        .await
        .unwrap();
    assert!(first.created, "{first:?}");
    first.canceled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_decisions_match_the_model() {
    let seed = seed_from_env(0x0a07_4f22).unwrap();
    let mut rng = SeededRng::new(seed);
    let cluster = Cluster::start(
        ClusterSpec::new(Server::from_env().unwrap(), 1).args(["--bcrypt-cost", "4"]),
    )
    .await
    .unwrap();
    let mut c = connect(&cluster.member(0).client_url()).await.unwrap();
    let mut model = Model::default();

    let add_user = |name: &str| AuthUserAddRequest {
        name: name.into(),
        password: "pw".into(),
        ..Default::default()
    };
    c.auth.user_add(add_user("root")).await.unwrap();
    c.auth
        .user_grant_role(AuthUserGrantRoleRequest {
            user: "root".into(),
            role: "root".into(),
        })
        .await
        .unwrap();
    for role in ROLES {
        c.auth
            .role_add(AuthRoleAddRequest { name: role.into() })
            .await
            .unwrap();
        model.roles.insert(role, Vec::new());
    }
    for user in USERS {
        c.auth.user_add(add_user(user)).await.unwrap();
        let held: Vec<&'static str> = ROLES.iter().copied().filter(|_| rng.percent(50)).collect();
        for role in &held {
            c.auth
                .user_grant_role(AuthUserGrantRoleRequest {
                    user: user.into(),
                    role: (*role).into(),
                })
                .await
                .unwrap();
        }
        model.users.insert(user, held);
    }
    c.auth.auth_enable(AuthEnableRequest {}).await.unwrap();
    let mut tokens = BTreeMap::new();
    for user in USERS.into_iter().chain(["root"]) {
        let token = c
            .auth
            .authenticate(AuthenticateRequest {
                name: user.into(),
                password: "pw".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .token;
        tokens.insert(user, token);
    }
    let root = tokens["root"].clone();

    let mut stored: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let (mut allowed, mut denied) = (0, 0);
    for step in 0..REQUESTS {
        // Now and then the permissions change, for tokens already handed out.
        if rng.percent(10) {
            let role = *rng.pick(&ROLES);
            let granted = &model.roles[role];
            if !granted.is_empty() && rng.percent(40) {
                let perm = granted[rng.index(granted.len())].clone();
                c.auth
                    .role_revoke_permission(with_token(
                        AuthRoleRevokePermissionRequest {
                            role: role.into(),
                            key: perm.key.clone(),
                            range_end: perm.range_end.clone(),
                        },
                        &root,
                    ))
                    .await
                    .unwrap();
                model
                    .roles
                    .get_mut(role)
                    .unwrap()
                    .retain(|p| (&p.key, &p.range_end) != (&perm.key, &perm.range_end));
            } else {
                let perm = random_permission(&mut rng);
                c.auth
                    .role_grant_permission(with_token(
                        AuthRoleGrantPermissionRequest {
                            name: role.into(),
                            perm: Some(perm.clone()),
                        },
                        &root,
                    ))
                    .await
                    .unwrap();
                let perms = model.roles.get_mut(role).unwrap();
                // Granting the same key and range again replaces its kind, as etcd does.
                perms.retain(|p| (&p.key, &p.range_end) != (&perm.key, &perm.range_end));
                perms.push(perm);
            }
        }
        let user = *rng.pick(&USERS);
        let token = &tokens[user];
        let k = key(&mut rng);
        let (what, expected, actual) = match rng.index(5) {
            0 => {
                let end = range_end(&mut rng, &k);
                let expected = !model.may(user, true, &k, &end);
                let request = RangeRequest {
                    key: k.clone(),
                    range_end: end.clone(),
                    ..Default::default()
                };
                let answer = c.kv.range(with_token(request, token)).await;
                (
                    format!("range {k:?}..{end:?}"),
                    expected,
                    refused(answer, "range"),
                )
            }
            1 => {
                let prev_kv = rng.percent(30);
                let expected = !(model.may(user, false, &k, &[])
                    && (!prev_kv || model.may(user, true, &k, &[])));
                let request = PutRequest {
                    key: k.clone(),
                    value: format!("{step}").into_bytes(),
                    prev_kv,
                    ..Default::default()
                };
                let answer = c.kv.put(with_token(request, token)).await;
                let denied = refused(answer, "put");
                if !denied {
                    stored.insert(k.clone(), format!("{step}").into_bytes());
                }
                (format!("put {k:?} prev_kv {prev_kv}"), expected, denied)
            }
            2 => {
                let end = range_end(&mut rng, &k);
                let prev_kv = rng.percent(30);
                let expected = !(model.may(user, false, &k, &end)
                    && (!prev_kv || model.may(user, true, &k, &end)));
                let request = DeleteRangeRequest {
                    key: k.clone(),
                    range_end: end.clone(),
                    prev_kv,
                };
                let answer = c.kv.delete_range(with_token(request, token)).await;
                let denied = refused(answer, "delete");
                if !denied {
                    let (from, to) = interval(&k, &end);
                    stored.retain(|key, _| !(*key >= from && End::Key(key.clone()) < to));
                }
                (format!("delete {k:?}..{end:?}"), expected, denied)
            }
            3 => {
                let txn = random_txn(&mut rng, 0);
                let expected = !model.may_txn(user, &txn);
                let answer = c.kv.txn(with_token(txn.clone(), token)).await;
                // A txn writing one key twice is invalid before any permission is checked.
                if answer
                    .as_ref()
                    .is_err_and(|s| s.message().contains("duplicate key given in txn request"))
                {
                    continue;
                }
                let denied = refused(answer, "txn");
                if !denied {
                    // The txn's writes are not modelled: read back the store as it is.
                    stored = read_all(&mut c, &root).await;
                }
                (format!("txn {txn:?}"), expected, denied)
            }
            _ => {
                let end = range_end(&mut rng, &k);
                let expected = !model.may(user, true, &k, &end);
                let denied = watch_refused(&mut c, token, k.clone(), end.clone()).await;
                (format!("watch {k:?}..{end:?}"), expected, denied)
            }
        };
        if actual {
            denied += 1;
        } else {
            allowed += 1;
        }
        if expected != actual {
            mismatches.push(format!(
                "step {step}: {user} {what}: model says denied={expected}, server denied={actual}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "seed {seed:#x}: {} decisions differ from the model:\n{}\nroles: {:?}\nusers: {:?}",
        mismatches.len(),
        mismatches.join("\n"),
        model.roles,
        model.users
    );
    assert!(
        allowed >= REQUESTS / 10 && denied >= REQUESTS / 10,
        "seed {seed:#x}: a run must exercise both decisions ({allowed} allowed, {denied} denied)"
    );
    assert_eq!(
        read_all(&mut c, &root).await,
        stored,
        "seed {seed:#x}: the store holds exactly what the allowed writes wrote"
    );
}

/// Every key and value, read as root.
async fn read_all(c: &mut Clients, root: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let request = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    c.kv.range(with_token(request, root))
        .await
        .unwrap()
        .into_inner()
        .kvs
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect()
}
