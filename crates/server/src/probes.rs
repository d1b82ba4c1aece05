//! The health probes of a client listener, as etcd 3.5 answers them:
//! - `/health`: `{"health":"true","reason":""}`, or 503 naming the first problem — an active
//!   alarm (`ALARM NOSPACE`, `ALARM CORRUPT`) unless `?exclude=` names it, no leader (unless
//!   `?serializable=true`), or a read that fails (`RANGE ERROR:…`; linearizable unless
//!   `?serializable=true`).
//! - `/livez` (a serializable read) and `/readyz` (no CORRUPT alarm, a serializable and a
//!   linearizable read, not a learner): `ok`, each check's line with `?verbose`, every line on
//!   failure; `?exclude=<check>` skips a check, `/readyz/<check>` runs one.
//!
//! Only GET is served (others: 405, as etcd). The gRPC health service's status is
//! `grpc_health.rs`'s.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{AlarmType, RangeRequest};

use crate::go_http;
use crate::server::EtcdServer;

/// One check of `/livez` or `/readyz`, named as etcd names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    DataCorruption,
    SerializableRead,
    LinearizableRead,
    NonLearner,
}

impl Check {
    fn name(self) -> &'static str {
        match self {
            Check::DataCorruption => "data_corruption",
            Check::SerializableRead => "serializable_read",
            Check::LinearizableRead => "linearizable_read",
            Check::NonLearner => "non_learner",
        }
    }

    async fn run(self, server: &EtcdServer) -> Result<(), String> {
        match self {
            Check::DataCorruption if server.state().alarms().is_active(AlarmType::Corrupt) => {
                Err("alarm activated: CORRUPT".to_string())
            }
            Check::DataCorruption => Ok(()),
            Check::SerializableRead => read(server, true).await.map_err(|e| e.to_string()),
            Check::LinearizableRead => read(server, false).await.map_err(|e| e.to_string()),
            Check::NonLearner if server.state().membership().is_local_learner() => {
                Err("not supported for learner".to_string())
            }
            Check::NonLearner => Ok(()),
        }
    }
}

const LIVEZ: &[Check] = &[Check::SerializableRead];
const READYZ: &[Check] = &[
    Check::DataCorruption,
    Check::SerializableRead,
    Check::LinearizableRead,
    Check::NonLearner,
];

/// The probe routes (`/health`, `/livez`, `/readyz` and each check under them).
pub(crate) fn routes() -> Router<Arc<EtcdServer>> {
    let mut router = Router::new()
        .route("/health", any(health))
        .route("/livez", any(|s, r| probe("livez", LIVEZ, s, r)))
        .route("/readyz", any(|s, r| probe("readyz", READYZ, s, r)));
    for (kind, checks) in [("livez", LIVEZ), ("readyz", READYZ)] {
        for check in checks {
            let one: &'static [Check] = std::slice::from_ref(check);
            router = router.route(
                &format!("/{kind}/{}", check.name()),
                any(move |s, r| probe(kind, one, s, r)),
            );
        }
    }
    router
}

/// What the query string asks for.
#[derive(Default)]
struct Query {
    exclude: HashSet<String>,
    serializable: bool,
    verbose: bool,
}

impl Query {
    fn of(request: &Request) -> Query {
        let mut query = Query::default();
        let pairs = request.uri().query().unwrap_or_default();
        for (key, value) in form_urlencoded::parse(pairs.as_bytes()) {
            match &*key {
                "exclude" if !value.is_empty() => {
                    query.exclude.insert(value.into_owned());
                }
                "serializable" => query.serializable = value == "true",
                "verbose" => query.verbose = true,
                _ => {}
            }
        }
        query
    }
}

/// A range through the server as etcd's probes make one (keys only, limit 1), behind a
/// ReadIndex unless `serializable`, bounded by the request timeout.
async fn read(server: &EtcdServer, serializable: bool) -> Result<(), EtcdError> {
    let timeout = server.settings().request_timeout;
    let read = async {
        if !serializable {
            server.read_barrier().await?;
        }
        let request = RangeRequest {
            key: b"health".to_vec(),
            keys_only: true,
            limit: 1,
            serializable,
            ..Default::default()
        };
        server.state().kv().range(&request).map(drop)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(EtcdError::Timeout))
}

/// The first reason `/health` fails, in etcd's words and order.
async fn unhealthy_reason(server: &EtcdServer, query: &Query) -> Option<String> {
    for alarm in server.state().alarms().get(AlarmType::None as i32) {
        let name = crate::alarms::alarm_name(alarm.alarm);
        if query.exclude.contains(name) {
            continue;
        }
        tracing::warn!(alarm = name, "serving /health false due to an alarm");
        return Some(match AlarmType::try_from(alarm.alarm) {
            Ok(AlarmType::Nospace) => "ALARM NOSPACE".to_string(),
            Ok(AlarmType::Corrupt) => "ALARM CORRUPT".to_string(),
            _ => "ALARM UNKNOWN".to_string(),
        });
    }
    if !query.serializable && !server.has_leader() {
        tracing::warn!("serving /health false; no leader");
        return Some("RAFT NO LEADER".to_string());
    }
    if let Err(e) = read(server, query.serializable).await {
        tracing::warn!(error = %e, "serving /health false; Range fails");
        return Some(format!("RANGE ERROR:{e}"));
    }
    None
}

/// `/health`'s answer, its fields in etcd's order.
#[derive(serde::Serialize)]
struct Health<'a> {
    health: &'a str,
    reason: &'a str,
}

/// `GET /health`.
pub(crate) async fn health(State(server): State<Arc<EtcdServer>>, request: Request) -> Response {
    if request.method() != Method::GET {
        return method_not_allowed();
    }
    let query = Query::of(&request);
    let reason = unhealthy_reason(&server, &query).await;
    server.metrics().record_health(reason.is_none());
    let body = serde_json::to_string(&Health {
        health: if reason.is_none() { "true" } else { "false" },
        reason: reason.as_deref().unwrap_or_default(),
    })
    .unwrap_or_default();
    match reason {
        None => go_http::text(StatusCode::OK, body),
        Some(_) => go_http::error(StatusCode::SERVICE_UNAVAILABLE, &body),
    }
}

/// `/livez`, `/readyz` and their checks: each check's line, `ok` at the end.
async fn probe(
    kind: &'static str,
    checks: &'static [Check],
    State(server): State<Arc<EtcdServer>>,
    request: Request,
) -> Response {
    if request.method() != Method::GET {
        return method_not_allowed();
    }
    let query = Query::of(&request);
    let unknown: Vec<&String> = query
        .exclude
        .iter()
        .filter(|name| !checks.iter().any(|c| c.name() == name.as_str()))
        .collect();
    if checks.len() > 1 && !unknown.is_empty() {
        tracing::warn!(missing_health_checks = ?unknown, "some health checks cannot be excluded");
    }
    let mut lines = String::new();
    let mut failed = false;
    for check in checks {
        if checks.len() > 1 && query.exclude.contains(check.name()) {
            continue;
        }
        let outcome = check.run(&server).await;
        server
            .metrics()
            .record_health_check(kind, check.name(), outcome.is_ok());
        match outcome {
            Ok(()) => lines.push_str(&format!("[+]{} ok\n", check.name())),
            Err(e) => {
                failed = true;
                lines.push_str(&format!("[-]{} failed: {e}\n", check.name()));
            }
        }
    }
    if failed {
        tracing::error!(path = %request.uri().path(), reason = %lines, "Health check error");
        return go_http::error(StatusCode::SERVICE_UNAVAILABLE, &lines);
    }
    if !query.verbose {
        lines.clear();
    }
    lines.push_str("ok\n");
    go_http::text(StatusCode::OK, lines)
}

fn method_not_allowed() -> Response {
    let mut response = go_http::error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(uri: &str) -> Query {
        Query::of(
            &Request::builder()
                .uri(uri)
                .body(Default::default())
                .unwrap(),
        )
    }

    #[test]
    fn queries_read_as_etcd_reads_them() {
        let q = query("/health?exclude=NOSPACE&exclude=CORRUPT&exclude=&serializable=true");
        assert_eq!(q.exclude.len(), 2);
        assert!(q.serializable && !q.verbose);
        let q = query("/readyz?verbose&serializable=1");
        assert!(q.verbose && !q.serializable);
    }

    #[test]
    fn every_check_has_its_own_path_name() {
        let names: HashSet<&str> = READYZ.iter().chain(LIVEZ).map(|c| c.name()).collect();
        assert_eq!(names.len(), 4);
    }
}
