"""The app's link to the PBX: one CstaClient, its monitors, its events and its states in words.

`PbxLink` has the client connect and reconnect (the client's own capped, jittered back-off,
csta.backoff), monitors the configured devices, and hands every monitor event and link state
to callbacks, in the loop's thread.  A PBX that turns the link down for now (all its CSTA
links in use) is tried again; only a login refused for good stops the attempts (a wrong
password does not get better by trying again every minute, and the PBX may lock the
account).  No Qt here: the controller bridges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import replace

from cstapopup.csta import acse, tlsconfig
from cstapopup.csta.client import (
    AssociationError,
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


def client_for(params: ConnectionParameters, options: ClientOptions | None = None, *,
               reconnect: bool = False) -> CstaClient:
    """A client for the connection settings (reconnecting by itself if `reconnect`)."""
    opts = replace(options or ClientOptions(), reconnect=reconnect, ssl=ssl_context(params))
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
    except AssociationRejectedError as exc:
        raise RuntimeError(rejection_text(f"{params.host}:{params.port}", params.user,
                                          exc)) from None
    except ConnectError as exc:  # all CSTA links in use too: the message says so
        raise RuntimeError(str(exc)) from None
    except TimeoutError:
        raise RuntimeError(
            f"no answer from {params.host}:{params.port} within {timeout:g} s") from None
    finally:
        with contextlib.suppress(Exception):
            await client.close(timeout=2.0)
    return f"Connected: {params.host}:{params.port} accepted the login of {params.user}."


def rejection_text(where: str, user: str, exc: AssociationError) -> str:
    """What to tell the user about a login the PBX refused for good."""
    if exc.result is None:  # refused before any answer (e.g. unsendable characters)
        return str(exc)
    name = exc.diagnostic_name
    if exc.diagnostic_source == acse.SERVICE_USER and exc.diagnostic in (
            None, acse.DIAG_NULL, acse.DIAG_NO_REASON, acse.DIAG_AUTHENTICATION_FAILURE,
            acse.DIAG_AUTHENTICATION_REQUIRED):
        why = "wrong user name or password?" + (f" ({name})" if exc.diagnostic else "")
    else:
        why = acse.diagnostic_words(exc.diagnostic_source, exc.diagnostic) or str(exc)
    return f"the PBX at {where} refused the login of {user}: {why}"


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
        self.client = client_for(params, options, reconnect=True)
        self.label = label or f"{params.host}:{params.port}"
        self.state = DOWN
        self.reason = "not started"
        self.failed: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._came_up = asyncio.Event()
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
        """Start the client (it connects, backs off and reconnects by itself); after each
        time the link comes up, monitor what it does not keep yet.  Ends when the client
        stops trying: the PBX refused the login for good."""
        await self.client.start()
        finished = asyncio.ensure_future(self.client.wait_finished())
        came_up: asyncio.Future[object] | None = None
        try:
            while True:
                came_up = asyncio.ensure_future(self._came_up.wait())
                await asyncio.wait({came_up, finished}, return_when=asyncio.FIRST_COMPLETED)
                came_up.cancel()
                if finished.done():
                    break
                self._came_up.clear()
                await self._monitor_new()
                if self._up and self.client.state == "up":
                    self._set(UP, self._up_reason())
        finally:
            finished.cancel()
            if came_up is not None:
                came_up.cancel()
        error = self.client.last_error
        if self.client.state == "rejected" and isinstance(error, AssociationError):
            # Set here, as the task's last act: once it is seen, no attempt follows.
            self._set(REJECTED, rejection_text(self.label, self.params.user, error)
                      + ". Correct it in the settings")

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
        if self.state in (REJECTED, CLOSED):
            return
        if item.state == "connecting":
            self._up = False
            self._set(CONNECTING, f"connecting to {self.label}"
                      + (f" (attempt {item.attempt})" if item.attempt > 1 else ""))
        elif item.state == "down":
            was_up, self._up = self._up, False
            text = item.reason
            if item.retry_in is not None:
                verb = "reconnecting" if was_up else "retrying"
                text += f"; {verb} in {_seconds(item.retry_in)}"
            self._set(DOWN, text)
        elif item.state == "up" and not item.reason.startswith("cannot monitor"):
            self._up = True
            self._came_up.set()  # _run monitors what is new, then says "up"
        elif item.state == "up":
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
