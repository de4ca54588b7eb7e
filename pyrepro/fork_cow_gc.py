"""fork-cow-gc, in Python: the lesson is crates/corpus/fork-cow-gc/README.md
(``repro explain fork-cow-gc``); this module is the code of its python and
embedded cases.

Variants:
  broken   the service builds its state (OBJECTS containers), forks a
           worker, and the worker's collector runs (gc.collect())
  fixed    gc.freeze() before the fork: the collector leaves those objects
           alone (3.7+; PyPy has no gc.freeze: skipped)

How it decides, without a clock: memory, measured by the kernel. The
parent reads the worker's Private_Dirty (``/proc/<pid>/smaps_rollup``)
right after the fork and again once the worker has collected (ordered by
pipes), and compares the growth with the size of the state the fork
shared (the growth of the service's own Rss while it built it). A
collection over the shared objects writes to each one's header, so the
worker's copy of nearly every page of the state becomes private: growth
about the size of the state. Frozen, the growth is a few hundred kB. The
verdict's line is half the state, far from both.
"""

import gc
import os

from pyrepro.proc import Event, fork_child
from pyrepro.record import Observation, Skip
from pyrepro.trace import Trace

PAGES_COPIED = "pages-copied"
#: Containers the service keeps (empty lists, each a tracked object of its
#: own): about 3.5 MB (the verdict's line is half of it; a frozen worker's
#: collection dirties 60 to 220 kB on every interpreter here).
OBJECTS = 50000


def prepare(variant):
    if variant == "fixed" and not hasattr(gc, "freeze"):
        raise Skip("gc.freeze is not in this interpreter (CPython 3.7+; bpo-31558)")


def smaps_kb(pid, field):
    """One field of /proc/<pid>/smaps_rollup, in kB."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("/proc/%d/smaps_rollup has no %s" % (pid, field))


def cow_case(freeze):
    obs = Observation()
    tr = Trace()
    me = os.getpid()
    rss_before = smaps_kb(me, "Rss")
    state = [[] for _ in range(OBJECTS)]
    shared_kb = smaps_kb(me, "Rss") - rss_before
    tr.event("parent", "built the service's state: %d lists, Rss +%d kB" % (OBJECTS, shared_kb))
    # repro:diff fixed
    if freeze:
        # FIX: every object so far moves to the permanent generation, which
        # no collection visits: the worker's collector leaves them alone.
        gc.freeze()
        tr.event("parent", "gc.freeze(): %d objects frozen" % gc.get_freeze_count())
    forked, go, collected, done = Event("forked"), Event("go"), Event("collected"), Event("done")

    def worker():
        forked.notify()
        go.wait()
        found = gc.collect()  # None on PyPy
        tr.child("gc.collect()" + ("" if found is None else ": %d unreachable" % found))
        collected.notify()
        done.wait()
        return 0

    tr.fork()
    try:
        with fork_child(worker) as child:
            forked.wait()
            at_fork = smaps_kb(child.pid, "Private_Dirty")
            go.notify()
            collected.wait()
            after = smaps_kb(child.pid, "Private_Dirty")
            done.notify()
            status = child.wait()
    finally:
        if freeze:
            gc.unfreeze()
    dirtied = after - at_fork
    tr.event("parent", "worker %d Private_Dirty: %d kB after the fork, %d kB after its "
             "collection: +%d kB of %d kB shared" % (child.pid, at_fork, after, dirtied, shared_kb))
    del state
    obs.note({"state_kb": shared_kb, "private_dirty_at_fork_kb": at_fork,
              "private_dirty_after_collect_kb": after, "dirtied_kb": dirtied,
              "line_kb": shared_kb // 2})
    obs.note("child %d (the worker): %s" % (child.pid, status))
    if dirtied > shared_kb // 2:
        obs.symptom = PAGES_COPIED
        tr.event("parent", "the collection copied the shared pages: +%d kB" % dirtied)
        obs.note("the worker's collection made %d kB private (/proc/%d/smaps_rollup): "
                 "%d%% of the %d kB of state it shared with the service at the fork"
                 % (dirtied, child.pid, 100 * dirtied // max(shared_kb, 1), shared_kb))
    else:
        obs.note("the worker's collection made %d kB private: the %d kB of state stay "
                 "shared" % (dirtied, shared_kb))
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: cow_case(freeze=False),
    "fixed": lambda: cow_case(freeze=True),
}
