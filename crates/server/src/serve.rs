//! Client listeners: gRPC and plain HTTP share each listener (HTTP/2 for gRPC, HTTP/1.1 for
//! `/health` and friends), as on etcd's client port.

use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::server::EtcdServer;
use crate::{grpc, http};

/// Serves every client listener until they fail; returns the first listener error.
pub async fn serve_clients(
    listeners: Vec<std::net::TcpListener>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let app = grpc::routes(server.clone())
        .into_axum_router()
        .merge(http::routes(server));
    let mut tasks = JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
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
