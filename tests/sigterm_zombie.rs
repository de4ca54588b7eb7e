//! sigterm-zombie: a SIGTERMed worker leaves its own child behind,
//! an orphan and then a zombie of a process that never waits for it.

use crate::util::{alive, child_pids, evidence_says, spec};
use harness::record::{Record, Verdict};
use serde_json::Value;

const ID: &str = "sigterm-zombie";

/// The first evidence object that has `key`.
fn evidence(r: &Record, key: &str) -> Value {
    r.evidence
        .iter()
        .find_map(|e| e.get(key).cloned())
        .unwrap_or_else(|| panic!("no {key} in the evidence of {r:#?}"))
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        let variant = r.variant.as_str();
        let want = spec(ID).variant(variant).unwrap().expect;
        assert_eq!(r.verdict, want, "{show}");
        assert_eq!(r.as_expected, Some(true), "{show}");

        let parent = evidence(r, "parent_pid").as_i64().unwrap();
        let worker = evidence(r, "worker_pid").as_i64().unwrap();
        let grandchildren = evidence(r, "grandchild_pids");
        let left = evidence(r, "left_to_parent");
        assert_eq!(grandchildren.as_array().map(Vec::len), Some(1), "{show}");
        let grandchild = grandchildren[0].as_i64().unwrap();
        assert!(grandchild != worker && grandchild != parent, "{show}");
        match want {
            Verdict::Misbehaved => {
                assert_eq!(r.symptom.as_deref(), Some("zombie-grandchild"), "{show}");
                assert!(evidence_says(r, "killed by signal 15"), "{show}");
                // The worker's child, left to the parent, seen in /proc as a
                // zombie whose parent is the scenario process.
                assert_eq!(left, serde_json::json!([grandchild]), "{show}");
                let stat = evidence(r, "left_stat");
                assert_eq!(stat["pid"], grandchild, "{show}");
                assert_eq!(stat["state"], "Z", "{show}");
                assert_eq!(stat["ppid"], parent, "{show}");
            }
            Verdict::Behaved => {
                assert_eq!(r.symptom, None, "{show}");
                assert!(evidence_says(r, "(the worker): exit code 0"), "{show}");
                assert_eq!(left, serde_json::json!([]), "nothing left{show}");
            }
            other => panic!("unexpected expectation {other}"),
        }
        // Nothing survives the run: the worker and its child are reaped.
        let pids = child_pids(r);
        assert!(pids.contains(&worker), "{show}");
        for pid in pids.into_iter().chain([grandchild]) {
            assert!(!alive(pid), "process {pid} left behind{show}");
        }
    });
}
