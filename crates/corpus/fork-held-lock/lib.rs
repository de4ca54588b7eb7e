//! # fork-held-lock: fork while another thread holds a lock
//!
//! The lesson (what you will see, the story, the mechanism, the fix) is
//! `README.md` beside this file: `repro explain fork-held-lock`. Here: the Rust
//! variants and how each reaches its verdict; `repro diff fork-held-lock` shows
//! each fix, read from the code marked `FIX`.
//!
//! The embedded form (`broken-native-fork`, in `native.rs` beside this file,
//! compiled into `repro-embedded`, which links libpython): a Python thread
//! holds the GIL, and Rust calls `fork()` itself. CPython's at-fork handling
//! (`PyOS_BeforeFork`/`PyOS_AfterFork_*`, which `os.fork` runs) never runs,
//! and the child's first `Python::attach` waits forever for the GIL.
//!
//! ## How the verdict is reached, without a clock
//!
//! The holder thread takes the lock and says so; only then does the main
//! thread fork. The child writes `locking` to a progress pipe, takes the
//! lock, writes `locked`, exits. The parent watches with
//! [`harness::hang::watch`]: EOF means the child finished. A child that has
//! stopped reporting and sits in an identical futex wait across consecutive
//! `/proc` samples is deadlocked, and is killed and reaped. For the Mutex,
//! the evidence shows that the futex word the child waits on lies inside
//! [`LOCK`].

use harness::fork::{describe, fork_child};
use harness::hang::{self, Watched};
use harness::scenario::Observation;
use harness::trace::{ChildTrace, Trace};
use harness::witness::Mutex;
use std::cell::RefCell;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{MutexGuard, mpsc};

/// What the `corpus` crate registers: the Rust variants.
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the child is deadlocked on a lock it inherited held.
pub const CHILD_DEADLOCK: &str = "child-deadlock";

/// The lock the holder thread takes and the child needs (a `std` Mutex
/// that `repro check` can watch: [`harness::witness::Mutex`]).
pub static LOCK: Mutex<u64> = Mutex::named("LOCK", 0);

/// The child's work, in every variant: report, take the lock, report. Only
/// async-signal-safe calls besides the lock itself (no allocation).
fn child_work(progress: i32, trace: Option<ChildTrace>) -> i32 {
    let say = |msg: &[u8]| {
        // SAFETY: write(2) on an fd this process owns.
        unsafe { libc::write(progress, msg.as_ptr().cast(), msg.len()) };
    };
    let note = |what: &str| {
        if let Some(t) = trace {
            t.event(format_args!("{what}"));
        }
    };
    note("locking: LOCK.lock()");
    say(b"locking\n");
    match LOCK.lock() {
        Ok(mut n) => *n += 1,
        Err(_) => return 3,
    }
    note("locked");
    say(b"locked\n");
    0
}

/// The holder thread: takes [`LOCK`], reports, and keeps it until released.
struct Holder {
    release: OwnedFd,
    thread: std::thread::JoinHandle<()>,
}

/// The write end of the holder's release pipe, for the at-fork handler.
static RELEASE_FD: AtomicI32 = AtomicI32::new(-1);

impl Holder {
    fn start() -> Result<Holder, String> {
        let (release_r, release_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
        let (holding_tx, holding_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let _guard = LOCK.lock();
            let _ = holding_tx.send(());
            let _ = std::fs::File::from(release_r).read(&mut [0u8]);
        });
        holding_rx
            .recv()
            .map_err(|_| "the holder thread died".to_owned())?;
        RELEASE_FD.store(release_w.as_raw_fd(), Ordering::SeqCst);
        Ok(Holder {
            release: release_w,
            thread,
        })
    }

    fn stop(self) -> Result<(), String> {
        RELEASE_FD.store(-1, Ordering::SeqCst);
        drop(self.release);
        self.thread
            .join()
            .map_err(|_| "the holder thread panicked".to_owned())
    }
}

thread_local! {
    /// The guard the prepare handler took, until the fork is over.
    static HELD_FOR_FORK: RefCell<Option<MutexGuard<'static, u64>>> = const { RefCell::new(None) };
}

/// `pthread_atfork` prepare: ask the holder to let go, then take the lock, so
/// that at the instant of the fork the forking thread is its only holder.
extern "C" fn take_lock_for_fork() {
    let fd = RELEASE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) on the release pipe.
        unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
    }
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    HELD_FOR_FORK.with(|h| *h.borrow_mut() = Some(guard));
}

/// `pthread_atfork` parent and child: let the lock go again.
extern "C" fn release_lock_after_fork() {
    HELD_FOR_FORK.with(|h| drop(h.borrow_mut().take()));
}

/// Runs a Rust variant.
///
/// # Errors
/// A message if a setup step fails, or for an unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let mut obs = Observation::default();
    match variant {
        "broken" | "fixed-atfork" => {
            let holder = Holder::start()?;
            // repro:diff fixed-atfork
            if variant == "fixed-atfork" {
                // FIX: no other thread holds LOCK at the instant of the fork.
                // SAFETY: the handlers only touch LOCK and a pipe.
                let rc = unsafe {
                    libc::pthread_atfork(
                        Some(take_lock_for_fork),
                        Some(release_lock_after_fork),
                        Some(release_lock_after_fork),
                    )
                };
                if rc != 0 {
                    return Err(format!("pthread_atfork: {rc}"));
                }
            }
            let holding = if variant == "broken" {
                "LOCK"
            } else {
                "LOCK (the prepare handler will take it over)"
            };
            fork_and_watch(&mut obs, holding)?;
            holder.stop()?;
        }
        "fixed-order" => {
            // FIX: fork before the holder thread starts.
            fork_and_watch(&mut obs, "nothing yet: it starts after the fork")?;
            Holder::start()?.stop()?;
        }
        "fixed-exec" => {
            let holder = Holder::start()?;
            // FIX: fork and exec at once (std::process::Command); the new
            // program has a LOCK of its own.
            exec_and_watch(&mut obs)?;
            holder.stop()?;
        }
        "exec-child" => {
            // The program `fixed-exec` runs: the same work, progress on stderr.
            let code = child_work(libc::STDERR_FILENO, None);
            obs.note(format!("exec'd child: child_work returned {code}"));
        }
        other => return Err(format!("fork-held-lock has no rust variant {other:?}")),
    }
    Ok(obs)
}

fn fork_and_watch(obs: &mut Observation, holding: &str) -> Result<(), String> {
    let (progress_r, progress_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let fd = progress_w.as_raw_fd();
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    tr.event("parent", format!("thread holder holds {holding}"));
    let ct = tr.child();
    tr.fork();
    // SAFETY: the child only calls child_work (writes, the lock) before
    // _exit: async-signal-safe but for the lock, which is the point.
    let child =
        unsafe { fork_child(|| child_work(fd, Some(ct))) }.map_err(|e| format!("fork: {e}"))?;
    drop(progress_w);
    watch_and_reap(obs, tr, child, &progress_r, note_lock)
}

/// Watches `child` (its progress on `progress`) until it finishes or
/// deadlocks, kills it if it deadlocked, reaps it, and notes all of it in
/// `obs` and in the timeline; `explain` adds what the deadlock means here.
/// The native embedded variants (`native.rs`) watch their child with it too.
pub fn watch_and_reap(
    obs: &mut Observation,
    mut tr: Trace,
    child: harness::fork::ForkedChild,
    progress: &OwnedFd,
    explain: impl Fn(&mut Observation, &hang::Sample),
) -> Result<(), String> {
    let pid = child.pid().as_raw();
    let watched = hang::watch(pid, progress).map_err(|e| format!("watch: {e}"))?;
    if let Some(last) = watched.note(obs, pid, CHILD_DEADLOCK)? {
        explain(obs, last);
        let seen = watched.proof().map_or("", hang::Proof::seen);
        tr.event("parent", format!("{seen}: deadlocked; SIGKILL"));
        let _ = nix::sys::signal::kill(child.pid(), nix::sys::signal::Signal::SIGKILL);
    }
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    tr.event("parent", format!("waitpid: {}", describe(status)));
    obs.trace = Some(tr.finish());
    obs.note(format!("child {pid}: {}", describe(status)));
    Ok(())
}

fn exec_and_watch(obs: &mut Observation) -> Result<(), String> {
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    tr.event("parent", "thread holder holds LOCK");
    tr.fork();
    tr.event("parent", "the child execs a fresh program (Command::spawn)");
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = std::process::Command::new(exe)
        .args(["internal-run", "fork-held-lock", "rust", "exec-child"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let progress = OwnedFd::from(child.stderr.take().expect("piped"));
    let pid = child.id() as i32;
    let watched = hang::watch(pid, &progress).map_err(|e| format!("watch: {e}"))?;
    if let Some(last) = watched.note(obs, pid, CHILD_DEADLOCK)? {
        note_lock(obs, last);
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if let Watched::Finished { progress } = &watched {
        tr.event("parent", format!("the new program reported {progress:?}"));
    }
    tr.event("parent", format!("wait: {status}"));
    obs.trace = Some(tr.finish());
    obs.note(format!("child {pid} (fork+exec): {status}"));
    Ok(())
}

/// For a deadlock on [`LOCK`]: whether the futex word lies inside it.
fn note_lock(obs: &mut Observation, last: &hang::Sample) {
    let addr = last.futex_addr().unwrap_or(0);
    let base = &raw const LOCK as u64;
    let end = base + std::mem::size_of_val(&LOCK) as u64;
    let inside = if (base..end).contains(&addr) {
        "is inside"
    } else {
        "is NOT inside"
    };
    obs.note(format!(
        "futex word {addr:#x} {inside} LOCK ({base:#x}..{end:#x})"
    ));
}
