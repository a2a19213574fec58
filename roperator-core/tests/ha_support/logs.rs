//! What replicas log at the default level, captured line by line.
//!
//! One subscriber per test binary (tracing's global one, since replicas log from many threads),
//! filtered at `info` like an operator's default. Each line records the thread it was written on,
//! so replicas that run in runtimes of their own (threads named `replica-<id>`) can be told apart.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// One formatted log line.
#[derive(Debug, Clone)]
pub struct Line {
    /// The thread that wrote it.
    pub thread: String,
    /// `ERROR`, `WARN`, `INFO`...
    pub level: String,
    /// The whole line, without colours.
    pub text: String,
}

impl Line {
    /// The replica whose runtime wrote the line, if it came from one.
    pub fn replica(&self) -> Option<u64> {
        self.thread.strip_prefix("replica-")?.parse().ok()
    }

    /// One of the engine's reports of a sync's writes (one line per sync at INFO, by design).
    pub fn is_write_report(&self) -> bool {
        self.level == "INFO"
            && self.text.contains("roperator_core::engine")
            && self.text.contains("changes=")
    }
}

/// The captured lines of this test binary.
#[derive(Clone, Default)]
pub struct Capture {
    lines: Arc<Mutex<Vec<Line>>>,
}

struct Writer {
    lines: Arc<Mutex<Vec<Line>>>,
    buf: Vec<u8>,
}

impl Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Writer {
    // The formatter writes one event per writer, so a dropped writer holds exactly one line.
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf).trim_end().to_string();
        if text.is_empty() {
            return;
        }
        let level = text
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let thread = std::thread::current()
            .name()
            .unwrap_or_default()
            .to_string();
        self.lines.lock().unwrap().push(Line {
            thread,
            level,
            text,
        });
    }
}

impl Capture {
    /// Installs the capturing subscriber (`info`, no colours) for this test binary, once.
    pub fn install() -> Self {
        static CAPTURE: OnceLock<Capture> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let capture = Capture::default();
                let lines = capture.lines.clone();
                tracing_subscriber::fmt()
                    .with_env_filter("info")
                    .with_ansi(false)
                    .with_writer(move || Writer {
                        lines: lines.clone(),
                        buf: Vec::new(),
                    })
                    .init();
                capture
            })
            .clone()
    }

    /// Forgets every line so far.
    pub fn clear(&self) {
        self.lines.lock().unwrap().clear();
    }

    /// Every line since the last [`Capture::clear`].
    pub fn lines(&self) -> Vec<Line> {
        self.lines.lock().unwrap().clone()
    }

    /// The lines, one per row, for assertion messages.
    pub fn dump(lines: &[Line]) -> String {
        lines
            .iter()
            .map(|l| format!("[{}] {}", l.thread, l.text))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
