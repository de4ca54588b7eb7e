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
        .map(|def| {
            Ok(Scenario {
                def: *def,
                spec: Spec::parse(def.spec_path, def.spec_toml)?,
            })
        })
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
