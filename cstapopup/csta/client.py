"""The asyncio CSTA client: socket, timeouts, liveness, reconnection, re-monitoring and
backpressure.

`CstaClient` wraps the sans-IO `ClientConnection`.  It keeps the monitors the caller asked
for and re-establishes them after every reconnect (their cross-ref ids are updated in place),
notices a dead link by itself (no complete frame for a while: a RequestSystemStatus, then the
link is declared dead if still no frame comes), reports link state changes, and delivers events
both as an async iterator and as callbacks per event kind:

    client = CstaClient("192.0.2.10", 7001, "AMHOST", "77777")   # the factory defaults
    client.on("delivered", lambda device, ev: print(device, ev.calling_device))
    await client.start()                 # connects; reconnects by itself from then on
    await client.monitor_start("100")
    async for item in client.events(): ...
    await client.close()

Nothing between the socket and a consumer of events() is dropped: when a consumer has
`queue_size` items unread, the client stops reading the socket (TCP then holds the PBX back)
and reads on once that consumer is down to half.  While reading is paused the client does not
read the PBX's SystemStatus invokes either (they are in the same byte stream, behind the
events), and its own liveness clock stands still: data arriving faster than it is consumed is
no sign of a dead link.  A PBX that gives up on a paused client drops the link; the client sees
that once it reads again, and reconnects.  Link state changes travel in the same order as the
events, and are never dropped either.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import errno
import logging
import os
import random
import socket
import ssl as ssl_module
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from . import acse, codec, operations, tlsconfig
from .backoff import Backoff
from .codec import UniversalFailure, connection_to_asn1, device_to_asn1
from .connection import (
    Aborted,
    AssociationAccepted,
    AssociationRejected,
    ClientConnection,
    ConnectionStateError,
    ErrorReceived,
    EventReceived,
    LinkUp,
    ProtocolError,
    RejectReceived,
    Released,
    ResultReceived,
)
from .defaults import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER
from .events import ConnectionId, CstaEvent, DeviceId, SnapshotCall

log = logging.getLogger(__name__)
wire_log = logging.getLogger("cstapopup.wire")

# Every bounded wait here is `async with asyncio.timeout(...)`, never `asyncio.wait_for`: on
# Python 3.11, wait_for drops a cancellation that comes just as the awaited thing finishes
# (it returns the result instead), and a task being stopped then runs on; a gateway stopping
# at that moment waited for it forever.


# Errors ------------------------------------------------------------------------------------


class CstaClientError(Exception):
    """Base of the client's errors."""


#: What a `ConnectError` can say went wrong (its `cause`), for callers that put it in their
#: own words: the host name is not known; its look-up failed for now (no name server); the
#: PBX refused the TCP connection; no answer in time; connected, but no answer to the login
#: (the association request) in time; no route to the PBX; this computer has no network; TLS
#: failed (handshake, certificate); the PBX did not take the association for now; anything
#: else.
CONNECT_CAUSES = (
    "unknown_host",
    "lookup_failed",
    "refused",
    "timeout",
    "login_timeout",
    "unreachable",
    "no_network",
    "tls",
    "certificate",
    "association",
    "other",
)


class ConnectError(CstaClientError):
    """The TCP (or TLS) connection could not be made: refused, unreachable, timed out.

    Besides its message: `cause` (one of CONNECT_CAUSES), `host` and `port` tried (None when
    not known), `timeout` (seconds waited, for "timeout"), and `detail`: the system's own words
    ("Name or service not known"), "" when there are none."""

    cause = "other"

    def __init__(
        self,
        message: str = "",
        *,
        cause: str | None = None,
        host: str | None = None,
        port: int | None = None,
        detail: str = "",
        timeout: float | None = None,
    ) -> None:
        super().__init__(message)
        if cause is not None:
            self.cause = cause
        self.host, self.port, self.detail, self.timeout = host, port, detail, timeout


class CertificateError(ConnectError):
    """TLS is on and the PBX's certificate was rejected (untrusted, expired, issued for
    another name); the message says which, in plain words."""

    cause = "certificate"


class AssociationError(CstaClientError):
    """The PBX did not take the association.  `result` is the AARE's result (1 permanent,
    2 transient; None when no AARE came), `diagnostic` its diagnostic number from
    `diagnostic_source` (acse.SERVICE_USER or acse.SERVICE_PROVIDER), if any."""

    def __init__(
        self,
        message: str,
        *,
        result: int | None = None,
        diagnostic: int | None = None,
        diagnostic_source: str | None = acse.SERVICE_USER,
    ) -> None:
        super().__init__(message)
        self.result = result
        self.diagnostic = diagnostic
        self.diagnostic_source = diagnostic_source

    @property
    def diagnostic_name(self) -> str | None:
        """The X.227 name of the diagnostic ("authentication-failure"), None without one."""
        return acse.diagnostic_name(self.diagnostic_source, self.diagnostic)


class AssociationRejectedError(AssociationError):
    """The PBX refused the association for good (rejected-permanent): wrong user name or
    password, usually; `diagnostic` says more when the PBX gave one.  Trying again does not
    help (and may lock the account): the client stops ("rejected")."""


class AssociationTransientError(AssociationError, ConnectError):
    """The PBX refused the association for now (rejected-transient: usually all its CSTA links
    are in use), or closed the connection without answering the association request.  A
    ConnectError: the client retries with its usual back-off."""

    cause = "association"


class LinkDownError(CstaClientError):
    """The request cannot be made because the link is down (the client is reconnecting)."""


class RequestTimeout(CstaClientError):
    """The PBX did not answer a request in time."""


class CstaServiceError(CstaClientError):
    """The PBX answered a request with universalFailure (or another error code)."""

    def __init__(
        self, operation: str, failure: UniversalFailure | None, error_code: int = 1
    ) -> None:
        self.operation = operation
        self.failure = failure
        self.error_code = error_code
        reason = failure.name if failure is not None else f"error code {error_code}"
        super().__init__(f"{operation} failed: {reason}")

    @property
    def reason(self) -> str | None:
        return None if self.failure is None else self.failure.name


class MonitorStartError(CstaServiceError):
    """The PBX would not monitor `device` (its universalFailure says why: `reason`)."""

    def __init__(self, device: str, failure: UniversalFailure | None, error_code: int = 1) -> None:
        super().__init__("monitorStart", failure, error_code)
        self.device = device


class CstaRejectError(CstaClientError):
    """The PBX rejected a request at the ROSE level (it did not understand it)."""


def _seconds(value: float) -> str:
    """A number of seconds for a message: the unit stays on the number's line (a no-break
    space), wherever the message is shown."""
    return f"{value:g}\u00a0s"


def _os_words(exc: OSError) -> str:
    """The system's words for a socket error ("Connection refused"), without asyncio's
    wrapping ("Connect call failed ('192.0.2.1', 7001)")."""
    if isinstance(exc, socket.gaierror) or not isinstance(exc.errno, int):
        return exc.strerror or str(exc)
    return os.strerror(exc.errno)


def _os_cause(exc: OSError) -> str:
    """The CONNECT_CAUSES entry of an error of socket.connect / getaddrinfo."""
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None)):
            return "lookup_failed"
        return "unknown_host"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return "unreachable"
    if exc.errno == errno.ENETDOWN:
        return "no_network"
    if exc.errno == errno.ETIMEDOUT:
        return "timeout"
    if exc.errno == errno.ECONNREFUSED:
        return "refused"
    return "other"


# What the client reports ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkStateChanged:
    """The link's health changed: "connecting", "up", "down" (with the reason, and `retry_in`
    when the client tries again), "rejected" (the PBX refused the login for good: no more
    attempts) or "closed".  `error` is the typed error behind a "down" or "rejected" that
    came from a failed attempt (ConnectError, AssociationTransientError,
    AssociationRejectedError), None otherwise; with the link "up", a MonitorStartError says
    that a monitor could not be restored after a reconnect (the link stays up)."""

    state: str
    reason: str = ""
    attempt: int = 0
    retry_in: float | None = None
    error: CstaClientError | None = None


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """An event delivered by the monitor of `device`."""

    device: str
    event: CstaEvent


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    """The calls at a monitored device right after its monitor was started or restored
    (SnapshotDevice), published in order with the monitor's events: the events before it
    were received before the snapshot was taken.  A call listed here that its events never
    began was under way before the monitor could see it.  `calls` is None when the PBX did
    not answer the snapshot (`reason` says why): nothing is known then."""

    device: str
    calls: tuple[SnapshotCall, ...] | None
    reason: str = ""


#: What events() yields.
ClientItem = LinkStateChanged | MonitorEvent | MonitorSnapshot


@dataclass(eq=False)
class MonitorHandle:
    """A monitor the client keeps: its device and its current cross-ref id (changes on
    every reconnect).  `active` is false while the link is down or after monitor_stop."""

    device: str
    cross_ref_id: bytes | None = None
    active: bool = False
    error: str | None = None
    #: A MonitorStart for it is on its way.
    starting: bool = False


@dataclass
class ClientCounters:
    """What the client had to hold back or leave out, for whoever shows the link's health."""

    #: Times reading from the PBX was paused because a consumer of events() fell behind.
    read_pauses: int = 0
    #: Seconds spent paused in total (up to the last resume).
    paused_seconds: float = 0.0
    #: Coroutine callbacks not run because max_callback_tasks were still running (logged).
    callbacks_skipped: int = 0


@dataclass
class ClientOptions:
    """How a CstaClient behaves: timeouts and liveness (seconds), reconnection and its
    back-off, TLS, and the bounds that keep a slow consumer or a flood from growing memory.
    The keyword arguments of CstaClient(...) set these too."""

    connect_timeout: float = 10.0
    request_timeout: float = 10.0
    #: After this long without a complete frame from the PBX, ask it for its status ...
    keepalive_interval: float = 20.0
    #: ... and declare the link dead if no complete frame arrives within this time.  Bytes
    #: that never make up a frame do not count: a link trickling them is dead all the same.
    keepalive_timeout: float = 10.0
    #: Declare the link up if the PBX sends no SystemStatus within this time after the AARE.
    system_status_grace: float = 3.0
    reconnect: bool = True
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    #: Random spread of each delay (0.2 = +-20 %), so many clients do not reconnect in step.
    backoff_jitter: float = 0.2
    ssl: ssl_module.SSLContext | None = None
    server_hostname: str | None = None
    max_frame_length: int = 8192
    #: Items a consumer of events() may leave unread before the client stops reading from the
    #: PBX (nothing is dropped: TCP holds the PBX back); reading resumes at half of it.  One
    #: read's worth of items (client.READ_SIZE bytes of frames) may come on top.
    queue_size: int = 10000
    #: Bytes waiting to be sent beyond which the link is considered broken.
    max_write_buffer: int = 1 << 20
    #: Coroutine callbacks running at once; beyond this an event's coroutine callbacks are
    #: skipped (logged and counted in ClientCounters.callbacks_skipped), so an event flood
    #: cannot create unbounded tasks.
    max_callback_tasks: int = 1000
    #: After each monitor start (and each restore after a reconnect), ask the PBX which calls
    #: are at the device (SnapshotDevice) and publish the answer as a MonitorSnapshot, so that
    #: calls under way before the monitor could see them are known as such.
    snapshot_monitors: bool = True
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1 (asyncio would make 0 unbounded)")
        if not 1 <= self.max_frame_length <= 0x7FFF:
            raise ValueError("max_frame_length must be 1..32767")
        for name in (
            "connect_timeout",
            "request_timeout",
            "keepalive_interval",
            "keepalive_timeout",
            "backoff_initial",
            "backoff_max",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


#: Bytes asked of the socket per read: it bounds how many items one read can put on top of
#: a consumer's `queue_size` before reading pauses (about 140 events), and how long one
#: read's handling holds the event loop (a few milliseconds).
READ_SIZE = 16384
#: A consumer of events() that takes items without ever waiting lets the loop run after this
#: many seconds (signals, timers and the reader get their turn during a long backlog).
_CONSUMER_SLICE = 0.005


class _Subscriber:
    """One consumer of events(): the items it has not taken yet, in order."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: collections.deque[ClientItem] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class CstaClient:
    """An asyncio CSTA client with reconnection.  Use one per PBX link."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        options: ClientOptions | None = None,
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.options = options or ClientOptions(**kwargs)
        opts = self.options
        self.backoff = Backoff(
            opts.backoff_initial, opts.backoff_max, opts.backoff_jitter, opts.rng
        )
        self.monitors: list[MonitorHandle] = []
        #: The active monitors by cross-ref id (several only when a PBX reuses an id).
        self._by_cross_ref: dict[bytes, list[MonitorHandle]] = {}
        self.state = "down"
        self.state_reason = "not started"
        #: The typed error of the last failed attempt (None after a link came up).
        self.last_error: CstaClientError | None = None
        self.reconnects = 0
        self.counters = ClientCounters()
        self._callbacks: dict[str, list[Callable[..., Any]]] = {}
        self._subscribers: list[_Subscriber] = []
        self._resume_at = max(1, opts.queue_size // 2)
        self._reading = asyncio.Event()  # set while reading is allowed (not paused)
        self._reading.set()
        self._paused_since: float | None = None
        self._resumed_at = 0.0
        self._alive_at = 0.0  # loop time of the last complete frame received
        self._conn: ClientConnection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._release_waiter: asyncio.Future[None] | None = None
        self._futures: dict[int, asyncio.Future[Any]] = {}
        self._on_result: dict[int, Callable[[Any], None]] = {}
        self._callback_tasks: set[asyncio.Future[Any]] = set()
        self._snapshot_tasks: set[asyncio.Task[None]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self._first_result: asyncio.Future[None] | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"CstaClient({self.host}:{self.port}, user={self.user!r}, state={self.state})"

    # Subscriptions -------------------------------------------------------------------------

    def on(self, kind: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call `callback(device, event)` for every event named `kind` ("delivered",
        "established", "connection_cleared", "transferred", ...; "*" for all), or
        `callback(LinkStateChanged)` for kind "link", `callback(MonitorSnapshot)` for kind
        "snapshot" (the calls at a device whose monitor was just started or restored),
        `callback(paused: bool)` for kind "paused" (reading from the PBX paused because a
        consumer of events() is behind, or resumed).  Returns the callback (decorator use).
        Callbacks run as the items are read (a slow one slows reading: backpressure).  A
        callback that raises is logged and does not stop the client.  Coroutine functions are
        scheduled as tasks, at most `max_callback_tasks` at once (beyond: skipped, counted)."""
        self._callbacks.setdefault(kind, []).append(callback)
        return callback

    def on_delivered(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        """on("delivered", cb): a call rings at a monitored device."""
        return self.on("delivered", cb)

    def on_established(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        """on("established", cb): a call was answered."""
        return self.on("established", cb)

    def on_connection_cleared(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        """on("connection_cleared", cb): a party left a call."""
        return self.on("connection_cleared", cb)

    def on_transferred(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        """on("transferred", cb): a call was transferred."""
        return self.on("transferred", cb)

    async def events(self) -> AsyncGenerator[ClientItem, None]:
        """Every MonitorEvent, MonitorSnapshot and LinkStateChanged from the first step on,
        in order, none dropped, until the client is closed (and what came before is taken).
        A consumer that falls `queue_size` items behind pauses reading from the PBX."""
        sub = _Subscriber()
        self._subscribers.append(sub)
        loop = asyncio.get_running_loop()
        slice_end = loop.time() + _CONSUMER_SLICE
        try:
            while True:
                if sub.items:
                    if loop.time() >= slice_end:
                        await asyncio.sleep(0)  # a long backlog must not hold the loop
                        slice_end = loop.time() + _CONSUMER_SLICE
                    item = sub.items.popleft()
                    if not self._reading.is_set() and len(sub.items) <= self._resume_at:
                        self._maybe_resume()
                    yield item
                    continue
                if self._closed.is_set():
                    return
                sub.waiter = loop.create_future()
                try:
                    await sub.waiter
                finally:
                    sub.waiter = None
                slice_end = loop.time() + _CONSUMER_SLICE
        finally:
            self._subscribers.remove(sub)
            self._maybe_resume()

    @property
    def backlog(self) -> int:
        """The most items any consumer of events() has not taken yet."""
        return max((len(s.items) for s in self._subscribers), default=0)

    @property
    def paused(self) -> bool:
        """Reading from the PBX is paused: a consumer of events() is behind."""
        return not self._reading.is_set()

    def _publish(self, item: ClientItem) -> None:
        for sub in self._subscribers:
            sub.items.append(item)
            sub.wake()
            if len(sub.items) >= self.options.queue_size and self._reading.is_set():
                self._pause()
        if isinstance(item, LinkStateChanged):
            self._run_callbacks("link", item)
        elif isinstance(item, MonitorSnapshot):
            self._run_callbacks("snapshot", item)
        else:
            self._run_callbacks(item.event.name, item.device, item.event)
            self._run_callbacks("*", item.device, item.event)

    def _pause(self) -> None:
        self._reading.clear()
        self._paused_since = asyncio.get_running_loop().time()
        self.counters.read_pauses += 1
        log.debug("a consumer is %d items behind: reading from the PBX paused", self.backlog)
        self._run_callbacks("paused", True)

    def _maybe_resume(self) -> None:
        if self._reading.is_set():
            return
        if any(len(s.items) > self._resume_at for s in self._subscribers):
            return
        now = asyncio.get_running_loop().time()
        if self._paused_since is not None:
            self.counters.paused_seconds += now - self._paused_since
            self._paused_since = None
        self._resumed_at = now
        self._reading.set()
        self._run_callbacks("paused", False)

    def _run_callbacks(self, kind: str, *args: Any) -> None:
        for cb in self._callbacks.get(kind, ()):
            try:
                result = cb(*args)
                if asyncio.iscoroutine(result):
                    if len(self._callback_tasks) >= self.options.max_callback_tasks:
                        result.close()
                        self.counters.callbacks_skipped += 1
                        log.warning(
                            "too many callbacks still running: %s callback skipped "
                            "(%d skipped so far)",
                            kind,
                            self.counters.callbacks_skipped,
                        )
                        continue
                    task = asyncio.ensure_future(result)
                    self._callback_tasks.add(task)  # a strong reference until it is done
                    task.add_done_callback(self._callback_done)
            except Exception:
                log.exception("callback for %s failed", kind)

    def _callback_done(self, task: asyncio.Future[Any]) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("callback failed: %r", task.exception())

    def _set_state(self, state: str, reason: str = "", **extra: Any) -> None:
        self.state, self.state_reason = state, reason
        if state == "up":
            self._up.set()
        else:
            self._up.clear()
        log.info("link %s%s", state, f": {reason}" if reason else "")
        self._publish(LinkStateChanged(state, reason, **extra))

    # Life cycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect once and wait until the link is up.  Raises ConnectError (of which
        AssociationTransientError) or AssociationRejectedError on failure; with `reconnect`
        on, the client then keeps the link up by itself (as after start())."""
        loop = asyncio.get_running_loop()
        self._first_result = loop.create_future()
        self._supervisor = asyncio.create_task(self._supervise(), name="csta-supervisor")
        try:
            await self._first_result
        except BaseException:
            await self._stop_supervisor()
            raise

    async def start(self) -> None:
        """Start connecting in the background (never raises for connection failures: they
        are reported as link state changes and retried, except a login refused for good,
        which ends the attempts with the state "rejected")."""
        self._supervisor = asyncio.create_task(self._supervise(), name="csta-supervisor")

    async def wait_up(self, timeout: float | None = None) -> None:
        """Until the link is up (TimeoutError after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            await self._up.wait()

    async def wait_finished(self) -> None:
        """Until the client has stopped trying: the login was refused for good (state
        "rejected"), the link failed with `reconnect` off, or close() was called."""
        task = self._supervisor
        if task is not None:
            await asyncio.wait({task})

    async def close(self, timeout: float = 3.0) -> None:
        """Stop the monitors, leave the association properly (RLRQ, or ABRT if the PBX does
        not answer), close the socket and end events() once its consumers have taken what
        came before; all within `timeout` seconds.  While reading is paused (a consumer is
        behind) it leaves with an ABRT at once: the PBX's answers would be queued behind the
        events nobody has read, and reading them would only add to the backlog."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        try:
            if self.state == "up" and self.paused:
                if self._conn is not None:
                    self._conn.abort()
                    self._flush()
            elif self.state == "up":
                active = [h for h in self.monitors if h.active]
                if active:
                    stops = asyncio.gather(
                        *(self._monitor_stop_request(h) for h in active), return_exceptions=True
                    )
                    try:
                        async with asyncio.timeout(max(0.0, deadline - loop.time())):
                            await stops
                    except TimeoutError:
                        log.info("the PBX did not confirm every monitor stop in time")
                await self._release(deadline - loop.time())
        finally:
            for task in list(self._snapshot_tasks):
                task.cancel()
            await self._stop_supervisor()
            self._drop_link("closed")
            self.state, self.state_reason = "closed", "closed by the application"
            self._up.clear()
            self._publish(LinkStateChanged("closed", "closed by the application"))
            self._closed.set()
            for sub in self._subscribers:
                sub.wake()

    async def wait_closed(self) -> None:
        """Until close() has finished."""
        await self._closed.wait()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _stop_supervisor(self) -> None:
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _release(self, timeout: float) -> None:
        conn = self._conn
        if conn is None or self._writer is None:
            return
        if timeout <= 0:
            conn.abort()
            self._flush()
            return
        released = asyncio.get_running_loop().create_future()
        self._release_waiter = released
        conn.release()
        self._flush()
        try:
            async with asyncio.timeout(timeout):
                await released
        except TimeoutError:
            # HiPath's answer to RLRQ is unverified: leave as the known clients do.
            conn.abort()
            self._flush()

    # The supervisor: connect, run, reconnect -----------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        backoff = self.backoff
        backoff.reset()
        while not self._closing:
            attempt += 1
            self._set_state("connecting", f"connecting to {self.host}:{self.port}", attempt=attempt)
            try:
                reader = await self._open_link()
            except AssociationRejectedError as exc:
                # Refused for good: trying again would not help and may lock the account.
                self.last_error = exc
                self._set_state("rejected", str(exc), attempt=attempt, error=exc)
                if self._first_result is not None and not self._first_result.done():
                    self._first_result.set_exception(exc)
                return
            except Exception as error:  # ConnectError (transient rejections too), or a bug
                failure = error
                if not isinstance(failure, ConnectError):
                    # A bug must neither end the supervision (the link would never come back)
                    # nor leave connect() waiting forever.  The traceback goes to the log
                    # (tracebacks show no local variables, so no password); the state says
                    # only the kind of error.
                    log.exception(
                        "unexpected error while connecting to %s:%s", self.host, self.port
                    )
                    self._drop_link("internal error")
                    failure = ConnectError(
                        f"internal error while connecting ({type(failure).__name__}); see the log"
                    )
                self.last_error = failure
                reason = str(failure)
                if self._first_result is not None and not self._first_result.done():
                    self._set_state("down", reason, attempt=attempt, error=failure)
                    self._first_result.set_exception(failure)
                    return
                if not self.options.reconnect:
                    self._set_state("down", reason, attempt=attempt, error=failure)
                    return
                wait = backoff.next()
                self._set_state("down", reason, attempt=attempt, retry_in=wait, error=failure)
                await asyncio.sleep(wait)
                continue
            if self._first_result is not None and not self._first_result.done():
                self._first_result.set_result(None)
            attempt = 0
            backoff.reset()
            self.last_error = None
            try:
                reason = await self._run_link(reader)
            except Exception as exc:  # a bug: drop this link and make a new one (as above)
                log.exception("unexpected error on the link to %s:%s", self.host, self.port)
                reason = f"internal error ({type(exc).__name__}); see the log"
            self._drop_link(reason)
            if self._closing:
                return
            if not self.options.reconnect:
                self._set_state("down", reason)
                return
            self.reconnects += 1
            wait = backoff.next()
            self._set_state("down", reason, retry_in=wait)
            await asyncio.sleep(wait)

    async def _open_link(self) -> asyncio.StreamReader:
        """TCP connect, associate, wait for the link to come up."""
        opts = self.options
        # The AARQ is encoded before the socket opens (this loads the compiled ASN.1 spec the
        # first time): the PBX never waits for us between its accept and our first byte.
        conn = ClientConnection(
            max_frame_length=opts.max_frame_length,
            trace=self._trace if wire_log.isEnabledFor(logging.DEBUG) else None,
        )
        try:
            conn.associate(self.user, self._password)
        except codec.EncodeError:
            # Not retried into the PBX, and not in the message: the encoder's text would
            # quote the password's offending characters.
            raise AssociationRejectedError(
                "the user name or password has characters that cannot be sent to the PBX "
                "(CSTA carries them as Latin-1)"
            ) from None
        try:
            async with asyncio.timeout(opts.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=opts.ssl,
                    server_hostname=(opts.server_hostname or self.host) if opts.ssl else None,
                )
        except TimeoutError:
            raise ConnectError(
                f"no answer from {self.host}:{self.port} within {_seconds(opts.connect_timeout)}",
                cause="timeout",
                timeout=opts.connect_timeout,
                **self._where(),
            ) from None
        except ConnectionRefusedError as exc:
            raise ConnectError(
                f"connection to {self.host}:{self.port} refused (is the CSTA link "
                "enabled on that port?)",
                cause="refused",
                detail=_os_words(exc),
                **self._where(),
            ) from None
        except ssl_module.SSLCertVerificationError as exc:
            raise CertificateError(
                tlsconfig.explain_certificate_error(exc, opts.server_hostname or self.host),
                **self._where(),
            ) from None
        except ssl_module.SSLError as exc:
            raise ConnectError(
                f"TLS handshake with {self.host}:{self.port} failed: "
                f"{tlsconfig.explain_handshake_error(exc)}",
                cause="tls",
                **self._where(),
            ) from None
        except OSError as exc:
            raise ConnectError(
                f"cannot connect to {self.host}:{self.port}: {_os_words(exc)}",
                cause=_os_cause(exc),
                detail=_os_words(exc),
                **self._where(),
            ) from None
        self._conn, self._writer = conn, writer
        self._release_waiter = None
        self._flush()
        try:
            async with asyncio.timeout(opts.connect_timeout):
                await self._associate(reader, conn)
        except TimeoutError:
            self._drop_link("association timed out")
            raise ConnectError(
                f"{self.host}:{self.port} did not answer the association request "
                f"within {_seconds(opts.connect_timeout)}",
                cause="login_timeout",
                timeout=opts.connect_timeout,
                **self._where(),
            ) from None
        except BaseException:
            self._drop_link("association failed")
            raise
        return reader

    def _where(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}

    def _no_answer(self, what: str) -> AssociationTransientError:
        return AssociationTransientError(
            f"the PBX at {self.host}:{self.port} {what} without answering the association "
            "request: all CSTA links of the PBX are probably in use"
        )

    def _rejection(self, ev: AssociationRejected) -> AssociationError:
        where = f"the PBX at {self.host}:{self.port}"
        name = acse.diagnostic_name(ev.diagnostic_source, ev.diagnostic)
        tag = f"{acse.result_name(ev.result)}, {name}" if name else acse.result_name(ev.result)
        words = acse.diagnostic_words(ev.diagnostic_source, ev.diagnostic)
        details: dict[str, Any] = {
            "result": ev.result,
            "diagnostic": ev.diagnostic,
            "diagnostic_source": ev.diagnostic_source,
        }
        user_diag = ev.diagnostic if ev.diagnostic_source == acse.SERVICE_USER else None
        if ev.permanent:
            if user_diag == acse.DIAG_CONTEXT_NOT_SUPPORTED:
                advice = f"{words}: check the host and port"
            elif user_diag == acse.DIAG_AUTHENTICATION_FAILURE:
                advice = words
            elif ev.diagnostic in (None, acse.DIAG_NULL, acse.DIAG_NO_REASON):
                advice = "check the user name and password"
            else:
                advice = f"{words}; check the user name and password"
            return AssociationRejectedError(
                f"{where} refused the login of {self.user} ({tag}): {advice}", **details
            )
        if ev.diagnostic in (None, acse.DIAG_NULL, acse.DIAG_NO_REASON):
            words = "all CSTA links of the PBX are in use"
        return AssociationTransientError(
            f"{where} refused the link for now ({tag}): {words}", **details
        )

    async def _associate(self, reader: asyncio.StreamReader, conn: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        grace_deadline: float | None = None
        while True:
            timeout = None if grace_deadline is None else max(0.0, grace_deadline - loop.time())
            try:
                async with asyncio.timeout(timeout):
                    data = await reader.read(READ_SIZE)
            except TimeoutError:
                # Accepted, but no SystemStatus came: be liberal and go ahead.
                self._handle_events(conn.mark_up())
                return
            except ConnectionResetError:
                if grace_deadline is None:
                    raise self._no_answer("reset the connection") from None
                raise ConnectError(
                    "the PBX reset the connection right after accepting the association"
                ) from None
            except OSError as exc:
                raise ConnectError(f"connection lost during association: {exc}") from None
            if not data:
                if grace_deadline is None:
                    raise self._no_answer("closed the connection")
                raise ConnectError(
                    "the PBX closed the connection right after accepting the association"
                )
            for ev in conn.receive_data(data):
                if isinstance(ev, AssociationRejected):
                    raise self._rejection(ev)
                if isinstance(ev, AssociationAccepted):
                    grace_deadline = loop.time() + self.options.system_status_grace
                elif isinstance(ev, ProtocolError) and ev.fatal:
                    raise ConnectError(f"protocol error during association: {ev.message}")
                elif isinstance(ev, (Aborted, Released)):
                    if grace_deadline is None:
                        raise self._no_answer("aborted the association")
                    raise ConnectError("the PBX ended the association at once")
                else:
                    self._handle_events([ev])
            self._flush()
            if conn.is_up:
                return

    async def _run_link(self, reader: asyncio.StreamReader) -> str:
        """Serve one link until it breaks; returns why it ended."""
        conn = self._conn
        if conn is None:
            return "closed"
        loop = asyncio.get_running_loop()
        self._alive_at = loop.time()
        self._set_state("up", f"connected to {self.host}:{self.port}")
        tasks = [
            asyncio.create_task(self._read_loop(reader, conn), name="csta-reader"),
            asyncio.create_task(self._watch_liveness(conn), name="csta-liveness"),
        ]
        remonitor = asyncio.create_task(self._remonitor_all())
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # The reader's reason first: it says what the socket did.
            return (tasks[0] if tasks[0] in done else tasks[1]).result()
        finally:
            for task in (*tasks, remonitor):
                task.cancel()
            for task in (*tasks, remonitor):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read_loop(self, reader: asyncio.StreamReader, conn: ClientConnection) -> str:
        loop = asyncio.get_running_loop()
        frames_seen = conn.frames_received
        while True:
            if not self._reading.is_set():
                await self._reading.wait()  # a consumer is behind: TCP holds the PBX back
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError) as exc:
                return f"connection lost: {exc.strerror or exc}"
            if not data:
                return "the PBX closed the connection"
            if self._conn is not conn:
                return "closed"
            events = conn.receive_data(data)
            if conn.frames_received != frames_seen:
                frames_seen = conn.frames_received
                self._alive_at = loop.time()
            self._handle_events(events)
            self._flush()
            for ev in events:
                if isinstance(ev, ProtocolError) and ev.fatal:
                    return f"protocol error: {ev.message}"
                if isinstance(ev, Aborted):
                    return "the PBX aborted the association"
                if isinstance(ev, Released):
                    return "the association was released"
            # Whatever arrives next, the consumers and other tasks get their turn first.
            await asyncio.sleep(0)

    async def _watch_liveness(self, conn: ClientConnection) -> str:
        """The link's liveness, counted in complete frames: after `keepalive_interval` without
        one, a RequestSystemStatus; after `keepalive_timeout` more without one, dead.  The
        clock stands still while reading is paused (we are not looking at the stream)."""
        opts = self.options
        loop = asyncio.get_running_loop()
        probe_at: float | None = None
        while True:
            if not self._reading.is_set():
                await self._reading.wait()
                probe_at = None
                continue
            last = max(self._alive_at, self._resumed_at)
            now = loop.time()
            if probe_at is not None and last >= probe_at:
                probe_at = None  # a frame came after the probe: alive
            if probe_at is None:
                deadline = last + opts.keepalive_interval
                if now >= deadline:
                    if self._send_probe(conn) is None:
                        return "cannot send the liveness probe"
                    probe_at = now
                    continue
            else:
                deadline = probe_at + opts.keepalive_timeout
                if now >= deadline:
                    return (
                        f"no complete frame from the PBX for "
                        f"{_seconds(opts.keepalive_interval + opts.keepalive_timeout)} "
                        "(link dead)"
                    )
            await asyncio.sleep(deadline - now)

    def _send_probe(self, conn: ClientConnection) -> int | None:
        if self._conn is not conn:
            return None
        try:
            iid = conn.send_request(operations.REQUEST_SYSTEM_STATUS, {})
        except ConnectionStateError:
            return None
        # Its answer (result, error or reject) only has to arrive; nobody awaits it.  It stays
        # pending until then, so that its answer is not logged as one for an unknown request.
        self._flush()
        return iid

    def _flush(self) -> None:
        if self._conn is None or self._writer is None:
            return
        data = self._conn.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)
            # A PBX that keeps asking (SystemStatus, invokes) but never reads would make this
            # buffer grow without end: such a link is broken, drop it (it is re-made).
            if self._writer.transport.get_write_buffer_size() > self.options.max_write_buffer:
                log.warning("the PBX does not read what we send: dropping the link")
                self._writer.transport.abort()

    def _trace(self, direction: str, hex_text: str) -> None:
        wire_log.debug("%s %s", ">>" if direction == "send" else "<<", hex_text)

    def _drop_link(self, reason: str) -> None:
        for handle in self.monitors:
            handle.active = False
            handle.starting = False
        self._by_cross_ref.clear()
        for fut in self._futures.values():
            if not fut.done():
                fut.set_exception(LinkDownError(f"link down: {reason}"))
        self._futures.clear()
        self._on_result.clear()
        writer, self._writer, self._conn = self._writer, None, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    # Monitors by cross-ref id ----------------------------------------------------------------

    def _activate(self, handle: MonitorHandle, cross_ref: bytes) -> None:
        self._deactivate(handle)
        handle.cross_ref_id = cross_ref
        handle.active = True
        handle.error = None
        self._by_cross_ref.setdefault(cross_ref, []).append(handle)

    def _deactivate(self, handle: MonitorHandle) -> None:
        handle.active = False
        cross_ref = handle.cross_ref_id
        if not cross_ref:
            return
        same = self._by_cross_ref.get(cross_ref)
        if same is not None and handle in same:
            same.remove(handle)
            if not same:
                del self._by_cross_ref[cross_ref]

    # Incoming ------------------------------------------------------------------------------

    def _handle_events(self, events: Iterable[Any]) -> None:
        for ev in events:
            if isinstance(ev, EventReceived):
                self._deliver(ev.event)
            elif isinstance(ev, ResultReceived):
                self._resolve(ev.invoke_id, result=ev.result)
            elif isinstance(ev, ErrorReceived):
                self._resolve(
                    ev.invoke_id,
                    error=CstaServiceError(
                        operations.operation_name(ev.operation), ev.failure, ev.error_code
                    ),
                )
            elif isinstance(ev, RejectReceived):
                if ev.invoke_id is not None:
                    self._resolve(
                        ev.invoke_id,
                        error=CstaRejectError(
                            f"{operations.operation_name(ev.operation or 0)} rejected by the PBX: "
                            f"{ev.problem_kind}/{ev.problem}"
                        ),
                    )
            elif isinstance(ev, ProtocolError):
                log.warning("protocol: %s", ev.message)
            elif isinstance(ev, Released):
                waiter = self._release_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif isinstance(ev, LinkUp):
                pass

    def _resolve(
        self, invoke_id: int, *, result: Any = None, error: Exception | None = None
    ) -> None:
        hook = self._on_result.pop(invoke_id, None)
        if hook is not None and error is None:
            try:
                hook(result)
            except Exception as exc:  # noqa: BLE001 - a malformed result goes to the requester
                error = CstaClientError(f"unusable result: {exc}")
        fut = self._futures.pop(invoke_id, None)
        if fut is None or fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)

    def _deliver(self, event: CstaEvent) -> None:
        for handle in self._monitors_for(event):
            self._publish(MonitorEvent(handle.device, event))

    def _monitors_for(self, event: CstaEvent) -> list[MonitorHandle]:
        matching = self._by_cross_ref.get(event.cross_ref_id)
        if not matching:
            log.info(
                "event %s for unknown cross-ref %s ignored", event.name, event.cross_ref_id.hex()
            )
            return []
        if len(matching) == 1:
            return matching[:]
        # Several monitors share the cross-ref id (seen on HiPath with 00 00): attribute the
        # event to the monitored devices it names.
        named = _devices_named(event)
        chosen = [h for h in matching if h.device in named]
        return chosen or matching[:1]

    # Requests ------------------------------------------------------------------------------

    async def request(
        self,
        operation: int,
        argument: Any,
        timeout: float | None = None,
        on_result: Callable[[Any], None] | None = None,
    ) -> Any:
        """Send one request and wait for its answer (the decoded result value).

        `on_result` runs as soon as the result is read, before any later bytes are handled:
        a monitor's cross-ref must be known before the events that follow its result."""
        if self.state != "up" or self._conn is None:
            raise LinkDownError(f"link is {self.state}: {self.state_reason}")
        try:
            iid = self._conn.send_request(operation, argument)
        except ConnectionStateError as exc:
            raise CstaClientError(f"{operations.operation_name(operation)}: {exc}") from None
        except codec.EncodeError as exc:
            raise CstaClientError(
                f"{operations.operation_name(operation)}: bad argument: {exc}"
            ) from None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._futures[iid] = fut
        if on_result is not None:
            self._on_result[iid] = on_result
        self._flush()
        conn = self._conn
        try:
            return await self._answer(fut, timeout or self.options.request_timeout)
        except TimeoutError:
            raise RequestTimeout(
                f"{operations.operation_name(operation)}: no answer within "
                f"{_seconds(timeout or self.options.request_timeout)}"
            ) from None
        finally:
            if not fut.done() or fut.cancelled() or self._futures.get(iid) is fut:
                # Timed out or cancelled: a late answer is ignored, not matched to a request.
                self._futures.pop(iid, None)
                self._on_result.pop(iid, None)
                if conn is not None and self._conn is conn:
                    conn.forget(iid)

    def _paused_total(self) -> float:
        """Seconds reading has been paused since the client was made, the current pause too."""
        total = self.counters.paused_seconds
        if self._paused_since is not None:
            total += asyncio.get_running_loop().time() - self._paused_since
        return total

    async def _answer(self, fut: asyncio.Future[Any], timeout: float) -> Any:
        """`fut`'s result within `timeout` seconds of reading: the clock stands still while
        reading is paused (the answer may be in the stream, behind events nobody took yet)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        paused_before = self._paused_total()
        while True:
            remaining = deadline + (self._paused_total() - paused_before) - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                async with asyncio.timeout(remaining):
                    return await asyncio.shield(fut)
            except TimeoutError:
                if fut.done():
                    return fut.result()

    async def monitor_start(self, device: str) -> MonitorHandle:
        """Monitor a device; the handle stays valid across reconnects.  Raises
        MonitorStartError, a CstaServiceError (e.g. invalid_monitor_object for a device the PBX
        does not have, overall_monitor_limit_exceeded when it monitors all it can)."""
        device = str(device)
        handle = next((h for h in self.monitors if h.device == device), None)
        if handle is None:
            handle = MonitorHandle(device)
            self.monitors.append(handle)
        if self.state == "up" and not handle.active and not handle.starting:
            try:
                await self._monitor_start_request(handle)
            except CstaServiceError as exc:
                if handle in self.monitors:
                    self.monitors.remove(handle)
                raise MonitorStartError(device, exc.failure, exc.error_code) from None
        return handle

    async def _monitor_start_request(self, handle: MonitorHandle) -> None:
        def started(result: Any) -> None:
            self._activate(handle, bytes(result["crossRefIdentifier"]))

        handle.starting = True
        try:
            await self.request(
                operations.MONITOR_START,
                codec.monitor_start_argument(handle.device),
                on_result=started,
            )
        finally:
            handle.starting = False
        if self.options.snapshot_monitors:
            # In the background: a PBX slow to answer (or not answering) snapshots must not
            # hold up the monitors.  Its answer is published when it is read, in order with
            # the events.
            task = asyncio.ensure_future(self._snapshot_monitor(handle))
            self._snapshot_tasks.add(task)
            task.add_done_callback(self._snapshot_tasks.discard)

    async def _snapshot_monitor(self, handle: MonitorHandle) -> None:
        """Publish what is going on at a freshly (re)started monitor's device.  Published as
        the answer is read (a result hook), before any event behind it in the stream: a
        consumer must see the calls as they were when the snapshot was taken, then what
        happened after.  (Published when this task resumes, events read in the same chunk
        would come first, and the snapshot would undo them.)"""
        published = False

        def publish(result: Any) -> None:
            nonlocal published
            calls = tuple(self._snapshot_calls(result))  # unusable: the request fails
            if handle in self.monitors and handle.active:
                published = True
                self._publish(MonitorSnapshot(handle.device, calls, ""))

        try:
            await self.request(
                operations.SNAPSHOT_DEVICE,
                {"snapshotObject": device_to_asn1(handle.device)},
                on_result=publish,
            )
        except LinkDownError:
            return  # the next restore takes another snapshot
        except CstaClientError as exc:  # not supported, refused, no answer, unusable
            log.info("no snapshot of %s: %s", handle.device, exc)
            if not published and handle in self.monitors and handle.active:
                self._publish(MonitorSnapshot(handle.device, None, str(exc)))

    async def _monitor_stop_request(self, handle: MonitorHandle) -> None:
        if handle.cross_ref_id is None:
            return
        # The events the PBX sent before it took the stop still belong to the monitor: it
        # stays in the index until the stop's answer, which comes after them in the stream.
        try:
            await self.request(
                operations.MONITOR_STOP,
                codec.monitor_stop_argument(handle.cross_ref_id),
                on_result=lambda _: self._deactivate(handle),
            )
        finally:
            self._deactivate(handle)

    async def monitor_stop(self, device: str | MonitorHandle) -> None:
        """Stop monitoring `device` (a number or the handle monitor_start returned); it is
        not re-monitored after a reconnect.  Nothing happens for a device not monitored."""
        handle = (
            device
            if isinstance(device, MonitorHandle)
            else next((h for h in self.monitors if h.device == str(device)), None)
        )
        if handle is None:
            return
        if handle in self.monitors:
            self.monitors.remove(handle)
        if self.state == "up" and handle.active:
            await self._monitor_stop_request(handle)

    async def _remonitor_all(self) -> None:
        for handle in list(self.monitors):
            if handle.active or handle.starting or handle not in self.monitors:
                continue
            try:
                await self._monitor_start_request(handle)
            except CstaServiceError as exc:
                handle.error = str(exc)
                log.error("cannot monitor %s: %s", handle.device, exc)
                self._publish(
                    LinkStateChanged(
                        "up",
                        f"cannot monitor {handle.device}: {exc.reason}",
                        error=MonitorStartError(handle.device, exc.failure, exc.error_code),
                    )
                )
            except (LinkDownError, RequestTimeout, CstaRejectError) as exc:
                handle.error = str(exc)
                log.warning("monitor %s not restored: %s", handle.device, exc)

    async def snapshot_device(self, device: str) -> list[SnapshotCall]:
        """The device's calls now (SnapshotDevice), each with the device's connection, its
        local connection state and the global call id when the PBX sends one."""
        result = await self.request(
            operations.SNAPSHOT_DEVICE, {"snapshotObject": device_to_asn1(device)}
        )
        return self._snapshot_calls(result)

    @staticmethod
    def _snapshot_calls(result: Any) -> list[SnapshotCall]:
        alt, data = result["crossRefIDorSnapshotData"]
        if alt != "snapshotData":
            return []
        out = []
        for item in data:
            state_alt, state = item["localCallState"]
            # compoundCallState lists the states of the call's connections, the snapshot
            # device's own first; simpleCallState is a code for a pair of them, not used here.
            own = state[0] if state_alt == "compoundCallState" and state else None
            gcid = None
            linkage = item.get("callLinkageData")
            if linkage:
                try:
                    gcid = codec.linkage_from_asn1(linkage).get("global_call_id")
                except (KeyError, TypeError, IndexError, codec.DecodeError) as exc:
                    raise CstaClientError(
                        f"snapshotDevice: unusable result from the PBX: {exc!r}"
                    ) from None
            out.append(
                SnapshotCall(
                    _connection_in(item, "connectionIdentifier", "snapshotDevice"), own, gcid
                )
            )
        return out

    async def make_call(self, calling: str, called: str) -> ConnectionId:
        """Make `calling` call `called` (MakeCall); the calling device's new connection."""
        result = await self.request(
            operations.MAKE_CALL,
            {
                "callingDevice": device_to_asn1(calling),
                "calledDirectoryNumber": device_to_asn1(called),
            },
        )
        return _connection_in(result, "callingDevice", "makeCall")

    async def answer_call(self, connection: ConnectionId) -> None:
        """Answer the call ringing at `connection` (AnswerCall; the phone must allow it)."""
        await self.request(
            operations.ANSWER_CALL, {"callToBeAnswered": connection_to_asn1(connection)}
        )

    async def clear_connection(self, connection: ConnectionId) -> None:
        """Take `connection`'s device out of its call (ClearConnection): it hangs up."""
        await self.request(
            operations.CLEAR_CONNECTION, {"connectionToBeCleared": connection_to_asn1(connection)}
        )

    async def clear_call(self, connection: ConnectionId) -> None:
        """End the whole call `connection` belongs to (ClearCall)."""
        await self.request(
            operations.CLEAR_CALL, {"callToBeCleared": connection_to_asn1(connection)}
        )

    async def deflect_call(self, connection: ConnectionId, destination: str) -> None:
        """Send the call ringing at `connection` on to `destination` (DeflectCall)."""
        await self.request(
            operations.DEFLECT_CALL,
            {
                "callToBeDiverted": connection_to_asn1(connection),
                "newDestination": device_to_asn1(destination),
            },
        )

    async def hold_call(self, connection: ConnectionId) -> None:
        """Put `connection` on hold (HoldCall)."""
        await self.request(operations.HOLD_CALL, {"callToBeHeld": connection_to_asn1(connection)})

    async def retrieve_call(self, connection: ConnectionId) -> None:
        """Take the held `connection` back (RetrieveCall)."""
        await self.request(
            operations.RETRIEVE_CALL, {"callToBeRetrieved": connection_to_asn1(connection)}
        )

    async def consultation_call(self, existing: ConnectionId, device: str) -> ConnectionId:
        """Hold `existing` and call `device` (ConsultationCall); the new connection."""
        result = await self.request(
            operations.CONSULTATION_CALL,
            {
                "existingCall": connection_to_asn1(existing),
                "consultedDevice": device_to_asn1(device),
            },
        )
        return _connection_in(result, "initiatedCall", "consultationCall")

    async def transfer_call(self, held: ConnectionId, active: ConnectionId) -> ConnectionId:
        """Join the `held` call's other party with the `active` call's (TransferCall);
        the resulting connection."""
        result = await self.request(
            operations.TRANSFER_CALL,
            {"heldCall": connection_to_asn1(held), "activeCall": connection_to_asn1(active)},
        )
        return _connection_in(result, "transferredCall", "transferCall")

    async def single_step_transfer(self, active: ConnectionId, to: str) -> ConnectionId:
        """Transfer the `active` call to `to` without consulting first
        (SingleStepTransferCall); the resulting connection."""
        result = await self.request(
            operations.SINGLE_STEP_TRANSFER,
            {"activeCall": connection_to_asn1(active), "transferredTo": device_to_asn1(to)},
        )
        return _connection_in(result, "transferredCall", "singleStepTransfer")

    async def reconnect_call(self, active: ConnectionId, held: ConnectionId) -> None:
        """Clear the active call and take back the held one (ReconnectCall): the end of a
        consultation that did not lead to a transfer."""
        await self.request(
            operations.RECONNECT_CALL,
            {"activeCall": connection_to_asn1(active), "heldCall": connection_to_asn1(held)},
        )

    async def alternate_call(self, held: ConnectionId, active: ConnectionId) -> None:
        """Hold the active call and take back the held one, in one step (AlternateCall)."""
        await self.request(
            operations.ALTERNATE_CALL,
            {"heldCall": connection_to_asn1(held), "activeCall": connection_to_asn1(active)},
        )

    async def directed_pickup_call(
        self, ringing: ConnectionId, requesting: str
    ) -> ConnectionId | None:
        """`requesting` takes the call ringing at another device (DirectedPickupCall); the
        picked call's new connection when the PBX says it."""
        result = await self.request(
            operations.DIRECTED_PICKUP_CALL,
            {
                "callToBePickedUp": connection_to_asn1(ringing),
                "requestingDevice": device_to_asn1(requesting),
            },
        )
        if isinstance(result, dict) and result.get("pickedCall") is not None:
            return _connection_in(result, "pickedCall", "directedPickupCall")
        return None


def _connection_in(result: Any, field_name: str, operation: str) -> ConnectionId:
    """The connection id in a service result; a malformed result is a client error."""
    try:
        return codec.connection_from_asn1(result[field_name])
    except (KeyError, TypeError, ValueError, codec.DecodeError) as exc:
        raise CstaClientError(f"{operation}: unusable result from the PBX: {exc!r}") from None


def _devices_named(event: CstaEvent) -> set[str]:
    """The device numbers an event mentions (its own connection's device included)."""
    named: set[str] = set()
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, ConnectionId):
            value = value.device
        if isinstance(value, DeviceId) and value.number:
            named.add(value.number)
    return named
