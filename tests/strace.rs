//! `repro run --strace`: the syscalls that give each bug away, labelled and
//! timed from the fork; and a clear word when strace cannot be used.

use crate::util::{repro, repro_env};
use rstest::rstest;

#[rstest]
#[case::shared_epoll("shared-epoll", "python", "broken", &["fork:", "child", "epoll_ctl(", "epoll_wait("])]
#[case::signal_wakeup_fd("signal-wakeup-fd", "rust", "broken", &["fork:", "kill(", "--- SIGTERM", "write(", "\\17"])]
#[case::fork_held_lock("fork-held-lock", "rust", "broken", &["fork:", "futex(", "= ?", "+++ killed by SIGKILL"])]
#[case::finalizer_yield("finalizer-yield", "python", "broken-syslog", &["sendto(", "node collected", "EAGAIN"])]
fn strace_shows_the_syscalls_that_matter(
    #[case] id: &str,
    #[case] runtime: &str,
    #[case] variant: &str,
    #[case] expected: &[&str],
) {
    let args = [
        "run",
        id,
        "--runtime",
        runtime,
        "--variant",
        variant,
        "--strace",
    ];
    let ran = repro(&args);
    if harness::python::which("strace".as_ref()).is_none() {
        assert_eq!(ran.code(), Some(2), "{}", ran.show());
        assert!(
            ran.stderr().contains("strace is not installed"),
            "{}",
            ran.show()
        );
        return;
    }
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let out = ran.stdout();
    let strace: String = out
        .lines()
        .skip_while(|l| !l.contains("syscall (strace)"))
        .collect::<Vec<_>>()
        .join("\n");
    crate::util::assert_in_order(&strace, expected, &ran.show());
    assert!(strace.lines().all(|l| l.chars().count() <= 80), "{strace}");
}

#[test]
fn strace_missing_is_a_clear_usage_error() {
    let ran = repro_env(
        &["run", "shared-epoll", "--runtime", "rust", "--strace"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(
        ran.stderr().contains("strace is not installed"),
        "{}",
        ran.show()
    );
    assert!(
        ran.stderr().contains("apt-get install strace"),
        "{}",
        ran.show()
    );
}
