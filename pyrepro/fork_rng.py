"""fork-rng, in Python: the lesson is crates/corpus/fork-rng/README.md
(``repro explain fork-rng``); this module is the code of its python and
embedded cases.

Variants:
  broken              a generator the service owns (random.Random()), made
                      before the fork and never reseeded: every version
  broken-global       the random module's own generator: reseeded in a
                      fork child since 3.7 (os.register_at_fork), so only
                      3.6 and older show it
  fixed               each worker reseeds its generator from the OS
  fixed-worker-seed   each worker seeds it with base + its index: distinct,
                      and reproducible
  broken-numpy        the story's generator: NumPy's legacy global one
                      (numpy.random), never reseeded at fork on any version
  fixed-numpy         each worker makes a Generator of its own from a child
                      of one SeedSequence (NumPy's way of parallel streams)

NumPy is pinned in pyrepro/requirements.txt; where it is not installed the
numpy variants are ``skipped``, with the reason. The others need only the
standard library.

How it decides, without a clock: the service draws once, forks two
workers, and each worker draws DRAWS 64-bit numbers and sends them back
through a pipe; the service draws as many itself once the workers are
reaped. Two processes with the same sequence is the symptom. Independent
seeds give the same 256 bits with probability 2**-256: the verdict is the
generators' state, not luck or timing.
"""

import os
import random
import sys

from pyrepro.proc import fork_child
from pyrepro.record import Observation, Skip, missing
from pyrepro.trace import Trace

SAME_RANDOM_NUMBERS = "same-random-numbers"
DRAWS = 4
#: fixed-worker-seed: the run's base seed (a real service would take it
#: from its configuration or the clock, once, in the parent).
BASE_SEED = 1234


def prepare(variant):
    """The numpy variants: NumPy's import, off the clock; ``skipped`` where
    it is not installed. The other variants import nothing more."""
    if not variant.endswith("-numpy"):
        return
    from pyrepro.runner import with_site
    with_site()
    # NumPy's OpenBLAS starts a thread per core that spins while it waits
    # for work: 70 ms of CPU per import here, on the cores the other cases
    # run on. Nothing here multiplies a matrix, and the generator's state
    # is NumPy's own: one thread (read when OpenBLAS loads, at the import).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import numpy  # noqa: F401
    except ImportError as e:
        if sys.implementation.name == "pypy" and sys.version_info >= (3, 11):
            raise Skip("numpy is not installed for this interpreter (%s): NumPy "
                       "publishes PyPy wheels for the ABI pp73 only, and nothing is "
                       "compiled here (pyrepro/requirements.txt)" % e)
        raise missing("numpy", e)


def draws(rng):
    if not hasattr(rng, "getrandbits"):  # NumPy: numpy.random or a Generator
        return [rng.bytes(8).hex() for _ in range(DRAWS)]
    return ["%016x" % rng.getrandbits(64) for _ in range(DRAWS)]


def generator_of(kind):
    """The service's generator, and how the trace names it."""
    if kind == "own":
        return random.Random(), "random.Random()"
    if kind == "numpy":
        import numpy
        return numpy.random, "numpy.random (NumPy's global generator)"
    return random, "the random module"


def rng_case(generator, reseed=None):
    """``generator``: "own" (a random.Random() the service made), "module"
    (the random module's functions) or "numpy" (numpy.random). ``reseed``:
    None, "os", "worker-seed" or "seed-sequence": what each worker does
    first."""
    obs = Observation()
    tr = Trace()
    rng, what = generator_of(generator)
    first = rng.random()
    tr.event("parent", "%s: random() = %.6f (the service uses it)" % (what, first))
    r, w = os.pipe()
    workers = []
    for index in (1, 2):
        def worker(index=index):
            os.close(r)
            mine = rng
            # repro:diff fixed
            if reseed == "os":
                # FIX: the worker reseeds its generator from os.urandom.
                rng.seed()
            # repro:diff fixed-worker-seed
            if reseed == "worker-seed":
                # FIX: a seed of its own: base + the worker's index.
                rng.seed(BASE_SEED + index)
            # repro:diff fixed-numpy
            if reseed == "seed-sequence":
                # FIX: a Generator of its own, from this worker's child of one
                # SeedSequence: independent streams, reproducible run to run.
                import numpy
                mine = numpy.random.default_rng(
                    numpy.random.SeedSequence(BASE_SEED).spawn(2)[index - 1])
            seq = draws(mine)
            tr.child("worker %d: %d draws of 64 bits = %s..." % (index, DRAWS, seq[0]))
            os.write(w, ("%d %s\n" % (index, " ".join(seq))).encode())
            return 0

        if index == 1:
            tr.fork()
        workers.append(fork_child(worker))
    os.close(w)
    for forked in workers:
        with forked:
            obs.note("child %d (a worker): %s" % (forked.pid, forked.wait()))
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    seqs = {}
    for line in data.decode().splitlines():
        index, rest = line.split(" ", 1)
        seqs["worker %s" % index] = rest.split()
    seqs["service"] = draws(rng)
    tr.event("parent", "service: %d draws of 64 bits = %s..." % (DRAWS, seqs["service"][0]))
    names = sorted(seqs)
    same = [[a, b] for i, a in enumerate(names) for b in names[i + 1:]
            if seqs[a] == seqs[b]]
    obs.note({"draws": seqs, "same": same})
    if same:
        obs.symptom = SAME_RANDOM_NUMBERS
        tr.event("parent", "the same %d numbers in %s" % (
            DRAWS, ", ".join(" and ".join(pair) for pair in same)))
        obs.note("%s drew the same %d 64-bit numbers (%s ...): the fork copied the "
                 "generator's state, and nothing reseeded it"
                 % (" and ".join(same[0]), DRAWS, seqs[same[0][0]][0]))
    else:
        obs.note("every process drew its own numbers")
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: rng_case("own"),
    "broken-global": lambda: rng_case("module"),
    "fixed": lambda: rng_case("own", reseed="os"),
    "fixed-worker-seed": lambda: rng_case("own", reseed="worker-seed"),
    "broken-numpy": lambda: rng_case("numpy"),
    "fixed-numpy": lambda: rng_case("numpy", reseed="seed-sequence"),
}
