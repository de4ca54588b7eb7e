//! fork-held-lock: fork while another thread holds a lock; the
//! child blocks forever. https://bugs.python.org/issue6721

use crate::util::{alive, child_pids, evidence_says, on_each_expectation, spec};
use harness::record::{Record, Runtime, Verdict};
use harness::spec::parse_version;

const ID: &str = "fork-held-lock";

fn progress(r: &Record) -> Vec<String> {
    r.evidence
        .iter()
        .find_map(|e| e.get("child_progress")?.as_array().cloned())
        .unwrap_or_else(|| panic!("no child_progress in {r:#?}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// What the interpreter under test should do (scenario.toml, with its
/// overrides by version), and the evidence that proves it.
fn assert_expected_with_evidence(variant: &str, r: &Record, show: &str) {
    let want = spec(ID)
        .variant(variant)
        .unwrap()
        .expected(r.runtime, r.interpreter().as_ref());
    assert_eq!(
        (r.verdict, &r.symptom),
        (want.verdict, &want.symptom),
        "{show}"
    );
    assert_eq!(r.as_expected, Some(true), "{show}");
    if r.verdict == Verdict::Skipped {
        assert!(r.reason.as_deref().unwrap().contains("3.7"), "{show}");
        return;
    }
    let native = variant.ends_with("native-fork");
    let (first, last) = if native {
        ("attaching", "attached")
    } else {
        ("locking", "locked")
    };
    let steps = progress(r);
    match r.verdict {
        Verdict::Misbehaved => {
            // It said it was about to take the lock, and never that it had.
            assert_eq!(steps, [first], "{show}");
            assert!(evidence_says(r, "futex wait"), "{show}");
            // How it was proved: a child whose only thread sleeps in an
            // untimed private futex wait (the lock's owner was not copied)
            // at once; the embedded GIL's wait is timed (it wakes every
            // 5 ms), so that one by 3 samples of the same wait.
            let proof = if native {
                "unchanged across 3 samples"
            } else {
                "its only thread, in an untimed private wait: nothing left in the process can wake it"
            };
            assert!(evidence_says(r, proof), "{show}");
            assert!(
                evidence_says(r, "killed by signal 9"),
                "deadlocked child killed{show}"
            );
            assert!(
                r.evidence
                    .iter()
                    .any(|e| e.get("blocked_to_verdict_ms").is_some()),
                "{show}"
            );
            if r.runtime == Runtime::Rust {
                assert!(
                    evidence_says(r, "is inside LOCK"),
                    "the Mutex's futex{show}"
                );
            }
            if variant == "broken-stdout" {
                assert!(evidence_says(r, "blocked in write(1)"), "{show}");
            }
        }
        Verdict::Behaved => {
            assert_eq!(steps.last().map(String::as_str), Some(last), "{show}");
            assert!(evidence_says(r, "exit code 0") || evidence_says(r, "exit status: 0"));
        }
        other => panic!("unexpected verdict {other}{show}"),
    }
    // Since 3.12, forking a multi-threaded process warns: recorded as evidence.
    let modern = r
        .python
        .as_ref()
        .and_then(|p| parse_version(&p.version))
        .is_some_and(|v| v >= vec![3, 12]);
    // The multiprocessing cases fork only with the fork start method (the
    // default up to 3.13; forkserver since 3.14).
    let start_method = r
        .evidence
        .iter()
        .find_map(|e| e.get("start_method").and_then(|m| m.as_str()));
    if variant == "broken-mp-default" {
        let method = start_method.unwrap_or_else(|| panic!("no start_method{show}"));
        let forks = r.verdict == Verdict::Misbehaved;
        assert_eq!(method == "fork", forks, "{method}{show}");
    }
    let forked = start_method.is_none_or(|m| m == "fork");
    if modern && forked && (variant.starts_with("broken-") && !native || variant == "broken") {
        let warned = r.evidence.iter().any(|e| {
            e.get("fork_warning")
                .and_then(|w| w.as_str())
                .is_some_and(|w| w.contains("multi-threaded"))
        });
        assert!(warned, "the fork DeprecationWarning{show}");
    }
    for pid in child_pids(r) {
        assert!(!alive(pid), "child {pid} left behind{show}");
    }
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        assert_expected_with_evidence(&r.variant, r, show);
    });
}

/// Each expectation scenario.toml gives by version, on an interpreter here
/// that has it (logging deadlocks only before 3.7; register_at_fork is
/// 3.7+), and on the default one.
#[test]
fn each_expectation_holds_on_an_interpreter_here() {
    for (show, records) in &on_each_expectation(ID) {
        for r in records {
            assert_expected_with_evidence(&r.variant, r, show);
        }
        // A skip that scenario.toml expects is as expected.
        for r in records {
            assert_eq!(r.as_expected, Some(true), "{show}");
        }
    }
}

#[test]
fn stdout_lock_needs_a_buffered_stdout_which_the_supervisor_guarantees() {
    // The caller's PYTHONUNBUFFERED would make sys.stdout.buffer a bare
    // FileIO with no lock; the supervisor keeps it out.
    let ran = crate::util::repro_env(
        &[
            "run",
            ID,
            "--runtime",
            "python",
            "--variant",
            "broken-stdout",
            "--json",
        ],
        &[("PYTHONUNBUFFERED", "1")],
    );
    let r = ran.record();
    assert_eq!(
        r.symptom.as_deref(),
        Some("child-deadlock"),
        "{}",
        ran.show()
    );
}
