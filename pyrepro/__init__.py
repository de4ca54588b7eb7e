"""pyrepro: the Python side of repro.

One module per scenario, each reproducing a real concurrency bug from a
Python service, with a broken and a fixed variant that differ by the fix.
Every run prints one verdict record (see ``record.py``), the same JSON line
the Rust side prints, checked against the same schema.

Run one case on any interpreter (3.6+), standard library only::

    python -m pyrepro run shared-epoll broken
    python -m pyrepro list

The same code runs inside an embedded CPython (crates/pyhost) through
``runner.run_case_json``.
"""

#: scenario id -> module name. The variants are each module's ``VARIANTS``.
SCENARIOS = {
    "shared-epoll": "pyrepro.shared_epoll",
    "signal-wakeup-fd": "pyrepro.signal_wakeup_fd",
    "fork-held-lock": "pyrepro.fork_held_lock",
    "finalizer-yield": "pyrepro.finalizer_yield",
    "sigterm-zombie": "pyrepro.sigterm_zombie",
    "pool-worker-raise": "pyrepro.pool_worker_raise",
}
