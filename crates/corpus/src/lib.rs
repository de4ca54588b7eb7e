//! The corpus: every scenario, one directory each under `crates/corpus/`.
//!
//! A scenario's directory holds its `scenario.toml` (what each case must
//! do), its `README.md` (the lesson, the one place its story is told) and,
//! if it has Rust variants, its `lib.rs` (compiled here as a module named
//! after it). `build.rs` finds the directories; no list of scenarios is
//! written anywhere. `CONTRIBUTING.md` walks through adding one, and
//! `repro new <id>` scaffolds it.

use harness::scenario::ScenarioDef;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
