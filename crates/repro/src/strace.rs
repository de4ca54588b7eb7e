//! `repro run --strace`: the syscalls that give a scenario away.
//!
//! The case's own command runs under `strace -f`, writing to a temp file.
//! Only the syscalls its `scenario.toml` names under `[strace]` are traced
//! (plus process creation, to place the fork), optionally filtered further
//! (`grep`). Each line is then labelled with its lane (the scenario process
//! is the `parent`, any other pid a `child`) and timed relative to the fork.

use harness::spec::StraceSpec;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Process creation: always traced, to find the fork.
const FORKS: &[&str] = &["clone", "clone3", "fork", "vfork"];

/// The `strace` to use, or why there is none.
///
/// # Errors
/// A message for the user: not installed, or not permitted here.
pub fn available() -> Result<PathBuf, String> {
    let strace = harness::python::which("strace".as_ref()).ok_or_else(|| {
        "--strace: strace is not installed (make setup installs it: apt-get install strace)"
            .to_owned()
    })?;
    let probe = Command::new(&strace)
        .args(["-f", "-o", "/dev/null", "--", "true"])
        .output()
        .map_err(|e| format!("--strace: cannot run {}: {e}", strace.display()))?;
    if !probe.status.success() {
        let why = String::from_utf8_lossy(&probe.stderr);
        return Err(format!(
            "--strace: strace is not permitted here ({}); ptrace may be restricted \
             (kernel.yama.ptrace_scope, a container's seccomp profile)",
            why.trim()
        ));
    }
    Ok(strace)
}

/// `cmd`, run under strace writing to `out`.
pub fn wrap(strace: &Path, cmd: &Command, spec: Option<&StraceSpec>, out: &Path) -> Command {
    let mut syscalls: Vec<&str> = FORKS.to_vec();
    if let Some(s) = spec {
        syscalls.extend(s.syscalls.iter().map(String::as_str));
    }
    let mut wrapped = crate::run::with_env_of(cmd, strace);
    wrapped
        .args(["-f", "-qq", "-ttt", "-s", "32", "-e"])
        .arg(format!("trace={}", syscalls.join(",")))
        .arg("-o")
        .arg(out)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    wrapped
}

/// The kept lines of strace's output, labelled and timed, for a terminal.
pub fn lines(text: &str, spec: Option<&StraceSpec>) -> Vec<String> {
    let raw: Vec<(i64, f64, &str)> = text
        .lines()
        .filter_map(|l| {
            // "PID TIME CALL", the pid column padded ("6831  1795604894.6").
            let (pid, rest) = l.trim_start().split_once(char::is_whitespace)?;
            let (t, call) = rest.trim_start().split_once(char::is_whitespace)?;
            Some((pid.parse().ok()?, t.parse().ok()?, call.trim()))
        })
        .collect();
    let parsed = join_split_calls(&raw);
    let parsed: Vec<(i64, f64, &str)> = parsed
        .iter()
        .map(|(p, t, c)| (*p, *t, c.as_str()))
        .collect();
    let Some(&(parent, start, _)) = parsed.first() else {
        return vec!["      (strace recorded nothing)".to_owned()];
    };
    let is_clone = |call: &str| FORKS.iter().any(|f| call.starts_with(&format!("{f}(")));
    // A new thread is a clone too, but not a fork.
    let is_thread = |call: &str| is_clone(call) && call.contains("CLONE_THREAD");
    let is_fork = |call: &str| is_clone(call) && !is_thread(call);
    let t0 = parsed
        .iter()
        .find(|(pid, _, call)| *pid == parent && is_fork(call))
        .map_or(start, |e| e.1);
    let grep = spec.map(|s| s.grep.as_slice()).unwrap_or_default();
    let mut out = vec![format!(
        "      {:>8}  {:13}  syscall (strace)",
        "t ms", "who"
    )];
    // "fork: <child pid>": the clone's result (split calls are joined).
    let fork_result = |at: usize| -> Option<String> {
        let call = parsed[at].2;
        call.rfind(" = ").map(|i| call[i + 3..].trim().to_owned())
    };
    for (at, &(pid, t, call)) in parsed.iter().enumerate() {
        let wanted = grep.is_empty() || grep.iter().any(|g| call.contains(g.as_str()));
        let keep = !is_thread(call) && (is_fork(call) || wanted);
        if !keep {
            continue;
        }
        let who = if pid == parent {
            "parent".to_owned()
        } else {
            format!("child {pid}")
        };
        let call: String = if is_fork(call) {
            let child = fork_result(at).unwrap_or_else(|| "?".to_owned());
            shorten(&format!("fork: {child}"), 80 - 31)
        } else {
            shorten(call, 80 - 31)
        };
        out.push(format!(
            "      {:>8.2}  {who:13}  {call}",
            (t - t0) * 1000.0
        ));
    }
    out
}

/// strace splits a call that another process's syscall interrupts in its
/// log: `futex(0x…, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>`, then,
/// later, `<... futex resumed>) = ?`. Each such pair is joined back into
/// one call, at its entry time, as strace writes it when nothing
/// intervenes: which of the two a run gets depends on scheduling, and what
/// is shown must not. A half whose other half is missing stays as it is.
fn join_split_calls(raw: &[(i64, f64, &str)]) -> Vec<(i64, f64, String)> {
    const UNFINISHED: &str = " <unfinished ...>";
    let mut out: Vec<(i64, f64, String)> = Vec::with_capacity(raw.len());
    let mut used = vec![false; raw.len()];
    for (at, &(pid, t, call)) in raw.iter().enumerate() {
        if used[at] {
            continue;
        }
        let Some(entry) = call.strip_suffix(UNFINISHED) else {
            out.push((pid, t, call.to_owned()));
            continue;
        };
        let name = entry.split('(').next().unwrap_or_default();
        let resumed = format!("<... {name} resumed>");
        let rest = raw[at + 1..]
            .iter()
            .position(|&(p, _, c)| p == pid && c.starts_with(&resumed))
            .map(|i| at + 1 + i);
        match rest {
            Some(i) => {
                used[i] = true;
                let tail = raw[i].2[resumed.len()..].trim_start();
                let sep = if tail.starts_with(')') || tail.starts_with(',') {
                    ""
                } else {
                    " "
                };
                out.push((pid, t, format!("{entry}{sep}{tail}")));
            }
            None => out.push((pid, t, call.to_owned())),
        }
    }
    out
}

/// `call` cut to `width` characters, keeping its result (` = -1 EAGAIN`,
/// ` = ?`): the arguments are what gets cut.
fn shorten(call: &str, width: usize) -> String {
    if call.chars().count() <= width {
        return call.to_owned();
    }
    let (head, result) = match call.rfind(" = ") {
        Some(at) => (&call[..at], &call[at..]),
        None => (call, ""),
    };
    // `= -1 EAGAIN (Resource temporarily unavailable)`: the name will do.
    let result = result.split(" (").next().unwrap_or(result);
    let room = width.saturating_sub(result.chars().count() + 1);
    let head: String = head.chars().take(room).collect();
    format!("{head}…{result}").chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_call_is_joined_back_whatever_interleaves() {
        let text = "100 5.000000 clone(child_stack=NULL, flags=SIGCHLD) = 101\n\
                    101 5.001000 futex(0x55, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>\n\
                    100 5.002000 futex(0x66, FUTEX_WAKE_PRIVATE, 1) = 0\n\
                    101 5.040000 <... futex resumed>) = ?\n\
                    101 5.041000 +++ killed by SIGKILL +++\n";
        let grep = StraceSpec {
            syscalls: vec!["futex".into()],
            grep: vec!["= ?".into(), "+++ killed".into()],
            show: Vec::new(),
        };
        let out = lines(text, Some(&grep)).join("\n");
        assert!(
            out.contains("futex(0x55, FUTEX_WAIT_PRIVATE, 2, NULL) = ?"),
            "{out}"
        );
        assert!(
            out.contains("   1.00  child 101"),
            "at its entry time: {out}"
        );
        assert!(!out.contains("resumed"), "{out}");
        assert!(!out.contains("FUTEX_WAKE"), "not kept by grep: {out}");
    }

    #[test]
    fn labels_lanes_and_times_from_the_fork() {
        let text = "100 5.000000 epoll_create1(EPOLL_CLOEXEC) = 3\n\
                    100 5.001000 clone3({flags=CLONE_VM}, 88) = 101\n\
                    101 5.002500 epoll_ctl(3, EPOLL_CTL_ADD, 7, {events=EPOLLIN}) = 0\n";
        let out = lines(text, None);
        assert!(
            out[1].contains("-1.00") && out[1].contains("parent"),
            "{out:#?}"
        );
        assert!(
            out[2].contains("0.00") && out[2].contains("fork: 101"),
            "{out:#?}"
        );
        assert!(
            out[3].contains("1.50") && out[3].contains("child 101"),
            "{out:#?}"
        );
        assert!(out.iter().all(|l| l.chars().count() <= 80));
    }

    #[test]
    fn padded_pids_parse() {
        let text = "6831  5.000 epoll_create1(EPOLL_CLOEXEC) = 5\n\
                    6831  5.001 clone(flags=SIGCHLD) = 6832\n\
                    6832  5.002 epoll_ctl(5, EPOLL_CTL_ADD, 13, {}) = 0\n";
        let out = lines(text, None);
        assert_eq!(out.len(), 4, "{out:#?}");
        assert!(
            out[3].contains("child 6832") && out[3].contains("1.00"),
            "{out:#?}"
        );
    }

    #[test]
    fn a_fork_that_strace_split_gets_its_child_from_the_resumed_line() {
        let text = "\
100 10.000000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>
101 10.000500 write(6, \"\\17\", 1) = 1
100 10.001000 <... clone resumed>, child_tidptr=0x7f0) = 101
";
        let out = lines(text, None);
        assert!(
            out[1].contains("0.00") && out[1].ends_with("fork: 101"),
            "{out:#?}"
        );
        assert!(out.iter().all(|l| l.chars().count() <= 80), "{out:#?}");
    }

    #[test]
    fn a_thread_is_not_the_fork_and_results_survive_shortening() {
        let text = "100 5.000 clone3({flags=CLONE_VM|CLONE_THREAD}, 88) = 102\n\
                    100 5.001 clone3({flags=CLONE_VM}, 88) = 101\n\
                    101 5.002 futex(0x5555, FUTEX_WAIT_PRIVATE, 2, NULL, 0x1234567890abcdef) = ?\n";
        let out = lines(text, None);
        assert_eq!(out.len(), 3, "{out:#?}");
        assert!(out[1].contains("fork: 101") && out[1].contains("0.00"));
        assert!(out[2].ends_with("… = ?"), "{out:#?}");
    }
}
