"""pool-worker-raise: a pool worker's SIGTERM handler raises, and
``pool.terminate()`` never returns.

The lesson (what you will see, the story, the mechanism, the fix) is
crates/corpus/pool-worker-raise/README.md (``repro explain
pool-worker-raise``); ``repro diff pool-worker-raise`` shows each fix, from
the lines marked FIX. Here: the python and embedded cases, and how each
reaches its verdict.

Variants:
  broken                   the handler raises RuntimeError: terminate()
                           deadlocks
  fixed                    the handler calls sys.exit(1): the worker
                           leaves, terminate() returns
  fixed-keyboardinterrupt  the handler raises KeyboardInterrupt: also
                           leaves (the story's "anything but SystemExit" is
                           too broad: any non-Exception will do)

How it decides, without a clock: the worker reports from inside its task,
with its handler installed (an Event); only then does a thread of the
parent call ``pool.terminate()``. The worker holds the write end of a pipe
nobody writes to: EOF means it exited. While there is no EOF, the parent
samples the worker in /proc (proc.watch_for_deadlock): the same futex wait
across consecutive samples is the deadlock. Then it proves the other half
(the parent's own thread in ``waitpid``, ``inqueue._rlock`` held), kills
the worker, and ``terminate()`` returns.
"""

import multiprocessing
import os
import signal
import threading

from pyrepro import proc
from pyrepro.record import Observation
from pyrepro.trace import Trace, child_event

TERMINATE_DEADLOCK = "terminate-deadlock"


#: Set before the pool forks its worker, so the worker has them.
_STATE = {}


def _init_worker():
    proc.die_with_parent()


def _task(how):
    """The job, in the worker: install the handler, say so, and block (as
    a long job would) until terminated."""
    trace_fd = _STATE["trace_fd"]

    def on_sigterm(signo, frame):
        child_event(trace_fd, "SIGTERM handler: raise %s" % RAISES[how])
        # repro:diff fixed fixed-keyboardinterrupt
        if how != "raise":
            # FIX: leave the worker. pool.worker catches Exception; SystemExit
            # and KeyboardInterrupt are not Exceptions.
            raise SystemExit(1) if how == "exit" else KeyboardInterrupt()
        else:
            raise RuntimeError("SIGTERM in the worker")

    signal.signal(signal.SIGTERM, on_sigterm)
    child_event(trace_fd, "task running, SIGTERM handler installed; blocks")
    _STATE["running"].notify()
    os.read(_STATE["block_r"], 1)  # nobody writes: the job never ends by itself
    return "done"


#: What each variant's handler raises.
RAISES = {"raise": "RuntimeError", "exit": "SystemExit (sys.exit(1))",
          "interrupt": "KeyboardInterrupt"}


def shape(how):
    obs = Observation()
    tr = Trace()
    ctx = multiprocessing.get_context("fork")
    running = proc.Event("task_running")
    exit_r, exit_w = os.pipe()    # the worker's copy of exit_w: EOF when it exits
    block_r, block_w = os.pipe()  # the task blocks on it
    _STATE.update(trace_fd=tr.child_fd, running=running, block_r=block_r)
    tr.fork("Pool(processes=1), fork: the worker")
    pool = ctx.Pool(processes=1, initializer=_init_worker)
    os.close(exit_w)
    os.close(block_r)
    worker = pool._pool[0]
    pool.apply_async(_task, (how,))
    running.wait()
    tids = {}

    def terminate():
        tids["terminate"] = proc.gettid()
        pool.terminate()

    tr.event("parent", "task running in worker %d; pool.terminate() (thread)" % worker.pid)
    terminating = threading.Thread(target=terminate, name="terminate")
    terminating.start()
    try:
        outcome, _, detail = proc.watch_for_deadlock(worker.pid, exit_r)
    finally:
        os.close(exit_r)
    if outcome == "deadlocked":
        obs.symptom = TERMINATE_DEADLOCK
        last = detail["samples"][-1]
        tr.event("parent", "worker in a futex wait, unchanged: deadlocked")
        waiting = proc.wait_until_thread_blocked_in(
            os.getpid(), tids["terminate"],
            proc.syscalls("wait"))
        held = not pool._inqueue._rlock.acquire(False)
        obs.note("worker %d caught the handler's RuntimeError (pool.worker: except "
                 "Exception), went back to get() and sits in a futex wait on 0x%x "
                 "(state %s, wchan %s), %s"
                 % (worker.pid, proc.futex_addr(last) or 0, last["state"],
                    last["wchan"], proc.proof_reason(detail)))
        obs.note("pool.terminate() has not returned: its thread sits in waitpid for "
                 "the worker (state %s, wchan %s), holding inqueue._rlock, taken "
                 "by _help_stuff_finish" % (waiting["state"], waiting["wchan"]))
        obs.note({"inqueue_rlock_held_by_parent": held})
        obs.note({"blocked_to_verdict_ms": detail["blocked_to_verdict_ms"]})
        os.kill(worker.pid, signal.SIGKILL)
        tr.event("parent", "SIGKILL worker %d: terminate() can return" % worker.pid)
    elif outcome == "undecided":
        os.kill(worker.pid, signal.SIGKILL)
        raise RuntimeError("worker %d neither exited nor blocked: %r" % (worker.pid, detail))
    else:
        tr.event("parent", "worker %d exited" % worker.pid)
        obs.note("worker %d left on SIGTERM; pool.terminate() went on" % worker.pid)
    terminating.join()
    tr.event("parent", "pool.terminate() returned")
    obs.note("child %d (the worker): exit code %s%s" % (
        worker.pid, worker.exitcode,
        " (killed: deadlocked)" if obs.symptom else ""))
    os.close(block_w)
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: shape("raise"),
    "fixed": lambda: shape("exit"),
    "fixed-keyboardinterrupt": lambda: shape("interrupt"),
}
