//! # signal-reentrant-print: the Rust variants
//!
//! The lesson is `README.md` beside this file (`repro explain
//! signal-reentrant-print`). Rust's stdout is a reentrant lock around a
//! `RefCell`: a handler that runs on top of a write to it, in the same
//! thread, gets the lock again and then fails to borrow the cell. The
//! panic cannot unwind out of an `extern "C"` handler, so the process
//! aborts.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The worker's stdout is a pipe nobody reads yet: its `write_all` of
//!    [`PAYLOAD`] bytes fills the pipe and blocks in write(2), with stdout
//!    locked and borrowed.
//! 2. The parent sees it there in `/proc` (state `S`, syscall write) and
//!    only then sends SIGUSR1: the handler runs on top of that write.
//! 3. The parent reads the pipes to EOF and reaps the worker: killed by
//!    SIGABRT, with the panic on its stderr, or done, with the handler's
//!    line delivered.

use harness::fork::{Event, describe, fork_child};
use harness::scenario::Observation;
use harness::trace::Trace;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::WaitStatus;
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the `corpus` crate registers: the Rust variants.
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the handler re-entered the stream it interrupted.
pub const REENTRANT_CALL: &str = "reentrant-call";

/// More than a pipe holds (64 KiB by default): the write blocks.
pub const PAYLOAD: usize = 256 * 1024;

const LINE: &[u8] = b"worker: got signal 10\n";

/// `fixed`: the handler only records the signal.
static PENDING: AtomicBool = AtomicBool::new(false);

extern "C" fn print_line(_: libc::c_int) {
    println!("worker: got signal 10");
}

extern "C" fn set_flag(_: libc::c_int) {
    PENDING.store(true, Ordering::SeqCst);
}

extern "C" fn write_line(_: libc::c_int) {
    // SAFETY: write(2) is async-signal-safe; LINE is valid for its length.
    unsafe { libc::write(2, LINE.as_ptr().cast(), LINE.len()) };
}

fn read_all(fd: OwnedFd) -> Result<String, String> {
    let mut text = String::new();
    std::fs::File::from(fd)
        .read_to_string(&mut text)
        .map_err(|e| format!("read: {e}"))?;
    Ok(text)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// Runs the `broken`, `fixed` or `fixed-os-write` variant.
///
/// # Errors
/// A message if a setup step (pipe, fork, /proc) fails, or for an unknown
/// variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let (flag, os_write) = match variant {
        "broken" => (false, false),
        "fixed" => (true, false),
        "fixed-os-write" => (false, true),
        other => {
            return Err(format!(
                "signal-reentrant-print has no rust variant {other:?}"
            ));
        }
    };
    // repro:diff fixed
    let on_usr1: extern "C" fn(libc::c_int) = if flag {
        // FIX: the handler only records the signal; the worker prints
        // once its write is done.
        set_flag
    } else {
        print_line
    };
    // repro:diff fixed-os-write
    let on_usr1: extern "C" fn(libc::c_int) = if os_write {
        // FIX: libc::write: no buffer, no lock.
        write_line
    } else {
        on_usr1
    };
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    let mut ready = Event::new("ready").map_err(|e| format!("pipe: {e}"))?;
    let ct = tr.child();
    let worker = || {
        // Its stdout and stderr are the pipes (the panic message goes to
        // stderr).
        nix::unistd::dup2_stdout(&out_w).expect("dup2 stdout");
        nix::unistd::dup2_stderr(&err_w).expect("dup2 stderr");
        // No SA_RESTART: the write returns to user space for the handler,
        // as Python's handlers are installed too.
        let action = SigAction::new(
            SigHandler::Handler(on_usr1),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handlers touch only an atomic, write(2), or (broken,
        // on purpose) stdout, which is the bug.
        unsafe { harness::witness::sigaction(Signal::SIGUSR1, &action) }.expect("sigaction");
        ct.event(format_args!(
            "SIGUSR1 handler installed; stdout.write_all({PAYLOAD} bytes) to a pipe nobody reads"
        ));
        ready.notify().expect("notify ready");
        let payload = vec![b'x'; PAYLOAD];
        let mut stdout = std::io::stdout();
        let outcome = match stdout.write_all(&payload).and_then(|()| stdout.flush()) {
            Ok(()) => "the write completed".to_owned(),
            Err(e) => format!("the write failed: {e}"),
        };
        if PENDING.load(Ordering::SeqCst) {
            println!("worker: got signal 10");
        }
        let _ = stdout.flush();
        let _ = nix::unistd::write(&rep_w, outcome.as_bytes());
        0
    };
    tr.fork();
    // SAFETY: the scenario process is single-threaded.
    let child = unsafe { fork_child(worker) }.map_err(|e| format!("fork: {e}"))?;
    drop((out_w, err_w, rep_w));
    let pid = child.pid();
    ready.wait().map_err(|e| format!("wait ready: {e}"))?;
    let where_ = harness::hang::wait_until_blocked_in(pid.as_raw(), libc::SYS_write)
        .map_err(|e| format!("/proc/{pid}: {e}"))?;
    tr.event(
        "parent",
        format!("worker {pid} blocked in write(2): {where_}; kill(SIGUSR1)"),
    );
    harness::witness::kill(pid, Signal::SIGUSR1).map_err(|e| format!("kill: {e}"))?;
    let out = read_all(out_r)?;
    let err = read_all(err_r)?;
    let outcome = read_all(rep_r)?;
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    let aborted = matches!(status, WaitStatus::Signaled(_, Signal::SIGABRT, _));
    tr.event(
        "parent",
        format!(
            "the worker: {}{}",
            describe(status),
            if aborted { " (SIGABRT)" } else { "" }
        ),
    );
    let payload = out.matches('x').count();
    let said: Vec<&str> = out
        .split('x')
        .chain(err.lines())
        .flat_map(str::lines)
        .filter(|l| l.starts_with("worker: got signal"))
        .collect();
    // The panic messages, without the backtrace a non-unwinding panic prints.
    let panic: Vec<&str> = err
        .lines()
        .filter(|l| {
            !(l.is_empty()
                || l.starts_with(char::is_whitespace)
                || l.starts_with("worker: ")
                || l.starts_with("stack backtrace:")
                || l.starts_with("note: "))
        })
        .collect();
    let mut obs = Observation::default();
    obs.note(json!({
        "blocked_at_signal": where_,
        "write": outcome,
        "payload_bytes_read": payload,
        "handler_line": said,
        "stderr": panic,
    }));
    obs.note(format!("child {pid} (the worker): {}", describe(status)));
    if aborted {
        obs.symptom = Some(REENTRANT_CALL);
        obs.note(format!(
            "the handler ran on top of the worker's write(2) ({where_}) and printed to the same \
             stdout: {}; the process aborted with {payload} of {PAYLOAD} bytes in the pipe",
            panic.join(" / ")
        ));
    } else {
        obs.note(format!(
            "the write completed ({payload} of {PAYLOAD} bytes) and the handler's line \
             arrived: {said:?}"
        ));
    }
    obs.trace = Some(tr.finish());
    Ok(obs)
}
