//! sigterm-zombie: a SIGTERMed worker leaves its own child behind,
//! an orphan and then a zombie of a process that never waits for it.

use crate::util::{alive, child_pids, evidence_says, spec};
use harness::record::{Record, Runtime, Verdict};
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

/// The story's pexpect is the version the project pins
/// (`pyrepro/requirements.txt`), in both runtimes: the embedded
/// interpreter's site directory is the project's environment only. (With
/// `site` at start-up it put its base installation's site-packages first,
/// and ran pexpect 4.8.0 from there on this machine.)
#[test]
fn the_pexpect_cases_run_the_pinned_pexpect_in_both_runtimes() {
    let requirements = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pyrepro/requirements.txt"),
    )
    .unwrap();
    let pinned = requirements
        .lines()
        .find_map(|l| l.strip_prefix("pexpect=="))
        .expect("pexpect pinned in pyrepro/requirements.txt")
        .trim();
    let seen = std::cell::RefCell::new(Vec::new());
    crate::util::each_case(ID, |show, r| {
        if !r.variant.ends_with("-pexpect") || r.verdict == Verdict::Skipped {
            return;
        }
        let spawned = r
            .trace
            .iter()
            .flatten()
            .find(|e| e.what.starts_with("spawned pexpect "))
            .unwrap_or_else(|| panic!("no pexpect spawn in the trace{show}"));
        assert!(
            spawned
                .what
                .starts_with(&format!("spawned pexpect {pinned} cat:")),
            "{:?}: not the pinned pexpect {pinned}{show}",
            spawned.what
        );
        seen.borrow_mut().push(r.runtime);
    });
    let seen = seen.into_inner();
    for runtime in [Runtime::Python, Runtime::Embedded] {
        assert!(
            seen.contains(&runtime),
            "no {runtime:?} pexpect case ran: {seen:?}"
        );
    }
}
