//! pool-worker-raise: a pool worker's SIGTERM handler raises, and
//! terminating the pool deadlocks, detected from /proc.
//! https://github.com/python/cpython/blob/v3.13.0/Lib/multiprocessing/pool.py#L672-L678

use crate::util::{alive, child_pids, evidence_says, on_each_expectation, spec};
use harness::record::{Record, Runtime, Verdict};

const ID: &str = "pool-worker-raise";

fn assert_evidence(r: &Record, show: &str) {
    let want = spec(ID)
        .variant(&r.variant)
        .unwrap()
        .expected(r.runtime, r.interpreter().as_ref());
    assert_eq!(
        (r.verdict, &r.symptom),
        (want.verdict, &want.symptom),
        "{show}"
    );
    assert_eq!(r.as_expected, Some(true), "{show}");
    let held_key = if r.runtime == Runtime::Rust {
        "queue_lock_held_by_parent"
    } else {
        "inqueue_rlock_held_by_parent"
    };
    let held = r.evidence.iter().find_map(|e| e.get(held_key)?.as_bool());
    match want.verdict {
        Verdict::Misbehaved => {
            // Both halves: the worker in a futex wait, the parent's
            // terminate() waiting for it while holding the lock.
            assert!(evidence_says(r, "sits in a futex wait"), "{show}");
            assert!(evidence_says(r, "has not returned"), "{show}");
            assert!(evidence_says(r, "wchan do_wait"), "{show}");
            assert_eq!(held, Some(true), "{show}");
            assert!(evidence_says(r, "(killed: deadlocked)"), "{show}");
            let ms = r
                .evidence
                .iter()
                .find_map(|e| e.get("blocked_to_verdict_ms")?.as_f64());
            assert!(ms.is_some_and(|ms| ms > 0.0), "{show}");
        }
        Verdict::Behaved => {
            assert!(evidence_says(r, "left on SIGTERM"), "{show}");
            assert!(evidence_says(r, "(the worker): exit code 1"), "{show}");
            assert_eq!(held, None, "{show}");
        }
        other => panic!("unexpected expectation {other}"),
    }
    for pid in child_pids(r) {
        assert!(!alive(pid), "worker {pid} left behind{show}");
    }
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| assert_evidence(r, show));
}

#[test]
fn each_expectation_holds_on_an_interpreter_here() {
    for (show, records) in &on_each_expectation(ID) {
        for r in records {
            assert_evidence(r, show);
        }
    }
}
