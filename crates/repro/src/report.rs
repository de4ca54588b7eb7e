//! `repro report`: the canary's matrix as one self-contained HTML page.
//!
//! Reads the latest canary (`target/canary/matrix.json`), and when they
//! exist the kernel canary (`target/canary-kernels/matrix.json`) and the
//! bench (`target/bench/report.json`). Writes one file: no scripts, no
//! fonts, no images or styles to fetch, so it opens the same from a USB
//! stick, a CI artifact or a projector with no network.
//!
//! Each matrix cell is a colour and a symbol and a word (✓ as expected,
//! ✗ drift, – skipped, ! could not run), and links to its record further
//! down: verdict, expectation, symptom, evidence, and the timeline as a
//! picture ([`crate::picture`]). The bench's medians are a bar chart. The
//! page is well-formed XHTML, so a real XML parser checks it (tests).

use crate::exit::{self, RunError, Usage};
use crate::output::{Out, evidence_text};
use crate::picture::{key_steps, timeline_svg, verdict_look, xml_escape};
use crate::registry::{self, Scenario};
use harness::record::{Record, Verdict};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `repro report`'s inputs and output.
pub struct ReportArgs<'a> {
    pub canary: Option<&'a Path>,
    pub kernels: Option<&'a Path>,
    pub bench: Option<&'a Path>,
    pub out: Option<&'a Path>,
}

/// One matrix: rows (cases), columns (interpreters or kernels), cells.
struct Matrix {
    title: String,
    about: String,
    columns: Vec<String>,
    rows: Vec<String>,
    /// (row, column, drift, record)
    cells: Vec<(usize, usize, Option<String>, Record)>,
}

/// Reads an input: Ok(None) when a default input is absent.
fn read_json(path: &Path, required: bool) -> Result<Option<Value>, RunError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            RunError::Usage(Usage(format!(
                "{}: not a repro report: {e}",
                path.display()
            )))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) => Err(RunError::Usage(Usage(format!("{}: {e}", path.display())))),
    }
}

fn matrix(
    doc: &Value,
    title: &str,
    column_key: &str,
    columns: Vec<String>,
) -> Result<Matrix, String> {
    let mut m = Matrix {
        title: title.to_owned(),
        about: String::new(),
        columns,
        rows: Vec::new(),
        cells: Vec::new(),
    };
    for c in doc["cells"].as_array().ok_or("no `cells`")? {
        let row = c["row"].as_str().ok_or("a cell without `row`")?.to_owned();
        let col = c[column_key].as_str().ok_or("a cell without its column")?;
        let record: Record = serde_json::from_value(c["record"].clone())
            .map_err(|e| format!("cell {row} @ {col}: {e}"))?;
        let ri = m.rows.iter().position(|r| *r == row).unwrap_or_else(|| {
            m.rows.push(row);
            m.rows.len() - 1
        });
        let ci = m.columns.iter().position(|k| k == col).unwrap_or_else(|| {
            m.columns.push(col.to_owned());
            m.columns.len() - 1
        });
        m.cells
            .push((ri, ci, c["drift"].as_str().map(str::to_owned), record));
    }
    Ok(m)
}

fn labels(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c[key].as_str().map(str::to_owned))
        .collect()
}

/// A cell's class, symbol and word: drift (the canary's judgement), else
/// skipped, else as expected (with what happened), else no verdict.
fn look(drift: Option<&str>, r: &Record) -> (&'static str, &'static str, &'static str) {
    if drift.is_some() {
        return ("drift", "✗", "drift");
    }
    match (r.verdict, r.as_expected) {
        (Verdict::Skipped, _) => ("skip", "–", "skip"),
        (Verdict::Misbehaved, Some(true)) => ("ok", "✓", "bug"),
        (Verdict::Behaved, Some(true)) => ("ok", "✓", "no bug"),
        (Verdict::Crashed, Some(true)) => ("ok", "✓", "crash"),
        (Verdict::Hung, _) => ("fail", "!", "hung"),
        _ => ("fail", "!", "error"),
    }
}

const STYLE: &str = "
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 26px; margin: 0 0 4px 0; }
p.about { color: #546e7a; margin: 0 0 16px 0; }
table.matrix { border-collapse: collapse; font-size: 14px; margin-bottom: 20px; }
table.matrix th, table.matrix td { border: 1px solid #cfd8dc; padding: 4px 8px; }
table.matrix th { background: #eceff1; text-align: left; }
table.matrix th.col { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
td.cell a { display: block; text-decoration: none; font-weight: bold; color: #ffffff; text-align: center; white-space: nowrap; }
td.ok { background: #2e7d32; } td.drift { background: #c62828; }
td.skip { background: #9e9e9e; } td.fail { background: #ef6c00; } td.none { background: #ffffff; }
ul.legend { list-style: none; padding: 0; display: flex; gap: 16px; }
ul.legend li span { display: inline-block; padding: 2px 8px; color: #ffffff; font-weight: bold; }
section.record { border-top: 1px solid #cfd8dc; padding: 8px 0; }
section.record h3 { font-size: 16px; margin: 4px 0; }
section.record ul { font-size: 13px; font-family: DejaVu Sans Mono, monospace; }
div.picture svg { max-width: 100%; height: auto; }
";

/// `repro report`.
///
/// # Errors
/// A usage error (a missing or unreadable input), or an I/O error.
pub fn exec(args: &ReportArgs<'_>, out: &mut Out) -> Result<u8, RunError> {
    let target = registry::root().join("target");
    let canary_path = args.canary.map_or_else(
        || target.join("canary").join("matrix.json"),
        Path::to_path_buf,
    );
    let canary = read_json(&canary_path, true).map_err(|e| match e {
        RunError::Usage(Usage(m)) if args.canary.is_none() => RunError::Usage(Usage(format!(
            "{m}: run `make canary` first (or name a report with --canary)"
        ))),
        e => e,
    })?;
    let canary = canary.expect("required");
    let kernels_path = args.kernels.map_or_else(
        || target.join("canary-kernels").join("matrix.json"),
        Path::to_path_buf,
    );
    let kernels = read_json(&kernels_path, args.kernels.is_some())?;
    let bench_path = args.bench.map_or_else(
        || target.join("bench").join("report.json"),
        Path::to_path_buf,
    );
    let bench = read_json(&bench_path, args.bench.is_some())?;
    let scenarios = registry::load().map_err(|e| RunError::Usage(Usage(e.to_string())))?;

    let bad = |path: &PathBuf| {
        let path = path.clone();
        move |e: String| RunError::Usage(Usage(format!("{}: {e}", path.display())))
    };
    let mut matrices = vec![{
        let mut m = matrix(
            &canary,
            "Interpreters",
            "column",
            labels(&canary["columns"], "label"),
        )
        .map_err(bad(&canary_path))?;
        m.about = format!(
            "{} cells on {}, kernel {}, in {:.1} s",
            m.cells.len(),
            canary["machine"].as_str().unwrap_or("?"),
            canary["kernel"].as_str().unwrap_or("?"),
            canary["elapsed_s"].as_f64().unwrap_or(0.0)
        );
        m
    }];
    if let Some(k) = &kernels {
        let mut m = matrix(k, "Kernels", "kernel", labels(&k["kernels"], "release"))
            .map_err(bad(&kernels_path))?;
        m.about = format!(
            "{} cells, each kernel booted in QEMU ({}, time factor {}), in {:.1} s",
            m.cells.len(),
            k["accel"].as_str().unwrap_or("?"),
            k["time_factor"],
            k["elapsed_s"].as_f64().unwrap_or(0.0)
        );
        matrices.push(m);
    }

    let html = page(&matrices, bench.as_ref(), &scenarios);
    let file = match args.out {
        Some(f) => f.to_path_buf(),
        None => crate::output::out_dir(None, "report")
            .map_err(RunError::Usage)?
            .join("index.html"),
    };
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| RunError::Usage(Usage(format!("--out {}: {e}", file.display()))))?;
    }
    std::fs::write(&file, html)
        .map_err(|e| RunError::Usage(Usage(format!("--out {}: {e}", file.display()))))?;
    let cells: usize = matrices.iter().map(|m| m.cells.len()).sum();
    let drift: usize = matrices
        .iter()
        .flat_map(|m| &m.cells)
        .filter(|c| c.2.is_some())
        .count();
    out.line(&format!(
        "report: {} ({cells} cells, {drift} drift; from {}{}{})",
        file.display(),
        canary_path.display(),
        if kernels.is_some() {
            format!(", {}", kernels_path.display())
        } else {
            String::new()
        },
        if bench.is_some() {
            format!(", {}", bench_path.display())
        } else {
            String::new()
        },
    ))?;
    Ok(exit::OK)
}

fn page(matrices: &[Matrix], bench: Option<&Value>, scenarios: &[Scenario]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>repro: the canary</title>\n<style>");
    h.push_str(STYLE);
    h.push_str(
        "</style>\n</head>\n<body>\n<h1 id=\"top\">repro: every case, every interpreter</h1>\n",
    );
    h.push_str("<ul class=\"legend\"><li><span style=\"background:#2e7d32\">✓</span> as expected</li><li><span style=\"background:#c62828\">✗</span> drift</li><li><span style=\"background:#9e9e9e\">–</span> skipped</li><li><span style=\"background:#ef6c00\">!</span> no verdict (error, hung)</li></ul>\n");
    let mut n = 0usize;
    for (mi, m) in matrices.iter().enumerate() {
        let _ = write!(
            h,
            "<h2 id=\"matrix-{mi}\">{}</h2>\n<p class=\"about\">{}</p>\n<table class=\"matrix\">\n<tr><th>case</th>",
            xml_escape(&m.title),
            xml_escape(&m.about)
        );
        for c in &m.columns {
            let _ = write!(h, "<th class=\"col\">{}</th>", xml_escape(c));
        }
        h.push_str("</tr>\n");
        for (ri, row) in m.rows.iter().enumerate() {
            let _ = write!(h, "<tr><th>{}</th>", xml_escape(row));
            for ci in 0..m.columns.len() {
                match m
                    .cells
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.0 == ri && c.1 == ci)
                {
                    None => h.push_str("<td class=\"none\"></td>"),
                    Some((k, (_, _, drift, r))) => {
                        let (class, symbol, word) = look(drift.as_deref(), r);
                        let _ = write!(
                            h,
                            "<td class=\"cell {class}\"><a href=\"#cell-{id}\" title=\"{t}\">{symbol} {word}</a></td>",
                            id = n + k,
                            t = xml_escape(&format!("{row} @ {}: {}", m.columns[ci], r.verdict)),
                        );
                    }
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
        n += m.cells.len();
    }
    if let Some(b) = bench {
        h.push_str(&bench_chart(b));
    }
    h.push_str("<h2 id=\"records\">Records</h2>\n");
    let mut n = 0usize;
    for (mi, m) in matrices.iter().enumerate() {
        for (k, (ri, ci, drift, r)) in m.cells.iter().enumerate() {
            h.push_str(&record_section(
                n + k,
                mi,
                &m.rows[*ri],
                &m.columns[*ci],
                drift.as_deref(),
                r,
                scenarios,
            ));
        }
        n += m.cells.len();
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn record_section(
    id: usize,
    matrix: usize,
    row: &str,
    column: &str,
    drift: Option<&str>,
    r: &Record,
    scenarios: &[Scenario],
) -> String {
    let mut h = String::new();
    let (colour, mark) = verdict_look(r.verdict);
    let _ = write!(
        h,
        "<section class=\"record\" id=\"cell-{id}\">\n<h3>{} @ {} <span style=\"color:{colour}\">{mark} {}</span> <a href=\"#matrix-{matrix}\">↑ matrix</a></h3>\n<ul>",
        xml_escape(row),
        xml_escape(column),
        xml_escape(&r.verdict.to_string()),
    );
    let mut item = |text: String| {
        let _ = write!(h, "<li>{}</li>", xml_escape(&text));
    };
    if let Some(e) = &r.expected {
        item(format!(
            "expected: {}{}",
            e.verdict,
            e.symptom
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ));
    }
    if let Some(d) = drift {
        item(format!("DRIFT: {d}"));
    }
    if let Some(s) = &r.symptom {
        item(format!("symptom: {s}"));
    }
    if let Some(reason) = &r.reason {
        item(format!("reason: {reason}"));
    }
    for e in &r.evidence {
        item(format!("· {}", evidence_text(e)));
    }
    if let Some(py) = &r.python {
        item(format!(
            "python: {} {} ({})",
            py.implementation, py.version, py.executable
        ));
    }
    item(format!(
        "kernel {}; {:.1} ms to verdict",
        r.kernel, r.elapsed_ms
    ));
    h.push_str("</ul>\n");
    let key = scenarios
        .iter()
        .find(|s| s.spec.id == r.scenario)
        .map(|s| key_steps(&s.spec, r))
        .unwrap_or_default();
    if let Some(svg) = timeline_svg(r, &key) {
        let _ = writeln!(h, "<div class=\"picture\">{svg}</div>");
    }
    h.push_str("</section>\n");
    h
}

/// The bench's per-case median whole run beside the bare start-up of an
/// interpreter, as horizontal bars; over a Python case's bar, its floor
/// (what its interpreter takes to import what the case imported).
fn bench_chart(b: &Value) -> String {
    let mut bars: Vec<(String, f64, Option<f64>)> = Vec::new();
    if let Some(s) = b["python_runtime_bare_startup_ms"]["median"].as_f64() {
        bars.push(("bare python start-up".to_owned(), s, None));
    }
    for c in b["cases"].as_array().into_iter().flatten() {
        if let (Some(name), Some(ms)) = (c["case"].as_str(), c["wall_ms"]["median"].as_f64()) {
            bars.push((name.to_owned(), ms, c["floor_ms"]["median"].as_f64()));
        }
    }
    if bars.is_empty() {
        return String::new();
    }
    let max = bars
        .iter()
        .map(|b| b.1.max(b.2.unwrap_or(0.0)))
        .fold(1.0_f64, f64::max);
    // Labels right-aligned before the bars, wide enough for the longest
    // (a 12 px monospace character is about 7.3 px wide).
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0);
    let (label_w, bar_w, row_h) = (longest as f64 * 7.3 + 16.0, 420.0, 18.0);
    let height = row_h * bars.len() as f64 + 30.0;
    let mut h = format!(
        "<h2 id=\"bench\">Bench: median whole run per case (ms)</h2>\n<p class=\"about\">{} runs per case; kernel {}. \
         Over a Python case's bar, in light grey, its floor: its interpreter importing what \
         the case imported, and nothing else.</p>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{height:.0}\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"12\">",
        b["runs_per_case"],
        xml_escape(b["kernel"].as_str().unwrap_or("?")),
        w = label_w + bar_w + 80.0,
    );
    for (i, (name, ms, floor)) in bars.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let len = bar_w * ms / max;
        let bh = row_h - 4.0;
        let _ = write!(
            h,
            "<text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{n}</text><rect x=\"{label_w:.1}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{bh:.1}\" fill=\"{fill}\"/>",
            tx = label_w - 8.0,
            ty = y + 12.0,
            n = xml_escape(name),
            fill = if i == 0 { "#6a1b9a" } else { "#546e7a" },
        );
        let mut value = format!("{ms:.1}");
        let mut end = len;
        if let Some(f) = floor {
            let flen = bar_w * f / max;
            let _ = write!(
                h,
                "<rect x=\"{label_w:.1}\" y=\"{fy:.1}\" width=\"{flen:.1}\" height=\"{fh:.1}\" fill=\"#cfd8dc\"/>",
                fy = y + bh / 4.0,
                fh = bh / 2.0,
            );
            value = format!("{ms:.1} (floor {f:.1})");
            end = end.max(flen);
        }
        let _ = write!(
            h,
            "<text x=\"{vx:.1}\" y=\"{ty:.1}\">{value}</text>",
            vx = label_w + end + 6.0,
            ty = y + 12.0,
        );
    }
    h.push_str("</svg>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::record::Runtime;

    #[test]
    fn the_bench_chart_draws_a_python_cases_floor_over_its_bar() {
        let bench = serde_json::json!({
            "runs_per_case": 3, "kernel": "k",
            "python_runtime_bare_startup_ms": { "median": 10.0 },
            "cases": [
                { "case": "s/python/broken", "wall_ms": { "median": 40.0 }, "floor_ms": { "median": 20.0 } },
                { "case": "s/rust/broken", "wall_ms": { "median": 2.0 } },
            ],
        });
        let svg = bench_chart(&bench);
        // The longest bar (40 ms) is the full width; the floor half of it.
        assert!(
            svg.contains("width=\"420.0\" height=\"14.0\" fill=\"#546e7a\""),
            "{svg}"
        );
        assert!(
            svg.contains("width=\"210.0\" height=\"7.0\" fill=\"#cfd8dc\""),
            "{svg}"
        );
        assert!(svg.contains(">40.0 (floor 20.0)</text>"), "{svg}");
        assert!(svg.contains(">2.0</text>"), "{svg}");
        assert_eq!(svg.matches("#cfd8dc").count(), 1, "{svg}");
    }

    #[test]
    fn cells_say_what_they_are_in_words_too() {
        let mut r = Record::supervisor(
            "s",
            Runtime::Rust,
            "broken",
            Verdict::Misbehaved,
            "x",
            vec![],
        );
        r.as_expected = Some(true);
        assert_eq!(look(None, &r), ("ok", "✓", "bug"));
        assert_eq!(look(Some("behaved, expected misbehaved"), &r).0, "drift");
        r.verdict = Verdict::Crashed;
        assert_eq!(look(None, &r), ("ok", "✓", "crash"));
        r.as_expected = Some(false);
        assert_eq!(look(None, &r), ("fail", "!", "error"));
        r.verdict = Verdict::Hung;
        assert_eq!(look(None, &r), ("fail", "!", "hung"));
        r.verdict = Verdict::Skipped;
        assert_eq!(look(None, &r).2, "skip");
    }
}
