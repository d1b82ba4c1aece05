//! SIGINT and SIGTERM as one stream, for the commands that run until interrupted (`lock`,
//! `elect`): once installed, the signals no longer kill oxctl, as Go's `signal.Notify`.

use crate::cli::exit::{CtlError, Stop};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Both interrupting signals.
pub struct Interrupts {
    interrupt: Signal,
    terminate: Signal,
}

impl Interrupts {
    /// Starts catching SIGINT and SIGTERM.
    pub fn install() -> Result<Interrupts, Stop> {
        let catch = |kind| signal(kind).map_err(|e| CtlError::error(e.to_string()));
        Ok(Interrupts {
            interrupt: catch(SignalKind::interrupt())?,
            terminate: catch(SignalKind::terminate())?,
        })
    }

    /// Resolves at the next SIGINT or SIGTERM.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
