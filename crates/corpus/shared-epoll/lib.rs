//! # shared-epoll: an epoll instance created before `fork()` is shared
//!
//! The lesson (what you will see, the story, the mechanism, the fix) is
//! `README.md` beside this file: `repro explain shared-epoll`. Here: the Rust
//! variants and how each reaches its verdict; `repro diff shared-epoll` shows
//! each fix, read from the code marked `FIX`.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The parent creates its loop and registers its own listening socket
//!    (bound to `127.0.0.1:0`, never readable here).
//! 2. It forks. The child registers one end of a socketpair, makes it
//!    readable, and notifies `child_registered`.
//! 3. Once notified, the parent polls its loop with a **zero** timeout. The
//!    child's event is already there or it never will be, so this is a
//!    decision and not a wait.
//! 4. The parent reads its epoll's `fdinfo` (the evidence: the child's `tfd`
//!    beside its own), notifies `parent_polled`, and reaps the child.

use harness::fork::{Event, fork_child};
use harness::procfs;
use harness::scenario::Observation;
use harness::trace::Trace;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// What the `corpus` crate registers: the Rust variants (and the embedded
/// ones written in Rust).
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the loop got an event for an fd with no handler.
pub const UNKNOWN_FD_EVENT: &str = "unknown-fd-event";

/// A minimal IOLoop in tornado 4's shape: an epoll instance and the table of
/// handlers registered through it.
struct IoLoop {
    epoll: Epoll,
    handlers: HashMap<RawFd, &'static str>,
}

/// What one iteration of the loop found.
#[derive(Debug)]
enum Dispatch {
    /// An event for a registered fd: its handler would run.
    Handled(RawFd, &'static str),
    /// An event for an fd with no handler: tornado 4's `KeyError`.
    UnknownFd(RawFd),
}

impl IoLoop {
    fn new() -> nix::Result<IoLoop> {
        Ok(IoLoop {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            handlers: HashMap::new(),
        })
    }

    fn add_handler(&mut self, fd: impl AsFd, handler: &'static str) -> nix::Result<()> {
        let raw = fd.as_fd().as_raw_fd();
        self.handlers.insert(raw, handler);
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, raw as u64))
    }

    /// One iteration with a zero timeout: every event that is ready now.
    fn poll_now(&self) -> nix::Result<Vec<Dispatch>> {
        let mut events = [EpollEvent::empty(); 8];
        let n = self.epoll.wait(&mut events, EpollTimeout::ZERO)?;
        Ok(events[..n]
            .iter()
            .map(|ev| {
                let fd = ev.data() as RawFd;
                match self.handlers.get(&fd) {
                    Some(&name) => Dispatch::Handled(fd, name),
                    None => Dispatch::UnknownFd(fd),
                }
            })
            .collect())
    }

    fn raw_fd(&self) -> RawFd {
        self.epoll.0.as_raw_fd()
    }
}

/// Runs the `broken` or `fixed` variant.
///
/// # Errors
/// A message if a setup step (socket, epoll, fork, pipe) fails, or for an
/// unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let fixed = match variant {
        "broken" => false,
        "fixed" => true,
        other => return Err(format!("shared-epoll has no rust variant {other:?}")),
    };
    let e = |what: &'static str| move |err: std::io::Error| format!("{what}: {err}");

    let mut tr = Trace::new().map_err(e("pipe"))?;
    // 1. The parent's loop and its own fd, before the fork (as in the story).
    let mut parent_loop = IoLoop::new().map_err(|err| format!("epoll_create: {err}"))?;
    let epfd = parent_loop.raw_fd();
    tr.event("parent", format!("epoll_create() = fd {epfd}"));
    let listener = TcpListener::bind("127.0.0.1:0").map_err(e("bind 127.0.0.1:0"))?;
    parent_loop
        .add_handler(&listener, "accept")
        .map_err(|err| format!("epoll_ctl(ADD) in the parent: {err}"))?;
    let lfd = listener.as_raw_fd();
    tr.event("parent", format!("epoll_ctl(ADD, {lfd}): its listener"));
    let ct = tr.child();
    tr.fork();
    let mut child_registered = Event::new("child_registered").map_err(e("pipe"))?;
    let mut parent_polled = Event::new("parent_polled").map_err(e("pipe"))?;

    // The child's work, safe code: only the fork itself is unsafe.
    let child_work = || {
        let mut own_loop;
        // repro:diff fixed
        let child_loop = if fixed {
            // FIX: the child creates its own loop instead of using the inherited one.
            own_loop = IoLoop::new().expect("epoll_create in the child");
            &mut own_loop
        } else {
            &mut parent_loop
        };
        let (mut tx, rx) = UnixStream::pair().expect("socketpair in the child");
        child_loop
            .add_handler(&rx, "child-read")
            .expect("epoll_ctl(ADD) in the child");
        let (fd, on) = (rx.as_raw_fd(), child_loop.raw_fd());
        ct.event(format_args!("epoll_ctl(ADD, {fd}) on epoll fd {on}"));
        tx.write_all(b"x").expect("write in the child");
        ct.event(format_args!("fd {fd} readable; child_registered"));
        child_registered.notify().expect("notify child_registered");
        parent_polled.wait().expect("wait parent_polled");
        0
    };
    // 2. The child registers an fd of its own and makes it readable.
    // SAFETY: the scenario process is single-threaded.
    let child = unsafe { fork_child(child_work) }.map_err(|err| format!("fork: {err}"))?;

    // 3. Decide with a zero-timeout poll, now that the child has registered.
    child_registered
        .wait()
        .map_err(e("wait child_registered"))?;
    let dispatched = parent_loop
        .poll_now()
        .map_err(|err| format!("epoll_wait: {err}"))?;
    // 4. The evidence, then let the child go and reap it.
    let me = std::process::id() as i32;
    let tfds: Vec<RawFd> = procfs::epoll_targets(me, parent_loop.raw_fd())
        .map_err(e("read fdinfo"))?
        .iter()
        .map(|t| t.tfd)
        .collect();
    parent_polled.notify().map_err(e("notify parent_polled"))?;
    let child_status = child.wait().map_err(|err| format!("waitpid: {err}"))?;

    let mut obs = Observation::default();
    for d in &dispatched {
        tr.event(
            "parent",
            match d {
                Dispatch::UnknownFd(fd) => {
                    format!("epoll_wait(fd {epfd}, 0) = fd {fd}: no handler")
                }
                Dispatch::Handled(fd, name) => format!("epoll_wait = fd {fd}: {name}"),
            },
        );
    }
    if dispatched.is_empty() {
        tr.event("parent", format!("epoll_wait(fd {epfd}, 0): no events"));
    }
    obs.trace = Some(tr.finish());
    let own: Vec<RawFd> = parent_loop.handlers.keys().copied().collect();
    obs.note(json!({ "parent_registered_fds": own }));
    obs.note(json!({ "parent_epoll_fdinfo_tfds": tfds }));
    for d in &dispatched {
        match *d {
            Dispatch::UnknownFd(fd) => {
                obs.symptom = Some(UNKNOWN_FD_EVENT);
                obs.note(format!(
                    "parent's epoll_wait returned fd {fd}, which has no handler \
                     (tornado 4: KeyError: {fd})"
                ));
            }
            Dispatch::Handled(fd, name) => {
                obs.note(format!(
                    "parent's epoll_wait returned its own fd {fd} ({name})"
                ));
            }
        }
    }
    if dispatched.is_empty() {
        obs.note("parent's epoll_wait(timeout=0) after the child registered: no events");
    }
    obs.note(format!("child: {}", harness::fork::describe(child_status)));
    Ok(obs)
}
