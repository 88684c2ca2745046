"""The asyncio CSTA client: socket, timeouts, liveness, reconnection and re-monitoring.

`CstaClient` wraps the sans-IO `ClientConnection`.  It keeps the monitors the caller asked
for and re-establishes them after every reconnect (their cross-ref ids are updated in place),
notices a dead link by itself (a RequestSystemStatus after a quiet spell, answered by anything
or the link is declared dead), reports link state changes, and delivers events both as an
async iterator and as callbacks per event kind:

    client = CstaClient("192.0.2.10", 7001, "AMHOST", "77777")
    client.on("delivered", lambda device, ev: print(device, ev.calling_device))
    await client.start()                 # connects; reconnects by itself from then on
    await client.monitor_start("100")
    async for item in client.events(): ...
    await client.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import ssl as ssl_module
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Union

from . import codec, operations, tlsconfig
from .codec import UniversalFailure, connection_to_asn1, device_to_asn1
from .connection import (
    AssociationAccepted,
    AssociationRejected,
    Aborted,
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
from .events import ConnectionId, CstaEvent, DeviceId, SnapshotCall

log = logging.getLogger(__name__)
wire_log = logging.getLogger("cstapopup.wire")


# Errors ------------------------------------------------------------------------------------


class CstaClientError(Exception):
    """Base of the client's errors."""


class ConnectError(CstaClientError):
    """The TCP (or TLS) connection could not be made: refused, unreachable, timed out."""


class CertificateError(ConnectError):
    """TLS is on and the PBX's certificate was rejected (untrusted, expired, issued for
    another name); the message says which, in plain words."""


class AssociationRejectedError(CstaClientError):
    """The PBX refused the association: usually wrong user name or password."""


class LinkDownError(CstaClientError):
    """The request cannot be made because the link is down (the client is reconnecting)."""


class RequestTimeout(CstaClientError):
    """The PBX did not answer a request in time."""


class CstaServiceError(CstaClientError):
    """The PBX answered a request with universalFailure (or another error code)."""

    def __init__(self, operation: str, failure: UniversalFailure | None, error_code: int = 1) -> None:
        self.operation = operation
        self.failure = failure
        self.error_code = error_code
        reason = failure.name if failure is not None else f"error code {error_code}"
        super().__init__(f"{operation} failed: {reason}")

    @property
    def reason(self) -> str | None:
        return None if self.failure is None else self.failure.name


class CstaRejectError(CstaClientError):
    """The PBX rejected a request at the ROSE level (it did not understand it)."""


# What the client reports ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkStateChanged:
    """The link's health changed: "connecting", "up" or "down" (with the reason)."""

    state: str
    reason: str = ""
    attempt: int = 0
    retry_in: float | None = None


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


ClientItem = Union[LinkStateChanged, MonitorEvent, MonitorSnapshot]


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
class ClientOptions:
    connect_timeout: float = 10.0
    request_timeout: float = 10.0
    #: After this long without receiving anything, ask the PBX for its status ...
    keepalive_interval: float = 20.0
    #: ... and declare the link dead if nothing at all arrives within this time.
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
    #: Items kept for a consumer of events() that reads too slowly; the oldest are dropped.
    queue_size: int = 10000
    #: Bytes waiting to be sent beyond which the link is considered broken.
    max_write_buffer: int = 1 << 20
    #: Coroutine callbacks running at once; beyond this an event's coroutine callbacks are
    #: skipped (and logged), so an event flood cannot create unbounded tasks.
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
        for name in ("connect_timeout", "request_timeout", "keepalive_interval",
                     "keepalive_timeout", "backoff_initial", "backoff_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


class CstaClient:
    """An asyncio CSTA client with reconnection.  Use one per PBX link."""

    def __init__(self, host: str, port: int = 7001, user: str = "AMHOST", password: str = "77777",
                 options: ClientOptions | None = None, **kwargs: Any) -> None:
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.options = options or ClientOptions(**kwargs)
        self.monitors: list[MonitorHandle] = []
        self.state = "down"
        self.state_reason = "not started"
        self.reconnects = 0
        self._callbacks: dict[str, list[Callable[..., Any]]] = {}
        self._queues: list[asyncio.Queue[ClientItem]] = []
        self._conn: ClientConnection | None = None
        self._writer: asyncio.StreamWriter | None = None
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
        "snapshot" (the calls at a device whose monitor was just started or restored).
        Returns the callback (decorator use).
        A callback that raises is logged and does not stop the client.  Coroutine functions
        are scheduled as tasks."""
        self._callbacks.setdefault(kind, []).append(callback)
        return callback

    def on_delivered(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        return self.on("delivered", cb)

    def on_established(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        return self.on("established", cb)

    def on_connection_cleared(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        return self.on("connection_cleared", cb)

    def on_transferred(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        return self.on("transferred", cb)

    async def events(self) -> AsyncIterator[ClientItem]:
        """Every MonitorEvent, MonitorSnapshot and LinkStateChanged from now on, until the
        client is closed."""
        queue: asyncio.Queue[ClientItem] = asyncio.Queue(self.options.queue_size)
        self._queues.append(queue)
        try:
            while True:
                if self._closed.is_set() and queue.empty():
                    return
                get = asyncio.ensure_future(queue.get())
                closed = asyncio.ensure_future(self._closed.wait())
                done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    closed.cancel()
                    yield get.result()
                else:
                    get.cancel()
                    if queue.empty():
                        return
        finally:
            self._queues.remove(queue)

    def _publish(self, item: ClientItem) -> None:
        for q in self._queues:
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                log.warning("event consumer too slow: oldest item dropped")
            q.put_nowait(item)
        if isinstance(item, LinkStateChanged):
            self._run_callbacks("link", item)
        elif isinstance(item, MonitorSnapshot):
            self._run_callbacks("snapshot", item)
        else:
            self._run_callbacks(item.event.name, item.device, item.event)
            self._run_callbacks("*", item.device, item.event)

    def _run_callbacks(self, kind: str, *args: Any) -> None:
        for cb in self._callbacks.get(kind, ()):
            try:
                result = cb(*args)
                if asyncio.iscoroutine(result):
                    if len(self._callback_tasks) >= self.options.max_callback_tasks:
                        result.close()
                        log.warning("too many callbacks still running: %s callback skipped", kind)
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
        """Connect once and wait until the link is up.  Raises ConnectError or
        AssociationRejectedError on failure; with `reconnect` on, the client then keeps the
        link up by itself (as after start())."""
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
        are reported as link state changes and retried)."""
        self._supervisor = asyncio.create_task(self._supervise(), name="csta-supervisor")

    async def wait_up(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._up.wait(), timeout)

    async def close(self, timeout: float = 3.0) -> None:
        """Stop the monitors, leave the association properly (RLRQ, or ABRT if the PBX does
        not answer), close the socket and end events()."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            if self.state == "up":
                for handle in list(self.monitors):
                    if handle.active:
                        with contextlib.suppress(CstaClientError, asyncio.TimeoutError):
                            await asyncio.wait_for(self._monitor_stop_request(handle), timeout)
                await self._release(timeout)
        finally:
            for task in list(self._snapshot_tasks):
                task.cancel()
            await self._stop_supervisor()
            self._drop_link("closed")
            self.state, self.state_reason = "closed", "closed by the application"
            self._publish(LinkStateChanged("closed", "closed by the application"))
            self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def __aenter__(self) -> CstaClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
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
        released = asyncio.get_running_loop().create_future()
        self._release_waiter = released
        conn.release()
        self._flush()
        try:
            await asyncio.wait_for(released, timeout)
        except asyncio.TimeoutError:
            # HiPath's answer to RLRQ is unverified: leave as the known clients do.
            conn.abort()
            self._flush()

    # The supervisor: connect, run, reconnect -----------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        delay = self.options.backoff_initial
        while not self._closing:
            attempt += 1
            self._set_state("connecting", f"connecting to {self.host}:{self.port}", attempt=attempt)
            try:
                reader = await self._open_link()
            except Exception as error:  # ConnectError, AssociationRejectedError, or a bug
                exc = error
                if not isinstance(exc, (ConnectError, AssociationRejectedError)):
                    # A bug must neither end the supervision (the link would never come back)
                    # nor leave connect() waiting forever.  The traceback goes to the log
                    # (tracebacks show no local variables, so no password); the state says
                    # only the kind of error.
                    log.exception("unexpected error while connecting to %s:%s",
                                  self.host, self.port)
                    self._drop_link("internal error")
                    exc = ConnectError(f"internal error while connecting ({type(exc).__name__}); "
                                       "see the log")
                reason = str(exc)
                if self._first_result is not None and not self._first_result.done():
                    self._first_result.set_exception(exc)
                    return
                if not self.options.reconnect:
                    self._set_state("down", reason)
                    return
                wait = self._jitter(delay)
                self._set_state("down", reason, attempt=attempt, retry_in=wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.options.backoff_max)
                continue
            if self._first_result is not None and not self._first_result.done():
                self._first_result.set_result(None)
            attempt, delay = 0, self.options.backoff_initial
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
            wait = self._jitter(self.options.backoff_initial)
            self._set_state("down", reason, retry_in=wait)
            await asyncio.sleep(wait)

    def _jitter(self, delay: float) -> float:
        j = self.options.backoff_jitter
        return max(0.05, delay * (1 + self.options.rng.uniform(-j, j)))

    async def _open_link(self) -> asyncio.StreamReader:
        """TCP connect, associate, wait for the link to come up, re-establish the monitors."""
        opts = self.options
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host, self.port, ssl=opts.ssl,
                    server_hostname=(opts.server_hostname or self.host) if opts.ssl else None,
                ),
                opts.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectError(f"no answer from {self.host}:{self.port} within {opts.connect_timeout:g} s") from None
        except ConnectionRefusedError:
            raise ConnectError(f"connection to {self.host}:{self.port} refused (is the CSTA link enabled on that port?)") from None
        except ssl_module.SSLCertVerificationError as exc:
            raise CertificateError(tlsconfig.explain_certificate_error(
                exc, opts.server_hostname or self.host)) from None
        except ssl_module.SSLError as exc:
            raise ConnectError(f"TLS handshake with {self.host}:{self.port} failed: "
                               f"{tlsconfig.explain_handshake_error(exc)}") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}") from None
        conn = ClientConnection(max_frame_length=opts.max_frame_length,
                                trace=self._trace if wire_log.isEnabledFor(logging.DEBUG) else None)
        self._conn, self._writer = conn, writer
        self._release_waiter: asyncio.Future[None] | None = None
        try:
            conn.associate(self.user, self._password)
        except codec.EncodeError:
            # Not retried into the PBX, and not in the message: the encoder's text would
            # quote the password's offending characters.
            self._drop_link("credentials not encodable")
            raise AssociationRejectedError(
                "the user name or password has characters that cannot be sent to the PBX "
                "(CSTA carries them as Latin-1)") from None
        self._flush()
        try:
            await asyncio.wait_for(self._associate(reader, conn), opts.connect_timeout)
        except asyncio.TimeoutError:
            self._drop_link("association timed out")
            raise ConnectError(f"{self.host}:{self.port} did not answer the association request within {opts.connect_timeout:g} s") from None
        except (ConnectError, AssociationRejectedError):
            self._drop_link("association failed")
            raise
        return reader

    async def _associate(self, reader: asyncio.StreamReader, conn: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        grace_deadline: float | None = None
        while True:
            timeout = None if grace_deadline is None else max(0.0, grace_deadline - loop.time())
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout)
            except asyncio.TimeoutError:
                # Accepted, but no SystemStatus came: be liberal and go ahead.
                self._handle_events(conn.mark_up())
                return
            except OSError as exc:
                raise ConnectError(f"connection lost during association: {exc}") from None
            if not data:
                raise ConnectError("the PBX closed the connection during association "
                                   "(too many CSTA links in use?)")
            for ev in conn.receive_data(data):
                if isinstance(ev, AssociationRejected):
                    raise AssociationRejectedError(
                        f"{ev.reason}: check the user name and password for {self.host}")
                if isinstance(ev, AssociationAccepted):
                    grace_deadline = loop.time() + self.options.system_status_grace
                elif isinstance(ev, ProtocolError) and ev.fatal:
                    raise ConnectError(f"protocol error during association: {ev.message}")
                elif isinstance(ev, (Aborted, Released)):
                    raise ConnectError("the PBX ended the association at once")
                else:
                    self._handle_events([ev])
            self._flush()
            if conn.is_up:
                return

    async def _run_link(self, reader: asyncio.StreamReader) -> str:
        """Serve one link until it breaks; returns why it ended."""
        self._set_state("up", f"connected to {self.host}:{self.port}")
        remonitor = asyncio.create_task(self._remonitor_all())
        try:
            return await self._read_loop(reader)
        finally:
            remonitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await remonitor

    async def _read_loop(self, reader: asyncio.StreamReader) -> str:
        opts = self.options
        probe_id: int | None = None
        while True:
            timeout = opts.keepalive_timeout if probe_id is not None else opts.keepalive_interval
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout)
            except asyncio.TimeoutError:
                if probe_id is not None:
                    return f"no answer from the PBX for {opts.keepalive_interval + opts.keepalive_timeout:g} s (link dead)"
                probe_id = self._send_probe()
                if probe_id is None:
                    return "cannot send the liveness probe"
                continue
            except (ConnectionError, OSError) as exc:
                return f"connection lost: {exc}"
            if not data:
                return "the PBX closed the connection"
            probe_id = None  # anything at all proves the link alive
            conn = self._conn
            if conn is None:
                return "closed"
            events = conn.receive_data(data)
            self._handle_events(events)
            self._flush()
            for ev in events:
                if isinstance(ev, ProtocolError) and ev.fatal:
                    return f"protocol error: {ev.message}"
                if isinstance(ev, Aborted):
                    return "the PBX aborted the association"
                if isinstance(ev, Released):
                    return "the association was released"

    def _send_probe(self) -> int | None:
        conn = self._conn
        if conn is None:
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
        for fut in self._futures.values():
            if not fut.done():
                fut.set_exception(LinkDownError(f"link down: {reason}"))
        self._futures.clear()
        self._on_result.clear()
        writer, self._writer, self._conn = self._writer, None, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    # Incoming ------------------------------------------------------------------------------

    def _handle_events(self, events: Iterable[Any]) -> None:
        for ev in events:
            if isinstance(ev, EventReceived):
                self._deliver(ev.event)
            elif isinstance(ev, ResultReceived):
                self._resolve(ev.invoke_id, result=ev.result)
            elif isinstance(ev, ErrorReceived):
                self._resolve(ev.invoke_id, error=CstaServiceError(
                    operations.operation_name(ev.operation), ev.failure, ev.error_code))
            elif isinstance(ev, RejectReceived):
                if ev.invoke_id is not None:
                    self._resolve(ev.invoke_id, error=CstaRejectError(
                        f"{operations.operation_name(ev.operation or 0)} rejected by the PBX: "
                        f"{ev.problem_kind}/{ev.problem}"))
            elif isinstance(ev, ProtocolError):
                log.warning("protocol: %s", ev.message)
            elif isinstance(ev, Released):
                waiter = getattr(self, "_release_waiter", None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif isinstance(ev, LinkUp):
                pass

    def _resolve(self, invoke_id: int, *, result: Any = None, error: Exception | None = None) -> None:
        hook = self._on_result.pop(invoke_id, None)
        if hook is not None and error is None:
            try:
                hook(result)
            except Exception as exc:  # a malformed result: report it to the requester
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
        matching = [h for h in self.monitors if h.active and h.cross_ref_id == event.cross_ref_id]
        if len(matching) <= 1:
            if not matching:
                log.info("event %s for unknown cross-ref %s ignored", event.name, event.cross_ref_id.hex())
            return matching
        # Several monitors share the cross-ref id (seen on HiPath with 00 00): attribute the
        # event to the monitored devices it names.
        named = _devices_named(event)
        chosen = [h for h in matching if h.device in named]
        return chosen or matching[:1]

    # Requests ------------------------------------------------------------------------------

    async def request(self, operation: int, argument: Any, timeout: float | None = None,
                      on_result: Callable[[Any], None] | None = None) -> Any:
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
            raise CstaClientError(f"{operations.operation_name(operation)}: bad argument: {exc}") from None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._futures[iid] = fut
        if on_result is not None:
            self._on_result[iid] = on_result
        self._flush()
        try:
            return await asyncio.wait_for(fut, timeout or self.options.request_timeout)
        except asyncio.TimeoutError:
            self._futures.pop(iid, None)
            self._on_result.pop(iid, None)
            if self._conn is not None:
                self._conn.forget(iid)
            raise RequestTimeout(f"{operations.operation_name(operation)}: no answer within "
                                 f"{timeout or self.options.request_timeout:g} s") from None

    async def monitor_start(self, device: str) -> MonitorHandle:
        """Monitor a device; the handle stays valid across reconnects.  Raises
        CstaServiceError (e.g. invalid_monitor_object for a device the PBX does not have)."""
        device = str(device)
        handle = next((h for h in self.monitors if h.device == device), None)
        if handle is None:
            handle = MonitorHandle(device)
            self.monitors.append(handle)
        if self.state == "up" and not handle.active and not handle.starting:
            try:
                await self._monitor_start_request(handle)
            except CstaServiceError:
                if handle in self.monitors:
                    self.monitors.remove(handle)
                raise
        return handle

    async def _monitor_start_request(self, handle: MonitorHandle) -> None:
        def started(result: Any) -> None:
            handle.cross_ref_id = bytes(result["crossRefIdentifier"])
            handle.active = True
            handle.error = None

        handle.starting = True
        try:
            await self.request(operations.MONITOR_START, codec.monitor_start_argument(handle.device),
                               on_result=started)
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
        """Publish what is going on at a freshly (re)started monitor's device."""
        try:
            calls: tuple[SnapshotCall, ...] | None = tuple(await self.snapshot_device(handle.device))
            reason = ""
        except LinkDownError:
            return  # the next restore takes another snapshot
        except CstaClientError as exc:  # not supported, refused, no answer, unusable
            calls, reason = None, str(exc)
            log.info("no snapshot of %s: %s", handle.device, exc)
        if handle in self.monitors and handle.active:
            self._publish(MonitorSnapshot(handle.device, calls, reason))

    async def _monitor_stop_request(self, handle: MonitorHandle) -> None:
        if handle.cross_ref_id is None:
            return
        handle.active = False
        await self.request(operations.MONITOR_STOP, codec.monitor_stop_argument(handle.cross_ref_id))

    async def monitor_stop(self, device: str | MonitorHandle) -> None:
        handle = device if isinstance(device, MonitorHandle) else next(
            (h for h in self.monitors if h.device == str(device)), None)
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
                self._publish(LinkStateChanged("up", f"cannot monitor {handle.device}: {exc.reason}"))
            except (LinkDownError, RequestTimeout, CstaRejectError) as exc:
                handle.error = str(exc)
                log.warning("monitor %s not restored: %s", handle.device, exc)

    async def snapshot_device(self, device: str) -> list[SnapshotCall]:
        """The device's calls now (SnapshotDevice), each with the device's connection, its
        local connection state and the global call id when the PBX sends one."""
        result = await self.request(operations.SNAPSHOT_DEVICE, {"snapshotObject": device_to_asn1(device)})
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
                    raise CstaClientError(f"snapshotDevice: unusable result from the PBX: "
                                          f"{exc!r}") from None
            out.append(SnapshotCall(_connection_in(item, "connectionIdentifier", "snapshotDevice"),
                                    own, gcid))
        return out

    async def make_call(self, calling: str, called: str) -> ConnectionId:
        result = await self.request(operations.MAKE_CALL, {
            "callingDevice": device_to_asn1(calling), "calledDirectoryNumber": device_to_asn1(called)})
        return _connection_in(result, "callingDevice", "makeCall")

    async def answer_call(self, connection: ConnectionId) -> None:
        await self.request(operations.ANSWER_CALL, {"callToBeAnswered": connection_to_asn1(connection)})

    async def clear_connection(self, connection: ConnectionId) -> None:
        await self.request(operations.CLEAR_CONNECTION, {"connectionToBeCleared": connection_to_asn1(connection)})

    async def clear_call(self, connection: ConnectionId) -> None:
        await self.request(operations.CLEAR_CALL, {"callToBeCleared": connection_to_asn1(connection)})

    async def deflect_call(self, connection: ConnectionId, destination: str) -> None:
        await self.request(operations.DEFLECT_CALL, {
            "callToBeDiverted": connection_to_asn1(connection), "newDestination": device_to_asn1(destination)})

    async def hold_call(self, connection: ConnectionId) -> None:
        await self.request(operations.HOLD_CALL, {"callToBeHeld": connection_to_asn1(connection)})

    async def retrieve_call(self, connection: ConnectionId) -> None:
        await self.request(operations.RETRIEVE_CALL, {"callToBeRetrieved": connection_to_asn1(connection)})

    async def consultation_call(self, existing: ConnectionId, device: str) -> ConnectionId:
        result = await self.request(operations.CONSULTATION_CALL, {
            "existingCall": connection_to_asn1(existing), "consultedDevice": device_to_asn1(device)})
        return _connection_in(result, "initiatedCall", "consultationCall")

    async def transfer_call(self, held: ConnectionId, active: ConnectionId) -> ConnectionId:
        result = await self.request(operations.TRANSFER_CALL, {
            "heldCall": connection_to_asn1(held), "activeCall": connection_to_asn1(active)})
        return _connection_in(result, "transferredCall", "transferCall")

    async def single_step_transfer(self, active: ConnectionId, to: str) -> ConnectionId:
        result = await self.request(operations.SINGLE_STEP_TRANSFER, {
            "activeCall": connection_to_asn1(active), "transferredTo": device_to_asn1(to)})
        return _connection_in(result, "transferredCall", "singleStepTransfer")


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
