//! Auth changes through the faults: a client keeps adding and deleting users, granting them
//! roles and granting and revoking a role's permissions, on whichever member answers, while
//! the faults go on (authentication stays off, so the workload's clients are not refused).
//! Afterwards every member must hold the same auth state — revision, users, roles and their
//! permissions — as every member must hold the same keys (etcd once diverged here,
//! etcd-io/etcd#11651).

use std::time::Duration;

use anyhow::Result;
use oxcd_api::authpb::{Permission, permission};
use oxcd_api::etcdserverpb::{
    AuthRoleAddRequest, AuthRoleGetRequest, AuthRoleGrantPermissionRequest, AuthRoleListRequest,
    AuthRoleRevokePermissionRequest, AuthStatusRequest, AuthUserAddRequest, AuthUserDeleteRequest,
    AuthUserGetRequest, AuthUserGrantRoleRequest, AuthUserListRequest,
};
use oxcd_testkit::rng::SeededRng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::grpc::{Clients, connect_with_timeout};
use crate::wait::{self, Attempt};

/// The role whose permissions churn.
const ROLE: &str = "churn";
/// Pause between two changes.
const EVERY: Duration = Duration::from_millis(150);

/// The running churn.
pub struct AuthChurn {
    stop: watch::Sender<bool>,
    task: JoinHandle<usize>,
}

impl AuthChurn {
    /// Starts changing the auth state through `endpoints`, seeded by `seed`.
    pub fn start(endpoints: &[String], seed: u64) -> AuthChurn {
        let (stop, stopped) = watch::channel(false);
        let endpoints = endpoints.to_vec();
        let task = tokio::spawn(churn(endpoints, seed, stopped));
        AuthChurn { stop, task }
    }

    /// Stops, and returns how many changes were acknowledged.
    pub async fn stop(self) -> usize {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or(0)
    }
}

async fn churn(endpoints: Vec<String>, seed: u64, mut stopped: watch::Receiver<bool>) -> usize {
    let mut rng = SeededRng::new(seed ^ 0xa5a5);
    let mut acknowledged = 0;
    let mut step = 0u64;
    while !*stopped.borrow() {
        step += 1;
        let endpoint = rng.pick(&endpoints).clone();
        let Ok(mut c) = connect_with_timeout(&endpoint, Duration::from_secs(2)).await else {
            continue;
        };
        let user = format!("churn-user-{}", rng.index(8));
        let key = format!("churn/{}", rng.index(8)).into_bytes();
        let changed = match step % 5 {
            0 => c
                .auth
                .role_add(AuthRoleAddRequest { name: ROLE.into() })
                .await
                .map(drop),
            1 => c
                .auth
                .user_add(AuthUserAddRequest {
                    name: user,
                    options: Some(oxcd_api::authpb::UserAddOptions { no_password: true }),
                    ..Default::default()
                })
                .await
                .map(drop),
            2 => c
                .auth
                .user_grant_role(AuthUserGrantRoleRequest {
                    user,
                    role: ROLE.into(),
                })
                .await
                .map(drop),
            3 if rng.percent(50) => c
                .auth
                .role_grant_permission(AuthRoleGrantPermissionRequest {
                    name: ROLE.into(),
                    perm: Some(Permission {
                        perm_type: permission::Type::Readwrite as i32,
                        key,
                        range_end: Vec::new(),
                    }),
                })
                .await
                .map(drop),
            3 => c
                .auth
                .role_revoke_permission(AuthRoleRevokePermissionRequest {
                    role: ROLE.into(),
                    key,
                    range_end: Vec::new(),
                })
                .await
                .map(drop),
            _ => c
                .auth
                .user_delete(AuthUserDeleteRequest { name: user })
                .await
                .map(drop),
        };
        // Refusals (a user that exists already, a role not found) change nothing and are
        // fine; only the state at the end is compared.
        if changed.is_ok() {
            acknowledged += 1;
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
    acknowledged
}

/// One member's auth state, as its Auth service tells it.
async fn auth_state(c: &mut Clients) -> Result<String> {
    let status = c.auth.auth_status(AuthStatusRequest {}).await?.into_inner();
    let users = c
        .auth
        .user_list(AuthUserListRequest {})
        .await?
        .into_inner()
        .users;
    let roles = c
        .auth
        .role_list(AuthRoleListRequest {})
        .await?
        .into_inner()
        .roles;
    let mut state = format!(
        "enabled {} revision {}\n",
        status.enabled, status.auth_revision
    );
    for user in users {
        let roles = c
            .auth
            .user_get(AuthUserGetRequest { name: user.clone() })
            .await?
            .into_inner()
            .roles;
        state.push_str(&format!("user {user}: {roles:?}\n"));
    }
    for role in roles {
        let perms = c
            .auth
            .role_get(AuthRoleGetRequest { role: role.clone() })
            .await?
            .into_inner()
            .perm;
        state.push_str(&format!("role {role}: {perms:?}\n"));
    }
    Ok(state)
}

/// Waits until every up member of `cluster` holds the same auth state; returns its revision
/// line.
pub async fn auth_agree(cluster: &Cluster, timeout: Duration) -> Result<String> {
    let endpoints: Vec<String> = cluster
        .up()
        .into_iter()
        .map(|i| cluster.endpoint(i))
        .collect();
    wait::until("the members to agree on the auth state", timeout, || {
        let endpoints = endpoints.clone();
        async move {
            let mut states = Vec::new();
            for endpoint in &endpoints {
                let state = match connect_with_timeout(endpoint, Duration::from_secs(3)).await {
                    Ok(mut c) => auth_state(&mut c).await,
                    Err(e) => Err(e),
                };
                match state {
                    Ok(state) => states.push(state),
                    Err(e) => return Attempt::Retry(format!("{endpoint}: {e:#}")),
                }
            }
            if states.windows(2).all(|w| w[0] == w[1]) {
                Attempt::Done(states[0].lines().next().unwrap_or_default().to_string())
            } else {
                Attempt::Retry(format!("members differ:\n{}", states.join("---\n")))
            }
        }
    })
    .await
}
