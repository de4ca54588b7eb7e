//! Forking on purpose, inside a scenario process.
//!
//! Scenario processes (never test processes: libtest runs tests on threads,
//! and forking a multi-threaded process is bug 03) fork exactly once, with
//! the child's life bounded on every side:
//!
//! * the child gets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies with its parent;
//! * the child always leaves through `_exit`, after a panic too, so it never
//!   runs the parent's destructors or atexit handlers a second time;
//! * a [`ForkedChild`] that is dropped without being waited for is killed
//!   and reaped.
//!
//! The two processes order their steps with [`Event`]s: one-shot pipes named
//! for what they signal (`child_registered`, `parent_polled`), as CPython's
//! fork tests do. A wait returns when the peer notifies, or fails as soon as
//! the peer is gone (EOF), so no step ever waits on a clock.

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getppid};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A child made by [`fork_child`].
#[derive(Debug)]
pub struct ForkedChild {
    pid: Option<Pid>,
}

impl ForkedChild {
    /// The child's pid.
    pub fn pid(&self) -> Pid {
        self.pid.expect("not yet reaped")
    }

    /// Waits for the child to exit and reaps it.
    ///
    /// # Errors
    /// If `waitpid` fails.
    pub fn wait(mut self) -> nix::Result<WaitStatus> {
        let pid = self.pid.take().expect("not yet reaped");
        waitpid(pid, Some(WaitPidFlag::__WALL))
    }
}

impl Drop for ForkedChild {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(pid, Some(WaitPidFlag::__WALL));
        }
    }
}

/// How a reaped child ended, in the words `pyrepro` uses too
/// (`exit code 0`, `killed by signal 9`).
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit code {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by signal {}", sig as i32),
        other => format!("{other:?}"),
    }
}

/// Forks; the child runs `child` and `_exit`s with its return value (101 if
/// it panicked). Returns in the parent only.
///
/// # Errors
/// If `fork` fails.
///
/// # Safety
/// The caller must be single-threaded, or `child` must only do what is
/// async-signal-safe: after `fork` only the calling thread exists in the
/// child. (The scenarios about exactly that hazard break this rule on
/// purpose, and say so.)
pub unsafe fn fork_child(child: impl FnOnce() -> i32) -> nix::Result<ForkedChild> {
    let parent = nix::unistd::getpid();
    if crate::witness::on() {
        let threads = std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count);
        crate::witness::emit(
            "fork",
            &[("threads", crate::witness::Val::Int(threads as i64))],
        );
    }
    // SAFETY: forwarded to the caller (see # Safety).
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(ForkedChild { pid: Some(child) }),
        ForkResult::Child => {
            // SAFETY: plain syscalls; then the child never returns.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if getppid() != parent {
                    libc::_exit(70);
                }
                // No allocation: the parent may have had other threads.
                crate::witness::emit(
                    "child",
                    &[("ppid", crate::witness::Val::Int(i64::from(parent.as_raw())))],
                );
                let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
                libc::_exit(code)
            }
        }
    }
}

/// [`fork_child`] with `signal` blocked across the fork: the child starts
/// with it blocked, so a signal sent before the child waits for it stays
/// pending instead of being lost (the child then unblocks and waits in one
/// step, `SigSet::empty().suspend()`). The parent's mask is restored.
///
/// # Errors
/// If `sigprocmask` or `fork` fails.
///
/// # Safety
/// As [`fork_child`].
pub unsafe fn fork_child_with_blocked(
    signal: nix::sys::signal::Signal,
    child: impl FnOnce() -> i32,
) -> nix::Result<ForkedChild> {
    use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
    let mut blocked = SigSet::empty();
    blocked.add(signal);
    let mut before = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut before))?;
    // SAFETY: forwarded to the caller.
    let forked = unsafe { fork_child(child) };
    let restored = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
    let forked = forked?;
    restored?;
    Ok(forked)
}

/// A one-shot event between two processes: a pipe that carries one byte.
///
/// Create it before the fork; afterwards one side calls [`Event::notify`],
/// the other [`Event::wait`]. Each call first closes the end its side does
/// not use, so a wait sees EOF, and fails, as soon as the notifier is gone.
#[derive(Debug)]
pub struct Event {
    name: &'static str,
    read: Option<OwnedFd>,
    write: Option<OwnedFd>,
}

impl Event {
    /// A new event, named for what it signals (`child_registered`).
    ///
    /// # Errors
    /// If the pipe cannot be made.
    pub fn new(name: &'static str) -> io::Result<Event> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Event {
            name,
            read: Some(read),
            write: Some(write),
        })
    }

    /// Signals the event.
    ///
    /// # Errors
    /// If the waiter is gone.
    pub fn notify(&mut self) -> io::Result<()> {
        self.read = None;
        let w = self.write.take().ok_or_else(|| self.spent())?;
        nix::unistd::write(&w, b"!")?;
        Ok(())
    }

    /// Blocks until the event is signalled.
    ///
    /// # Errors
    /// If the notifier exited (or closed its end) without signalling.
    pub fn wait(&mut self) -> io::Result<()> {
        self.write = None;
        let r = self.read.take().ok_or_else(|| self.spent())?;
        let mut byte = [0u8];
        loop {
            match nix::unistd::read(r.as_fd(), &mut byte) {
                Ok(1) => return Ok(()),
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the other process was gone before `{}`", self.name),
                    ));
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn spent(&self) -> io::Error {
        io::Error::other(format!("event `{}` used twice", self.name))
    }
}
