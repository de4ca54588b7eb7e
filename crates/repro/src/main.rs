//! # repro: concurrency bugs from Python services, reproduced on demand
//!
//! `repro` runs each case (scenario × runtime × variant) as a fresh process
//! under the harness supervisor, reads the one verdict record the process
//! prints, and compares it with what the scenario's `scenario.toml` expects.
//! The cases themselves live in `crates/corpus/<id>/` (Rust) and `pyrepro/`
//! (Python, standalone or embedded through `crates/pyhost`).
//!
//! `main` stays thin: parse, dispatch, map the outcome to an exit code
//! ([`exit`]). A broken pipe on stdout (`repro list | head`) is success.

mod bench;
mod canary;
mod cli;
mod diff;
mod exercise;
mod exit;
mod explain;
mod fixtures;
mod internal;
mod kernels;
mod list;
mod output;
mod picture;
mod registry;
mod report;
mod run;
mod scaffold;
mod strace;
mod stress;

use clap::Parser;
use cli::{Cli, Command};
use harness::record::Runtime;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The supervising program, not a scenario process (`internal-run`, which
    // must stay single-threaded, with default signal dispositions):
    if !matches!(cli.command, Command::InternalRun { .. }) {
        // Orphans of supervised scenarios come back to us to be reaped.
        harness::supervisor::become_subreaper();
        // Ctrl-C, SIGTERM or SIGHUP: kill and reap everything we started,
        // then exit with 128 + the signal.
        if let Err(e) = harness::supervisor::clean_up_on_interrupt() {
            eprintln!("repro: error: cannot install the interrupt clean-up: {e}");
            return ExitCode::from(exit::COULD_NOT_RUN);
        }
    }
    // What each interpreter is, asked once per interpreter file, not at
    // every start (harness::python::keep_checks_in).
    harness::python::keep_checks_in(registry::root().join("target").join("checks"));
    // One factor slows every deadline down (harness::hang::TIME_FACTOR_ENV):
    // refused when unusable, rather than silently ignored.
    if let Err(e) = harness::hang::time_factor() {
        eprintln!("repro: error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    let mut out = output::Out::stdout();
    let result = match &cli.command {
        Command::List { json } => list::exec(*json, &mut out),
        Command::Explain { scenario } => explain::exec(scenario, &mut out),
        Command::Diff {
            scenario,
            runtime,
            variant,
        } => diff::exec(scenario, runtime.as_deref(), variant.as_deref(), &mut out),
        Command::New { id } => scaffold::exec(id, &mut out),
        Command::Exercise {
            scenario,
            dir,
            runtime,
        } => exercise_runtime(runtime)
            .and_then(|runtime| exercise::exercise(scenario, dir.as_deref(), runtime, &mut out)),
        Command::Check {
            scenario,
            dir,
            runtime,
            timeout,
        } => exercise_runtime(runtime).and_then(|runtime| {
            exercise::check(scenario, dir.as_deref(), runtime, *timeout, &mut out)
        }),
        Command::Run(args) => run::exec(args, &mut out),
        Command::Stress(args) => stress::exec(args, &mut out),
        Command::Bench(args) => bench::exec(args, &mut out),
        Command::Canary(args) => canary::exec(args, &mut out),
        Command::Report {
            canary,
            kernels,
            bench,
            out: file,
        } => report::exec(
            &report::ReportArgs {
                canary: canary.as_deref(),
                kernels: kernels.as_deref(),
                bench: bench.as_deref(),
                out: file.as_deref(),
            },
            &mut out,
        ),
        Command::Kernels(args) => kernels::exec(args, &mut out),
        Command::Interpreters {
            embeddable,
            environments,
        } => canary::interpreters(*embeddable, *environments, &mut out),
        Command::InternalRun {
            scenario,
            runtime,
            variant,
        } => {
            let Some(runtime) = Runtime::parse(runtime) else {
                eprintln!("repro: error: unknown runtime {runtime:?}");
                return ExitCode::from(exit::USAGE);
            };
            match internal::exec(scenario, runtime, variant) {
                Ok(()) => Ok(exit::OK),
                Err(e) => {
                    eprintln!("repro: error: {e}");
                    return ExitCode::from(exit::COULD_NOT_RUN);
                }
            }
        }
    };
    ExitCode::from(match result {
        Ok(code) => code,
        Err(exit::RunError::Usage(exit::Usage(msg))) => {
            eprintln!("repro: error: {msg}");
            exit::USAGE
        }
        Err(exit::RunError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(exit::RunError::Io(e)) => {
            eprintln!("repro: error: cannot write the report: {e}");
            exit::COULD_NOT_RUN
        }
    })
}

/// `--runtime` of `exercise` and `check`: python (the default) or rust.
fn exercise_runtime(arg: &str) -> Result<Runtime, exit::RunError> {
    match arg {
        "python" => Ok(Runtime::Python),
        "rust" => Ok(Runtime::Rust),
        other => Err(exit::RunError::Usage(exit::Usage(format!(
            "--runtime {other:?}: an exercise is in python or rust"
        )))),
    }
}
