//! The case book: every case of the corpus run once per test binary, and
//! shared by every test that asserts on a case's run.
//!
//! One `repro run all` (side by side, with `--trace` and `--svg`, the
//! records written to a file by `--records`) gives each case's record, its
//! row in the table, its timeline as a person reads it and its picture.
//! Each python case on another interpreter runs once per (scenario,
//! interpreter), the first time a test asks for it. A test whose fact is
//! a case's outcome reads it here; a test whose fact is the run itself (a
//! changed environment, strace, an interrupt, the canary or a learner's
//! copy) still runs its own. So no case runs twice for the same fact,
//! and the plain `cargo test` costs about one run of the corpus.

use crate::util::{Ran, narrowed_to, once_per_run, repro, repro_env, run_dir, scenario_ids};
use harness::record::{Record, Runtime};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The corpus, run once.
pub struct Book {
    /// One `repro run` per scenario `$REPRO_SCENARIOS` names, else one
    /// `repro run all`: what each selected, and how it ran.
    pub runs: Vec<(String, &'static Ran)>,
    /// Every record, in the order the runs printed them.
    pub records: Vec<Record>,
    /// Where `--svg` drew each case.
    pub svg: PathBuf,
    /// The interpreter the python cases ran on.
    pub python: PathBuf,
}

/// The book, run on first use (once per test run: [`once_per_run`]).
pub fn book() -> &'static Book {
    static BOOK: OnceLock<Book> = OnceLock::new();
    BOOK.get_or_init(|| {
        let svg = run_dir().join("book-pictures");
        // Every scenario in one `repro run all` (its jobs keep both cores
        // busy to the end); narrowed, one run per scenario named.
        let all = scenario_ids();
        let selections: Vec<&str> = match narrowed_to() {
            None => vec!["all"],
            Some(_) => all.iter().map(String::as_str).collect(),
        };
        let mut runs = Vec::new();
        let mut records = Vec::new();
        for sel in selections {
            let (dir, ran) = once_per_run(&format!("book-{sel}"), |dir| {
                let file = dir.join("records.jsonl");
                repro(&[
                    "run",
                    sel,
                    "--trace",
                    "--svg",
                    svg.to_str().unwrap(),
                    "--records",
                    file.to_str().unwrap(),
                    "--jobs",
                    "2",
                ])
            });
            let file = dir.join("records.jsonl");
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("--records {}: {e}{}", file.display(), ran.show()));
            for line in text.lines() {
                records.push(
                    Record::from_json_line(line)
                        .unwrap_or_else(|e| panic!("{e}\nline: {line}{}", ran.show())),
                );
            }
            runs.push((sel.to_owned(), ran));
        }
        let python = harness::python::default_python(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("a python3");
        Book {
            runs,
            records,
            svg,
            python,
        }
    })
}

impl Book {
    /// A scenario's records, in plan order.
    pub fn scenario(&self, id: &str) -> Vec<&Record> {
        self.records.iter().filter(|r| r.scenario == id).collect()
    }

    /// One case's record.
    pub fn case(&self, id: &str, runtime: &str, variant: &str) -> &Record {
        self.records
            .iter()
            .find(|r| r.scenario == id && r.runtime.as_str() == runtime && r.variant == variant)
            .unwrap_or_else(|| panic!("{id} {runtime} {variant} is not in the book"))
    }

    /// What the table showed for one case: its row, and the indented lines
    /// under it (evidence, timeline, picture, interpreter).
    pub fn view(&self, id: &str, runtime: &str, variant: &str) -> String {
        let want = [id, runtime, variant];
        for (_, ran) in &self.runs {
            let out = ran.stdout();
            let mut lines = out.lines();
            while let Some(line) = lines.next() {
                if !line.starts_with(' ') && line.split_whitespace().take(3).eq(want) {
                    let mut view = vec![line];
                    view.extend(lines.take_while(|l| l.starts_with(' ')));
                    return view.join("\n") + "\n";
                }
            }
        }
        panic!("no row for {id} {runtime} {variant} in the book's table")
    }

    /// For an assertion message about one case: the command, its view and
    /// record.
    pub fn show(&self, r: &Record) -> String {
        let cmds: Vec<&str> = self.runs.iter().map(|(_, r)| r.cmd.as_str()).collect();
        format!(
            "\n--- the book ({})\n{}\n--- record\n{}",
            cmds.join("; "),
            self.view(&r.scenario, r.runtime.as_str(), &r.variant),
            r.to_json_line()
        )
    }
}

/// `scenario`'s python cases on `python`, run once per test binary (its
/// run, and one record per python variant). On the book's interpreter,
/// the book's records.
pub fn on_python(scenario: &str, python: &str) -> (String, Vec<Record>) {
    let book = book();
    if Path::new(python) == book.python {
        let records: Vec<Record> = book
            .scenario(scenario)
            .into_iter()
            .filter(|r| r.runtime == Runtime::Python)
            .cloned()
            .collect();
        let show = records.iter().map(|r| book.show(r)).collect();
        return (show, records);
    }
    let (_, ran) = once_per_run(&shared_name(&["python", scenario, python]), |_| {
        repro_env(
            &[
                "run",
                scenario,
                "--runtime",
                "python",
                "--json",
                "--python",
                python,
            ],
            &[],
        )
    });
    (ran.show(), ran.records())
}

/// One python case, `scenario`'s `variant` on `python`, with what to show
/// on failure: from the run that has it anyway, the book's on its
/// interpreter or an expectation group's
/// ([`crate::util::expectation_pythons`]); otherwise run once per test
/// run, so the tests that ask for the same case share it.
pub fn case_on(scenario: &str, variant: &str, python: &str) -> (Record, String) {
    let (show, records) = if run_whole(scenario, python) {
        on_python(scenario, python)
    } else {
        let (_, ran) = once_per_run(&shared_name(&["case", scenario, variant, python]), |_| {
            repro_env(
                &[
                    "run",
                    scenario,
                    "--runtime",
                    "python",
                    "--variant",
                    variant,
                    "--json",
                    "--python",
                    python,
                ],
                &[],
            )
        });
        (ran.show(), ran.records())
    };
    let r = records
        .into_iter()
        .find(|r| r.variant == variant)
        .unwrap_or_else(|| panic!("no {scenario} {variant} record on {python}{show}"));
    (r, show)
}

/// Whether `scenario`'s python cases on `python` are run whole anyway: on
/// the book's interpreter, or on one of its expectation groups'.
pub fn run_whole(scenario: &str, python: &str) -> bool {
    Path::new(python) == book().python
        || crate::util::expectation_pythons(scenario)
            .iter()
            .any(|p| p == python)
}

/// A name for [`once_per_run`] (a directory name) from its parts.
fn shared_name(parts: &[&str]) -> String {
    parts
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A `repro` command a document tells a reader to type, checked against
/// the book: `repro run` without `--strace`, `--repeat` or `--timeout` on
/// the book's interpreter lists what it would run (`--list`: the command
/// line parses and names real cases), and each case it names must be in
/// the book and as expected, which is what its exit code 0 would say.
/// Other commands (one on another interpreter included) run as typed, in
/// `cwd`. Returns what it ran, and whether the book's cases were as
/// expected.
pub fn doc_command(cwd: &Path, args: &[&str]) -> (Ran, Result<(), String>) {
    let served = args.first() == Some(&"run")
        && !args
            .iter()
            .any(|a| ["--strace", "--repeat", "--timeout"].contains(a));
    if !served {
        let ran = crate::util::repro_in(cwd, args);
        return (ran, Ok(()));
    }
    let mut listed = args.to_vec();
    listed.extend(["--list", "--json"]);
    let ran = crate::util::repro_in(cwd, &listed);
    if ran.code() != Some(0) {
        return (ran, Ok(()));
    }
    let book = book();
    let cases: Vec<serde_json::Value> = ran
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a --list line"))
        .collect();
    let field = |case: &serde_json::Value, k: &str| case[k].as_str().unwrap_or_default().to_owned();
    // A case on another interpreter than the book's: the command runs as
    // typed (its exit code says whether every case was as expected).
    let elsewhere = cases
        .iter()
        .any(|c| field(c, "runtime") == "python" && Path::new(&field(c, "python")) != book.python);
    if elsewhere {
        let ran = crate::util::repro_in(cwd, args);
        return (ran, Ok(()));
    }
    let mut wrong = Vec::new();
    for case in &cases {
        let r = book.case(
            &field(case, "scenario"),
            &field(case, "runtime"),
            &field(case, "variant"),
        );
        if r.as_expected != Some(true) {
            wrong.push(format!("not as expected{}", book.show(r)));
        }
    }
    let verdict = if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("\n"))
    };
    (ran, verdict)
}

/// The book, as one run of the corpus: every case as expected, every row
/// with its ✓, its timeline and its picture, the summary line, and the
/// records in plan order though the cases ran side by side (`--list`
/// gives the plan).
#[test]
fn run_all_shows_every_case_as_expected_in_plan_order() {
    let book = book();
    let plan: Vec<(String, String, String)> = book
        .runs
        .iter()
        .flat_map(|(sel, _)| {
            let listed = repro(&["run", sel, "--list", "--json"]);
            assert_eq!(listed.code(), Some(0), "{}", listed.show());
            listed
                .stdout()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let s = |k: &str| v[k].as_str().unwrap().to_owned();
                    (s("scenario"), s("runtime"), s("variant"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let ran: Vec<(String, String, String)> = book
        .records
        .iter()
        .map(|r| {
            (
                r.scenario.clone(),
                r.runtime.as_str().to_owned(),
                r.variant.clone(),
            )
        })
        .collect();
    assert_eq!(ran, plan, "the records are not in plan order");
    for (_, ran) in &book.runs {
        assert_eq!(ran.code(), Some(0), "every case as expected{}", ran.show());
        let n = ran.stdout().lines().filter(|l| l.contains(" ✓ ")).count();
        let summary = format!("{n} run(s): {n} as expected, 0 not as expected");
        assert!(ran.stdout().contains(&summary), "{summary}{}", ran.show());
    }
    for r in &book.records {
        let view = book.view(&r.scenario, r.runtime.as_str(), &r.variant);
        let (row, below) = view.split_once('\n').unwrap();
        assert!(row.contains(" ✓ "), "{}", book.show(r));
        // Its timeline (`--trace`), and its picture (`--svg`).
        if let Some(first) = r.trace.as_ref().and_then(|t| t.first()) {
            let time = format!("{:.2}  ", first.t_ms);
            assert!(below.contains(&time), "no timeline{}", book.show(r));
            let file = book.svg.join(format!(
                "{}.{}.{}.svg",
                r.scenario,
                r.runtime.as_str(),
                r.variant
            ));
            assert!(
                below.contains(&format!("picture: {}", file.display())) && file.is_file(),
                "no picture {}{}",
                file.display(),
                book.show(r)
            );
        }
    }
}
