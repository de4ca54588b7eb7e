//! Every scenario the binary knows, with its parsed `scenario.toml`.

use harness::scenario::ScenarioDef;
use harness::spec::{Spec, SpecError};

/// The corpus, found by `crates/corpus/build.rs`: one scenario per
/// directory, in id order (`repro list`).
const SCENARIOS: &[ScenarioDef] = corpus::SCENARIOS;

/// A scenario: its definition and its parsed spec.
pub struct Scenario {
    pub def: ScenarioDef,
    pub spec: Spec,
}

/// Parses every scenario's spec. Fixture scenarios (for the supervisor's own
/// tests) are included only when `REPRO_FIXTURES=1`.
///
/// # Errors
/// The first `scenario.toml` that does not parse, naming file, line and key.
pub fn load() -> Result<Vec<Scenario>, SpecError> {
    load_with(&[])
}

/// `def` with its spec parsed, which must name the scenario as its
/// directory does ([`def`] finds a scenario by the directory's name).
fn parse(def: &ScenarioDef) -> Result<Scenario, SpecError> {
    let spec = Spec::parse(def.spec_path, def.spec_toml)?;
    if spec.id != def.id {
        return Err(SpecError {
            path: def.spec_path.to_owned(),
            message: format!(
                "key `id`: {:?}, but its directory names it {:?}",
                spec.id, def.id
            ),
        });
    }
    Ok(Scenario { def: *def, spec })
}

/// [`load`], parsing only the scenario `selection` names when it names
/// one (`repro run <id>`, `repro check <id>`): a command about one
/// scenario does not pay for the whole corpus's specs. Any other selection
/// (`all`, an unknown id, whose error lists the known ones) loads them all.
///
/// # Errors
/// As [`load`].
pub fn load_for(selection: &str) -> Result<Vec<Scenario>, SpecError> {
    match def(selection) {
        Some(one) => Ok(vec![parse(&one)?]),
        None => load(),
    }
}

/// One scenario's definition (its Rust code), without parsing any spec:
/// for `repro internal-run`, which every rust case starts
/// with (parsing the corpus's 57 KB of TOML was a third of its start-up).
/// The spec is checked by the `repro` that started it.
pub fn def(id: &str) -> Option<ScenarioDef> {
    let fixtures = std::env::var_os("REPRO_FIXTURES").is_some_and(|v| v == "1");
    SCENARIOS
        .iter()
        .chain(fixtures.then_some(&crate::fixtures::SCENARIO))
        .find(|def| def.id == id)
        .copied()
}

/// [`load`], with some specs replaced by files (`--scenario-toml`): each
/// file replaces the compiled-in spec of the scenario whose `id` it names.
///
/// # Errors
/// As [`load`]; also a file that cannot be read, or names no known scenario.
pub fn load_with(files: &[std::path::PathBuf]) -> Result<Vec<Scenario>, SpecError> {
    let fixtures = std::env::var_os("REPRO_FIXTURES").is_some_and(|v| v == "1");
    let mut scenarios: Vec<Scenario> = SCENARIOS
        .iter()
        .chain(fixtures.then_some(&crate::fixtures::SCENARIO))
        .map(parse)
        .collect::<Result<_, SpecError>>()?;
    for file in files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| SpecError {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let spec = Spec::parse(&shown, &text)?;
        let slot = scenarios.iter_mut().find(|s| s.spec.id == spec.id);
        let slot = slot.ok_or_else(|| SpecError {
            path: shown.clone(),
            message: format!("key `id`: no scenario {:?}", spec.id),
        })?;
        slot.spec = spec;
    }
    Ok(scenarios)
}

/// The directory holding `pyrepro/`: `$REPRO_ROOT`, else this checkout.
pub fn root() -> std::path::PathBuf {
    std::env::var_os("REPRO_ROOT")
        .filter(|r| !r.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario is found by its id without a parse, and a spec whose
    /// `id` is not its directory's name is refused, naming both.
    #[test]
    fn a_scenario_is_its_directory() {
        for def in SCENARIOS {
            let found = super::def(def.id).expect("found by its id");
            assert_eq!(found.dir, def.dir);
            assert_eq!(parse(def).unwrap().spec.id, def.id);
        }
        assert!(super::def("no-such-scenario").is_none());
        let renamed = ScenarioDef {
            id: "renamed",
            ..SCENARIOS[0]
        };
        let err = parse(&renamed).err().expect("refused");
        assert!(
            err.message.contains("\"renamed\"") && err.message.contains(SCENARIOS[0].id),
            "{}",
            err.message
        );
    }
}
