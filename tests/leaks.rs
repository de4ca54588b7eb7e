//! Nothing is left behind: no process, no temp file, whether a run ends,
//! hangs, litters, or `repro` itself is interrupted mid-run (mid-deadlock
//! included). Every `repro` run in this suite also checks this after it
//! exits (`util::repro_env`); these are the cases that need more.

use crate::util::{Ran, assert_nothing_left, leak_tag, repro_env, sample_until, tagged};
use harness::record::Verdict;
use nix::sys::signal::Signal;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_temp_file_left_by_a_scenario_is_an_error_and_is_removed() {
    let ran = repro_env(
        &["run", "fixture", "--variant", "temp-litter", "--json"],
        &[("REPRO_FIXTURES", "1")],
    );
    let r = ran.record();
    assert_eq!(r.verdict, Verdict::Error, "{}", ran.show());
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("left 1 file(s) in its TMPDIR: litter.txt"),
        "{}",
        ran.show()
    );
    // (repro_env has checked that its TMPDIR is empty again.)
}

#[test]
fn a_hung_scenario_whose_child_left_the_group_leaves_nothing() {
    // The child did setsid() and cleared its parent-death signal: out of
    // reach of the group kill; re-parented to repro, which reaps strays.
    let ran = repro_env(
        &[
            "run",
            "fixture",
            "--variant",
            "hang-escaped",
            "--json",
            "--timeout",
            "0.5",
        ],
        &[("REPRO_FIXTURES", "1")],
    );
    assert_eq!(ran.record().verdict, Verdict::Hung, "{}", ran.show());
}

/// Starts `repro args` with a leak tag and its own TMPDIR, waits until
/// `ready(tag)` holds, sends `signal`, and checks what is left.
fn interrupt(args: &[&str], signal: Signal, ready: impl Fn(&str) -> bool) {
    let tmp = tempfile::tempdir().unwrap();
    let tag = leak_tag();
    let child = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(args)
        .env("REPRO_FIXTURES", "1")
        .env("TMPDIR", tmp.path())
        .env("REPRO_LEAK_TAG", &tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    sample_until("the run to be under way", Duration::from_secs(20), || {
        ready(&tag)
    });
    nix::sys::signal::kill(pid, signal).unwrap();
    let ran = Ran {
        cmd: format!("repro {} (sent {signal})", args.join(" ")),
        output: child.wait_with_output().unwrap(),
    };
    let show = ran.show();
    assert_eq!(ran.code(), Some(128 + signal as i32), "{show}");
    assert!(
        ran.stderr()
            .contains("stopped; every process it started is killed and reaped"),
        "{show}"
    );
    // Not eventually: by the time repro has exited.
    assert_nothing_left(&tag, tmp.path(), &show);
}

/// How many processes carry the tag, and whether one sits in a futex wait.
fn in_futex_wait(tag: &str) -> bool {
    tagged(tag)
        .into_iter()
        .any(|pid| harness::procfs::wchan(pid).is_ok_and(|w| w.contains("futex")))
}

#[rstest::rstest]
#[case::sigint(Signal::SIGINT)]
#[case::sigterm(Signal::SIGTERM)]
#[case::sighup(Signal::SIGHUP)]
fn interrupted_mid_hang_leaves_nothing(#[case] signal: Signal) {
    // repro, the scenario process, and its escaped child.
    let args = [
        "run",
        "fixture",
        "--variant",
        "hang-escaped",
        "--timeout",
        "60",
    ];
    interrupt(&args, signal, |tag| tagged(tag).len() >= 3);
}

#[rstest::rstest]
#[case::python_sigint("python", Signal::SIGINT)]
#[case::rust_sigterm("rust", Signal::SIGTERM)]
fn interrupted_mid_deadlock_leaves_nothing(#[case] runtime: &str, #[case] signal: Signal) {
    // A child blocked on the lock its parent's other thread held at fork().
    let args = [
        "run",
        "fork-held-lock",
        "--runtime",
        runtime,
        "--variant",
        "broken",
        "--repeat",
        "1000",
    ];
    interrupt(&args, signal, in_futex_wait);
}

#[test]
fn cases_side_by_side_never_take_each_other_for_strays() {
    // Many short cases at once: a scenario process between its fork and its
    // setpgid is still in repro's group, and must not be reaped as a stray
    // of a case that just ended (it was, before strays waited for the last
    // running case). The shortest cases there are (about a millisecond,
    // Rust's shared-epoll), so that most of the time some are starting while
    // others end: with reap_strays not waiting for the last case, this fails
    // every time (tried). Ten times cheaper than every Rust case ten times,
    // which it was.
    let ran = crate::util::repro(&[
        "run",
        "shared-epoll",
        "--runtime",
        "rust",
        "--jobs",
        "16",
        "--repeat",
        "50",
        "--json",
    ]);
    let records = ran.records();
    assert!(records.len() >= 100, "{}", ran.show());
    for r in &records {
        assert_eq!(r.as_expected, Some(true), "{r:#?}{}", ran.show());
    }
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
}
