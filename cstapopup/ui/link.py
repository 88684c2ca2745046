"""The app's link to the PBX: one CstaClient, its connection policy, its monitors and its events.

`PbxLink` connects (and reconnects with capped, jittered backoff), monitors the configured
devices, and hands every monitor event and link state to callbacks, in the loop's thread.
It stops retrying after a rejected login (a wrong password does not get better by trying
again every minute, and the PBX may lock the account).  No Qt here: the controller bridges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from cstapopup.csta import tlsconfig
from cstapopup.csta.client import (
    AssociationRejectedError,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaClientError,
    CstaServiceError,
    LinkDownError,
    LinkStateChanged,
    MonitorEvent,
    MonitorSnapshot,
    RequestTimeout,
)
from cstapopup.csta.events import ConnectionId, CstaEvent, SnapshotCall
from cstapopup.settings import ConnectionParameters

log = logging.getLogger(__name__)

#: The HiPath factory password, used when none is stored (as `cstapopup monitor` does).
DEFAULT_PASSWORD = "77777"

#: Link states reported to `on_state`: the tray's four plus "rejected" (shown as down).
CONNECTING, UP, DOWN, REJECTED, CLOSED = "connecting", "up", "down", "rejected", "closed"

# What the PBX's universalFailure reasons mean for someone looking at the tray.
_MONITOR_FAILURES = {
    "invalid_monitor_object": "the PBX does not know this device",
    "invalid_device_id": "the PBX does not know this device",
    "invalid_monitor_object_type": "the PBX does not know this device",
    "overall_monitor_limit_exceeded": "the PBX monitors too many devices already",
    "object_monitor_limit_exceeded": "the PBX monitors this device too often already",
    "generic_operation_rejection": "the PBX refused (is CSTA licensed for it?)",
}


def monitor_failure_text(device: str, exc: Exception) -> str:
    reason = exc.reason if isinstance(exc, CstaServiceError) else None
    meaning = _MONITOR_FAILURES.get(reason or "")
    if meaning:
        return f"cannot monitor {device}: {meaning} ({reason})"
    return f"cannot monitor {device}: {reason or exc}"


def ssl_context(params: ConnectionParameters) -> ssl.SSLContext | None:
    """The TLS context for the settings (the system's CAs, or the given CA file); None without
    TLS.  `tlsconfig.TlsConfigError` (a ValueError saying which file and why) when the CA
    file cannot be used."""
    return tlsconfig.client_context_from(params)


def client_for(params: ConnectionParameters, options: ClientOptions | None = None) -> CstaClient:
    """A client for the connection settings.  Reconnection stays off: `PbxLink` decides."""
    opts = replace(options or ClientOptions(), reconnect=False, ssl=ssl_context(params))
    return CstaClient(params.host, params.port, params.user, params.password or DEFAULT_PASSWORD,
                      options=opts)


async def test_connection(params: ConnectionParameters, timeout: float = 8.0) -> str:
    """Log in once (the settings dialog's "Test connection"); a message for the user, or an
    exception whose text is one."""
    try:
        client = client_for(params, ClientOptions(connect_timeout=timeout, request_timeout=timeout))
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    try:
        await asyncio.wait_for(client.connect(), timeout + 1)
    except AssociationRejectedError:
        raise RuntimeError(f"the PBX at {params.host}:{params.port} refused the login of "
                           f"{params.user}: wrong user name or password") from None
    except ConnectError as exc:
        raise RuntimeError(str(exc)) from None
    except TimeoutError:
        raise RuntimeError(
            f"no answer from {params.host}:{params.port} within {timeout:g} s") from None
    finally:
        with contextlib.suppress(Exception):
            await client.close(timeout=2.0)
    return f"Connected: {params.host}:{params.port} accepted the login of {params.user}."


@dataclass
class Backoff:
    """Capped exponential delays with jitter (so many clients do not retry in step)."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.initial

    def reset(self) -> None:
        self._next = self.initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return max(0.05, delay * (1 + self.rng.uniform(-self.jitter, self.jitter)))


StateCallback = Callable[[str, str], None]
EventCallback = Callable[[str, CstaEvent], None]


class PbxLink:
    """Keeps one PBX link up and monitored; see the module docstring.

    `on_state(state, reason)`: "connecting", "up" (reason: what is monitored, and what could
    not be), "down" (reason, and when it retries), "rejected" (no more retries), "closed".
    `on_event(device, event)`: every event of every monitor, in order.
    `on_monitor_failed(device, text)`: a device could not be monitored (once per attempt).
    `on_snapshot(device, calls)`: the calls at a device right after its monitor was started
    or restored (None when the PBX gave no snapshot), in order with the events.
    """

    def __init__(self, params: ConnectionParameters, devices: Sequence[str], *,
                 on_state: StateCallback, on_event: EventCallback,
                 on_monitor_failed: Callable[[str, str], None] | None = None,
                 on_snapshot: Callable[[str, tuple[SnapshotCall, ...] | None], None] | None = None,
                 options: ClientOptions | None = None, label: str | None = None) -> None:
        self.params = params
        self.devices = list(dict.fromkeys(str(d) for d in devices))
        self._on_state = on_state
        self._on_event = on_event
        self._on_monitor_failed = on_monitor_failed or (lambda d, t: None)
        self._on_snapshot = on_snapshot or (lambda d, c: None)
        base = options or ClientOptions()
        self.client = client_for(params, base)
        self.backoff = Backoff(base.backoff_initial, base.backoff_max, base.backoff_jitter,
                               base.rng)
        self.label = label or f"{params.host}:{params.port}"
        self.state = DOWN
        self.reason = "not started"
        self.failed: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._dropped = asyncio.Event()
        self._up = False

    # -- life cycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        consumer_ready = loop.create_future()
        self._consumer = asyncio.create_task(self._consume(consumer_ready), name="pbx-events")
        await consumer_ready   # events() is subscribed before the first byte can arrive
        self._task = asyncio.create_task(self._run(), name="pbx-link")

    async def stop(self, timeout: float = 3.0) -> None:
        """Leave the PBX properly (monitors stopped, association released), within `timeout`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await asyncio.wait_for(self.client.close(timeout=timeout / 2), timeout)
        except (TimeoutError, CstaClientError, OSError) as exc:
            log.warning("closing the PBX link: %s", exc)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer
        self._set(CLOSED, "closed")

    # -- services (errors are CstaClientError subclasses with a readable message)

    async def answer(self, connection: ConnectionId) -> None:
        await self.client.answer_call(connection)

    async def make_call(self, calling: str, called: str) -> ConnectionId:
        return await self.client.make_call(calling, called)

    # -- internals

    def _set(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        try:
            self._on_state(state, reason)
        except Exception:
            log.exception("link state callback failed")

    def _up_reason(self) -> str:
        monitored = [d for d in self.devices if d not in self.failed]
        text = f"connected to {self.label}"
        if monitored:
            text += ", monitoring " + device_ranges(monitored)
        if self.failed:
            text += "; " + "; ".join(self.failed.values())
        return text

    async def _run(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            self._set(CONNECTING, f"connecting to {self.label}"
                      + (f" (attempt {attempt})" if attempt > 1 else ""))
            self._dropped.clear()
            self._up = False
            try:
                await self.client.connect()
            except AssociationRejectedError:
                self._set(REJECTED, f"the PBX at {self.label} refused the login of "
                                    f"{self.params.user}: wrong user name or password? "
                                    "Correct it in the settings")
                return
            except ConnectError as exc:
                wait = self.backoff.next()
                self._set(DOWN, f"{exc}; retrying in {_seconds(wait)}")
                await asyncio.sleep(wait)
                continue
            attempt = 0
            self.backoff.reset()
            self._up = True
            await self._monitor_new()
            if not self._dropped.is_set():
                self._set(UP, self._up_reason())
            await self._dropped.wait()
            # As the client would: a short pause before the next attempt, then back off.
            await asyncio.sleep(self.backoff.next())

    async def _monitor_new(self) -> None:
        """Monitor the devices the client does not keep yet (the first time, and devices that
        failed before); those it keeps, it re-monitors by itself after a reconnect."""
        kept = {h.device for h in self.client.monitors}
        for device in self.devices:
            if device in kept:
                continue
            try:
                await self.client.monitor_start(device)
                self.failed.pop(device, None)
            except CstaServiceError as exc:
                text = monitor_failure_text(device, exc)
                self.failed[device] = text
                log.error("%s", text)
                self._on_monitor_failed(device, text)
            except (LinkDownError, RequestTimeout) as exc:
                log.warning("monitor %s not started: %s", device, exc)
                return
            except CstaClientError as exc:
                text = monitor_failure_text(device, exc)
                self.failed[device] = text
                self._on_monitor_failed(device, text)

    async def _consume(self, ready: asyncio.Future[None]) -> None:
        events = self.client.events()
        # The generator subscribes on its first step; start it now, then report ready.
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        ready.set_result(None)
        try:
            item = await first
            while True:
                self._take(item)
                item = await events.__anext__()
        except StopAsyncIteration:
            return
        finally:
            await events.aclose()

    def _take(self, item: object) -> None:
        if isinstance(item, MonitorEvent):
            try:
                self._on_event(item.device, item.event)
            except Exception:
                log.exception("handling %s from %s failed", item.event.name, item.device)
            return
        if isinstance(item, MonitorSnapshot):
            try:
                self._on_snapshot(item.device, item.calls)
            except Exception:
                log.exception("handling the snapshot of %s failed", item.device)
            return
        if not isinstance(item, LinkStateChanged):
            return
        if item.state == "down" and self._up:
            self._up = False
            self._dropped.set()
            self._set(DOWN, f"{item.reason}; reconnecting")
        elif item.state == "up" and item.reason.startswith("cannot monitor"):
            # After a reconnect the client re-monitors by itself and reports failures so.
            device = item.reason.split(":", 1)[0].removeprefix("cannot monitor ").strip()
            self.failed[device] = item.reason
            self._on_monitor_failed(device, item.reason)
            if self.state == UP:
                self._set(UP, self._up_reason())


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"


def device_ranges(devices: Sequence[str]) -> str:
    """100, 101, 102, 105 -> "100–102, 105" (short enough for a tray menu)."""
    parts: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            parts.append(run[0] if len(run) < 3 else f"{run[0]}–{run[-1]}")
            if len(run) == 2:
                parts.append(run[1])
            run.clear()

    for d in devices:
        if run and d.isdigit() and run[-1].isdigit() and len(d) == len(run[-1]) \
                and int(d) == int(run[-1]) + 1:
            run.append(d)
            continue
        flush()
        run.append(d)
    flush()
    return ", ".join(parts)
