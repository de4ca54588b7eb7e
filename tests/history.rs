//! What each scenario does across CPython releases, from the history of
//! the upstream fixes themselves, asserted on the verdicts observed on the
//! interpreters here, and never read from scenario.toml: an override edited
//! to hide a regression (say, "3.12 behaves" where it does not) fails here.
//!
//! Each fact is checked on the oldest and the newest CPython (with a GIL)
//! here in its range, the interpreters `make interpreters` provisioned
//! included. Where that interpreter also stands for one of the scenario's
//! expectation groups (`util::expectation_pythons`), the fact is read from
//! that group's run, which the scenario's own tests make anyway; on the
//! default interpreter, from the book's; otherwise from a run of that one
//! case, shared with any other test that asks for it
//! (`book::case_on`). Every scenario whose scenario.toml keys an expectation by
//! CPython version must have at least one fact checked on this machine.
//!
//! `make test` runs it; a plain `cargo test` leaves it out (about 24 runs of
//! its own, on interpreters the corpus's own tests need not start), and
//! still holds each scenario's expectations on the default interpreter and
//! on one interpreter per other set of expectations
//! (`each_expectation_holds_on_an_interpreter_here`).

use crate::util::{provisioned_paths, scenario_ids, spec, test_interpreters};
use harness::record::{Record, Verdict};
use harness::spec::VersionRange;
use std::path::{Path, PathBuf};

struct Fact {
    scenario: &'static str,
    variant: &'static str,
    /// CPython versions, e.g. `<3.7`; `""` is every version.
    python: &'static str,
    verdict: Verdict,
    /// The symptom, where the history fixes it.
    symptom: Option<&'static str>,
    /// Only on the default interpreter (its `.venv` has what the case
    /// needs, e.g. gevent).
    default_only: bool,
    /// Why this holds: the upstream change, or what never changed.
    why: &'static str,
}

const fn fact(
    scenario: &'static str,
    variant: &'static str,
    python: &'static str,
    verdict: Verdict,
    symptom: Option<&'static str>,
    why: &'static str,
) -> Fact {
    Fact {
        scenario,
        variant,
        python,
        verdict,
        symptom,
        default_only: false,
        why,
    }
}

use Verdict::{Behaved, Misbehaved, Skipped};

const FACTS: &[Fact] = &[
    fact(
        "fork-held-lock",
        "broken",
        "",
        Misbehaved,
        Some("child-deadlock"),
        "a threading.Lock held by another thread is never reset in a fork child",
    ),
    fact(
        "fork-held-lock",
        "broken-logging",
        "<3.7",
        Misbehaved,
        Some("child-deadlock"),
        "logging reinitialises its locks after fork only since 3.7 (bpo-6721)",
    ),
    fact(
        "fork-held-lock",
        "broken-logging",
        ">=3.7",
        Behaved,
        None,
        "bpo-6721: logging's at-fork reinit, 3.7",
    ),
    fact(
        "fork-held-lock",
        "fixed-atfork",
        "<3.7",
        Skipped,
        None,
        "os.register_at_fork is new in 3.7 (bpo-16500)",
    ),
    fact(
        "fork-held-lock",
        "fixed-atfork",
        ">=3.7",
        Behaved,
        None,
        "bpo-16500: os.register_at_fork, 3.7",
    ),
    fact(
        "fork-held-lock",
        "broken-mp-default",
        "<3.14",
        Misbehaved,
        Some("child-deadlock"),
        "fork is multiprocessing's default start method on Linux up to 3.13",
    ),
    fact(
        "fork-held-lock",
        "broken-mp-default",
        ">=3.14",
        Behaved,
        None,
        "gh-84559: forkserver is the default from 3.14",
    ),
    fact(
        "signal-wakeup-fd",
        "broken",
        "<3.12",
        Misbehaved,
        Some("parent-handler-ran"),
        "asyncio does not reset the wakeup fd in a fork child before 3.12",
    ),
    fact(
        "signal-wakeup-fd",
        "broken",
        ">=3.12",
        Behaved,
        None,
        "gh-66285: asyncio's at-fork hook resets the wakeup fd, 3.12",
    ),
    fact(
        "signal-wakeup-fd",
        "broken-raw",
        "",
        Misbehaved,
        Some("foreign-wakeup-byte"),
        "signal.set_wakeup_fd without asyncio: no at-fork hook resets it",
    ),
    fact(
        "shared-epoll",
        "broken",
        "",
        Misbehaved,
        Some("unknown-fd-event"),
        "a fork child shares the epoll instance: kernel semantics, no CPython change",
    ),
    fact(
        "shared-epoll",
        "broken-asyncio",
        "",
        Misbehaved,
        None,
        "asyncio's selector loop shares its epoll across fork too",
    ),
    fact(
        "sigterm-zombie",
        "broken",
        "",
        Misbehaved,
        Some("zombie-grandchild"),
        "SIGTERM's default action runs no code: no CPython change",
    ),
    fact(
        "pool-worker-raise",
        "broken",
        "<3.14",
        Misbehaved,
        None,
        "Pool.terminate() keeps the task queue's lock while a worker waits for it",
    ),
    fact(
        "fork-cow-gc",
        "broken",
        "",
        Misbehaved,
        Some("pages-copied"),
        "a full collection writes to every tracked object's header",
    ),
    fact(
        "fork-cow-gc",
        "fixed",
        "<3.7",
        Skipped,
        None,
        "gc.freeze arrived in 3.7 (bpo-31558)",
    ),
    fact(
        "fork-cow-gc",
        "fixed",
        ">=3.7",
        Behaved,
        None,
        "bpo-31558: gc.freeze, 3.7: frozen objects are never collected",
    ),
    fact(
        "fork-rng",
        "broken",
        "",
        Misbehaved,
        Some("same-random-numbers"),
        "a random.Random() the program made is never reseeded at fork",
    ),
    fact(
        "fork-rng",
        "broken-global",
        "<3.7",
        Misbehaved,
        Some("same-random-numbers"),
        "before 3.7 only multiprocessing reseeded the random module in a child",
    ),
    fact(
        "fork-rng",
        "broken-global",
        ">=3.7",
        Behaved,
        None,
        "bpo-16500: random reseeds its generator in a fork child (os.register_at_fork), 3.7",
    ),
    Fact {
        default_only: true,
        ..fact(
            "finalizer-yield",
            "broken",
            "",
            Misbehaved,
            Some("blocking-switch-out"),
            "gevent switches inside a collection its hub started",
        )
    },
];

/// CPython with a GIL among the tests' interpreters: the discovered ones
/// and the provisioned ones. A virtual environment stands for its base
/// interpreter, which is found too; but a provisioned interpreter is only
/// ever a virtual environment (inside its root), so it counts.
fn cpythons() -> Vec<(String, PathBuf)> {
    let provisioned = provisioned_paths();
    let mut out: Vec<(String, PathBuf)> = test_interpreters()
        .iter()
        .filter(|f| f.implementation == "CPython" && !f.free_threaded)
        .filter(|f| !f.in_venv || provisioned.contains(&f.path))
        .map(|f| (f.version.clone(), f.path.clone()))
        .collect();
    out.sort_by_key(|(v, _)| harness::spec::parse_version(v));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

#[test]
#[ignore = "cases on the oldest and newest CPython of each fact's range (2 s of CPU); make test runs it"]
fn each_scenario_follows_the_history_of_its_upstream_fixes() {
    let here = cpythons();
    let default = harness::python::default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    // (fact, interpreter) pairs: the oldest and newest in range.
    let ids = scenario_ids();
    let mut runs: Vec<(&Fact, String)> = Vec::new();
    for f in FACTS
        .iter()
        .filter(|f| ids.iter().any(|id| id == f.scenario))
    {
        if f.default_only {
            runs.push((f, default.display().to_string()));
            continue;
        }
        let range = (!f.python.is_empty()).then(|| VersionRange::parse(f.python).unwrap());
        let within: Vec<&(String, PathBuf)> = here
            .iter()
            .filter(|(v, _)| range.as_ref().is_none_or(|r| r.contains(v)))
            .collect();
        let ends = within.first().into_iter().chain(within.last());
        let mut chosen: Vec<String> = ends.map(|(_, p)| p.display().to_string()).collect();
        chosen.dedup();
        runs.extend(chosen.into_iter().map(|p| (f, p)));
    }
    // A scenario whose expectation changes with the CPython version must
    // have its history checked here; one that behaves alike everywhere is
    // held by the spec loader's rule (broken misbehaves, fixed behaves).
    for id in &ids {
        let by_version = spec(id)
            .variants
            .iter()
            .flat_map(|v| &v.when)
            .any(|o| o.python.is_some());
        assert!(
            !by_version || runs.iter().any(|(f, _)| f.scenario == id),
            "{id}: its scenario.toml keys expectations by CPython version, and no fact \
             of its history could be checked here (interpreters: {here:?})"
        );
    }
    // A fact on an interpreter that also stands for one of its scenario's
    // expectation groups is read from that group's run, which the
    // scenario's own tests make anyway (the book's, on the default
    // interpreter); the others share their run with any other test that
    // asks for the same case.
    let results: Vec<(&Fact, String, Record, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .chunks(2)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(f, py)| {
                            let (r, show) = crate::book::case_on(f.scenario, f.variant, py);
                            (*f, py.clone(), r, show)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut wrong = Vec::new();
    for (f, py, r, show) in &results {
        let version = r
            .python
            .as_ref()
            .map(|p| p.version.clone())
            .unwrap_or_default();
        let symptom_ok = f.symptom.is_none_or(|s| r.symptom.as_deref() == Some(s));
        if r.verdict != f.verdict || !symptom_ok {
            wrong.push(format!(
                "{} / {} on {version} ({py}): observed {} {:?}, history says {} {:?}: {}{}",
                f.scenario, f.variant, r.verdict, r.symptom, f.verdict, f.symptom, f.why, show
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    let facts = runs
        .iter()
        .map(|(f, _)| f.why)
        .collect::<std::collections::BTreeSet<_>>();
    eprintln!(
        "{} facts checked in {} runs, {} of them shared with the book or an expectation group",
        facts.len(),
        results.len(),
        runs.iter()
            .filter(|(f, py)| crate::book::run_whole(f.scenario, py))
            .count()
    );
}
