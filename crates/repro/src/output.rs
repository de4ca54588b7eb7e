//! How `repro run` reports: a table for people, JSON lines for programs.

use crate::exit::exit_code;
use harness::record::Record;
use serde_json::Value;
use std::io::{self, Write};

/// Standard output, line-buffered so that rows appear as cases finish.
pub struct Out(io::LineWriter<io::Stdout>);

impl Out {
    pub fn stdout() -> Out {
        Out(io::LineWriter::new(io::stdout()))
    }

    pub fn line(&mut self, s: &str) -> io::Result<()> {
        writeln!(self.0, "{s}")
    }
}

/// The directory a command writes its reports to: `--out`, else
/// `target/<default>` under the project root. Made if missing, and proved
/// writable before anything runs, so that a long run never ends in a
/// report it cannot write.
///
/// # Errors
/// A usage error naming `--out` and why it cannot be written.
pub fn out_dir(
    arg: Option<&std::path::Path>,
    default: &str,
) -> Result<std::path::PathBuf, crate::exit::Usage> {
    let dir = arg.map_or_else(
        || crate::registry::root().join("target").join(default),
        std::path::Path::to_path_buf,
    );
    let fail = |e: io::Error| crate::exit::Usage(format!("--out {}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        crate::exit::Usage(format!("--out {}: cannot write there: {e}", dir.display()))
    })?;
    Ok(dir)
}

/// The running report of one `repro run`.
pub struct Report<'o> {
    out: &'o mut Out,
    json: bool,
    repeat: u32,
    trace: bool,
    scenario_w: usize,
    variant_w: usize,
    symptom_w: usize,
    verdict_w: usize,
    records: Vec<Record>,
    /// `--records FILE`: every record, as a JSON line, as it comes.
    file: Option<io::LineWriter<std::fs::File>>,
}

const RUNTIME_W: usize = 8;
const VERDICT_W: usize = 10;

/// The labels the table will show, to size its columns.
pub struct Labels<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    /// Every symptom the case may show (its expectations, overrides too).
    pub symptoms: Vec<&'a str>,
}

impl<'o> Report<'o> {
    pub fn new(
        out: &'o mut Out,
        json: bool,
        repeat: u32,
        trace: bool,
        labels: &[Labels<'_>],
    ) -> Self {
        let w = |f: fn(&Labels<'_>) -> usize, min: usize| {
            labels.iter().map(f).max().unwrap_or(0).max(min)
        };
        Report {
            out,
            json,
            repeat,
            trace,
            scenario_w: w(|l| l.scenario.len(), 8),
            variant_w: w(|l| l.variant.len(), 7),
            symptom_w: w(|l| l.symptoms.iter().map(|s| s.len()).max().unwrap_or(0), 7),
            // `misbehaved 100/100` with --repeat, `misbehaved` without.
            verdict_w: if repeat > 1 {
                VERDICT_W + 2 + 2 * repeat.to_string().len()
            } else {
                VERDICT_W
            },
            records: Vec::new(),
            file: None,
        }
    }

    /// Also writes every record to `file`, one JSON line each.
    pub fn records_to(mut self, file: std::fs::File) -> Self {
        self.file = Some(io::LineWriter::new(file));
        self
    }

    pub fn header(&mut self) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        let last = if self.repeat > 1 {
            "RUNS / MEDIAN / P95 MS"
        } else {
            "MS"
        };
        let line = format!(
            "{:sw$}  {:RUNTIME_W$}  {:vw$}  {:dw$}  {:yw$}  {:10}  {last}",
            "SCENARIO",
            "RUNTIME",
            "VARIANT",
            "VERDICT",
            "SYMPTOM",
            "EXPECTED",
            sw = self.scenario_w,
            vw = self.variant_w,
            yw = self.symptom_w,
            dw = self.verdict_w,
        );
        self.out.line(&line)
    }

    /// One finished run.
    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        self.records.push(r.clone());
        if let Some(file) = &mut self.file {
            writeln!(file, "{}", r.to_json_line())?;
        }
        if self.json {
            return self.out.line(&r.to_json_line());
        }
        if self.repeat == 1 {
            let ms = format!("{:.1}", r.elapsed_ms);
            self.row(r, &r.verdict.to_string(), &ms)?;
            self.details(r)?;
        }
        Ok(())
    }

    /// Lines that belong under the last case (`--strace`), in the table only.
    pub fn extra(&mut self, lines: &[String]) -> io::Result<()> {
        if self.json || self.repeat > 1 {
            return Ok(());
        }
        for l in lines {
            self.out.line(l)?;
        }
        Ok(())
    }

    /// Every run of one case is done (the summary row for `--repeat`).
    pub fn case(&mut self, runs: &[Record]) -> io::Result<()> {
        if self.json || self.repeat == 1 {
            return Ok(());
        }
        let first = &runs[0];
        let count = |v| runs.iter().filter(|r| r.verdict == v).count();
        let mut verdicts: Vec<String> = Vec::new();
        for r in runs {
            let label = format!("{} {}/{}", r.verdict, count(r.verdict), runs.len());
            if !verdicts.contains(&label) {
                verdicts.push(label);
            }
        }
        let mut ms: Vec<f64> = runs.iter().map(|r| r.elapsed_ms).collect();
        let stats = format!(
            "{} / {:.1} / {:.1}",
            runs.len(),
            percentile(&mut ms, 0.5),
            percentile(&mut ms, 0.95)
        );
        let worst = runs
            .iter()
            .find(|r| r.as_expected != Some(true))
            .unwrap_or(first);
        self.row(worst, &verdicts.join(", "), &stats)?;
        if worst.as_expected != Some(true) {
            self.details(worst)?;
        }
        Ok(())
    }

    fn row(&mut self, r: &Record, verdict: &str, last: &str) -> io::Result<()> {
        let mark = match (r.as_expected, &r.expected) {
            (Some(true), _) => "✓".to_owned(),
            (_, Some(e)) => format!("✗ {}", e.verdict),
            (_, None) => "?".to_owned(),
        };
        let line = format!(
            "{:sw$}  {:RUNTIME_W$}  {:vw$}  {:dw$}  {:yw$}  {:10}  {last}",
            r.scenario,
            r.runtime.as_str(),
            r.variant,
            verdict,
            r.symptom.as_deref().unwrap_or("-"),
            mark,
            sw = self.scenario_w,
            vw = self.variant_w,
            yw = self.symptom_w,
            dw = self.verdict_w,
        );
        self.out.line(line.trim_end())
    }

    fn details(&mut self, r: &Record) -> io::Result<()> {
        if let Some(reason) = &r.reason {
            for (i, l) in reason.lines().enumerate() {
                let label = if i == 0 { "reason:" } else { "       " };
                self.out.line(&format!("      {label} {l}"))?;
            }
        }
        for e in &r.evidence {
            for l in evidence_text(e).lines() {
                self.out.line(&format!("      · {l}"))?;
            }
        }
        if self.trace {
            match &r.trace {
                Some(events) => {
                    for l in trace_lines(events) {
                        self.out.line(&l)?;
                    }
                }
                None => self
                    .out
                    .line("      (no timeline recorded for this case)")?,
            }
        }
        if let Some(py) = &r.python {
            let lib = py
                .library
                .as_deref()
                .map(|l| format!(", {l}"))
                .unwrap_or_default();
            self.out.line(&format!(
                "      python {} {} ({}{lib})",
                py.implementation, py.version, py.executable
            ))?;
        }
        Ok(())
    }

    /// The summary; returns the exit code.
    pub fn footer(self) -> io::Result<u8> {
        let code = exit_code(&self.records);
        if !self.json {
            let n = self.records.len();
            let count = |f: fn(&Record) -> bool| self.records.iter().filter(|r| f(r)).count();
            let ok = count(|r| r.as_expected == Some(true));
            let wrong = count(|r| r.verdict.is_conclusive() && r.as_expected != Some(true));
            let no_verdict = count(|r| !r.verdict.is_conclusive() && r.as_expected != Some(true));
            let mut line = format!("\n{n} run(s): {ok} as expected, {wrong} not as expected");
            if no_verdict > 0 {
                line.push_str(&format!(", {no_verdict} without a verdict"));
            }
            self.out.line(&format!(
                "{line}  (kernel {})",
                harness::sys::kernel_release()
            ))?;
        }
        Ok(code)
    }
}

/// Width of the parent lane in the two-lane timeline.
const LANE_W: usize = 30;
/// Width of the child lane: what is left of 80 columns after the indent,
/// the time, the parent lane and the separator.
const CHILD_W: usize = 80 - (6 + 8 + 2 + LANE_W + 3);

/// A timeline for a terminal. With exactly the lanes `parent` and `child`:
/// two columns, each event's text wrapped within its lane. Otherwise one
/// line per event, prefixed with its lane.
pub fn trace_lines(events: &[harness::TraceEvent]) -> Vec<String> {
    let two_lanes = events
        .iter()
        .all(|e| e.lane == "parent" || e.lane == "child");
    let mut lines = Vec::new();
    if two_lanes {
        lines.push(format!("      {:>8}  {:LANE_W$} | child", "t ms", "parent"));
    }
    for e in events {
        let t = format!("{:>8.2}", e.t_ms);
        if !two_lanes {
            let text = format!("{}: {}", e.lane, e.what);
            for (i, part) in wrap_words(&text, 80 - 16).into_iter().enumerate() {
                let t = if i == 0 { t.as_str() } else { "" };
                lines.push(format!("      {t:>8}  {part}"));
            }
            continue;
        }
        let width = if e.lane == "parent" { LANE_W } else { CHILD_W };
        for (i, part) in wrap_words(&e.what, width).into_iter().enumerate() {
            let t = if i == 0 { t.as_str() } else { "" };
            let line = if e.lane == "parent" {
                format!("      {t:>8}  {part:LANE_W$} |")
            } else {
                format!("      {t:>8}  {:LANE_W$} | {part}", "")
            };
            lines.push(line);
        }
    }
    lines
}

/// Word-wraps `text` to lines of at most `width` characters (a longer word
/// gets a line of its own, cut at `width`).
pub(crate) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word: String = word.chars().take(width).collect();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

/// Evidence as a person reads it: strings as they are, a one-key object as
/// `key: value`, anything else as compact JSON.
pub fn evidence_text(e: &Value) -> String {
    match e {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            }
        }
        other => other.to_string(),
    }
}

/// The `q` quantile (nearest rank) of `xs`, which it sorts.
pub fn percentile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut xs = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut xs, 0.5), 3.0);
        assert_eq!(percentile(&mut xs, 0.95), 5.0);
        assert!(percentile(&mut [], 0.5).is_nan());
    }

    #[test]
    fn two_lane_timeline_fits_80_columns() {
        let ev = |t, lane: &str, what: &str| harness::TraceEvent {
            t_ms: t,
            lane: lane.into(),
            what: what.into(),
        };
        let lines = trace_lines(&[
            ev(-0.2, "parent", "epoll_create() = fd 4"),
            ev(0.0, "parent", "fork()"),
            ev(
                0.1,
                "child",
                "epoll_ctl(ADD, 7) on the inherited epoll fd 4, then a write",
            ),
        ]);
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");
        assert!(lines[1].contains("-0.20") && lines[1].contains("epoll_create"));
        assert!(lines[3].contains("| epoll_ctl(ADD, 7) on the"));
    }

    #[test]
    fn evidence_reads_naturally() {
        assert_eq!(evidence_text(&"x".into()), "x");
        assert_eq!(
            evidence_text(&serde_json::json!({"tfds": [3, 7]})),
            "tfds: [3,7]"
        );
    }
}
