//! The command line. The doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Every numeric flag of every subcommand is parsed by one of these, so
/// no value can panic later (`Duration::from_secs_f64` on 1e30) or turn a
/// usage error into a verdict (`--timeout 0` as "hung", or as drift). A
/// refusal is clap's usage error: the flag, the value, what is valid, and
/// exit code 2, before anything runs.
pub mod numeric {
    /// The longest deadline: a week. Times the largest time factor it
    /// still fits a `Duration`.
    pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
    /// The shortest deadline: a millisecond (less is no deadline at all).
    pub const MIN_SECONDS: f64 = 0.001;

    /// A deadline in seconds (`--timeout`, `--vm-timeout`).
    pub fn seconds(s: &str) -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (MIN_SECONDS..=MAX_SECONDS).contains(v))
            .ok_or_else(|| {
                format!("not a number of seconds from {MIN_SECONDS} to {MAX_SECONDS} (a week)")
            })
    }

    /// A whole number from `min` to `max`.
    fn between(s: &str, min: u32, max: u32) -> Result<u32, String> {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| format!("not a whole number from {min} to {max}"))
    }

    /// How many times (`--repeat`, `--runs`, `--rounds`).
    pub fn count(s: &str) -> Result<u32, String> {
        between(s, 1, 100_000)
    }

    /// How many side by side (`--jobs`).
    pub fn jobs(s: &str) -> Result<u32, String> {
        between(s, 1, 1024)
    }

    /// A guest's memory in MiB (`--memory`).
    pub fn mebibytes(s: &str) -> Result<u32, String> {
        between(s, 256, 1 << 20)
    }

    /// A time factor (`--time-factor`; `REPRO_TIME_FACTOR` takes the same).
    pub fn factor(s: &str) -> Result<f64, String> {
        harness::hang::parse_time_factor(s)
    }
}

/// A living corpus of real concurrency bugs from Python services: each one
/// reproduced on demand, paired with its fix, and checked against what its
/// scenario.toml expects.
///
/// Exit codes: 0 every case as expected; 1 some verdict not as expected;
/// 2 usage error; 3 some case could not run (hung, crashed, error, or an
/// unexpected skip).
#[derive(Debug, Parser)]
#[command(name = "repro", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the scenarios, their variants and what each must do.
    List {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Explain a scenario: the story, the mechanism, the fix, what each
    /// runtime and interpreter is expected to do, and commands to try.
    Explain {
        /// A scenario id (see `repro list`).
        scenario: String,
    },
    /// Run cases (scenario x runtime x variant), each in a fresh supervised
    /// process, and compare every verdict with its expectation.
    ///
    /// Each case runs in its own process group under a watchdog; whatever it
    /// forks is killed and reaped before the next case starts.
    Run(RunArgs),
    /// Measure every case: N runs each (30 by default), how often it was as
    /// expected, median and p95 time to verdict (start-up excluded and
    /// reported apart), time from a child blocking to a hang verdict,
    /// interpreter start-up, and with --cargo-test the whole test suite.
    /// Writes target/bench/report.md and report.json. `make bench`.
    Bench(BenchArgs),
    /// Run every case, round after round (50 by default), and count flips,
    /// hangs, crashes, errors and leaks. After each round: no child of
    /// repro left, no extra open fd. Progress on stderr; a summary and
    /// target/stress/report.json. Exit: 0 nothing went wrong, 1 otherwise.
    /// `make stress` runs it with every core busy.
    Stress(StressArgs),
    /// Run every scenario on every interpreter found here, compare each
    /// verdict with its expectation, and report drift.
    ///
    /// Columns: rust once; each interpreter (PATH, pyenv, /usr/bin,
    /// $REPRO_PYTHONS, --python) in a cached environment with
    /// pyrepro/requirements.txt where its wheels exist; the embedded interpreter
    /// this binary was built for. Writes matrix.md, matrix.json and
    /// junit.xml. Exit: 0 no drift, 1 drift, 2 usage, 3 nothing could run.
    Canary(CanaryArgs),
    /// One self-contained HTML page of the latest canary: the matrix across
    /// interpreters (and kernels, after `make canary-kernels`), each cell
    /// linked to its record and timeline, and the bench as a chart (after
    /// `make bench`). Writes target/report/index.html. `make report`.
    Report {
        /// The canary's matrix.json [default: target/canary/matrix.json].
        #[arg(long, value_name = "FILE")]
        canary: Option<PathBuf>,
        /// The kernel canary's matrix.json [default:
        /// target/canary-kernels/matrix.json, if there].
        #[arg(long, value_name = "FILE")]
        kernels: Option<PathBuf>,
        /// The bench's report.json [default: target/bench/report.json, if
        /// there].
        #[arg(long, value_name = "FILE")]
        bench: Option<PathBuf>,
        /// The page to write [default: target/report/index.html].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show each fix as a unified diff against its broken twin, extracted
    /// from the real source.
    Diff {
        /// A scenario id (see `repro list`).
        scenario: String,
        /// rust, python, embedded, or all.
        #[arg(long)]
        runtime: Option<String>,
        /// One fixed variant (fixed, fixed-spawn, ...); default: all.
        #[arg(long)]
        variant: Option<String>,
    },
    /// Start a new scenario: crates/corpus/ID/ (scenario.toml, README.md,
    /// lib.rs) and pyrepro/ID.py ('_' for '-'), from a working template.
    /// Nothing else needs an edit; see CONTRIBUTING.md.
    New {
        /// The new scenario's id, kebab-case (e.g. inherited-pipe).
        id: String,
    },
    /// Copy a scenario's Python module (or with --runtime rust, its Rust
    /// variants as a small crate) into DIR, to fix its bug yourself.
    Exercise {
        /// A scenario id (see `repro list`).
        scenario: String,
        /// Where [default: ./repro-exercise-SCENARIO, or
        /// ./repro-exercise-SCENARIO-rust].
        dir: Option<PathBuf>,
        /// python or rust.
        #[arg(long, default_value = "python")]
        runtime: String,
    },
    /// Run your fixed copy (from `repro exercise`) through the supervisor:
    /// is the bug gone, and does the scenario still do what shows it?
    Check {
        /// A scenario id.
        scenario: String,
        /// Where your copy is [default: ./repro-exercise-SCENARIO, or
        /// ./repro-exercise-SCENARIO-rust].
        dir: Option<PathBuf>,
        /// python or rust (the runtime you did the exercise in).
        #[arg(long, default_value = "python")]
        runtime: String,
        /// The watchdog's deadline, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = numeric::seconds)]
        timeout: f64,
    },
    /// The canary inside other Linux kernels, each booted in QEMU with this
    /// machine's root shared (kernels from ci/kernels.sh; `make
    /// canary-kernels` does both).
    Kernels(KernelsArgs),
    /// List the Python interpreters found here, and why any were dropped.
    Interpreters {
        /// Only the paths of those the embedded runtime can be built against
        /// (CPython 3.9+ with a shared libpython), other than the one this
        /// binary embeds: what ci/canary.sh rebuilds for.
        #[arg(long)]
        embeddable: bool,
        /// Each as `<implementation> <version> <python>`, the python being
        /// its canary environment (target/canary-envs, with the packages the
        /// cases import; made by `make canary`) where there is one, else the
        /// interpreter: what `make bench-interpreters` runs.
        #[arg(long, conflicts_with = "embeddable")]
        environments: bool,
    },
    /// Run one case in this process and print its verdict record (what the
    /// supervisor spawns for the rust runtime).
    #[command(hide = true)]
    InternalRun {
        scenario: String,
        runtime: String,
        variant: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A scenario id (see `repro list`), or `all`.
    pub scenario: String,

    /// rust, python, embedded, or all.
    #[arg(long, default_value = "all")]
    pub runtime: String,

    /// A variant id (broken, fixed, broken-asyncio, ...), or all.
    #[arg(long, default_value = "all")]
    pub variant: String,

    /// The interpreter for the python runtime [default: $REPRO_PYTHON, else
    /// the project's .venv (make setup), else python3 on PATH].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Print each verdict record as one JSON line instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Show each case's timeline: what the parent and the child did, in two
    /// lanes, in milliseconds relative to the fork.
    #[arg(long)]
    pub trace: bool,

    /// Run each case under `strace -f` and show the syscalls that matter
    /// for its scenario (see `[strace]` in its scenario.toml).
    #[arg(long)]
    pub strace: bool,

    /// Also draw each case's timeline as a picture: DIR/<scenario>.<runtime>.
    /// <variant>.svg (lanes, the fork, the steps that show the bug, the
    /// verdict), for a projector or `repro report`.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,

    /// Also write every verdict record to FILE, one JSON line each (what
    /// --json prints), whatever the terminal shows: the table for a person,
    /// the records for a program, from one run.
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,

    /// Print the cases this command would run, in the order it would run
    /// them (scenario, runtime, variant, and a python case's interpreter),
    /// and run nothing. With --json, one JSON object per case.
    #[arg(long)]
    pub list: bool,

    /// The watchdog's deadline for each case, in seconds: a case still
    /// running then is killed with everything it forked, and reported hung.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = numeric::seconds)]
    pub timeout: f64,

    /// Run every case N times and print, per case, how often it reproduced
    /// and the median and p95 time to verdict.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = numeric::count)]
    pub repeat: u32,

    /// Run up to N cases side by side (each still alone in its process
    /// group, reported in order) [default: the number of cores; 1 with
    /// --repeat, whose timings are cleaner alone]. --strace runs one at a
    /// time.
    #[arg(long, value_name = "N", value_parser = numeric::jobs)]
    pub jobs: Option<u32>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A scenario id (see `repro list`), or `all`.
    #[arg(default_value = "all")]
    pub scenario: String,

    /// rust, python, embedded, or all.
    #[arg(long, default_value = "all")]
    pub runtime: String,

    /// Runs per case.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = numeric::count)]
    pub runs: u32,

    /// The interpreter for the python runtime [default: as `repro run`].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Also time the whole `cargo test --workspace`, with a warm build
    /// (run from the project's root).
    #[arg(long)]
    pub cargo_test: bool,

    /// Where report.md and report.json go [default: target/bench].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StressArgs {
    /// A scenario id (see `repro list`), or `all`.
    #[arg(default_value = "all")]
    pub scenario: String,

    /// How many full rounds (every runtime and variant once per round).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = numeric::count)]
    pub rounds: u32,

    /// The interpreter for the python runtime [default: as `repro run`].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// The watchdog's deadline for each case, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = numeric::seconds)]
    pub timeout: f64,

    /// Where report.json goes [default: target/stress].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CanaryArgs {
    /// Also this interpreter (repeatable).
    #[arg(long, value_name = "PATH")]
    pub python: Vec<PathBuf>,

    /// Only the interpreters named with --python: no discovery.
    #[arg(long)]
    pub no_discover: bool,

    /// Run each interpreter as it is, without a per-interpreter environment
    /// (cases that need a package report skipped).
    #[arg(long)]
    pub no_envs: bool,

    /// Only this scenario.
    #[arg(long, value_name = "ID")]
    pub scenario: Option<String>,

    /// Only this runtime's columns: rust, python, embedded, or all.
    #[arg(long, default_value = "all")]
    pub runtime: String,

    /// Use this file instead of the compiled-in scenario.toml of the
    /// scenario it names (repeatable): to try an expectation change.
    #[arg(long, value_name = "FILE")]
    pub scenario_toml: Vec<PathBuf>,

    /// Where the reports go [default: target/canary].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The watchdog's deadline for each case, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = numeric::seconds)]
    pub timeout: f64,

    /// Run up to N cells side by side (each case still alone in its process
    /// group; the reports list them in order) [default: the number of
    /// cores].
    #[arg(long, value_name = "N", value_parser = numeric::jobs)]
    pub jobs: Option<u32>,
}

#[derive(Debug, Args)]
pub struct KernelsArgs {
    /// A kernel directory ci/kernels.sh prepared (repeatable) [default:
    /// those in target/kernels/ready].
    #[arg(long, value_name = "DIR")]
    pub kernel: Vec<PathBuf>,

    /// Only this runtime's columns: rust, python, embedded, or all.
    #[arg(long, default_value = "all")]
    pub runtime: String,

    /// Only this scenario.
    #[arg(long, value_name = "ID")]
    pub scenario: Option<String>,

    /// Use this file instead of the compiled-in scenario.toml of the
    /// scenario it names (repeatable): to try an expectation change.
    #[arg(long, value_name = "FILE")]
    pub scenario_toml: Vec<PathBuf>,

    /// Also this interpreter inside each guest (repeatable); the default
    /// interpreter always runs.
    #[arg(long, value_name = "PATH")]
    pub python: Vec<PathBuf>,

    /// Also every interpreter `make interpreters` provisioned (CPython
    /// 3.14+, 3.13t, PyPy): at least 3 times the cost of a kernel under TCG.
    #[arg(long)]
    pub provisioned: bool,

    /// auto (KVM where a probe boots under it, else TCG), kvm, or tcg.
    #[arg(long, default_value = "auto")]
    pub accel: String,

    /// Every deadline inside the guest is this many times longer
    /// (REPRO_TIME_FACTOR) [default: 10 under TCG, 2 under KVM].
    #[arg(long, value_name = "F", value_parser = numeric::factor)]
    pub time_factor: Option<f64>,

    /// The watchdog's deadline for each case, in seconds, before the time
    /// factor.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = numeric::seconds)]
    pub timeout: f64,

    /// Each VM is killed past this many seconds, and its kernel reported
    /// failed.
    #[arg(long, value_name = "SECS", default_value_t = 3600.0, value_parser = numeric::seconds)]
    pub vm_timeout: f64,

    /// The guest's memory, in MiB (the guest's root is writable in RAM).
    #[arg(long, value_name = "MIB", default_value_t = 3072, value_parser = numeric::mebibytes)]
    pub memory: u32,

    /// Boot every kernel this many times, and count the cells that flip.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = numeric::count)]
    pub rounds: u32,

    /// Where the reports go [default: target/canary-kernels].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::numeric;

    #[test]
    fn numeric_flags_take_their_whole_range() {
        for ok in ["0.001", "10", " 2.5 ", "604800"] {
            assert!(numeric::seconds(ok).is_ok(), "{ok}");
        }
        for ok in ["1", "100000"] {
            assert!(numeric::count(ok).is_ok(), "{ok}");
        }
        assert_eq!(numeric::jobs("1024"), Ok(1024));
        assert_eq!(numeric::mebibytes("256"), Ok(256));
        assert_eq!(numeric::factor("1000"), Ok(1000.0));
        assert!(numeric::factor("1000.5").is_err());
        assert!(numeric::count("100001").is_err());
        assert!(numeric::seconds("604801").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
