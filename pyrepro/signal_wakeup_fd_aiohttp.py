"""signal-wakeup-fd with the story's own service: aiohttp and a fork pool.

Part of ``pyrepro.signal_wakeup_fd`` (its ``broken-aiohttp`` and
``fixed-aiohttp`` variants); apart because it is the story's whole service,
scaled down:

* the **server** (a forked child of the scenario process, in its own main
  thread): an ``aiohttp.web`` app started with ``web.run_app`` on a socket
  bound to 127.0.0.1 port 0. ``run_app`` installs SIGINT/SIGTERM handlers
  with ``loop.add_signal_handler``, i.e. ``signal.set_wakeup_fd(<its
  self-pipe>)``. ``GET /job`` runs a job in a ``multiprocessing`` pool
  (``fork``, one process, the story's "CancellablePool"); the job spawns a
  child (``cat``, for the story's pexpect) and installs the story's SIGTERM
  handler: kill and reap the child, then exit. When the client disconnects,
  aiohttp cancels the request handler, which terminates the pool (SIGTERM to
  the worker) and makes a new one. ``GET /ping`` answers ``pong``.
* the **client** (the scenario process): a raw HTTP/1.1 client on loopback.
  It starts a job, reads the worker's report (so the job is running and its
  handler installed), and disconnects. Then it asks for ``/ping``.

Broken: the pool initializer resets SIGINT and SIGTERM (as the story's
did) but not the wakeup fd. The worker's SIGTERM is written, as byte 15,
into the server's self-pipe; the server runs aiohttp's SIGTERM handler,
``GracefulExit``, and ``run_app`` returns: the second request is refused,
though nothing ever signalled the server. Fixed: the initializer also calls
``signal.set_wakeup_fd(-1)``, and the second request is served.

Without a clock: after terminating the pool, the server's handler sends
itself SIGUSR1; that byte lands in the self-pipe behind the worker's byte
15 (the worker wrote it before it exited, and ``terminate()`` waited for
that), so the loop runs aiohttp's SIGTERM callback, if there is one, before
the SIGUSR1 one. The SIGUSR1 callback tells the client "alive" if its
listening socket is still open (run_app's cleanup after a GracefulExit runs
the loop again, but closes that socket first); a server
that shut down instead closes its end of the pipe, and the client sees EOF
and reaps it (so its listening socket is closed, not closing). Only then
does the client send ``/ping``.

aiohttp versions (pyrepro/requirements.txt): 3.9+ cancels a handler on
disconnect only with ``run_app(handler_cancellation=True)``; 3.8.0-3.8.1 and
2.x always do; 3.8.2-3.8.6 never do (the variant skips there, with the
reason). 2.x's ``StreamResponse.write`` returns a drain future, not a
coroutine.
"""

import json
import multiprocessing
import os
import select
import signal
import socket
import subprocess
import sys
import threading

from pyrepro.proc import die_with_parent, fork_child
from pyrepro.record import Observation, Skip, missing
from pyrepro.trace import Trace, child_event

SERVER_SHUT_DOWN = "server-shut-down"

_state = {}  # the server process's pool, report pipe, trace fd


def check_aiohttp():
    """Off the clock: aiohttp importable, and able to cancel a handler on
    disconnect (what the story's service relied on)."""
    try:
        import aiohttp
        from aiohttp import web  # noqa: F401
    except ImportError as e:
        raise missing("aiohttp", e)
    v = aiohttp.__version__
    if v.startswith("3.8.") and v not in ("3.8.0", "3.8.1"):
        raise Skip("aiohttp %s never cancels a handler when its client disconnects "
                   "(aiohttp PR #6741); use 3.8.1 or 3.9+" % v)


def _wakeup_fd():
    fd = signal.set_wakeup_fd(-1)
    if fd != -1:
        signal.set_wakeup_fd(fd)
    return fd


def _inode(fd):
    return os.fstat(fd).st_ino if fd != -1 else None


def pool_initializer(fixed):
    """The story's CancellablePool initializer: reset what the worker must
    not keep from the server."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # repro:diff fixed-aiohttp
    if fixed:
        # FIX: also forget the server's wakeup fd (its loop's self-pipe).
        signal.set_wakeup_fd(-1)


def long_job():
    """The job, in the pool worker: a child of its own, the story's SIGTERM
    handler, a report, then wait (only SIGTERM ends it)."""
    report, trace_fd = _state["report_w"], _state["trace_fd"]
    child = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def on_sigterm(signum, frame):
        # The story's fix for its zombies: kill and reap the child, then exit.
        # (os.waitpid: child.wait() would need the lock of the wait() this
        # handler interrupted.)
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
        child_event(trace_fd, "worker: SIGTERM handler: killed and reaped cat; exit")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    fd = _wakeup_fd()
    child_event(trace_fd, "worker: job running (cat %d); wakeup fd %d" % (child.pid, fd))
    report.send({"worker_pid": os.getpid(), "wakeup_fd_in_worker": fd,
                 "worker_wakeup_inode": _inode(fd)})
    child.wait()
    return "finished"


def serve(fixed, listen, lines_w, trace_fd):
    """The server process: run_app until something stops it; then a line of
    evidence. Runs in a forked child, in its main thread."""
    import asyncio
    import inspect
    import aiohttp
    from aiohttp import web

    def say(line):
        os.write(lines_w, (line + "\n").encode())

    run_kw = dict(print=None, access_log=None, shutdown_timeout=5)
    if "handler_cancellation" in inspect.signature(web.run_app).parameters:
        run_kw["handler_cancellation"] = True  # 3.9+: off by default
    ctx = multiprocessing.get_context("fork")
    report_r, report_w = ctx.Pipe(duplex=False)
    _state.update(report_w=report_w, trace_fd=trace_fd)
    ev = {"aiohttp": aiohttp.__version__}

    class CancellablePool(object):
        """The story's wrapper, cut down to one 1-process pool."""

        def __init__(self):
            self.pool = ctx.Pool(1, initializer=pool_initializer, initargs=(fixed,))

        def cancel(self):
            self.pool.terminate()  # SIGTERM to the worker, and wait for it
            self.__init__()

        def shutdown(self):
            # close + join: a worker forked a moment ago may not have run the
            # initializer yet, and would ignore terminate()'s SIGTERM.
            self.pool.close()
            self.pool.join()

    pools = []

    def still_alive():
        # After a GracefulExit, run_app runs the loop again for its cleanup,
        # and this callback may still run then; but the cleanup has closed
        # the listening socket first (it stops the site before anything else).
        if listen.fileno() != -1:
            say("ALIVE")

    async def on_startup(app):
        loop = asyncio.get_event_loop()
        loop.add_signal_handler(signal.SIGUSR1, loop.call_soon, still_alive)
        ev["wakeup_fd_in_server"] = _wakeup_fd()

    async def job(request):
        loop = asyncio.get_event_loop()
        if not pools:  # forked after run_app set the wakeup fd, as in the story
            pools.append(CancellablePool())
        done, got = loop.create_future(), loop.create_future()

        def finished(result):
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))

        pools[0].pool.apply_async(long_job, callback=finished, error_callback=finished)

        def readable():
            loop.remove_reader(report_r.fileno())
            got.set_result(report_r.recv())

        loop.add_reader(report_r.fileno(), readable)
        info = await got  # the job runs, its handler installed
        ev.update(info)
        ev["worker_shares_server_selfpipe"] = (
            info["worker_wakeup_inode"] is not None
            and info["worker_wakeup_inode"] == _inode(_wakeup_fd()))
        resp = web.StreamResponse()
        try:
            await resp.prepare(request)
            w = resp.write((json.dumps(info) + "\n").encode())
            if w is not None:  # a coroutine in 3.x, a drain future in 2.x
                await w
            await done
        except asyncio.CancelledError:
            child_event(trace_fd, "server: client gone, handler cancelled: "
                                  "pool.terminate()")
            ev["handler_cancelled_on_disconnect"] = True
            pools[0].cancel()
            signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
            raise
        return resp

    async def ping(request):
        return web.Response(text="pong")

    app = web.Application()
    app.router.add_get("/job", job)
    app.router.add_get("/ping", ping)
    app.on_startup.append(on_startup)
    say("PORT %d" % listen.getsockname()[1])
    try:
        web.run_app(app, sock=listen, **run_kw)
        ev["run_app_returned"] = True
    except BaseException as e:  # what stopped it, if it escaped run_app
        ev["run_app_raised"] = type(e).__name__
        raise
    finally:
        if pools:
            pools[0].shutdown()
        say("EVIDENCE " + json.dumps(ev))


class ServerLines(object):
    """The server's lines (PORT, ALIVE, EVIDENCE), from its pipe; None at
    EOF. Blocks: the supervisor's watchdog is the bound."""

    def __init__(self, fd):
        self.fd, self.buf, self.evidence = fd, b"", {}

    def next(self):
        while b"\n" not in self.buf:
            select.select([self.fd], [], [])
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode()
        if line.startswith("EVIDENCE "):
            self.evidence.update(json.loads(line[len("EVIDENCE "):]))
        return line


def http_get(port, path, until=None):
    """(status, raw response, socket) for a GET on loopback; reads until
    ``until`` appears in the body, else to EOF."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
               % path).encode())
    raw = b""
    while not (until and until in raw.partition(b"\r\n\r\n")[2]):
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    status = int(raw.split()[1]) if raw.startswith(b"HTTP/") else None
    return status, raw, s


def aiohttp_case(fixed):
    obs = Observation()
    tr = Trace()
    listen = socket.socket()
    listen.bind(("127.0.0.1", 0))
    listen.listen(16)
    lines_r, lines_w = os.pipe()
    tr.fork("the server: web.run_app in a child")
    with fork_child(lambda: serve(fixed, listen, lines_w, tr.child_fd)) as server:
        os.close(lines_w)
        listen.close()  # the server's now
        lines = ServerLines(lines_r)
        port = int(lines.next().split()[1])
        tr.event("parent", "client: GET /job on 127.0.0.1:%d" % port)
        first, _, s = http_get(port, "/job", until=b"}\n")
        s.close()
        tr.event("parent", "client: job running (HTTP %s); disconnects" % first)
        after = lines.next()
        while after not in ("ALIVE", None):
            after = lines.next()
        ended = None
        if after is None:
            # Gone: reap it first, so that every fd it had (the listening
            # socket too) is closed before the next connect.
            ended = server.wait()
            tr.event("parent", "server: gone (EOF); reaped: %s" % ended)
        else:
            tr.event("parent", "server: alive")
        try:
            status, raw, s = http_get(port, "/ping")
            s.close()
            second = "served" if status == 200 and raw.endswith(b"pong") else str(status)
        except ConnectionRefusedError:
            second = "refused"
        tr.event("parent", "client: GET /ping: %s" % second)
        signalled = []
        if after == "ALIVE":
            signalled.append("SIGINT")
            os.kill(server.pid, signal.SIGINT)  # run_app's own Ctrl-C path
            tr.event("parent", "SIGINT to the server: stop")
        while lines.next() is not None:
            pass
        os.close(lines_r)
        obs.note("child %d (the server): %s" % (server.pid, ended or server.wait()))
    ev = lines.evidence
    obs.note({"first_request": first})
    obs.note({"second_request": second})
    obs.note({"signals_sent_to_server": signalled})
    obs.note({"wakeup_fd_in_worker": ev.get("wakeup_fd_in_worker"),
              "worker_shares_server_selfpipe": ev.get("worker_shares_server_selfpipe"),
              "aiohttp": ev.get("aiohttp")})
    if not ev.get("handler_cancelled_on_disconnect"):
        raise RuntimeError("aiohttp did not cancel the handler on disconnect: %r" % ev)
    if second == "refused" and not signalled and ev.get("run_app_returned"):
        obs.symptom = SERVER_SHUT_DOWN
        obs.note("the server shut itself down (aiohttp's SIGTERM handler: GracefulExit; "
                 "run_app returned) though nothing signalled it: the worker it "
                 "terminated wrote SIGTERM into the server's self-pipe (wakeup fd %s, "
                 "the same socket); the second request was refused"
                 % ev.get("wakeup_fd_in_worker"))
    else:
        obs.note("the server lived through the worker's termination and served the "
                 "second request (worker's wakeup fd: %s)" % ev.get("wakeup_fd_in_worker"))
    obs.trace = tr.finish()
    return obs
