"""Runs one case and turns what it saw into a verdict record.

Used by ``python -m pyrepro run`` and, embedded, by crates/pyhost
(``run_case_json``). The clock starts here, after the interpreter and the
scenario module are loaded: ``elapsed_ms`` is the scenario's own time.
"""

import os
import sys
import time

from pyrepro import SCENARIOS, record


class UsageError(Exception):
    pass


def load(scenario):
    try:
        name = SCENARIOS[scenario]
    except KeyError:
        raise UsageError("unknown scenario %r (known: %s)"
                         % (scenario, ", ".join(sorted(SCENARIOS))))
    exercise = os.environ.get("REPRO_EXERCISE")
    if exercise:
        return load_exercise(name, exercise)
    __import__(name)
    return sys.modules[name]


_exercises = {}


def load_exercise(name, path):
    """``repro check``: the learner's copy of a scenario module, loaded in
    place of ``name`` (so a spawned child imports the same code), with the
    witness (pyrepro/witness.py) watching it."""
    if name not in _exercises:
        import importlib.util
        from pyrepro import witness
        witness.install()
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        witness.watch_module(module)
        _exercises[name] = module
    return _exercises[name]


def with_site():
    """What ``site`` does at start-up (site-packages and .pth files on
    sys.path), for the variants that import a package from there. The
    supervisor starts every Python case with -S: most need only the
    standard library, and ``site`` is a good share of a bare start-up.
    Without -S (``python -m pyrepro`` by hand) it has already run, and this
    does nothing; nor after :func:`site_from`."""
    if sys.flags.no_site and not _site_done:
        import site
        site.main()
        _site_done.append(True)


def site_from(site_packages):
    """For the embedded runtime, which starts without ``site``: the
    project's environment (``site_packages``, its .pth files processed) is
    then the only site directory, as it is for the environment's own
    interpreter, and :func:`with_site` adds no other. (With ``site``, the
    embedded interpreter put its base installation's site-packages first,
    and imported a package from there, not the version the project pins.)"""
    import site
    site.addsitedir(site_packages)
    _site_done.append(True)


_site_done = []


def use_side(name):
    """Puts a side install (``[side=NAME]`` in requirements.txt, installed
    into ``<site-packages>/repro-NAME``) first on sys.path, so that its
    packages win over the environment's own. Returns its path, or None when
    no entry of sys.path has it. Call before importing the package."""
    with_site()
    for entry in list(sys.path):
        where = os.path.join(entry or ".", "repro-" + name)
        if os.path.isdir(where):
            if where not in sys.path:
                sys.path.insert(0, where)
            return where
    return None


def variant_fn(scenario, variant):
    module = load(scenario)
    try:
        return module.VARIANTS[variant]
    except KeyError:
        raise UsageError("scenario %r has no python variant %r (known: %s)"
                         % (scenario, variant, ", ".join(module.VARIANTS)))


def run_case(scenario, variant, runtime="python", interpreter=None):
    """The record (a dict) for one run of ``scenario``/``variant``.

    A scenario module may define ``prepare(variant)``: set-up that is not
    the scenario (importing asyncio, say), run before the clock starts."""
    fn = variant_fn(scenario, variant)
    python = record.interpreter(interpreter)
    prepare = getattr(load(scenario), "prepare", None)
    try:
        if prepare is not None:
            prepare(variant)
    except record.Skip as e:
        return record.build(scenario, runtime, variant, 0.0,
                            verdict=record.SKIPPED, reason=str(e), python=python)
    start = time.perf_counter()
    try:
        observation = fn()
    except record.Skip as e:
        elapsed = (time.perf_counter() - start) * 1000.0
        return record.build(scenario, runtime, variant, elapsed,
                            verdict=record.SKIPPED, reason=str(e), python=python)
    except Exception as e:
        elapsed = (time.perf_counter() - start) * 1000.0
        import traceback  # only here: its import is a good share of a start-up
        reason = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=4))
        return record.build(scenario, runtime, variant, elapsed,
                            verdict=record.ERROR, reason=reason, python=python)
    elapsed = (time.perf_counter() - start) * 1000.0
    if _exercises:  # repro check: what the copy took away from the witness
        from pyrepro import witness
        witness.finish()
    return record.build(scenario, runtime, variant, elapsed,
                        observation=observation, python=python)


def run_case_json(scenario, variant, runtime="python", interpreter=None):
    return record.dumps(run_case(scenario, variant, runtime, interpreter))
