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

How it decides, without a clock: the service draws once, forks two
workers, and each worker draws DRAWS 64-bit numbers and sends them back
through a pipe; the service draws as many itself once the workers are
reaped. Two processes with the same sequence is the symptom. Independent
seeds give the same 256 bits with probability 2**-256: the verdict is the
generators' state, not luck or timing.
"""

import os
import random

from pyrepro.proc import fork_child
from pyrepro.record import Observation
from pyrepro.trace import Trace

SAME_RANDOM_NUMBERS = "same-random-numbers"
DRAWS = 4
#: fixed-worker-seed: the run's base seed (a real service would take it
#: from its configuration or the clock, once, in the parent).
BASE_SEED = 1234


def draws(rng):
    return ["%016x" % rng.getrandbits(64) for _ in range(DRAWS)]


def rng_case(generator, reseed=None):
    """``generator``: "own" (a random.Random() the service made) or
    "module" (the random module's functions). ``reseed``: None, "os" or
    "worker-seed": what each worker does first."""
    obs = Observation()
    tr = Trace()
    rng = random.Random() if generator == "own" else random
    what = "random.Random()" if generator == "own" else "the random module"
    first = rng.random()
    tr.event("parent", "%s: random() = %.6f (the service uses it)" % (what, first))
    r, w = os.pipe()
    workers = []
    for index in (1, 2):
        def worker(index=index):
            os.close(r)
            # repro:diff fixed
            if reseed == "os":
                # FIX: the worker reseeds its generator from os.urandom.
                rng.seed()
            # repro:diff fixed-worker-seed
            if reseed == "worker-seed":
                # FIX: a seed of its own: base + the worker's index.
                rng.seed(BASE_SEED + index)
            seq = draws(rng)
            tr.child("worker %d: getrandbits(64) x %d = %s..." % (index, DRAWS, seq[0]))
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
    tr.event("parent", "service: getrandbits(64) x %d = %s..." % (DRAWS, seqs["service"][0]))
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
}
