//! `repro stress`: rounds of every case, with every kind of problem counted
//! (the fixtures produce each one), and nothing counted when nothing is wrong.

use crate::util::repro_env;

fn report(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_kind_of_problem_is_counted_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let ran = repro_env(
        &[
            "stress",
            "fixture",
            "--rounds",
            "1",
            "--timeout",
            "0.3",
            "--out",
            out,
        ],
        &[("REPRO_FIXTURES", "1")],
    );
    let show = ran.show();
    assert_eq!(ran.code(), Some(1), "{show}");
    let doc = report(dir.path());
    // hang and hang-escaped; crash; leak (a process) and temp-litter (a
    // file); garbage (no verdict record).
    let totals = &doc["totals"];
    assert_eq!(
        (
            &totals["hangs"],
            &totals["crashes"],
            &totals["leaks"],
            &totals["errors"],
            &totals["flips"]
        ),
        (&2.into(), &1.into(), &2.into(), &1.into(), &0.into()),
        "{doc:#}{show}"
    );
    assert_eq!(doc["runs"], 6, "{doc:#}");
    assert_eq!(doc["as_expected"], 0, "{doc:#}");
    assert!(ran.stderr().contains("round 1/1"), "progress{show}");
    assert!(ran.stdout().contains("round 1: leak: error"), "{show}");
}

#[test]
fn rounds_with_nothing_wrong_count_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let ran = repro_env(
        &["stress", "sigterm-zombie", "--rounds", "2", "--out", out],
        &[],
    );
    let show = ran.show();
    assert_eq!(ran.code(), Some(0), "{show}");
    let doc = report(dir.path());
    let n = crate::util::spec("sigterm-zombie")
        .variants
        .iter()
        .map(|v| v.runtimes.len())
        .sum::<usize>();
    assert_eq!(doc["runs"], 2 * n, "{doc:#}");
    assert_eq!(doc["as_expected"], 2 * n, "{doc:#}");
    for (kind, count) in doc["totals"].as_object().unwrap() {
        assert_eq!(count, 0, "{kind}{show}");
    }
    assert_eq!(doc["round_leaks"], serde_json::json!([]), "{show}");
}
