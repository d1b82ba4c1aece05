//! Fail stop: a member that cannot go on ends the process with a fatal log line saying why,
//! so a supervisor (systemd, `oxadm`) restarts it and it recovers from what is durable —
//! never half-alive (voting without applying, serving frozen reads).
//!
//! Two ways in: a panic on any thread or task (the hook installed here, as an unrecovered
//! panic ends a Go program), and an unrecoverable error ending a long-lived loop (raft's
//! ready loop through [`oxcd_raft::RaftHandle::failed`], the apply thread through
//! [`oxcd_etcd_compat::logging::fatal`]).

use std::cell::RefCell;
use std::panic::PanicHookInfo;

use oxcd_etcd_compat::logging::{self, Field};

/// Exit status after a panic: Go's, which etcd's supervisors already expect from a crash.
const PANIC_EXIT_CODE: i32 = 2;

thread_local! {
    /// What this thread is doing, named by [`doing`].
    static DOING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Names what this thread is doing until the returned guard drops, for the fatal line of a
/// panic meanwhile: a storage engine that panics on a damaged file does not say which file.
pub fn doing(what: impl Into<String>) -> Doing {
    DOING.with(|doing| *doing.borrow_mut() = Some(what.into()));
    Doing(())
}

/// Clears what [`doing`] named when dropped.
pub struct Doing(());

impl Drop for Doing {
    fn drop(&mut self) {
        DOING.with(|doing| *doing.borrow_mut() = None);
    }
}

/// Makes every panic, on any thread or tokio task, end the process after one fatal line
/// naming the thread, the message and where it happened. Tokio would otherwise catch a
/// task's panic and the thread's siblings would go on without it.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let mut fields = vec![
            Field::str("thread", thread.name().unwrap_or("unnamed")),
            Field::str("panic", panic_message(info)),
        ];
        if let Some(what) = DOING.with(|doing| doing.borrow().clone()) {
            fields.push(Field::str("while", what));
        }
        if let Some(location) = info.location() {
            fields.push(Field::str(
                "location",
                format!("{}:{}", location.file(), location.line()),
            ));
        }
        fields.push(Field::str(
            "stacktrace",
            std::backtrace::Backtrace::force_capture().to_string(),
        ));
        logging::fatal_with_code("panic; stopping the member", fields, PANIC_EXIT_CODE);
    }));
}

/// Arms the crash points named in the `FAILPOINTS` variable (`name=action;...`, the `fail`
/// crate's syntax, e.g. `raftAfterSave=panic`) for as long as the returned scenario lives.
/// A binary built without the `failpoints` feature has no crash points, so it refuses the
/// variable rather than run a test that cannot crash where it asked.
pub fn arm_crash_points() -> fail::FailScenario<'static> {
    if !cfg!(feature = "failpoints") && std::env::var_os("FAILPOINTS").is_some() {
        logging::fatal(
            "FAILPOINTS is set, but this oxcd was built without crash points (build it with --features failpoints)",
            Vec::new(),
        );
    }
    fail::FailScenario::setup()
}

/// The crash-point control routes of a build with crash points, on the client port (what
/// etcd's gofail serves on its own address): `PUT /debug/failpoints/{name}` with the action as
/// body arms a point on the running member, `DELETE` disarms it, `GET /debug/failpoints`
/// lists the armed ones. A build without crash points has no such routes.
pub fn control_routes() -> axum::Router {
    #[cfg(feature = "failpoints")]
    {
        crash_point_control::routes()
    }
    #[cfg(not(feature = "failpoints"))]
    {
        axum::Router::new()
    }
}

#[cfg(feature = "failpoints")]
mod crash_point_control {
    use axum::Router;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, put};

    pub(super) fn routes() -> Router {
        Router::new()
            .route("/debug/failpoints", get(list))
            .route("/debug/failpoints/{name}", put(arm).delete(disarm))
    }

    async fn list() -> String {
        fail::list()
            .into_iter()
            .map(|(name, actions)| format!("{name}={actions}\n"))
            .collect()
    }

    async fn arm(Path(name): Path<String>, actions: String) -> (StatusCode, String) {
        match fail::cfg(name.clone(), actions.trim()) {
            Ok(()) => {
                tracing::warn!(crash_point = %name, actions = %actions.trim(), "armed a crash point");
                (StatusCode::NO_CONTENT, String::new())
            }
            Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
        }
    }

    async fn disarm(Path(name): Path<String>) -> StatusCode {
        fail::remove(name);
        StatusCode::NO_CONTENT
    }
}

/// The text a panic was raised with (`panic!("...")`, `expect`, an index out of bounds).
fn panic_message(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_of_both_payload_kinds_are_read() {
        let caught = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = caught.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            sink.lock().unwrap().push(panic_message(info));
        }));
        let _ = std::panic::catch_unwind(|| panic!("static text"));
        let n = 7;
        let _ = std::panic::catch_unwind(|| panic!("formatted {n}"));
        std::panic::set_hook(previous);
        assert_eq!(
            *caught.lock().unwrap(),
            vec!["static text".to_string(), "formatted 7".to_string()]
        );
    }
}
