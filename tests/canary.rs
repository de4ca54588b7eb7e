//! The canary: drift is named exactly, and the reports are what they claim
//! to be (JUnit XML that parses, a Markdown table).

use crate::util::{Ran, repro};
use harness::python::default_python;
use std::path::Path;

/// One small real canary, shared by every test that reads a canary's
/// reports: fork-stdio-duplicate's python cases (three, each about a bare
/// start-up's time) on the default interpreter, with one expectation
/// changed on a copy of its scenario.toml (`fixed` must now misbehave), so
/// that exactly one cell drifts and the others show that an unchanged
/// expectation is no drift.
pub struct Small {
    /// The canary's run.
    pub ran: &'static Ran,
    /// Its --out: matrix.json, matrix.md, junit.xml.
    pub out: std::path::PathBuf,
}

pub fn small() -> Small {
    let real = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/corpus/fork-stdio-duplicate/scenario.toml"
    );
    let (dir, ran) = crate::util::once_per_run("small-canary", |dir| {
        let text = std::fs::read_to_string(real).unwrap();
        let anchor =
            "about = \"stdout flushed right before the fork: nothing buffered crosses it\"\n";
        assert!(text.contains(anchor));
        let changed = text.replace(
            anchor,
            &format!(
                "{anchor}\n[[variant.when]]\nruntime = \"python\"\nexpect = \"misbehaved\"\n\
                 symptom = \"duplicated-output\"\nbecause = \"a test: https://github.com/python/cpython/issues/66285\"\n"
            ),
        );
        let copy = dir.join("scenario.toml");
        std::fs::write(&copy, changed).unwrap();
        let py = default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let ran = repro(&[
            "canary",
            "--scenario",
            "fork-stdio-duplicate",
            "--runtime",
            "python",
            "--no-discover",
            "--no-envs",
            "--python",
            py.to_str().unwrap(),
            "--scenario-toml",
            copy.to_str().unwrap(),
            "--out",
            dir.join("canary").to_str().unwrap(),
        ]);
        // The real file is untouched.
        assert_eq!(std::fs::read_to_string(real).unwrap(), text);
        ran
    });
    Small {
        ran,
        out: dir.join("canary"),
    }
}

/// How many python variants fork-stdio-duplicate has: the small canary's cells.
fn cells() -> usize {
    crate::util::spec("fork-stdio-duplicate")
        .variants_for(harness::record::Runtime::Python)
        .count()
}

#[test]
fn changed_expectation_is_drift_named_exactly_on_a_copy() {
    let ran = small().ran;
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    let drift: Vec<String> = ran
        .stdout()
        .lines()
        .filter(|l| l.starts_with("DRIFT"))
        .map(str::to_owned)
        .collect();
    // Exactly the changed cell: the others, unchanged, are no drift.
    assert_eq!(drift.len(), 1, "exactly one cell{}", ran.show());
    assert!(
        drift[0]
            .starts_with("DRIFT stopped-reproducing: fork-stdio-duplicate / fixed [python python "),
        "{}",
        ran.show()
    );
}

#[test]
fn reports_are_junit_xml_and_a_markdown_table() {
    let out = &small().out;
    let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml parses as XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    // One cell per python variant (one interpreter): from the spec; the
    // drift is the one failure.
    let cells = cells();
    assert_eq!(cases.len(), cells, "{xml}");
    assert_eq!(suite.attribute("tests"), Some(cells.to_string().as_str()));
    assert_eq!(suite.attribute("failures"), Some("1"), "{xml}");
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .filter_map(|c| c.attribute("name"))
        .collect();
    assert_eq!(failed.len(), 1, "{xml}");
    assert!(failed[0].contains("fixed"), "{xml}");
    for c in &cases {
        assert!(c.attribute("classname").is_some() && c.attribute("name").is_some());
        assert!(c.attribute("time").unwrap().parse::<f64>().is_ok());
    }

    let md = std::fs::read_to_string(out.join("matrix.md")).unwrap();
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    let columns = |l: &str| l.matches('|').count();
    // Its header, the separator, a row per variant.
    assert_eq!(table.len(), 2 + cells, "{md}");
    assert!(
        table[1].chars().all(|c| c == '|' || c == '-'),
        "separator row{md}"
    );
    assert!(
        table.iter().all(|l| columns(l) == columns(table[0])),
        "{md}"
    );
    assert!(md.contains("Kernel `") && md.contains("Legend:"), "{md}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let all = json["cells"].as_array().unwrap();
    assert_eq!(all.len(), cells);
    for cell in all {
        harness::record::Record::from_json_line(&cell["record"].to_string()).unwrap();
    }
}

#[test]
fn unknown_scenario_and_bad_python_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ran = repro(&[
        "canary",
        "--scenario",
        "nope",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(
        ran.stderr().contains("unknown scenario \"nope\""),
        "{}",
        ran.show()
    );
    let ran = repro(&["canary", "--python", "/nonexistent/python3"]);
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
}

#[test]
fn interpreters_lists_what_was_found_with_its_implementation() {
    let ran = repro(&["interpreters"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let first = ran.stdout().lines().next().unwrap_or_default().to_owned();
    assert!(first.starts_with("CPython 3."), "{}", ran.show());
    // --embeddable: paths only, each a CPython 3.9+ (the canary rebuilds for them).
    let ran = repro(&["interpreters", "--embeddable"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    for path in ran.stdout().lines() {
        let version = harness::python::check(Path::new(path)).unwrap();
        let v = harness::spec::parse_version(&version).unwrap();
        assert!(v >= vec![3, 9], "{path} is {version}");
    }
    // --environments: the same interpreters, each with the python its cases
    // run with outside the canary: that version's canary environment where
    // `make canary` made one, else the interpreter itself.
    let found: Vec<String> = repro(&["interpreters"])
        .stdout()
        .lines()
        .filter(|l| !l.starts_with("dropped "))
        .map(str::to_owned)
        .collect();
    let ran = repro(&["interpreters", "--environments"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let stdout = ran.stdout();
    let listed: Vec<&str> = stdout.lines().collect();
    assert_eq!(listed.len(), found.len(), "{}", ran.show());
    for (line, plain) in listed.iter().zip(&found) {
        let mut cols = line.splitn(3, ' ');
        let (implementation, version, py) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        assert!(
            plain.starts_with(&format!("{implementation} {version} ")),
            "{line} / {plain}"
        );
        let env = Path::new(py).ancestors().nth(2).filter(|d| {
            d.parent()
                .is_some_and(|p| p.ends_with("target/canary-envs"))
        });
        match env {
            Some(dir) => {
                let name = dir.file_name().unwrap().to_string_lossy();
                assert!(name.starts_with(&format!("{version}-")), "{line}");
            }
            None => assert_eq!(*line, plain.as_str(), "not an environment: the interpreter"),
        }
        // Where `make canary` made one for it (a venv whose pyvenv.cfg names
        // the interpreter's directory as home), the listing names it.
        let home = |p: &Path| {
            std::fs::canonicalize(p)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
        };
        let plain_path = Path::new(plain.splitn(3, ' ').nth(2).unwrap());
        let envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/canary-envs");
        let made = std::fs::read_dir(&envs)
            .into_iter()
            .flatten()
            .flatten()
            .any(|d| {
                d.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{version}-"))
                    && d.path().join("bin/python").exists()
                    && !d.path().join("failed").exists()
                    && std::fs::read_to_string(d.path().join("pyvenv.cfg")).is_ok_and(|cfg| {
                        cfg.lines()
                            .filter_map(|l| l.strip_prefix("home = "))
                            .any(|h| home(plain_path) == std::fs::canonicalize(h).ok())
                    })
            });
        assert_eq!(env.is_some(), made, "{line}: environment made: {made}");
        assert_eq!(
            harness::python::check(Path::new(py)).unwrap(),
            version,
            "{line}"
        );
    }
}
