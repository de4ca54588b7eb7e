//! `repro run --trace`: each scenario's timelines tell its story (what its
//! `[[trace]]` entries say they show, in order), in 80 columns; from the
//! book, which ran every case with `--trace`.

use crate::util::{each_scenario, spec};
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
        // What happened, in order: from the record's trace ("lane: what"),
        // in the book.
        let book = crate::book::book();
        let r = book.case(id, runtime, variant);
        let show = book.show(r);
        let events = r.trace.as_ref().unwrap_or_else(|| panic!("no trace{show}"));
        let text: String = events
            .iter()
            .map(|e| format!("{}: {}\n", e.lane, e.what))
            .collect();
        let expected: Vec<&str> = t.shows.iter().map(String::as_str).collect();
        crate::util::assert_in_order(&text, &expected, &show);
        // How it reads: the --trace view (the book ran with it), in 80
        // columns.
        let out = book.view(id, runtime, variant);
        assert!(out.contains("t ms") || out.contains(" 0.00  "), "{show}");
        for line in out.lines() {
            if line.starts_with("      ") && (line.contains(" | ") || line.ends_with(" |")) {
                assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
            }
        }
    }
}
