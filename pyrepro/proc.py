"""Forking on purpose, and reading /proc, from a scenario process.

Mirrors crates/harness/src/fork.rs and procfs.rs:

* ``fork_child(fn)``: the child sets PR_SET_PDEATHSIG (it dies with its
  parent), runs ``fn`` and always leaves through ``os._exit`` in ``finally``;
  the returned ``ForkedChild`` kills and reaps the child if it is not waited
  for.
* ``Event``: a one-shot pipe named for what it signals. ``wait`` returns when
  the peer notifies, and raises as soon as the peer is gone (EOF), so no step
  waits on a clock.
* ``fds_to(pid, target)``: the fds of a process that refer to a pipe,
  socket or file, from /proc/<pid>/fd.
* ``epoll_targets(pid, fd)``: the fds registered in an epoll instance, from
  the ``tfd:`` lines of /proc/<pid>/fdinfo/<fd>.
* ``proc_state(pid)``: state, wchan and syscall of a process, as evidence;
  ``proc_stat(pid)``: its state and parent.
* ``become_subreaper()``: orphaned descendants come to this process.
* ``watch_for_deadlock(pid, progress_fd)``: crates/harness/src/hang.rs in
  Python: waits on the child's progress pipe, looks at /proc while it is
  quiet, and calls it deadlocked on either of hang.rs's two proofs: a lone
  waiter (one thread, asleep in an untimed private futex wait, unchanged and
  without running between two looks: nothing can wake it), or a stable wait
  (STABLE_SAMPLES identical futex-wait samples, SAMPLE_EVERY apart, with
  nothing in between but wake-ups that cost less than WAKE_CPU_BUDGET_NS of
  CPU: a timed wait going back to the same wait).
"""

import errno
import os
import select
import sys
import time

try:
    # The constant without the signal module's enums (enum is 4 ms of a
    # 20 ms case); the scenarios that handle signals import signal.
    from _signal import SIGKILL
except ImportError:  # pragma: no cover (CPython 3.5+ and PyPy have _signal)
    from signal import SIGKILL

_PR_SET_PDEATHSIG = 1


def _c_library():
    """The C library this process runs on, for the calls the os module lacks
    (prctl, syscall; waitid on PyPy): an object whose attributes are its
    functions, called with ints (or a ctypes buffer) and returning a C int,
    errno kept for ``get_errno``. None where there is none.

    On CPython it is built from ``_ctypes``, the C half of ctypes, the way
    ctypes/__init__.py builds ``CDLL(None, use_errno=True)``: importing the
    ctypes package too costs about 3 ms of CPU, a fifth of a quick case, for
    the dozens of types it defines and this module never uses. Elsewhere
    (PyPy's _ctypes is Python code with another interface), or should that
    ever fail, through ctypes itself."""
    if sys.implementation.name == "cpython":
        try:
            import _ctypes

            class c_int(_ctypes._SimpleCData):
                _type_ = "i"

            class Function(_ctypes.CFuncPtr):
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = c_int

            class Library(object):
                _handle = _ctypes.dlopen(None, os.RTLD_NOW | os.RTLD_LOCAL)

                def __getattr__(self, name):
                    # Looked up on first use, then kept (as CDLL does).
                    function = Function((name, self))
                    setattr(self, name, function)
                    return function

            return Library()
        except (ImportError, AttributeError, TypeError, OSError):  # pragma: no cover
            pass
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):  # pragma: no cover (no C library: no PDEATHSIG; the supervisor's group kill remains)
        return None


_libc = _c_library()


class PeerGone(Exception):
    """The other process exited before signalling an event."""


class Event(object):
    def __init__(self, name):
        self.name = name
        self._r, self._w = os.pipe()

    def notify(self):
        os.close(self._r)
        try:
            os.write(self._w, b"!")
        finally:
            os.close(self._w)

    def wait(self):
        os.close(self._w)
        try:
            while True:
                try:
                    data = os.read(self._r, 1)
                    break
                except InterruptedError:  # pragma: no cover (PEP 475 retries)
                    continue
        finally:
            os.close(self._r)
        if not data:
            raise PeerGone("the other process was gone before %r" % self.name)


class ForkedChild(object):
    def __init__(self, pid):
        self.pid = pid
        self._reaped = False

    def wait(self):
        """Reaps the child; returns a description of how it ended."""
        _, status = os.waitpid(self.pid, 0)
        self._reaped = True
        return describe_status(status)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._reaped:
            try:
                os.kill(self.pid, SIGKILL)
            except OSError:
                pass
            os.waitpid(self.pid, 0)
            self._reaped = True
        return False


def describe_status(status):
    if os.WIFSIGNALED(status):
        return "killed by signal %d" % os.WTERMSIG(status)
    return "exit code %d" % os.WEXITSTATUS(status)


def die_with_parent():
    """PR_SET_PDEATHSIG(SIGKILL): this process dies when its parent does.
    For children not made by fork_child (multiprocessing workers)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """PR_SET_CHILD_SUBREAPER: orphans among this process's descendants are
    reparented to it (as to PID 1 in a container) instead of to init.
    Returns whether it worked."""
    return _libc is not None and _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def fork_child(fn):
    """Forks; the child runs ``fn()`` and exits with its return value (0 for
    None, SystemExit's code, 101 if it raised anything else). Returns a
    ForkedChild in the parent."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedChild(pid)
    code = 70
    try:
        die_with_parent()
        if os.getppid() == parent:
            code = fn() or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback  # the error path only (CPython re-inits the import lock at fork)
        traceback.print_exc(file=sys.stderr)
        code = 101
    finally:
        sys.stderr.flush()
        os._exit(code)


def proc_state(pid):
    """Where a process is, from /proc: "state S, wchan pipe_read, syscall 0"."""
    base = "/proc/%d" % pid
    fields = _stat_fields(base)
    wchan = _read(base + "/wchan")
    return "state %s, wchan %s, syscall %s" % (
        fields[0] if fields else "?", "?" if wchan is None else (wchan or "0"),
        (_read(base + "/syscall") or "?").split(" ", 1)[0])


_P_ALL = 0
_WEXITED = 4
_WNOWAIT = 0x01000000


def wait_exited_nowait():
    """``waitid(P_ALL, 0, WEXITED | WNOWAIT)``: blocks until a child has
    exited and returns its pid, leaving it unreaped (a zombie /proc still
    shows); None at once when there is no child (ECHILD). ``os.waitid``
    where the interpreter has it, else the same libc call through ctypes
    (PyPy has no ``os.waitid``)."""
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT).si_pid
        except ChildProcessError:
            return None
    if _libc is None:
        raise OSError("waitid: neither os.waitid nor a C library to call it in")
    import ctypes  # its buffers (PyPy, or a test that takes os.waitid away)
    # siginfo_t (128 bytes): si_signo, si_errno, si_code, then the union,
    # aligned to a pointer; its first field is si_pid.
    info = ctypes.create_string_buffer(128)
    pid_at = 2 * ctypes.sizeof(ctypes.c_void_p) if ctypes.sizeof(ctypes.c_void_p) == 8 else 12
    while _libc.waitid(_P_ALL, 0, info, _WEXITED | _WNOWAIT) != 0:
        err = ctypes.get_errno()
        if err == errno.ECHILD:
            return None
        if err != errno.EINTR:
            raise OSError(err, os.strerror(err))
    return ctypes.c_int.from_buffer(info, pid_at).value


def proc_stat(pid):
    """(state, ppid) of a process from /proc/<pid>/stat, or None if gone."""
    fields = _stat_fields("/proc/%d" % pid)
    return None if fields is None else (fields[0], int(fields[1]))


def stop_multiprocessing_tracker():
    """Stops and reaps the helper process the spawn start method starts
    (resource_tracker on 3.8+, semaphore_tracker before). Left alone, it
    exits only after it sees its pipe close, so it would outlive the
    scenario: a leak the supervisor reports."""
    try:
        from multiprocessing import resource_tracker as mod
        tracker = mod._resource_tracker
    except ImportError:  # 3.6, 3.7
        from multiprocessing import semaphore_tracker as mod
        tracker = mod._semaphore_tracker
    stop = getattr(tracker, "_stop", None)
    if stop is not None:
        stop()  # closes the pipe, then waitpid()
    elif tracker._pid is not None:
        os.close(tracker._fd)
        os.waitpid(tracker._pid, 0)
        tracker._fd = tracker._pid = None


def fds_to(pid, target):
    """The fds of ``pid`` that refer to ``target``, as /proc/<pid>/fd links
    name it (``pipe:[1234]``, ``socket:[5678]``, a path), sorted: who holds
    an inherited fd open. crates/harness/src/procfs.rs ``fds_to`` in
    Python."""
    base = "/proc/%d/fd" % pid
    fds = []
    for name in os.listdir(base):
        try:
            if os.readlink("%s/%s" % (base, name)) == target:
                fds.append(int(name))
        except OSError:  # closed while we look: not held
            pass
    return sorted(fds)


def epoll_targets(pid, fd):
    """[(tfd, events)] for each registration in epoll fd ``fd`` of ``pid``."""
    out = []
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        for line in f:
            words = line.split()
            if len(words) >= 4 and words[0] == "tfd:" and words[2] == "events:":
                out.append((int(words[1]), int(words[3], 16)))
    return out


#: harness::hang's constants, in seconds.
SAMPLE_EVERY = 0.010
LOOK_EVERY = 0.001
STABLE_SAMPLES = 3
#: hang.rs's WAKE_CPU_BUDGET: the CPU a thread may spend, from the first of a
#: run of identical futex-wait samples, and still count as waiting when a
#: sample finds it out of the wait (a timed wait's wake-ups take microseconds).
WAKE_CPU_BUDGET_NS = 1000000


def _give_up_after():
    """harness::hang::give_up_after: half the watchdog's deadline, which the
    supervisor passes in REPRO_DEADLINE_S; 5 s without one."""
    try:
        deadline = float(os.environ.get("REPRO_DEADLINE_S", ""))
    except ValueError:
        return 5.0
    return deadline / 2.0 if deadline > 0 else 5.0


GIVE_UP_AFTER = _give_up_after()

#: Syscall numbers, by machine (what /proc/<pid>/syscall reports), for the
#: Linux architectures CPython has wheels for (manylinux, musllinux) whose
#: numbers are checked against the kernel's tables: the asm-generic ones
#: (aarch64, riscv64, loongarch64), x86_64, i386 and 32-bit arm. futex is
#: futex, futex_time64 (32-bit), futex_waitv and futex_wait; futex_op the
#: ones among them whose arguments are (uaddr, op, val, timeout, ...); wait
#: is wait4 and waitid.
_GENERIC = {"futex": (98, 449, 454), "futex_op": (98,), "write": (64,), "gettid": 178,
            "wait": (260, 95)}
_I386_ARM = {"futex": (240, 422, 449, 454), "futex_op": (240, 422), "write": (4,),
             "gettid": 224}
SYSCALLS = {
    "x86_64": {"futex": (202, 449, 454), "futex_op": (202,), "write": (1,), "gettid": 186,
               "wait": (61, 247)},
    "aarch64": _GENERIC,
    "riscv64": _GENERIC,
    "loongarch64": _GENERIC,
    "i686": dict(_I386_ARM, wait=(114, 284)),
    "i386": dict(_I386_ARM, wait=(114, 284)),
    "armv7l": dict(_I386_ARM, wait=(114, 280)),
    "armv8l": dict(_I386_ARM, wait=(114, 280)),
}


def syscalls(name):
    """The numbers of syscall ``name`` on this machine; on a machine not in
    SYSCALLS, an error that says so (never a silent miss, which would turn a
    deadlock into a wrong verdict)."""
    machine = os.uname()[4]  # platform.machine(), without importing platform
    table = SYSCALLS.get(machine)
    if table is None:
        raise RuntimeError("pyrepro/proc.py has no syscall numbers for %r (only %s): "
                           "add them to SYSCALLS" % (machine, ", ".join(sorted(SYSCALLS))))
    return table[name]


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _stat_fields(base):
    """The fields of ``<base>/stat`` after the command name (which may hold
    spaces and parentheses): state first, then ppid, ... None if gone."""
    stat = _read(base + "/stat")
    if stat is None or ")" not in stat:
        return None
    return stat[stat.rfind(")") + 2:].split()


def sample(pid, quiet_s, tid=None):
    """One look at a process (or one of its threads): state, the raw
    /proc/.../syscall line, wchan. None if it is gone."""
    base = "/proc/%d" % pid if tid is None else "/proc/%d/task/%d" % (pid, tid)
    fields = _stat_fields(base)
    if fields is None:
        return None
    schedstat = _read(base + "/schedstat")
    return {
        "quiet_ms": int(quiet_s * 1000),
        "state": fields[0],
        "syscall": _read(base + "/syscall") or "",
        "wchan": _read(base + "/wchan") or "",
        "cpu_ns": int(schedstat.split()[0]) if schedstat else None,
        "threads": int(fields[17]),
    }


def in_futex_wait(s):
    """Asleep in a futex wait. wchan stands in only when the syscall file
    could not be read: ``running`` (the thread ran between the reads) is
    not a wait."""
    words = s["syscall"].split()
    if s["state"] != "S":
        return False
    if not words:
        return "futex" in s["wchan"]
    return words[0].isdigit() and int(words[0]) in syscalls("futex")


def only_woke(first, now):
    """Whether a thread found out of its wait has spent less than
    WAKE_CPU_BUDGET_NS on a CPU since ``first``, the first sample of a run
    of identical waits (unknown: no)."""
    return (first is not None and first["cpu_ns"] is not None
            and now["cpu_ns"] is not None
            and now["cpu_ns"] - first["cpu_ns"] < WAKE_CPU_BUDGET_NS)


def futex_addr(s):
    words = s["syscall"].split()
    return int(words[1], 16) if len(words) > 1 else None


_FUTEX_WAIT, _FUTEX_WAIT_BITSET = 0, 9
_FUTEX_PRIVATE_FLAG, _FUTEX_CLOCK_REALTIME = 128, 256


def in_untimed_private_wait(s):
    """Asleep in a wait only its own process can end (hang.rs's
    ``Sample::in_untimed_private_wait``): futex(addr, FUTEX_WAIT or
    FUTEX_WAIT_BITSET with FUTEX_PRIVATE_FLAG, val, NULL). A futex shared
    between processes (a multiprocessing lock) or a timed wait (the GIL's)
    is not."""
    words = s["syscall"].split()
    if s["state"] != "S" or len(words) < 5 or not words[0].isdigit():
        return False
    if not (words[2].startswith("0x") and words[4].startswith("0x")):
        return False
    op, timeout = int(words[2], 16), int(words[4], 16)
    command = op & ~(_FUTEX_PRIVATE_FLAG | _FUTEX_CLOCK_REALTIME)
    return (int(words[0]) in syscalls("futex_op") and op & _FUTEX_PRIVATE_FLAG != 0
            and command in (_FUTEX_WAIT, _FUTEX_WAIT_BITSET) and timeout == 0)


def lone_waiter(before, now):
    """Two consecutive looks that prove the process can never leave its
    wait (hang.rs's ``lone_waiter``): the same untimed private futex wait in
    both, no CPU time between them (it slept throughout, including when
    ``now`` counted the threads), and one thread: nothing can wake it."""
    return (in_untimed_private_wait(before) and in_untimed_private_wait(now)
            and before["syscall"] == now["syscall"]
            and before["cpu_ns"] is not None and before["cpu_ns"] == now["cpu_ns"]
            and now["threads"] == 1)


def look_after(quiet_s):
    """Seconds to wait for progress before the next look, after ``quiet_s``
    of quiet: half of it, from LOOK_EVERY up to SAMPLE_EVERY."""
    return min(max(quiet_s / 2.0, LOOK_EVERY), SAMPLE_EVERY)


#: What the parent saw, by proof, for a timeline (hang.rs's ``Proof::seen``).
PROOF_SEEN = {"lone-waiter": "child's only thread asleep in an untimed private futex wait",
              "stable": "child asleep in futex, unchanged"}


def proof_reason(detail):
    """Why the watched child is deadlocked, for the evidence, from
    ``watch_for_deadlock``'s detail (as hang.rs's ``Watched::note``)."""
    if detail["proof"] == "lone-waiter":
        return ("its only thread, in an untimed private wait: nothing left in the "
                "process can wake it")
    return "unchanged across %d samples" % len(detail["samples"])


def observe(stable, s):
    """One more sample into ``stable``, the run of identical futex-wait
    samples so far; returns the run, restarted where the sample breaks it
    (hang.rs's ``Stable::observe``)."""
    if in_futex_wait(s):
        if stable and stable[-1]["syscall"] != s["syscall"]:
            stable = []
        return stable + [s]
    if stable and only_woke(stable[0], s):
        return stable
    return []


def watch_for_deadlock(pid, progress_fd):
    """Returns ("finished", progress, None) when the progress pipe reaches
    EOF, ("deadlocked", progress, {"samples", "proof", "blocked_to_verdict_ms"})
    (proof "lone-waiter" or "stable"), or ("undecided", progress,
    last_sample) after GIVE_UP_AFTER."""
    start = last_progress = time.monotonic()
    progress, partial, stable = [], b"", []
    before, next_stable = None, last_progress + SAMPLE_EVERY
    while True:
        now = time.monotonic()
        if now - start > GIVE_UP_AFTER:
            return "undecided", progress, sample(pid, now - last_progress)
        # The next look: soon after progress, and never later than the
        # stable rule's next sample.
        wait = min(look_after(now - last_progress), max(0.0, next_stable - now))
        if select.select([progress_fd], [], [], wait)[0]:
            data = os.read(progress_fd, 512)
            if not data:
                return "finished", progress, None
            partial += data
            while b"\n" in partial:
                line, partial = partial.split(b"\n", 1)
                progress.append(line.decode("utf-8", "replace").strip())
            last_progress = time.monotonic()
            stable, before, next_stable = [], None, last_progress + SAMPLE_EVERY
            continue
        s = sample(pid, time.monotonic() - last_progress)
        if s is None:
            return "finished", progress, None
        decided = None
        if before is not None and lone_waiter(before, s):
            decided = ("lone-waiter", [before, s])
        before = s
        if decided is None and time.monotonic() >= next_stable:
            next_stable = time.monotonic() + SAMPLE_EVERY
            stable = observe(stable, s)
            if len(stable) >= STABLE_SAMPLES:
                decided = ("stable", stable)
        if decided is not None:
            blocked_ms = (time.monotonic() - last_progress) * 1000.0
            return "deadlocked", progress, {"samples": decided[1], "proof": decided[0],
                                            "blocked_to_verdict_ms": round(blocked_ms, 1)}


def wait_until_thread_blocked_in(pid, tid, syscalls):
    """Samples a thread of this process until it sits (state S) in one of
    ``syscalls``: the proof that it holds what it took before that call.
    Bounded by GIVE_UP_AFTER; returns the sample, or raises."""
    start = time.monotonic()
    while time.monotonic() - start < GIVE_UP_AFTER:
        s = sample(pid, 0, tid)
        words = s["syscall"].split() if s else []
        if s and s["state"] == "S" and words and words[0].isdigit() \
                and int(words[0]) in syscalls:
            return s
        select.select([], [], [], SAMPLE_EVERY / 5)  # the sampling interval
    raise RuntimeError("thread %d never blocked in syscalls %s" % (tid, syscalls))


def gettid():
    """The calling thread's kernel id (threading.get_native_id is 3.8+)."""
    return _libc.syscall(syscalls("gettid"))
