# repro: see README.md. `make demo` runs every case; `make test` is the suite.
CARGO ?= cargo

.PHONY: help setup demo test test-nonroot lint nextest bench bench-interpreters stress canary report diagrams canary-kernels kernels interpreters clean

help:
	@echo "make setup    install what a fresh machine lacks (idempotent)"
	@echo "make demo     run every scenario x runtime x variant, with evidence"
	@echo "make test     setup, then the whole test suite"
	@echo "make test-nonroot  the suite as a throwaway unprivileged user (run as root)"
	@echo "make lint     rustfmt and clippy, warnings as errors"
	@echo "make nextest  the suite under cargo-nextest (leaks fail)"
	@echo "make bench    every case N times (N=30): rates, medians, p95, start-up, x bare, x floor, cargo test time"
	@echo "make bench-interpreters  the Python cases' bench on every interpreter here (N=10): x bare, x floor"
	@echo "make stress   N full rounds of every case (N=50), every core busy; counts flips, hangs, leaks"
	@echo "make canary   every scenario on every interpreter here; drift report"
	@echo "make report   one self-contained HTML page of the latest canary (target/report/index.html)"
	@echo "make diagrams every Mermaid diagram in the tree rendered to SVG (target/diagrams/)"
	@echo "make interpreters  CPython 3.14+, a free-threaded build, PyPy into target/ (root; minutes once)"
	@echo "make kernels  Debian's 5.10, 6.1, 6.1-rt, 6.12 and 7.x kernels into target/kernels/ (KERNELS=...)"
	@echo "make canary-kernels  the canary inside each of those kernels, in QEMU; drift report"

setup:
	@ci/setup.sh

# cargo build, not cargo run: it builds repro-embedded too.
demo: setup
	$(CARGO) build --release --quiet
	./target/release/repro run all --runtime all --variant all

# Then the ignored tests (too slow for a plain cargo test, which stays near
# one run of the corpus): the scaffold (`repro new` in a copy of the tree,
# built and covered with no other edit), every Mermaid diagram rendered and
# the report screenshotted in headless Chromium, the workshop's checks on
# learners' copies (Python and Rust: each Rust check builds the learner's
# crate), and the upstream history on the oldest and newest CPython of each
# range. One REPRO_TEST_RUN for both: the second reads what the first ran
# (the book, the expectation groups) instead of running it again.
test: setup
	export REPRO_TEST_RUN="make-test-$$$$-$$(date +%s)" && \
	$(CARGO) test --workspace && \
	$(CARGO) test --test integration -- --ignored

test-nonroot: setup
	@ci/test-nonroot.sh

# The scenarios' lib.rs files are modules of crates/corpus by #[path] from
# generated code, which cargo fmt does not follow: rustfmt checks them.
lint:
	$(CARGO) fmt --all -- --check
	rustfmt --check --edition 2024 crates/corpus/*/*.rs crates/repro/templates/new/lib.rs
	$(CARGO) clippy --workspace --all-targets -- -D warnings

nextest: setup
	$(CARGO) nextest run --workspace

bench: setup
	$(CARGO) build --release --quiet
	./target/release/repro bench --runs $${N:-30} --cargo-test

bench-interpreters:
	@ci/bench-interpreters.sh

stress: setup
	@ci/stress.sh

canary:
	@ci/canary.sh

report:
	$(CARGO) run --release --quiet -- report

diagrams:
	@ci/diagrams.sh

clean:
	$(CARGO) clean

interpreters:
	@ci/interpreters.sh

# KERNELS="bookworm-6.1 ./my-bzImage:./modroot ..." (ci/kernels.sh --help).
kernels:
	@ci/kernels.sh $(foreach k,$(KERNELS),--kernel $(k))

canary-kernels: setup kernels
	$(CARGO) build --release --quiet
	./target/release/repro kernels $(KERNELS_ARGS)
