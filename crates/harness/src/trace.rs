//! The timeline of a run, for `repro run --trace` (pyrepro/trace.py is the
//! same for Python).
//!
//! Each process records what it does as events on a lane (`parent`,
//! `child`, …). Times are CLOCK_MONOTONIC, one clock for every process, so
//! the parent merges the child's events, which arrive through a pipe, with
//! its own. The record carries them relative to the fork.
//!
//! A child forked from a threaded process must not allocate (another thread
//! may hold the allocator's lock), so [`ChildTrace::event`] formats into a
//! stack buffer and writes once.

use crate::record::TraceEvent;
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

fn now_ns() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// A run's timeline, recorded by the parent.
#[derive(Debug)]
pub struct Trace {
    events: Vec<(i128, String, String)>,
    t0: Option<i128>,
    read: OwnedFd,
    write: OwnedFd,
}

/// The child's end of a [`Trace`]: `Copy`, usable in a forked child.
#[derive(Debug, Clone, Copy)]
pub struct ChildTrace {
    fd: RawFd,
}

impl Trace {
    /// A new timeline (and the pipe its child writes to).
    ///
    /// # Errors
    /// If the pipe cannot be made.
    pub fn new() -> io::Result<Trace> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Trace {
            events: Vec::new(),
            t0: None,
            read,
            write,
        })
    }

    /// One event on `lane`.
    pub fn event(&mut self, lane: &str, what: impl Into<String>) {
        self.events.push((now_ns(), lane.to_owned(), what.into()));
    }

    /// Marks the fork: time zero.
    pub fn fork(&mut self) {
        self.t0 = Some(now_ns());
        self.event("parent", "fork()");
    }

    /// The child's end, to move into the child's closure.
    pub fn child(&self) -> ChildTrace {
        ChildTrace {
            fd: self.write.as_raw_fd(),
        }
    }

    /// The events, merged and relative to the fork (to the first event if
    /// there was none). Call once every child that could write is gone.
    pub fn finish(mut self) -> Vec<TraceEvent> {
        drop(self.write);
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = nix::unistd::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        for line in String::from_utf8_lossy(&data).lines() {
            if let Some((t, what)) = line.split_once('\t') {
                if let Ok(t) = t.parse() {
                    self.events.push((t, "child".to_owned(), what.to_owned()));
                }
            }
        }
        self.events.sort_by_key(|e| e.0);
        let t0 = self
            .t0
            .or_else(|| self.events.first().map(|e| e.0))
            .unwrap_or(0);
        self.events
            .into_iter()
            .map(|(t, lane, what)| TraceEvent {
                t_ms: ((t - t0) as f64 / 1e4).round() / 100.0,
                lane,
                what,
            })
            .collect()
    }
}

/// A fixed-size line buffer: `write!` into it does not allocate.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.buf.len() - 1 - self.len; // keep one byte for '\n'
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl ChildTrace {
    /// One event from the child: formatted on the stack, one `write(2)`.
    pub fn event(self, what: std::fmt::Arguments<'_>) {
        let mut line = Line {
            buf: [0; 512],
            len: 0,
        };
        let _ = write!(line, "{}\t{what}", now_ns());
        line.buf[line.len] = b'\n';
        // SAFETY: write(2) of a buffer we own, on the trace pipe.
        unsafe { libc::write(self.fd, line.buf.as_ptr().cast(), line.len + 1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_events_merge_in_time_order_relative_to_the_fork() {
        let mut tr = Trace::new().unwrap();
        tr.event("parent", "before");
        tr.fork();
        tr.child().event(format_args!("child says {}", 7));
        tr.event("parent", "after");
        let events = tr.finish();
        let lanes: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.lane.as_str(), e.what.as_str()))
            .collect();
        assert_eq!(
            lanes,
            [
                ("parent", "before"),
                ("parent", "fork()"),
                ("child", "child says 7"),
                ("parent", "after")
            ]
        );
        assert!(events[0].t_ms <= 0.0 && events[1].t_ms == 0.0 && events[3].t_ms >= 0.0);
    }
}
