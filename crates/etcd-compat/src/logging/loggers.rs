//! The two loggers etcd writes with while it starts and when it stops: its bootstrap logger
//! and, once configured, the process logger; and the lines both share (notices, `Running: `,
//! start failures).

use std::sync::Arc;

use super::sink::{GLOBAL_SINK, Sink};
use crate::config::{Notice, NoticeStage};
use crate::gotext::zap::{Field, Level, Line, short_caller};

/// The two loggers etcd uses while starting: its bootstrap logger (before logging is
/// configured) and, once it exists, the configured one.
pub(super) struct Loggers<'a> {
    pub(super) bootstrap: &'a Sink,
    pub(super) configured: Option<&'a Sink>,
}

impl Loggers<'_> {
    /// The configured logger if there is one, else the bootstrap logger.
    pub(super) fn current(&self) -> &Sink {
        self.configured.unwrap_or(self.bootstrap)
    }

    pub(super) fn notice(&self, notice: &Notice) {
        let sink = match notice.stage {
            NoticeStage::FlagParsing => self.bootstrap,
            NoticeStage::ConfigLoaded | NoticeStage::Startup => self.current(),
        };
        sink.write(&Line {
            level: notice.level,
            logger: None,
            caller: Some(notice.caller.clone()),
            msg: notice.msg.clone(),
            fields: notice.fields.clone(),
        });
    }

    pub(super) fn line(&self, level: Level, caller: String, msg: &str, fields: Vec<Field>) {
        self.current().write(&Line {
            level,
            logger: None,
            caller: Some(caller),
            msg: msg.to_string(),
            fields,
        });
    }

    /// Notices before `Running: `, the `Running: ` line, then the startup notices.
    pub(super) fn startup(&self, args: &[String], notices: &[Notice]) {
        for stage in [NoticeStage::FlagParsing, NoticeStage::ConfigLoaded] {
            for notice in notices.iter().filter(|n| n.stage == stage) {
                self.notice(notice);
            }
        }
        self.line(
            Level::Info,
            here(),
            "Running: ",
            vec![Field::strings("args", args.to_vec())],
        );
        for notice in notices.iter().filter(|n| n.stage == NoticeStage::Startup) {
            self.notice(notice);
        }
    }

    pub(super) fn start_failure(&self, message: &str) {
        let error = Field::str("error", message);
        self.line(
            Level::Warn,
            here(),
            "failed to start etcd",
            vec![error.clone()],
        );
        self.line(Level::Fatal, here(), "discovery failed", vec![error]);
    }
}

/// Runs `f` with the installed logger (if [`super::init`] ran) and a bootstrap logger.
pub(super) fn with_process_loggers<T>(f: impl FnOnce(&Loggers<'_>) -> T) -> T {
    let bootstrap = Sink::bootstrap();
    let loggers = Loggers {
        bootstrap: &bootstrap,
        configured: GLOBAL_SINK.get().map(Arc::as_ref),
    };
    f(&loggers)
}

#[track_caller]
pub(super) fn here() -> String {
    let location = std::panic::Location::caller();
    short_caller(location.file(), location.line())
}
