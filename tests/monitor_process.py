"""Helpers for tests that run `cstapopup monitor` as a real process: start it, follow its stderr
line by line (bounded waits), signal it and collect its exit code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

TIMEOUT = 20.0


class MonitorProcess:
    """`python -m cstapopup monitor ARGS` with its stderr read as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.err_lines: list[str] = []
        self._changed = asyncio.Event()
        self._ended = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str, stdout: int | None = asyncio.subprocess.DEVNULL,
                    env: dict[str, str] | None = None) -> MonitorProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cstapopup", "monitor", *args,
            stdout=stdout, stderr=asyncio.subprocess.PIPE, env=env or dict(os.environ))
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while raw := await self.proc.stderr.readline():
            self.err_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self._changed.set()
        self._ended = True
        self._changed.set()

    @property
    def stderr(self) -> str:
        return "\n".join(self.err_lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.err_lines)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Until `predicate()` holds (it looks at err_lines), within `timeout`."""

        async def loop() -> None:
            while not predicate():
                if self._ended:
                    raise AssertionError(f"monitor ended (rc {self.proc.returncode}); "
                                         f"stderr:\n{self.stderr}")
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"condition not met in {timeout} s; stderr:\n"
                                 f"{self.stderr}") from None

    async def wait_line(self, text: str, times: int = 1, timeout: float = TIMEOUT) -> None:
        await self.wait_for(lambda: self.count(text) >= times, timeout)

    async def exit_code(self, timeout: float = TIMEOUT) -> int:
        """Wait for the process to end by itself (within `timeout`)."""
        try:
            rc = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"monitor still running after {timeout} s; stderr:\n"
                                 f"{self.stderr}") from None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader, TIMEOUT)
        return rc

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = TIMEOUT) -> tuple[int, float]:
        """Send `sig`; the exit code and the seconds until the process ended."""
        loop = asyncio.get_running_loop()
        sent = loop.time()
        self.proc.send_signal(sig)
        rc = await self.exit_code(timeout)
        return rc, loop.time() - sent

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
