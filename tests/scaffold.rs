//! `repro new <id>`, end to end, in a copy of the tree: the scaffold writes
//! the scenario's own directory and its pyrepro module and nothing else;
//! the copy builds (clippy and rustfmt clean), its `repro run` and canary
//! run the new cases as expected, and the copy's own cross-cutting tests
//! (corpus, history, explain, diff, trace, strace, exercise) cover it with
//! no other edit.
//!
//! It builds a whole copy (in `target/scaffold`: about 75 s the first
//! time, see [`seed`], 6 s warm), so it is `#[ignore]`d in a plain `cargo
//! test`; `make test` runs it.

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

/// A `target/scaffold` that does not exist yet starts as a copy of this
/// build's compiled dependencies (`deps`, `build`, `.fingerprint` of the
/// profile this test binary was built in): cargo reuses a registry crate's
/// artifact wherever its fingerprint is the one it wants (same version,
/// features, profile, compiler), and the copy's own crates, at another
/// path, are other units, which it builds. Made aside and renamed into
/// place, so an interrupted copy leaves nothing. A fresh clone's first run
/// (CI's): 123 s and 233 s of CPU unseeded, 76 s and 140 s seeded (2.7 s of
/// it the copy).
fn seed(target: &Path) {
    if target.exists() {
        return;
    }
    // <target>/<profile>/deps/integration-<hash>
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    let aside = tempfile::Builder::new()
        .prefix("scaffold.seeding-")
        .tempdir_in(target.parent().unwrap())
        .unwrap();
    let into = aside.path().join(profile.file_name().unwrap());
    std::fs::create_dir(&into).unwrap();
    let copied = run(Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .args(["deps", "build", ".fingerprint"].map(|d| profile.join(d)))
        .arg(&into));
    assert_eq!(copied.code(), Some(0), "{}", copied.show());
    // Another run may have seeded it meanwhile: then theirs stays, and
    // this copy goes with `aside`.
    if std::fs::rename(aside.path(), target).is_ok() {
        let _ = aside.keep();
    }
}

/// The copy of `root` (its files, `before`) at `target/scaffold/tree`, a
/// git checkout set up as `root` is (gevent and aiohttp from `make
/// setup`'s .venv): the same path every run, and a file that has not
/// changed since the last run is not written, so it keeps its time. Cargo
/// then rebuilds only the crates the new scenario touches, and they stay
/// the same units from run to run: a copy at a new path each time made new
/// units of the workspace's crates every run (60 s warm, and half a
/// gigabyte more in `target/scaffold` each time). What the last run added
/// (the scenario `repro new` wrote) is removed first.
fn copy_of(root: &Path, before: &BTreeMap<PathBuf, Vec<u8>>, target: &Path) -> PathBuf {
    let copy = target.join("tree");
    if copy.join(".git").is_dir() {
        for path in tree(&copy).keys().filter(|p| !before.contains_key(*p)) {
            std::fs::remove_file(copy.join(path)).unwrap();
            // And its directories, up to the first that holds anything else.
            for dir in path
                .ancestors()
                .skip(1)
                .take_while(|d| !d.as_os_str().is_empty())
            {
                if std::fs::remove_dir(copy.join(dir)).is_err() {
                    break;
                }
            }
        }
    } else if copy.exists() {
        // Not a checkout: a run stopped while making it; start again.
        std::fs::remove_dir_all(&copy).unwrap();
    }
    for (path, bytes) in before {
        let to = copy.join(path);
        if std::fs::read(&to).ok().as_ref() != Some(bytes) {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, bytes).unwrap();
        }
    }
    // Its tests read git's view.
    let init = run(Command::new("git")
        .arg("-C")
        .arg(&copy)
        .args(["init", "-q"]));
    assert_eq!(init.code(), Some(0), "{}", init.show());
    let venv = copy.join(".venv");
    if root.join(".venv").exists() && venv.symlink_metadata().is_err() {
        std::os::unix::fs::symlink(root.join(".venv"), venv).unwrap();
    }
    copy
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
#[ignore = "builds a copy of the tree (over a minute the first time); make test runs it"]
fn a_scaffolded_scenario_is_built_run_and_covered_with_no_other_edit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target").join("scaffold");
    seed(&target);
    let _held = crate::util::locked(&target.join("tree.lock"));
    let before = tree(root);
    let copy = &copy_of(root, &before, &target);
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
