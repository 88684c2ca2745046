"""`cstapopup monitor --record` as a real process against the simulator on 127.0.0.1, stopped
cleanly (SIGTERM) or killed (SIGKILL): no call stays "in progress" for ever (issue 13.4), and a
call still up when recording starts again is continued from the monitor's snapshot."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from cstapopup.calls.model import Call, Outcome
from cstapopup.calls.recorder import STOPPED_HOP
from cstapopup.calls.store import HistoryError, HistoryStore
from cstapopup.csta.switch.server import SwitchServer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

DEVICES = ["100", "101"]
CALLER = "00891234567"
OTHER = "00897654321"


class Monitor:
    """A `cstapopup monitor --record` process; its stderr collected as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.err: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, port: int, db: Path) -> Monitor:
        args = ["--port", str(port), "--record", "--db", str(db), "--keepalive", "60"]
        for d in DEVICES:
            args += ["--device", d]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cstapopup", "monitor", *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ))
        monitor = cls(proc)
        await monitor.wait_for(lambda: sum("monitoring" in line for line in monitor.err) == 2,
                               "both monitors started")
        return monitor

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.err.append(line.decode(errors="replace"))

    async def wait_for(self, condition, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s; exit "
                                     f"{self.proc.returncode}; stderr: {''.join(self.err)}")
            await asyncio.sleep(0.05)

    async def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 20)
        await asyncio.wait_for(self._reader, 5)
        return code


def rows(db: Path) -> dict[str, Call]:
    """The history as another program reads it (read-only), by remote number."""
    try:
        with HistoryStore(db, readonly=True) as store:
            return {c.remote_number: c for c in store.iter_calls()}
    except HistoryError:
        return {}


def stuck(db: Path) -> list[Call]:
    return [c for c in rows(db).values() if c.is_live]


@pytest.fixture
async def server():
    server = SwitchServer(port=0, devices=DEVICES, remote_answer_after=None,
                          auto_answer_after=None)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_sigterm_settles_the_calls_going_on(server, tmp_path):
    db = tmp_path / "history.sqlite3"
    monitor = await Monitor.start(server.port, db)
    try:
        model = server.model
        finished = model.incoming_call(OTHER, "101").call
        model.answer(finished, "101")
        model.hang_up(finished, "101")
        talking = model.incoming_call(CALLER, "100").call
        model.answer(talking, "100")
        await monitor.wait_for(lambda: CALLER in rows(db) and rows(db)[CALLER].is_live
                               and rows(db).get(OTHER) is not None
                               and rows(db)[OTHER].ended_at is not None,
                               "the calls committed (within the commit delay)")
        code = await monitor.stop(signal.SIGTERM)
    finally:
        if monitor.proc.returncode is None:
            monitor.proc.kill()
    assert code == 0, "".join(monitor.err)
    assert stuck(db) == []
    call = rows(db)[CALLER]
    assert call.end_unknown and call.ended_at is None
    assert call.outcome is Outcome.ANSWERED          # answered was seen: a fact
    assert call.hops[-1].kind == STOPPED_HOP
    done = rows(db)[OTHER]
    assert done.outcome is Outcome.ANSWERED and not done.end_unknown


async def test_sigkill_leaves_calls_in_progress_until_the_next_start_settles_or_continues(
        server, tmp_path):
    db = tmp_path / "history.sqlite3"
    model = server.model
    monitor = await Monitor.start(server.port, db)
    try:
        talking = model.incoming_call(CALLER, "100").call
        model.answer(talking, "100")
        ringing = model.incoming_call(OTHER, "101").call
        await monitor.wait_for(lambda: {CALLER, OTHER} <= set(rows(db)), "both calls committed")
        assert await monitor.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        if monitor.proc.returncode is None:
            monitor.proc.kill()
    # The crash as it was: both calls left in progress.
    assert {c.remote_number for c in stuck(db)} == {CALLER, OTHER}
    model.clear_call(ringing)                         # ends while nobody records

    again = await Monitor.start(server.port, db)
    try:
        assert any("left in progress" in line for line in again.err), again.err
        # Still up at the PBX: its snapshot continues the row; then it ends, and is seen to.
        await again.wait_for(lambda: rows(db)[CALLER].is_live, "the call continued")
        model.hang_up(talking, "100")
        await again.wait_for(lambda: rows(db)[CALLER].ended_at is not None,
                             "the continued call ended")
        assert await again.stop(signal.SIGTERM) == 0, "".join(again.err)
    finally:
        if again.proc.returncode is None:
            again.proc.kill()
    assert stuck(db) == []
    call = rows(db)[CALLER]
    kinds = [h.kind for h in call.hops]
    assert not call.end_unknown and call.ended_at is not None
    assert call.outcome is Outcome.UNKNOWN           # part of it went unseen
    assert STOPPED_HOP in kinds and "under_way" in kinds and kinds[-1] == "cleared"
    gone = rows(db)[OTHER]                            # ended unseen: settled, not continued
    assert gone.end_unknown and gone.outcome is Outcome.UNKNOWN
    assert gone.hops[-1].kind == STOPPED_HOP
    assert len(rows(db)) == 2                         # one row per call, never two


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB file system (tmpfs), and a way to fill what is left of it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    import subprocess

    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    ballast = folder / "ballast"
    with open(ballast, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return ballast


def saying(monitor: Monitor, text: str):
    return lambda: any(text in line for line in monitor.err)


async def test_monitor_says_when_calls_are_not_saved_and_again_when_they_are(
        server, small_disk):
    db = small_disk / "history.sqlite3"
    monitor = await Monitor.start(server.port, db)
    model = server.model
    numbers = [f"0089555{i:04d}" for i in range(40)]
    try:
        ballast = fill(small_disk)
        for number in numbers:
            call = model.incoming_call(number, "100").call
            model.answer(call, "100")
            model.hang_up(call, "100")
            await asyncio.sleep(0.01)
        await monitor.wait_for(saying(monitor, "Calls are not being saved:"), "said")
        line = next(x for x in monitor.err if "not being saved" in x)
        assert "the disk is full" in line or "I/O error" in line, line
        ballast.unlink()
        await monitor.wait_for(saying(monitor, "Calls are being saved again"), "said again")
        code = await monitor.stop(signal.SIGTERM)
    finally:
        if monitor.proc.returncode is None:
            monitor.proc.kill()
    assert code == 0, "".join(monitor.err)
    assert set(numbers) <= set(rows(db))             # every call waited and was written


async def test_monitor_exits_non_zero_when_calls_were_lost(server, small_disk):
    db = small_disk / "history.sqlite3"
    monitor = await Monitor.start(server.port, db)
    model = server.model
    try:
        fill(small_disk)
        for i in range(5):
            call = model.incoming_call(f"0089666{i:04d}", "100").call
            model.answer(call, "100")
            model.hang_up(call, "100")
        await monitor.wait_for(saying(monitor, "Calls are not being saved:"), "said")
        code = await monitor.stop(signal.SIGTERM)     # the disk is still full
    finally:
        if monitor.proc.returncode is None:
            monitor.proc.kill()
    assert code == 1
    assert any("could not be saved into the call history" in line for line in monitor.err)
