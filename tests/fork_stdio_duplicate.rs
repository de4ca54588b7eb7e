//! fork-stdio-duplicate: a line printed before a fork is in the stream
//! twice, once from each process's copy of the buffer.

use crate::util::{alive, child_pids, evidence_with, spec};
use harness::record::{Record, Verdict};
use serde_json::Value;

const ID: &str = "fork-stdio-duplicate";

/// The lines of one part of the stream, from the evidence.
fn lines(r: &Record, key: &str) -> Vec<String> {
    match evidence_with(r, key)[key].clone() {
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("{key}: not a list: {other}"),
    }
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        let variant = r.variant.as_str();
        let want = spec(ID).variant(variant).unwrap().expect;
        assert_eq!(r.verdict, want, "{show}");
        assert_eq!(r.as_expected, Some(true), "{show}");

        let (before, worker, service) = (
            lines(r, "written_before_fork"),
            lines(r, "written_by_worker"),
            lines(r, "written_by_service"),
        );
        let stream = lines(r, "stream");
        let joined: Vec<String> = [&before[..], &worker[..], &service[..]].concat();
        assert_eq!(stream, joined, "the stream is its three parts{show}");
        // Whatever the variant: the service starts, the worker says it is
        // ready, the service says it is done, each from its own process.
        let first = stream
            .iter()
            .find(|l| l.ends_with(": starting"))
            .unwrap_or_else(|| panic!("no starting line{show}"));
        assert!(first.starts_with("service "), "{show}");
        assert_eq!(
            worker.iter().filter(|l| l.starts_with("worker ")).count(),
            1,
            "the worker's own line, once, written by the worker{show}"
        );
        assert!(
            service.last().is_some_and(|l| l.ends_with(" done")),
            "the service's last line{show}"
        );
        let copies = stream.iter().filter(|l| *l == first).count();
        match want {
            Verdict::Misbehaved => {
                assert_eq!(r.symptom.as_deref(), Some("duplicated-output"), "{show}");
                // Nothing reached the pipe before the fork; then each process
                // wrote out its own copy of the first line.
                assert!(before.is_empty(), "{show}");
                assert_eq!(worker.first(), Some(first), "{show}");
                assert_eq!(service.first(), Some(first), "{show}");
                assert_eq!(copies, 2, "{show}");
                assert_eq!(lines(r, "twice"), vec![first.clone()], "{show}");
            }
            Verdict::Behaved => {
                assert_eq!(r.symptom, None, "{show}");
                // The first line reached the pipe before the fork, once.
                assert_eq!(before, vec![first.clone()], "{show}");
                assert_eq!(copies, 1, "{show}");
                assert!(lines(r, "twice").is_empty(), "{show}");
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
