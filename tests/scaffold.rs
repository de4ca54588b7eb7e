//! `repro new <id>`, end to end, in a copy of the tree: the scaffold writes
//! the scenario's own directory and its pyrepro module and nothing else;
//! the copy builds (clippy and rustfmt clean), its `repro run` and canary
//! run the new cases as expected, and the copy's own cross-cutting tests
//! (corpus, history, explain, diff, trace, strace, exercise) cover it with
//! no other edit.
//!
//! It builds a whole copy (about 40 s cold, 10 s warm, in
//! `target/scaffold`), so it is `#[ignore]`d in a plain `cargo test`;
//! `make test` runs it.

use crate::util::{Ran, repro_env};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const ID: &str = "inherited-pipe";

/// The tests of the copy that iterate the scenarios (narrowed to the new
/// one by `REPRO_SCENARIOS`), or check the whole corpus.
const COVERING: &[&str] = &[
    "corpus::",
    "history::",
    "explain::explain_tells_the_whole_lesson",
    "explain::every_try_it_command_runs",
    "diff::every_fix_has_a_diff",
    "trace::every_trace_tells_its_story",
    "strace::strace_shows_the_syscalls",
    "exercise::python_exercises_unmodified_fixed_and_faked",
];

fn run(cmd: &mut Command) -> Ran {
    let shown = format!("{cmd:?}");
    let output = cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    Ran { cmd: shown, output }
}

/// Every file of the tree at `root` (git's view: tracked, and untracked
/// but not ignored), relative, with its contents.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let ran = run(Command::new("git").arg("-C").arg(root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    assert_eq!(
        ran.code(),
        Some(0),
        "the tree must be a git checkout{}",
        ran.show()
    );
    ran.output
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter_map(|p| Some((p.clone(), std::fs::read(root.join(&p)).ok()?)))
        .collect()
}

#[test]
#[ignore = "builds a copy of the tree (about 40 s cold); make test runs it"]
fn a_scaffolded_scenario_is_built_run_and_covered_with_no_other_edit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().unwrap();
    let copy = copy.path();
    let before = tree(root);
    for (path, bytes) in &before {
        let to = copy.join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, bytes).unwrap();
    }
    // The copy is a git checkout too (its tests read git's view), and set
    // up as this one is (gevent and aiohttp from `make setup`'s .venv).
    assert_eq!(
        run(Command::new("git").arg("-C").arg(copy).args(["init", "-q"])).code(),
        Some(0)
    );
    if root.join(".venv").exists() {
        std::os::unix::fs::symlink(root.join(".venv"), copy.join(".venv")).unwrap();
    }
    let copy_s = copy.to_str().unwrap();

    // A taken id and a bad one are refused, and write nothing.
    let taken = repro_env(&["new", "fork-held-lock"], &[("REPRO_ROOT", copy_s)]);
    assert_eq!(taken.code(), Some(2), "{}", taken.show());
    assert!(
        taken.stderr().contains("already exists"),
        "{}",
        taken.show()
    );
    let bad = repro_env(&["new", "Not_Kebab"], &[("REPRO_ROOT", copy_s)]);
    assert_eq!(bad.code(), Some(2), "{}", bad.show());
    assert_eq!(tree(copy), before, "a refused `repro new` wrote something");

    let made = repro_env(&["new", ID], &[("REPRO_ROOT", copy_s)]);
    assert_eq!(made.code(), Some(0), "{}", made.show());

    // Only the scenario's directory and its pyrepro module: nothing else
    // written, nothing else edited.
    let after = tree(copy);
    let mut added: Vec<String> = after
        .keys()
        .filter(|p| !before.contains_key(*p))
        .map(|p| p.display().to_string())
        .collect();
    added.sort();
    let dir = format!("crates/corpus/{ID}");
    assert_eq!(
        added,
        [
            format!("{dir}/README.md"),
            format!("{dir}/lib.rs"),
            format!("{dir}/scenario.toml"),
            "pyrepro/inherited_pipe.py".to_owned(),
        ],
        "{}",
        made.show()
    );
    let edited: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, bytes)| after.get(*p) != Some(bytes))
        .map(|(p, _)| p)
        .collect();
    assert!(edited.is_empty(), "repro new edited {edited:?}");

    // It builds, clean: clippy with warnings as errors, rustfmt.
    let target = root.join("target").join("scaffold");
    let cargo = || {
        let mut c = Command::new(env!("CARGO"));
        c.current_dir(copy).env("CARGO_TARGET_DIR", &target);
        c
    };
    let clippy = run(cargo().args([
        "clippy",
        "--quiet",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    assert_eq!(clippy.code(), Some(0), "{}", clippy.show());
    let fmt = run(Command::new("rustfmt")
        .args(["--check", "--edition", "2024"])
        .arg(copy.join(&dir).join("lib.rs")));
    assert_eq!(fmt.code(), Some(0), "{}", fmt.show());
    let build = run(cargo().args(["build", "--quiet"]));
    assert_eq!(build.code(), Some(0), "{}", build.show());

    // The copy's repro knows it, runs every case as expected, and its
    // canary reports no drift.
    let bin = target.join("debug").join("repro");
    let list = run(Command::new(&bin).args(["list"]));
    assert!(list.stdout().contains(ID), "{}", list.show());
    let cases = run(Command::new(&bin).args(["run", ID, "--json"]));
    assert_eq!(cases.code(), Some(0), "{}", cases.show());
    let records = cases.records();
    assert_eq!(records.len(), 6, "3 runtimes x 2 variants{}", cases.show());
    for r in &records {
        let want = if r.variant == "broken" {
            "misbehaved"
        } else {
            "behaved"
        };
        assert_eq!(r.verdict.to_string(), want, "{}", cases.show());
        // The evidence, from /proc/<child>/fd (procfs::fds_to in Rust,
        // proc.fds_to in Python): only the broken child holds the write end.
        let holds = r
            .evidence
            .iter()
            .find_map(|e| e.get("child_holds")?.as_array().map(Vec::len));
        let held = usize::from(r.variant == "broken");
        assert_eq!(holds, Some(held), "{}", cases.show());
    }
    let reports = tempfile::tempdir().unwrap();
    let canary = run(Command::new(&bin)
        .args(["canary", "--scenario", ID, "--no-envs", "--out"])
        .arg(reports.path()));
    assert_eq!(canary.code(), Some(0), "{}", canary.show());
    let matrix = std::fs::read_to_string(reports.path().join("matrix.json")).unwrap();
    assert!(matrix.contains(ID), "{matrix}");

    // The copy's own suite covers it, with no edit: every covering test
    // runs (on the new scenario) and passes.
    let suite = run(cargo()
        .args(["test", "--quiet", "--test", "integration", "--"])
        .args(COVERING)
        .env("REPRO_SCENARIOS", ID));
    assert_eq!(suite.code(), Some(0), "{}", suite.show());
    let passed: usize = suite
        .stdout()
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(
        passed >= COVERING.len(),
        "{passed} tests ran{}",
        suite.show()
    );
}
