"""shared-epoll: an epoll instance created before fork() is shared.

The lesson (what you will see, the story, the mechanism, the fix) is
crates/corpus/shared-epoll/README.md (``repro explain shared-epoll``);
``repro diff shared-epoll`` shows each fix, from the lines marked FIX. Here:
the python and embedded cases, and how each reaches its verdict.

Variants:
  broken / fixed                  tornado 4's shape (MiniIOLoop below)
  broken-asyncio / fixed-asyncio  a real asyncio loop
  broken-tornado / fixed-tornado  the story's own tornado 4.5.3 (EPollIOLoop),
                                  from the project's .venv (skipped without it)
  broken-tornado6 / fixed-tornado6  current tornado 6 (asyncio inside): the
                                  same mistake is a busy loop; from its side
                                  install (pyrepro/requirements.txt)

No clock decides anything. The child registers its fd, makes it readable and
notifies ``child_registered``; only then does the parent look, and it looks
without blocking: a zero-timeout poll (tornado shape), or, before each
blocking select of the asyncio loop, a zero-timeout check of whether its
epoll fd has anything to report (pyrepro.aio.LoopProbe: if not, the loop is
idle and the probe stops it there).
"""

import os
import select
import socket
import time

from pyrepro.aio import LoopProbe
from pyrepro.proc import Event, epoll_targets, fork_child
from pyrepro.record import Observation, Skip, missing
from pyrepro.runner import use_side, with_site
from pyrepro.trace import Trace

UNKNOWN_FD_EVENT = "unknown-fd-event"
BUSY_LOOP = "busy-loop"

#: How many wake-ups for nothing the asyncio probe lets the loop make before
#: stopping it: enough to show it never settles.
SPIN_LIMIT = 50


class MiniIOLoop(object):
    """tornado 4's PollIOLoop, reduced to what the bug needs."""

    def __init__(self):
        self._impl = select.epoll()
        self._handlers = {}

    def add_handler(self, fd, handler):
        self._handlers[fd] = handler
        self._impl.register(fd, select.EPOLLIN)

    def poll_once(self, timeout):
        """One iteration of IOLoop.start."""
        for fd, events in self._impl.poll(timeout):
            # tornado/ioloop.py: fd_obj, handler_func = self._handlers[fd]
            handler = self._handlers[fd]
            handler(fd, events)


def _listener():
    """The parent's own fd, as in the story: a listening socket on loopback."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def _child_registers_in(child_loop_factory, add_reader, epfd_of, events, tr):
    """The child's side: register a socket of its own in the loop the factory
    gives, make it readable, tell the parent, and stay alive (so the fd stays
    registered) until the parent has looked."""
    child_registered, parent_polled = events

    def child():
        child_loop = child_loop_factory()
        tx, rx = socket.socketpair()
        add_reader(child_loop, rx.fileno())
        tr.child("epoll_ctl(ADD, %d) on epoll fd %d" % (rx.fileno(), epfd_of(child_loop)))
        tx.send(b"x")
        tr.child("fd %d readable; child_registered" % rx.fileno())
        child_registered.notify()
        parent_polled.wait()

    return child


def _evidence_of_epoll(obs, epfd, own_fds):
    tfds = sorted(t for t, _ in epoll_targets(os.getpid(), epfd))
    obs.note({"parent_registered_fds": sorted(own_fds)})
    obs.note({"parent_epoll_fdinfo_tfds": tfds})
    return tfds


def tornado_shape(fixed):
    obs = Observation()
    tr = Trace()
    parent_loop = MiniIOLoop()
    epfd = parent_loop._impl.fileno()
    tr.event("parent", "epoll_create() = fd %d" % epfd)
    listener = _listener()
    parent_loop.add_handler(listener.fileno(), lambda fd, events: None)
    tr.event("parent", "epoll_ctl(ADD, %d): its listener" % listener.fileno())
    child_registered = Event("child_registered")
    parent_polled = Event("parent_polled")

    def child_loop():
        # repro:diff fixed
        if fixed:
            # FIX: the child creates its own loop instead of using the inherited one.
            return MiniIOLoop()
        else:
            return parent_loop

    child = _child_registers_in(
        child_loop, lambda lp, fd: lp.add_handler(fd, lambda fd, ev: None),
        lambda lp: lp._impl.fileno(), (child_registered, parent_polled), tr)
    tr.fork()
    with fork_child(child) as forked:
        child_registered.wait()
        try:
            parent_loop.poll_once(0)
            tr.event("parent", "epoll_wait(fd %d, 0): no events" % epfd)
            obs.note("parent's poll(timeout=0) after the child registered: "
                     "no event without a handler")
        except KeyError as e:
            obs.symptom = UNKNOWN_FD_EVENT
            tr.event("parent", "epoll_wait(fd %d, 0) = fd %s: no handler: KeyError"
                     % (epfd, e.args[0]))
            obs.note("parent's poll returned fd %s, which has no handler: "
                     "KeyError: %s from self._handlers[fd]" % (e.args[0], e.args[0]))
        _evidence_of_epoll(obs, epfd, parent_loop._handlers)
        parent_polled.notify()
        obs.note("child: %s" % forked.wait())
    listener.close()
    obs.trace = tr.finish()
    return obs


def asyncio_shape(fixed):
    import asyncio  # here: the tornado-shape variants need none of it

    obs = Observation()
    tr = Trace()
    parent_loop = asyncio.new_event_loop()
    epfd = parent_loop._selector.fileno()
    tr.event("parent", "new_event_loop(): epoll fd %d" % epfd)
    listener = _listener()
    listener.setblocking(False)
    parent_loop.add_reader(listener.fileno(), lambda: None)
    child_registered = Event("child_registered")
    parent_polled = Event("parent_polled")

    def child_loop():
        # repro:diff fixed-asyncio
        if fixed:
            # FIX: the child creates its own loop instead of using the inherited one.
            return asyncio.new_event_loop()
        else:
            return parent_loop

    child = _child_registers_in(
        child_loop, lambda lp, fd: lp.add_reader(fd, lambda: None),
        lambda lp: lp._selector.fileno(), (child_registered, parent_polled), tr)
    tr.fork()
    with fork_child(child) as forked:
        child_registered.wait()
        probe = LoopProbe(parent_loop, spin_limit=SPIN_LIMIT)
        cpu_before = time.process_time()
        probe.run()
        cpu_ms = (time.process_time() - cpu_before) * 1000.0
        if probe.wakeups_for_nothing:
            tr.event("parent", "run_forever(): %d wake-ups with no event; raw epoll "
                     "reports fd %s" % (probe.wakeups_for_nothing, sorted(probe.unknown_fds)))
        else:
            tr.event("parent", "run_forever(): idle at once (epoll fd %d quiet)" % epfd)
        if probe.wakeups_for_nothing:
            obs.symptom = BUSY_LOOP
            obs.note("parent's loop woke up %d times in a row with nothing to do "
                     "(stopped by the probe; it never went idle)"
                     % probe.wakeups_for_nothing)
            obs.note("the raw epoll kept reporting fd(s) %s, unknown to the "
                     "parent's selector, which drops them"
                     % sorted(probe.unknown_fds))
            obs.note({"parent_cpu_ms": round(cpu_ms, 1)})
        else:
            obs.note("parent's loop went idle at once: its epoll had nothing "
                     "to report after the child registered")
        own = [key.fd for key in parent_loop._selector.get_map().values()]
        _evidence_of_epoll(obs, parent_loop._selector.fileno(), own)
        parent_polled.notify()
        obs.note("child: %s" % forked.wait())
    parent_loop.close()
    listener.close()
    obs.trace = tr.finish()
    return obs


def prepare(variant):
    """Set-up off the clock: asyncio, and the real tornado, for their
    variants (tornado 4 from the environment, tornado 6 from its side
    install)."""
    if variant.endswith("-asyncio"):
        import asyncio  # noqa: F401
    if variant.endswith("-tornado6"):
        if use_side("tornado6") is None:
            raise missing("tornado 6", "no repro-tornado6 on sys.path")
        want = 6
    elif variant.endswith("-tornado"):
        with_site()
        want = 4
    else:
        return
    try:
        import tornado.ioloop  # noqa: F401
    except ImportError as e:
        raise missing("tornado %d" % want, e)
    import tornado
    if tornado.version_info[0] != want:
        raise Skip("this variant needs tornado %d; found tornado %s in %s"
                   % (want, tornado.version, os.path.dirname(tornado.__file__)))


def _collect():
    """A logging handler that keeps what tornado logs (its "Exception in
    callback" records). Made here: only the tornado variants import
    logging."""
    import logging

    class Collect(logging.Handler):
        def __init__(self):
            logging.Handler.__init__(self)
            self.records = []

        def emit(self, record):
            self.records.append(record)

    return Collect()


def real_tornado_shape(fixed):
    """The story's repro, bounded: tornado 4's IOLoop created before the
    fork, the child adds a handler to it; one poll of the parent's loop."""
    from tornado.ioloop import IOLoop

    obs = Observation()
    tr = Trace()
    parent_loop = IOLoop()  # EPollIOLoop, before the fork: the mistake
    epfd = parent_loop._impl.fileno()
    tr.event("parent", "IOLoop() = %s, epoll fd %d" % (type(parent_loop).__name__, epfd))
    listener = _listener()
    parent_loop.add_handler(listener.fileno(), lambda fd, events: None, IOLoop.READ)
    child_registered = Event("child_registered")
    parent_polled = Event("parent_polled")

    def child_loop():
        # repro:diff fixed-tornado
        if fixed:
            # FIX: the child creates its own IOLoop instead of using the inherited one.
            return IOLoop()
        else:
            return parent_loop

    child = _child_registers_in(
        child_loop, lambda lp, fd: lp.add_handler(fd, lambda fd, ev: None, IOLoop.READ),
        lambda lp: lp._impl.fileno(), (child_registered, parent_polled), tr)
    logged = _collect()
    import logging
    app_log = logging.getLogger("tornado.application")
    app_log.addHandler(logged)
    app_log.propagate = False
    tr.fork()
    with fork_child(child) as forked:
        child_registered.wait()
        # One iteration with a zero-timeout poll: a callback that schedules
        # stop() makes IOLoop.start() poll once (timeout 0), then stop.
        parent_loop.add_callback(lambda: parent_loop.add_callback(parent_loop.stop))
        parent_loop.start()
        for rec in logged.records:
            exc = rec.exc_info[1] if rec.exc_info else None
            if isinstance(exc, KeyError):
                obs.symptom = UNKNOWN_FD_EVENT
                obs.note("tornado logged %r: KeyError: %s from self._handlers[fd]"
                         % (rec.getMessage(), exc.args[0]))
                tr.event("parent", "IOLoop.start(): epoll fd %d -> fd %s: KeyError (logged)"
                         % (epfd, exc.args[0]))
        if not obs.symptom:
            obs.note("tornado's IOLoop ran one poll(0) after the child registered: "
                     "nothing logged")
            tr.event("parent", "IOLoop.start(): one poll(0), no event")
        _evidence_of_epoll(obs, epfd, parent_loop._handlers)
        parent_polled.notify()
        obs.note("child: %s" % forked.wait())
    app_log.removeHandler(logged)
    parent_loop.close(all_fds=False)
    listener.close()
    obs.trace = tr.finish()
    return obs


def real_tornado6_shape(fixed):
    """The same mistake with current tornado 6, whose IOLoop is an asyncio
    loop: no KeyError, the parent's loop spins. Evidence: the CPU time it
    burns waking up for nothing."""
    from tornado.ioloop import IOLoop
    import tornado

    obs = Observation()
    tr = Trace()
    parent_loop = IOLoop(make_current=False)  # before the fork: the mistake
    epfd = parent_loop.asyncio_loop._selector.fileno()
    tr.event("parent", "IOLoop() = %s (tornado %s), epoll fd %d"
             % (type(parent_loop).__name__, tornado.version, epfd))
    listener = _listener()
    listener.setblocking(False)
    parent_loop.add_handler(listener.fileno(), lambda fd, events: None, IOLoop.READ)
    child_registered = Event("child_registered")
    parent_polled = Event("parent_polled")

    def child_loop():
        # repro:diff fixed-tornado6
        if fixed:
            # FIX: the child creates its own IOLoop instead of using the inherited one.
            return IOLoop(make_current=False)
        else:
            return parent_loop

    child = _child_registers_in(
        child_loop, lambda lp, fd: lp.add_handler(fd, lambda fd, ev: None, IOLoop.READ),
        lambda lp: lp.asyncio_loop._selector.fileno(), (child_registered, parent_polled), tr)
    tr.fork()
    with fork_child(child) as forked:
        child_registered.wait()
        probe = LoopProbe(parent_loop.asyncio_loop, spin_limit=SPIN_LIMIT)
        wall_before = time.perf_counter()
        cpu_before = time.process_time()
        parent_loop.start()  # returns when the probe stops the asyncio loop
        cpu_ms = (time.process_time() - cpu_before) * 1000.0
        wall_ms = (time.perf_counter() - wall_before) * 1000.0
        if probe.wakeups_for_nothing:
            obs.symptom = BUSY_LOOP
            tr.event("parent", "IOLoop.start(): %d wake-ups with no event, %.1f ms CPU "
                     "in %.1f ms" % (probe.wakeups_for_nothing, cpu_ms, wall_ms))
            obs.note("parent's tornado IOLoop woke up %d times in a row with nothing to "
                     "do, on CPU %.0f%% of the time (stopped by the probe; it never "
                     "went idle)" % (probe.wakeups_for_nothing,
                                     100.0 * cpu_ms / max(wall_ms, 1e-3)))
            obs.note("the raw epoll kept reporting fd(s) %s, which tornado never "
                     "registered; asyncio's selector drops them"
                     % sorted(probe.unknown_fds))
        else:
            tr.event("parent", "IOLoop.start(): idle at once (epoll fd %d quiet)" % epfd)
            obs.note("parent's tornado IOLoop went idle at once: its epoll had "
                     "nothing to report after the child registered")
        obs.note({"parent_cpu_ms": round(cpu_ms, 2), "parent_wall_ms": round(wall_ms, 2)})
        # Its own fds: tornado's handlers and asyncio's self-pipe.
        own = [key.fd for key in parent_loop.asyncio_loop._selector.get_map().values()]
        _evidence_of_epoll(obs, epfd, own)
        parent_polled.notify()
        obs.note("child: %s" % forked.wait())
    parent_loop.close(all_fds=False)
    listener.close()
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: tornado_shape(fixed=False),
    "fixed": lambda: tornado_shape(fixed=True),
    "broken-asyncio": lambda: asyncio_shape(fixed=False),
    "fixed-asyncio": lambda: asyncio_shape(fixed=True),
    "broken-tornado": lambda: real_tornado_shape(fixed=False),
    "fixed-tornado": lambda: real_tornado_shape(fixed=True),
    "broken-tornado6": lambda: real_tornado6_shape(fixed=False),
    "fixed-tornado6": lambda: real_tornado6_shape(fixed=True),
}
