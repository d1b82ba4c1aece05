//! bcrypt for passwords, kept off the async threads and bounded: hashing a new password at
//! `--bcrypt-cost` and comparing one given to `Authenticate` each take tens of milliseconds
//! of CPU, so they run on blocking threads, and at most one per spare core at a time. A flood
//! of `Authenticate` calls then queues here instead of taking every core from the requests
//! that do not need bcrypt.

use tokio::sync::Semaphore;

use oxcd_api::EtcdError;

/// The member's password hasher and checker.
pub(crate) struct Passwords {
    cost: u32,
    slots: Semaphore,
}

/// bcrypt's smallest and largest costs; Go hashes at its default cost below the smallest.
const MIN_COST: u32 = 4;
const MAX_COST: u32 = 31;
const DEFAULT_COST: u32 = 10;

impl Passwords {
    /// Hashes at `cost` (`--bcrypt-cost`; below bcrypt's minimum, at Go's default), running as many bcrypt computations at once as there are cores but
    /// one (at least one).
    pub(crate) fn new(cost: u32) -> Passwords {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Passwords {
            cost: if cost < MIN_COST { DEFAULT_COST } else { cost },
            slots: Semaphore::new(cores.saturating_sub(1).max(1)),
        }
    }

    /// The bcrypt hash of `password`; an error in Go's words for a cost bcrypt does not take.
    pub(crate) async fn hash(&self, password: String) -> Result<String, tonic::Status> {
        let cost = self.cost;
        if cost > MAX_COST {
            let text = format!(
                "crypto/bcrypt: cost {cost} is outside allowed range ({MIN_COST},{MAX_COST})"
            );
            tracing::error!(error = %text, "failed to bcrypt hash password");
            return Err(tonic::Status::unknown(text));
        }
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| {
                tracing::error!(error = %e, "failed to bcrypt hash password");
                tonic::Status::unknown(e.to_string())
            })
    }

    /// Whether `password` matches the stored bcrypt `hash` (Go's `$2a$` hashes included).
    pub(crate) async fn matches(&self, password: String, hash: Vec<u8>) -> Result<bool, EtcdError> {
        self.run(move || {
            std::str::from_utf8(&hash)
                .ok()
                .and_then(|hash| bcrypt::verify(password, hash).ok())
                .unwrap_or(false)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EtcdError> {
        let _slot = self.slots.acquire().await.map_err(|_| EtcdError::Stopped)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| EtcdError::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_match_their_password_only() {
        let passwords = Passwords::new(4);
        let hash = passwords.hash("secret".into()).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        let too_costly = Passwords::new(32).hash("x".into()).await.unwrap_err();
        assert_eq!(
            too_costly.message(),
            "crypto/bcrypt: cost 32 is outside allowed range (4,31)"
        );
        assert!(
            passwords
                .matches("secret".into(), hash.clone().into_bytes())
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .matches("Secret".into(), hash.into_bytes())
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .matches("x".into(), b"not a hash".to_vec())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn gos_version_tag_is_understood() {
        // Go's bcrypt writes `$2a$`, the same algorithm as the `$2b$` hashes made here; a
        // backend restored from etcd holds such hashes.
        let passwords = Passwords::new(4);
        let hash = passwords.hash("pass".into()).await.unwrap();
        let go = hash.replacen("$2b$", "$2a$", 1);
        assert!(go.starts_with("$2a$04$"));
        assert!(
            passwords
                .matches("pass".into(), go.clone().into_bytes())
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .matches("wrong".into(), go.into_bytes())
                .await
                .unwrap()
        );
    }
}
