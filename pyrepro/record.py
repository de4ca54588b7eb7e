"""The verdict record, Python side.

The schema is the Rust type ``harness::record::Record``
(crates/harness/src/record.rs); the integration tests parse every record
printed here with it, strictly. This module builds the same object and checks
the same rules before printing, so a mistake shows here first.
"""

import os
import sys

# Nothing here imports re, json or platform: a case's start-up is part of
# what it costs (repro bench), and those three are a good share of it.
try:
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover (an interpreter without _json)
    from json.encoder import encode_basestring_ascii as _quote

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def is_kebab(text):
    """Whether ``text`` is a kebab-case id: lowercase words of letters and
    digits, joined by single hyphens."""
    words = text.split("-") if isinstance(text, str) else [""]
    return all(w and _ID_CHARS.issuperset(w) for w in words)


def dumps(value):
    """The JSON text of ``value`` (dicts, lists, strings, numbers,
    booleans, None), as ``json.dumps`` writes it, without importing the
    json package (which imports re)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (_quote(k if isinstance(k, str) else dumps(k)),
                                            dumps(v)) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)

#: The verdicts a scenario process gives: misbehaved or behaved from its
#: observation; skipped (a record.Skip) and error (anything else raised)
#: from pyrepro.runner. The supervisor (crates/harness/src/case.rs) adds
#: hung and crashed, which no process can say about itself.
MISBEHAVED = "misbehaved"
BEHAVED = "behaved"
ERROR = "error"
SKIPPED = "skipped"


class Skip(Exception):
    """Raised by a scenario that cannot run on this interpreter; the message
    is the reason, and the verdict is ``skipped``."""


def missing(package, detail):
    """The Skip for a pinned package this interpreter lacks, with the hint
    that fits where it runs: the project's .venv (make setup installs it),
    another environment (a canary's: no wheel of the pin for this
    interpreter), or a bare interpreter named with --python."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    prefix = os.path.realpath(sys.prefix)
    if prefix == os.path.realpath(os.path.join(root, ".venv")):
        hint = "make setup installs it into this .venv"
    elif prefix != os.path.realpath(getattr(sys, "base_prefix", sys.prefix)):
        hint = ("this environment (%s) has no install of its pin in "
                "pyrepro/requirements.txt (no wheel for this interpreter?)" % sys.prefix)
    else:
        hint = ("install it here (pyrepro/requirements.txt pins it), or run on the "
                "project's .venv, which make setup provides")
    return Skip("%s is not installed for this interpreter (%s); %s" % (package, detail, hint))


class Observation(object):
    """What a scenario saw: the symptom (None if the bug did not show) and the
    evidence. The verdict follows from the symptom alone, so it cannot be
    stated apart from what was observed."""

    def __init__(self):
        self.symptom = None
        self.evidence = []
        self.trace = None  # pyrepro.trace.Trace.finish(): the timeline

    def note(self, item):
        self.evidence.append(item)
        return self


#: sys.implementation.name -> what platform.python_implementation() says.
_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalVM",
                    "ironpython": "IronPython", "jython": "Jython"}


def interpreter(overrides=None):
    name = sys.implementation.name
    info = {
        # What platform.python_version() and python_implementation() say,
        # read without importing platform.
        "version": sys.version.split()[0],
        "implementation": _IMPLEMENTATIONS.get(name, name),
        "executable": sys.executable,
    }
    info.update(free_threading())
    info.update(overrides or {})
    return info


def free_threading():
    """``{"free_threaded": True, "gil_enabled": ...}`` on a free-threaded
    build (``Py_GIL_DISABLED``; the GIL can still be on at run time, turned
    on by an extension that does not support running without it), else
    ``{}``: the record carries the flag only where it is true."""
    # The ABI flag "t" is Py_GIL_DISABLED, without importing sysconfig.
    if "t" not in getattr(sys, "abiflags", ""):
        return {}
    return {"free_threaded": True,
            "gil_enabled": bool(getattr(sys, "_is_gil_enabled", lambda: True)())}


def build(scenario, runtime, variant, elapsed_ms, observation=None,
          verdict=None, reason=None, python=None):
    """The record for one run: from an Observation, or an explicit
    error/skipped verdict with its reason."""
    trace = None
    if observation is not None:
        verdict = MISBEHAVED if observation.symptom else BEHAVED
        symptom, evidence = observation.symptom, list(observation.evidence)
        trace = observation.trace
    else:
        symptom, evidence = None, []
    record = {
        "scenario": scenario,
        "runtime": runtime,
        "variant": variant,
        "verdict": verdict,
        "symptom": symptom,
        "evidence": evidence,
        "reason": reason,
        "python": python,
        "kernel": os.uname()[2],
        "elapsed_ms": round(float(elapsed_ms), 3),
    }
    if trace is not None:
        record["trace"] = trace
    validate(record)
    return record


def validate(record):
    """The invariants of Record::validate; raises ValueError."""
    for key in ("scenario", "variant"):
        if not is_kebab(record[key]):
            raise ValueError("%s %r is not a kebab-case id" % (key, record[key]))
    verdict, symptom = record["verdict"], record["symptom"]
    if verdict not in (MISBEHAVED, BEHAVED, ERROR, SKIPPED):
        raise ValueError("a scenario cannot give verdict %r" % verdict)
    if symptom is not None and not is_kebab(symptom):
        raise ValueError("symptom %r is not a kebab-case id" % symptom)
    if verdict == MISBEHAVED and symptom is None:
        raise ValueError("a misbehaved verdict must name its symptom")
    if verdict == BEHAVED and symptom is not None:
        raise ValueError("a behaved verdict cannot carry a symptom")
    if verdict in (MISBEHAVED, BEHAVED) and not record["evidence"]:
        raise ValueError("a %s verdict needs evidence" % verdict)
    if verdict in (ERROR, SKIPPED) and not record["reason"]:
        raise ValueError("a %s verdict needs a reason" % verdict)
