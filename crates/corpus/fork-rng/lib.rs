//! # fork-rng: the Rust variants
//!
//! The lesson is `README.md` beside this file (`repro explain fork-rng`).
//! The generator is SplitMix64, a state of one `u64` in the process's
//! memory, as any user-space generator is (a `rand` `StdRng` the service
//! seeded, say): the fork copies it.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The service seeds a generator from the OS and draws once.
//! 2. It forks two workers; each draws [`DRAWS`] numbers and sends them
//!    back through a pipe. The service reaps them, then draws as many.
//! 3. Two processes with the same sequence is the symptom: independent
//!    seeds give the same 256 bits with probability 2^-256.

use harness::fork::{describe, fork_child};
use harness::scenario::Observation;
use harness::trace::Trace;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;

/// What the `corpus` crate registers: the Rust variants.
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: two processes drew the same numbers.
pub const SAME_RANDOM_NUMBERS: &str = "same-random-numbers";

/// How many 64-bit numbers each process draws.
pub const DRAWS: usize = 4;

/// `fixed-worker-seed`: the run's base seed.
const BASE_SEED: u64 = 1234;

/// SplitMix64 (Steele, Lea and Flood, 2014): its whole state is one `u64`.
struct Generator {
    state: u64,
}

impl Generator {
    fn seeded(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A seed from the OS (getrandom(2)).
    fn from_os() -> Result<Self, String> {
        let mut seed = [0u8; 8];
        // SAFETY: the buffer is valid for 8 bytes.
        let n = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
        if n != 8 {
            return Err(format!("getrandom: {}", std::io::Error::last_os_error()));
        }
        Ok(Self::seeded(u64::from_ne_bytes(seed)))
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn draws(&mut self) -> Vec<String> {
        (0..DRAWS)
            .map(|_| format!("{:016x}", self.next_u64()))
            .collect()
    }
}

/// Runs the `broken`, `fixed` or `fixed-worker-seed` variant.
///
/// # Errors
/// A message if a setup step (getrandom, pipe, fork, read) fails, or for an
/// unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let reseed = match variant {
        "broken" => None,
        "fixed" => Some("os"),
        "fixed-worker-seed" => Some("worker-seed"),
        other => return Err(format!("fork-rng has no rust variant {other:?}")),
    };
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let mut rng = Generator::from_os()?;
    let first = rng.next_u64();
    tr.event(
        "parent",
        format!("SplitMix64 from getrandom: random() = {first:016x} (the service uses it)"),
    );
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let mut workers = Vec::new();
    for index in 1..=2u64 {
        let ct = tr.child();
        let w = &w;
        let rng = &rng;
        let worker = move || {
            // Its copy of the service's generator: the fork copied the
            // memory (Rust sees a borrow; the child owns the copy).
            let mut rng = Generator::seeded(rng.state);
            // repro:diff fixed
            if reseed == Some("os") {
                // FIX: the worker reseeds its generator from the OS.
                rng = Generator::from_os().expect("getrandom");
            }
            // repro:diff fixed-worker-seed
            if reseed == Some("worker-seed") {
                // FIX: a seed of its own: base + the worker's index.
                rng = Generator::seeded(BASE_SEED + index);
            }
            let seq = rng.draws();
            ct.event(format_args!(
                "worker {index}: next_u64() x {DRAWS} = {}...",
                seq[0]
            ));
            let line = format!("{index} {}\n", seq.join(" "));
            let _ = nix::unistd::write(w, line.as_bytes());
            0
        };
        if index == 1 {
            tr.fork();
        }
        // SAFETY: the scenario process is single-threaded.
        workers.push(unsafe { fork_child(worker) }.map_err(|e| format!("fork: {e}"))?);
    }
    drop(w);
    let mut obs = Observation::default();
    for forked in workers {
        let pid = forked.pid();
        let status = forked.wait().map_err(|e| format!("waitpid: {e}"))?;
        obs.note(format!("child {pid} (a worker): {}", describe(status)));
    }
    let mut data = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut data)
        .map_err(|e| format!("read: {e}"))?;
    let mut seqs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in data.lines() {
        let (index, rest) = line.split_once(' ').ok_or("a worker's line")?;
        seqs.insert(
            format!("worker {index}"),
            rest.split(' ').map(str::to_owned).collect(),
        );
    }
    let service = rng.draws();
    tr.event(
        "parent",
        format!("service: next_u64() x {DRAWS} = {}...", service[0]),
    );
    seqs.insert("service".into(), service);
    let names: Vec<&String> = seqs.keys().collect();
    let mut same: Vec<[&String; 2]> = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            if seqs[*a] == seqs[*b] {
                same.push([a, b]);
            }
        }
    }
    obs.note(json!({ "draws": seqs, "same": same }));
    if let Some([a, b]) = same.first() {
        obs.symptom = Some(SAME_RANDOM_NUMBERS);
        let pairs: Vec<String> = same.iter().map(|[a, b]| format!("{a} and {b}")).collect();
        tr.event(
            "parent",
            format!("the same {DRAWS} numbers in {}", pairs.join(", ")),
        );
        obs.note(format!(
            "{a} and {b} drew the same {DRAWS} 64-bit numbers ({} ...): the fork copied \
             the generator's state, and nothing reseeded it",
            seqs[*a][0]
        ));
    } else {
        obs.note("every process drew its own numbers");
    }
    obs.trace = Some(tr.finish());
    Ok(obs)
}
