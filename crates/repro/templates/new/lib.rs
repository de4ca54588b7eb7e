//! # __ID__: the Rust variants
//!
//! The lesson is `README.md` beside this file (`repro explain __ID__`).
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The parent makes a pipe and forks. The child closes the write end it
//!    inherited (`fixed`) or keeps it (`broken`), then notifies `ready`.
//! 2. The parent closes its own write end and polls the read end with a
//!    zero timeout: `POLLHUP` is set exactly when every write end is
//!    closed, so the poll answers at once. `/proc/<child>/fd` shows who
//!    holds the write end.
//! 3. The parent notifies `done`, reaps the child and reads EOF.

use harness::fork::{Event, describe, fork_child};
use harness::procfs;
use harness::scenario::Observation;
use harness::trace::Trace;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd};

/// What the `corpus` crate registers: the Rust variants.
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the parent's read of the pipe would never see EOF.
pub const EOF_NEVER_COMES: &str = "eof-never-comes";

/// Runs the `broken` or `fixed` variant.
///
/// # Errors
/// A message if a setup step (pipe, fork, poll) fails, or for an unknown
/// variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let fixed = match variant {
        "broken" => false,
        "fixed" => true,
        other => return Err(format!("__ID__ has no rust variant {other:?}")),
    };
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let inode = nix::sys::stat::fstat(r.as_fd())
        .map_err(|e| format!("fstat: {e}"))?
        .st_ino;
    tr.event(
        "parent",
        format!(
            "pipe() = [{}, {}]: pipe:[{inode}]",
            r.as_raw_fd(),
            w.as_raw_fd()
        ),
    );
    let ct = tr.child();
    let mut ready = Event::new("ready").map_err(|e| format!("pipe: {e}"))?;
    let mut done = Event::new("done").map_err(|e| format!("pipe: {e}"))?;
    let (r_fd, w_fd) = (r.as_raw_fd(), w.as_raw_fd());

    tr.fork();
    // The child's work, safe code: only the fork itself is unsafe.
    let child_work = || {
        // The child never reads: it closes its read end in both variants,
        // so /proc/<child>/fd shows only the write end, if it keeps it.
        // SAFETY: r_fd is the child's copy of the read end, closed once:
        // the child's `r` is never dropped (it leaves by _exit).
        unsafe { libc::close(r_fd) };
        // repro:diff fixed
        if fixed {
            // FIX: the child closes the write end it inherited.
            // SAFETY: w_fd is the child's copy of the write end, closed
            // once: the child's `w` is never dropped (it leaves by _exit).
            unsafe { libc::close(w_fd) };
        }
        ct.event(format_args!("ready"));
        ready.notify().expect("notify ready");
        let _ = done.wait();
        0
    };
    // SAFETY: the scenario process is single-threaded.
    let child = unsafe { fork_child(child_work) }.map_err(|e| format!("fork: {e}"))?;

    ready.wait().map_err(|e| format!("wait ready: {e}"))?;
    drop(w);
    let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).map_err(|e| format!("poll: {e}"))?;
    let eof = fds[0]
        .revents()
        .is_some_and(|e| e.contains(PollFlags::POLLHUP));
    tr.event(
        "parent",
        format!(
            "close({w_fd}); poll({}, 0): {}",
            r.as_raw_fd(),
            if eof {
                "POLLHUP: EOF"
            } else {
                "nothing: no EOF"
            }
        ),
    );
    let pid = child.pid();
    let held = procfs::fds_to(pid.as_raw(), &format!("pipe:[{inode}]"))
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?;
    let mut obs = Observation::default();
    obs.note(json!({ "child_holds": held, "eof_at_once": eof }));
    if eof {
        obs.note("EOF at once: no other process holds the write end");
    } else {
        obs.symptom = Some(EOF_NEVER_COMES);
        tr.event(
            "parent",
            format!("the child holds the write end: /proc/{pid}/fd/{held:?}"),
        );
        obs.note(format!(
            "the parent's read would wait: child {pid} still holds the write end \
             (/proc/{pid}/fd/{held:?} -> pipe:[{inode}])"
        ));
    }
    done.notify().map_err(|e| format!("notify done: {e}"))?;
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    obs.note(format!("child {pid}: {}", describe(status)));
    let mut byte = [0u8];
    let n = nix::unistd::read(r.as_fd(), &mut byte).map_err(|e| format!("read: {e}"))?;
    tr.event(
        "parent",
        format!(
            "read({}) = {n} bytes: EOF, once the child is gone",
            r.as_raw_fd()
        ),
    );
    obs.trace = Some(tr.finish());
    Ok(obs)
}
