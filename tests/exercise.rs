//! `repro exercise` / `repro check`: the verdict on a learner's copy is the
//! real one: unmodified, it is still broken; fixed, it passes; "fixed" by
//! removing or faking what shows the bug (the fork, the child's lock, the
//! collection in the hub), it is refused, by what the witness saw
//! (pyrepro/witness.py, harness::witness), whatever the copy's own trace
//! claims. In Python for every scenario; in Rust for those with an
//! `[exercise.rust]`. Both run in `make test`, not in a plain `cargo test`
//! (each check is a case on a learner's copy, and in Rust a build of the
//! learner's crate): what a plain `cargo test` keeps is that every edit
//! scenario.toml gives (the answer, each fake) still applies to the file it
//! edits, so a change to a scenario's code that breaks its exercise fails
//! there too.

use crate::util::{Ran, each_scenario, repro, spec};
use harness::record::{Runtime, Verdict};
use harness::spec::{Answer, Fake};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check(id: &str, dir: &Path, runtime: &str) -> Ran {
    repro(&["check", id, dir.to_str().unwrap(), "--runtime", runtime])
}

/// Edits the learner's copy: `from` becomes `to` (the first one).
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

/// One exercise in one runtime, as scenario.toml gives it.
struct Exercise<'a> {
    id: &'a str,
    runtime: Runtime,
    variant: &'a str,
    /// The learner's file, relative to the exercise's folder.
    file: PathBuf,
    /// What it is a copy of.
    pristine: PathBuf,
    answer: &'a Answer,
    fakes: &'a [Fake],
}

#[test]
#[ignore = "a case per learner's copy, five or six per scenario (4 s of CPU); make test runs it"]
fn python_exercises_unmodified_fixed_and_faked() {
    each_scenario(|id| {
        let spec = spec(id);
        let ex = spec
            .exercise
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no [exercise] in its scenario.toml"));
        judged_by_the_witness(&Exercise {
            id,
            runtime: Runtime::Python,
            variant: &ex.variant,
            file: PathBuf::from(&ex.module),
            pristine: root().join("pyrepro").join(&ex.module),
            answer: &ex.answer,
            fakes: &ex.fake,
        });
        // And the bluntest fake: the variant's entry in VARIANTS returns at
        // once, with nothing observed.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ex");
        assert_eq!(
            repro(&["exercise", id, dir.to_str().unwrap()]).code(),
            Some(0)
        );
        let file = dir.join(&ex.module);
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{:?}:", ex.variant)))
            .unwrap_or_else(|| panic!("{id}: no {:?} entry in {}", ex.variant, ex.module));
        let fake = format!(
            "    {:?}: lambda: __import__('pyrepro.record').record.Observation().note('no bug here'),",
            ex.variant
        );
        edit(&file, entry, &fake);
        let ran = check(id, &dir, "python");
        assert_eq!(ran.code(), Some(1), "{}", ran.show());
        assert!(ran.stdout().contains("not a fix"), "{}", ran.show());
    });
}

/// Every edit an exercise gives applies to the file the learner copies:
/// its `from` is in that file and the edit changes it. Without this, an
/// edit of a scenario's code could leave its answer or a fake pointing at
/// text that is gone, and only the (ignored) checks above would find it.
#[test]
fn every_exercise_edit_applies_to_its_file() {
    let mut edits = 0;
    for id in crate::util::scenario_ids() {
        let spec = spec(&id);
        let ex = spec
            .exercise
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no [exercise] in its scenario.toml"));
        let mut files = vec![(
            root().join("pyrepro").join(&ex.module),
            &ex.answer,
            &ex.fake,
        )];
        if let Some(rust) = &ex.rust {
            files.push((
                root().join("crates/corpus").join(&id).join("lib.rs"),
                &rust.answer,
                &rust.fake,
            ));
        }
        for (file, answer, fakes) in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let all = std::iter::once(("the answer", &answer.from, &answer.to))
                .chain(fakes.iter().map(|f| (f.does.as_str(), &f.from, &f.to)));
            for (does, from, to) in all {
                assert!(
                    text.contains(from.as_str()),
                    "{id}: {does}: {from:?} is not in {}",
                    file.display()
                );
                assert_ne!(from, to, "{id}: {does}: the edit changes nothing");
                edits += 1;
            }
        }
    }
    assert!(edits >= 30, "{edits} edits");
}

#[test]
#[ignore = "builds each learner's crate (a minute cold); make test runs it"]
fn rust_exercises_unmodified_fixed_and_faked() {
    let mut with_rust = 0;
    for id in crate::util::scenario_ids() {
        let spec = spec(&id);
        let Some(ex) = spec.exercise.as_ref().and_then(|e| e.rust.as_ref()) else {
            continue;
        };
        with_rust += 1;
        judged_by_the_witness(&Exercise {
            id: &id,
            runtime: Runtime::Rust,
            variant: &ex.variant,
            file: PathBuf::from("src/scenario.rs"),
            pristine: root().join("crates/corpus").join(&id).join("lib.rs"),
            answer: &ex.answer,
            fakes: &ex.fake,
        });
    }
    if crate::util::narrowed_to().is_none() {
        assert!(with_rust >= 4, "{with_rust} Rust exercises");
    }
}

fn judged_by_the_witness(ex: &Exercise<'_>) {
    let id = ex.id;
    let runtime = ex.runtime.as_str();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ex");
    let start = |dir: &Path| repro(&["exercise", id, dir.to_str().unwrap(), "--runtime", runtime]);
    let ran = start(&dir);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let file = dir.join(&ex.file);
    assert!(dir.join("EXERCISE.md").is_file());
    // Copying again would overwrite the learner's work: refused.
    let again = start(&dir);
    assert_eq!(again.code(), Some(2), "{}", again.show());

    // Unmodified: still broken, wherever scenario.toml says it misbehaves.
    let ran = check(id, &dir, runtime);
    let interpreter = (ex.runtime == Runtime::Python).then(|| {
        crate::util::checked(&harness::python::default_python(root()).unwrap()).interpreter()
    });
    let want = spec(id)
        .variant(ex.variant)
        .unwrap()
        .expected(ex.runtime, interpreter.as_ref());
    if want.verdict == Verdict::Misbehaved {
        assert_eq!(ran.code(), Some(1), "{id} {runtime}: {}", ran.show());
        assert!(ran.stdout().contains("still broken"), "{}", ran.show());
        assert!(ran.stdout().contains("hint:"), "{}", ran.show());
    }

    // Fixed the right way: passes.
    edit(&file, &ex.answer.from, &ex.answer.to);
    let ran = check(id, &dir, runtime);
    assert_eq!(ran.code(), Some(0), "{id} {runtime}: {}", ran.show());
    assert!(
        ran.stdout().contains("fixed: the bug is gone"),
        "{}",
        ran.show()
    );

    // Each fake fix of scenario.toml, on a fresh copy: refused, for the
    // reason it names.
    for fake in ex.fakes {
        std::fs::copy(&ex.pristine, &file).unwrap();
        edit(&file, &fake.from, &fake.to);
        let ran = check(id, &dir, runtime);
        assert_ne!(
            ran.code(),
            Some(0),
            "{id} {runtime}: {}: passed\n{}",
            fake.does,
            ran.show()
        );
        assert!(
            ran.stdout().contains(&fake.refused),
            "{id} {runtime}: {}: refused, but not for {:?}\n{}",
            fake.does,
            fake.refused,
            ran.show()
        );
    }
}

#[test]
fn check_without_a_copy_says_how_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    for (runtime, hint) in [
        ("python", "repro exercise shared-epoll)"),
        ("rust", "repro exercise fork-held-lock --runtime rust"),
    ] {
        let id = if runtime == "python" {
            "shared-epoll"
        } else {
            "fork-held-lock"
        };
        let ran = check(id, tmp.path(), runtime);
        assert_eq!(ran.code(), Some(2), "{}", ran.show());
        assert!(ran.stderr().contains(hint), "{}", ran.show());
    }
    // A scenario with no Rust exercise says which have one.
    let ran = repro(&["exercise", "finalizer-yield", "--runtime", "rust"]);
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(ran.stderr().contains("fork-held-lock"), "{}", ran.show());
}
