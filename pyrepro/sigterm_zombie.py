"""sigterm-zombie: a terminated worker leaves its own child behind.

The lesson (what you will see, the story, the mechanism, the fix) is
crates/corpus/sigterm-zombie/README.md (``repro explain sigterm-zombie``);
``repro diff sigterm-zombie`` shows each fix, from the lines marked FIX.
Here: the python and embedded cases, and how each reaches its verdict.

Variants:
  broken / fixed                  the child is ``cat`` from subprocess.Popen
  broken-pexpect / fixed-pexpect  the story's own: pexpect.spawn("cat") (from
                                  the project's .venv; skipped without it)

How it decides, without a clock: the parent makes itself a child subreaper,
forks the worker and waits for its "ready" (the child's pid, written after
the handler is installed). It sends SIGTERM, lets go of the pipe the worker
blocks on (so the signal cannot be missed), and reaps the worker. Orphans
are reparented before their parent's exit is reported, so at that point any
process left to this one is already its child: ``waitid(P_ALL, WEXITED |
WNOWAIT)`` either fails at once with ECHILD (nothing left: fixed) or returns
when the orphan exits, leaving it unreaped for /proc to show (broken). Then
the parent reaps it, so nothing survives the run.
"""

import os
import signal
import subprocess
import sys

from pyrepro.proc import become_subreaper, fork_child, proc_stat, wait_exited_nowait
from pyrepro.record import Observation, Skip
from pyrepro.runner import with_site
from pyrepro.trace import Trace

ZOMBIE_GRANDCHILD = "zombie-grandchild"


def prepare(variant):
    """Set-up off the clock: pexpect, for its variants."""
    if variant.endswith("-pexpect"):
        with_site()
        try:
            import pexpect  # noqa: F401
        except ImportError as e:
            raise Skip("pexpect is not installed for this interpreter (%s); make "
                       "setup installs it into .venv" % e)


def _spawn_cat():
    """The worker's child, as subprocess.Popen makes it: ``cat`` on a pipe.
    Returns its pid and a function that kills and reaps it."""
    child = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def kill_and_reap():
        child.terminate()
        return "returncode %s" % child.wait()

    return child.pid, kill_and_reap


def _spawn_pexpect():
    """The story's: ``pexpect.spawn`` (a pty, the child a session leader)."""
    import pexpect
    child = pexpect.spawn("cat", echo=False)

    def kill_and_reap():
        child.kill(signal.SIGTERM)
        child.wait()
        return "signal %s" % child.signalstatus

    return child.pid, kill_and_reap


def _pexpect_cat():
    """What the pexpect variants spawn, with the pexpect that did it (the
    version the project pins, in either runtime)."""
    import pexpect
    return "pexpect %s cat" % pexpect.__version__


def _after_the_read():
    """A Python-level call: CPython runs pending signal handlers before the
    first instruction of a Python function, so a SIGTERM handler that is
    due runs here at the latest."""


def shape(spawn, what, fixed):
    obs = Observation()
    tr = Trace()
    me = os.getpid()
    if not become_subreaper():
        raise RuntimeError("prctl(PR_SET_CHILD_SUBREAPER) failed")
    tr.event("parent", "prctl(PR_SET_CHILD_SUBREAPER): orphans come here, as to "
                       "PID 1 in a container")
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()

    def worker():
        os.close(ready_r)
        os.close(hold_w)
        pid, kill_and_reap = spawn()
        tr.child("spawned %s: pid %d" % (what, pid))

        def on_sigterm(signo, frame):
            how = kill_and_reap()
            tr.child("SIGTERM handler: killed and reaped %d (%s); exit" % (pid, how))
            sys.exit(0)

        # repro:diff fixed fixed-pexpect
        if fixed:
            # FIX: on SIGTERM, kill and reap the child before exiting.
            signal.signal(signal.SIGTERM, on_sigterm)
        os.write(ready_w, b"%d\n" % pid)
        tr.child("ready; blocks until SIGTERM")
        os.read(hold_r, 1)
        _after_the_read()
        return 3  # not reached: SIGTERM ends the worker, one way or the other

    tr.fork()
    with fork_child(worker) as forked:
        os.close(ready_w)
        os.close(hold_r)
        with os.fdopen(ready_r, "rb") as ready:
            line = ready.readline()
        if not line:
            os.close(hold_w)
            raise RuntimeError("the worker exited before it was ready: %s" % forked.wait())
        grandchild = int(line)
        tr.event("parent", "kill(%d, SIGTERM) (terminate the worker)" % forked.pid)
        os.kill(forked.pid, signal.SIGTERM)
        os.close(hold_w)
        status = forked.wait()
        tr.event("parent", "waitpid(worker %d): %s" % (forked.pid, status))
    obs.note("child %d (the worker): %s" % (forked.pid, status))
    obs.note({"worker_pid": forked.pid, "grandchild_pids": [grandchild], "parent_pid": me})

    # Anything left to this process? Never blocks when nothing is.
    pid = wait_exited_nowait()
    if pid is None:
        tr.event("parent", "waitid(P_ALL, WNOWAIT): ECHILD: nothing left")
        obs.note("nothing was left to the parent: the worker reaped its child %d "
                 "before exiting" % grandchild)
        obs.note({"left_to_parent": []})
    else:
        state = proc_stat(pid)
        tr.event("parent", "waitid(P_ALL, WNOWAIT): %d exited, not reaped: %s" % (
            pid, "/proc/%d/stat: state %s, ppid %d" % ((pid,) + state) if state
            else "/proc/%d: gone" % pid))
        obs.note({"left_to_parent": [pid]})
        if state is not None:
            obs.note({"left_stat": {"pid": pid, "state": state[0], "ppid": state[1]}})
        if pid == grandchild and state is not None and state == ("Z", me):
            obs.symptom = ZOMBIE_GRANDCHILD
            obs.note("child %d (%s) outlived worker %d, was reparented to %d (the "
                     "subreaper) and exited there: /proc/%d/stat says state Z, "
                     "ppid %d, a zombie nobody waits for"
                     % (pid, what, forked.pid, me, pid, me))
        else:
            obs.note("child %d was left to the parent (/proc: %s)" % (pid, state))
        os.waitpid(pid, 0)
        tr.event("parent", "waitpid(%d): reaped, so that nothing is left" % pid)
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: shape(_spawn_cat, "cat", fixed=False),
    "fixed": lambda: shape(_spawn_cat, "cat", fixed=True),
    "broken-pexpect": lambda: shape(_spawn_pexpect, _pexpect_cat(), fixed=False),
    "fixed-pexpect": lambda: shape(_spawn_pexpect, _pexpect_cat(), fixed=True),
}
