//! The plain-HTTP endpoints served next to gRPC on every client listener: the probes (`/health`,
//! `/livez`, `/readyz`: `probes.rs`), `/version` and `/metrics` (`/metrics` and `/health` also
//! served alone on `--listen-metrics-urls`, see `serve.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::metrics::{self, Snapshot};
use crate::probes;
use crate::server::EtcdServer;
use crate::version::{CLUSTER_VERSION, SERVER_VERSION};

/// The HTTP routes of a client listener.
pub(crate) fn routes(server: Arc<EtcdServer>) -> Router {
    probes::routes()
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .with_state(server)
}

/// The routes of a `--listen-metrics-urls` listener: `/metrics` and `/health`, as etcd serves
/// there.
pub(crate) fn metrics_routes(server: Arc<EtcdServer>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", any(probes::health))
        .with_state(server)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
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
        auth_revision: server.state().auth().status().1,
        open_read_transactions: backend.open_read_transactions(),
    })
}
