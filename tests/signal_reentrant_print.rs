//! signal-reentrant-print: a signal handler that prints, run on top of a
//! write to the same buffered stream: Python's RuntimeError, Rust's abort.

use crate::util::{alive, child_pids, evidence_says, evidence_with, spec};
use harness::record::{Record, Runtime, Verdict};
use serde_json::Value;

const ID: &str = "signal-reentrant-print";
const PAYLOAD: u64 = 256 * 1024;

fn evidence(r: &Record) -> &Value {
    evidence_with(r, "blocked_at_signal")
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        let want = spec(ID).variant(&r.variant).unwrap().expect;
        assert_eq!(r.verdict, want, "{show}");
        assert_eq!(r.as_expected, Some(true), "{show}");
        let e = evidence(r);
        // The signal was sent while the worker slept in write(2): /proc saw it.
        let blocked = e["blocked_at_signal"].as_str().unwrap();
        assert!(blocked.starts_with("state S, wchan "), "{show}");
        assert!(blocked.contains("pipe"), "a pipe write{show}");
        let read = e["payload_bytes_read"].as_u64().unwrap();
        let said = e["handler_line"].as_array().unwrap();
        match want {
            Verdict::Misbehaved => {
                assert_eq!(r.symptom.as_deref(), Some("reentrant-call"), "{show}");
                // The write never finished, and the handler's line never came.
                assert!(read < PAYLOAD, "{show}");
                assert!(said.is_empty(), "{show}");
                if r.runtime == Runtime::Rust {
                    assert!(evidence_says(r, "killed by signal 6"), "{show}");
                    let stderr = e["stderr"].to_string();
                    assert!(stderr.contains("already borrowed"), "{show}");
                    assert!(stderr.contains("cannot unwind"), "{show}");
                } else {
                    let write = e["write"].as_str().unwrap();
                    assert!(write.starts_with("RuntimeError: reentrant call"), "{show}");
                    assert!(evidence_says(r, "exit code 0"), "{show}");
                }
            }
            Verdict::Behaved => {
                assert_eq!(r.symptom, None, "{show}");
                assert_eq!(e["write"], "the write completed", "{show}");
                assert_eq!(read, PAYLOAD, "{show}");
                assert_eq!(said.len(), 1, "the handler's line, once{show}");
                assert_eq!(said[0], "worker: got signal 10", "{show}");
            }
            other => panic!("unexpected expectation {other}"),
        }
        let pids = child_pids(r);
        assert_eq!(pids.len(), 1, "the worker{show}");
        for pid in pids {
            assert!(!alive(pid), "process {pid} left behind{show}");
        }
    });
}
