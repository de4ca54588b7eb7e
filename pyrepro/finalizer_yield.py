"""finalizer-yield: a finalizer run by the garbage collector switches greenlets.

The lesson (what you will see, the story, the mechanism, the fix) is
crates/corpus/finalizer-yield/README.md (``repro explain finalizer-yield``);
``repro diff finalizer-yield`` shows each fix, from the lines marked FIX.
Here: the python and embedded cases, and how each reaches its verdict.

Variants (the line marked FIX is the whole difference):
  broken           the collection runs from a hub callback; the finalizer
                   yields; BlockingSwitchOutError, and the record is lost
  broken-syslog    the same, as the story met it: the finalizer logs through
                   a SysLogHandler to a syslog server that does not read (a
                   unix stream socket, as /dev/log: the story's TCP would
                   drain by itself under load), so the patched send waits
  broken-greenlet  the collection runs in greenlet A; the finalizer yields;
                   greenlet B runs while A is still inside gc.collect()
  fixed            the finalizer only records; the I/O happens after

The collector is made deterministic: automatic collection is off and one
reference cycle is collected by an explicit gc.collect(), so the finalizer
runs exactly once, where the variant says. When gevent cannot be imported,
the verdict is ``skipped`` with the reason.
"""

import gc
import sys
import weakref

from pyrepro.record import Observation, Skip, missing
from pyrepro.trace import Trace

BLOCKING_SWITCH_OUT = "blocking-switch-out"
SWITCH_INSIDE_GC = "switch-inside-gc"


def prepare(variant):
    """Set-up off the clock: gevent's import dominates everything else."""
    from pyrepro.runner import with_site
    with_site()
    try:
        import gevent  # noqa: F401
    except ImportError as e:
        import platform
        import sysconfig
        if platform.python_implementation() == "PyPy":
            raise Skip("gevent is not installed for this interpreter (%s): gevent "
                       "publishes no PyPy wheel for Linux, and nothing is compiled "
                       "here (pyrepro/requirements.txt)" % e)
        if sysconfig.get_config_var("Py_GIL_DISABLED"):
            raise Skip("gevent is not installed for this interpreter (%s): gevent "
                       "does not support free-threaded CPython" % e)
        raise missing("gevent", e)
    if variant == "broken-syslog":
        import logging.handlers  # noqa: F401
        from gevent import monkey
        monkey.patch_socket()  # as a gevent service does: sends may now yield


class Node(object):
    """A part of a reference cycle: only the cycle collector frees it."""


def garbage_cycle_with_finalizer(finalizer):
    """One unreachable reference cycle whose weakref callback is
    ``finalizer``; returns the weakref (which must stay alive for the
    callback to run)."""
    node = Node()
    node.self = node
    ref = weakref.ref(node, finalizer)
    del node
    return ref


def collect_in_hub(finalizer, tr):
    """One unreachable cycle with ``finalizer`` as its weakref callback,
    collected by an explicit gc.collect() that the hub runs as a callback:
    the finalizer runs exactly once, in the hub."""
    import gevent
    from gevent.hub import get_hub

    gc.collect()
    gc.disable()
    try:
        ref = garbage_cycle_with_finalizer(finalizer)
        tr.event("main", "hub.loop.run_callback(gc.collect)")
        get_hub().loop.run_callback(gc.collect)
        gevent.sleep(0)  # let the hub run its callbacks
    finally:
        gc.enable()
    del ref


class Log(object):
    """What the finalizer wants to write: a record "sent" only after a step
    that yields (the socket send of the story)."""

    def __init__(self, gevent):
        self.gevent = gevent
        self.sent = []

    def write(self, record):
        self.gevent.sleep(0)  # any operation that can yield
        self.sent.append(record)


def hub_case(fix):
    import gevent
    from gevent.hub import get_hub

    obs = Observation()
    tr = Trace()
    hub = get_hub()
    log = Log(gevent)
    pending, errors, where = [], [], []

    def finalizer(ref):
        lane = "hub" if gevent.getcurrent() is hub else "greenlet"
        where.append(lane)
        tr.event(lane, "gc runs the finalizer")
        # repro:diff fixed
        if fix:
            # FIX: record, don't do I/O; it happens outside the collector.
            pending.append("node collected")
            tr.event(lane, "finalizer: records it, no I/O")
        else:
            try:
                tr.event(lane, "finalizer: log.write() must yield")
                log.write("node collected")
            except BaseException as e:  # the collector would only print it
                errors.append(e)
                tr.event(lane, "%s: the record is lost" % type(e).__name__)

    collect_in_hub(finalizer, tr)
    for record in pending:  # the deferred I/O, in a greenlet, after it
        log.write(record)
        tr.event("main", "writes the deferred record")
    obs.trace = tr.finish()
    obs.note({"finalizer_ran_in": where})
    obs.note({"records_sent": log.sent})
    if errors:
        e = errors[0]
        obs.symptom = BLOCKING_SWITCH_OUT
        obs.note("%s: %s" % (type(e).__name__, e))
        obs.note("the finalizer's record was lost: it never reached the log")
    return obs


def syslog_case():
    import logging
    import logging.handlers
    import os
    import socket
    import sys
    import tempfile

    obs = Observation()  # prepare() has monkey-patched socket, as a service does
    errors = []

    class SysLog(logging.handlers.SysLogHandler):
        def handleError(self, record):  # logging's default prints and drops it
            errors.append((sys.exc_info()[1], record.getMessage()))

    # A syslog server on a unix stream socket (as /dev/log is) that never
    # reads. Not TCP: loopback TCP delivers and ACKs asynchronously and
    # autotunes its buffers, so a "full" connection can free space by
    # itself under load. A unix stream stays full until the peer reads.
    tmp = tempfile.mkdtemp(prefix="repro-syslog-")
    address = os.path.join(tmp, "log")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(1)
    handler = SysLog(address=address, socktype=socket.SOCK_STREAM)
    peer, _ = listener.accept()  # and never reads
    send = handler.socket
    send.settimeout(0)
    filled = 0
    try:
        while True:
            filled += send.send(b"\0" * 65536)
    except (BlockingIOError, socket.timeout):
        pass
    send.settimeout(None)  # the next send must wait: a yield, under gevent
    obs.note("the syslog server (a unix stream socket, as /dev/log) reads nothing: "
             "%d bytes already fill the connection" % filled)
    logger = logging.getLogger("pyrepro.finalizer_yield")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)

    tr = Trace()

    def finalizer(ref):
        tr.event("hub", "gc runs the finalizer: logger.info() to syslog")
        logger.info("node collected")
        if errors:
            tr.event("hub", "send must wait: %s; record dropped" % type(errors[0][0]).__name__)

    try:
        collect_in_hub(finalizer, tr)
    finally:
        logger.removeHandler(handler)
        handler.close()
        peer.close()
        listener.close()
        os.unlink(address)
        os.rmdir(tmp)
    obs.trace = tr.finish()
    for e, message in errors:
        obs.symptom = BLOCKING_SWITCH_OUT
        obs.note("SysLogHandler.emit(%r) failed: %s: %s" % (message, type(e).__name__, e))
        obs.note("logging.Handler.handleError dropped the record: it never reached syslog")
    if not errors:
        obs.note("the record was sent")
    return obs


def greenlet_case():
    import gevent

    obs = Observation()
    tr = Trace()
    order = []

    def step(lane, what):
        order.append("%s: %s" % (lane, what))
        tr.event(lane, what)

    def finalizer(ref):
        step("finalizer", "start (inside gc.collect)")
        gevent.sleep(0)  # the I/O that can yield
        step("finalizer", "end")

    def a():
        step("A", "gc.collect() start")
        gc.collect()
        step("A", "gc.collect() end")

    def b():
        step("B", "runs")

    gc.collect()
    gc.disable()
    try:
        ref = garbage_cycle_with_finalizer(finalizer)
        gevent.joinall([gevent.spawn(a), gevent.spawn(b)])
    finally:
        gc.enable()
    del ref
    obs.note({"order": order})
    obs.trace = tr.finish()
    start, end = order.index("A: gc.collect() start"), order.index("A: gc.collect() end")
    if start < order.index("B: runs") < end:
        obs.symptom = SWITCH_INSIDE_GC
        obs.note("greenlet B ran while greenlet A was still inside gc.collect()")
    return obs


VARIANTS = {
    "broken": lambda: hub_case(fix=False),
    "broken-syslog": syslog_case,
    "broken-greenlet": greenlet_case,
    "fixed": lambda: hub_case(fix=True),
}
