//! The plain-HTTP endpoints served next to gRPC on every client listener: `/health` (etcd's JSON
//! health check: no alarm, a leader, and a linearizable read that succeeds), `/livez`, `/readyz`
//! and `/version`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::server::{CLUSTER_VERSION, EtcdServer, SERVER_VERSION};

/// The HTTP routes of a client listener.
pub fn routes(server: Arc<EtcdServer>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
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

/// `GET /health`: etcd's JSON health check.
pub async fn health(State(server): State<Arc<EtcdServer>>) -> Response {
    match unhealthy_reason(&server).await {
        None => json(
            StatusCode::OK,
            r#"{"health":"true","reason":""}"#.to_string(),
        ),
        Some(reason) => {
            tracing::warn!(reason = %reason, "serving /health false");
            let body = serde_json::json!({ "health": "false", "reason": reason }).to_string();
            json(StatusCode::SERVICE_UNAVAILABLE, body)
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
