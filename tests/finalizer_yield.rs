//! finalizer-yield: a finalizer run by the garbage collector
//! switches greenlets (gevent); a Drop re-enters its executor (Rust).

use crate::util::{evidence_list, evidence_says, spec};
use harness::record::Verdict;

const ID: &str = "finalizer-yield";

/// The strings of an evidence list, by key.
fn strings(r: &harness::record::Record, key: &str) -> Vec<String> {
    r.evidence
        .iter()
        .find_map(|e| e.get(key)?.as_array().cloned())
        .unwrap_or_else(|| panic!("no {key} in {r:#?}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        let (runtime, variant) = (r.runtime.as_str(), r.variant.as_str());
        let want = spec(ID)
            .variant(variant)
            .unwrap()
            .expected(r.runtime, r.interpreter().as_ref());
        // gevent comes with `make setup` (.venv): never a skip here.
        assert_ne!(r.verdict, Verdict::Skipped, "is .venv set up?{show}");
        assert_eq!(
            (r.verdict, &r.symptom),
            (want.verdict, &want.symptom),
            "{show}"
        );
        assert_eq!(r.as_expected, Some(true), "{show}");
        match (runtime, variant) {
            ("rust", "broken") => {
                assert!(
                    evidence_says(r, "cannot execute `LocalPool` executor"),
                    "{show}"
                );
                assert!(evidence_list(r, "records_written").is_empty(), "{show}");
            }
            ("rust", "broken-abort") => {
                assert_eq!(r.reason.as_deref(), Some("killed by SIGABRT"), "{show}");
                let stderr = r
                    .evidence
                    .iter()
                    .find_map(|e| e.get("stderr")?.as_str())
                    .unwrap();
                assert!(
                    stderr.contains("panic in a destructor during cleanup"),
                    "{show}"
                );
            }
            ("rust", "fixed") => {
                assert_eq!(
                    strings(r, "records_written"),
                    ["connection closed"],
                    "{show}"
                );
            }
            (_, "broken") => {
                assert_eq!(strings(r, "finalizer_ran_in"), ["hub"], "{show}");
                assert!(
                    evidence_says(
                        r,
                        "BlockingSwitchOutError: Impossible to call blocking function"
                    ),
                    "{show}"
                );
                assert!(
                    strings(r, "records_sent").is_empty(),
                    "the record is lost{show}"
                );
            }
            (_, "broken-syslog") => {
                assert!(
                    evidence_says(
                        r,
                        "SysLogHandler.emit('node collected') failed: BlockingSwitchOutError"
                    ),
                    "{show}"
                );
                assert!(evidence_says(r, "never reached syslog"), "{show}");
            }
            (_, "broken-greenlet") => {
                let order = strings(r, "order");
                let at = |s: &str| order.iter().position(|o| o == s).unwrap();
                let b = at("B: runs");
                assert!(
                    at("A: gc.collect() start") < b && b < at("A: gc.collect() end"),
                    "{show}"
                );
            }
            (_, "fixed") => {
                assert_eq!(strings(r, "finalizer_ran_in"), ["hub"], "{show}");
                assert_eq!(strings(r, "records_sent"), ["node collected"], "{show}");
            }
            other => panic!("no evidence check for {other:?}"),
        }
    });
}
