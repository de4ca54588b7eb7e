//! `repro bench`: the figures come from the runs (and a hang case reports
//! the time from the child blocking to its verdict), in report.md and .json.

use crate::util::{repro, spec};
use harness::record::Runtime;

#[test]
fn bench_reports_every_case_from_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let ran = repro(&[
        "bench",
        "fork-held-lock",
        "--runtime",
        "rust",
        "--runs",
        "3",
        "--out",
        out,
    ]);
    let show = ran.show();
    assert_eq!(ran.code(), Some(0), "{show}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let want = spec("fork-held-lock").variants_for(Runtime::Rust).count();
    assert_eq!(cases.len(), want, "{doc:#}");
    for c in cases {
        assert_eq!(c["runs"], 3, "{c:#}");
        assert_eq!(c["as_expected"], 3, "{c:#}");
        let median = c["verdict_ms"]["median"].as_f64().unwrap();
        let p95 = c["verdict_ms"]["p95"].as_f64().unwrap();
        assert!(median > 0.0 && p95 >= median, "{c:#}");
        // The deadlocking case says how long detection took; the others
        // have no such figure.
        let hang =
            c["expected"] == "misbehaved" && c["case"].as_str().unwrap().ends_with("/broken");
        assert_eq!(c["blocked_to_verdict_ms"].is_object(), hang, "{c:#}");
        assert!(c["target_met"].is_boolean(), "{c:#}");
        // No interpreter to compare a Rust case with.
        assert!(c["startup_over_bare"].is_null(), "{c:#}");
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("| fork-held-lock/rust/broken | misbehaved | 3/3 |"),
        "{md}"
    );
    assert!(md.contains("## Hang verdicts"), "{md}");
    // Rust cases alone: no interpreter started, none timed.
    assert!(!md.contains("## Interpreter start-up"), "{md}");
    assert_eq!(doc["interpreters"], serde_json::json!([]), "{doc:#}");
    assert!(ran.stdout().contains("# repro bench"), "{show}");
}

/// `make bench` shows where a Python case's start-up goes: each case's
/// imports, from one run with `-X importtime`, pyrepro's own among them.
#[test]
fn bench_shows_each_python_cases_imports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let ran = repro(&[
        "bench",
        "sigterm-zombie",
        "--runtime",
        "python",
        "--runs",
        "1",
        "--out",
        out,
    ]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        spec("sigterm-zombie").variants_for(Runtime::Python).count()
    );
    assert!(
        doc["python_runtime_bare_startup_ms"]["median"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for c in cases {
        // Each ratio is its median over the bare start-up's taken beside
        // it, and the start-up is a part of the whole.
        let bare = c["bare_ms"]["median"].as_f64().unwrap();
        let over = |key: &str| c[key]["median"].as_f64().unwrap() / bare;
        let close = |a: f64, b: f64| (a - b).abs() <= 0.01;
        let whole = c["wall_over_bare"].as_f64().unwrap();
        let startup = c["startup_over_bare"].as_f64().unwrap();
        assert!(close(whole, over("wall_ms")), "{c:#}");
        assert!(close(startup, over("startup_ms")), "{c:#}");
        assert!(startup > 0.0 && startup <= whole, "{c:#}");
        let total = c["import_ms"].as_f64().unwrap_or_default();
        assert!(total > 0.5, "{c:#}");
        let heaviest: Vec<&str> = c["heaviest_imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["module"].as_str().unwrap())
            .collect();
        assert!(!heaviest.is_empty() && heaviest.len() <= 3, "{c:#}");
        // Its floor: the interpreter importing what the case imported,
        // timed; the whole run over it is the ratio given.
        let floor = c["floor_ms"]["median"].as_f64().unwrap();
        assert!(floor > 0.0, "{c:#}");
        let wall = c["wall_ms"]["median"].as_f64().unwrap();
        assert!(
            close(c["wall_over_floor"].as_f64().unwrap(), wall / floor),
            "{c:#}"
        );
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| start-up x bare |"), "{md}");
    assert!(md.contains("## Interpreter start-up"), "{md}");
    assert!(
        !doc["interpreters"].as_array().unwrap().is_empty(),
        "{doc:#}"
    );
    assert!(md.contains("## Python imports per case"), "{md}");
    assert!(md.contains("| sigterm-zombie/python/broken |"), "{md}");
    assert!(md.contains("| floor median | x floor |"), "{md}");
    let n = cases.len();
    assert!(
        md.contains("## Python cases: whole run over a bare start-up, and over the floor"),
        "{md}"
    );
    for line in [
        "- at most 2 x a bare start-up: ",
        "- at most 2 x its floor: ",
    ] {
        let counted = md
            .lines()
            .find_map(|l| l.strip_prefix(line))
            .unwrap_or_else(|| panic!("{line}: {md}"));
        assert!(counted.ends_with(&format!(" of {n}")), "{md}");
    }
}
