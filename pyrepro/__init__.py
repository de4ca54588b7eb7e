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

import os as _os


def _discover():
    """scenario id -> module name, for every scenario directory of the
    checkout (``crates/corpus/<id>/scenario.toml``) that has a module here
    (``pyrepro/<id with underscores>.py``). Nothing lists them: a new
    scenario is found the day its directory and module land, and the test
    suite fails, by name, if pyrepro and the scenario.toml files disagree.
    """
    here = _os.path.dirname(_os.path.abspath(__file__))
    corpus = _os.path.join(_os.path.dirname(here), "crates", "corpus")
    found = {}
    for scenario in sorted(_os.listdir(corpus)):
        stem = scenario.replace("-", "_")
        if (_os.path.isfile(_os.path.join(corpus, scenario, "scenario.toml"))
                and _os.path.isfile(_os.path.join(here, stem + ".py"))):
            found[scenario] = "pyrepro." + stem
    return found


#: scenario id -> module name. The variants are each module's ``VARIANTS``.
SCENARIOS = _discover()
