//! Detecting a deadlocked child, instead of waiting it out.
//!
//! # Why this is hard
//!
//! A child that deadlocks never says so. Waiting "long enough" is both slow
//! (CPython's own fork tests poll for up to 7 s) and wrong (a loaded machine
//! makes any window too short). But a deadlocked process leaves traces that
//! can be read at any moment: it is asleep (state `S`), in a futex wait
//! (`/proc/<pid>/syscall`), on the same futex word, with the same stack and
//! program counter, sample after sample, and it has stopped reporting
//! progress.
//!
//! [`watch`] combines both signals. The child writes progress messages to a
//! pipe (the last one before the lock, say `locking`). The parent waits on
//! that pipe with a short poll timeout, and each timeout is one look at
//! `/proc`. It is [`Watched::Finished`] when the pipe reaches EOF (the child
//! exited or closed it). It is [`Watched::Deadlocked`] on either of two
//! grounds ([`Proof`]):
//!
//! - **A lone waiter** ([`Proof::LoneWaiter`]), proved in two looks: the
//!   process has one thread, and that thread sleeps in an untimed, private
//!   futex wait (`FUTEX_WAIT` or `FUTEX_WAIT_BITSET` with
//!   `FUTEX_PRIVATE_FLAG` and no timeout), the same in both looks, without
//!   having run in between (`/proc/<pid>/schedstat` unchanged). A private
//!   futex can be woken only by a thread of the same process, there is no
//!   other, and no timeout will end the wait: nothing can. (A signal could
//!   interrupt it, and a handler could release the lock; nobody sends one
//!   here, and a forked child inherits no alarm or interval timer that
//!   would.) This is the shape of every fork-while-locked child (after
//!   `fork()` the child has one thread; the lock's owner was not copied),
//!   so its verdict comes a millisecond or two after the child blocks
//!   instead of 30.
//! - **A stable wait** ([`Proof::Stable`]), for everything else (a timed
//!   wait, a futex shared with another process, more threads):
//!   [`STABLE_SAMPLES`] consecutive samples, [`SAMPLE_EVERY`] apart, show the
//!   child asleep in a futex syscall with an identical `syscall` line and no
//!   progress in between. A busy or merely slow child never matches: it
//!   moves, or it runs.
//!
//! The looks come quickly after a progress message (every [`LOOK_EVERY`]),
//! then slow down to [`SAMPLE_EVERY`] as the child stays quiet
//! ([`look_after`]), so a child that blocks at once is seen at once and one
//! that works quietly for long is not read a thousand times a second.
//!
//! A thread in a *timed* wait comes out of it and goes back: CPython's GIL
//! wait returns every 5 ms to ask the holder to let go, so a child that
//! waits for a GIL whose holder does not exist (the native-fork case) is
//! out of its futex now and then, for microseconds. A sample that catches
//! it there does not restart the count if the thread has spent less than
//! [`WAKE_CPU_BUDGET`] on a CPU since the first identical sample
//! (`/proc/<pid>/schedstat`): it woke, did nothing and went back to the
//! same wait. A thread that works spends more, and restarts the count, as
//! does any sample that shows another wait.
//!
//! `wchan` is kept as supporting evidence only: its names differ across
//! kernels. When `/proc/<pid>/syscall` is unreadable (some hardened kernels),
//! a `wchan` containing `futex` stands in for it (for a stable wait only:
//! a lone waiter needs the syscall's arguments).

use crate::procfs;
use crate::scenario::Observation;
use serde_json::json;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Time between two samples of a stable wait, and the longest time between
/// two looks while the child is quiet.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);
/// The shortest time between two looks: right after a progress message.
pub const LOOK_EVERY: Duration = Duration::from_millis(1);
/// Consecutive identical futex-wait samples that make a deadlock.
pub const STABLE_SAMPLES: usize = 3;
/// CPU time a thread may spend, from the first of a run of identical
/// futex-wait samples, and still count as waiting when a sample finds it
/// out of the wait: a timed wait's wake-ups take microseconds each.
pub const WAKE_CPU_BUDGET: Duration = Duration::from_millis(1);
/// Past this, a child that neither finishes nor blocks is reported as
/// undecided (the supervisor's watchdog remains the outer bound), when no
/// deadline is known.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// The environment variable in which the supervisor tells a scenario
/// process its watchdog's deadline, in seconds (`repro run --timeout`).
pub const DEADLINE_ENV: &str = "REPRO_DEADLINE_S";

/// The environment variable that slows every deadline down by one factor
/// (a positive number; 1 without it): the watchdog, the give-up below (half
/// the watchdog's, passed on in [`DEADLINE_ENV`]), the supervisor's grace
/// for a held pipe, and `repro bench`'s targets. `repro kernels` sets it in
/// a guest without hardware acceleration, where everything runs 6 to 20
/// times slower: a slow platform must never turn a verdict into `hung` or
/// `error`.
pub const TIME_FACTOR_ENV: &str = "REPRO_TIME_FACTOR";

/// The largest time factor: 1000 times the longest deadline `repro`
/// accepts (a week) still fits a `Duration`, and no real platform is that
/// slow.
pub const MAX_TIME_FACTOR: f64 = 1000.0;

/// A time factor, from its text: a number above 0 and at most
/// [`MAX_TIME_FACTOR`]. The one check for `REPRO_TIME_FACTOR` and
/// `repro kernels --time-factor`.
///
/// # Errors
/// A message that says what is valid.
pub fn parse_time_factor(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0 && *f <= MAX_TIME_FACTOR)
        .ok_or_else(|| format!("not a number above 0 and at most {MAX_TIME_FACTOR}"))
}

/// The factor of [`TIME_FACTOR_ENV`].
///
/// # Errors
/// A message when it is set but not a number [`parse_time_factor`] takes.
pub fn time_factor() -> Result<f64, String> {
    match std::env::var(TIME_FACTOR_ENV) {
        Err(_) => Ok(1.0),
        Ok(s) => parse_time_factor(&s).map_err(|e| format!("{TIME_FACTOR_ENV}={s:?}: {e}")),
    }
}

/// `d` times the time factor (1 when [`TIME_FACTOR_ENV`] is unusable:
/// `repro` refuses to start then, see `main`).
pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(time_factor().unwrap_or(1.0))
}

/// When a watch gives up: half the watchdog's deadline (so a slow platform
/// given a longer `--timeout`, such as a free-threaded build under load,
/// is watched for longer too, and the watchdog stays the outer bound);
/// [`GIVE_UP_AFTER`] without one (5 s: half the default 10 s).
pub fn give_up_after() -> Duration {
    std::env::var(DEADLINE_ENV)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(GIVE_UP_AFTER, |s| Duration::from_secs_f64(s / 2.0))
}

/// Samples `pid` until it sleeps (state `S`) in syscall `nr`: the proof
/// that it holds what it took before that call (a lock around a write
/// blocked on a full pipe, say). Bounded by [`give_up_after`]; returns what
/// `/proc` showed (`state S, wchan pipe_write, syscall 1`), for evidence.
///
/// # Errors
/// If the process is gone, or never blocked there in time.
pub fn wait_until_blocked_in(pid: i32, nr: i64) -> io::Result<String> {
    let start = Instant::now();
    let give_up = give_up_after();
    while start.elapsed() < give_up {
        if procfs::stat(pid)?.state == 'S' && procfs::syscall(pid)? == Some(nr) {
            return Ok(format!(
                "state S, wchan {}, syscall {nr}",
                procfs::wchan(pid).unwrap_or_default()
            ));
        }
        // The sampling interval, as in `watch`.
        std::thread::sleep(SAMPLE_EVERY / 5);
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("process {pid} never blocked in syscall {nr} within {give_up:?}"),
    ))
}

/// A duration in milliseconds, to 0.1 ms: for evidence.
pub fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The futex-family syscall numbers on this architecture.
pub fn is_futex_syscall(nr: i64) -> bool {
    // futex; futex_waitv (449) and futex_wait (454) have the same number on
    // every architecture that has them.
    nr == libc::SYS_futex || nr == 449 || nr == 454
}

/// One look at the child.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    /// Milliseconds since the child's last progress message.
    pub quiet_ms: u64,
    /// State letter from `stat`.
    pub state: String,
    /// The raw `/proc/<pid>/syscall` line (number, six arguments, sp, pc).
    pub syscall: String,
    /// `wchan` (supporting evidence).
    pub wchan: String,
    /// Time on a CPU so far (`/proc/<pid>/schedstat`), where readable.
    #[serde(skip)]
    pub cpu: Option<Duration>,
    /// Threads in the process (`/proc/<pid>/stat`).
    pub threads: u64,
}

impl Sample {
    /// Whether this sample shows a thread asleep in a futex wait. `wchan`
    /// stands in only when the `syscall` file could not be read: `running`
    /// (the thread ran between the reads of `stat` and `syscall`) is not a
    /// wait.
    pub fn in_futex_wait(&self) -> bool {
        let first = self.syscall.split_whitespace().next();
        self.state == "S"
            && match first {
                None => self.wchan.contains("futex"),
                Some(word) => word.parse().is_ok_and(is_futex_syscall),
            }
    }

    /// The futex word the child waits on (the syscall's first argument).
    pub fn futex_addr(&self) -> Option<u64> {
        self.arg(1)
    }

    /// Argument `n` (1 to 6) of the syscall line.
    fn arg(&self, n: usize) -> Option<u64> {
        let arg = self.syscall.split_whitespace().nth(n)?;
        u64::from_str_radix(arg.strip_prefix("0x")?, 16).ok()
    }

    /// Whether this sample shows a thread asleep in a wait only its own
    /// process can end: `futex(addr, FUTEX_WAIT or FUTEX_WAIT_BITSET,
    /// with FUTEX_PRIVATE_FLAG, val, NULL)`. Private: the kernel keys the
    /// wait on this process's memory, so only its own threads can wake it
    /// (a futex shared between processes, such as a `multiprocessing` lock,
    /// is not). Untimed: the timeout pointer is NULL, so no clock ends it.
    pub fn in_untimed_private_wait(&self) -> bool {
        const FUTEX_WAIT: u64 = 0;
        const FUTEX_WAIT_BITSET: u64 = 9;
        const FUTEX_PRIVATE_FLAG: u64 = 128;
        const FUTEX_CLOCK_REALTIME: u64 = 256;
        let nr = self.syscall.split_whitespace().next();
        let (Some(op), Some(timeout)) = (self.arg(2), self.arg(4)) else {
            return false;
        };
        self.state == "S"
            && nr.and_then(|w| w.parse::<i64>().ok()) == Some(libc::SYS_futex)
            && op & FUTEX_PRIVATE_FLAG != 0
            && [FUTEX_WAIT, FUTEX_WAIT_BITSET]
                .contains(&(op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)))
            && timeout == 0
    }
}

/// Whether two consecutive looks, `before` then `now`, prove the process
/// can never leave its wait (see [`Proof::LoneWaiter`]): the same untimed
/// private futex wait in both, no CPU time spent between them (so the
/// thread slept throughout, including when `now` counted the threads), and
/// one thread.
pub fn lone_waiter(before: &Sample, now: &Sample) -> bool {
    before.in_untimed_private_wait()
        && now.in_untimed_private_wait()
        && before.syscall == now.syscall
        && before.cpu.is_some()
        && before.cpu == now.cpu
        && now.threads == 1
}

/// How long to wait for progress before the next look, when the child has
/// been quiet for `quiet`: half of it, from [`LOOK_EVERY`] up to
/// [`SAMPLE_EVERY`].
pub fn look_after(quiet: Duration) -> Duration {
    (quiet / 2).clamp(LOOK_EVERY, SAMPLE_EVERY)
}

fn sample(pid: i32, quiet: Duration) -> Option<Sample> {
    let stat = procfs::stat(pid).ok()?;
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    Some(Sample {
        quiet_ms: quiet.as_millis() as u64,
        state: stat.state.to_string(),
        syscall: syscall.trim().to_owned(),
        wchan: procfs::wchan(pid).unwrap_or_default(),
        cpu: procfs::cpu_time(pid).ok(),
        threads: stat.threads,
    })
}

/// A run of identical futex-wait samples: the deadlock's evidence, as it
/// builds up.
#[derive(Debug, Default)]
struct Stable {
    samples: Vec<Sample>,
}

impl Stable {
    /// Takes one more sample; true once [`STABLE_SAMPLES`] identical
    /// futex-wait samples have been seen with nothing in between but
    /// wake-ups (see the module's doc).
    fn observe(&mut self, now: Sample) -> bool {
        if now.in_futex_wait() {
            if self
                .samples
                .last()
                .is_some_and(|l| l.syscall != now.syscall)
            {
                self.samples.clear();
            }
            self.samples.push(now);
        } else if !self.only_woke(&now) {
            self.samples.clear();
        }
        self.samples.len() >= STABLE_SAMPLES
    }

    /// Whether the thread, found out of its wait, has spent less than
    /// [`WAKE_CPU_BUDGET`] on a CPU since the run began (unknown: no).
    fn only_woke(&self, now: &Sample) -> bool {
        let first = self.samples.first().and_then(|s| s.cpu);
        match (first, now.cpu) {
            (Some(first), Some(now)) => now.saturating_sub(first) < WAKE_CPU_BUDGET,
            _ => false,
        }
    }
}

/// Why a child was found deadlocked (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Its only thread sleeps in an untimed private futex wait: nothing
    /// can wake it. Two looks.
    LoneWaiter,
    /// The same futex wait across [`STABLE_SAMPLES`] samples
    /// [`SAMPLE_EVERY`] apart.
    Stable,
}

impl Proof {
    /// What the parent saw, for a timeline: `"... : deadlocked"`.
    pub fn seen(self) -> &'static str {
        match self {
            Proof::LoneWaiter => "child's only thread asleep in an untimed private futex wait",
            Proof::Stable => "child asleep in futex, unchanged",
        }
    }
}

/// How watching ended.
#[derive(Debug)]
pub enum Watched {
    /// The progress pipe reached EOF: the child exited (reap it to see how).
    Finished {
        /// Every progress message, in order.
        progress: Vec<String>,
    },
    /// The child is deadlocked.
    Deadlocked {
        /// Every progress message, in order; the last one is where it stopped.
        progress: Vec<String>,
        /// The samples that decided it: the two looks of a lone waiter, or
        /// the last [`STABLE_SAMPLES`] of a stable wait.
        samples: Vec<Sample>,
        /// Which rule decided it.
        proof: Proof,
        /// From the last progress message to the verdict.
        blocked_to_verdict: Duration,
    },
    /// Neither, within [`GIVE_UP_AFTER`].
    Undecided {
        /// Every progress message, in order.
        progress: Vec<String>,
        /// The last sample.
        last: Option<Sample>,
    },
}

impl Watched {
    /// Which rule found the deadlock; `None` if there was none.
    pub fn proof(&self) -> Option<Proof> {
        match self {
            Watched::Deadlocked { proof, .. } => Some(*proof),
            _ => None,
        }
    }

    /// Notes what watching found into `obs` (the child's progress; for a
    /// deadlock, where it sits and how long the verdict took, and
    /// `obs.symptom = Some(symptom)`). Returns the deciding sample if the
    /// child deadlocked, `None` if it finished.
    ///
    /// # Errors
    /// [`Watched::Undecided`]: the child neither finished nor blocked, so
    /// there is no verdict to give.
    pub fn note(
        &self,
        obs: &mut Observation,
        pid: i32,
        symptom: &'static str,
    ) -> Result<Option<&Sample>, String> {
        match self {
            Watched::Finished { progress } => {
                obs.note(json!({ "child_progress": progress }));
                Ok(None)
            }
            Watched::Deadlocked {
                progress,
                samples,
                proof,
                blocked_to_verdict,
            } => {
                obs.symptom = Some(symptom);
                obs.note(json!({ "child_progress": progress }));
                let last = samples.last().expect("a deadlock is decided by samples");
                let why = match proof {
                    Proof::LoneWaiter => "its only thread, in an untimed private wait: \
                                          nothing left in the process can wake it"
                        .to_owned(),
                    Proof::Stable => format!("unchanged across {} samples", samples.len()),
                };
                obs.note(format!(
                    "child {pid} stopped after {:?} and sits in a futex wait on {:#x} \
                     (state {}, wchan {}), {why}",
                    progress.last().map_or("", String::as_str),
                    last.futex_addr().unwrap_or(0),
                    last.state,
                    last.wchan,
                ));
                obs.note(json!({ "blocked_to_verdict_ms": round_ms(*blocked_to_verdict) }));
                Ok(Some(last))
            }
            Watched::Undecided { progress, last } => Err(format!(
                "child {pid} neither finished nor blocked within {:?}: \
                 progress {progress:?}, last sample {last:?}",
                give_up_after()
            )),
        }
    }
}

/// Watches child `pid`, whose progress messages (lines) arrive on
/// `progress`, until it finishes or deadlocks.
///
/// # Errors
/// If polling or reading the pipe fails.
pub fn watch(pid: i32, progress: impl AsFd) -> io::Result<Watched> {
    let fd = progress.as_fd();
    let start = Instant::now();
    let give_up = give_up_after();
    let mut last_progress = Instant::now();
    let mut messages: Vec<String> = Vec::new();
    let mut partial = Vec::new();
    let mut stable = Stable::default();
    // The previous look since the last progress, and when the stable rule
    // takes its next sample.
    let mut before: Option<Sample> = None;
    let mut next_stable = last_progress + SAMPLE_EVERY;
    loop {
        if start.elapsed() > give_up {
            let last = sample(pid, last_progress.elapsed());
            return Ok(Watched::Undecided {
                progress: messages,
                last,
            });
        }
        // The next look: soon after progress, and never later than the
        // stable rule's next sample.
        let due = next_stable.saturating_duration_since(Instant::now());
        if readable_within(fd, look_after(last_progress.elapsed()).min(due))? {
            let mut buf = [0u8; 512];
            let n = match nix::unistd::read(fd, &mut buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(Watched::Finished { progress: messages });
            }
            partial.extend_from_slice(&buf[..n]);
            while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = partial.drain(..=end).collect();
                messages.push(String::from_utf8_lossy(&line).trim().to_owned());
            }
            last_progress = Instant::now();
            stable = Stable::default();
            before = None;
            next_stable = last_progress + SAMPLE_EVERY;
            continue;
        }
        let Some(now) = sample(pid, last_progress.elapsed()) else {
            // Gone without closing the pipe: it cannot have, so it is a
            // zombie whose pipe another process still holds. Finished.
            return Ok(Watched::Finished { progress: messages });
        };
        let deadlocked = |samples, proof| Watched::Deadlocked {
            progress: messages.clone(),
            samples,
            proof,
            blocked_to_verdict: last_progress.elapsed(),
        };
        if let Some(b) = before.take().filter(|b| lone_waiter(b, &now)) {
            return Ok(deadlocked(vec![b, now], Proof::LoneWaiter));
        }
        before = Some(now.clone());
        if Instant::now() >= next_stable {
            next_stable = Instant::now() + SAMPLE_EVERY;
            if stable.observe(now) {
                return Ok(deadlocked(stable.samples, Proof::Stable));
            }
        }
    }
}

fn readable_within(fd: BorrowedFd<'_>, wait: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // Whole milliseconds, rounded up: poll never returns before `wait`.
    let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    match n {
        -1 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(state: &str, syscall: &str) -> Sample {
        Sample {
            quiet_ms: 0,
            state: state.into(),
            syscall: syscall.into(),
            wchan: String::new(),
            cpu: None,
            threads: 1,
        }
    }

    /// A sample with its CPU time so far, in microseconds.
    fn at(state: &str, syscall: &str, cpu_us: u64) -> Sample {
        Sample {
            cpu: Some(Duration::from_micros(cpu_us)),
            ..s(state, syscall)
        }
    }

    #[test]
    fn a_timed_wait_that_only_wakes_is_still_a_deadlock_and_work_is_not() {
        let nr = libc::SYS_futex;
        let wait = format!("{nr} 0x7f884774e6f0 0x89 0x0 0x0 0x7ffd 0x0 0x7ffd 0x7f12");
        let other = format!("{nr} 0x7f884774e6f4 0x89 0x0 0x0 0x7ffd 0x0 0x7ffd 0x7f12");
        // Out of the wait twice, for microseconds each: three identical
        // waits are a deadlock.
        let mut stable = Stable::default();
        let woke = [
            at("S", &wait, 100),
            at("R", "running", 130),
            at("S", &wait, 160),
            at("R", "running", 190),
        ];
        assert!(woke.into_iter().all(|x| !stable.observe(x)));
        assert!(stable.observe(at("S", &wait, 220)));
        // The thread worked (2 ms on a CPU) while out of the wait: the run
        // starts again.
        let mut stable = Stable::default();
        for x in [
            at("S", &wait, 100),
            at("S", &wait, 110),
            at("R", "running", 2_110),
            at("S", &wait, 2_120),
            at("S", &wait, 2_130),
        ] {
            assert!(!stable.observe(x));
        }
        assert!(stable.observe(at("S", &wait, 2_140)));
        // Another wait, or a CPU time that cannot be read: it starts again.
        let mut stable = Stable::default();
        for x in [
            at("S", &wait, 100),
            at("S", &wait, 110),
            at("S", &other, 120),
            at("S", &other, 130),
            s("R", "running"),
            s("S", &other),
            s("S", &other),
        ] {
            assert!(!stable.observe(x));
        }
        assert!(stable.observe(s("S", &other)));
    }

    #[test]
    fn futex_wait_is_recognised_and_its_address_read() {
        let nr = libc::SYS_futex;
        let sample = s(
            "S",
            &format!("{nr} 0x55d5c0a0 0x80 0x2 0x0 0x0 0x0 0x7ffd 0x7f12"),
        );
        assert!(sample.in_futex_wait());
        assert_eq!(sample.futex_addr(), Some(0x55d5c0a0));
        assert!(!s("R", &format!("{nr} 0x1 0x80 0x2 0x0 0x0 0x0 0x7ffd 0x7f12")).in_futex_wait());
        assert!(!s("S", "0 0x3 0x7ffd 0x1 0x0 0x0 0x0 0x7ffd 0x7f12").in_futex_wait());
        assert!(!s("R", "running").in_futex_wait());
        // Asleep when stat was read, running when syscall was: not a wait,
        // whatever wchan says; wchan stands in only for an unreadable file.
        let futex_wchan = |syscall: &str| Sample {
            wchan: "futex_do_wait".into(),
            ..s("S", syscall)
        };
        assert!(!futex_wchan("running").in_futex_wait());
        assert!(futex_wchan("").in_futex_wait());
    }

    /// A futex syscall line with operation `op` and timeout pointer
    /// `timeout`.
    fn futex(op: u64, timeout: u64) -> String {
        let nr = libc::SYS_futex;
        format!("{nr} 0x55d5c0a0 {op:#x} 0x0 {timeout:#x} 0x0 0xffffffff 0x7ffd 0x7f12")
    }

    #[test]
    fn an_untimed_private_wait_is_told_from_every_other_wait() {
        // What CPython's lock (sem_wait), a Rust Mutex and glibc's
        // pthread_mutex_lock block in: FUTEX_WAIT_BITSET or FUTEX_WAIT,
        // private, no timeout (CPython's shows 0x189: with CLOCK_REALTIME).
        for op in [0x189, 0x89, 0x80] {
            assert!(s("S", &futex(op, 0)).in_untimed_private_wait(), "{op:#x}");
        }
        // A timed wait (the GIL's), a futex shared between processes (a
        // multiprocessing lock: its owner may be another process), a
        // priority-inheritance lock, a wake, a running thread, another
        // syscall, a line that cannot be read: none.
        for (state, line) in [
            ("S", futex(0x189, 0x7ffd_1000)),
            ("S", futex(0x109, 0)),
            ("S", futex(0x09, 0)),
            ("S", futex(0x86, 0)),
            ("S", futex(0x81, 0)),
            ("R", futex(0x189, 0)),
            ("S", "0 0x3 0x189 0x1 0x0 0x0 0x0 0x7ffd 0x7f12".to_owned()),
            ("S", "running".to_owned()),
            ("S", String::new()),
        ] {
            assert!(!s(state, &line).in_untimed_private_wait(), "{state} {line}");
        }
    }

    #[test]
    fn a_lone_waiter_needs_one_thread_one_wait_and_no_cpu_between_looks() {
        let wait = futex(0x189, 0);
        let look = |cpu_us, threads| Sample {
            threads,
            ..at("S", &wait, cpu_us)
        };
        assert!(lone_waiter(&look(500, 1), &look(500, 1)));
        // Another thread could wake it.
        assert!(!lone_waiter(&look(500, 1), &look(500, 2)));
        // It ran between the looks: it may have left the wait and come back.
        assert!(!lone_waiter(&look(500, 1), &look(501, 1)));
        // Its CPU time cannot be read: no proof.
        assert!(!lone_waiter(&s("S", &wait), &s("S", &wait)));
        // Another futex word between the looks.
        let other = Sample {
            syscall: wait.replace("0x55d5c0a0", "0x55d5c0a4"),
            ..look(500, 1)
        };
        assert!(!lone_waiter(&look(500, 1), &other));
        // A timed wait is never a proof, whatever else holds.
        let timed = at("S", &futex(0x189, 0x7ffd_1000), 500);
        assert!(!lone_waiter(&timed, &timed));
    }

    #[test]
    fn looks_come_quickly_after_progress_then_slow_down() {
        assert_eq!(look_after(Duration::ZERO), LOOK_EVERY);
        assert_eq!(
            look_after(Duration::from_millis(6)),
            Duration::from_millis(3)
        );
        assert_eq!(look_after(Duration::from_secs(1)), SAMPLE_EVERY);
    }
}
