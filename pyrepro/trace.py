"""The timeline of a run, for ``repro run --trace``.

Each process records what it does, as events on a lane (``parent``,
``child``, or a greenlet's name). Times come from CLOCK_MONOTONIC
(``time.monotonic``), the same clock in every process, so the parent can
merge the child's events, which arrive through a pipe, with its own. The
record carries them relative to the fork (``t_ms``; negative before it).

    tr = Trace()              # before the fork: makes the child's pipe
    tr.event("parent", "epoll_create() = fd 3")
    tr.fork()                 # just before os.fork(): t = 0
    ... in the child: tr.child("epoll_ctl(ADD, 7) on inherited fd 3")
    ... in the parent, once the child is gone:
    obs.trace = tr.finish()
"""

import os
import time


class Trace(object):
    def __init__(self):
        self._events = []
        self._t0 = None
        self._r, self._w = os.pipe()

    def event(self, lane, what):
        self._events.append((time.monotonic(), lane, what))

    def fork(self, what="fork()"):
        self._t0 = time.monotonic()
        self.event("parent", what)

    def child(self, what):
        """In a forked child: one event, written to the parent (one write
        per event: atomic for pipes, and safe after a fork)."""
        child_event(self._w, what)

    @property
    def child_fd(self):
        """The fd a child writes its events to (for a multiprocessing fork
        child, which gets it as an argument)."""
        return self._w

    def finish(self):
        """The events, merged and relative to the fork. Call once every
        child that could write is gone."""
        os.close(self._w)
        data = b""
        while True:
            chunk = os.read(self._r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(self._r)
        for line in data.decode("utf-8", "replace").splitlines():
            t, _, what = line.partition("\t")
            self._events.append((float(t), "child", what))
        t0 = self._t0 if self._t0 is not None else (
            min(e[0] for e in self._events) if self._events else 0.0)
        return [{"t_ms": round((t - t0) * 1000.0, 3), "lane": lane, "what": what}
                for t, lane, what in sorted(self._events, key=lambda e: e[0])]


def child_event(fd, what):
    """One event from a child, on the trace pipe ``fd``."""
    line = "%.9f\t%s\n" % (time.monotonic(), what.replace("\n", " "))
    os.write(fd, line.encode("utf-8", "replace")[:4000])
