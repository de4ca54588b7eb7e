"""fork-held-lock: fork while another thread holds a lock.

The lesson (what you will see, the story, the mechanism, the fix) is
crates/corpus/fork-held-lock/README.md (``repro explain fork-held-lock``);
``repro diff fork-held-lock`` shows each fix, from the lines marked FIX.
Here: the python and embedded cases, and how each reaches its verdict.

Variants (the lines marked FIX are the whole difference from ``broken``):
  broken          a threading.Lock held by another thread
  broken-logging  a logging handler's lock (its emit blocks): the story
  broken-stdout   sys.stdout's BufferedWriter lock (a write blocked on a
                  full pipe); exists only when stdout is buffered, so the
                  supervisor keeps PYTHONUNBUFFERED out of the environment
  fixed-atfork    os.register_at_fork takes the lock around the fork (3.7+)
  fixed-order     fork before the other thread starts
  fixed-spawn     the spawn start method: a fresh interpreter
  broken-mp-default  the same multiprocessing.Process, its start method
                  never named: the platform's default, fork on POSIX up to
                  3.13 (the child deadlocks); forkserver since 3.14
                  (gh-84559), so the same code stops deadlocking there

How it decides, without a clock: the holder thread takes the lock and says
so (an Event; for stdout, it is seen blocked in write() in /proc while
holding the lock). Only then does the main thread fork. The child reports
``locking`` on a progress pipe, then takes the lock and reports ``locked``.
The parent watches (proc.watch_for_deadlock): EOF on the pipe means the
child finished. A child that stopped reporting is deadlocked when /proc
shows its only thread asleep in an untimed private futex wait (nothing left
in the process can wake it: the lock's owner was not copied), or, for any
other wait, the same futex wait across consecutive samples; it is killed
and reaped.
"""

import io
import os
import sys
import threading
import warnings

from pyrepro import proc
from pyrepro.record import Observation, Skip
from pyrepro.trace import Trace

CHILD_DEADLOCK = "child-deadlock"

#: The lock of ``broken``; module-level, so a spawned child has its own.
LOCK = threading.Lock()


class Holder(object):
    """A thread that takes something and keeps it until released.
    ``hold(holder)`` takes it, sets ``holder.holding``, then waits on
    ``holder.release``."""

    def __init__(self, hold):
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=hold, args=(self,), name="holder")

    def start(self):
        self.thread.start()
        self.holding.wait()
        return self

    def stop(self):
        self.release.set()
        self.thread.join()


def hold_lock(holder):
    with LOCK:
        holder.holding.set()
        holder.release.wait()


def fork_and_watch(obs, child_work, holding=None):
    """Forks (recording any fork DeprecationWarning); the child reports
    ``locking``, runs ``child_work()``, reports ``locked``. The parent
    watches it and notes what happened, and the timeline; ``holding`` says
    what another thread holds at the fork. Returns True if it deadlocked."""
    progress_r, progress_w = os.pipe()
    tr = Trace()
    if holding:
        tr.event("parent", "thread holder: %s" % holding)

    def child():
        os.close(progress_r)
        tr.child("locking")
        os.write(progress_w, b"locking\n")
        child_work()
        tr.child("locked")
        os.write(progress_w, b"locked\n")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr.fork()
        forked = proc.fork_child(child)
    with forked:
        os.close(progress_w)
        for w in caught:
            if issubclass(w.category, DeprecationWarning):
                obs.note({"fork_warning": str(w.message)})
        proof = note_watch(obs, forked, progress_r)
    if proof:
        tr.event("parent", "%s: deadlocked; SIGKILL" % proc.PROOF_SEEN[proof])
    else:
        tr.event("parent", "child exited")
    obs.trace = tr.finish()
    return proof is not None


def note_watch(obs, forked, progress_r):
    """Watches a forked child; notes the verdict's evidence; kills and reaps
    a deadlocked child. Returns the proof of its deadlock (proc.PROOF_SEEN's
    keys), None if it finished."""
    try:
        outcome, progress, detail = proc.watch_for_deadlock(forked.pid, progress_r)
    finally:
        os.close(progress_r)
    obs.note({"child_progress": progress})
    if outcome == "deadlocked":
        obs.symptom = CHILD_DEADLOCK
        last = detail["samples"][-1]
        obs.note("child %d stopped after %r and sits in a futex wait on 0x%x "
                 "(state %s, wchan %s), %s"
                 % (forked.pid, progress[-1] if progress else None,
                    proc.futex_addr(last) or 0, last["state"], last["wchan"],
                    proc.proof_reason(detail)))
        obs.note({"blocked_to_verdict_ms": detail["blocked_to_verdict_ms"]})
        os.kill(forked.pid, proc.SIGKILL)
        obs.note("child %d: %s (killed: deadlocked)" % (forked.pid, forked.wait()))
        return detail["proof"]
    if outcome == "undecided":
        raise RuntimeError("child %d neither finished nor blocked: %r"
                           % (forked.pid, detail))
    obs.note("child %d: %s" % (forked.pid, forked.wait()))
    return None


def lock_case(fix):
    obs = Observation()
    if fix == "atfork" and not hasattr(os, "register_at_fork"):
        raise Skip("os.register_at_fork is new in Python 3.7")

    def take_for_fork():
        holder.release.set()  # ask the holder to let go, then take it
        LOCK.acquire()

    def child_work():
        LOCK.acquire()
        LOCK.release()

    # repro:diff fixed-order
    if fix == "order":
        # FIX: fork before the holder thread starts.
        fork_and_watch(obs, child_work)
        holder = Holder(hold_lock).start()
    else:
        holder = Holder(hold_lock).start()
        # repro:diff fixed-atfork
        if fix == "atfork":
            # FIX: no other thread holds LOCK at the instant of the fork.
            os.register_at_fork(before=take_for_fork,
                                after_in_parent=LOCK.release,
                                after_in_child=LOCK.release)
        fork_and_watch(obs, child_work, holding="LOCK" if fix is None else
                       "LOCK (the at-fork hook will take it over)")
    holder.stop()
    return obs


def blocking_handler(holder):
    """A logging handler whose emit blocks for records marked ``block``
    (the slow socket of the story, without the socket) until the holder is
    released. Other records are kept in a list. (A function, so that
    logging is imported only by the variant that uses it.)"""
    import logging

    class BlockingHandler(logging.Handler):
        def __init__(self, holder):
            logging.Handler.__init__(self)
            self.holder = holder
            self.records = []

        def emit(self, record):
            if getattr(record, "block", False):
                self.holder.holding.set()
                self.holder.release.wait()
            self.records.append(record.getMessage())

    return BlockingHandler(holder)


def logging_case():
    import logging
    obs = Observation()
    logger = logging.getLogger("pyrepro.fork_held_lock")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    # Handler.handle() holds handler.lock around emit(), which blocks.
    holder = Holder(lambda h: logger.info("slow record", extra={"block": True}))
    handler = blocking_handler(holder)
    logger.addHandler(handler)
    holder.start()
    fork_and_watch(obs, lambda: logger.info("hello from the child"),
                   holding="the handler's lock, in a slow emit()")
    holder.stop()
    logger.removeHandler(handler)
    return obs


def stdout_case():
    obs = Observation()
    if not isinstance(sys.stdout.buffer, io.BufferedWriter):
        obs.note("sys.stdout.buffer is %s: no BufferedWriter, no lock to hold "
                 "(PYTHONUNBUFFERED=%r)" % (type(sys.stdout.buffer).__name__,
                                             os.environ.get("PYTHONUNBUFFERED")))
        return obs
    sys.stdout.flush()
    saved = os.dup(1)
    full_r, full_w = os.pipe()
    os.set_blocking(full_w, False)
    try:
        while True:
            os.write(full_w, b"\0" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(full_w, True)
    os.dup2(full_w, 1)
    started, tid = threading.Event(), []

    def hold_stdout_lock():
        tid.append(proc.gettid())
        started.set()
        # BufferedWriter.write takes its lock, then blocks in write(2).
        sys.stdout.write("x" * 100000)
        sys.stdout.flush()

    def drain():  # until EOF: every write end closed
        while os.read(full_r, 65536):
            pass

    thread = threading.Thread(target=hold_stdout_lock, name="holder")
    drainer = threading.Thread(target=drain, name="drainer")
    thread.start()
    try:
        started.wait()
        blocked = proc.wait_until_thread_blocked_in(os.getpid(), tid[0], proc.syscalls("write"))
        obs.note("holder thread %d blocked in write(1) with sys.stdout.buffer's lock "
                 "held (wchan %s)" % (tid[0], blocked["wchan"]))

        def child_work():
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # the fd is free; the Python-level lock is not
            print("hello from the child")
            sys.stdout.flush()

        fork_and_watch(obs, child_work,
                       holding="sys.stdout.buffer's lock, in write(1)")
    finally:
        # Everything the holder writes must go to the pipe, never to the
        # real stdout (the verdict record goes there): drain, join, restore.
        drainer.start()
        thread.join()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(full_w)
        drainer.join()
        os.close(full_r)
    return obs


def spawned_child_work(progress):
    """The spawned child: a fresh interpreter, a fresh LOCK."""
    os.write(progress.fileno(), b"locking\n")
    with LOCK:
        pass
    os.write(progress.fileno(), b"locked\n")


def mp_case(method):
    """A multiprocessing.Process started while a thread holds LOCK, with
    the start method ``method`` (None: whatever the platform's default is)."""
    import multiprocessing
    obs = Observation()
    tr = Trace()
    holder = Holder(hold_lock).start()
    tr.event("parent", "thread holder: LOCK")
    # FIX: a fresh interpreter instead of a fork of this threaded one.
    ctx = multiprocessing.get_context(method)
    method = ctx.get_start_method()
    obs.note({"start_method": method})
    progress_r, progress_w = ctx.Pipe(duplex=False)
    child = ctx.Process(target=spawned_child_work, args=(progress_w,))
    tr.fork({"fork": "fork: the child is a copy, LOCK held",
             "spawn": "spawn: a fresh interpreter starts",
             "forkserver": "forkserver: forked from a fresh server process"}.get(method, method))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        child.start()
    for w in caught:
        if issubclass(w.category, DeprecationWarning):
            obs.note({"fork_warning": str(w.message)})
    progress_w.close()

    class Spawned(object):
        pid = child.pid

        def wait(self):
            child.join()
            if child.exitcode is not None and child.exitcode < 0:
                return "killed by signal %d" % -child.exitcode
            return "exit code %s" % child.exitcode

    try:
        proof = note_watch(obs, Spawned(), os.dup(progress_r.fileno()))
        if proof:
            tr.event("parent", "%s: deadlocked; SIGKILL" % proc.PROOF_SEEN[proof])
        else:
            tr.event("parent", "the %s child reported %s and exited" % (
                method, [e["child_progress"] for e in obs.evidence
                         if isinstance(e, dict) and "child_progress" in e][0]))
    finally:
        if child.exitcode is None:
            os.kill(child.pid, proc.SIGKILL)
            child.join()
        progress_r.close()
        proc.stop_multiprocessing_tracker()
        if method == "forkserver":
            stop_forkserver()
        holder.stop()
    obs.trace = tr.finish()
    return obs


def stop_forkserver():
    """Stops and reaps the forkserver process (it would outlive the case:
    a leak the supervisor reports), and runs multiprocessing's exit-time
    clean-up now, which removes the temporary directory holding the
    server's socket: an embedded interpreter is never finalized, so its
    atexit hooks would not."""
    from multiprocessing import forkserver, util
    forkserver._forkserver._stop()
    util._run_finalizers()


_gil_holder = {}


def start_gil_holder(go_fd, holding_fd):
    """For the embedded native-fork variants (crates/corpus/fork-held-lock/
    native.rs): a thread that waits for ``go``, then takes the GIL, writes
    one byte to ``holding_fd`` *with the GIL held* (ctypes.PyDLL calls do
    not release it), and spins, keeping the GIL for as long as no other
    thread asks for it."""
    import ctypes
    write = ctypes.PyDLL(None).write
    stop = threading.Event()

    def spin():
        os.read(go_fd, 1)  # releases the GIL while it waits
        write(holding_fd, b"!", 1)
        while not stop.is_set():
            pass

    thread = threading.Thread(target=spin, name="gil-holder")
    thread.daemon = True
    thread.start()
    _gil_holder.update(thread=thread, stop=stop)


def stop_gil_holder():
    _gil_holder["stop"].set()
    _gil_holder["thread"].join()


def prepare(variant):
    if variant in ("fixed-spawn", "broken-mp-default"):
        import multiprocessing  # noqa: F401


VARIANTS = {
    "broken": lambda: lock_case(fix=None),
    "broken-logging": logging_case,
    "broken-stdout": stdout_case,
    "fixed-atfork": lambda: lock_case(fix="atfork"),
    "fixed-order": lambda: lock_case(fix="order"),
    "fixed-spawn": lambda: mp_case(method="spawn"),
    "broken-mp-default": lambda: mp_case(method=None),
}
