//! Where zap lines go: a level filter, a timestamp style and the `--log-outputs` writers
//! (stderr, stdout, appended files), plus the process-wide sink [`super::init`] installs.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::config::{LogConfig, LogOutput};
use crate::gotext::io_error::go_io_error_text;
use crate::gotext::zap::{Level, Line, TimeFormat, encode_line};

/// A failure to set up logging.
#[derive(Debug)]
pub enum LoggingError {
    /// An output file could not be opened; the text is zap's (`couldn't open sink "p": ...`).
    OpenSink(String),
    /// A global `tracing` subscriber was already installed.
    AlreadyInitialized,
}

impl fmt::Display for LoggingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoggingError::OpenSink(message) => f.write_str(message),
            LoggingError::AlreadyInitialized => f.write_str("logging is already initialized"),
        }
    }
}

impl std::error::Error for LoggingError {}

/// One destination of a [`Sink`].
enum Writer {
    Stderr,
    Stdout,
    File(File),
    #[cfg(test)]
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl Writer {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Writer::Stderr => io::stderr().lock().write_all(line),
            Writer::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            Writer::File(file) => file.write_all(line),
            #[cfg(test)]
            Writer::Memory(buffer) => {
                buffer
                    .lock()
                    .map_err(|_| io::Error::other("poisoned"))?
                    .extend_from_slice(line);
                Ok(())
            }
        }
    }

    fn sync(&mut self) {
        // Like zap's Sync on exit: best effort, nothing left to report a failure to.
        match self {
            Writer::Stdout => {
                let _ = io::stdout().flush();
            }
            Writer::File(file) => {
                let _ = file.sync_data();
            }
            Writer::Stderr => {}
            #[cfg(test)]
            Writer::Memory(_) => {}
        }
    }
}

/// The destination lines are written to: a level filter, a timestamp style and writers.
pub(super) struct Sink {
    level: Level,
    time: TimeFormat,
    writers: Mutex<Vec<Writer>>,
}

impl Sink {
    pub(super) fn open(cfg: &LogConfig) -> Result<Sink, LoggingError> {
        let mut outputs = cfg.outputs.clone();
        outputs.sort();
        outputs.dedup();
        let mut writers = Vec::with_capacity(outputs.len());
        for output in outputs {
            writers.push(match output {
                LogOutput::Stderr => Writer::Stderr,
                LogOutput::Stdout => Writer::Stdout,
                LogOutput::File(path) => Writer::File(open_append(&path)?),
            });
        }
        Ok(Sink {
            level: cfg.level,
            time: TimeFormat::Iso8601,
            writers: Mutex::new(writers),
        })
    }

    /// A sink writing into `buffer`, for tests that capture lines.
    #[cfg(test)]
    pub(super) fn memory(level: Level, time: TimeFormat, buffer: &Arc<Mutex<Vec<u8>>>) -> Sink {
        Sink {
            level,
            time,
            writers: Mutex::new(vec![Writer::Memory(Arc::clone(buffer))]),
        }
    }

    /// etcd's bootstrap logger (`zap.NewProduction`): stderr, info and above, epoch time.
    pub(super) fn bootstrap() -> Sink {
        Sink {
            level: Level::Info,
            time: TimeFormat::Epoch,
            writers: Mutex::new(vec![Writer::Stderr]),
        }
    }

    pub(super) fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    pub(super) fn write(&self, record: &Line) {
        if !self.enabled(record.level) {
            return;
        }
        let line = encode_line(record, self.time, SystemTime::now());
        if let Ok(mut writers) = self.writers.lock() {
            for writer in writers.iter_mut() {
                // A failing log output must not take the server down; zap drops it too.
                let _ = writer.write_line(line.as_bytes());
            }
        }
    }

    pub(super) fn sync(&self) {
        if let Ok(mut writers) = self.writers.lock() {
            writers.iter_mut().for_each(Writer::sync);
        }
    }
}

fn open_append(path: &Path) -> Result<File, LoggingError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            let shown = path.display();
            LoggingError::OpenSink(format!(
                "couldn't open sink \"{shown}\": open {shown}: {}",
                go_io_error_text(&e)
            ))
        })
}

/// The sink [`super::init`] installed, shared with its `tracing` layer.
pub(super) static GLOBAL_SINK: OnceLock<Arc<Sink>> = OnceLock::new();
