//! Bounded waiting: every wait in the harness polls a probe until it succeeds, fails for good,
//! or a deadline passes, and a timeout names what was awaited and why the last attempt failed.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// How often probes are retried.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The result of one probe.
pub enum Attempt<T> {
    /// The condition holds; stop waiting.
    Done(T),
    /// Not yet; the text says why (reported if the wait times out).
    Retry(String),
    /// The condition can no longer become true; stop waiting with this error.
    Fail(anyhow::Error),
}

/// Polls `probe` every [`POLL_INTERVAL`] until it returns [`Attempt::Done`] or
/// [`Attempt::Fail`], or `timeout` passes.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let start = Instant::now();
    loop {
        let last = match probe().await {
            Attempt::Done(value) => return Ok(value),
            Attempt::Fail(error) => return Err(error.context(format!("waiting for {what}"))),
            Attempt::Retry(reason) => reason,
        };
        if start.elapsed() >= timeout {
            bail!("timed out after {timeout:?} waiting for {what}; last attempt: {last}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Like [`until`], but every `Err` from the probe means "retry".
pub async fn until_ok<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    until(what, timeout, || {
        let attempt = probe();
        async move {
            match attempt.await {
                Ok(value) => Attempt::Done(value),
                Err(error) => Attempt::Retry(format!("{error:#}")),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_success() {
        let mut calls = 0;
        let value = until_ok("the third call", Duration::from_secs(5), || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { bail!("call {n}") } else { Ok(n) } }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn times_out_with_the_last_reason() {
        let error = until::<(), _, _>("never", Duration::from_millis(250), || async {
            Attempt::Retry("still no".into())
        })
        .await
        .unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("waiting for never"), "{text}");
        assert!(text.contains("still no"), "{text}");
    }

    #[tokio::test]
    async fn stops_at_a_permanent_failure() {
        let start = Instant::now();
        let error = until::<(), _, _>("a dead thing", Duration::from_secs(30), || async {
            Attempt::Fail(anyhow::anyhow!("it exited"))
        })
        .await
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(format!("{error:#}").contains("it exited"));
    }
}
