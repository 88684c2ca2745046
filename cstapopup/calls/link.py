"""The app's link to the PBX: one CstaClient, its monitors, its events, and its states as
typed values.

`PbxLink` has the client connect and reconnect (the client's own capped, jittered back-off,
csta.backoff), monitors the configured devices, and hands every monitor event and link state
to callbacks, in the loop's thread.  A PBX that turns the link down for now (all its CSTA
links in use) is tried again; only a login refused for good stops the attempts (a wrong
password does not get better by trying again every minute, and the PBX may lock the
account).

What the desk is told is data, never a sentence to parse: a `LinkChange` (the `LinkState`,
the `LinkFault` behind a down link, the words for the user) and a `MonitorFailure` per device
the PBX would not monitor (its universalFailure reason and what it means).  `DeskLink` is the
one interface the desk uses; `PbxLink` is the way in through a link of our own,
`calls.gateway_link.GatewayLink` the other, through the office gateway.  No Qt here.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cstapopup.calls import texts
from cstapopup.csta import acse, tlsconfig
from cstapopup.csta.client import (
    AssociationError,
    AssociationRejectedError,
    AssociationTransientError,
    ClientItem,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaClientError,
    CstaServiceError,
    LinkDownError,
    LinkStateChanged,
    MonitorEvent,
    MonitorSnapshot,
    MonitorStartError,
    RequestTimeout,
)
from cstapopup.csta.defaults import DEFAULT_PASSWORD  # when none is stored
from cstapopup.csta.events import ConnectionId, CstaEvent, SnapshotCall
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.settings import ConnectionParameters

log = logging.getLogger(__name__)


class LinkState(str, enum.Enum):
    """Where the link stands.  A str: `state == "up"` reads as it says."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"  # not up; `LinkChange.retry_in` says when it tries again
    REJECTED = "rejected"  # the PBX refused the login for good: no more attempts
    CLOSED = "closed"  # stopped by the app


class LinkFault(str, enum.Enum):
    """Why a link is down (or rejected).  The first five are a link of our own (PbxLink);
    the others the way through the office gateway (calls.gateway_link)."""

    UNREACHABLE = "unreachable"  # no TCP (or TLS) connection, or no answer to the login
    BUSY = "busy"  # the PBX turned the link down for now (links in use)
    LOST = "lost"  # it was up and dropped
    REJECTED = "rejected"  # login refused for good (wrong user name or password)
    SETUP = "setup"  # the link could not even be set up (a bad CA file)
    BROKER_UNREACHABLE = "broker_unreachable"  # no connection to the broker, or it broke
    BROKER_REFUSED = "broker_refused"  # the broker refused the user or password
    NO_GATEWAY = "no_gateway"  # the broker is there, no office gateway for the site
    GATEWAY_GONE = "gateway_gone"  # the office gateway stopped, or vanished (its last will)
    PBX_DOWN = "pbx_down"  # the office gateway runs, its PBX link is down


@dataclass(frozen=True, slots=True)
class LinkChange:
    """A link state as the desk gets it: the state, the fault behind a down link (None when
    up, connecting or closed), the words for the user (and the technical ones behind them),
    and when the next attempt comes."""

    state: LinkState
    text: str
    fault: LinkFault | None = None
    retry_in: float | None = None
    attempt: int = 0
    #: The system's own words behind `text` ("Name or service not known"), "" if none: `text`
    #: is in words for the user (calls.texts.link_problem), this is for the details.
    detail: str = ""


#: What the PBX's universalFailure reasons mean for a monitor, in words.
_MONITOR_FAILURES = {
    "invalid_monitor_object": QT_TRANSLATE_NOOP("Link", "the PBX does not know this device"),
    "invalid_device_id": QT_TRANSLATE_NOOP("Link", "the PBX does not know this device"),
    "invalid_monitor_object_type": QT_TRANSLATE_NOOP("Link", "the PBX does not know this device"),
    "overall_monitor_limit_exceeded": QT_TRANSLATE_NOOP(
        "Link", "the PBX monitors as many devices as it can"
    ),
    "object_monitor_limit_exceeded": QT_TRANSLATE_NOOP(
        "Link", "the PBX monitors this device too often already"
    ),
    "generic_operation_rejection": QT_TRANSLATE_NOOP(
        "Link", "the PBX refused (is CSTA licensed for it?)"
    ),
}


def _monitor_words(reason: str | None) -> str | None:
    """What a monitor's universalFailure reason means, in the user's language."""
    words = _MONITOR_FAILURES.get(reason or "")
    return translate("Link", words) if words else None


#: Reasons after which asking for more monitors in the same round is pointless.
LIMIT_REASONS = frozenset({"overall_monitor_limit_exceeded"})


@dataclass(frozen=True, slots=True)
class MonitorFailure:
    """A device the PBX would not monitor: its universalFailure `reason` (None when the
    request failed otherwise), what that means (`words`), and whether we asked at all
    (`asked` False: not asked, the PBX's monitor limit was reached before it)."""

    device: str
    reason: str | None
    words: str
    asked: bool = True

    @property
    def text(self) -> str:
        """ "cannot monitor 999: the PBX does not know this device (invalid_monitor_object)"."""
        known = self.reason is not None and self.reason in _MONITOR_FAILURES
        if known:
            return translate("Link", "cannot monitor {device}: {why} ({reason})").format(
                device=self.device, why=self.words, reason=self.reason
            )
        return translate("Link", "cannot monitor {device}: {why}").format(
            device=self.device, why=self.words
        )

    @classmethod
    def from_error(cls, device: str, exc: BaseException) -> MonitorFailure:
        reason = exc.reason if isinstance(exc, CstaServiceError) else None
        words = _monitor_words(reason) or reason or str(exc)
        return cls(device, reason, words)

    @classmethod
    def from_reason(cls, device: str, reason: str) -> MonitorFailure:
        """The PBX's universalFailure reason (a name such as "invalid_monitor_object")."""
        return cls(device, reason, _monitor_words(reason) or reason)

    @classmethod
    def not_asked(cls, device: str, reason: str) -> MonitorFailure:
        why = _monitor_words(reason) or reason
        return cls(
            device, reason, translate("Link", "not asked: {why}").format(why=why), asked=False
        )


def ssl_context(params: ConnectionParameters) -> ssl.SSLContext | None:
    """The TLS context for the settings (the system's CAs, or the given CA file); None without
    TLS.  `tlsconfig.TlsConfigError` (a ValueError saying which file and why) when the CA
    file cannot be used."""
    return tlsconfig.client_context_from(params)


def client_for(
    params: ConnectionParameters, options: ClientOptions | None = None, *, reconnect: bool = False
) -> CstaClient:
    """A client for the connection settings (reconnecting by itself if `reconnect`)."""
    opts = replace(options or ClientOptions(), reconnect=reconnect, ssl=ssl_context(params))
    return CstaClient(
        params.host, params.port, params.user, params.password or DEFAULT_PASSWORD, options=opts
    )


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
        raise RuntimeError(
            rejection_text(f"{params.host}:{params.port}", params.user, exc)
        ) from None
    except ConnectError as exc:  # all CSTA links in use too: the message says so
        problem = texts.link_problem(exc)
        detail = (
            "\n" + translate("Link", "(Details: {detail})").format(detail=problem.detail)
            if problem.detail
            else ""
        )
        raise RuntimeError(problem.words + detail) from None
    except TimeoutError:
        raise RuntimeError(
            translate("Link", "no answer from {host}:{port} within {seconds}").format(
                host=params.host, port=params.port, seconds=texts.seconds(timeout)
            )
        ) from None
    finally:
        with contextlib.suppress(Exception):
            await client.close(timeout=2.0)
    return translate("Link", "Connected: {host}:{port} accepted the login of {user}.").format(
        host=params.host, port=params.port, user=params.user
    )


def rejection_text(where: str, user: str, exc: AssociationError) -> str:
    """What to tell the user about a login the PBX refused for good."""
    if exc.result is None:  # refused before any answer (e.g. unsendable characters)
        return str(exc)
    name = exc.diagnostic_name
    if exc.diagnostic_source == acse.SERVICE_USER and exc.diagnostic in (
        None,
        acse.DIAG_NULL,
        acse.DIAG_NO_REASON,
        acse.DIAG_AUTHENTICATION_FAILURE,
        acse.DIAG_AUTHENTICATION_REQUIRED,
    ):
        why = (
            translate("Link", "wrong user name or password? ({diagnostic})").format(diagnostic=name)
            if exc.diagnostic
            else translate("Link", "wrong user name or password?")
        )
    else:
        words = acse.diagnostic_words(exc.diagnostic_source, exc.diagnostic)
        why = translate("Acse", words) if words else str(exc)
    return translate("Link", "the PBX at {where} refused the login of {user}: {why}").format(
        where=where, user=user, why=why
    )


StateCallback = Callable[[LinkChange], None]
EventCallback = Callable[[str, CstaEvent], None]
MonitorFailedCallback = Callable[[MonitorFailure], None]
SnapshotCallback = Callable[[str, "tuple[SnapshotCall, ...] | None"], None]


class DeskLink(Protocol):
    """What the desk needs of a PBX link: the one interface, whichever way the link goes
    (`PbxLink`: a CSTA link of our own; `calls.gateway_link.GatewayLink`: through the office
    gateway and its broker).

    It is made by a `LinkFactory(params, devices, *, on_state, on_event, on_monitor_failed,
    on_snapshot, label)` and reports through those callbacks, in the loop's thread:
    `on_state(LinkChange)`, `on_event(device, event)` for every monitor event in order,
    `on_monitor_failed(MonitorFailure)` once per attempt, `on_snapshot(device, calls)` (the
    calls at a device right after its monitor (re)started; None when the PBX gave none).

    The services raise `CstaClientError` subclasses: `LinkDownError` when the link is down,
    `CstaServiceError` with the PBX's universalFailure reason, `RequestTimeout` (and, through
    the gateway, `GatewayRefusedError` for a device the broker user may not control)."""

    @property
    def state(self) -> LinkState: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def answer(self, connection: ConnectionId) -> None: ...

    async def make_call(self, calling: str, called: str) -> ConnectionId: ...

    async def clear(self, connection: ConnectionId) -> None: ...

    async def hold(self, connection: ConnectionId) -> None: ...

    async def retrieve(self, connection: ConnectionId) -> None: ...

    async def deflect(self, connection: ConnectionId, to: str) -> None: ...

    async def single_step_transfer(self, connection: ConnectionId, to: str) -> None: ...

    async def consult(self, connection: ConnectionId, to: str) -> ConnectionId: ...

    async def transfer(self, held: ConnectionId, active: ConnectionId) -> None: ...

    async def reconnect(self, active: ConnectionId, held: ConnectionId) -> None: ...

    async def alternate(self, held: ConnectionId, active: ConnectionId) -> None: ...

    async def pick_up(self, ringing: ConnectionId, requesting: str) -> None: ...


#: Makes a link: (params, devices, on_state=, on_event=, on_monitor_failed=, on_snapshot=,
#: label=) -> link.  The app passes PbxLink (params: ConnectionParameters) or GatewayLink
#: (params: GatewayParameters) with their options.
LinkFactory = Callable[..., DeskLink]


def _fault_of(error: CstaClientError | None, was_up: bool) -> LinkFault:
    if isinstance(error, AssociationRejectedError):
        return LinkFault.REJECTED
    if isinstance(error, AssociationTransientError):
        return LinkFault.BUSY
    if error is None and was_up:
        return LinkFault.LOST
    return LinkFault.UNREACHABLE


class LinkClient(Protocol):
    """What a link asks of its client: CstaClient, or GatewayClient, which carries the same
    requests through the office gateway."""

    def events(self) -> AsyncGenerator[ClientItem, None]: ...

    async def answer_call(self, connection: ConnectionId) -> None: ...

    async def make_call(self, calling: str, called: str) -> ConnectionId: ...

    async def clear_connection(self, connection: ConnectionId) -> None: ...

    async def hold_call(self, connection: ConnectionId) -> None: ...

    async def retrieve_call(self, connection: ConnectionId) -> None: ...

    async def deflect_call(self, connection: ConnectionId, destination: str) -> None: ...

    async def single_step_transfer(self, active: ConnectionId, to: str) -> ConnectionId: ...

    async def consultation_call(self, existing: ConnectionId, device: str) -> ConnectionId: ...

    async def transfer_call(self, held: ConnectionId, active: ConnectionId) -> ConnectionId: ...

    async def reconnect_call(self, active: ConnectionId, held: ConnectionId) -> None: ...

    async def alternate_call(self, held: ConnectionId, active: ConnectionId) -> None: ...

    async def directed_pickup_call(
        self, ringing: ConnectionId, requesting: str
    ) -> ConnectionId | None: ...


class ClientLink:
    """What the two ways to the PBX (PbxLink, GatewayLink) share: the last state, the
    services (each one request of the client) and the task that takes the client's items
    (`_take`, each way its own).

    `state` and `change` are the last state reported; `failed` the devices not monitored;
    `detail` the system's own words behind the last failure ("Name or service not known"),
    "" if none, kept while it retries so the technical account is logged once per kind.
    """

    client: LinkClient

    def __init__(
        self,
        devices: Sequence[str],
        *,
        on_state: StateCallback,
        on_event: EventCallback,
        on_monitor_failed: MonitorFailedCallback | None,
        on_snapshot: SnapshotCallback | None,
    ) -> None:
        self.devices = list(dict.fromkeys(str(d) for d in devices))
        self._on_state = on_state
        self._on_event = on_event
        self._on_monitor_failed = on_monitor_failed or (lambda failure: None)
        self._on_snapshot = on_snapshot or (lambda d, c: None)
        self.change = LinkChange(LinkState.DOWN, translate("Link", "not started"))
        self.detail = ""
        self.failed: dict[str, MonitorFailure] = {}
        self._consumer: asyncio.Task[None] | None = None

    @property
    def state(self) -> LinkState:
        return self.change.state

    @property
    def reason(self) -> str:
        """The words of the last state."""
        return self.change.text

    # -- services (errors are CstaClientError subclasses with a readable message; through
    # the gateway, each an MQTT 5 request it carries out or refuses)

    async def answer(self, connection: ConnectionId) -> None:
        await self.client.answer_call(connection)

    async def make_call(self, calling: str, called: str) -> ConnectionId:
        return await self.client.make_call(calling, called)

    async def clear(self, connection: ConnectionId) -> None:
        await self.client.clear_connection(connection)

    async def hold(self, connection: ConnectionId) -> None:
        await self.client.hold_call(connection)

    async def retrieve(self, connection: ConnectionId) -> None:
        await self.client.retrieve_call(connection)

    async def deflect(self, connection: ConnectionId, to: str) -> None:
        await self.client.deflect_call(connection, to)

    async def single_step_transfer(self, connection: ConnectionId, to: str) -> None:
        await self.client.single_step_transfer(connection, to)

    async def consult(self, connection: ConnectionId, to: str) -> ConnectionId:
        return await self.client.consultation_call(connection, to)

    async def transfer(self, held: ConnectionId, active: ConnectionId) -> None:
        await self.client.transfer_call(held, active)

    async def reconnect(self, active: ConnectionId, held: ConnectionId) -> None:
        await self.client.reconnect_call(active, held)

    async def alternate(self, held: ConnectionId, active: ConnectionId) -> None:
        await self.client.alternate_call(held, active)

    async def pick_up(self, ringing: ConnectionId, requesting: str) -> None:
        await self.client.directed_pickup_call(ringing, requesting)

    # -- internals

    def _set(self, change: LinkChange) -> None:
        self.change = change
        try:
            self._on_state(change)
        except Exception:
            log.exception("link state callback failed")

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
        raise NotImplementedError


class PbxLink(ClientLink):
    """Keeps one PBX link up and monitored, see the module docstring; a `DeskLink`.

    `devices` are monitored in their order (the ones that matter most first: when the PBX's
    monitor limit is reached, the rest are not asked for and reported as not monitored).
    `state` and `change` are the last state reported; `failed` the devices not monitored.
    """

    def __init__(
        self,
        params: ConnectionParameters,
        devices: Sequence[str],
        *,
        on_state: StateCallback,
        on_event: EventCallback,
        on_monitor_failed: MonitorFailedCallback | None = None,
        on_snapshot: SnapshotCallback | None = None,
        options: ClientOptions | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(
            devices,
            on_state=on_state,
            on_event=on_event,
            on_monitor_failed=on_monitor_failed,
            on_snapshot=on_snapshot,
        )
        self.params = params
        self.client: CstaClient = client_for(params, options, reconnect=True)
        self.label = label or f"{params.host}:{params.port}"
        self._task: asyncio.Task[None] | None = None
        self._came_up = asyncio.Event()
        self._up = False

    # -- life cycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        consumer_ready = loop.create_future()
        self._consumer = asyncio.create_task(self._consume(consumer_ready), name="pbx-events")
        await consumer_ready  # events() is subscribed before the first byte can arrive
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
        self._set(LinkChange(LinkState.CLOSED, translate("Link", "closed")))

    # -- internals

    def _up_text(self) -> str:
        monitored = [d for d in self.devices if d not in self.failed]
        if monitored:
            text = translate("Link", "connected to {pbx}, monitoring {devices}").format(
                pbx=self.label, devices=device_ranges(monitored)
            )
        else:
            text = translate("Link", "connected to {pbx}").format(pbx=self.label)
        if self.failed:
            text += "; " + "; ".join(f.text for f in self.failed.values())
        return text

    async def _run(self) -> None:
        """Start the client (it connects, backs off and reconnects by itself); after each
        time the link comes up, monitor what it does not keep yet.  Ends when the client
        stops trying: the PBX refused the login for good."""
        await self.client.start()
        finished: asyncio.Future[Any] = asyncio.ensure_future(self.client.wait_finished())
        came_up: asyncio.Future[Any] | None = None
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
                    self._set(LinkChange(LinkState.UP, self._up_text()))
        finally:
            finished.cancel()
            if came_up is not None:
                came_up.cancel()
        error = self.client.last_error
        if self.client.state == "rejected" and isinstance(error, AssociationError):
            # Set here, as the task's last act: once it is seen, no attempt follows.
            self._set(
                LinkChange(
                    LinkState.REJECTED,
                    translate("Link", "{problem}. Correct it in the settings").format(
                        problem=rejection_text(self.label, self.params.user, error)
                    ),
                    LinkFault.REJECTED,
                    detail=self.detail,
                )
            )

    def _monitor_failed(self, failure: MonitorFailure) -> None:
        self.failed[failure.device] = failure
        log.error("%s", failure.text)
        try:
            self._on_monitor_failed(failure)
        except Exception:
            log.exception("monitor failure callback failed")

    async def _monitor_new(self) -> None:
        """Monitor the devices the client does not keep yet (the first time, and devices that
        failed before); those it keeps, it re-monitors by itself after a reconnect.  Once the
        PBX says its monitor limit is reached, the others are not asked for this time."""
        kept = {h.device for h in self.client.monitors}
        limit: str | None = None
        for device in self.devices:
            if device in kept:
                continue
            if limit is not None:
                self._monitor_failed(MonitorFailure.not_asked(device, limit))
                continue
            try:
                await self.client.monitor_start(device)
                self.failed.pop(device, None)
            except (LinkDownError, RequestTimeout) as exc:
                log.warning("monitor %s not started: %s", device, exc)
                return
            except CstaClientError as exc:
                failure = MonitorFailure.from_error(device, exc)
                self._monitor_failed(failure)
                if failure.reason in LIMIT_REASONS:
                    limit = failure.reason

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
        if self.state in (LinkState.REJECTED, LinkState.CLOSED):
            return
        if isinstance(item.error, MonitorStartError):
            # After a reconnect the client re-monitors by itself and says what it could not.
            self._monitor_failed(MonitorFailure.from_error(item.error.device, item.error))
            if self.state is LinkState.UP:
                self._set(LinkChange(LinkState.UP, self._up_text()))
        elif item.state == "connecting":
            self._up = False
            text = (
                translate("Link", "connecting to {pbx} (attempt {attempt})")
                if item.attempt > 1
                else translate("Link", "connecting to {pbx}")
            ).format(pbx=self.label, attempt=item.attempt)
            self._set(LinkChange(LinkState.CONNECTING, text, attempt=item.attempt))
        elif item.state == "down":
            was_up, self._up = self._up, False
            text, detail = item.reason, ""
            if item.error is not None:
                problem = texts.link_problem(item.error)
                text, detail = problem.words, problem.detail
                if detail and detail != self.detail:
                    # The technical account, once per kind of failure (retries repeat it).
                    log.warning("PBX link: %s", item.reason)
            self.detail = detail
            if item.retry_in is not None:
                text = (
                    translate("Link", "{problem}; reconnecting in {seconds}")
                    if was_up
                    else translate("Link", "{problem}; retrying in {seconds}")
                ).format(problem=text, seconds=texts.seconds(item.retry_in))
            self._set(
                LinkChange(
                    LinkState.DOWN,
                    text,
                    _fault_of(item.error, was_up),
                    item.retry_in,
                    item.attempt,
                    detail,
                )
            )
        elif item.state == "up":
            self._up = True
            self._came_up.set()  # _run monitors what is new, then says "up"


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
        if (
            run
            and d.isdigit()
            and run[-1].isdigit()
            and len(d) == len(run[-1])
            and int(d) == int(run[-1]) + 1
        ):
            run.append(d)
            continue
        flush()
        run.append(d)
    flush()
    return ", ".join(parts)
