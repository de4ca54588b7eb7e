//! `repro-embedded <scenario> <variant>`: the scenario process of the
//! embedded runtime. The supervisor in `repro` starts it (it sits beside
//! `repro`), as it starts `repro internal-run` for a Rust case and a
//! python interpreter for a Python one, and reads the one record it prints.
//!
//! It is the only program here that links libpython: the case runs pyrepro
//! inside the CPython it was built against (`pyhost`), or, for an embedded
//! variant written in Rust (a scenario's `native.rs`), that Rust code with
//! the interpreter started. `repro` itself starts without relocating
//! libpython, 1.4 ms of CPU less at every start of the CLI and of each Rust
//! case.

use std::path::PathBuf;
use std::process::ExitCode;

include!(concat!(env!("OUT_DIR"), "/native.rs"));

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, variant] = args.as_slice() else {
        eprintln!(
            "repro-embedded: error: expected <scenario> <variant>: the embedded runtime's \
             scenario process, which `repro run --runtime embedded` starts"
        );
        return ExitCode::from(2);
    };
    // Where pyrepro is: the supervisor says; else this checkout.
    let root: PathBuf = std::env::var_os("REPRO_ROOT")
        .filter(|r| !r.is_empty())
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into);
    // Built from the same sources as the `repro` that started it (the stamp
    // crates/repro/build.rs writes into both): `cargo run` rebuilds only
    // `repro`, and an older `repro-embedded` must not run a case.
    let mine = env!("REPRO_EMBEDDED_STAMP");
    let theirs = std::env::var("REPRO_EMBEDDED_STAMP").unwrap_or_default();
    if theirs != mine {
        let record = pyhost::error_record(
            scenario,
            variant,
            format!(
                "{} was built from other sources than the repro that started it (stamp {mine}, \
                 repro's {theirs:?}): `cargo build` builds both (`cargo run` only repro)",
                std::env::current_exe()
                    .map_or_else(|_| "repro-embedded".into(), |p| p.display().to_string())
            ),
        );
        println!("{}", record.to_json_line());
        return ExitCode::SUCCESS;
    }
    let native = NATIVE
        .iter()
        .find(|(id, n)| id == scenario && n.variants.contains(&variant.as_str()));
    let record = match native {
        Some((_, n)) => pyhost::run_native(&root, scenario, variant, n.run),
        None => pyhost::run_case(&root, scenario, variant),
    };
    println!("{}", record.to_json_line());
    ExitCode::SUCCESS
}
