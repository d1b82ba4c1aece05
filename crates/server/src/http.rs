//! The plain-HTTP endpoints served next to gRPC on every client listener: `/health` (etcd's JSON
//! health check: no alarm, a leader, and a linearizable read that succeeds), `/livez`, `/readyz`,
//! `/version` and `/metrics` (also served alone on `--listen-metrics-urls`, see `serve.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::{self, Snapshot};
use crate::server::EtcdServer;
use crate::version::{CLUSTER_VERSION, SERVER_VERSION};

/// The HTTP routes of a client listener.
pub(crate) fn routes(server: Arc<EtcdServer>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .with_state(server)
}

/// The routes of a `--listen-metrics-urls` listener: `/metrics` and `/health`, as etcd serves
/// there.
pub(crate) fn metrics_routes(server: Arc<EtcdServer>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(server)
}

/// Why the member is not healthy, in etcd's wording; `None` when healthy.
async fn unhealthy_reason(server: &EtcdServer) -> Option<String> {
    if server.raft().status().leader == 0 {
        return Some("RAFT NO LEADER".to_string());
    }
    match server.read_barrier().await {
        Ok(()) => None,
        Err(e) => Some(format!("RANGE ERROR:{e}")),
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

/// etcd writes `/health` without a content type, so Go's sniffing names it plain text.
fn health_answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `GET /health`: etcd's JSON health check.
async fn health(State(server): State<Arc<EtcdServer>>) -> Response {
    match unhealthy_reason(&server).await {
        None => health_answer(
            StatusCode::OK,
            r#"{"health":"true","reason":""}"#.to_string(),
        ),
        Some(reason) => {
            tracing::warn!(reason = %reason, "serving /health false");
            let body = serde_json::json!({ "health": "false", "reason": reason }).to_string();
            health_answer(StatusCode::SERVICE_UNAVAILABLE, body)
        }
    }
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(server): State<Arc<EtcdServer>>) -> Response {
    match unhealthy_reason(&server).await {
        None => (StatusCode::OK, "ok").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

async fn version() -> Response {
    // etcd's field order, which serde_json's map would sort away.
    let body = format!(r#"{{"etcdserver":"{SERVER_VERSION}","etcdcluster":"{CLUSTER_VERSION}"}}"#);
    json(StatusCode::OK, body)
}

async fn metrics(State(server): State<Arc<EtcdServer>>) -> Response {
    // Reading sizes and /proc touches the file system; keep it off the async workers.
    let body = tokio::task::spawn_blocking(move || scrape(&server)).await;
    match body {
        Ok(body) => ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("collecting metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

/// The text of `GET /metrics`: the member's counters and current state.
fn scrape(server: &EtcdServer) -> String {
    let kv = server.state().kv();
    let backend = kv.backend();
    metrics::render(&Snapshot {
        status: server.raft().status(),
        member_id: server.identity().member_id,
        raft: server.raft().metrics(),
        server: server.metrics(),
        db_size: backend.size(),
        db_size_in_use: backend.size_in_use(),
        keys: kv.indexed_keys(),
        current_revision: kv.current_revision(),
        compact_revision: kv.compact_revision(),
        quota_backend_bytes: server.settings().quota.reported(),
    })
}
