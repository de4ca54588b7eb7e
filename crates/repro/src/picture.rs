//! Pictures of runs, for a projector and for a browser: a case's timeline
//! as a sequence picture (`repro run --svg DIR`), one SVG file per case.
//!
//! One column per lane (parent, child, or the greenlets of a gevent case),
//! each with its lifeline, drawn from the lane's first event down. Time
//! runs down the page, labelled in ms from the fork. The fork is an arrow
//! from the parent to the child. The steps that show the bug (the
//! scenario's `[[trace]] shows` for that case) are drawn bold, in the
//! accent colour. The verdict is the banner at the bottom, its colour and
//! its words both saying what happened (no meaning in colour alone).
//!
//! The SVG is self-contained (no fonts, scripts or links to fetch) and
//! well-formed XML, so the HTML report can inline it.

use harness::record::{Record, Verdict};
use harness::spec::Spec;
use std::fmt::Write as _;

const LANE_W: f64 = 300.0;
const TIME_W: f64 = 90.0;
const LINE_H: f64 = 19.0;
const ROW_GAP: f64 = 12.0;
const TOP: f64 = 88.0;
const CHARS: usize = 30;

/// Escapes text for XML content and attribute values.
#[must_use]
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The colour and the words of a verdict (both, so that a grey-scale
/// projector or a colour-blind reader loses nothing).
#[must_use]
pub fn verdict_look(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Misbehaved => ("#c62828", "✗"),
        Verdict::Behaved => ("#2e7d32", "✓"),
        Verdict::Skipped => ("#757575", "–"),
        _ => ("#ef6c00", "!"),
    }
}

/// The steps of `record`'s case that show the bug, from its scenario's
/// `[[trace]]` for this case, else for the same variant in another runtime
/// (the runtimes tell the same story), else none.
#[must_use]
pub fn key_steps<'a>(spec: &'a Spec, record: &Record) -> Vec<&'a str> {
    let same_variant = || spec.trace.iter().filter(|s| s.variant == record.variant);
    let exact = same_variant().find(|s| s.runtime == record.runtime);
    exact
        .or_else(|| same_variant().next())
        .map(|s| s.shows.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The case's timeline as an SVG document (None: the record has none).
#[must_use]
pub fn timeline_svg(record: &Record, key: &[&str]) -> Option<String> {
    let events = record.trace.as_ref()?;
    let mut lanes: Vec<&str> = Vec::new();
    for e in events {
        if !lanes.contains(&e.lane.as_str()) {
            lanes.push(&e.lane);
        }
    }
    if lanes.is_empty() {
        return None;
    }
    // A lane for the child from the fork on, even before its first event.
    let fork_at = events.iter().position(|e| {
        e.what.starts_with("fork") || e.what.contains(": fork") || e.what.contains("fork()")
    });
    if fork_at.is_some() && !lanes.contains(&"child") && lanes == ["parent"] {
        lanes.push("child");
    }
    let lane_x = |lane: &str| {
        let i = lanes.iter().position(|l| *l == lane).unwrap_or(0);
        TIME_W + LANE_W * i as f64 + LANE_W / 2.0
    };
    let width = TIME_W + LANE_W * lanes.len() as f64 + LANE_W / 2.0;

    let mut rows = String::new();
    let mut y = TOP + 30.0;
    let mut first_y: Vec<Option<f64>> = vec![None; lanes.len()];
    for (i, e) in events.iter().enumerate() {
        let text = crate::output::wrap_words(&e.what, CHARS);
        let x = lane_x(&e.lane);
        let li = lanes.iter().position(|l| *l == e.lane).unwrap_or(0);
        first_y[li].get_or_insert(y - 10.0);
        let key_step = key
            .iter()
            .any(|k| format!("{}: {}", e.lane, e.what).contains(k));
        let (fill, weight) = if key_step {
            ("#6a1b9a", "bold")
        } else {
            ("#212121", "normal")
        };
        let _ = write!(
            rows,
            r##"<text x="{tx:.1}" y="{y:.1}" font-size="13" fill="#616161" text-anchor="end">{t}</text>"##,
            tx = TIME_W - 12.0,
            t = xml_escape(&format!("{:.2} ms", e.t_ms)),
        );
        let _ = write!(
            rows,
            r#"<circle cx="{x:.1}" cy="{cy:.1}" r="{r}" fill="{fill}"/>"#,
            cy = y - 5.0,
            r = if key_step { 6 } else { 4 },
        );
        let mut arrow_gap = 0.0;
        if Some(i) == fork_at {
            if let Some(cx) = lanes
                .iter()
                .position(|l| *l == "child")
                .map(|_| lane_x("child"))
            {
                // Under the fork's words, from the parent to the child.
                let ly = y + LINE_H * (text.len() as f64 - 1.0) + 9.0;
                let _ = write!(
                    rows,
                    r##"<line x1="{x:.1}" y1="{ly:.1}" x2="{x2:.1}" y2="{ly:.1}" stroke="#6a1b9a" stroke-width="2.5" marker-end="url(#arrow)"/>"##,
                    x2 = cx - 8.0,
                );
                let ci = lanes.iter().position(|l| *l == "child").unwrap_or(0);
                first_y[ci].get_or_insert(ly);
                arrow_gap = LINE_H * 0.6;
            }
        }
        for (k, part) in text.iter().enumerate() {
            let _ = write!(
                rows,
                r#"<text x="{tx:.1}" y="{ty:.1}" font-size="15" font-weight="{weight}" fill="{fill}">{p}</text>"#,
                tx = x + 12.0,
                ty = y + LINE_H * k as f64,
                p = xml_escape(part),
            );
        }
        y += LINE_H * text.len() as f64 + ROW_GAP + arrow_gap;
    }
    let bottom = y + 4.0;

    let mut svg = String::new();
    let height = bottom + 76.0;
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" role="img" aria-label="{label}">"##,
        label = xml_escape(&format!(
            "timeline of {} / {} / {}: {}",
            record.scenario, record.runtime, record.variant, record.verdict
        )),
    );
    svg.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6a1b9a"/></marker></defs>"##);
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="16" y="30" font-size="20" font-weight="bold" fill="#212121">{}</text>"##,
        xml_escape(&format!(
            "{} · {} · {}",
            record.scenario, record.runtime, record.variant
        )),
    );
    if let Some(py) = &record.python {
        let _ = write!(
            svg,
            r##"<text x="16" y="52" font-size="13" fill="#616161">{}</text>"##,
            xml_escape(&format!("{} {}", py.implementation, py.version)),
        );
    }
    for (i, lane) in lanes.iter().enumerate() {
        let x = lane_x(lane);
        let _ = write!(
            svg,
            r##"<rect x="{rx:.1}" y="{ry:.1}" width="{w:.1}" height="28" rx="6" fill="#eceff1" stroke="#90a4ae"/><text x="{x:.1}" y="{ty:.1}" font-size="16" font-weight="bold" text-anchor="middle" fill="#263238">{name}</text>"##,
            rx = x - LANE_W / 2.0 + 20.0,
            ry = TOP - 22.0,
            w = LANE_W - 40.0,
            ty = TOP - 3.0,
            name = xml_escape(lane),
        );
        let from = first_y[i].unwrap_or(TOP + 10.0).max(TOP + 6.0);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{from:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#b0bec5" stroke-width="2" stroke-dasharray="6 4"/>"##,
        );
    }
    svg.push_str(&rows);
    let (colour, mark) = verdict_look(record.verdict);
    let words = match (&record.symptom, record.verdict) {
        (Some(s), _) => format!("{mark} {}: {s}", record.verdict),
        (None, v) => format!("{mark} {v}"),
    };
    let expected = match record.as_expected {
        Some(true) => " (as expected)",
        Some(false) => " (NOT as expected)",
        None => "",
    };
    let _ = write!(
        svg,
        r##"<rect x="16" y="{by:.1}" width="{bw:.1}" height="44" rx="8" fill="{colour}"/><text x="32" y="{ty:.1}" font-size="18" font-weight="bold" fill="#ffffff">{w}</text></svg>"##,
        by = bottom + 12.0,
        bw = width - 32.0,
        ty = bottom + 40.0,
        w = xml_escape(&format!("{words}{expected}")),
    );
    Some(svg)
}

/// The file name of a case's picture: `<scenario>.<runtime>.<variant>.svg`.
#[must_use]
pub fn file_name(record: &Record) -> String {
    format!(
        "{}.{}.{}.svg",
        record.scenario, record.runtime, record.variant
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::TraceEvent;
    use harness::record::Runtime;

    fn record(events: &[(f64, &str, &str)], verdict: Verdict) -> Record {
        let mut r = Record::supervisor("demo", Runtime::Rust, "broken", verdict, "x", vec![]);
        r.reason = None;
        r.symptom = (verdict == Verdict::Misbehaved).then(|| "child-deadlock".to_owned());
        r.trace = Some(
            events
                .iter()
                .map(|(t, lane, what)| TraceEvent {
                    t_ms: *t,
                    lane: (*lane).to_owned(),
                    what: (*what).to_owned(),
                })
                .collect(),
        );
        r
    }

    #[test]
    fn a_timeline_is_well_formed_svg_with_its_lanes_fork_key_steps_and_verdict() {
        let r = record(
            &[
                (-0.1, "parent", "thread holder: LOCK <held> & waiting"),
                (0.0, "parent", "fork()"),
                (1.5, "child", "locking"),
                (
                    50.0,
                    "parent",
                    "child asleep in futex, unchanged: deadlocked; SIGKILL",
                ),
            ],
            Verdict::Misbehaved,
        );
        let svg = timeline_svg(&r, &["child: locking"]).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for want in [
            "parent",
            "child",
            "fork()",
            "locking",
            "✗ misbehaved: child-deadlock",
        ] {
            assert!(
                texts.iter().any(|t| t.contains(want)),
                "{want:?} not in {texts:?}"
            );
        }
        assert!(
            texts.iter().any(|t| t.contains("<held> &")),
            "escaped text kept"
        );
        let arrows = doc
            .descendants()
            .filter(|n| n.attribute("marker-end") == Some("url(#arrow)"))
            .count();
        assert_eq!(arrows, 1, "the fork is one arrow");
        let bold: Vec<&str> = doc
            .descendants()
            .filter(|n| {
                n.attribute("font-weight") == Some("bold") && n.attribute("font-size") == Some("15")
            })
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(bold, vec!["locking"], "only the key step is bold");
    }

    #[test]
    fn no_trace_no_picture_and_verdicts_have_words() {
        let mut r = record(&[], Verdict::Behaved);
        assert!(timeline_svg(&r, &[]).is_none());
        r.trace = None;
        assert!(timeline_svg(&r, &[]).is_none());
        let marks: Vec<&str> = [
            Verdict::Misbehaved,
            Verdict::Behaved,
            Verdict::Skipped,
            Verdict::Hung,
        ]
        .into_iter()
        .map(|v| verdict_look(v).1)
        .collect();
        assert_eq!(marks, vec!["✗", "✓", "–", "!"]);
    }
}
