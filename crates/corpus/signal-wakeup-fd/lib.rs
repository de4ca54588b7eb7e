//! # signal-wakeup-fd: a forked child's SIGTERM runs the parent's handler
//!
//! The lesson (what you will see, the story, the mechanism, the fix) is
//! `README.md` beside this file: `repro explain signal-wakeup-fd`. Here: the
//! Rust variants and how each reaches its verdict; `repro diff
//! signal-wakeup-fd` shows each fix, read from the code marked `FIX`.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The parent installs its loop's SIGTERM handler and wakeup pipe, then
//!    **blocks SIGTERM** before forking: the child inherits the blocked mask,
//!    so a SIGTERM sent early stays pending and cannot be lost.
//! 2. The child notifies `child_ready` and waits in `sigsuspend`, which
//!    unblocks SIGTERM and sleeps atomically (a plain `pause()` would lose a
//!    signal that arrived just before it).
//! 3. The parent sends SIGTERM and reaps the child with `waitpid`. The
//!    inherited handler has run (the child exited 0) or the default action
//!    killed it.
//! 4. Only then does the parent read its wakeup pipe, without blocking, and
//!    dispatch what it finds. Anything there came from the child: the
//!    parent's own handler counts its deliveries, and that count is 0.

use harness::fork::{Event, describe, fork_child_with_blocked};
use harness::scenario::Observation;
use harness::trace::Trace;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
// kill and sigaction as nix's, watched by `repro check` (harness::witness).
use harness::witness::{kill, sigaction};
use serde_json::json;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// What the `corpus` crate registers: the Rust variants (and the embedded
/// ones written in Rust).
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the parent's SIGTERM handler ran for a signal the parent
/// never received.
pub const PARENT_HANDLER_RAN: &str = "parent-handler-ran";

/// Where the signal handler writes signal numbers (-1: nowhere).
static WAKEUP_FD: AtomicI32 = AtomicI32::new(-1);
/// SIGTERMs this process's handler caught.
static DELIVERED: AtomicU32 = AtomicU32::new(0);

/// The process-wide handler, as CPython's C-level one: note the signal,
/// write its number into the wakeup fd. Async-signal-safe: atomics and
/// `write` only.
extern "C" fn on_signal(signo: libc::c_int) {
    DELIVERED.fetch_add(1, Ordering::SeqCst);
    let fd = WAKEUP_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signo as u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops it.
        unsafe {
            libc::write(fd, (&raw const byte).cast(), 1);
        }
    }
}

/// The parent's loop, in the shape of asyncio's: a wakeup pipe and the
/// table of handlers it dispatches signal numbers to.
struct SignalLoop {
    wakeup_read: OwnedFd,
    wakeup_write: OwnedFd,
    handlers: Vec<(i32, &'static str)>,
}

impl SignalLoop {
    /// `loop.add_signal_handler(SIGTERM, …)`: the wakeup pipe, the
    /// process-wide handler, and the loop-level handler.
    fn add_sigterm_handler(name: &'static str) -> nix::Result<SignalLoop> {
        let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
        let (wakeup_read, wakeup_write) = nix::unistd::pipe2(flags)?;
        WAKEUP_FD.store(wakeup_write.as_raw_fd(), Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler is async-signal-safe.
        unsafe { sigaction(Signal::SIGTERM, &action) }?;
        Ok(SignalLoop {
            wakeup_read,
            wakeup_write,
            handlers: vec![(libc::SIGTERM, name)],
        })
    }

    /// The child's half of the fix: stop writing to the parent's pipe and
    /// close the inherited ends. Only for a forked child that leaves through
    /// `_exit` (as `fork_child`'s do), so the `OwnedFd`s are never dropped.
    fn forget_in_child(&self) {
        WAKEUP_FD.store(-1, Ordering::SeqCst);
        // SAFETY: closing fds this process owns; see above for why they are
        // not closed a second time.
        unsafe {
            libc::close(self.wakeup_write.as_raw_fd());
            libc::close(self.wakeup_read.as_raw_fd());
        }
    }

    /// One non-blocking pass: every signal number waiting in the pipe.
    fn drain(&self) -> nix::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(&self.wakeup_read, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EAGAIN) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The loop-level handlers that the signal numbers select.
    fn dispatch(&self, signos: &[u8]) -> Vec<&'static str> {
        signos
            .iter()
            .filter_map(|&s| {
                let hit = self.handlers.iter().find(|(n, _)| *n == i32::from(s));
                hit.map(|(_, name)| *name)
            })
            .collect()
    }
}

/// Runs the `broken` or `fixed` variant.
///
/// # Errors
/// A message if a setup step (pipe, sigaction, fork) fails, or for an
/// unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let fixed = match variant {
        "broken" => false,
        "fixed" => true,
        other => return Err(format!("signal-wakeup-fd has no rust variant {other:?}")),
    };
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let parent_loop = SignalLoop::add_sigterm_handler("graceful-shutdown")
        .map_err(|e| format!("wakeup pipe and SIGTERM handler: {e}"))?;
    let wfd = parent_loop.wakeup_write.as_raw_fd();
    tr.event(
        "parent",
        format!("sigaction(SIGTERM); wakeup pipe fd {wfd}"),
    );
    let ct = tr.child();
    let mut child_ready = Event::new("child_ready").map_err(|e| format!("pipe: {e}"))?;

    // 1. SIGTERM stays blocked in the child until it waits for it.
    // 2. The child: the worker the parent will terminate.
    tr.fork();
    // The child's work, safe code: only the fork itself is unsafe.
    let child_work = || {
        // repro:diff fixed
        if fixed {
            // FIX: forget the parent's signal handler and wakeup pipe.
            let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
            // SAFETY: SIG_DFL installs no handler.
            unsafe { sigaction(Signal::SIGTERM, &default) }.expect("reset SIGTERM");
            parent_loop.forget_in_child();
            ct.event(format_args!("SIGTERM -> SIG_DFL; inherited pipe closed"));
        }
        child_ready.notify().expect("notify child_ready");
        ct.event(format_args!("ready; sigsuspend() until SIGTERM"));
        // Unblock SIGTERM and sleep, atomically: no signal is lost.
        let _ = SigSet::empty().suspend();
        ct.event(format_args!("its inherited handler ran: byte 15 written"));
        0
    };
    // SAFETY: the scenario process is single-threaded.
    let child = unsafe { fork_child_with_blocked(Signal::SIGTERM, child_work) };
    let child = child.map_err(|e| format!("fork: {e}"))?;

    // 3. Terminate the child and reap it.
    child_ready
        .wait()
        .map_err(|e| format!("wait child_ready: {e}"))?;
    let pid = child.pid();
    tr.event("parent", format!("kill({pid}, SIGTERM)"));
    kill(pid, Signal::SIGTERM).map_err(|e| format!("kill: {e}"))?;
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    tr.event("parent", format!("waitpid: {}", describe(status)));

    // 4. Now, without blocking: what is in the parent's wakeup pipe?
    let bytes = parent_loop
        .drain()
        .map_err(|e| format!("read the wakeup pipe: {e}"))?;
    let ran = parent_loop.dispatch(&bytes);
    let received = DELIVERED.load(Ordering::SeqCst);
    let n = ran.len();
    tr.event(
        "parent",
        format!("wakeup pipe holds {bytes:?}: {n} handler(s) run"),
    );

    let mut obs = Observation {
        trace: Some(tr.finish()),
        ..Observation::default()
    };
    obs.note(format!("child {pid}: {}", describe(status)));
    obs.note(json!({ "parent_wakeup_pipe_bytes": bytes }));
    obs.note(json!({ "parent_sigterm_handler_ran": ran.len() }));
    obs.note(json!({ "parent_received_sigterm": received }));
    if !ran.is_empty() && received == 0 {
        obs.symptom = Some(PARENT_HANDLER_RAN);
        obs.note(format!(
            "the parent's loop dispatched SIGTERM to {:?}, yet the parent received no \
             SIGTERM: byte {bytes:?} came from the child's inherited handler",
            ran[0]
        ));
    }
    Ok(obs)
}
