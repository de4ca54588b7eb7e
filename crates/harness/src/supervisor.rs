//! The supervisor: runs one scenario process and always comes back.
//!
//! # Issues this solves
//!
//! A scenario process forks on purpose, and some of them deadlock on
//! purpose. Whatever it does, the caller must get a verdict back within a
//! deadline and be left with no process behind. So:
//!
//! 1. **Own process group.** The scenario runs as the leader of a new group
//!    (`process_group(0)`), so the supervisor can kill it *and everything it
//!    forked* with one `killpg`, and a Ctrl-C at the terminal reaches only the
//!    supervisor.
//! 2. **Dies with us.** `PR_SET_PDEATHSIG(SIGKILL)` in the child: if the
//!    supervisor itself dies, the scenario is killed by the kernel.
//! 3. **A watchdog without sleeps.** The child is watched through a pidfd:
//!    one `poll()` with the deadline as its timeout wakes the supervisor
//!    exactly when the child exits or when time is up, never in between.
//!    On time-out the group is snapshotted from `/proc` (state, wchan,
//!    syscall of each member: the evidence of *where* it hung), then killed.
//! 4. **Orphans come home.** The supervising program makes itself a child
//!    subreaper ([`become_subreaper`]), so a grandchild whose parent died is
//!    re-parented to it, not to init, and is killed and reaped here. Anything
//!    still alive after the scenario exited is a leak and is reported.
//! 5. **No pipe deadlock.** stdout and stderr are drained on their own
//!    threads; if an escaped descendant keeps a pipe open, the supervisor
//!    stops waiting for it after a grace period and says so.
//! 6. **No temp file left.** Each scenario process gets a private `TMPDIR`
//!    (Python's `tempfile` and Rust's `tempfile` both honour it), removed
//!    once the process is reaped. Anything the scenario left there is
//!    reported ([`Finished::temp_left`]).
//! 7. **Interrupted, still clean.** After [`clean_up_on_interrupt`], a
//!    SIGINT, SIGTERM or SIGHUP to the supervising program kills every
//!    running scenario group and every remaining child, reaps them, removes
//!    the private temp dirs, and exits with 128 + the signal number.

use crate::procfs::{self, Snapshot};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long to wait for stdout/stderr to close once every process we know
/// of is dead. Only an escaped descendant can hold them longer.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// How the scenario process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal (not by the watchdog).
    Signal(i32),
    /// The watchdog killed it at the deadline.
    TimedOut,
}

/// Everything the supervisor saw of one run.
#[derive(Debug)]
pub struct Finished {
    /// How the scenario process ended.
    pub exit: Exit,
    /// Its stdout, lossily decoded.
    pub stdout: String,
    /// Its stderr, lossily decoded.
    pub stderr: String,
    /// Spawn to exit.
    pub wall: Duration,
    /// On time-out: where each member of the group was when it was killed.
    pub hung: Vec<Snapshot>,
    /// Processes still alive after the scenario exited: a leak. They were
    /// killed and reaped.
    pub leaked: Vec<Snapshot>,
    /// Whether an output pipe was still open after everything was reaped.
    pub pipe_held_open: bool,
    /// What the scenario left in its private TMPDIR (names; removed since).
    pub temp_left: Vec<String>,
}

/// What is running now, for the interrupt clean-up: each scenario's process
/// group and private temp dir, and whether an interrupt has begun (then no
/// new scenario starts).
struct Running {
    interrupted: bool,
    cases: Vec<(i32, PathBuf)>,
    /// Directories to remove on an interrupt ([`Scratch`]).
    scratch: Vec<PathBuf>,
}

static RUNNING: Mutex<Running> = Mutex::new(Running {
    interrupted: false,
    cases: Vec::new(),
    scratch: Vec::new(),
});

fn running() -> std::sync::MutexGuard<'static, Running> {
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `cmd` as a supervised scenario process, with `timeout` as the
/// watchdog's deadline, scaled by the time factor
/// ([`crate::hang::scaled`]): the one place where it is applied.
///
/// `cmd`'s stdio is replaced (stdin null, stdout and stderr captured). The
/// caller sets the environment.
///
/// # Errors
/// Only if the process cannot be started or watched; everything the process
/// itself does is reported in [`Finished`].
pub fn run(mut cmd: Command, timeout: Duration) -> io::Result<Finished> {
    let timeout = crate::hang::scaled(timeout);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Made and registered under the lock the interrupt clean-up takes: a
    // scenario and its TMPDIR either exist before the clean-up (which then
    // removes them) or never.
    let (mut child, tmp, start) = {
        let mut now = running();
        if now.interrupted {
            drop(now);
            wait_for_the_interrupt_exit();
        }
        let tmp = tempfile::Builder::new().prefix("repro-case-").tempdir()?;
        cmd.env("TMPDIR", tmp.path());
        // The watchdog's deadline, so that the scenario's own give-ups
        // scale with it (crate::hang::give_up_after, pyrepro.proc).
        cmd.env(
            crate::hang::DEADLINE_ENV,
            format!("{:.3}", timeout.as_secs_f64()),
        );
        let start = Instant::now();
        let child = cmd.spawn()?;
        now.cases.push((child.id() as i32, tmp.path().to_owned()));
        (child, tmp, start)
    };
    let guard = KillOnDrop(child.id() as i32);
    let stdout = drain(child.stdout.take().expect("piped"));
    let stderr = drain(child.stderr.take().expect("piped"));

    let pgid = child.id() as i32;
    let waited = wait_exit(&mut child, timeout);
    if running().interrupted {
        // The clean-up killed it (and may have reaped it first).
        wait_for_the_interrupt_exit();
    }
    let (exit, hung) = match waited? {
        Some(exit) => (exit, Vec::new()),
        None => {
            let hung = procfs::group_members(pgid)
                .into_iter()
                .filter_map(procfs::snapshot)
                .collect();
            killpg(pgid);
            child.wait()?;
            (Exit::TimedOut, hung)
        }
    };
    let wall = start.elapsed();
    std::mem::forget(guard);

    let mut leaked = reap_group_and_orphans(pgid);
    let mut temp_left: Vec<String> = std::fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    temp_left.sort();
    tmp.close()?;
    // Only now: until its TMPDIR is gone, an interrupt must remove it.
    running().cases.retain(|(g, _)| *g != pgid);
    leaked.extend(reap_strays());
    let (stdout, out_open) = collect(stdout);
    let (stderr, err_open) = collect(stderr);
    Ok(Finished {
        exit,
        stdout,
        stderr,
        wall,
        hung,
        leaked,
        pipe_held_open: out_open || err_open,
        temp_left,
    })
}

/// For a thread that finds the interrupt clean-up under way: it must not go
/// on (start a case, report one the clean-up killed, return from `main`);
/// the clean-up thread ends the process.
fn wait_for_the_interrupt_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// The write end of the interrupt pipe (-1: no clean-up installed).
static INTERRUPT_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_interrupt(sig: libc::c_int) {
    let fd = INTERRUPT_PIPE.load(Ordering::SeqCst);
    let byte = sig as u8;
    // SAFETY: write(2) is async-signal-safe. The write end is O_NONBLOCK,
    // so a full pipe (a burst of signals the thread has not read yet)
    // fails with EAGAIN at once instead of blocking the handler: the byte
    // already there is enough.
    unsafe {
        libc::write(fd, (&raw const byte).cast(), 1);
    }
}

/// Installs the interrupt clean-up (guarantee 7): handlers for SIGINT,
/// SIGTERM and SIGHUP that wake a thread, which kills and reaps everything
/// this process started, removes the private temp dirs, says so on stderr,
/// and exits with 128 + the signal. For the supervising program (with
/// [`become_subreaper`]), once, at start.
///
/// # Errors
/// If the pipe, the thread or a handler cannot be set up.
pub fn clean_up_on_interrupt() -> io::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // Never block in the handler (see `on_interrupt`); the reading thread
    // keeps a blocking read end.
    nix::fcntl::fcntl(
        &w,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    INTERRUPT_PIPE.store(w.as_raw_fd(), Ordering::SeqCst);
    std::mem::forget(w); // for the handler, for the life of the process
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            let mut byte = [0u8];
            loop {
                match nix::unistd::read(&r, &mut byte) {
                    Ok(1) => break,
                    Err(nix::errno::Errno::EINTR) => continue,
                    _ => return,
                }
            }
            let sig = i32::from(byte[0]);
            kill_everything();
            eprintln!(
                "repro: {}: stopped; every process it started is killed and reaped",
                signal_name(sig)
            );
            std::process::exit(128 + sig);
        })?;
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only writes to a pipe.
        unsafe { sigaction(sig, &action) }.map_err(io::Error::from)?;
    }
    Ok(())
}

/// The interrupt clean-up: no new scenario starts; every running group is
/// killed, and each scenario process awaited until it has exited (its
/// orphans are then ours); then every child of this process (group
/// members, orphans re-parented here, descendants that left their group)
/// is killed and reaped, round after round, until the kernel says none is
/// left.
fn kill_everything() {
    let (cases, scratch) = {
        let mut now = running();
        now.interrupted = true;
        (
            std::mem::take(&mut now.cases),
            std::mem::take(&mut now.scratch),
        )
    };
    for (pgid, _) in &cases {
        killpg(*pgid);
    }
    // Each scenario process dead before we look for what it left: its
    // orphans come to us as it exits, and until then they are its children,
    // not ours. Gone already (another thread reaped it) is dead too.
    // Bounded: SIGKILL takes effect unless the kernel holds the process.
    for (pid, _) in &cases {
        let _ = exited_within(*pid, crate::hang::scaled(PIPE_GRACE));
    }
    let me = std::process::id() as i32;
    // Bounded: a killed process's children come to us once, at its death.
    for _ in 0..64 {
        let children = procfs::children(me).unwrap_or_default();
        for &pid in &children {
            // SAFETY: plain syscalls on our own children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
            }
        }
        // The kernel's word, not /proc's listing (which can miss a child
        // while the list changes, as an orphan arrives): ECHILD only when
        // no child is left, dead or alive.
        // SAFETY: plain syscall; a null status is allowed.
        let left = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG | libc::__WALL) };
        if left == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
            break;
        }
    }
    for dir in cases.iter().map(|(_, d)| d).chain(&scratch) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// If an interrupt is being cleaned up, waits for the process to exit
/// with it (never returns then): a caller that saw its process die must not
/// report that death as its own failure, nor race the clean-up to exit.
pub fn park_if_interrupted() {
    if running().interrupted {
        wait_for_the_interrupt_exit();
    }
}

/// A directory the interrupt clean-up removes, from the moment it is made
/// (before any process that uses it starts: a Ctrl-C in between must not
/// leave it) until this guard is dropped (the directory itself stays then:
/// the caller renames or removes it).
pub struct Scratch(PathBuf);

impl Scratch {
    /// Makes `dir` (and its parents), registered.
    ///
    /// # Errors
    /// If it cannot be made.
    pub fn create(dir: &std::path::Path) -> io::Result<Scratch> {
        let mut now = running();
        if now.interrupted {
            drop(now);
            wait_for_the_interrupt_exit();
        }
        std::fs::create_dir_all(dir)?;
        now.scratch.push(dir.to_owned());
        Ok(Scratch(dir.to_owned()))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        running().scratch.retain(|d| *d != self.0);
    }
}

/// A long-lived process the program owns besides its cases (a virtual
/// machine, for `repro kernels`): alone in its process group, killed with
/// its parent (`PR_SET_PDEATHSIG`), and registered with the interrupt
/// clean-up like a case, which kills its group and removes its `scratch`
/// directory. Dropping it kills the group and forgets it; the caller reaps
/// the [`Child`] (or the drop does).
pub struct Owned {
    pub child: Child,
    pgid: i32,
}

impl Owned {
    /// Spawns `cmd` (its stdio as the caller set it) owning `scratch`.
    ///
    /// # Errors
    /// If it cannot be spawned.
    pub fn spawn(mut cmd: Command, scratch: &std::path::Path) -> io::Result<Owned> {
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut now = running();
        if now.interrupted {
            drop(now);
            wait_for_the_interrupt_exit();
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        now.cases.push((pgid, scratch.to_owned()));
        Ok(Owned { child, pgid })
    }

    /// Kills its process group now (a deadline passed) and reaps it.
    pub fn kill(&mut self) {
        killpg(self.pgid);
        let _ = self.child.wait();
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        killpg(self.pgid);
        let _ = self.child.wait();
        running().cases.retain(|(g, _)| *g != self.pgid);
    }
}

/// Kills the process group if the supervisor unwinds before reaping it.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        killpg(self.0);
    }
}

fn killpg(pgid: i32) {
    // SAFETY: plain syscall; ESRCH (group already gone) is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Whether any process, a zombie included, is still in group `pgid`: signal
/// 0 to the group fails with ESRCH only when it has no member at all.
fn group_has_members(pgid: i32) -> bool {
    // SAFETY: plain syscall; signal 0 only checks.
    let sent = unsafe { libc::kill(-pgid, 0) };
    sent == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Makes this process a child subreaper: orphans among its descendants are
/// re-parented to it, not to init, so [`run`] can kill and reap them.
///
/// Process-wide and permanent, so [`run`] never does it behind its caller's
/// back: the program that supervises (the `repro` binary) calls it once at
/// start. A subreaper must reap what it is given; a test process, which does
/// not, should not call it.
pub fn become_subreaper() {
    set_subreaper(true);
}

/// Sets or clears this process's child-subreaper attribute (clear it while
/// running something that expects orphans to go to init, as `cargo test`
/// timed by `repro bench`).
pub fn set_subreaper(on: bool) {
    // SAFETY: plain syscall on this process. Failure only means orphans go to
    // init instead of to us; the process-group kill still reaches them.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on));
    }
}

/// Waits for `child` to exit or for `timeout` to pass, whichever is first.
/// `None` means time ran out.
fn wait_exit(child: &mut Child, timeout: Duration) -> io::Result<Option<Exit>> {
    if !exited_within(child.id() as i32, timeout)? {
        return Ok(None);
    }
    let status = child.wait()?;
    Ok(Some(match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(sig)) => Exit::Signal(sig),
        (None, None) => Exit::Code(-1),
    }))
}

/// Waits until process `pid` has exited (a zombie has), or `limit` has
/// passed: an event, not a poll of /proc, through a pidfd, which the kernel
/// makes readable at the exit, after the process's orphans went to their
/// new parent. Any process of this user, not only a child. `Ok(false)`: it
/// still runs at the limit. An error if there is no such process (ESRCH:
/// gone, reaped already) or no pidfd.
///
/// # Errors
/// As above.
pub fn exited_within(pid: i32, limit: Duration) -> io::Result<bool> {
    let pidfd = pidfd_open(pid)?;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(n > 0);
    }
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the kernel hands us a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Kills what is left of the group, reaps it (its orphans were re-parented
/// to us), and returns what was found alive: the leak.
///
/// Only the group is searched, never "all our children", so that several
/// supervisors can run side by side in one process (as unit tests do). A
/// descendant that left the group with `setsid` is out of reach here; the
/// pipe check in [`run`] still notices it if it kept stdout or stderr.
fn reap_group_and_orphans(pgid: i32) -> Vec<Snapshot> {
    let mut leaked: Vec<Snapshot> = Vec::new();
    // Bounded: each round kills everything it sees, and a killed process is
    // re-parented to us at most once.
    for _ in 0..64 {
        // Most cases end with nothing left in the group: one syscall says
        // so, where the search reads every process's stat (about a
        // millisecond of CPU per case).
        if !group_has_members(pgid) {
            break;
        }
        let pids = procfs::group_members(pgid);
        if pids.is_empty() {
            break;
        }
        for &pid in &pids {
            if let Some(s) = procfs::snapshot(pid)
                && s.state != "Z"
                && !leaked.iter().any(|l| l.pid == pid)
            {
                leaked.push(s);
            }
        }
        killpg(pgid);
        for &pid in &pids {
            // SAFETY: plain syscall. ECHILD for a member that is not (yet)
            // our child is expected: it is re-parented to us when its own
            // parent dies, and the next round reaps it.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
            }
        }
    }
    leaked
}

/// Kills and reaps every child of this process: descendants that left
/// their group (`setsid`) and were re-parented here when their parent died.
/// Returns the live ones (zombies are just reaped). Only in a subreaper (any
/// other process has no such children), and only while no other case runs:
/// a child of a running case may be one of its own, or its scenario process
/// in the instant between fork and `setpgid`, and with cases side by side a
/// stray cannot be told apart from them. With `--jobs`, strays are therefore
/// found when the last running case ends, and reported by it.
fn reap_strays() -> Vec<Snapshot> {
    if !is_subreaper() {
        return Vec::new();
    }
    let me = std::process::id() as i32;
    let mut strays = Vec::new();
    for _ in 0..64 {
        let now = running();
        if !now.cases.is_empty() || now.interrupted {
            break;
        }
        let found: Vec<i32> = procfs::children(me).unwrap_or_default();
        drop(now);
        if found.is_empty() {
            break;
        }
        for pid in found {
            if let Some(s) = procfs::snapshot(pid)
                && s.state != "Z"
            {
                strays.push(s);
            }
            // SAFETY: plain syscalls on our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
            }
        }
    }
    strays
}

fn is_subreaper() -> bool {
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through the pointer.
    unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &raw mut flag) == 0 && flag != 0 }
}

type Drained = mpsc::Receiver<io::Result<Vec<u8>>>;

fn drain(mut pipe: impl Read + Send + 'static) -> Drained {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let read = pipe.read_to_end(&mut buf).map(|_| buf);
        // Closed before the result is handed over: once the caller has it,
        // this pipe no longer counts among its open fds.
        drop(pipe);
        let _ = tx.send(read);
    });
    rx
}

/// The drained output, and whether the pipe was still held open.
fn collect(rx: Drained) -> (String, bool) {
    match rx.recv_timeout(crate::hang::scaled(PIPE_GRACE)) {
        Ok(Ok(buf)) => (String::from_utf8_lossy(&buf).into_owned(), false),
        Ok(Err(e)) => (format!("<unreadable: {e}>"), false),
        Err(_) => (String::new(), true),
    }
}

/// The name of signal `sig` (`SIGKILL`), or its number.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handler's write end never blocks (a burst of signals must not
    /// wedge the handler), and the reading thread's end does.
    #[test]
    fn the_interrupt_pipe_write_end_is_nonblocking() {
        clean_up_on_interrupt().unwrap();
        let w = INTERRUPT_PIPE.load(Ordering::SeqCst);
        let flags = |fd: i32| {
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
            let octal = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .unwrap()
                .trim()
                .to_owned();
            i32::from_str_radix(&octal, 8).unwrap()
        };
        assert_ne!(flags(w) & libc::O_NONBLOCK, 0, "the write end blocks");
    }

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn reports_exit_code_and_output() {
        let f = run(sh("echo out; echo err >&2; exit 3"), Duration::from_secs(5)).unwrap();
        assert_eq!(f.exit, Exit::Code(3));
        assert_eq!((f.stdout.as_str(), f.stderr.as_str()), ("out\n", "err\n"));
        assert!(f.hung.is_empty() && f.leaked.is_empty() && !f.pipe_held_open);
    }

    #[test]
    fn tells_the_scenario_its_deadline() {
        let f = run(sh("echo $REPRO_DEADLINE_S"), Duration::from_millis(7500)).unwrap();
        assert_eq!(f.stdout.trim(), "7.500");
    }

    #[test]
    fn reports_death_by_signal() {
        let f = run(sh("kill -SEGV $$"), Duration::from_secs(5)).unwrap();
        assert_eq!(f.exit, Exit::Signal(libc::SIGSEGV));
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
    }

    #[test]
    fn hung_group_is_snapshotted_killed_and_reaped() {
        become_subreaper(); // the orphaned `sleep` comes back to be reaped
        // The shell blocks in wait(), its background child in nanosleep.
        let f = run(sh("sleep 1000 & wait"), Duration::from_millis(300));
        let f = f.unwrap();
        assert_eq!(f.exit, Exit::TimedOut);
        assert!(f.hung.len() >= 2, "{:?}", f.hung);
        for s in &f.hung {
            assert!(procfs::stat(s.pid).is_err(), "{} still alive", s.pid);
        }
    }

    #[test]
    fn leftover_grandchild_is_a_reported_leak() {
        become_subreaper();
        let f = run(
            sh("sleep 1000 >/dev/null 2>&1 & exit 0"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(f.exit, Exit::Code(0));
        assert_eq!(f.leaked.len(), 1, "{:?}", f.leaked);
        assert!(procfs::stat(f.leaked[0].pid).is_err());
    }
}
