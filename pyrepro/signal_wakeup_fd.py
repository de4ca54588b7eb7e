"""signal-wakeup-fd: a forked child's SIGTERM runs the parent's handler.

The lesson (what you will see, the story, the mechanism, the fix) is
crates/corpus/signal-wakeup-fd/README.md (``repro explain
signal-wakeup-fd``); ``repro diff signal-wakeup-fd`` shows each fix, from
the lines marked FIX. Here: the python and embedded cases, and how each
reaches its verdict.

Variants:
  broken / fixed / fixed-spawn   asyncio parent, multiprocessing child that
                                 sets its own SIGTERM handler (the story)
  broken-noop                    the child sets no handler: it keeps asyncio's
  broken-raw / fixed-raw         no asyncio at all: signal.set_wakeup_fd and
                                 os.fork (asyncio must not even be imported:
                                 on 3.12+ its at-fork hook would hide the bug)
  broken-aiohttp / fixed-aiohttp the story's service: aiohttp's run_app, a
                                 fork pool, a client that disconnects; the
                                 server shuts down (signal_wakeup_fd_aiohttp)

How it decides, without a clock: the child reports ready; the parent sends
SIGTERM, then a ping on the child's pipe. The signal is already pending when
the ping is written, so the child handles it first: either it dies or exits
(the parent sees EOF) or it survives and echoes the ping (terminate was
ignored). Then the child is reaped (killed first if it survived), and only
then a non-blocking read of the parent's wakeup socket says whether a signal
byte is there, and the parent's loop runs until idle to see whether its
handler runs.
"""

import os
import signal
import socket
import sys

from pyrepro.proc import die_with_parent, fork_child, proc_state, stop_multiprocessing_tracker
from pyrepro.record import Observation
from pyrepro.trace import Trace, child_event

PARENT_HANDLER_RAN = "parent-handler-ran"
TERMINATE_IGNORED = "terminate-ignored"
FOREIGN_WAKEUP_BYTE = "foreign-wakeup-byte"


def reset_inherited_signal_state():
    """The fix, as the story's pool initializer did it."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


_trace_fd = None  # in a child: where its timeline events go (or None)


def note(what):
    if _trace_fd is not None:
        child_event(_trace_fd, what)


def exit_on_sigterm(signum, frame):
    """The story's worker: on SIGTERM, clean up (kill its pexpect child),
    then exit."""
    note("SIGTERM: its own handler exits")
    sys.exit(0)


def worker(conn, own_handler, fix, trace_fd=None):
    """The child process: report ready, then echo pings until the pipe
    closes. ``conn`` is a multiprocessing Connection; ``trace_fd`` where it
    writes its timeline (None when nothing was inherited: spawn)."""
    global _trace_fd
    _trace_fd = trace_fd
    die_with_parent()
    # repro:diff fixed fixed-raw
    if fix:
        # FIX: forget the parent's wakeup fd and signal handlers.
        reset_inherited_signal_state()
        note("set_wakeup_fd(-1); SIGTERM, SIGINT -> SIG_DFL")
    if own_handler:
        signal.signal(signal.SIGTERM, exit_on_sigterm)
        note("signal(SIGTERM, exit_on_sigterm)")
    note("ready")
    conn.send_bytes(b"ready")
    while True:
        try:
            msg = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(msg)


class ParentSignals(object):
    """Counts SIGTERMs the parent itself receives, by wrapping the
    Python-level handler already installed (asyncio's no-op, or the raw
    variant's own) without changing what it does."""

    def __init__(self):
        self.received = 0
        inner = signal.getsignal(signal.SIGTERM)

        def counting(signum, frame):
            self.received += 1
            if callable(inner):
                inner(signum, frame)

        signal.signal(signal.SIGTERM, counting)


def terminate_and_probe(obs, pid, terminate, conn, tr):
    """Sends SIGTERM through ``terminate()``, then a ping. Returns True if
    the child survived (it echoed the ping), False if it is gone (EOF)."""
    tr.event("parent", "SIGTERM to child %d" % pid)
    terminate()
    try:
        conn.send_bytes(b"ping")
        echoed = conn.recv_bytes() == b"ping"
    except (EOFError, OSError):
        echoed = False
    if echoed:
        tr.event("parent", "ping answered: the child survived SIGTERM")
        obs.note("child %d survived terminate(): it answered a ping sent after "
                 "the SIGTERM (%s)" % (pid, proc_state(pid)))
    else:
        tr.event("parent", "ping: EOF, the child is gone")
    return echoed


def peek_wakeup(sock):
    try:
        return list(bytearray(sock.recv(4096, socket.MSG_PEEK)))
    except (BlockingIOError, InterruptedError):
        return []


def asyncio_case(start_method, own_handler, fix):
    import asyncio
    import multiprocessing

    from pyrepro.aio import LoopProbe

    obs = Observation()
    tr = Trace()
    loop = asyncio.new_event_loop()
    handler_ran = []
    loop.add_signal_handler(signal.SIGTERM, lambda: handler_ran.append(signal.SIGTERM))
    tr.event("parent", "add_signal_handler(SIGTERM): set_wakeup_fd(%d)"
             % loop._csock.fileno())
    parent = ParentSignals()
    ctx = multiprocessing.get_context(start_method)
    parent_conn, child_conn = ctx.Pipe()
    trace_fd = tr.child_fd if start_method == "fork" else None
    proc = ctx.Process(target=worker, args=(child_conn, own_handler, fix, trace_fd))
    tr.fork("%s: the worker starts" % start_method)
    proc.start()
    child_conn.close()
    try:
        if parent_conn.recv_bytes() != b"ready":
            raise RuntimeError("the child did not report ready")
        survived = terminate_and_probe(obs, proc.pid, proc.terminate, parent_conn, tr)
        if survived:
            os.kill(proc.pid, signal.SIGKILL)  # Process.kill() is 3.7+
        parent_conn.close()
        proc.join()
    finally:
        if proc.exitcode is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
        if start_method != "fork":
            stop_multiprocessing_tracker()
    obs.note("child %d (%s start method): exit code %s%s"
             % (proc.pid, start_method, proc.exitcode,
                " (killed with SIGKILL after it ignored SIGTERM)" if survived else ""))

    wakeup = peek_wakeup(loop._ssock)
    tr.event("parent", "child reaped; wakeup socket holds %s" % wakeup)
    LoopProbe(loop).run()
    tr.event("parent", "loop ran: its SIGTERM handler ran %d time(s)" % len(handler_ran))
    obs.note({"parent_wakeup_socket_bytes": wakeup})
    obs.note({"parent_sigterm_handler_ran": len(handler_ran)})
    obs.note({"parent_received_sigterm": parent.received})
    if handler_ran and not parent.received:
        obs.symptom = PARENT_HANDLER_RAN
        obs.note("the parent's asyncio SIGTERM handler ran %d time(s), yet the "
                 "parent received no SIGTERM: byte %s came from the child"
                 % (len(handler_ran), wakeup))
    elif survived:
        obs.symptom = TERMINATE_IGNORED
    loop.remove_signal_handler(signal.SIGTERM)
    loop.close()
    obs.trace = tr.finish()
    return obs


def raw_case(fix):
    if "asyncio" in sys.modules:
        raise RuntimeError("asyncio is imported: on 3.12+ its at-fork hook resets "
                           "the wakeup fd, so this would not be the raw form")
    obs = Observation()
    tr = Trace()
    wakeup_r, wakeup_w = socket.socketpair()
    wakeup_r.setblocking(False)
    wakeup_w.setblocking(False)
    signal.set_wakeup_fd(wakeup_w.fileno())
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    tr.event("parent", "set_wakeup_fd(%d); signal(SIGTERM, ...)" % wakeup_w.fileno())
    parent = ParentSignals()
    parent_end, child_end = socket.socketpair()

    def child():
        parent_end.close()
        conn = _SocketConn(child_end)
        worker(conn, own_handler=True, fix=fix, trace_fd=tr.child_fd)

    tr.fork()
    with fork_child(child) as forked:
        child_end.close()
        conn = _SocketConn(parent_end)
        if conn.recv_bytes() != b"ready":
            raise RuntimeError("the child did not report ready")
        survived = terminate_and_probe(
            obs, forked.pid, lambda: os.kill(forked.pid, signal.SIGTERM), conn, tr)
        if survived:
            os.kill(forked.pid, signal.SIGKILL)
        parent_end.close()
        obs.note("child %d: %s" % (forked.pid, forked.wait()))
    wakeup = peek_wakeup(wakeup_r)
    tr.event("parent", "child reaped; wakeup fd holds %s" % wakeup)
    obs.trace = tr.finish()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    obs.note({"parent_wakeup_socket_bytes": wakeup})
    obs.note({"parent_received_sigterm": parent.received})
    if wakeup and not parent.received:
        obs.symptom = FOREIGN_WAKEUP_BYTE
        obs.note("the parent's wakeup fd holds %s for signal(s) it never "
                 "received: a loop reading it would dispatch them" % wakeup)
    elif survived:
        obs.symptom = TERMINATE_IGNORED
    return obs


class _SocketConn(object):
    """The two Connection methods the worker uses, over a plain socket (the
    raw variant forks with os.fork, not multiprocessing)."""

    def __init__(self, sock):
        self.sock = sock

    def send_bytes(self, data):
        self.sock.sendall(bytes([len(data)]) + data)

    def recv_bytes(self):
        n = self.sock.recv(1)
        if not n:
            raise EOFError
        data = b""
        while len(data) < n[0]:
            more = self.sock.recv(n[0] - len(data))
            if not more:
                raise EOFError
            data += more
        return data


def prepare(variant):
    """Imports what the variant needs before the clock starts. The raw
    variants must not import asyncio at all (see raw_case)."""
    if variant.endswith("-aiohttp"):
        from pyrepro.runner import with_site
        with_site()
        from pyrepro.signal_wakeup_fd_aiohttp import check_aiohttp
        check_aiohttp()
    if not variant.endswith("-raw"):
        import asyncio  # noqa: F401
        import multiprocessing  # noqa: F401


def aiohttp_case(fixed):
    """The story's own service: pyrepro/signal_wakeup_fd_aiohttp.py."""
    from pyrepro.signal_wakeup_fd_aiohttp import aiohttp_case as case
    return case(fixed)


VARIANTS = {
    "broken": lambda: asyncio_case("fork", own_handler=True, fix=False),
    "broken-noop": lambda: asyncio_case("fork", own_handler=False, fix=False),
    "fixed": lambda: asyncio_case("fork", own_handler=True, fix=True),
    "fixed-spawn": lambda: asyncio_case("spawn", own_handler=True, fix=False),
    "broken-raw": lambda: raw_case(fix=False),
    "fixed-raw": lambda: raw_case(fix=True),
    "broken-aiohttp": lambda: aiohttp_case(fixed=False),
    "fixed-aiohttp": lambda: aiohttp_case(fixed=True),
}
