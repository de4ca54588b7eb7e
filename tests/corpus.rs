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
