//! `repro exercise` / `repro check`: the verdict on a learner's copy is the
//! real one: unmodified, it is still broken; fixed, it passes; "fixed" by
//! removing what shows the bug (the fork, the collection), it is refused.

use crate::util::{Ran, repro, spec};
use harness::record::Verdict;
use rstest::rstest;
use std::path::Path;

fn check(id: &str, dir: &Path) -> Ran {
    repro(&["check", id, dir.to_str().unwrap()])
}

/// Edits the learner's copy: `from` becomes `to` (the first one).
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[rstest]
#[case::shared_epoll(
    "shared-epoll",
    "shared_epoll.py",
    "if fixed:\n            # FIX: the child creates its own loop",
    "if True:\n            # FIX: the child creates its own loop",
    "def tornado_shape(fixed):\n    obs = Observation()"
)]
#[case::signal_wakeup_fd(
    "signal-wakeup-fd",
    "signal_wakeup_fd.py",
    "\"broken\": lambda: asyncio_case(\"fork\", own_handler=True, fix=False)",
    "\"broken\": lambda: asyncio_case(\"fork\", own_handler=True, fix=True)",
    "def asyncio_case(start_method, own_handler, fix):\n    import asyncio"
)]
#[case::fork_held_lock(
    "fork-held-lock",
    "fork_held_lock.py",
    "\"broken\": lambda: lock_case(fix=None)",
    "\"broken\": lambda: lock_case(fix=\"order\")",
    "def lock_case(fix):\n    obs = Observation()"
)]
#[case::finalizer_yield(
    "finalizer-yield",
    "finalizer_yield.py",
    "\"broken\": lambda: hub_case(fix=False)",
    "\"broken\": lambda: hub_case(fix=True)",
    "def hub_case(fix):\n    import gevent"
)]
fn unmodified_fixed_and_cheating_copies(
    #[case] id: &str,
    #[case] module: &str,
    #[case] bug: &str,
    #[case] fix: &str,
    #[case] cheat_at: &str,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ex");
    let ran = repro(&["exercise", id, dir.to_str().unwrap()]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let file = dir.join(module);
    assert!(dir.join("EXERCISE.md").is_file());
    // Copying again would overwrite the learner's work: refused.
    let again = repro(&["exercise", id, dir.to_str().unwrap()]);
    assert_eq!(again.code(), Some(2), "{}", again.show());

    // Unmodified: still broken, wherever scenario.toml says it misbehaves.
    let ran = check(id, &dir);
    let interpreter = harness::python::check_full(
        &harness::python::default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap()
    .interpreter();
    let want = spec(id)
        .variant("broken")
        .unwrap()
        .expected(harness::record::Runtime::Python, Some(&interpreter));
    if want.verdict == Verdict::Misbehaved {
        assert_eq!(ran.code(), Some(1), "{}", ran.show());
        assert!(ran.stdout().contains("still broken"), "{}", ran.show());
        assert!(ran.stdout().contains("hint:"), "{}", ran.show());
    }

    // Fixed the right way: passes.
    edit(&file, bug, fix);
    let ran = check(id, &dir);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    assert!(
        ran.stdout().contains("fixed: the bug is gone"),
        "{}",
        ran.show()
    );

    // "Fixed" by doing nothing that shows the bug: refused.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pyrepro")
            .join(module),
        &file,
    )
    .unwrap();
    let early_return = format!(
        "{cheat_at}\n    return __import__('pyrepro.record').record.Observation().note('no bug here')"
    );
    edit(&file, cheat_at, &early_return);
    let ran = check(id, &dir);
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(ran.stdout().contains("not a fix"), "{}", ran.show());
}

#[test]
fn check_without_a_copy_says_how_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let ran = check("shared-epoll", tmp.path());
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(
        ran.stderr().contains("repro exercise shared-epoll"),
        "{}",
        ran.show()
    );
}
