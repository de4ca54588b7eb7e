//! Probes into `/proc/<pid>`: the evidence the scenarios show.
//!
//! Everything here reads one small text file and parses it; nothing keeps
//! state. A process can exit between two reads, so every probe returns an
//! `io::Result` and callers decide whether a vanished process matters.
//!
//! * [`epoll_targets`]: the fds registered in an epoll instance, from
//!   `fdinfo`'s `tfd:` lines. This is how `shared-epoll` proves that the
//!   parent's epoll holds an fd the parent never registered. The `data:` field
//!   is user data (Python's selectors store the fd there, other code does
//!   not), so only `tfd` and `events` are relied upon.
//! * [`stat`], [`wchan`], [`syscall`]: where a process is and what it waits
//!   for; the supervisor snapshots them for a hung process group, and the
//!   deadlock scenarios use them to see a child blocked in `futex`.
//! * [`children`]: direct children, for reaping orphans and leak checks.

use std::fs;
use std::io;

/// One registration in an epoll instance, as `fdinfo` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpollTarget {
    /// The fd number *in the process that registered it*.
    pub tfd: i32,
    /// The event mask (`EPOLLIN` = 0x1, …).
    pub events: u32,
}

/// Parses the `tfd:` lines of an epoll fd's fdinfo text.
pub fn parse_epoll_fdinfo(text: &str) -> Vec<EpollTarget> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "tfd:" {
                return None;
            }
            let tfd = words.next()?.parse().ok()?;
            let mut events = None;
            while let Some(key) = words.next() {
                if key == "events:" {
                    events = u32::from_str_radix(words.next()?, 16).ok();
                }
            }
            Some(EpollTarget {
                tfd,
                events: events?,
            })
        })
        .collect()
}

/// The registrations of epoll fd `fd` of process `pid`.
///
/// # Errors
/// If the process or fd is gone, or the file cannot be read.
pub fn epoll_targets(pid: i32, fd: i32) -> io::Result<Vec<EpollTarget>> {
    fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).map(|t| parse_epoll_fdinfo(&t))
}

/// The fields of `/proc/<pid>/stat` the harness uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name, without the parentheses.
    pub comm: String,
    /// `R` running, `S` sleeping, `D` disk sleep, `Z` zombie, `T` stopped, …
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// User-mode CPU time, in clock ticks.
    pub utime: u64,
    /// Kernel-mode CPU time, in clock ticks.
    pub stime: u64,
    /// Threads in the process (`num_threads`).
    pub threads: u64,
    /// When it started, in clock ticks after boot: with the pid, which
    /// process this is (a pid comes back).
    pub starttime: u64,
}

/// Parses the text of `/proc/<pid>/stat`. The command name may contain
/// spaces and parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15,
    // num_threads 20, starttime 22.
    Some(Stat {
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgrp: rest.get(2)?.parse().ok()?,
        utime: rest.get(11)?.parse().ok()?,
        stime: rest.get(12)?.parse().ok()?,
        threads: rest.get(17)?.parse().ok()?,
        starttime: rest.get(19)?.parse().ok()?,
    })
}

/// `/proc/<pid>/stat`.
///
/// # Errors
/// If the process is gone or the file does not parse.
pub fn stat(pid: i32) -> io::Result<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc/<pid>/stat"))
}

/// `/proc/<pid>/wchan`: the kernel function the process sleeps in
/// (`futex_wait_queue`, `do_epoll_wait`, …), or `0` when running.
///
/// # Errors
/// If the process is gone.
pub fn wchan(pid: i32) -> io::Result<String> {
    fs::read_to_string(format!("/proc/{pid}/wchan")).map(|s| s.trim().to_owned())
}

/// [`wchan`] of one thread of `pid`.
///
/// # Errors
/// If the thread is gone.
pub fn thread_wchan(pid: i32, tid: i32) -> io::Result<String> {
    fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan")).map(|s| s.trim().to_owned())
}

/// The syscall the process is blocked in, by number, from
/// `/proc/<pid>/syscall` (`None` when it is running, or when the kernel
/// hides it from this user).
///
/// # Errors
/// If the process is gone.
pub fn syscall(pid: i32) -> io::Result<Option<i64>> {
    let text = fs::read_to_string(format!("/proc/{pid}/syscall"))?;
    Ok(text.split_whitespace().next().and_then(|w| w.parse().ok()))
}

/// The time `pid` (its main thread) has spent on a CPU so far, from the
/// first field of `/proc/<pid>/schedstat` (nanoseconds).
///
/// # Errors
/// If the process is gone, or the kernel has no schedstat (no
/// `CONFIG_SCHED_INFO`).
pub fn cpu_time(pid: i32) -> io::Result<std::time::Duration> {
    let text = fs::read_to_string(format!("/proc/{pid}/schedstat"))?;
    text.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .map(std::time::Duration::from_nanos)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable schedstat"))
}

/// The fds of `pid` that refer to `target`, as `/proc/<pid>/fd/<n>` links
/// name it (`pipe:[1234]`, `socket:[5678]`, a path), sorted: who holds an
/// inherited fd open.
///
/// # Errors
/// If the process is gone or its fds are hidden from this user.
pub fn fds_to(pid: i32, target: &str) -> io::Result<Vec<i32>> {
    let mut fds = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        // An fd closed while we look is simply not held.
        let held = fs::read_link(entry.path()).is_ok_and(|l| l.as_os_str() == target);
        if let Some(fd) = held
            .then(|| entry.file_name().to_str()?.parse().ok())
            .flatten()
        {
            fds.push(fd);
        }
    }
    fds.sort_unstable();
    Ok(fds)
}

/// The direct children of `pid`, from every thread's `children` file.
///
/// # Errors
/// If the process is gone.
pub fn children(pid: i32) -> io::Result<Vec<i32>> {
    let mut out = Vec::new();
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("children");
        if let Ok(text) = fs::read_to_string(path) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|w| w.parse::<i32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Every process whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| stat(pid).is_ok_and(|s| s.pgrp == pgid))
        .collect();
    pids.sort_unstable();
    pids
}

/// A snapshot of where a process is: the evidence for a hang.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    /// The process id (for reporting only: the kernel reuses pids).
    pub pid: i32,
    /// Its parent.
    pub ppid: i32,
    /// Its command name.
    pub comm: String,
    /// Its state letter.
    pub state: String,
    /// The kernel function it sleeps in.
    pub wchan: String,
    /// The syscall number it is blocked in, if any.
    pub syscall: Option<i64>,
}

/// Snapshots `pid`, or `None` if it is gone.
pub fn snapshot(pid: i32) -> Option<Snapshot> {
    let st = stat(pid).ok()?;
    Some(Snapshot {
        pid,
        ppid: st.ppid,
        comm: st.comm,
        state: st.state.to_string(),
        wchan: wchan(pid).unwrap_or_default(),
        syscall: syscall(pid).ok().flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_while_this_thread_works() {
        // This thread's own entry (/proc/<tid>/schedstat): the test runs on
        // a thread of the test binary, and the main thread, whose entry the
        // process id names, idles meanwhile.
        let me = nix::unistd::gettid().as_raw();
        let before = cpu_time(me).unwrap();
        // The main thread has run (this thread may not have been counted yet).
        assert!(cpu_time(std::process::id() as i32).unwrap() > std::time::Duration::ZERO);
        // Work until the kernel has counted some of it: a scheduler tick or
        // a switch away, milliseconds (bounded at a second all the same).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_time(me).unwrap() == before && start.elapsed().as_secs() < 1 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(cpu_time(me).unwrap() > before, "{x}");
        assert!(cpu_time(i32::MAX).is_err());
    }

    #[test]
    fn fds_to_names_the_fds_of_a_pipe() {
        use std::os::fd::AsRawFd;
        let (r, w) = nix::unistd::pipe().unwrap();
        let inode = nix::sys::stat::fstat(&r).unwrap().st_ino;
        let me = std::process::id() as i32;
        let mut both = vec![r.as_raw_fd(), w.as_raw_fd()];
        both.sort_unstable();
        assert_eq!(fds_to(me, &format!("pipe:[{inode}]")).unwrap(), both);
        drop(w);
        assert_eq!(
            fds_to(me, &format!("pipe:[{inode}]")).unwrap(),
            [r.as_raw_fd()]
        );
        assert!(fds_to(me, "pipe:[0]").unwrap().is_empty());
    }

    #[test]
    fn parses_epoll_fdinfo() {
        let text = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n\
                    tfd:        5 events:       19 data:                5  pos:0 ino:3f1 sdev:8\n\
                    tfd:        7 events:       1 data: 7fff00000007  pos:0 ino:3f4 sdev:8\n";
        assert_eq!(
            parse_epoll_fdinfo(text),
            vec![
                EpollTarget {
                    tfd: 5,
                    events: 0x19
                },
                EpollTarget {
                    tfd: 7,
                    events: 0x1
                }
            ]
        );
        assert!(parse_epoll_fdinfo("pos:\t0\nflags:\t02\n").is_empty());
    }

    #[test]
    fn parses_stat_with_awkward_comm() {
        let text = "42 (a) b) (c) S 1 42 42 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 3 0 5551 1 1";
        let st = parse_stat(text).unwrap();
        assert_eq!(st.comm, "a) b) (c");
        assert_eq!(
            (st.state, st.ppid, st.pgrp, st.utime, st.stime, st.threads),
            ('S', 1, 42, 7, 3, 3)
        );
        assert_eq!(st.starttime, 5551);
    }

    #[test]
    fn probes_this_process() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap();
        // The main thread is the one /proc/<pid>/stat shows; it waits for
        // this test's thread.
        assert!("RS".contains(st.state), "{st:?}");
        assert_eq!(st.ppid, nix::unistd::getppid().as_raw());
        // The main thread and this test's.
        assert!(st.threads >= 2, "{st:?}");
        assert!(snapshot(me).is_some());
        assert!(children(me).is_ok());
    }
}
