//! Buffered stdout and stderr for one command: printers append, and the buffers are written
//! out when the command finishes or must show something before waiting (txn prompts).
//! A closed stdout (`oxctl get ... | head`) ends output quietly instead of panicking.

use std::io::Write;

/// Pending output of a command.
#[derive(Debug, Default)]
pub struct Out {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Out {
    /// Appends raw bytes to stdout.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.stdout.extend_from_slice(bytes);
    }

    /// Appends text to stdout.
    pub fn text(&mut self, text: &str) {
        self.stdout.extend_from_slice(text.as_bytes());
    }

    /// Appends a line to stdout.
    pub fn line(&mut self, text: &str) {
        self.text(text);
        self.stdout.push(b'\n');
    }

    /// Appends a line to stderr.
    pub fn err_line(&mut self, text: &str) {
        self.stderr.extend_from_slice(text.as_bytes());
        self.stderr.push(b'\n');
    }

    /// Writes everything pending to the real streams.
    pub fn flush(&mut self) {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        // A reader that went away is not an error worth reporting, as with Go's SIGPIPE.
        let _ = lock.write_all(&self.stdout).and_then(|()| lock.flush());
        self.stdout.clear();
        let stderr = std::io::stderr();
        let mut lock = stderr.lock();
        let _ = lock.write_all(&self.stderr).and_then(|()| lock.flush());
        self.stderr.clear();
    }
}

#[cfg(test)]
impl Out {
    /// What was printed to stdout, for tests.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}
