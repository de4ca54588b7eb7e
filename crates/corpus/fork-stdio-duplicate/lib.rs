//! # fork-stdio-duplicate: the Rust variants
//!
//! The lesson is `README.md` beside this file (`repro explain
//! fork-stdio-duplicate`). The Rust twin of Python's block-buffered stdout
//! is a `BufWriter` over the pipe, which writes its buffer out when it is
//! dropped, as the end of `main` drops it; `fixed-line-buffered` is a
//! `LineWriter`, as `std::io::stdout()` is.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The service writes a line to its stdout (a pipe) and forks a worker.
//! 2. The worker writes its own line and drops its stdout, which writes the
//!    buffer out; the service reaps it (waitpid), so everything the pipe
//!    holds at that point was written by the worker.
//! 3. The service writes its last line and drops its stdout; the stream is
//!    read to EOF. A line in it twice is the symptom.

use harness::fork::{describe, fork_child};
use harness::scenario::Observation;
use harness::trace::Trace;
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, LineWriter, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

/// What the `corpus` crate registers: the Rust variants.
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: a line printed once is in the stream twice.
pub const DUPLICATED_OUTPUT: &str = "duplicated-output";

/// Everything the pipe holds now, without waiting for more.
fn drain(r: &OwnedFd) -> Result<String, String> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(
        fcntl(r.as_fd(), FcntlArg::F_GETFL).map_err(|e| format!("fcntl: {e}"))?,
    );
    fcntl(r.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))
        .map_err(|e| format!("fcntl: {e}"))?;
    let mut got = Vec::new();
    let mut file = File::from(r.try_clone().map_err(|e| format!("dup: {e}"))?);
    match file.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    fcntl(r.as_fd(), FcntlArg::F_SETFL(flags)).map_err(|e| format!("fcntl: {e}"))?;
    Ok(String::from_utf8_lossy(&got).into_owned())
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// Runs the `broken`, `fixed` or `fixed-line-buffered` variant.
///
/// # Errors
/// A message if a setup step (pipe, fork, read) fails, or for an unknown
/// variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let (flush_before_fork, line_buffered) = match variant {
        "broken" => (false, false),
        "fixed" => (true, false),
        "fixed-line-buffered" => (false, true),
        other => {
            return Err(format!(
                "fork-stdio-duplicate has no rust variant {other:?}"
            ));
        }
    };
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let inode = nix::sys::stat::fstat(w.as_fd())
        .map_err(|e| format!("fstat: {e}"))?
        .st_ino;
    // The service's stdout: a pipe, written through a buffer.
    let pipe = File::from(w);
    let mut stdout: Option<Box<dyn Write>> = Some(
        // repro:diff fixed-line-buffered
        if line_buffered {
            // FIX: line-buffered, as std's own stdout: each line is
            // written out when it is printed.
            Box::new(LineWriter::new(pipe))
        } else {
            Box::new(BufWriter::new(pipe))
        },
    );
    tr.event(
        "parent",
        format!(
            "stdout: pipe:[{inode}], {}",
            if line_buffered {
                "line-buffered (LineWriter)"
            } else {
                "block-buffered (BufWriter)"
            }
        ),
    );
    let service = std::process::id();
    let first = format!("service {service}: starting");
    let out = stdout.as_mut().expect("the service's stdout");
    writeln!(out, "{first}").map_err(|e| format!("write: {e}"))?;
    let mut before_fork = drain(&r)?;
    tr.event(
        "parent",
        format!(
            "writeln!({first:?}): {}",
            if before_fork.is_empty() {
                "in the buffer, 0 bytes in the pipe"
            } else {
                "written at once"
            }
        ),
    );
    // repro:diff fixed
    if flush_before_fork {
        // FIX: nothing buffered crosses the fork.
        out.flush().map_err(|e| format!("flush: {e}"))?;
        tr.event("parent", "stdout.flush(): the buffer is empty");
    }
    before_fork += &drain(&r)?;

    let ct = tr.child();
    let slot = &mut stdout;
    tr.fork();
    // The worker's work: it takes its copy of the service's stdout, writes
    // its line and drops it, as the end of its main would.
    let worker = move || {
        let mut out = slot.take().expect("the worker's copy of stdout");
        let pid = std::process::id();
        let _ = writeln!(out, "worker {pid}: ready");
        ct.event(format_args!(
            "writeln!(\"worker {pid}: ready\"); exit: drop(stdout) writes its buffer out"
        ));
        drop(out);
        0
    };
    // SAFETY: the scenario process is single-threaded.
    let child = unsafe { fork_child(worker) }.map_err(|e| format!("fork: {e}"))?;
    let pid = child.pid();
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    let from_worker = drain(&r)?;
    tr.event(
        "parent",
        format!(
            "worker {pid} reaped ({}); the pipe holds what it wrote: {from_worker:?}",
            describe(status)
        ),
    );
    let mut out = stdout.take().expect("the service's stdout");
    let last = format!("service {service}: worker {pid} done");
    writeln!(out, "{last}").map_err(|e| format!("write: {e}"))?;
    // The end of the service's main: its stdout is dropped, and written out.
    drop(out);
    let from_service = drain(&r)?;
    let mut tail = [0u8; 1];
    let n = nix::unistd::read(r.as_fd(), &mut tail).map_err(|e| format!("read: {e}"))?;
    tr.event(
        "parent",
        format!("exit: drop(stdout); then the pipe held {from_service:?}, and EOF ({n} bytes)"),
    );

    let stream: Vec<String> = lines(&format!("{before_fork}{from_worker}{from_service}"));
    let mut twice: Vec<String> = stream
        .iter()
        .filter(|l| stream.iter().filter(|m| m == l).count() > 1)
        .cloned()
        .collect();
    twice.sort();
    twice.dedup();
    let mut obs = Observation::default();
    obs.note(json!({
        "stream": stream,
        "written_before_fork": lines(&before_fork),
        "written_by_worker": lines(&from_worker),
        "written_by_service": lines(&from_service),
        "twice": twice,
    }));
    if let Some(line) = twice.first() {
        obs.symptom = Some(DUPLICATED_OUTPUT);
        tr.event(
            "parent",
            format!(
                "the stream has {line:?} twice: the worker wrote its copy of the service's buffer"
            ),
        );
        obs.note(format!(
            "the service wrote {first:?} once, before the fork; the stream has it twice: \
             the worker {pid} wrote a copy ({:?}) and so did the service ({:?})",
            lines(&from_worker),
            lines(&from_service)
        ));
    } else {
        obs.note(format!(
            "every line once: the worker wrote only its own ({:?})",
            lines(&from_worker)
        ));
    }
    obs.note(format!("child {pid} (the worker): {}", describe(status)));
    obs.trace = Some(tr.finish());
    Ok(obs)
}
