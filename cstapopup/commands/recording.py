"""`cstapopup monitor --record`'s side of the call history: opens the recorder as the file's one
writer, drives its grouped commits and retries from a timer, says on stderr whenever calls are
not being saved (and when they are again), and turns calls lost into a non-zero exit.

Kept apart from `monitor.py` so that the command itself only opens, runs and closes this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TextIO

from cstapopup.calls import texts
from cstapopup.calls.recorder import COMMIT_DELAY, FLUSH_INTERVAL, HistoryHealth, Recorder

PROG = "cstapopup monitor"


class Recording:
    """A recorder with its timer and its voice on stderr."""

    def __init__(self, recorder: Recorder, err: TextIO) -> None:
        self.recorder = recorder
        self.err = err
        self.final: HistoryHealth | None = None
        self._timer: asyncio.Task[None] | None = None
        self._told: str | None = None
        self._failing = False
        recorder.add_health_listener(self._tell)
        health = recorder.health
        if health.notice or not health.ok:
            self._tell(health)

    @classmethod
    def open(
        cls, db: str | None, devices: Iterable[str], *, snapshots: bool, err: TextIO
    ) -> Recording:
        """Raises HistoryError (HistoryInUseError when another program records into `db`)."""
        recorder = Recorder.open(
            db, monitored=devices, snapshots=snapshots, commit_delay=COMMIT_DELAY
        )
        return cls(recorder, err)

    def _tell(self, health: HistoryHealth) -> None:
        if health.notice and health.notice != self._told:
            self._told = health.notice
            print(f"{PROG}: {health.notice}", file=self.err, flush=True)
        if not health.saving:
            self._failing = True
            print(f"{PROG}: {health.message}", file=self.err, flush=True)
        elif self._failing:
            self._failing = False
            print(f"{PROG}: {texts.history_saved_again(health.lost)}", file=self.err, flush=True)
        elif health.lost:
            print(f"{PROG}: {health.message}", file=self.err, flush=True)

    def start(self) -> None:
        """Start the timer that commits and retries (call inside the running loop)."""
        self._timer = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.recorder.flush_due()

    async def close(self) -> HistoryHealth:
        """Stop the timer, settle and commit everything, close the history; the final health
        (also in `final`)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        if self.final is None:
            was_saving = self.recorder.health.saving
            self.final = self.recorder.close()
            if self.final.lost:
                print(
                    f"{PROG}: {self.final.lost} calls (or changes to calls) could not be "
                    f"saved into the call history.",
                    file=self.err,
                    flush=True,
                )
            elif not was_saving:
                print(f"{PROG}: {self.final.message}", file=self.err, flush=True)
        return self.final
