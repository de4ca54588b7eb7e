//! One case (scenario × runtime × variant) from process outcome to record.

use crate::record::{Record, Runtime, Verdict};
use crate::supervisor::{Exit, Finished, signal_name};
use serde_json::{Value, json};

/// The case a scenario process was asked to run.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    /// Scenario id.
    pub scenario: &'a str,
    /// Runtime.
    pub runtime: Runtime,
    /// Variant id.
    pub variant: &'a str,
}

/// How many trailing lines of stderr go into the evidence of a failure.
const STDERR_TAIL: usize = 12;

/// Turns what the supervisor saw into the case's record.
///
/// The scenario's own record is used when the process printed a valid one
/// for this very case and left nothing behind; otherwise the supervisor
/// decides: `hung` (deadline), `crashed` (signal, or no record), `error`
/// (invalid record, wrong case, leaked processes).
pub fn interpret(case: Case<'_>, f: &Finished) -> Record {
    let sup = |verdict, reason: String, mut evidence: Vec<Value>| {
        evidence.extend(stderr_tail(&f.stderr));
        let mut r = Record::supervisor(
            case.scenario,
            case.runtime,
            case.variant,
            verdict,
            reason,
            evidence,
        );
        r.wall_ms = Some(ms(f));
        r
    };
    if f.exit == Exit::TimedOut {
        let evidence = f
            .hung
            .iter()
            .map(|s| json!({ "hung": s }))
            .collect::<Vec<_>>();
        return sup(
            Verdict::Hung,
            format!(
                "no verdict within {:.1} s; killed and reaped {} process(es)",
                ms(f) / 1000.0,
                f.hung.len()
            ),
            evidence,
        );
    }
    if let Exit::Signal(sig) = f.exit {
        return sup(
            Verdict::Crashed,
            format!("killed by {}", signal_name(sig)),
            vec![],
        );
    }
    let Some(line) = f.stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        let Exit::Code(code) = f.exit else {
            unreachable!()
        };
        return sup(
            Verdict::Crashed,
            format!("exited with code {code} without a verdict"),
            vec![],
        );
    };
    let mut record = match Record::from_json_line(line) {
        Ok(r) => r,
        Err(e) => {
            return sup(
                Verdict::Error,
                e.to_string(),
                vec![json!({ "stdout": line })],
            );
        }
    };
    if (
        record.scenario.as_str(),
        record.runtime,
        record.variant.as_str(),
    ) != (case.scenario, case.runtime, case.variant)
    {
        return sup(
            Verdict::Error,
            format!(
                "asked for {}/{}/{}, the process reported {}/{}/{}",
                case.scenario,
                case.runtime,
                case.variant,
                record.scenario,
                record.runtime,
                record.variant
            ),
            vec![],
        );
    }
    if !f.leaked.is_empty() || f.pipe_held_open {
        let evidence = f.leaked.iter().map(|s| json!({ "leaked": s })).collect();
        return sup(
            Verdict::Error,
            format!(
                "the scenario left {} process(es){} behind (its verdict was {})",
                f.leaked.len(),
                if f.pipe_held_open {
                    " and an open output pipe"
                } else {
                    ""
                },
                record.verdict
            ),
            evidence,
        );
    }
    if !f.temp_left.is_empty() && f.exit != Exit::TimedOut {
        return sup(
            Verdict::Error,
            format!(
                "the scenario left {} file(s) in its TMPDIR: {} (its verdict was {})",
                f.temp_left.len(),
                f.temp_left.join(", "),
                record.verdict
            ),
            vec![],
        );
    }
    record.wall_ms = Some(ms(f));
    record
}

fn ms(f: &Finished) -> f64 {
    f.wall.as_secs_f64() * 1000.0
}

fn stderr_tail(stderr: &str) -> Option<Value> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    let tail = lines[lines.len().saturating_sub(STDERR_TAIL)..].join("\n");
    Some(json!({ "stderr": tail }))
}
