"""Driving an asyncio loop without a clock.

``LoopProbe`` wraps a loop's selector so a scenario can run the loop and know
when to stop, by events alone:

* **idle**: before a select() that may sleep (timeout None: no ready
  callbacks, no timers), the probe asks, with a zero-timeout select() on the
  loop's epoll fd, whether the epoll has anything to report. If not, the
  select would block: the loop has nothing more to do, so the probe stops it
  there instead of letting it sleep.
* **spin**: a select() that was allowed to sleep but came back with no events
  for the loop is a wake-up for nothing. The probe counts these, notes the
  fds the raw epoll reported, and stops the loop after ``spin_limit``.

Private attributes used: ``loop._selector`` (every asyncio version 3.6+).
The raw epoll is read through a dup of the selector's public ``fileno()``.
"""

import os
import select


def readable_now(fd):
    """Whether ``fd`` is readable right now (a zero-timeout select)."""
    return bool(select.select([fd], [], [], 0)[0])


def raw_events(epfd):
    """What the epoll instance behind ``epfd`` reports right now, unfiltered.
    Polls a duplicate of the fd: the same instance, public API on 3.6+."""
    raw = select.epoll.fromfd(os.dup(epfd))
    try:
        return raw.poll(0)
    finally:
        raw.close()


class LoopProbe(object):
    def __init__(self, loop, spin_limit=None):
        self.loop = loop
        self.selector = loop._selector
        self.real_select = self.selector.select
        self.selector.select = self.select
        self.spin_limit = spin_limit
        self.wakeups_for_nothing = 0
        self.went_idle = False
        self.unknown_fds = set()

    def select(self, timeout=None):
        epfd = self.selector.fileno()
        if timeout is None and not readable_now(epfd):
            self.went_idle = True
            self.loop.stop()
            return []
        ready = self.real_select(timeout)
        if not ready and (timeout is None or timeout > 0):
            self.wakeups_for_nothing += 1
            self.unknown_fds.update(fd for fd, _ in raw_events(epfd))
            if self.spin_limit is not None and self.wakeups_for_nothing >= self.spin_limit:
                self.loop.stop()
        return ready

    def run(self):
        """Runs the loop until it goes idle (or spins ``spin_limit`` times)."""
        self.loop.run_forever()
        return self
