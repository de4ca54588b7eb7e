//! # sigterm-zombie: a terminated worker leaves its own child behind
//!
//! The lesson (what you will see, the story, the mechanism, the fix) is
//! `README.md` beside this file: `repro explain sigterm-zombie`. Here: the Rust
//! variants and how each reaches its verdict; `repro diff sigterm-zombie` shows
//! each fix, read from the code marked `FIX`.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The parent makes itself a child subreaper and **blocks SIGTERM**
//!    before forking, so the worker inherits the blocked mask: a SIGTERM
//!    sent early stays pending and cannot be lost.
//! 2. The worker spawns `cat` on a pipe (with an empty signal mask: a mask
//!    survives fork and exec), installs its handler (fixed), notifies `ready`,
//!    and waits in `sigsuspend`, which unblocks SIGTERM and sleeps
//!    atomically.
//! 3. The parent reads the worker's child from `/proc/<worker>/task/*/children`,
//!    sends SIGTERM and reaps the worker.
//! 4. Orphans are reparented before their parent's exit is reported, so
//!    anything left to the parent is already its child:
//!    `waitid(P_ALL, WEXITED | WNOWAIT)` either fails at once with ECHILD
//!    (nothing left: fixed) or returns when the orphan exits, leaving it
//!    unreaped for `/proc/<pid>/stat` to show (broken). Then the parent reaps
//!    it, so nothing survives the run.

use harness::fork::{Event, describe, fork_child_with_blocked};
use harness::procfs;
use harness::scenario::Observation;
use harness::trace::Trace;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
// kill and sigaction as nix's, watched by `repro check` (harness::witness).
use harness::witness::{kill, sigaction};
use nix::sys::wait::{Id, WaitPidFlag, waitid, waitpid};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

/// What the `corpus` crate registers: the Rust variants (and the embedded
/// ones written in Rust).
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the worker's child outlived it and became a zombie of a
/// process that never waits for it.
pub const ZOMBIE_GRANDCHILD: &str = "zombie-grandchild";

/// The worker's child, for its SIGTERM handler.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// The fixed worker's SIGTERM handler: kill the child, reap it, exit.
/// Async-signal-safe: an atomic load, `kill`, `waitpid` and `_exit` only.
extern "C" fn kill_reap_exit(_: libc::c_int) {
    let child = CHILD.load(Ordering::SeqCst);
    // SAFETY: async-signal-safe calls on a pid this process spawned.
    unsafe {
        if child > 0 {
            libc::kill(child, libc::SIGTERM);
            let mut status = 0;
            libc::waitpid(child, &raw mut status, 0);
        }
        libc::_exit(0);
    }
}

/// Runs the `broken` or `fixed` variant.
///
/// # Errors
/// A message if a setup step (sigprocmask, fork, /proc) fails, or for an
/// unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let fixed = match variant {
        "broken" => false,
        "fixed" => true,
        other => return Err(format!("sigterm-zombie has no rust variant {other:?}")),
    };
    let me = std::process::id() as i32;
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    harness::supervisor::become_subreaper();
    tr.event(
        "parent",
        "prctl(PR_SET_CHILD_SUBREAPER): orphans come here, as to PID 1 in a container",
    );
    let ct = tr.child();
    let mut ready = Event::new("ready").map_err(|e| format!("pipe: {e}"))?;

    // 1. SIGTERM stays blocked in the worker until it waits for it.
    tr.fork();
    // The child's work, safe code: only the fork itself is unsafe.
    let worker_work = || {
        // 2. The worker: a child of its own, then wait for SIGTERM.
        let mut cat = Command::new("cat");
        cat.stdin(Stdio::piped()).stdout(Stdio::null());
        // The worker's SIGTERM is blocked (step 1), and a signal mask
        // survives fork and exec: cat gets an empty one.
        // SAFETY: the pre-exec hook only calls sigprocmask, which is
        // async-signal-safe.
        unsafe {
            cat.pre_exec(|| {
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                    .map_err(std::io::Error::from)
            });
        }
        let cat = cat.spawn().expect("spawn cat");
        CHILD.store(cat.id() as i32, Ordering::SeqCst);
        ct.event(format_args!("spawned cat: pid {}", cat.id()));
        // repro:diff fixed
        if fixed {
            // FIX: on SIGTERM, kill and reap the child before exiting.
            let action = SigAction::new(
                SigHandler::Handler(kill_reap_exit),
                SaFlags::empty(),
                SigSet::empty(),
            );
            // SAFETY: kill_reap_exit calls only async-signal-safe functions
            // (kill, waitpid, _exit).
            unsafe { sigaction(Signal::SIGTERM, &action) }.expect("sigaction");
        }
        ready.notify().expect("notify ready");
        ct.event(format_args!("ready; sigsuspend() until SIGTERM"));
        let _ = SigSet::empty().suspend();
        drop(cat);
        3
    };
    // SAFETY: the scenario process is single-threaded.
    let worker = unsafe { fork_child_with_blocked(Signal::SIGTERM, worker_work) };
    let worker = worker.map_err(|e| format!("fork: {e}"))?;

    // 3. Terminate the worker and reap it.
    ready.wait().map_err(|e| format!("wait ready: {e}"))?;
    let wpid = worker.pid();
    let grandchildren =
        procfs::children(wpid.as_raw()).map_err(|e| format!("/proc/{wpid}: {e}"))?;
    tr.event(
        "parent",
        format!("/proc/{wpid}/task/*/children: {grandchildren:?}"),
    );
    tr.event(
        "parent",
        format!("kill({wpid}, SIGTERM) (terminate the worker)"),
    );
    kill(wpid, Signal::SIGTERM).map_err(|e| format!("kill: {e}"))?;
    let status = worker.wait().map_err(|e| format!("waitpid: {e}"))?;
    tr.event(
        "parent",
        format!("waitpid(worker {wpid}): {}", describe(status)),
    );

    let mut obs = Observation::default();
    obs.note(format!("child {wpid} (the worker): {}", describe(status)));
    obs.note(
        json!({ "worker_pid": wpid.as_raw(), "grandchild_pids": grandchildren, "parent_pid": me }),
    );

    // 4. Anything left to this process? Never blocks when nothing is.
    match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
        Err(nix::errno::Errno::ECHILD) => {
            tr.event("parent", "waitid(P_ALL, WNOWAIT): ECHILD: nothing left");
            obs.note(format!(
                "nothing was left to the parent: the worker reaped its child {grandchildren:?} before exiting"
            ));
            obs.note(json!({ "left_to_parent": [] }));
        }
        Err(e) => return Err(format!("waitid: {e}")),
        Ok(left) => {
            let pid = left
                .pid()
                .ok_or_else(|| format!("waitid: no pid in {left:?}"))?;
            let stat = procfs::stat(pid.as_raw()).ok();
            tr.event(
                "parent",
                match &stat {
                    Some(s) => format!(
                        "waitid(P_ALL, WNOWAIT): {pid} exited, not reaped: /proc/{pid}/stat: \
                         state {}, ppid {}",
                        s.state, s.ppid
                    ),
                    None => format!("waitid(P_ALL, WNOWAIT): {pid} exited; /proc/{pid}: gone"),
                },
            );
            obs.note(json!({ "left_to_parent": [pid.as_raw()] }));
            if let Some(s) = &stat {
                obs.note(json!({ "left_stat": { "pid": pid.as_raw(), "state": s.state.to_string(), "ppid": s.ppid } }));
            }
            let zombie = stat
                .as_ref()
                .is_some_and(|s| s.state == 'Z' && s.ppid == me);
            if zombie && grandchildren.contains(&pid.as_raw()) {
                obs.symptom = Some(ZOMBIE_GRANDCHILD);
                obs.note(format!(
                    "child {pid} (cat) outlived worker {wpid}, was reparented to {me} (the \
                     subreaper) and exited there: /proc/{pid}/stat says state Z, ppid {me}, \
                     a zombie nobody waits for"
                ));
            } else {
                obs.note(format!(
                    "child {pid} was left to the parent (/proc: {stat:?})"
                ));
            }
            let reaped = waitpid(pid, None).map_err(|e| format!("waitpid({pid}): {e}"))?;
            tr.event(
                "parent",
                format!(
                    "waitpid({pid}): {}: reaped, so that nothing is left",
                    describe(reaped)
                ),
            );
        }
    }
    obs.trace = Some(tr.finish());
    Ok(obs)
}
