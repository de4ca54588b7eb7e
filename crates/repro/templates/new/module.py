"""__ID__, in Python: the lesson is crates/corpus/__ID__/README.md
(``repro explain __ID__``); this module is the code of its python and
embedded cases.

How it decides, without a clock: the parent makes a pipe and forks. The
child closes the write end it inherited (fixed) or not (broken), then
says "ready". The parent closes its own write end and polls the read end
with a zero timeout: every write end is closed exactly when POLLHUP is
set, so the poll answers at once. /proc/<child>/fd shows who holds it.
Then the parent lets the child exit, reaps it, and reads EOF.
"""

import os
import select

from pyrepro import proc
from pyrepro.proc import Event, fork_child
from pyrepro.record import Observation
from pyrepro.trace import Trace

EOF_NEVER_COMES = "eof-never-comes"


def pipe_case(fixed):
    obs = Observation()
    tr = Trace()
    r, w = os.pipe()
    inode = os.fstat(r).st_ino
    tr.event("parent", "pipe() = [%d, %d]: pipe:[%d]" % (r, w, inode))
    ready = Event("ready")
    done = Event("done")

    def child():
        os.close(r)
        # repro:diff fixed
        if fixed:
            # FIX: the child closes the write end it inherited.
            os.close(w)
        tr.child("ready")
        ready.notify()
        done.wait()
        return 0

    tr.fork()
    with fork_child(child) as forked:
        ready.wait()
        os.close(w)
        poller = select.poll()
        poller.register(r, select.POLLIN)
        events = poller.poll(0)
        eof = any(ev & select.POLLHUP for _, ev in events)
        tr.event("parent", "close(%d); poll(%d, 0): %s" % (
            w, r, "POLLHUP: EOF" if eof else "nothing: no EOF"))
        held = proc.fds_to(forked.pid, "pipe:[%d]" % inode)
        obs.note({"child_holds": held, "eof_at_once": eof})
        if not eof:
            obs.symptom = EOF_NEVER_COMES
            tr.event("parent", "the child holds the write end: /proc/%d/fd/%s"
                     % (forked.pid, ",".join(str(fd) for fd in held)))
            obs.note("the parent's read would wait: child %d still holds the write "
                     "end (/proc/%d/fd/%s -> pipe:[%d])"
                     % (forked.pid, forked.pid, ",".join(str(fd) for fd in held), inode))
        else:
            obs.note("EOF at once: no other process holds the write end")
        done.notify()
        status = forked.wait()
    obs.note("child %d: %s" % (forked.pid, status))
    tail = os.read(r, 1)
    os.close(r)
    tr.event("parent", "read(%d) = %d bytes: EOF, once the child is gone" % (r, len(tail)))
    obs.trace = tr.finish()
    return obs


VARIANTS = {
    "broken": lambda: pipe_case(fixed=False),
    "fixed": lambda: pipe_case(fixed=True),
}
