//! The exit codes of `repro`, documented in README.md.

/// Every case gave the verdict its `scenario.toml` expects.
pub const OK: u8 = 0;
/// At least one case gave a verdict, and not the expected one: a broken
/// variant that behaved, a fixed one that misbehaved, another symptom.
pub const NOT_AS_EXPECTED: u8 = 1;
/// The command line is wrong: unknown scenario, runtime or variant, an
/// unusable `--python`. Nothing was run.
pub const USAGE: u8 = 2;
/// Every verdict that came back was as expected, but some case could not
/// give one: it hung, crashed, errored, or was skipped where its
/// `scenario.toml` does not expect a skip.
pub const COULD_NOT_RUN: u8 = 3;
