//! `repro stress`: every case, round after round, and a count of everything
//! that went wrong: flips, hangs, crashes, errors, leaks.
//!
//! A regression corpus is only as good as its worst run. `repro run
//! --repeat` answers "how often does this case reproduce"; this answers "is
//! the whole corpus trustworthy": N consecutive full rounds (every scenario,
//! runtime and variant once per round), and after each round a check that
//! nothing was left behind by any of them: no child of `repro` (live or
//! zombie), no extra open fd in `repro` itself. Each case's private TMPDIR
//! and process group are checked by the supervisor (a leak there is an
//! `error` whose reason says "left").
//!
//! `make stress` (ci/stress.sh) runs it with every core busy.

use crate::cli::StressArgs;
use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry;
use crate::run::{Planned, Selection, plan_cases, python_for, run_one};
use harness::record::{Record, Runtime, Verdict};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// What went wrong in one run, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A conclusive verdict that is not the expected one.
    Flip,
    /// `hung`, where scenario.toml does not expect it.
    Hang,
    /// `crashed`, where scenario.toml does not expect it.
    Crash,
    /// Something left behind: a process, a temp file, an open pipe or fd.
    Leak,
    /// `error`, or an unexpected `skipped`: the case could not run.
    Error,
}

impl Problem {
    const ALL: [Problem; 5] = [
        Problem::Flip,
        Problem::Hang,
        Problem::Crash,
        Problem::Leak,
        Problem::Error,
    ];

    /// One of them: `hang`.
    fn kind(self) -> &'static str {
        match self {
            Problem::Flip => "flip",
            Problem::Hang => "hang",
            Problem::Crash => "crash",
            Problem::Leak => "leak",
            Problem::Error => "error",
        }
    }

    /// How they are counted: `hangs`.
    fn name(self) -> &'static str {
        match self {
            Problem::Flip => "flips",
            Problem::Hang => "hangs",
            Problem::Crash => "crashes",
            Problem::Leak => "leaks",
            Problem::Error => "errors",
        }
    }
}

/// The problem a record shows, or `None` when it is as expected.
pub fn classify(r: &Record) -> Option<Problem> {
    if r.as_expected == Some(true) {
        return None;
    }
    let reason = r.reason.as_deref().unwrap_or("");
    Some(match r.verdict {
        Verdict::Misbehaved | Verdict::Behaved => Problem::Flip,
        Verdict::Hung => Problem::Hang,
        Verdict::Crashed => Problem::Crash,
        Verdict::Error if reason.contains(" left ") => Problem::Leak,
        Verdict::Error | Verdict::Skipped => Problem::Error,
    })
}

/// One case across the rounds.
struct Tally {
    label: String,
    runs: u32,
    as_expected: u32,
    /// (round, problem, what the record said).
    problems: Vec<(u32, Problem, String)>,
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Runs `repro stress` and returns the exit code: 0 when every run of
/// every round was as expected and nothing leaked, 1 otherwise.
///
/// # Errors
/// A usage error before anything ran, or an I/O error writing the report.
pub fn exec(args: &StressArgs, out: &mut Out) -> Result<u8, RunError> {
    let usage = |m: String| RunError::Usage(Usage(m));
    let scenarios = registry::load().map_err(|e| usage(e.to_string()))?;
    let selection = Selection {
        scenario: &args.scenario,
        runtime: "all",
        variant: "all",
    };
    let cases = plan_cases(&scenarios, &selection).map_err(RunError::Usage)?;
    let needs_python = cases.iter().any(|c| c.runtime == Runtime::Python);
    let py = python_for(args.python.as_deref(), needs_python).map_err(RunError::Usage)?;
    let dir = crate::output::out_dir(args.out.as_deref(), "stress").map_err(RunError::Usage)?;
    let timeout = Duration::from_secs_f64(args.timeout);
    let me = std::process::id() as i32;

    let mut tallies: Vec<Tally> = cases
        .iter()
        .map(|c| Tally {
            label: c.label(),
            runs: 0,
            as_expected: 0,
            problems: Vec::new(),
        })
        .collect();
    // Leaks found between rounds, not attributable to one case.
    let mut round_leaks: Vec<(u32, String)> = Vec::new();
    let start = Instant::now();
    let fds_at_start = open_fds();
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "stress: {} round(s) of {} case(s) ({})",
        args.rounds,
        cases.len(),
        args.scenario
    );
    for round in 1..=args.rounds {
        let t = Instant::now();
        for (p, tally) in cases.iter().zip(tallies.iter_mut()) {
            let r = run_one(p, &py, timeout);
            tally.runs += 1;
            match classify(&r) {
                None => tally.as_expected += 1,
                Some(problem) => tally.problems.push((round, problem, said(&r))),
            }
        }
        let strays = harness::procfs::children(me).unwrap_or_default();
        if !strays.is_empty() {
            round_leaks.push((round, format!("children of repro left: {strays:?}")));
        }
        let fds = open_fds();
        if fds > fds_at_start {
            round_leaks.push((
                round,
                format!("repro has {fds} open fds, {fds_at_start} at the start"),
            ));
        }
        let counts = totals(&tallies, round_leaks.len());
        let _ = writeln!(
            err,
            "stress: round {round}/{} in {:.1} s; so far {}",
            args.rounds,
            t.elapsed().as_secs_f64(),
            counts
                .iter()
                .map(|(p, n)| format!("{n} {}", p.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let counts = totals(&tallies, round_leaks.len());
    let bad = counts.iter().any(|(_, n)| *n > 0);
    report(
        out,
        &dir,
        args,
        &cases,
        &tallies,
        &round_leaks,
        &counts,
        start.elapsed(),
    )?;
    Ok(if bad { exit::NOT_AS_EXPECTED } else { exit::OK })
}

fn said(r: &Record) -> String {
    let expected = r
        .expected
        .as_ref()
        .map_or_else(|| "?".to_owned(), |e| e.verdict.to_string());
    let mut s = format!("{} (expected {expected})", r.verdict);
    if let Some(reason) = &r.reason {
        s.push_str(": ");
        s.push_str(reason.lines().next().unwrap_or(""));
    }
    s
}

fn totals(tallies: &[Tally], round_leaks: usize) -> Vec<(Problem, usize)> {
    Problem::ALL
        .iter()
        .map(|&p| {
            let n = tallies
                .iter()
                .flat_map(|t| &t.problems)
                .filter(|(_, q, _)| *q == p)
                .count();
            (p, n + if p == Problem::Leak { round_leaks } else { 0 })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn report(
    out: &mut Out,
    dir: &std::path::Path,
    args: &StressArgs,
    cases: &[Planned<'_>],
    tallies: &[Tally],
    round_leaks: &[(u32, String)],
    counts: &[(Problem, usize)],
    elapsed: Duration,
) -> std::io::Result<()> {
    let runs: u32 = tallies.iter().map(|t| t.runs).sum();
    let fine: u32 = tallies.iter().map(|t| t.as_expected).sum();
    for t in tallies.iter().filter(|t| !t.problems.is_empty()) {
        out.line(&format!(
            "{}: {}/{} as expected",
            t.label, t.as_expected, t.runs
        ))?;
        for (round, problem, what) in &t.problems {
            out.line(&format!("  round {round}: {}: {what}", problem.kind()))?;
        }
    }
    for (round, what) in round_leaks {
        out.line(&format!("round {round}: leak: {what}"))?;
    }
    out.line(&format!(
        "stress: {} round(s) x {} case(s) = {runs} run(s) in {:.0} s: {fine} as expected; {}",
        args.rounds,
        cases.len(),
        elapsed.as_secs_f64(),
        counts
            .iter()
            .map(|(p, n)| format!("{n} {}", p.name()))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let doc = json!({
        "rounds": args.rounds,
        "cases": cases.len(),
        "runs": runs,
        "as_expected": fine,
        "elapsed_s": elapsed.as_secs_f64(),
        "kernel": harness::sys::kernel_release(),
        "totals": counts.iter().map(|(p, n)| (p.name().to_owned(), json!(n)))
            .collect::<serde_json::Map<_, _>>(),
        "per_case": tallies.iter().map(|t| json!({
            "case": t.label,
            "runs": t.runs,
            "as_expected": t.as_expected,
            "problems": t.problems.iter().map(|(round, p, what)| json!({
                "round": round, "kind": p.kind(), "what": what,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "round_leaks": round_leaks.iter().map(|(round, what)| json!({
            "round": round, "what": what,
        })).collect::<Vec<_>>(),
    });
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
    out.line(&format!("report: {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::record::Expected;

    fn record(verdict: Verdict, expected: Verdict, reason: Option<&str>) -> Record {
        let mut r =
            Record::supervisor("s", Runtime::Rust, "broken", verdict, String::new(), vec![]);
        r.reason = reason.map(str::to_owned);
        let e = Expected {
            verdict: expected,
            symptom: None,
        };
        r.as_expected = Some(e.is_met_by(&r));
        r.expected = Some(e);
        r
    }

    #[test]
    fn each_kind_of_run_is_named() {
        use Verdict::*;
        let m = Misbehaved;
        assert_eq!(classify(&record(Behaved, m, None)), Some(Problem::Flip));
        assert_eq!(classify(&record(Hung, m, None)), Some(Problem::Hang));
        assert_eq!(classify(&record(Crashed, m, None)), Some(Problem::Crash));
        let left = Some("the scenario left 1 process(es) behind");
        assert_eq!(classify(&record(Error, m, left)), Some(Problem::Leak));
        let litter = Some("the scenario left 1 file(s) in its TMPDIR: x");
        assert_eq!(classify(&record(Error, m, litter)), Some(Problem::Leak));
        assert_eq!(
            classify(&record(Error, m, Some("boom"))),
            Some(Problem::Error)
        );
        assert_eq!(classify(&record(Skipped, m, None)), Some(Problem::Error));
    }
}
