"""The desktop's end of the office gateway: `GatewayClient`, the same items and call control
as `CstaClient`, through the broker instead of a PBX link of its own.

    client = GatewayClient(parse_broker_url("mqtts://broker.office", user="alice",
                                            password=..., ca_file="ca.pem"), site="office")
    await client.connect()
    await client.monitor_start("100")
    async for item in client.events():   # LinkStateChanged / MonitorEvent / MonitorSnapshot
        ...
    await client.answer_call(connection)  # carried out by the gateway if alice may

The link state it reports is the gateway's PBX link as the gateway publishes it, "down" while
the broker is away or the gateway is gone.  Events are numbered per device by the gateway: the
client drops duplicates (a resend after a break) and counts the numbers that never came
(`lost`).  When a device is subscribed (at the start and after each reconnect to the broker),
the device's retained calls record is replayed: a desktop that starts while a call rings sees
the call's events so far; one that comes back after a break gets the events it missed of the
calls still under way, then the calls under way as a snapshot (as `CstaClient` gives after a
reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Self

from cstapopup.csta.client import (
    ClientItem,
    CstaClientError,
    CstaRejectError,
    CstaServiceError,
    LinkDownError,
    LinkStateChanged,
    MonitorEvent,
    MonitorHandle,
    MonitorSnapshot,
    RequestTimeout,
)
from cstapopup.csta.events import ConnectionId, DeviceId, SnapshotCall

from . import broker as broker_mod
from . import wire
from .broker import BrokerAuthError, BrokerError, BrokerSettings

log = logging.getLogger(__name__)


class GatewayRefusedError(CstaClientError):
    """The gateway refused the request: this broker user (`user`) may not control `device`
    (None when the request named no device)."""

    def __init__(self, message: str, *, user: str | None = None, device: str | None = None) -> None:
        super().__init__(message)
        self.user, self.device = user, device


class GatewayLinkError(CstaClientError):
    """Why the way to the PBX through the office gateway is not up: the `error` of a
    LinkStateChanged "down" (or "rejected"), typed so that nobody parses the sentence."""


class BrokerUnreachableError(GatewayLinkError):
    """No connection to the broker, or it broke (retried); `cause` the broker error."""

    def __init__(self, cause: BrokerError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class BrokerRefusedError(BrokerUnreachableError):
    """The broker refused the user name or password (state "rejected": not retried)."""


class BrokerSetupError(BrokerUnreachableError):
    """The broker connection cannot even be set up (a TLS file; not retried)."""


class NoGatewayError(GatewayLinkError):
    """Connected to the broker, but no office gateway has said anything for this site."""


class GatewayGoneError(GatewayLinkError):
    """The office gateway is offline: `stopped` on purpose, or its broker connection vanished
    (the last will); `reason` in its words."""

    def __init__(self, message: str, *, reason: str, stopped: bool) -> None:
        super().__init__(message)
        self.reason, self.stopped = reason, stopped


class GatewayPbxDownError(GatewayLinkError):
    """The office gateway runs, but its own PBX link is not up (`state`: down or connecting);
    `reason` in the gateway's words."""

    def __init__(self, message: str, *, state: str, reason: str) -> None:
        super().__init__(message)
        self.state, self.reason = state, reason


class GatewayRequestError(CstaClientError):
    """The gateway could not carry out the request (bad request, busy, ...)."""


@dataclass
class GatewayClientOptions:
    connect_timeout: float = 10.0
    #: How long to wait for the gateway's answer to a call-control request.
    request_timeout: float = 15.0
    keepalive: int = 30
    reconnect: bool = True
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    backoff_jitter: float = 0.2
    #: How far a consumer of events() may fall behind: at this many items waiting, the client
    #: reads no further message from the broker until it has caught up (nothing is dropped;
    #: the messages wait in the MQTT client's own queue meanwhile).
    queue_size: int = 10000
    #: How long after subscribing the client waits for the gateway's retained link state
    #: before it says that no office gateway is there for the site.
    gateway_wait: float = 5.0
    #: QoS of the device subscriptions.  0 by default: with a clean session, QoS 1 would
    #: add an acknowledgement per message and deliver nothing more (what is in flight when
    #: the connection breaks is lost either way); a break is covered by the gateway's
    #: numbering and the retained record instead.
    device_qos: int = 0
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class _Device:
    handle: MonitorHandle
    gateway: str | None = None  # whose numbering `seq` is
    seq: int = 0  # the last item delivered
    want_record: bool = False  # subscribed anew: the next calls record is to be replayed


class GatewayClient:
    """See the module docstring."""

    def __init__(
        self,
        broker: BrokerSettings,
        site: str = "default",
        options: GatewayClientOptions | None = None,
        *,
        client_id: str | None = None,
    ) -> None:
        self.broker = broker
        self.topics = wire.Topics(site)
        self.options = options or GatewayClientOptions()
        self.user = broker.user
        if self.user is not None:
            wire.check_name("user", self.user)
        self.client_id = (
            client_id or f"cstapopup-{self.user or 'anonymous'}-{uuid.uuid4().hex[:10]}"
        )
        wire.check_name("client id", self.client_id)
        self.state = "down"
        self.state_reason = "not started"
        #: Numbers the gateway gave that never arrived here (events missed, e.g. while away).
        self.lost = 0
        #: Times reading from the broker paused because a consumer of events() was behind.
        self.read_pauses = 0
        self._room = asyncio.Event()  # set when every consumer has room
        self._room.set()
        self.gateway: str | None = None  # the gateway instance last heard of
        self._devices: dict[str, _Device] = {}
        self._queues: list[asyncio.Queue[ClientItem]] = []
        self._mqtt: Any = None
        self._broker_up = False
        self._broker_reason = "not started"
        self._broker_error: BrokerUnreachableError | None = None
        self._rejected = False
        self._retry_in: float | None = None
        self._gw_link: wire.LinkMessage | None = None
        self._gw_missing = False  # subscribed gateway_wait ago, and no link state came
        self.error: GatewayLinkError | None = None  # behind the current state
        self._said: tuple[object, ...] = ("down", "not started", None)
        self._pending: dict[bytes, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._up = asyncio.Event()

    def __repr__(self) -> str:
        return f"GatewayClient({self.broker.url}, user={self.user!r}, state={self.state})"

    @property
    def monitors(self) -> list[MonitorHandle]:
        return [d.handle for d in self._devices.values()]

    @property
    def broker_connected(self) -> bool:
        """Whether the connection to the broker is up (whatever the gateway's state)."""
        return self._broker_up

    @property
    def gateway_link(self) -> wire.LinkMessage | None:
        """The office gateway's link state as last published (None: none heard yet)."""
        return self._gw_link

    @property
    def response_topic(self) -> str | None:
        if self.user is None:
            return None
        return self.topics.responses(self.user) + self.client_id

    # Life cycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the broker once; raises BrokerAuthError (refused: not retried) or
        BrokerConnectError.  From then on the client reconnects by itself (`reconnect`)."""
        self._first = asyncio.get_running_loop().create_future()
        self._supervisor = asyncio.create_task(self._supervise(), name="gateway-client")
        try:
            await self._first
        except BaseException:
            await self._stop_supervisor()
            raise

    async def start(self) -> None:
        """Connect in the background (failures are link states, retried)."""
        self._supervisor = asyncio.create_task(self._supervise(), name="gateway-client")

    async def wait_up(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self._up.wait()

    async def wait_finished(self) -> None:
        """Until the client has stopped trying: the broker refused the login (state
        "rejected"), a setting it cannot use, the broker lost with `reconnect` off, or
        close()."""
        task = self._supervisor
        if task is not None:
            await asyncio.wait({task})

    async def close(self) -> None:
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            await self._stop_supervisor()
            for task in list(self._tasks):
                task.cancel()
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(LinkDownError("closed"))
            self.state, self.state_reason = "closed", "closed by the application"
            self._publish(LinkStateChanged("closed", "closed by the application"))
            self._closed.set()

    async def wait_closed(self) -> None:
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

    # Monitors -----------------------------------------------------------------------------

    async def monitor_start(self, device: str) -> MonitorHandle:
        """Follow a device's events (subscribes to its topics; the gateway must monitor it)."""
        device = wire.check_device(str(device))
        dev = self._devices.get(device)
        if dev is None:
            dev = self._devices[device] = _Device(MonitorHandle(device))
            if self._mqtt is not None and self._broker_up:
                await self._subscribe(self._mqtt, dev)
        return dev.handle

    async def monitor_stop(self, device: str | MonitorHandle) -> None:
        name = device.device if isinstance(device, MonitorHandle) else str(device)
        dev = self._devices.pop(name, None)
        if dev is not None and self._mqtt is not None and self._broker_up:
            with contextlib.suppress(Exception):
                await self._mqtt.unsubscribe(
                    [self.topics.event(name), self.topics.snapshot(name), self.topics.calls(name)]
                )
        if dev is not None:
            dev.handle.active = False

    async def _subscribe(self, mqtt: Any, dev: _Device) -> None:
        d = dev.handle.device
        dev.want_record = True
        # One SUBSCRIBE: the broker sends the retained calls record before anything
        # published after it (the record holds what came before).
        qos = self.options.device_qos
        await mqtt.subscribe(
            [
                (self.topics.calls(d), qos),
                (self.topics.event(d), qos),
                (self.topics.snapshot(d), qos),
            ]
        )
        dev.handle.active = True

    # Items --------------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[ClientItem, None]:
        """Every MonitorEvent, MonitorSnapshot and LinkStateChanged from now on, until the
        client is closed."""
        # Unbounded here: the reader stops at `queue_size` waiting (`_wait_for_room`), and the
        # link states the client makes itself must never be refused.
        queue: asyncio.Queue[ClientItem] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                if self._closed.is_set() and queue.empty():
                    return
                get = asyncio.ensure_future(queue.get())
                closed = asyncio.ensure_future(self._closed.wait())
                try:
                    done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    # Also when the consumer stops listening (aclose, cancel): no task left.
                    closed.cancel()
                    if not get.done():
                        get.cancel()
                if get in done:
                    if queue.qsize() < self.options.queue_size and not self._room.is_set():
                        self._check_room()
                    yield get.result()
                elif queue.empty():
                    return
        finally:
            self._queues.remove(queue)
            self._check_room()

    def _publish(self, item: ClientItem) -> None:
        for q in self._queues:
            q.put_nowait(item)

    def _check_room(self) -> None:
        if all(q.qsize() < self.options.queue_size for q in self._queues):
            self._room.set()

    async def _wait_for_room(self) -> None:
        """Backpressure: while a consumer of events() is `queue_size` items behind, read no
        further message from the broker."""
        if all(q.qsize() < self.options.queue_size for q in self._queues):
            return
        self._room.clear()
        self.read_pauses += 1
        if self.read_pauses == 1:
            log.warning("the consumer of the events is behind: reading paused until it catches up")
        await self._room.wait()

    def _set_state(self) -> None:
        error: GatewayLinkError | None = None
        retry: float | None = None
        gw = self._gw_link
        if not self._broker_up:
            state, reason, retry = "down", self._broker_reason, self._retry_in
            error = self._broker_error
            if self._rejected:
                state = "rejected"
        elif gw is None and not self._gw_missing:
            state, reason = (
                "connecting",
                (f"connected to the broker {self.broker.url}; waiting for the office gateway"),
            )
        elif gw is None:
            state = "down"
            reason = (
                f"no office gateway has published for site {self.topics.site} at {self.broker.url}"
            )
            error = NoGatewayError(reason)
        elif gw.state == "up":
            state, reason = "up", gw.reason
            if self.lost:  # said with the state (and again when it grows)
                reason += f"; {self.lost} events of the gateway never arrived here"
        elif gw.state == "offline":
            state, reason = "down", f"office gateway: {gw.reason}"
            error = GatewayGoneError(reason, reason=gw.reason, stopped=gw.gone == "stopped")
        else:
            # connecting or down: the gateway runs, its PBX link does not.
            state, retry = "down", gw.retry_in
            reason = f"PBX link of the office gateway: {gw.state}: {gw.reason}"
            error = GatewayPbxDownError(reason, state=gw.state, reason=gw.reason)
        # While up, a new link message may name devices the PBX would not monitor: said too.
        said = (state, reason, gw if state == "up" else None)
        if said == self._said:
            return
        self._said = said
        self.state, self.state_reason, self.error = state, reason, error
        if state == "up":
            self._up.set()
        else:
            self._up.clear()
        log.info("link %s: %s", state, reason)
        self._publish(
            LinkStateChanged(
                state, reason, retry_in=retry if state == "down" else None, error=error
            )
        )

    # The broker connection ----------------------------------------------------------------

    async def _supervise(self) -> None:
        aiomqtt = broker_mod.aiomqtt_module()
        delay = self.options.backoff_initial
        while not self._closing:
            self._broker_up = False
            mqtt = broker_mod.mqtt_client(
                self.broker,
                identifier=self.client_id,
                keepalive=self.options.keepalive,
                timeout=self.options.connect_timeout,
            )
            try:
                async with mqtt:
                    if self._first is not None and not self._first.done():
                        self._first.set_result(None)
                    delay = self.options.backoff_initial
                    await self._serve(mqtt)
            except aiomqtt.MqttError as exc:
                error = broker_mod.explain(exc, self.broker)
            except BrokerError as exc:
                error = exc
            except ValueError as exc:  # a TLS file that cannot be used
                error = broker_mod.BrokerConfigError(str(exc))
            else:
                return
            finally:
                self._mqtt = None
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_exception(LinkDownError("the connection to the broker was lost"))
            if self._closing:
                return
            if self._first is not None and not self._first.done():
                self._first.set_exception(error)
                return
            refused = isinstance(error, BrokerAuthError)
            setup = isinstance(error, broker_mod.BrokerConfigError)
            self._broker_error = (
                BrokerRefusedError(error)
                if refused
                else BrokerSetupError(error)
                if setup
                else BrokerUnreachableError(error)
            )
            if refused or setup or not self.options.reconnect:
                # A refused login does not get better by trying again (and may lock the
                # account): "rejected", as a PBX's refusal for good.
                self._rejected = refused
                self._broker_up, self._broker_reason, self._retry_in = False, str(error), None
                self._set_state()
                log.error("%s", error)
                return
            wait = max(
                0.05,
                delay
                * (
                    1
                    + self.options.rng.uniform(
                        -self.options.backoff_jitter, self.options.backoff_jitter
                    )
                ),
            )
            self._broker_reason, self._retry_in = str(error), wait
            self._set_state()
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.options.backoff_max)

    async def _serve(self, mqtt: Any) -> None:
        self._mqtt = mqtt
        topics = [(self.topics.link, 1)]
        if self.response_topic is not None:
            topics.append((self.response_topic, 1))
        await mqtt.subscribe(topics)
        for dev in list(self._devices.values()):
            await self._subscribe(mqtt, dev)
        self._broker_up, self._retry_in, self._broker_error = True, None, None
        self._gw_link = None  # the retained link state comes with the subscription
        self._gw_missing = False
        self._set_state()
        waited = asyncio.get_running_loop().call_later(
            self.options.gateway_wait, self._no_gateway_yet
        )
        try:
            async for message in mqtt.messages:
                try:
                    self._dispatch(message)
                except wire.WireError as exc:
                    log.warning("unusable message on %s: %s", message.topic, exc)
                await self._wait_for_room()
        finally:
            waited.cancel()

    def _no_gateway_yet(self) -> None:
        if self._gw_link is None and self._broker_up:
            self._gw_missing = True
            self._set_state()

    # Incoming -----------------------------------------------------------------------------

    def _dispatch(self, message: Any) -> None:
        topic = str(message.topic)
        if topic == self.topics.link:
            self._on_link(wire.decode_object(message.payload))
            return
        if topic == self.response_topic:
            self._on_response(message)
            return
        parsed = self.topics.parse_device_topic(topic)
        if parsed is None:
            return
        device, kind = parsed
        dev = self._devices.get(device)
        if dev is None:
            return
        if kind == "calls":
            if message.retain or dev.want_record:
                self._on_record(dev, wire.decode_object(message.payload))
            return
        gateway, seq = numbering(message)
        if gateway is None or seq is None:
            raise wire.WireError("no gateway/seq user properties")
        if gateway != dev.gateway:
            dev.gateway, dev.seq = gateway, 0
        if seq <= dev.seq:
            return  # sent again after a break, or replayed from the record already
        if dev.seq and seq > dev.seq + 1:
            self.lost += seq - dev.seq - 1
            log.warning(
                "device %s: %d events of the gateway never arrived", device, seq - dev.seq - 1
            )
            self._set_state()
        if kind == "event":
            _, event = wire.decode_event_line(message.payload)
            item: ClientItem = MonitorEvent(device, event)
        elif kind == "snapshot":
            data = wire.decode_object(message.payload)
            item = MonitorSnapshot(
                device,
                wire.snapshot_calls_from_json(data.get("calls")),
                str(data.get("reason") or ""),
            )
        else:
            return
        dev.seq = seq
        self._publish(item)

    def _on_link(self, data: dict[str, Any]) -> None:
        link = wire.link_from_json(data)
        if self.gateway is not None and link.gateway != self.gateway:
            # Another gateway instance: its numbering starts anew, and what the old one had
            # under way is no longer followed.
            if self.state == "up":
                self._gw_link = wire.LinkMessage("offline", "restarted", gone="stopped")
                self._set_state()
            for dev in self._devices.values():
                dev.gateway, dev.seq = None, 0
        self.gateway = link.gateway
        self._gw_link = link
        self._set_state()

    def _on_record(self, dev: _Device, rec: dict[str, Any]) -> None:
        device = dev.handle.device
        gateway, top = rec.get("gateway"), rec.get("seq")
        if not isinstance(gateway, str) or not isinstance(top, int):
            raise wire.WireError("calls record without gateway/seq")
        items = rec.get("items") or []
        if gateway == dev.gateway and dev.seq:
            if top < dev.seq:
                return  # older than what we have seen: wait for the gateway's current one
            self._record_taken(dev)
            for item in items:
                if item.get("seq", 0) > dev.seq:
                    self._replay(device, item)
            dev.seq = top
            if rec.get("complete"):
                # Back after a break (a link state "down" was given): what is under way now.
                self._publish(MonitorSnapshot(device, tuple(_record_calls(device, rec)), ""))
            return
        self._record_taken(dev)
        dev.gateway, dev.seq = gateway, top
        base = rec.get("base")
        if base is not None:
            self._publish(
                MonitorSnapshot(device, wire.snapshot_calls_from_json(base.get("calls") or []), "")
            )
        for item in items:
            self._replay(device, item)

    def _record_taken(self, dev: _Device) -> None:
        """The record has done its work until the next (re)subscription: the updates the
        gateway publishes with every event would only double what this client receives."""
        dev.want_record = False
        mqtt = self._mqtt
        if mqtt is None:
            return

        async def unsubscribe() -> None:
            with contextlib.suppress(Exception):
                await mqtt.unsubscribe(self.topics.calls(dev.handle.device))

        task = asyncio.ensure_future(unsubscribe())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _replay(self, device: str, item: dict[str, Any]) -> None:
        data = item.get("data") or {}
        if item.get("kind") == "event":
            self._publish(MonitorEvent(device, wire.event_from_dict(data)))
        elif item.get("kind") == "snapshot":
            self._publish(
                MonitorSnapshot(
                    device,
                    wire.snapshot_calls_from_json(data.get("calls")),
                    str(data.get("reason") or ""),
                )
            )

    def _on_response(self, message: Any) -> None:
        corr = getattr(message.properties, "CorrelationData", None) if message.properties else None
        fut = self._pending.get(bytes(corr)) if corr is not None else None
        if fut is None or fut.done():
            return
        try:
            fut.set_result(wire.decode_object(message.payload))
        except wire.WireError as exc:
            fut.set_exception(GatewayRequestError(f"unusable answer from the gateway: {exc}"))

    # Call control -------------------------------------------------------------------------

    async def _request(self, operation: str, *values: Any) -> Any:
        op = wire.OPERATIONS[operation]
        mqtt = self._mqtt
        if mqtt is None or not self._broker_up:
            raise LinkDownError(f"not connected to the broker: {self._broker_reason}")
        if self.user is None or self.response_topic is None:
            raise GatewayRefusedError("requests to the office gateway need a broker user")
        if self.state != "up":
            raise LinkDownError(f"link is {self.state}: {self.state_reason}")
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        corr = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.response_topic
        props.CorrelationData = corr
        # A request the gateway cannot take at once is not to be carried out much later.
        props.MessageExpiryInterval = max(1, int(self.options.request_timeout))
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[corr] = fut
        try:
            await mqtt.publish(
                self.topics.request(self.user),
                wire.encode_request(operation, values),
                qos=1,
                properties=props,
            )
            try:
                async with asyncio.timeout(self.options.request_timeout):
                    answer = await fut
            except TimeoutError:
                raise RequestTimeout(
                    f"{operation}: no answer from the office gateway within "
                    f"{self.options.request_timeout:g} s"
                ) from None
        except broker_mod.aiomqtt_module().MqttError as exc:
            raise LinkDownError(
                f"{operation}: the request did not reach the broker: {exc}"
            ) from None
        finally:
            self._pending.pop(corr, None)
        if answer.get("ok"):
            try:
                return wire.result_from_json(op, answer.get("result"))
            except wire.WireError as exc:
                raise GatewayRequestError(f"{operation}: unusable result: {exc}") from None
        kind, message = answer.get("error"), str(answer.get("message") or "")
        if kind == "refused":
            device = answer.get("device")
            raise GatewayRefusedError(
                message, user=self.user, device=device if isinstance(device, str) else None
            )
        if kind == "pbx_error":
            raise CstaServiceError(operation, wire.failure_from_json(answer.get("failure")))
        if kind == "pbx_reject":
            raise CstaRejectError(message)
        if kind == "link_down":
            raise LinkDownError(message)
        if kind == "timeout":
            raise RequestTimeout(message)
        raise GatewayRequestError(f"{operation}: {kind}: {message}")

    async def snapshot_device(self, device: str) -> list[SnapshotCall]:
        return await self._request("snapshot_device", device)

    async def make_call(self, calling: str, called: str) -> ConnectionId:
        return await self._request("make_call", calling, called)

    async def answer_call(self, connection: ConnectionId) -> None:
        await self._request("answer_call", connection)

    async def clear_connection(self, connection: ConnectionId) -> None:
        await self._request("clear_connection", connection)

    async def clear_call(self, connection: ConnectionId) -> None:
        await self._request("clear_call", connection)

    async def deflect_call(self, connection: ConnectionId, destination: str) -> None:
        await self._request("deflect_call", connection, destination)

    async def hold_call(self, connection: ConnectionId) -> None:
        await self._request("hold_call", connection)

    async def retrieve_call(self, connection: ConnectionId) -> None:
        await self._request("retrieve_call", connection)

    async def consultation_call(self, existing: ConnectionId, device: str) -> ConnectionId:
        return await self._request("consultation_call", existing, device)

    async def transfer_call(self, held: ConnectionId, active: ConnectionId) -> ConnectionId:
        return await self._request("transfer_call", held, active)

    async def single_step_transfer(self, active: ConnectionId, to: str) -> ConnectionId:
        return await self._request("single_step_transfer", active, to)

    async def reconnect_call(self, active: ConnectionId, held: ConnectionId) -> None:
        await self._request("reconnect_call", active, held)

    async def alternate_call(self, held: ConnectionId, active: ConnectionId) -> None:
        await self._request("alternate_call", held, active)

    async def directed_pickup_call(
        self, ringing: ConnectionId, requesting: str
    ) -> ConnectionId | None:
        return await self._request("directed_pickup_call", ringing, requesting)


def _number_of(message: Any) -> tuple[str, int, float | None] | None:
    props = message.properties
    for key, value in (getattr(props, "UserProperty", None) or ()) if props is not None else ():
        if key == wire.PROP_NUMBER:
            return wire.parse_number_property(value)
    return None


def numbering(message: Any) -> tuple[str | None, int | None]:
    """The gateway instance and the number an event or snapshot message carries."""
    number = _number_of(message)
    return (None, None) if number is None else (number[0], number[1])


def received_at(message: Any) -> float | None:
    """When the gateway read a message's event from the PBX (Unix time), if it says."""
    number = _number_of(message)
    return None if number is None else number[2]


def _record_calls(device: str, rec: dict[str, Any]) -> list[SnapshotCall]:
    """The calls of a device's record, as a snapshot lists them."""
    out = []
    for c in rec.get("calls") or []:
        gcid = c.get("global_call_id")
        try:
            out.append(
                SnapshotCall(
                    ConnectionId(bytes.fromhex(c["call_id"]), DeviceId("number", device)),
                    c.get("state"),
                    bytes.fromhex(gcid) if gcid else None,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise wire.WireError(f"calls record of {device}: {exc}") from None
    return out
