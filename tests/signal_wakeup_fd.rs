//! signal-wakeup-fd: a forked child's SIGTERM runs the parent's
//! handler through the inherited wakeup fd.
//! https://github.com/python/cpython/issues/66285

use crate::util::{
    alive, child_pids, evidence_list, evidence_number, evidence_says, on_each_expectation, spec,
};
use harness::record::{Record, Runtime, Verdict};

const ID: &str = "signal-wakeup-fd";

/// What the interpreter under test should do, from scenario.toml (with its
/// overrides by interpreter version), and the evidence that proves it.
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
    if variant.ends_with("-aiohttp") {
        return assert_aiohttp_evidence(r, want.verdict, show);
    }

    let bytes_key = match r.runtime {
        Runtime::Rust => "parent_wakeup_pipe_bytes",
        _ => "parent_wakeup_socket_bytes",
    };
    let bytes = evidence_list(r, bytes_key);
    // The parent is never sent a signal; whatever its loop saw came from
    // the child.
    assert_eq!(evidence_number(r, "parent_received_sigterm"), 0, "{show}");
    match want.symptom.as_deref() {
        Some("parent-handler-ran") => {
            assert_eq!(
                bytes,
                [15],
                "byte 15 (SIGTERM) in the parent's wakeup fd{show}"
            );
            assert!(
                evidence_number(r, "parent_sigterm_handler_ran") >= 1,
                "{show}"
            );
        }
        Some("foreign-wakeup-byte") => assert_eq!(bytes, [15], "{show}"),
        Some("terminate-ignored") => {
            assert!(bytes.is_empty(), "{show}");
            assert!(evidence_says(r, "survived terminate()"), "{show}");
        }
        None => {
            assert!(bytes.is_empty(), "nothing in the parent's wakeup fd{show}");
            if r.runtime != Runtime::Rust || variant == "fixed" {
                assert!(!evidence_says(r, "survived terminate()"), "{show}");
            }
        }
        Some(other) => panic!("no evidence check for symptom {other}"),
    }
    if variant == "broken-noop" {
        // Every interpreter: the inherited no-op handler swallows SIGTERM.
        assert!(
            evidence_says(r, "killed with SIGKILL after it ignored SIGTERM"),
            "{show}"
        );
    }
    // Every child is reaped, including the one that ignored terminate().
    let pids = child_pids(r);
    assert!(!pids.is_empty(), "{show}");
    for pid in pids {
        assert!(!alive(pid), "child {pid} left behind{show}");
    }
}

/// The story's service: the second request, and why.
fn assert_aiohttp_evidence(r: &Record, want: Verdict, show: &str) {
    let get = |key: &str| {
        r.evidence
            .iter()
            .find_map(|e| e.get(key).cloned())
            .unwrap_or_else(|| panic!("no {key} in the evidence{show}"))
    };
    assert_eq!(get("first_request"), 200, "{show}");
    let worker_fd = get("wakeup_fd_in_worker").as_i64().unwrap();
    match want {
        Verdict::Misbehaved => {
            // Refused, and nobody signalled the server: the worker it
            // terminated shared its self-pipe.
            assert_eq!(get("second_request"), "refused", "{show}");
            assert_eq!(
                get("signals_sent_to_server"),
                serde_json::json!([]),
                "{show}"
            );
            assert!(worker_fd >= 0, "{show}");
            assert_eq!(get("worker_shares_server_selfpipe"), true, "{show}");
            assert!(evidence_says(r, "the server shut itself down"), "{show}");
        }
        Verdict::Behaved => {
            assert_eq!(get("second_request"), "served", "{show}");
            assert_eq!(
                get("signals_sent_to_server"),
                serde_json::json!(["SIGINT"]),
                "{show}"
            );
            assert_eq!(
                worker_fd, -1,
                "the worker forgot the server's wakeup fd{show}"
            );
        }
        other => panic!("unexpected expectation {other}"),
    }
    for pid in child_pids(r) {
        assert!(!alive(pid), "server {pid} left behind{show}");
    }
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        assert_expected_with_evidence(&r.variant, r, show);
    });
}

/// Each expectation scenario.toml gives by version, on an interpreter here
/// that has it (and on the default one): 3.12+ shows the upstream fix,
/// older ones the bug.
#[test]
fn each_expectation_holds_on_an_interpreter_here() {
    for (show, records) in &on_each_expectation(ID) {
        for r in records {
            assert_ne!(r.verdict, Verdict::Error, "{show}");
            // An interpreter as it is, without the project's environment,
            // may lack aiohttp: then that, and only that, is the reason.
            let reason = r.reason.as_deref().unwrap_or("");
            if r.variant.ends_with("-aiohttp") && r.verdict == Verdict::Skipped {
                assert!(reason.contains("aiohttp is not installed"), "{show}");
                continue;
            }
            assert_expected_with_evidence(&r.variant, r, show);
        }
    }
}
