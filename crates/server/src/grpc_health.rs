//! The gRPC health service (`grpc.health.v1.Health`) of the client port. Its status for ""
//! (every service) tells the truth, where etcd 3.5 always says SERVING: SERVING while this
//! member knows a leader, NOT_SERVING without one and from the moment the member is stopping,
//! so a load balancer's health watch moves clients off it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

/// Every service at once, as etcd registers its status.
const ALL_SERVICES: &str = "";

/// The status the health service reports, and whether the member is stopping.
pub(crate) struct GrpcHealth {
    reporter: HealthReporter,
    stopping: AtomicBool,
}

impl Default for GrpcHealth {
    fn default() -> Self {
        GrpcHealth {
            reporter: HealthReporter::new(),
            stopping: AtomicBool::new(false),
        }
    }
}

impl GrpcHealth {
    /// The service, answering with this status.
    pub(crate) fn service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService::from_health_reporter(self.reporter.clone()))
    }

    /// From now on NOT_SERVING, whatever the leader.
    pub(crate) async fn stopping(&self) {
        self.stopping.store(true, Ordering::Release);
        self.report(false).await;
    }

    async fn report(&self, serving: bool) {
        let status = if serving && !self.stopping.load(Ordering::Acquire) {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status(ALL_SERVICES, status).await;
    }
}

/// Keeps `health` in step with whether the member knows a leader (`leader`: its id, 0 for
/// none), until the member stops.
pub(crate) fn follow_leader(health: Arc<GrpcHealth>, mut leader: watch::Receiver<u64>) {
    tokio::spawn(async move {
        loop {
            let known = *leader.borrow_and_update() != 0;
            health.report(known).await;
            if leader.changed().await.is_err() {
                return;
            }
        }
    });
}
