//! Every scenario the binary knows, with its parsed `scenario.toml`.

use harness::scenario::ScenarioDef;
use harness::spec::{Spec, SpecError};

/// The corpus, in `repro list` order.
const SCENARIOS: &[ScenarioDef] = &[
    shared_epoll::SCENARIO,
    signal_wakeup_fd::SCENARIO,
    fork_held_lock::SCENARIO,
    finalizer_yield::SCENARIO,
];

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
    let fixtures = std::env::var_os("REPRO_FIXTURES").is_some_and(|v| v == "1");
    SCENARIOS
        .iter()
        .chain(fixtures.then_some(&crate::fixtures::SCENARIO))
        .map(|def| {
            Ok(Scenario {
                def: *def,
                spec: Spec::parse(def.spec_path, def.spec_toml)?,
            })
        })
        .collect()
}

/// The directory holding `pyrepro/`: `$REPRO_ROOT`, else this checkout.
pub fn root() -> std::path::PathBuf {
    std::env::var_os("REPRO_ROOT")
        .filter(|r| !r.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
