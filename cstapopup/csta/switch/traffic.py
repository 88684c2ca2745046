"""Virtual time for simulated traffic: scripts that act on the call model and pause.

A script is a generator: it acts on the model and yields how many virtual seconds to pause.
The `Scheduler` runs due scripts in the order of their virtual wake-up times (ties: the order
in which they were scheduled), and the clock the model stamps events with reads that virtual
time, so the same scripts give the same calls with the same timestamps whatever the real
timing.  `speed` maps virtual seconds to real ones (speed 10: ten times faster).  `advance()`
runs scripts without waiting (tests, benchmarks); `run()` is the asyncio task that follows
real time.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Generator, Iterable
from datetime import datetime, timedelta
from typing import Any

from .model import Call, Step, SwitchError, SwitchModel

log = logging.getLogger("cstapopup.csta.switch")

#: A script: yields pauses in virtual seconds.
Script = Generator[float, None, None]


class ScriptHandle:
    """One scheduled script (or one-shot callback)."""

    __slots__ = ("_callbacks", "_fn", "_gen", "cancelled", "done", "name")

    def __init__(
        self, name: str, gen: Script | None = None, fn: Callable[[], Any] | None = None
    ) -> None:
        self.name = name
        self._gen = gen
        self._fn = fn
        self.done = False
        self.cancelled = False
        self._callbacks: list[Callable[[ScriptHandle], None]] = []

    def cancel(self) -> None:
        """Stop the script: it takes no further step."""
        if not self.done:
            self.cancelled = True
            if self._gen is not None:
                self._gen.close()
            self._finish()

    def add_done_callback(self, fn: Callable[[ScriptHandle], None]) -> None:
        if self.done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            try:
                fn(self)
            except Exception:  # a callback must not stop the traffic
                log.exception("error in a script's done callback")

    def _step(self) -> float | None:
        """Run one step; the pause that follows, or None when finished."""
        if self._fn is not None:
            self._fn()
            return None
        assert self._gen is not None
        try:
            return max(0.0, float(next(self._gen)))
        except StopIteration:
            return None


class Scheduler:
    """Runs scripts in virtual time; see the module docstring.

    `start` is the wall-clock time of virtual second 0 (naive local time, like the PBX's).
    `after_step` is called after every step (the server flushes events to its links there).
    """

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        after_step: Callable[[], None] | None = None,
        time_source: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = (start or datetime.now()).replace(microsecond=0)
        self.speed = float(speed)
        self.after_step = after_step
        self._time = time_source
        self._heap: list[tuple[float, int, ScriptHandle]] = []
        self._seq = itertools.count()
        self._frozen: float | None = None  # the virtual time of the step being run
        self._last = 0.0  # virtual time reached so far
        self._anchor: tuple[float, float] | None = (
            None  # (real, virtual) once run() follows real time
        )
        self._wakeup: asyncio.Event | None = None
        self.steps = 0

    # Time ---------------------------------------------------------------------------------

    def virtual_now(self) -> float:
        """Seconds of virtual time since `start`."""
        if self._frozen is not None:
            return self._frozen
        if self._anchor is None:
            return self._last
        real, virtual = self._anchor
        return max(self._last, virtual + (self._time() - real) * self.speed)

    def now(self) -> datetime:
        """The switch's clock: `start` plus the virtual time."""
        return self.start + timedelta(seconds=self.virtual_now())

    def real_seconds(self, virtual: float) -> float:
        return virtual / self.speed

    # Scheduling -----------------------------------------------------------------------------

    def spawn(self, script: Script, delay: float = 0.0, name: str = "script") -> ScriptHandle:
        """Start a script after `delay` virtual seconds."""
        handle = ScriptHandle(name, gen=script)
        self._push(self.virtual_now() + max(0.0, delay), handle)
        return handle

    def call_later(self, delay: float, fn: Callable[[], Any], name: str = "timer") -> ScriptHandle:
        """Call `fn` once after `delay` virtual seconds."""
        handle = ScriptHandle(name, fn=fn)
        self._push(self.virtual_now() + max(0.0, delay), handle)
        return handle

    def pending(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.done)

    def _push(self, at: float, handle: ScriptHandle) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), handle))
        if self._wakeup is not None:
            self._wakeup.set()

    def _run_one(self) -> None:
        at, _, handle = heapq.heappop(self._heap)
        if handle.done:
            return
        self._frozen = at
        try:
            pause = handle._step()
        except Exception:
            # A script that fails ends; the switch and the other scripts go on.
            log.exception("simulated traffic: script %s failed", handle.name)
            pause = None
        finally:
            self._frozen = None
            self._last = max(self._last, at)
        self.steps += 1
        if pause is None:
            handle._finish()
        else:
            self._push(at + pause, handle)
        if self.after_step is not None:
            try:
                self.after_step()
            except Exception:  # the traffic must go on
                log.exception("simulated traffic: error after a step of %s", handle.name)

    def advance(self, seconds: float) -> None:
        """Run every step due in the next `seconds` of virtual time, without waiting.

        Not to be mixed with a running `run()`.
        """
        target = self._last + seconds
        while self._heap and self._heap[0][0] <= target:
            self._run_one()
        self._last = max(self._last, target)

    def run_until_idle(self, limit: float = 86_400.0) -> None:
        """Run steps without waiting until no script is left (or `limit` virtual seconds pass)."""
        end = self._last + limit
        while self._heap and self._heap[0][0] <= end:
            self._run_one()

    async def run(self) -> None:
        """Follow real time: run each step when its virtual time has come.  Runs until cancelled."""
        self._wakeup = asyncio.Event()
        self._anchor = (self._time(), self._last)
        try:
            while True:
                if not self._heap:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                at = self._heap[0][0]
                delay = (at - self.virtual_now()) / self.speed
                if delay > 0.0005:
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), delay)
                    except TimeoutError:
                        pass
                    continue
                self._run_one()
                # Let the links read and write between steps.
                await asyncio.sleep(0)
        finally:
            self._wakeup = None
            # Freeze time where it is, so that a later run() continues from here.
            self._last = self.virtual_now()
            self._anchor = None


class Traffic:
    """What a traffic script works with: the model, the scheduler, and helpers that keep a
    script going when a client changed the call under it (a client may answer, deflect or
    clear any call at any time)."""

    def __init__(self, model: SwitchModel, scheduler: Scheduler) -> None:
        self.model = model
        self.scheduler = scheduler
        model.listeners.append(self.watch)

    def attempt(self, operation: Callable[..., Step], *args: Any, **kwargs: Any) -> Step | None:
        """Run a model operation; None (and a debug line) when the switch refuses it."""
        try:
            return operation(*args, **kwargs)
        except SwitchError as exc:
            log.debug(
                "simulated traffic: %s%r refused: %s",
                getattr(operation, "__name__", operation),
                args,
                exc,
            )
            return None

    def incoming(self, caller: str | None, device: str) -> Call | None:
        """An outside caller (`caller` as the PBX presents it; None: withheld) rings at
        `device` now.  The call, or None when the switch refuses it (e.g. `device` is busy)."""
        step = self.attempt(self.model.incoming_call, caller, device)
        if step is None or step.call is None or step.call.ended:
            return None
        return step.call

    def alive(self, call: Call | None) -> bool:
        return call is not None and not call.ended

    def answer_where_ringing(self, call: Call) -> str | None:
        """Answer at whichever device the call rings now (it may have been deflected or forwarded)."""
        if not self.alive(call):
            return None
        device = call.ringing_device()
        if device is None:
            return None
        return device if self.attempt(self.model.answer, call, device) else None

    def finish(self, call: Call | None, by: str | None = None) -> None:
        """End the call if it is still there: `by` hangs up if it is a party, else the party
        outside, else the whole call is cleared."""
        if not self.alive(call):
            return
        assert call is not None
        if (
            by is not None
            and call.party(by) is not None
            and self.attempt(self.model.hang_up, call, by)
        ):
            return
        if call.outside() is not None and self.attempt(self.model.remote_hang_up, call):
            return
        if self.alive(call):
            self.attempt(self.model.clear_call, call)

    def watch(self, step: Step) -> None:
        """Start the no-answer timers for the devices that started ringing in `step`."""
        for call, device in step.ringing:
            setting = self.model.forwarding.get(device)
            if setting is not None:
                self.scheduler.call_later(
                    setting[1],
                    functools.partial(self.attempt, self.model.forward_no_answer, call, device),
                    name=f"no-answer {device}",
                )

    def spawn_all(self, scripts: Iterable[tuple[Script, float, str]]) -> list[ScriptHandle]:
        return [self.scheduler.spawn(s, d, n) for s, d, n in scripts]
