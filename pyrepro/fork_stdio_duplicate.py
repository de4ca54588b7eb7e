"""fork-stdio-duplicate, in Python: the lesson is
crates/corpus/fork-stdio-duplicate/README.md (``repro explain
fork-stdio-duplicate``); this module is the code of its python and embedded
cases.

How it decides, without a clock: this process is the service, and its
stdout is a pipe (as under systemd, ``docker logs`` or ``| tee``), which
Python buffers in blocks. The service prints a line and forks a worker; the
worker prints its own line and leaves as a Python program does, flushing
its stdout (``at_exit``). The service reaps the worker (waitpid), so
everything the pipe holds at that point was written by the worker; then
it prints its last line, leaves the same way, and the stream is read to
EOF. A line in the stream twice is the symptom; which process wrote which
copy follows from that order, not from a clock.
"""

import os

from pyrepro.proc import fork_child
from pyrepro.record import Observation
from pyrepro.trace import Trace

DUPLICATED_OUTPUT = "duplicated-output"


def at_exit(stdout):
    """What ending normally does to a Python program's stdout, here where
    the processes leave through ``os._exit`` (pyrepro.proc.fork_child):
    CPython's Py_FinalizeEx flushes sys.stdout and sys.stderr
    (flush_std_files) before the process ends, and a BufferedWriter flushes
    when it is finalized."""
    stdout.flush()


def drain(fd):
    """Everything the pipe ``fd`` holds now, without waiting for more."""
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.set_blocking(fd, True)
    return b"".join(chunks).decode()


def stdio_case(flush_before_fork, line_buffered=False):
    obs = Observation()
    tr = Trace()
    r, w = os.pipe()
    # The service's stdout: a pipe, so block-buffered, as sys.stdout is
    # when it is not a terminal.
    # repro:diff fixed-line-buffered
    if line_buffered:
        # FIX: line-buffered, as a terminal gets: each line is written out
        # when it is printed.
        stdout = open(w, "w", buffering=1)
    else:
        stdout = open(w, "w")
    tr.event("parent", "stdout: pipe:[%d], %s" % (
        os.fstat(w).st_ino, "line-buffered" if line_buffered else "block-buffered"))
    service = os.getpid()
    first = "service %d: starting" % service
    print(first, file=stdout)
    before_fork = drain(r)
    tr.event("parent", "print(%r): %s" % (
        first, "written at once" if before_fork else "in the buffer, 0 bytes in the pipe"))
    # repro:diff fixed
    if flush_before_fork:
        # FIX: nothing buffered crosses the fork.
        stdout.flush()
        tr.event("parent", "sys.stdout.flush(): the buffer is empty")
    before_fork += drain(r)

    def worker():
        print("worker %d: ready" % os.getpid(), file=stdout)
        tr.child("print('worker %d: ready'); exit: flush stdout" % os.getpid())
        at_exit(stdout)
        return 0

    tr.fork()
    with fork_child(worker) as forked:
        status = forked.wait()
    from_worker = drain(r)
    tr.event("parent", "worker %d reaped (%s); the pipe holds what it wrote: %r"
             % (forked.pid, status, from_worker))
    last = "service %d: worker %d done" % (service, forked.pid)
    print(last, file=stdout)
    at_exit(stdout)
    stdout.close()
    from_service = drain(r)
    tail = os.read(r, 1)
    os.close(r)
    tr.event("parent", "exit: flush stdout; then the pipe held %r, and EOF (%d bytes)"
             % (from_service, len(tail)))

    stream = (before_fork + from_worker + from_service).splitlines()
    twice = sorted(set(line for line in stream if stream.count(line) > 1))
    obs.note({"stream": stream, "written_before_fork": before_fork.splitlines(),
              "written_by_worker": from_worker.splitlines(),
              "written_by_service": from_service.splitlines(), "twice": twice})
    if twice:
        obs.symptom = DUPLICATED_OUTPUT
        tr.event("parent", "the stream has %r twice: the worker flushed its copy "
                 "of the service's buffer" % twice[0])
        obs.note("the service printed %r once, before the fork; the stream has it "
                 "twice: the worker %d wrote a copy (its stdout: %r) and so did the "
                 "service (%r)" % (first, forked.pid, from_worker.splitlines(),
                                   from_service.splitlines()))
    else:
        obs.note("every line once: the worker wrote only its own (%r)"
                 % from_worker.splitlines())
    obs.note("child %d (the worker): %s" % (forked.pid, status))
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: stdio_case(flush_before_fork=False),
    "fixed": lambda: stdio_case(flush_before_fork=True),
    "fixed-line-buffered": lambda: stdio_case(flush_before_fork=False, line_buffered=True),
}
