"""The witness of ``repro check``: what a learner's copy really did.

A learner's copy of a scenario module (``repro exercise``) could say
anything in its trace. The check does not believe it: before the copy is
loaded, this module (which the copy does not contain) wraps the real
primitives the scenarios use and writes what it sees, one JSON object per
line, to the file named by ``$REPRO_WITNESS``. ``repro check`` reads that
file after the run and holds it to the scenario's ``[[exercise.witness]]``
rules (crates/harness/src/spec.rs), so a copy that skips or fakes the
hazardous step is refused with the step named.

What it watches (each fact has ``fact``, ``pid`` and ``who``: ``parent``
for the process the case runs in, ``child`` for any process forked from
it):

- ``fork`` (before each fork, in the forking process; ``held``: the copy's
  module-level locks that another thread holds) and ``child`` (after it,
  in the child);
- ``lock-acquire``: an acquire of one of the copy's module-level
  ``threading.Lock`` objects (``lock``: its name; ``thread``: ``main`` or
  ``other``), written before the acquire, which may never return;
- ``signal``: ``signal.signal`` (``signum``; ``action``: ``handler``,
  ``default`` or ``ignore``); ``handler-ran`` when a handler so installed
  runs (``interrupted``: the function the signal interrupted; ``raised``:
  the exception type it raised, or null);
  ``wakeup-fd``: ``signal.set_wakeup_fd`` (``set``: whether an fd is set);
- ``kill``: ``os.kill``, from the audit hook, which cannot be removed
  (``signum``; ``target_is_child``: the target's parent is the killer;
  ``target_has_children``: it has children of its own; ``wakeup_fd_set``:
  the killer's wakeup fd at that instant);
- ``spawn``: ``subprocess.Popen`` (audit hook);
- ``epoll-register`` and ``epoll-poll`` on every ``select.epoll``
  (``inherited``: the epoll was created in another process; a poll's
  ``foreign``: it returned an fd this process never registered on it);
- ``gc``: each collection (``in_hub``: run by gevent's hub;
  ``finalizers_ran``: Python code ran inside it; ``shared_visited``: a full
  collection in a process forked while most of its tracked objects were
  not frozen, so it visits the objects the fork shared), and ``switch``: greenlet
  switches after a collection in the hub (``from_hub``, ``to_hub``);
- ``stdio-text``: text written to a file the copy opened for writing with
  ``open`` (the text layer: what ``print`` hands it; ``reentrant``: while
  a write or flush of that file was in progress, as from a signal handler
  run on top of it), and ``stdio-write``:
  each write(2) of that file's buffer (``inherited``: it carried text that
  another process wrote to the file before a fork);
- ``random-draw``: a process's first draw from one of the ``random``
  module's generators (its own, and each ``random.Random`` made after the
  witness is installed) after a fork, or ever (``inherited_state``: the
  generator still had the very state it had when this process was forked);
- ``tampered``: at the end, any of these wrappers the copy replaced.

The threat model: this catches a copy that removes, moves or fakes the
step that shows the bug. It does not defend against a copy that attacks the
checker itself (writes to this file, say).
"""

import io
import json
import os
import sys
import threading

_state = {"fd": None, "root": None, "wakeup": {}, "hub_gc": False,
          "switches": 0, "installed": {}}

#: Greenlet switches recorded after a collection in the hub: enough to see
#: the deferred I/O, bounded so that a busy copy cannot flood the file.
MAX_SWITCHES = 20


def emit(fact, **fields):
    fd = _state["fd"]
    if fd is None:
        return
    pid = os.getpid()
    fields.update(fact=fact, pid=pid,
                  who="parent" if pid == _state["root"] else "child")
    line = (json.dumps(fields, sort_keys=True) + "\n").encode()
    os.write(fd, line)  # O_APPEND: one write, one line, in any process


def install():
    """Installs every watcher, once, if ``$REPRO_WITNESS`` names a file
    (and takes the variable out of the environment the copy sees)."""
    path = os.environ.pop("REPRO_WITNESS", None)
    if not path or _state["fd"] is not None:
        return
    _state["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    _state["root"] = os.getpid()
    if not hasattr(sys, "addaudithook") or not hasattr(os, "register_at_fork"):
        emit("tampered", what=["this interpreter has no audit hooks (3.8+)"])
        return
    sys.addaudithook(_audit)
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
    _watch_signals()
    _watch_epoll()
    _watch_random()
    import gc
    gc.callbacks.append(_on_gc)


def watch_module(module):
    """Replaces each module-level ``threading.Lock`` of the copy by a
    traced one, and gives it an ``open`` whose text files for writing are
    watched (the copy looks its globals up at each use)."""
    lock_type = type(threading.Lock())
    for name, value in list(vars(module).items()):
        if type(value) is lock_type:
            traced = TracedLock(name, value)
            setattr(module, name, traced)
            _state["installed"]["%s.%s" % (module.__name__, name)] = (module, name, traced)
    if "open" not in vars(module):
        module.open = _watched_open
        _state["installed"]["%s.open" % module.__name__] = (module, "open", _watched_open)


def _watched_open(file, mode="r", buffering=-1, encoding=None, errors=None,
                  newline=None, closefd=True, opener=None):
    """``open``, except that a text file opened only for writing is built
    from watched layers, as ``io.open`` builds it (FileIO, BufferedWriter,
    TextIOWrapper; line-buffered for ``buffering=1`` or a terminal)."""
    if set(mode) - set("wat") or opener is not None or buffering == 0:
        return io.open(file, mode, buffering, encoding, errors, newline, closefd, opener)
    raw = _WatchedRaw(file, mode.replace("t", ""), closefd=closefd)
    size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
    return _WatchedText(io.BufferedWriter(raw, size), encoding=encoding, errors=errors,
                        newline=newline, line_buffering=buffering == 1 or raw.isatty())


class _WatchedRaw(io.FileIO):
    """The bottom layer: each write(2), and whether it carried text that
    another process wrote at the top (BufferedWriter calls ``raw.write``
    by name, so this sees every one)."""

    def __init__(self, *args, **kwargs):
        io.FileIO.__init__(self, *args, **kwargs)
        self.texts = []  # (pid, bytes): what each process wrote at the top

    def write(self, data):
        data = bytes(data)
        n = io.FileIO.write(self, data)
        if n:
            me, sent = os.getpid(), data[:n]
            emit("stdio-write", bytes=n,
                 inherited=any(pid != me and text in sent for pid, text in self.texts))
        return n


class _WatchedText(io.TextIOWrapper):
    """The top layer: the text ``print`` and ``write`` hand it, and whether
    it came while a write or flush of this file was still in progress (a
    signal handler run on top of it: ``reentrant``)."""

    _busy = False

    def write(self, s):
        if s.strip() or self._busy:
            self.buffer.raw.texts.append((os.getpid(), s.encode(self.encoding, "replace")))
            emit("stdio-text", chars=len(s), reentrant=self._busy)
        return self._while_busy(io.TextIOWrapper.write, s)

    def flush(self):
        return self._while_busy(io.TextIOWrapper.flush)

    def _while_busy(self, method, *args):
        was, self._busy = self._busy, True
        try:
            return method(self, *args)
        finally:
            self._busy = was


def finish():
    """At the end of the case, in the process it ran in: which wrappers
    the copy took away."""
    if _state["fd"] is None or os.getpid() != _state["root"]:
        return
    import gc
    gone = [label for label, (owner, name, mine) in sorted(_state["installed"].items())
            if getattr(owner, name, None) is not mine]
    if _on_gc not in gc.callbacks:
        gone.append("gc.callbacks")
    if gone:
        emit("tampered", what=gone)


def _held_by_other_threads():
    me = threading.get_ident()
    return sorted(lock.name for _, _, lock in _state["installed"].values()
                  if isinstance(lock, TracedLock) and lock.locked() and lock.owner != me)


def _before_fork():
    emit("fork", held=_held_by_other_threads(),
         threads=len(os.listdir("/proc/self/task")))
    _rng["at_fork"] = dict((id(g), _rng_state(g)) for g in list(_rng["generators"]))
    import gc
    # What a full collection after this fork would visit: the tracked
    # objects not frozen (gc.get_objects leaves the permanent generation out).
    _gc["at_fork"] = {"unfrozen": len(gc.get_objects()),
                      "frozen": gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else 0}


def _after_fork_in_child():
    emit("child", ppid=os.getppid())


class TracedLock(object):
    """A module-level lock of the copy, watched: who acquires it, from
    which process and thread."""

    def __init__(self, name, lock):
        self.name = name
        self._lock = lock
        self.owner = None

    def acquire(self, blocking=True, timeout=-1):
        main = threading.current_thread() is threading.main_thread()
        emit("lock-acquire", lock=self.name, thread="main" if main else "other")
        got = self._lock.acquire(blocking, timeout)
        if got:
            self.owner = threading.get_ident()
        return got

    def release(self):
        self.owner = None
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()

    def __getattr__(self, name):  # _at_fork_reinit and the like
        return getattr(self._lock, name)


def _children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _audit(event, args):
    if event == "os.kill":
        pid, signum = args
        if pid <= 0:
            return
        emit("kill", signum=int(signum), target_is_child=_ppid_of(pid) == os.getpid(),
             target_has_children=bool(_children_of(pid)),
             wakeup_fd_set=_state["wakeup"].get(os.getpid(), -1) >= 0)
    elif event == "subprocess.Popen":
        emit("spawn", executable=os.fsdecode(args[0]) if args[0] is not None else None)


def _watch_signals():
    import signal
    real_signal, real_set_wakeup_fd = signal.signal, signal.set_wakeup_fd

    def signal_(signum, handler):
        if handler == signal.SIG_DFL:
            action = "default"
        elif handler == signal.SIG_IGN:
            action = "ignore"
        else:
            action = "handler"
            if not _is_builtin(handler):
                handler = _traced_handler(handler)
        emit("signal", signum=int(signum), action=action)
        return real_signal(signum, handler)

    def set_wakeup_fd(fd, *args, **kwargs):
        old = real_set_wakeup_fd(fd, *args, **kwargs)
        _state["wakeup"][os.getpid()] = fd
        emit("wakeup-fd", set=fd >= 0)
        return old

    signal.signal = signal_
    signal.set_wakeup_fd = set_wakeup_fd
    _state["installed"]["signal.signal"] = (signal, "signal", signal_)
    _state["installed"]["signal.set_wakeup_fd"] = (signal, "set_wakeup_fd", set_wakeup_fd)


def _is_builtin(fn):
    return type(fn).__name__ == "builtin_function_or_method"


def _traced_handler(handler):
    def traced(signum, frame):
        interrupted = frame.f_code.co_name if frame is not None else None
        try:
            result = handler(signum, frame)
        except BaseException as e:
            emit("handler-ran", signum=int(signum), interrupted=interrupted,
                 raised=type(e).__name__)
            raise
        emit("handler-ran", signum=int(signum), interrupted=interrupted, raised=None)
        return result
    traced.__wrapped__ = handler
    return traced


def _watch_epoll():
    import select
    if not hasattr(select, "epoll"):
        return
    real = select.epoll

    class Epoll(object):
        """select.epoll, watched (it cannot be subclassed)."""

        def __init__(self, *args, **kwargs):
            self._epoll = real(*args, **kwargs)
            self._creator = os.getpid()
            self._registered = {}  # pid -> the fds that process registered

        def _mine(self):
            return self._registered.setdefault(os.getpid(), set())

        def register(self, fd, *args, **kwargs):
            fd = fd if isinstance(fd, int) else fd.fileno()
            self._epoll.register(fd, *args, **kwargs)
            self._mine().add(fd)
            emit("epoll-register", inherited=os.getpid() != self._creator)

        def unregister(self, fd):
            fd = fd if isinstance(fd, int) else fd.fileno()
            self._epoll.unregister(fd)
            self._mine().discard(fd)

        def poll(self, *args, **kwargs):
            events = self._epoll.poll(*args, **kwargs)
            mine = self._mine()
            emit("epoll-poll", inherited=os.getpid() != self._creator,
                 foreign=any(fd not in mine for fd, _ in events))
            return events

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._epoll.close()

        def __getattr__(self, name):  # fileno, close, closed, modify
            return getattr(self._epoll, name)

    select.epoll = Epoll
    _state["installed"]["select.epoll"] = (select, "epoll", Epoll)
    selectors = sys.modules.get("selectors")
    if selectors is not None and hasattr(selectors, "EpollSelector"):
        selectors.EpollSelector._selector_cls = Epoll


_rng = {"generators": None, "at_fork": {}, "drawn": set()}


def _rng_state(generator):
    return hash(generator.getstate())


def _first_draw(generator):
    key = (os.getpid(), id(generator))
    if key in _rng["drawn"]:
        return
    _rng["drawn"].add(key)
    at_fork = _rng["at_fork"].get(id(generator))
    emit("random-draw", inherited_state=at_fork is not None and _rng_state(generator) == at_fork)


def _watch_random():
    import random
    import weakref
    _rng["generators"] = weakref.WeakSet([random._inst])
    cls = random.Random
    real_init = cls.__init__

    def __init__(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        _rng["generators"].add(self)

    def draws_from_self(real):
        def draw(self, *args, **kwargs):
            _first_draw(self)
            return real(self, *args, **kwargs)
        return draw

    def draws_from_module(real):
        def draw(*args, **kwargs):
            _first_draw(random._inst)
            return real(*args, **kwargs)
        return draw

    cls.__init__ = __init__
    # Every method of an instance draws through these two; the module's
    # functions are bound methods of its instance, taken at import, so its
    # two that call C directly are wrapped where they are looked up.
    for owner, name, wrap in ((cls, "random", draws_from_self), (cls, "getrandbits", draws_from_self),
                              (random, "random", draws_from_module),
                              (random, "getrandbits", draws_from_module)):
        mine = wrap(getattr(owner, name))
        setattr(owner, name, mine)
        _state["installed"]["random.%s%s" % ("Random." if owner is cls else "", name)] = (
            owner, name, mine)


def _current_is_hub():
    hub = sys.modules.get("gevent.hub")
    greenlet = sys.modules.get("greenlet")
    if hub is None or greenlet is None:
        return False
    return isinstance(greenlet.getcurrent(), hub.Hub)


_gc = {"depth": 0, "ran": 0, "in_hub": False}


def _profile(frame, event, arg):
    if frame.f_code is _on_gc.__code__:
        return
    if event == "call":
        if _gc["depth"] == 0:
            _gc["ran"] += 1
        _gc["depth"] += 1
    elif event == "return":
        _gc["depth"] = max(0, _gc["depth"] - 1)


def _on_gc(phase, info):
    if phase == "start":
        _gc.update(depth=0, ran=0, in_hub=_current_is_hub())
        sys.setprofile(_profile)
        return
    sys.setprofile(None)
    at_fork = _gc.get("at_fork")
    emit("gc", in_hub=_gc["in_hub"], finalizers_ran=_gc["ran"] > 0,
         collected=info.get("collected", 0),
         shared_visited=bool(at_fork) and info.get("generation") == 2
         and at_fork["unfrozen"] > at_fork["frozen"])
    if _gc["in_hub"] and not _state["hub_gc"]:
        _state["hub_gc"] = True
        greenlet = sys.modules["greenlet"]
        previous = greenlet.settrace(None)

        def on_switch(event, args):
            if event in ("switch", "throw") and _state["switches"] < MAX_SWITCHES:
                _state["switches"] += 1
                hub = sys.modules["gevent.hub"].Hub
                origin, target = args
                emit("switch", from_hub=isinstance(origin, hub), to_hub=isinstance(target, hub))
            if previous is not None:
                previous(event, args)

        greenlet.settrace(on_switch)
