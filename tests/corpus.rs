//! The corpus is one set of directories, and every part of the project
//! sees the same set: the `repro` binary (its registry, compiled by
//! `crates/corpus/build.rs`), pyrepro (which finds its modules the same
//! way) and the `scenario.toml` files on disk, variant by variant.

use crate::util::{repro, spec};
use harness::record::Runtime;
use std::collections::BTreeMap;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The scenario directories on disk: each holding a `scenario.toml`.
fn on_disk() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("crates/corpus"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("scenario.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

/// `python -m pyrepro list --json`: scenario -> its VARIANTS.
fn pyrepro() -> BTreeMap<String, Vec<String>> {
    let py = harness::python::default_python(Path::new(ROOT)).unwrap();
    let out = std::process::Command::new(py)
        .args(["-m", "pyrepro", "list", "--json"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_registry_pyrepro_and_the_tomls_agree() {
    let disk = on_disk();
    assert!(disk.len() >= 6, "{disk:?}");
    // The binary's registry: what it compiled in is what is on disk.
    let ran = repro(&["list", "--json"]);
    let listed: Vec<harness::spec::Spec> = serde_json::from_str(ran.stdout().trim()).unwrap();
    let listed_ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        listed_ids, disk,
        "the repro binary's scenarios are not the directories of crates/corpus"
    );
    let py = pyrepro();
    let mut problems = Vec::new();
    for id in &disk {
        let on_disk = spec(id);
        let compiled = listed.iter().find(|s| &s.id == id).unwrap();
        if serde_json::to_value(compiled).unwrap() != serde_json::to_value(&on_disk).unwrap() {
            problems.push(format!(
                "{id}: the compiled-in scenario.toml is not the one on disk"
            ));
        }
        let dir = Path::new(ROOT).join("crates/corpus").join(id);
        if on_disk.variants_for(Runtime::Rust).next().is_some() && !dir.join("lib.rs").is_file() {
            problems.push(format!(
                "{id}: rust variants but no crates/corpus/{id}/lib.rs"
            ));
        }
        let wants_python: Vec<&str> = on_disk
            .variants_for(Runtime::Python)
            .map(|v| v.id.as_str())
            .collect();
        let has: Vec<&str> = py
            .get(id)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let module = format!("pyrepro/{}.py", id.replace('-', "_"));
        if !wants_python.is_empty() && !py.contains_key(id) {
            problems.push(format!("{id}: python variants but no {module}"));
        }
        for v in &wants_python {
            if !has.contains(v) {
                problems.push(format!(
                    "{id}: variant `{v}` is a python case in scenario.toml, not in {module}'s VARIANTS"
                ));
            }
        }
        for v in &has {
            if !wants_python.contains(v) {
                problems.push(format!(
                    "{id}: variant `{v}` is in {module}'s VARIANTS, not a python case in scenario.toml"
                ));
            }
        }
    }
    for id in py.keys() {
        if !disk.contains(id) {
            problems.push(format!("pyrepro knows {id}, which has no scenario.toml"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// README's scenario table is an overview, not a list anything reads
/// (`repro list` is the list): each row names a scenario that exists and
/// cites its story as its scenario.toml does, and no scenario has two rows.
#[test]
fn the_readme_table_names_real_scenarios_and_their_stories() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let disk = on_disk();
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| id | the story |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .collect();
    assert!(rows.len() >= 6, "the README's scenario table: {rows:?}");
    let mut seen = Vec::new();
    for row in rows {
        let cells: Vec<&str> = row.split(" | ").collect();
        let id = cells[0].trim_start_matches("| ").trim_matches('`');
        assert!(
            disk.iter().any(|d| d == id),
            "README names {id:?}, not a scenario directory"
        );
        assert!(!seen.contains(&id), "README has two rows for {id}");
        seen.push(id);
        let story = spec(id).story;
        let cited = format!("\"{}\", {}", story.title, story.by);
        assert_eq!(
            cells[1], cited,
            "{id}: the README's story is not its scenario.toml's"
        );
    }
}

/// CONTRIBUTING.md's paths are real: every `crates/…`, `pyrepro/…` or
/// `tests/…` file it names in backquotes exists (placeholders like `<id>`
/// aside), and so does every `harness::…` module it names.
#[test]
fn contributing_names_real_files_and_modules() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("CONTRIBUTING.md")).unwrap();
    let quoted: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
    let mut checked = 0;
    for q in &quoted {
        let q = q.trim_end_matches(',');
        if ["crates/", "pyrepro/", "tests/"]
            .iter()
            .any(|p| q.starts_with(p))
            && !q.contains('<')
            && !q.contains(' ')
        {
            assert!(
                Path::new(ROOT).join(q).exists(),
                "CONTRIBUTING.md names {q}, which is not here"
            );
            checked += 1;
        }
        for part in q.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            if let Some(path) = part.strip_prefix("harness::") {
                let module = path.split("::").next().unwrap();
                let file = Path::new(ROOT).join(format!("crates/harness/src/{module}.rs"));
                assert!(file.exists(), "CONTRIBUTING.md names harness::{module}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked} paths checked");
}

/// One lesson per scenario: README.md tells it. The code's own docs (the
/// lib.rs crate doc, the pyrepro module docstring) point there and say how
/// the verdict is reached; none retells the symptom, cause or fix, so no
/// copy can disagree with the lesson.
#[test]
fn the_lesson_is_told_once() {
    let mut read = 0;
    let ids = on_disk();
    for id in &ids {
        let dir = Path::new(ROOT).join("crates/corpus").join(id);
        let module = Path::new(ROOT)
            .join("pyrepro")
            .join(format!("{}.py", id.replace('-', "_")));
        for (path, doc) in [(dir.join("lib.rs"), "//!"), (module, "\"\"\"")] {
            // A scenario may lack one runtime's code; every one has some.
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            read += 1;
            let head: String = if doc == "//!" {
                text.lines()
                    .take_while(|l| l.starts_with("//!"))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                text.split("\"\"\"").nth(1).unwrap_or("").to_owned()
            };
            assert!(
                head.contains("README.md"),
                "{}: its doc does not point to the lesson",
                path.display()
            );
            for retold in [
                "**Symptom.**",
                "**Cause.**",
                "**Fix.**",
                "\nSymptom:",
                "\nCause",
                "\nFix:",
            ] {
                assert!(
                    !head.contains(retold),
                    "{}: its doc retells the lesson ({retold:?})",
                    path.display()
                );
            }
        }
    }
    assert!(
        read >= ids.len(),
        "only {read} docs read for {} scenarios",
        ids.len()
    );
}

/// The Rust code blocks in `text`'s doc comments (`///`, `//!`): rustdoc
/// treats a fenced block as Rust unless its info string names something
/// else (`text`, `toml`, …), so a bare fence or one of rustdoc's own
/// attributes (`ignore`, `no_run`, …) is one. Each as its first line's
/// number.
fn rust_doc_examples(text: &str) -> Vec<usize> {
    const RUSTDOC: [&str; 10] = [
        "rust",
        "ignore",
        "no_run",
        "should_panic",
        "compile_fail",
        "test_harness",
        "edition2015",
        "edition2018",
        "edition2021",
        "edition2024",
    ];
    let mut found = Vec::new();
    let mut open = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let Some(doc) = line
            .strip_prefix("///")
            .or_else(|| line.strip_prefix("//!"))
        else {
            continue;
        };
        let Some(info) = doc.trim().strip_prefix("```") else {
            continue;
        };
        if !open
            && info
                .split([',', ' '])
                .filter(|t| !t.is_empty())
                .all(|t| RUSTDOC.contains(&t))
        {
            found.push(n + 1);
        }
        open = !open;
    }
    found
}

#[test]
fn crates_without_doctests_have_no_rust_examples_in_their_docs() {
    // The rule, on examples of what it must tell apart.
    let doc = "//! ```toml\n//! a = 1\n//! ```\n/// ```\n/// let x = 1;\n/// ```\n\
               ///   ```no_run\n///   ```\n/// ```text\n/// ```\n";
    assert_eq!(rust_doc_examples(doc), [4, 7]);

    let crates = Path::new(ROOT).join("crates");
    let mut checked = Vec::new();
    for krate in std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("\ndoctest = false") {
            continue;
        }
        let mut dirs = vec![krate.clone()];
        while let Some(dir) = dirs.pop() {
            for path in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let lines = rust_doc_examples(&text);
                    assert!(
                        lines.is_empty(),
                        "{}: a Rust example in its docs (lines {lines:?}), but its crate's \
                         Cargo.toml says doctest = false, so it would never run: make it a \
                         test, or mark the block text",
                        path.display()
                    );
                    checked.push(path);
                }
            }
        }
    }
    // harness, pyhost and corpus (with every scenario's lib.rs).
    assert!(checked.len() >= 20, "only {} files read", checked.len());
}
