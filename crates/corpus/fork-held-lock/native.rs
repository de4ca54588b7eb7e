//! The embedded form: a Python thread holds the GIL, and Rust forks natively.
//!
//! `os.fork()` brackets the fork with `PyOS_BeforeFork()`,
//! `PyOS_AfterFork_Parent()` and `PyOS_AfterFork_Child()`. The last one
//! re-creates the GIL in the child, owned by the thread that survived. A Rust
//! program that embeds CPython and calls `fork()` itself skips all of that.
//! If another thread held the GIL at that instant, the child's first
//! `Python::attach` waits forever for a GIL whose owner does not exist.
//!
//! `broken-native-fork` forks while the holder thread (pyrepro's
//! `start_gil_holder`) has the GIL. `fixed-native-fork` takes the GIL with
//! `Python::attach` and forks between `PyOS_BeforeFork()` and
//! `PyOS_AfterFork_Parent()`/`PyOS_AfterFork_Child()`, as the C API asks.

use harness::fork::fork_child;
use harness::scenario::{NativeRun, Observation};
use harness::trace::{ChildTrace, Trace};
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::fd::{AsRawFd, OwnedFd};

/// The embedded-native variants, for `repro-embedded`.
pub const NATIVE: NativeRun = NativeRun {
    variants: &["broken-native-fork", "fixed-native-fork"],
    run,
};

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// The child: report, attach to Python and run a statement, report.
fn child_work(progress: i32, trace: ChildTrace) -> i32 {
    let say = |msg: &[u8]| {
        // SAFETY: write(2) on an fd this process owns.
        unsafe { libc::write(progress, msg.as_ptr().cast(), msg.len()) };
    };
    trace.event(format_args!("attaching: Python::attach"));
    say(b"attaching\n");
    let ran = Python::attach(|py| py.run(c"x = 1", None, None).is_ok());
    trace.event(format_args!("attached; python ran: {ran}"));
    say(if ran {
        b"attached\n"
    } else {
        b"attached, but python failed\n"
    });
    0
}

fn run(variant: &str) -> Result<Observation, String> {
    let fixed = match variant {
        "broken-native-fork" => false,
        "fixed-native-fork" => true,
        other => return Err(format!("fork-held-lock has no native variant {other:?}")),
    };
    let py_err = |e: PyErr| format!("python: {e}");
    let (go_r, go_w) = pipe()?;
    let (holding_r, holding_w) = pipe()?;
    // The holder thread waits for `go`, which we write before we detach, so
    // it can only take the GIL, and say `holding`, once we have let go.
    Python::attach(|py| -> PyResult<()> {
        let module = py.import("pyrepro.fork_held_lock")?;
        module.call_method1(
            "start_gil_holder",
            (go_r.as_raw_fd(), holding_w.as_raw_fd()),
        )?;
        nix::unistd::write(&go_w, b"!")
            .map_err(|e| PyErr::new::<pyo3::exceptions::PyOSError, _>(e.to_string()))?;
        Ok(())
    })
    .map_err(py_err)?;
    nix::unistd::read(&holding_r, &mut [0u8]).map_err(|e| format!("read holding: {e}"))?;

    let (progress_r, progress_w) = pipe()?;
    let fd = progress_w.as_raw_fd();
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    tr.event("parent", "python thread gil-holder holds the GIL");
    let ct = tr.child();
    if fixed {
        tr.event("parent", "Python::attach; PyOS_BeforeFork()");
    }
    tr.fork();
    // repro:diff fixed-native-fork
    let child = if fixed {
        // FIX: hold the GIL, and tell CPython about the fork on both sides.
        Python::attach(|_py| {
            // SAFETY: called with the GIL held, around a fork, as documented.
            unsafe {
                ffi::PyOS_BeforeFork();
                let child = fork_child(|| {
                    ffi::PyOS_AfterFork_Child();
                    ct.event(format_args!("PyOS_AfterFork_Child(): the GIL is ours"));
                    child_work(fd, ct)
                });
                ffi::PyOS_AfterFork_Parent();
                child
            }
        })
    } else {
        // SAFETY: the child only writes and attaches (which is the point).
        unsafe { fork_child(|| child_work(fd, ct)) }
    }
    .map_err(|e| format!("fork: {e}"))?;
    drop(progress_w);

    let mut obs = Observation::default();
    super::watch_and_reap(&mut obs, tr, child, &progress_r, |obs, _| {
        obs.note(
            "Python::attach in the child waits for a GIL held by a thread that does not \
             exist there",
        );
    })?;
    Python::attach(|py| -> PyResult<()> {
        py.import("pyrepro.fork_held_lock")?
            .call_method0("stop_gil_holder")?;
        Ok(())
    })
    .map_err(py_err)?;
    Ok(obs)
}
