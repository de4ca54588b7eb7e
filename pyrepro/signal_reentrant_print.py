"""signal-reentrant-print, in Python: the lesson is
crates/corpus/signal-reentrant-print/README.md (``repro explain
signal-reentrant-print``); this module is the code of its python and
embedded cases.

Variants:
  broken           the SIGUSR1 handler prints to the stream the worker is
                   writing to
  fixed            the handler sets a flag; the worker prints once its
                   write is done
  fixed-os-write   the handler writes its line with os.write, to stderr:
                   no buffer, no lock

How it decides, without a clock: the worker's stdout is a pipe nobody reads
yet, so its write of PAYLOAD bytes fills the pipe and blocks in write(2),
inside the BufferedWriter, holding its lock. The parent sees it there in
/proc (state S in write), and only then sends SIGUSR1: the handler runs on
top of that write, whatever the machine's speed. Then the parent reads the
pipes to EOF, and the worker reports what its write raised.
"""

import os
import signal

from pyrepro import proc
from pyrepro.proc import Event, fork_child
from pyrepro.record import Observation
from pyrepro.trace import Trace

REENTRANT_CALL = "reentrant-call"
#: More than a pipe holds (64 KiB by default): the write blocks.
PAYLOAD = 256 * 1024


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def reentrant_case(handler):
    """``handler``: "print" (broken), "flag" or "os-write"."""
    obs = Observation()
    tr = Trace()
    out_r, out_w = os.pipe()  # the worker's stdout: not read until after the signal
    err_r, err_w = os.pipe()  # its stderr
    rep_r, rep_w = os.pipe()  # what its write raised, for the parent
    ready = Event("ready")

    def worker():
        for fd in (out_r, err_r, rep_r):
            os.close(fd)
        stdout = open(out_w, "w")  # a pipe: a BufferedWriter, with its lock
        pending = []

        def on_usr1(signum, frame):
            # repro:diff fixed
            if handler == "flag":
                # FIX: the handler only records the signal; the worker
                # prints once its write is done.
                pending.append(signum)
            else:
                print("worker: got signal %d" % signum, file=stdout, flush=True)

        # repro:diff fixed-os-write
        if handler == "os-write":
            def on_usr1(signum, frame):  # noqa: F811
                # FIX: os.write: no buffer, no lock to re-enter.
                os.write(err_w, ("worker: got signal %d\n" % signum).encode())

        signal.signal(signal.SIGUSR1, on_usr1)
        tr.child("SIGUSR1 handler installed; stdout.write(%d bytes) to a pipe nobody "
                 "reads" % PAYLOAD)
        ready.notify()
        try:
            stdout.write("x" * PAYLOAD)
            stdout.flush()
            outcome = "the write completed"
        except RuntimeError as e:
            outcome = "RuntimeError: %s" % e
        for signum in pending:
            print("worker: got signal %d" % signum, file=stdout, flush=True)
        try:
            stdout.flush()
        except RuntimeError:
            pass
        tr.child("stdout.write: %s" % outcome)
        os.write(rep_w, outcome.encode())
        return 0

    tr.fork()
    with fork_child(worker) as forked:
        for fd in (out_w, err_w, rep_w):
            os.close(fd)
        ready.wait()
        blocked = proc.wait_until_thread_blocked_in(forked.pid, forked.pid,
                                                    proc.syscalls("write"))
        where = "state %s, wchan %s, syscall %s" % (
            blocked["state"], blocked["wchan"], blocked["syscall"].split()[0])
        tr.event("parent", "worker %d blocked in write(2): %s; kill(SIGUSR1)"
                 % (forked.pid, where))
        os.kill(forked.pid, signal.SIGUSR1)
        out = read_all(out_r)
        err = read_all(err_r)
        outcome = read_all(rep_r)
        status = forked.wait()
    tr.event("parent", "the worker's write: %s" % outcome)
    # The handler's line, wherever it landed in the payload (which has no
    # other character than "x": taken out first, not split into lines).
    said = [line for line in (out.replace("x", "") + "\n" + err).splitlines()
            if line.startswith("worker: got signal")]
    obs.note({"blocked_at_signal": where, "write": outcome,
              "payload_bytes_read": out.count("x"), "handler_line": said})
    obs.note("child %d (the worker): %s" % (forked.pid, status))
    if "reentrant call" in outcome:
        obs.symptom = REENTRANT_CALL
        obs.note("the handler ran on top of the worker's write(2) (%s) and printed to the "
                 "same stream: %s; %d of %d bytes reached the pipe"
                 % (where, outcome, out.count("x"), PAYLOAD))
    else:
        obs.note("the write completed (%d of %d bytes) and the handler's line arrived: %s"
                 % (out.count("x"), PAYLOAD, said))
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: reentrant_case("print"),
    "fixed": lambda: reentrant_case("flag"),
    "fixed-os-write": lambda: reentrant_case("os-write"),
}
