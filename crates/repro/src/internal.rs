//! `repro internal-run`: the scenario process for the rust and embedded
//! runtimes. Runs one case here and prints its record; the supervisor, in
//! the parent `repro`, does the rest.

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
        Runtime::Embedded => match def.runs.embedded_native {
            Some(native) if native.variants.contains(&variant) => {
                pyhost::run_native(&registry::root(), scenario_id, variant, native.run)
            }
            _ => pyhost::run_case(&registry::root(), scenario_id, variant),
        },
        Runtime::Python => return Err("the python runtime runs as `python -m pyrepro`".into()),
    };
    println!("{}", record.to_json_line());
    Ok(())
}
