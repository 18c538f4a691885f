//! Progress on stderr: a single `\r` line (done/total, rate, ETA) when stderr is a terminal,
//! plain lines every 2 s or every 10 % otherwise (cron logs). Silent for an empty phase.
//!
//! Must not import: the plan or client modules (the client calls [`Progress::advance`]).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Progress {
    label: String,
    total: usize,
    tty: bool,
    quiet: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    done: usize,
    start: Instant,
    last: Instant,
    last_tenth: usize,
}

impl Progress {
    pub fn new(label: &str, total: usize, quiet: bool) -> Progress {
        let now = Instant::now();
        Progress {
            label: label.to_string(),
            total,
            tty: std::io::stderr().is_terminal(),
            quiet: quiet || total == 0,
            state: Mutex::new(State { done: 0, start: now, last: now, last_tenth: 0 }),
        }
    }

    /// `n` more operations are done.
    pub fn advance(&self, n: usize) {
        let Ok(mut s) = self.state.lock() else { return };
        s.done += n;
        if self.quiet {
            return;
        }
        let now = Instant::now();
        let tenth = s.done * 10 / self.total.max(1);
        let due = if self.tty {
            now - s.last >= Duration::from_millis(100) || s.done >= self.total
        } else {
            now - s.last >= Duration::from_secs(2) || tenth > s.last_tenth
        };
        if !due {
            return;
        }
        s.last = now;
        s.last_tenth = tenth;
        let line = line(&self.label, s.done, self.total, now - s.start);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty { write!(err, "\r{line}\x1b[K") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }

    /// End the `\r` line.
    pub fn finish(&self) {
        if self.tty && !self.quiet {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `users: 500/1000 (50%) 250/s ETA 2s`.
pub fn line(label: &str, done: usize, total: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let eta = if rate > 0.0 { ((total.saturating_sub(done)) as f64 / rate).ceil() as u64 } else { 0 };
    let pct = done * 100 / total.max(1);
    format!("{label}: {done}/{total} ({pct}%) {rate:.0}/s ETA {eta}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_counts_rate_and_eta() {
        assert_eq!(line("users", 500, 1000, Duration::from_secs(2)), "users: 500/1000 (50%) 250/s ETA 2s");
        assert_eq!(line("users", 0, 10, Duration::ZERO), "users: 0/10 (0%) 0/s ETA 0s");
    }
}
