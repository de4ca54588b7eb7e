//! # pool-worker-raise: the worker's SIGTERM handler raises; terminate() hangs
//!
//! The lesson (what you will see, the story, the mechanism, the fix) is
//! `README.md` beside this file: `repro explain pool-worker-raise`. Here: the
//! Rust variants and how each reaches its verdict; `repro diff
//! pool-worker-raise` shows each fix, read from the code marked `FIX`.
//!
//! This crate is that protocol in Rust: the lock is a process-shared POSIX
//! semaphore (what `multiprocessing.Lock` is), the worker's loop treats a
//! task ended by SIGTERM as a failed task, as `pool.worker` does, and
//! `terminate` takes the lock, signals and waits, as `_terminate_pool` does.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. SIGTERM is blocked before the fork; the worker's task waits for it in
//!    `sigsuspend`, which unblocks it atomically: no signal is lost.
//! 2. The worker says `task running` (an event) only inside its task, with
//!    its handler installed; only then does a thread of the parent run
//!    `terminate`.
//! 3. The worker holds the only write end of a progress pipe: EOF means it
//!    exited. Until then the parent samples it in /proc
//!    ([`harness::hang::watch`]): the same futex wait, sample after sample,
//!    after its last progress line (`get(): taking the queue lock`) is the
//!    deadlock. The parent then shows the other half (its `terminate`
//!    thread asleep in `wait4`, the lock held) and kills the worker.

use harness::fork::{Event, describe, fork_child_with_blocked};
use harness::hang;
use harness::scenario::Observation;
use harness::trace::Trace;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
// kill and sigaction as nix's, watched by `repro check` (harness::witness).
use harness::witness::{kill, sigaction};
use serde_json::json;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the `corpus` crate registers: the Rust variants (and the embedded
/// ones written in Rust).
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: terminating the pool never returns.
pub const TERMINATE_DEADLOCK: &str = "terminate-deadlock";

/// Set by the broken handler: the running task failed (the "exception").
static TASK_FAILED: AtomicBool = AtomicBool::new(false);

/// The broken handler: the task fails, and the worker's loop will go on.
extern "C" fn raise_in_task(_: libc::c_int) {
    TASK_FAILED.store(true, Ordering::SeqCst);
}

/// The fixed handler: leave the worker. Async-signal-safe.
extern "C" fn leave_worker(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(1) }
}

/// The task queue's reader lock, shared by the parent and the worker: a
/// process-shared POSIX semaphore in a shared anonymous mapping, as
/// `multiprocessing.Lock` is. Never unmapped: the scenario process exits.
#[derive(Clone, Copy)]
struct SharedLock(*mut libc::sem_t);

// SAFETY: a process-shared semaphore is made to be used from anywhere.
unsafe impl Send for SharedLock {}

impl SharedLock {
    fn new() -> io::Result<SharedLock> {
        // SAFETY: a fresh shared anonymous mapping, initialised before use.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                std::mem::size_of::<libc::sem_t>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let sem = p.cast::<libc::sem_t>();
            if libc::sem_init(sem, 1, 1) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(SharedLock(sem))
        }
    }

    fn acquire(self) {
        // SAFETY: an initialised semaphore; EINTR is retried.
        while unsafe { libc::sem_wait(self.0) } != 0 {}
    }

    fn try_acquire(self) -> bool {
        // SAFETY: as above.
        unsafe { libc::sem_trywait(self.0) == 0 }
    }

    fn release(self) {
        // SAFETY: as above.
        unsafe {
            libc::sem_post(self.0);
        }
    }
}

fn say(fd: &OwnedFd, line: &str) {
    let _ = nix::unistd::write(fd, format!("{line}\n").as_bytes());
}

/// Runs the `broken` or `fixed` variant.
///
/// # Errors
/// A message if a setup step (mmap, pipe, fork, /proc) fails, or for an
/// unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let fixed = match variant {
        "broken" => false,
        "fixed" => true,
        other => return Err(format!("pool-worker-raise has no rust variant {other:?}")),
    };
    let lock = SharedLock::new().map_err(|e| format!("shared semaphore: {e}"))?;
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let ct = tr.child();
    let mut running = Event::new("task_running").map_err(|e| format!("pipe: {e}"))?;
    let (progress_r, progress_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;

    // 1. SIGTERM stays blocked in the worker until its task waits for it.
    tr.fork();
    // The child's work, safe code: only the fork itself is unsafe.
    let worker_work = || {
        // repro:diff fixed
        let handler = if fixed {
            // FIX: the handler leaves the worker instead of failing the task.
            leave_worker as extern "C" fn(libc::c_int)
        } else {
            raise_in_task
        };
        let action = SigAction::new(
            SigHandler::Handler(handler),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: both handlers are async-signal-safe (`_exit`; an atomic
        // store the task loop polls).
        unsafe { sigaction(Signal::SIGTERM, &action) }.expect("sigaction");
        // pool.worker: get a task, run it, report, again.
        let mut tasks = 1;
        loop {
            say(&progress_w, "get(): taking the queue lock");
            lock.acquire();
            tasks -= 1;
            lock.release();
            if tasks == 0 {
                ct.event(format_args!(
                    "task running, SIGTERM handler installed; sigsuspend"
                ));
                say(&progress_w, "task running");
                running.notify().expect("notify task_running");
            }
            // 2. The task: until SIGTERM (unblocked and awaited atomically).
            let _ = SigSet::empty().suspend();
            if TASK_FAILED.swap(false, Ordering::SeqCst) {
                ct.event(format_args!(
                    "SIGTERM: task failed, reported; back to get()"
                ));
                say(&progress_w, "task failed: reported as its result");
            }
        }
    };
    // SAFETY: the scenario process is single-threaded until after the fork.
    let worker = unsafe { fork_child_with_blocked(Signal::SIGTERM, worker_work) };
    let worker = worker.map_err(|e| format!("fork: {e}"))?;
    drop(progress_w);
    running
        .wait()
        .map_err(|e| format!("wait task_running: {e}"))?;
    let wpid = worker.pid();

    // terminate(), on a thread, as _terminate_pool: take the queue lock and
    // keep it, SIGTERM the worker, wait for it.
    tr.event(
        "parent",
        format!("task running in worker {wpid}; terminate() (thread)"),
    );
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let terminating = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        let _ = tid_tx.send(unsafe { libc::gettid() });
        lock.acquire();
        let _ = kill(wpid, Signal::SIGTERM);
        worker.wait()
    });
    let tid = tid_rx
        .recv()
        .map_err(|e| format!("terminate thread: {e}"))?;

    // 3. Did the worker exit, or is it stuck?
    let watched = hang::watch(wpid.as_raw(), &progress_r).map_err(|e| format!("watch: {e}"))?;
    let mut obs = Observation::default();
    let deadlocked = match watched.note(&mut obs, wpid.as_raw(), TERMINATE_DEADLOCK) {
        Ok(d) => d.is_some(),
        Err(e) => {
            let _ = kill(wpid, Signal::SIGKILL);
            return Err(e);
        }
    };
    if deadlocked {
        tr.event("parent", "worker in a futex wait, unchanged: deadlocked");
        let me = std::process::id() as i32;
        let waiting = harness::procfs::thread_wchan(me, tid).unwrap_or_default();
        let held = !lock.try_acquire();
        obs.note(format!(
            "terminate() has not returned: its thread waits for worker {wpid} (wchan {waiting}) \
             and holds the queue lock the worker needs"
        ));
        obs.note(json!({ "queue_lock_held_by_parent": held }));
        let _ = kill(wpid, Signal::SIGKILL);
        tr.event(
            "parent",
            format!("SIGKILL worker {wpid}: terminate() can return"),
        );
    } else {
        tr.event("parent", format!("worker {wpid} exited"));
        obs.note(format!(
            "worker {wpid} left on SIGTERM; terminate() went on"
        ));
    }
    let status = terminating
        .join()
        .map_err(|_| "terminate thread panicked".to_owned())?
        .map_err(|e| format!("waitpid: {e}"))?;
    tr.event("parent", "terminate() returned");
    let killed = if deadlocked {
        " (killed: deadlocked)"
    } else {
        ""
    };
    obs.note(format!(
        "child {wpid} (the worker): {}{killed}",
        describe(status)
    ));
    obs.trace = Some(tr.finish());
    Ok(obs)
}
