//! `repro run --trace`: each scenario's timelines tell its story (what its
//! `[[trace]]` entries say they show, in order), in 80 columns.

use crate::util::{each_scenario, repro, spec};
use harness::record::Runtime;

#[test]
fn every_trace_tells_its_story() {
    each_scenario(trace_tells_the_story);
}

fn trace_tells_the_story(id: &str) {
    let spec = spec(id);
    // Every runtime the scenario has, seen at least once.
    for rt in Runtime::ALL {
        let has = spec.variants_for(rt).next().is_some();
        let shown = spec.trace.iter().any(|t| t.runtime == rt);
        assert_eq!(
            has, shown,
            "{id}: a [[trace]] entry for each runtime it has ({rt})"
        );
    }
    for t in &spec.trace {
        let (runtime, variant) = (t.runtime.as_str(), t.variant.as_str());
        // What happened, in order: from the record's trace ("lane: what").
        let (ran, r) = crate::util::run_case(id, runtime, variant, &[]);
        let events = r
            .trace
            .as_ref()
            .unwrap_or_else(|| panic!("no trace{}", ran.show()));
        let text: String = events
            .iter()
            .map(|e| format!("{}: {}\n", e.lane, e.what))
            .collect();
        let expected: Vec<&str> = t.shows.iter().map(String::as_str).collect();
        crate::util::assert_in_order(&text, &expected, &ran.show());
        // How it reads: the --trace view, in 80 columns.
        let ran = repro(&[
            "run",
            id,
            "--runtime",
            runtime,
            "--variant",
            variant,
            "--trace",
        ]);
        assert_eq!(ran.code(), Some(0), "{}", ran.show());
        let out = ran.stdout();
        assert!(
            out.contains("t ms") || out.contains(" 0.00  "),
            "{}",
            ran.show()
        );
        for line in out.lines() {
            if line.starts_with("      ") && (line.contains(" | ") || line.ends_with(" |")) {
                assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
            }
        }
    }
}
