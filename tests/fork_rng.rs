//! fork-rng: forked workers draw the same numbers from a generator whose
//! state the fork copied; reseeded, each draws its own.

use crate::util::{alive, child_pids, evidence_with, on_each_expectation, spec};
use harness::record::{Record, Runtime, Verdict};
use serde_json::Value;

const ID: &str = "fork-rng";

/// The evidence object with the draws and the pairs that matched.
fn draws(r: &Record) -> &Value {
    evidence_with(r, "draws")
}

/// The verdict follows from the draws the record carries, whatever the
/// interpreter: the symptom exactly when two processes drew the same.
fn assert_verdict_from_draws(r: &Record, show: &str) {
    let e = draws(r);
    let seqs = e["draws"].as_object().unwrap();
    let names: Vec<&String> = seqs.keys().collect();
    assert_eq!(names, ["service", "worker 1", "worker 2"], "{show}");
    for seq in seqs.values() {
        let seq = seq.as_array().unwrap();
        assert_eq!(seq.len(), 4, "{show}");
        assert!(
            seq.iter().all(|n| n.as_str().unwrap().len() == 16),
            "{show}"
        );
    }
    let mut same = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            if seqs[*a] == seqs[*b] {
                same.push(serde_json::json!([a, b]));
            }
        }
    }
    assert_eq!(e["same"], Value::Array(same.clone()), "{show}");
    if same.is_empty() {
        assert_eq!(r.verdict, Verdict::Behaved, "{show}");
        assert_eq!(r.symptom, None, "{show}");
    } else {
        assert_eq!(r.verdict, Verdict::Misbehaved, "{show}");
        assert_eq!(r.symptom.as_deref(), Some("same-random-numbers"), "{show}");
        // A shared state is shared by all three: the workers and the
        // service after them.
        assert_eq!(same.len(), 3, "{show}");
    }
    let pids = child_pids(r);
    assert_eq!(pids.len(), 2, "two workers{show}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} left behind{show}");
    }
}

#[test]
fn every_case_verdict_symptom_and_evidence() {
    crate::util::each_case(ID, |show, r| {
        let runtime = r.runtime;
        // The expectation for this runtime and interpreter (scenario.toml's
        // overrides by version applied), met.
        assert!(r.expected.is_some(), "{show}");
        assert_eq!(r.as_expected, Some(true), "{show}");
        if r.variant.starts_with("fixed") || runtime == Runtime::Rust {
            // No override: a fix holds everywhere, and so does Rust's bug.
            let default = spec(ID).variant(&r.variant).unwrap().expect;
            assert_eq!(r.verdict, default, "{show}");
        }
        assert_verdict_from_draws(r, show);
        // fixed-worker-seed is reproducible: base + index gives each worker
        // the same numbers in every run and every runtime of one generator.
        if r.variant == "fixed-worker-seed" && runtime != Runtime::Rust {
            let e = draws(r);
            assert_eq!(e["draws"]["worker 1"][0], "b075e352e896c710", "{show}");
            assert_eq!(e["draws"]["worker 2"][0], "7a3e3d50888af88e", "{show}");
        }
    });
}

#[test]
fn each_expectation_holds_on_an_interpreter_here() {
    for (show, records) in &on_each_expectation(ID) {
        // The numpy variants need the pinned NumPy, which the interpreters
        // found here have only in the environments the canary makes: they
        // are held on the project's .venv (above, from the book) and on
        // every interpreter by `make canary`.
        for r in records.iter().filter(|r| !r.variant.ends_with("-numpy")) {
            assert_eq!(r.as_expected, Some(true), "{show}");
            assert_verdict_from_draws(r, show);
        }
    }
}
