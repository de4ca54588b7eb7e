//! `repro explain`, and the lessons it prints: complete, 80 columns, and
//! every command they tell a learner to try actually runs.

use crate::util::{each_scenario, repro, spec};

#[test]
fn explain_tells_the_whole_lesson_in_80_columns() {
    each_scenario(explain_tells_the_whole_lesson);
}

/// The one kind of line that may pass 80 columns: a link alone (`- https://…`
/// or `<https://…>.`), which no terminal can wrap without breaking it.
fn a_bare_link(line: &str) -> bool {
    let t = line.trim().trim_start_matches("- ");
    (t.starts_with("https://") || t.starts_with("<https://")) && !t.contains(' ')
}

fn explain_tells_the_whole_lesson(id: &str) {
    let ran = repro(&["explain", id]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let text = ran.stdout();
    for section in [
        "## What you will see",
        "## The story",
        "## The mechanism, step by step",
        "## The fix",
        "## Try it",
        "## Questions for discussion",
        "## Expected, by runtime and interpreter",
        "## Upstream",
    ] {
        assert!(text.contains(section), "{id}: no {section:?}{}", ran.show());
    }
    let spec = spec(id);
    for v in &spec.variants {
        assert!(
            text.contains(&format!("- {} [", v.id)),
            "{id}: variant {}",
            v.id
        );
        for o in &v.when {
            let link = o.because.split_whitespace().last().unwrap();
            assert!(text.contains(link), "{id}: override link {link}");
        }
    }
    assert!(text.contains(&format!(
        "(The sequence diagram is in crates/corpus/{id}/README.md.)"
    )));
    // The story, cited by title and author or site (scenario.toml's
    // `story`), under its heading.
    let story = text.split("## The story").nth(1).unwrap_or("");
    let story = story.split("\n## ").next().unwrap_or("");
    for part in [&spec.story.title, &spec.story.by]
        .into_iter()
        .chain(spec.story.url.as_ref())
    {
        assert!(
            story.contains(part.as_str()),
            "{id}: the story does not cite {part:?}"
        );
    }
    for line in text.lines().filter(|l| !a_bare_link(l)) {
        assert!(
            line.chars().count() <= 80,
            "{id}: {} columns: {line}",
            line.len()
        );
        assert!(!line.contains('\x1b'), "{id}: colour on a pipe: {line:?}");
    }
}

#[test]
fn explain_an_unknown_scenario_is_a_usage_error() {
    let ran = repro(&["explain", "shared-epol"]);
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(
        ran.stderr().contains("valid: ") && ran.stderr().contains("shared-epoll"),
        "{}",
        ran.show()
    );
}

/// Each lesson's "Try it" commands, as a learner would paste them.
#[test]
fn every_try_it_command_runs_as_expected() {
    each_scenario(try_it_commands_run);
}

fn try_it_commands_run(id: &str) {
    let path = format!(
        "{}/crates/corpus/{id}/README.md",
        env!("CARGO_MANIFEST_DIR")
    );
    let readme = std::fs::read_to_string(path).unwrap();
    let try_it = readme
        .split("## Try it")
        .nth(1)
        .unwrap()
        .split("## ")
        .next()
        .unwrap();
    let commands: Vec<Vec<&str>> = try_it
        .lines()
        .filter_map(|l| l.strip_prefix("repro "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(commands.len() >= 3, "{id}: {try_it}");
    let cwd = tempfile::tempdir().unwrap();
    for args in commands {
        let (ran, outcome) = crate::book::doc_command(cwd.path(), &args);
        // An interpreter a lesson names may be missing on this machine: then
        // the command must say so (a usage error naming it), not fail.
        let named = args
            .iter()
            .position(|a| *a == "--python")
            .map(|i| args[i + 1]);
        let missing = named.filter(|n| {
            let path = harness::python::resolve(
                std::path::Path::new(n),
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            );
            harness::python::check(&path).is_err()
        });
        if let Some(n) = missing {
            assert_eq!(ran.code(), Some(2), "{}", ran.show());
            assert!(ran.stderr().contains(n), "{}", ran.show());
            continue;
        }
        assert_eq!(
            ran.code(),
            Some(0),
            "{id}: repro {}{}",
            args.join(" "),
            ran.show()
        );
        if let Err(wrong) = outcome {
            panic!("{id}: repro {}: {wrong}", args.join(" "));
        }
    }
}

/// Every command the workshop guide gives runs as the guide says.
#[test]
fn every_workshop_command_runs() {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/workshop.md")).unwrap();
    let mut commands: Vec<Vec<&str>> = Vec::new();
    for line in guide.lines() {
        // Commands stand alone on a line, or inline as `repro ...`.
        let line = line.trim().trim_start_matches("- ");
        if let Some(rest) = line.strip_prefix("repro ") {
            commands.push(rest.split_whitespace().collect());
        }
        for inline in line.split('`').skip(1).step_by(2) {
            if let Some(rest) = inline.strip_prefix("repro ") {
                commands.push(rest.split_whitespace().collect());
            }
        }
    }
    assert!(commands.len() >= 20, "{} commands found", commands.len());
    // A command the guide repeats is checked once.
    let mut seen = std::collections::HashSet::new();
    commands.retain(|a| seen.insert(a.clone()));
    // A Rust exercise's check builds the learner's crate with cargo: the
    // unmodified copy's check is exercise::rust_exercises_unmodified_fixed_and_faked's
    // first step (make test runs it), not run twice here.
    let rust_check = |a: &Vec<&str>| a.first() == Some(&"check") && a.contains(&"rust");
    assert!(commands.iter().any(rust_check), "the guide's Rust check");
    commands.retain(|a| !rust_check(a));
    // In a fresh working directory (exercise copies files there). The
    // exercise/check commands run in order, in one thread; the others,
    // independent, side by side.
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let (ordered, independent): (Vec<_>, Vec<_>) = commands
        .iter()
        .partition(|a| matches!(a.first(), Some(&"exercise") | Some(&"check")));
    let runs: Vec<_> = std::thread::scope(|s| {
        let sequential = s.spawn(move || {
            ordered
                .into_iter()
                .map(|args| (args, crate::book::doc_command(cwd, args)))
                .collect::<Vec<_>>()
        });
        let handles: Vec<_> = independent
            .into_iter()
            .map(|args| s.spawn(move || (args, crate::book::doc_command(cwd, args))))
            .collect();
        let mut runs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        runs.extend(sequential.join().unwrap());
        runs
    });
    for (args, (ran, outcome)) in runs {
        if let Err(wrong) = outcome {
            panic!("repro {}: {wrong}", args.join(" "));
        }
        // `repro check` on the unmodified copy says "still broken" (exit 1):
        // that is the point of the step.
        let want = if args.first() == Some(&"check") { 1 } else { 0 };
        assert_eq!(
            ran.code(),
            Some(want),
            "repro {}{}",
            args.join(" "),
            ran.show()
        );
    }
}
