//! fork-cow-gc: a worker's collection (Rust: its Arc clones) copies the
//! pages it shares with the service; frozen (read-only), they stay shared.

use crate::util::{alive, child_pids, evidence_says, evidence_with};
use harness::record::{Record, Verdict};
use serde_json::Value;

const ID: &str = "fork-cow-gc";

fn kb(e: &Value, key: &str, show: &str) -> u64 {
    e[key].as_u64().unwrap_or_else(|| panic!("no {key}{show}"))
}

fn memory(r: &Record) -> &Value {
    evidence_with(r, "dirtied_kb")
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        assert_eq!(r.as_expected, Some(true), "{show}");
        if r.verdict == Verdict::Skipped {
            // Only where gc.freeze does not exist, and saying so.
            assert_eq!(r.variant, "fixed", "{show}");
            let reason = r.reason.as_deref().unwrap_or("");
            assert!(
                reason.contains("gc.freeze is not in this interpreter"),
                "{show}"
            );
            return;
        }
        let e = memory(r);
        let state = kb(e, "state_kb", show);
        let (at_fork, after) = (
            kb(e, "private_dirty_at_fork_kb", show),
            kb(e, "private_dirty_after_collect_kb", show),
        );
        let dirtied = kb(e, "dirtied_kb", show);
        assert_eq!(dirtied, after.saturating_sub(at_fork), "{show}");
        assert_eq!(kb(e, "line_kb", show), state / 2, "{show}");
        // The state is megabytes (Python: about 3.8, Rust: 7.7): a
        // measurement, not noise.
        assert!(state > 2048, "state of {state} kB{show}");
        match r.verdict {
            Verdict::Misbehaved => {
                assert_eq!(r.symptom.as_deref(), Some("pages-copied"), "{show}");
                assert!(dirtied > state / 2, "{show}");
                assert!(evidence_says(r, "smaps_rollup"), "{show}");
            }
            Verdict::Behaved => {
                assert_eq!(r.symptom, None, "{show}");
                // Far below the line, not just under it: under a tenth of
                // the state (measured: 0.1 to 3.8%).
                assert!(dirtied < state / 10, "{show}");
            }
            other => panic!("unexpected verdict {other}{show}"),
        }
        let pids = child_pids(r);
        assert_eq!(pids.len(), 1, "the worker{show}");
        for pid in pids {
            assert!(!alive(pid), "process {pid} left behind{show}");
        }
    });
}
