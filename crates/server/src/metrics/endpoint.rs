//! Serving the metrics: the `/metrics` route merged into every client listener, and the
//! separate small server on `--listen-metrics-urls` (`/metrics` and `/health`, as etcd serves
//! there).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::text;
use crate::http;
use crate::server::EtcdServer;

/// The `/metrics` route.
pub fn routes(server: Arc<EtcdServer>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(server)
}

async fn metrics(State(server): State<Arc<EtcdServer>>) -> Response {
    // Reading sizes and /proc touches the file system; keep it off the async workers.
    let body = tokio::task::spawn_blocking(move || super::render(&server)).await;
    match body {
        Ok(body) => ([(CONTENT_TYPE, text::CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("collecting metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

/// Serves `/metrics` and `/health` on the `--listen-metrics-urls` listeners until one fails.
pub async fn serve_metrics(
    listeners: Vec<std::net::TcpListener>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let app = routes(server.clone()).merge(
        Router::new()
            .route("/health", get(http::health))
            .with_state(server),
    );
    let mut tasks = JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let app = app.clone();
        tasks.spawn(async move { axum::serve(listener, app).await });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    Ok(())
}
