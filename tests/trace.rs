//! `repro run --trace`: each broken variant's timeline tells its story, in
//! every runtime, in 80 columns.

use crate::util::repro;
use rstest::rstest;

#[rstest]
#[case::shared_epoll_rust("shared-epoll", "rust", "broken", &["epoll_create", "fork()", "child: epoll_ctl(ADD", "no handler"])]
#[case::shared_epoll_python("shared-epoll", "python", "broken", &["epoll_create", "fork()", "child: epoll_ctl(ADD", "KeyError"])]
#[case::shared_epoll_embedded("shared-epoll", "embedded", "broken-asyncio", &["new_event_loop", "child: epoll_ctl(ADD", "wake-ups"])]
#[case::signal_rust("signal-wakeup-fd", "rust", "broken", &["sigaction(SIGTERM)", "kill(", "child: its inherited handler", "holds [15]"])]
#[case::signal_python("signal-wakeup-fd", "python", "broken-raw", &["set_wakeup_fd(", "SIGTERM to child", "child: SIGTERM: its own", "holds [15]"])]
#[case::lock_rust("fork-held-lock", "rust", "broken", &["holder holds LOCK", "child: locking", "deadlocked; SIGKILL"])]
#[case::lock_python("fork-held-lock", "python", "broken-stdout", &["sys.stdout.buffer", "child: locking", "deadlocked; SIGKILL"])]
#[case::lock_native("fork-held-lock", "embedded", "broken-native-fork", &["holds the GIL", "child: attaching", "deadlocked"])]
#[case::finalizer_rust("finalizer-yield", "rust", "broken", &["block_on", "panic: cannot execute"])]
#[case::finalizer_python("finalizer-yield", "python", "broken-greenlet", &["A: gc.collect() start", "B: runs", "A: gc.collect() end"])]
fn trace_tells_the_story(
    #[case] scenario: &str,
    #[case] runtime: &str,
    #[case] variant: &str,
    #[case] expected: &[&str],
) {
    // What happened, in order: from the record's trace ("lane: what").
    let (ran, r) = crate::util::run_case(scenario, runtime, variant, &[]);
    let events = r
        .trace
        .as_ref()
        .unwrap_or_else(|| panic!("no trace{}", ran.show()));
    let text: String = events
        .iter()
        .map(|e| format!("{}: {}\n", e.lane, e.what))
        .collect();
    crate::util::assert_in_order(&text, expected, &ran.show());
    // How it reads: the --trace view, in 80 columns.
    let args = [
        "run",
        scenario,
        "--runtime",
        runtime,
        "--variant",
        variant,
        "--trace",
    ];
    let ran = repro(&args);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let out = ran.stdout();
    assert!(
        out.contains("t ms") || out.contains(" 0.00  "),
        "{}",
        ran.show()
    );
    for line in out.lines() {
        if line.starts_with("      ") && (line.contains(" | ") || line.ends_with(" |")) {
            assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
        }
    }
}
