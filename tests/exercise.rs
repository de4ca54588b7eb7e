//! `repro exercise` / `repro check`: the verdict on a learner's copy is the
//! real one: unmodified, it is still broken; fixed, it passes; "fixed" by
//! removing or faking what shows the bug (the fork, the child's lock, the
//! collection in the hub), it is refused, by what the witness saw
//! (pyrepro/witness.py), whatever the copy's own trace claims.

use crate::util::{Ran, each_scenario, repro, spec};
use harness::record::Verdict;
use std::path::Path;

fn check(id: &str, dir: &Path) -> Ran {
    repro(&["check", id, dir.to_str().unwrap()])
}

/// Edits the learner's copy: `from` becomes `to` (the first one).
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn unmodified_fixed_and_cheating_copies() {
    each_scenario(|id| {
        let exercise = spec(id)
            .exercise
            .unwrap_or_else(|| panic!("{id}: no [exercise] in its scenario.toml"));
        exercise_is_judged_by_its_verdict(id, &exercise);
    });
}

fn exercise_is_judged_by_its_verdict(id: &str, exercise: &harness::spec::ExerciseSpec) {
    let (module, answer) = (exercise.module.as_str(), &exercise.answer);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ex");
    let ran = repro(&["exercise", id, dir.to_str().unwrap()]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let file = dir.join(module);
    assert!(dir.join("EXERCISE.md").is_file());
    // Copying again would overwrite the learner's work: refused.
    let again = repro(&["exercise", id, dir.to_str().unwrap()]);
    assert_eq!(again.code(), Some(2), "{}", again.show());

    // Unmodified: still broken, wherever scenario.toml says it misbehaves.
    let ran = check(id, &dir);
    let interpreter = harness::python::check_full(
        &harness::python::default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap()
    .interpreter();
    let want = spec(id)
        .variant("broken")
        .unwrap()
        .expected(harness::record::Runtime::Python, Some(&interpreter));
    if want.verdict == Verdict::Misbehaved {
        assert_eq!(ran.code(), Some(1), "{}", ran.show());
        assert!(ran.stdout().contains("still broken"), "{}", ran.show());
        assert!(ran.stdout().contains("hint:"), "{}", ran.show());
    }

    // Fixed the right way: passes.
    edit(&file, &answer.from, &answer.to);
    let ran = check(id, &dir);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    assert!(
        ran.stdout().contains("fixed: the bug is gone"),
        "{}",
        ran.show()
    );

    // Each fake fix of scenario.toml, on a fresh copy: refused, for the
    // reason it names.
    let pristine = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pyrepro")
        .join(module);
    for fake in &exercise.fake {
        std::fs::copy(&pristine, &file).unwrap();
        edit(&file, &fake.from, &fake.to);
        let ran = check(id, &dir);
        assert_ne!(
            ran.code(),
            Some(0),
            "{id}: {}: passed\n{}",
            fake.does,
            ran.show()
        );
        assert!(
            ran.stdout().contains(&fake.refused),
            "{id}: {}: refused, but not for {:?}\n{}",
            fake.does,
            fake.refused,
            ran.show()
        );
    }

    // And the bluntest fake: the broken variant's entry in VARIANTS
    // returns at once, with nothing observed.
    std::fs::copy(&pristine, &file).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let entry = text
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(&format!("{:?}:", exercise.variant))
        })
        .unwrap_or_else(|| panic!("{id}: no {:?} entry in {module}", exercise.variant));
    let fake = format!(
        "    {:?}: lambda: __import__('pyrepro.record').record.Observation().note('no bug here'),",
        exercise.variant
    );
    edit(&file, entry, &fake);
    let ran = check(id, &dir);
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(ran.stdout().contains("not a fix"), "{}", ran.show());
}

#[test]
fn check_without_a_copy_says_how_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let ran = check("shared-epoll", tmp.path());
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(
        ran.stderr().contains("repro exercise shared-epoll"),
        "{}",
        ran.show()
    );
}
