//! A command's output: stdout is buffered (large ranges print fast) and written out when
//! the command finishes, must show something before waiting (txn prompts), or writes to
//! stderr, which goes out at once so the two streams interleave as etcdctl's do. A closed
//! stdout (`oxctl get ... | head`) ends output quietly instead of panicking.

use std::io::Write;

/// Pending output of a command.
#[derive(Debug, Default)]
pub struct Out {
    stdout: Vec<u8>,
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

    /// Writes a line to stderr, after what is pending on stdout.
    pub fn err_line(&mut self, text: &str) {
        self.flush();
        let stderr = std::io::stderr();
        let mut lock = stderr.lock();
        let _ = writeln!(lock, "{text}");
    }

    /// Writes pending stdout.
    pub fn flush(&mut self) {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        // A reader that went away is not an error worth reporting, as with Go's SIGPIPE.
        let _ = lock.write_all(&self.stdout).and_then(|()| lock.flush());
        self.stdout.clear();
    }
}

#[cfg(test)]
impl Out {
    /// What was printed to stdout, for tests.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}
