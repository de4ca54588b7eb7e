//! `repro internal-run`: the scenario process for the rust runtime. Runs
//! one case here and prints its record; the supervisor, in the parent
//! `repro`, does the rest. (The embedded runtime's is `repro-embedded`,
//! the one program that links libpython.)

use crate::registry;
use harness::record::Runtime;
use harness::scenario;
use std::time::Instant;

/// Runs the case and prints its record. The caller has checked the
/// scenario, runtime and variant exist.
pub fn exec(scenario_id: &str, runtime: Runtime, variant: &str) -> Result<(), String> {
    let def =
        registry::def(scenario_id).ok_or_else(|| format!("unknown scenario {scenario_id:?}"))?;
    let record = match runtime {
        Runtime::Rust => {
            let run = def
                .runs
                .rust
                .ok_or_else(|| format!("{scenario_id} has no rust variants"))?;
            let start = Instant::now();
            let outcome = run(variant);
            scenario::record(scenario_id, runtime, variant, None, start, outcome)
        }
        Runtime::Embedded => return Err("the embedded runtime runs as `repro-embedded`".into()),
        Runtime::Python => return Err("the python runtime runs as `python -m pyrepro`".into()),
    };
    println!("{}", record.to_json_line());
    Ok(())
}
