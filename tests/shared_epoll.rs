//! shared-epoll: an epoll instance created before fork() is
//! shared with the child. https://github.com/tornadoweb/tornado/issues/2078

use crate::util::{evidence_list, evidence_says, spec};
use harness::record::{Runtime, Verdict};

/// Every case below, and nothing else, is in scenario.toml: a variant added
/// there without a test here fails.

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case("shared-epoll", |show, r| {
        let (runtime, variant) = (r.runtime.as_str(), r.variant.as_str());
        let want = spec("shared-epoll").variant(variant).unwrap().expect;

        // The verdict the scenario observed, and what scenario.toml expects.
        assert_eq!(r.verdict, want, "{show}");
        assert_eq!(r.as_expected, Some(true), "{show}");
        assert_eq!(r.runtime.as_str(), runtime);
        assert_eq!(r.variant, variant);

        // The evidence: what the parent's epoll holds beyond what it registered.
        let registered = evidence_list(r, "parent_registered_fds");
        let tfds = evidence_list(r, "parent_epoll_fdinfo_tfds");
        let foreign: Vec<i64> = tfds
            .iter()
            .copied()
            .filter(|t| !registered.contains(t))
            .collect();
        assert!(registered.iter().all(|fd| tfds.contains(fd)), "{show}");
        // asyncio inside (asyncio itself, tornado 6): the loop spins.
        let asyncio_inside = variant.ends_with("asyncio") || variant.ends_with("tornado6");
        match (want, asyncio_inside) {
            (Verdict::Misbehaved, false) => {
                assert_eq!(r.symptom.as_deref(), Some("unknown-fd-event"), "{show}");
                assert_eq!(
                    foreign.len(),
                    1,
                    "the child's fd in the parent's epoll{show}"
                );
                let fd = foreign[0];
                let said = if variant.ends_with("tornado") {
                    // tornado 4's own log line, as in the story.
                    format!("tornado logged 'Exception in callback None': KeyError: {fd}")
                } else {
                    format!("returned fd {fd}, which has no handler")
                };
                assert!(evidence_says(r, &said), "{show}");
            }
            (Verdict::Misbehaved, true) => {
                assert_eq!(r.symptom.as_deref(), Some("busy-loop"), "{show}");
                assert_eq!(foreign.len(), 1, "{show}");
                assert!(evidence_says(r, "woke up 50 times"), "{show}");
                assert!(evidence_says(r, &format!("[{}]", foreign[0])), "{show}");
                if variant.ends_with("tornado6") {
                    // The CPU it burned for nothing, as a user would see it.
                    let cpu = r.evidence.iter().find_map(|e| e["parent_cpu_ms"].as_f64());
                    assert!(cpu.is_some_and(|ms| ms > 0.0), "{show}");
                    assert!(evidence_says(r, "on CPU"), "{show}");
                }
            }
            (Verdict::Behaved, _) => {
                assert_eq!(r.symptom, None, "{show}");
                assert!(foreign.is_empty(), "only the parent's own fds{show}");
            }
            (other, _) => panic!("unexpected expectation {other}"),
        }
        assert!(evidence_says(r, "child: exit code 0"), "{show}");

        // The interpreter that ran it, as it reports itself.
        match r.runtime {
            Runtime::Rust => assert!(r.python.is_none()),
            Runtime::Python => assert!(r.python.as_ref().unwrap().library.is_none()),
            Runtime::Embedded => {
                let py = r.python.as_ref().unwrap();
                let major_minor: Vec<&str> = py.version.split('.').take(2).collect();
                let lib = py
                    .library
                    .as_deref()
                    .expect("embedded reports its libpython");
                assert!(
                    lib.contains(&format!("libpython{}", major_minor.join("."))),
                    "{lib} is not Python {}{show}",
                    py.version
                );
                assert!(py.executable.ends_with("/repro-embedded"), "{show}");
            }
        }
    });
}
