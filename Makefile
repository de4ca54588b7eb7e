# repro: see README.md. `make demo` runs every case; `make test` is the suite.
CARGO ?= cargo

.PHONY: help setup demo test test-nonroot lint nextest bench stress canary interpreters clean

help:
	@echo "make setup    install what a fresh machine lacks (idempotent)"
	@echo "make demo     run every scenario x runtime x variant, with evidence"
	@echo "make test     setup, then the whole test suite"
	@echo "make test-nonroot  the suite as a throwaway unprivileged user (run as root)"
	@echo "make lint     rustfmt and clippy, warnings as errors"
	@echo "make nextest  the suite under cargo-nextest (leaks fail)"
	@echo "make bench    every case N times (N=30): rates, medians, p95, start-up, cargo test time"
	@echo "make stress   N full rounds of every case (N=50), every core busy; counts flips, hangs, leaks"
	@echo "make canary   every scenario on every interpreter here; drift report"
	@echo "make interpreters  CPython 3.14+, a free-threaded build, PyPy into target/ (root; minutes once)"

setup:
	@ci/setup.sh

demo: setup
	$(CARGO) run --release --quiet -- run all --runtime all --variant all

test: setup
	$(CARGO) test --workspace

test-nonroot: setup
	@ci/test-nonroot.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

nextest: setup
	$(CARGO) nextest run --workspace

bench: setup
	$(CARGO) build --release --quiet
	./target/release/repro bench --runs $${N:-30} --cargo-test

stress: setup
	@ci/stress.sh

canary:
	@ci/canary.sh

clean:
	$(CARGO) clean

interpreters:
	@ci/interpreters.sh
