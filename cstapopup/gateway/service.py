"""The gateway service: one CSTA association for the office, published through the broker.

`Gateway` monitors every configured device on the PBX (a `CstaClient`, which reconnects and
re-monitors by itself) and publishes, through one MQTT 5 connection of its own:

- every event on the device's event topic (QoS 1), numbered per device (user property `seq`);
- every monitor snapshot on the device's snapshot topic, numbered with the events;
- the device's calls under way as its retained calls record (`underway.DeviceCalls`),
  published *before* the event that changed it, so that a desktop subscribing between the two
  finds the event in the record and drops the live copy by its number;
- the PBX link state (retained), with a last will saying the gateway is gone.

What it read from the PBX while the broker is away waits in a bounded outbox (oldest dropped
first, counted and logged) and goes out in order once the broker is back; a message is taken
off only when the broker has acknowledged it (a resend after a break may duplicate, never
lose; desktops drop duplicates by number).  Call-control requests from desktops (MQTT 5
request/response) are carried out for the devices the requesting broker user may control.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import ssl
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cstapopup.csta.client import (
    AssociationRejectedError,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaClientError,
    CstaRejectError,
    CstaServiceError,
    LinkDownError,
    LinkStateChanged,
    MonitorEvent,
    MonitorSnapshot,
    MonitorStartError,
    RequestTimeout,
)
from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER

from . import broker as broker_mod
from . import wire
from .broker import BrokerAuthError, BrokerError, BrokerSettings, SessionTakenOver
from .rights import RightsFile
from .underway import DEFAULT_MAX_ITEMS, DeviceCalls

log = logging.getLogger(__name__)


class NoDeviceMonitored(Exception):
    """The PBX refused to monitor every configured device."""


@dataclass(frozen=True)
class PbxSettings:
    host: str
    port: int = DEFAULT_PORT
    user: str = DEFAULT_USER
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    ssl: ssl.SSLContext | None = None


@dataclass
class GatewayOptions:
    #: Messages kept while the broker is away; beyond this the oldest are dropped (counted).
    buffer_size: int = 100_000
    #: Items kept per device for late desktops before its record is compacted.
    max_items: int = DEFAULT_MAX_ITEMS
    #: Publishes waiting for the broker's acknowledgement at once.
    publish_window: int = 64
    broker_keepalive: int = 30
    broker_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    backoff_jitter: float = 0.2
    #: Requests carried out at once; more are refused as busy.
    max_requests: int = 32
    #: How long a stopping gateway waits for the broker to take what it still holds.
    drain_timeout: float = 5.0
    client: ClientOptions = field(default_factory=ClientOptions)
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class GatewayStats:
    events: int = 0  # events and snapshots read from the PBX
    published: int = 0  # messages the broker acknowledged (events, snapshots, link states)
    records: int = 0  # calls records published
    dropped: int = 0  # messages dropped because the outbox was full
    max_buffered: int = 0
    broker_connects: int = 0
    requests: int = 0
    refused: int = 0


@dataclass(eq=False, slots=True)
class _Out:
    topic: str
    payload: bytes
    retain: bool = False
    device: str | None = None
    seq: int | None = None
    received: float | None = None


class Gateway:
    """See the module docstring.  `run()` until `stop()`; fatal errors are raised from
    `run()`: AssociationRejectedError (PBX credentials), BrokerAuthError (broker
    credentials), SessionTakenOver (another gateway for the site), NoDeviceMonitored."""

    def __init__(
        self,
        pbx: PbxSettings,
        broker: BrokerSettings,
        devices: list[str],
        *,
        site: str = "default",
        rights: RightsFile | None = None,
        options: GatewayOptions | None = None,
    ) -> None:
        if not devices:
            raise ValueError("no devices to monitor")
        self.pbx = pbx
        self.broker = broker
        self.devices = list(dict.fromkeys(devices))
        self.topics = wire.Topics(site)
        self.rights = rights or RightsFile(None)
        self.options = options or GatewayOptions()
        self.instance = uuid.uuid4().hex[:12]
        self.stats = GatewayStats()
        self.calls = {d: DeviceCalls(d, self.options.max_items) for d in self.devices}
        client_options = self.options.client
        if pbx.ssl is not None:
            client_options = dataclasses.replace(client_options, ssl=pbx.ssl)
        self.client = CstaClient(pbx.host, pbx.port, pbx.user, pbx.password, client_options)
        #: Devices the PBX would not monitor, with its universalFailure reason.
        self.unmonitored: dict[str, str] = {}
        self.link: dict[str, Any] = self._link_payload("connecting", "starting")
        self._outbox: deque[_Out] = deque()
        self._inflight: deque[_Out] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._stop = asyncio.Event()
        self._record_versions: dict[str, int] = {}
        self._seen_requests: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._request_tasks: set[asyncio.Task[None]] = set()
        self._drop_logged_at = 0
        self.connected = asyncio.Event()  # to the broker (for tests and tools)

    def __repr__(self) -> str:
        return f"Gateway({self.pbx.host}:{self.pbx.port} -> {self.broker.url}, site={self.topics.site})"

    # Life cycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        log.info(
            "gateway %s: site %s, %d devices, PBX %s:%d, broker %s",
            self.instance,
            self.topics.site,
            len(self.devices),
            self.pbx.host,
            self.pbx.port,
            self.broker.url,
        )
        consumer = asyncio.create_task(self._consume(), name="gateway-consume")
        broker_task = asyncio.create_task(self._broker_loop(), name="gateway-broker")
        pbx_task = asyncio.create_task(self._pbx_loop(), name="gateway-pbx")
        stop_task = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait(
                {broker_task, pbx_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                failure = None if task is stop_task else task.exception()
                if failure is not None:
                    raise failure
        finally:
            # Whatever ended the run, nothing below waits without a bound: a task that does
            # not end when cancelled (a library swallowing the cancellation) is left behind
            # and said, rather than keeping the process from exiting.
            self._stop.set()  # _pbx_loop waits for it too, not only for its cancellation
            stop_task.cancel()
            await _finish(pbx_task, self.options.drain_timeout, "the PBX side")
            try:
                async with asyncio.timeout(self.options.drain_timeout + 5):
                    await self.client.close()
            except TimeoutError:
                log.error("the PBX link did not close in time")
            await _finish(consumer, self.options.drain_timeout, "the event reader")
            # What the PBX said up to here, then that the gateway is gone (on purpose).
            self._enqueue_link("offline", "the office gateway was stopped", gone="stopped")
            self._stopping = True
            self._wake.set()
            if not broker_task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(broker_task), self.options.drain_timeout)
                except TimeoutError:
                    log.warning(
                        "the broker did not take everything within %g s", self.options.drain_timeout
                    )
                except BrokerError as exc:
                    log.warning("broker: %s", exc)
                await _finish(broker_task, self.options.drain_timeout, "the broker side")
            left = len(self._outbox) + len(self._inflight)
            if left:
                log.warning("stopped with %d messages the broker did not take", left)
            for task in list(self._request_tasks):
                task.cancel()
            log.info("gateway stopped: %s", self.stats)

    # The PBX side ---------------------------------------------------------------------------

    async def _pbx_loop(self) -> None:
        delay = self.options.client.backoff_initial
        while True:
            try:
                await self.client.connect()
                break
            except AssociationRejectedError:
                raise
            except ConnectError as exc:
                wait = self._jitter(delay)
                log.warning("PBX: %s; retry in %.1f s", exc, wait)
                self._enqueue_link("down", str(exc), retry_in=wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.options.client.backoff_max)
        monitored = 0
        for device in self.devices:
            try:
                await self.client.monitor_start(device)
                monitored += 1
            except CstaServiceError as exc:
                self.unmonitored[device] = exc.reason or str(exc)
                log.error("cannot monitor %s: %s", device, exc.reason)
            except CstaClientError as exc:  # link lost meanwhile: the client restores it
                monitored += 1
                log.warning("monitor of %s not started yet: %s", device, exc)
        if monitored == 0:
            raise NoDeviceMonitored(
                "the PBX refused to monitor every device: "
                + ", ".join(f"{d} ({r})" for d, r in self.unmonitored.items())
            )
        log.info("monitoring %d of %d devices", monitored, len(self.devices))
        if self.unmonitored and self.client.state == "up":
            # Desktops show which of their devices the PBX would not monitor, from the link
            # state: say it again, now with them.
            self._enqueue_link("up", self.link.get("reason") or self.client.state_reason)
        await self._stop.wait()  # the client keeps the link from here on

    async def _consume(self) -> None:
        async for item in self.client.events():
            now = time.time()
            if isinstance(item, MonitorEvent):
                dev = self.calls.get(item.device)
                if dev is None:
                    continue
                line = wire.event_dict(item.device, item.event)
                seq = dev.add_event(item.event, line)
                self.stats.events += 1
                self._enqueue(
                    _Out(
                        self.topics.event(item.device),
                        json.dumps(line, ensure_ascii=False).encode(),
                        device=item.device,
                        seq=seq,
                        received=now,
                    )
                )
            elif isinstance(item, MonitorSnapshot):
                dev = self.calls.get(item.device)
                if dev is None:
                    continue
                seq, payload = dev.add_snapshot(item.calls, item.reason)
                self.stats.events += 1
                self._enqueue(
                    _Out(
                        self.topics.snapshot(item.device),
                        json.dumps(payload).encode(),
                        device=item.device,
                        seq=seq,
                        received=now,
                    )
                )
            elif isinstance(item, LinkStateChanged):
                if item.state == "closed":
                    continue  # said by run() once the outbox has what came before
                if isinstance(item.error, MonitorStartError):
                    # Not restored after a reconnect: the link itself is up.
                    self.unmonitored[item.error.device] = item.error.reason or str(item.error)
                    log.error("cannot monitor %s: %s", item.error.device, item.error.reason)
                if item.state == "down":
                    for dev in self.calls.values():
                        dev.link_lost()
                self._enqueue_link(item.state, item.reason, retry_in=item.retry_in)

    def _link_payload(
        self, state: str, reason: str, retry_in: float | None = None, gone: str | None = None
    ) -> dict[str, Any]:
        payload = {
            "state": state,
            "reason": reason,
            "retry_in": retry_in,
            "gateway": self.instance,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "devices": self.devices,
            "unmonitored": dict(self.unmonitored),
        }
        if gone is not None:
            payload["gone"] = gone
        return payload

    def _enqueue_link(
        self, state: str, reason: str, retry_in: float | None = None, gone: str | None = None
    ) -> None:
        self.link = self._link_payload(state, reason, retry_in, gone)
        self._enqueue(_Out(self.topics.link, json.dumps(self.link).encode(), retain=True))

    def _enqueue(self, out: _Out) -> None:
        if len(self._outbox) >= self.options.buffer_size:
            self._outbox.popleft()
            self.stats.dropped += 1
            if self.stats.dropped - self._drop_logged_at >= 1000 or self._drop_logged_at == 0:
                log.error(
                    "outbox full (%d messages, broker away): %d messages dropped so far",
                    self.options.buffer_size,
                    self.stats.dropped,
                )
                self._drop_logged_at = self.stats.dropped
        self._outbox.append(out)
        self.stats.max_buffered = max(self.stats.max_buffered, len(self._outbox))
        self._wake.set()

    def _jitter(self, delay: float) -> float:
        j = self.options.backoff_jitter
        return max(0.05, delay * (1 + self.options.rng.uniform(-j, j)))

    # The broker side ------------------------------------------------------------------------

    def _will(self) -> tuple[str, bytes]:
        payload = self._link_payload(
            "offline",
            "the office gateway is gone (its connection to the broker was lost)",
            gone="lost",
        )
        return self.topics.link, json.dumps(payload).encode()

    async def _broker_loop(self) -> None:
        aiomqtt = broker_mod.aiomqtt_module()
        delay = self.options.backoff_initial
        while True:
            mqtt = broker_mod.mqtt_client(
                self.broker,
                identifier=f"cstapopup-gateway-{self.topics.site}",
                keepalive=self.options.broker_keepalive,
                timeout=self.options.broker_timeout,
                will=self._will(),
            )
            try:
                async with mqtt:
                    self.stats.broker_connects += 1
                    delay = self.options.backoff_initial
                    log.info("broker %s: connected", self.broker.url)
                    try:
                        await self._session(mqtt)
                        return  # stopped and drained
                    finally:
                        self.connected.clear()
                        self._requeue_inflight()
            except aiomqtt.MqttError as exc:
                error = broker_mod.explain(exc, self.broker)
                if isinstance(error, (BrokerAuthError, SessionTakenOver)):
                    raise error from None
                if self._stopping:
                    return
                wait = self._jitter(delay)
                log.warning(
                    "%s; %d messages waiting; retry in %.1f s", error, len(self._outbox), wait
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.options.backoff_max)

    def _requeue_inflight(self) -> None:
        # Not acknowledged: sent again, first, in their order (desktops drop duplicates).
        self._outbox.extendleft(reversed(self._inflight))
        self._inflight.clear()
        self._record_versions.clear()

    async def _session(self, mqtt: Any) -> None:
        """One broker connection: the current state first, then the outbox, and requests."""
        await mqtt.publish(self.topics.link, json.dumps(self.link).encode(), qos=1, retain=True)
        await asyncio.gather(*(self._publish_record(mqtt, d) for d in self.devices))
        await mqtt.subscribe(self.topics.requests, qos=1)
        self.connected.set()
        requests = asyncio.create_task(self._serve_requests(mqtt), name="gateway-requests")
        publisher = asyncio.create_task(self._publish_loop(mqtt), name="gateway-publish")
        try:
            done, _ = await asyncio.wait({requests, publisher}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the connection's error, if any
        finally:
            for task in (requests, publisher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _publish_record(self, mqtt: Any, device: str) -> None:
        dev = self.calls[device]
        version = dev.version
        payload = json.dumps(dev.record(self.instance), ensure_ascii=False).encode()
        self._record_versions[device] = version
        await mqtt.publish(self.topics.calls(device), payload, qos=1, retain=True)
        self.stats.records += 1

    def _properties(self, out: _Out) -> Any:
        if out.seq is None:
            return None
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [wire.number_property(self.instance, out.seq, out.received or 0.0)]
        return props

    async def _publish_loop(self, mqtt: Any) -> None:
        loop = asyncio.get_running_loop()
        window = asyncio.Semaphore(self.options.publish_window)
        failed: asyncio.Future[None] = loop.create_future()
        tasks: set[asyncio.Task[None]] = set()

        def spawn(coro: Any, out: _Out | None) -> None:
            task = asyncio.ensure_future(coro)
            tasks.add(task)

            def done(t: asyncio.Future[None]) -> None:
                tasks.discard(task)
                window.release()
                if t.cancelled():
                    return
                exc = t.exception()
                if exc is not None:
                    if not failed.done():
                        failed.set_exception(exc)
                elif out is not None:
                    with contextlib.suppress(ValueError):
                        self._inflight.remove(out)
                    self.stats.published += 1

            task.add_done_callback(done)

        try:
            while True:
                if failed.done():
                    failed.result()
                if not self._outbox:
                    if self._stopping and not self._inflight:
                        return
                    self._wake.clear()
                    waiter: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
                    # While stopping, wake up again when the last acknowledgement comes.
                    timeout = 0.05 if self._stopping else None
                    await asyncio.wait(
                        {waiter, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                    waiter.cancel()
                    continue
                await window.acquire()
                if failed.done():
                    window.release()
                    continue
                if not self._outbox:
                    window.release()
                    continue
                out = self._outbox.popleft()
                if (
                    out.device is not None
                    and self._record_versions.get(out.device) != self.calls[out.device].version
                ):
                    await window.acquire()
                    spawn(self._publish_record(mqtt, out.device), None)
                self._inflight.append(out)
                spawn(
                    mqtt.publish(
                        out.topic,
                        out.payload,
                        qos=1,
                        retain=out.retain,
                        properties=self._properties(out),
                    ),
                    out,
                )
        finally:
            for task in list(tasks):
                task.cancel()

    # Requests -------------------------------------------------------------------------------

    async def _serve_requests(self, mqtt: Any) -> None:
        async for message in mqtt.messages:
            user = self.topics.parse_request_topic(str(message.topic))
            if user is None:
                continue
            if len(self._request_tasks) >= self.options.max_requests:
                await self._answer(
                    mqtt,
                    user,
                    message,
                    wire.error_response(
                        "busy", "the office gateway is busy with other requests; try again"
                    ),
                )
                continue
            task = asyncio.create_task(self._handle_request(mqtt, user, message))
            self._request_tasks.add(task)
            task.add_done_callback(self._request_tasks.discard)

    def _response_target(self, user: str, message: Any) -> tuple[str, bytes | None] | None:
        props = message.properties
        topic = getattr(props, "ResponseTopic", None) if props is not None else None
        corr = getattr(props, "CorrelationData", None) if props is not None else None
        prefix = self.topics.responses(user)
        if (
            not topic
            or not topic.startswith(prefix)
            or len(topic) == len(prefix)
            or "+" in topic
            or "#" in topic
        ):
            # Answering to any other topic would let a user make the gateway publish where
            # that user may not: only the user's own response topics are answered.
            log.warning(
                "request from %s with response topic %r ignored (must be under %s)",
                user,
                topic,
                prefix,
            )
            return None
        return topic, corr

    async def _answer(self, mqtt: Any, user: str, message: Any, payload: bytes) -> None:
        target = self._response_target(user, message)
        if target is None:
            return
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        if target[1] is not None:
            props.CorrelationData = target[1]
        try:
            await mqtt.publish(target[0], payload, qos=1, properties=props)
        except broker_mod.aiomqtt_module().MqttError as exc:
            # The broker went away: the desktop times out and says so.
            log.warning("answer to %s not sent: %s", user, exc)

    async def _handle_request(self, mqtt: Any, user: str, message: Any) -> None:
        target = self._response_target(user, message)
        if target is None:
            return
        key = (user, target[1] or b"")
        if target[1] is not None:
            if key in self._seen_requests:
                log.info(
                    "request %s from %s seen before (redelivered): not carried out again",
                    target[1].hex(),
                    user,
                )
                return
            self._seen_requests[key] = None
            while len(self._seen_requests) > 4096:
                self._seen_requests.popitem(last=False)
        self.stats.requests += 1
        try:
            request = wire.decode_request(message.payload)
        except wire.WireError as exc:
            log.info("request from %s: bad: %s", user, exc)
            await self._answer(mqtt, user, message, wire.error_response("bad_request", str(exc)))
            return
        name = request.operation.name
        rights = self.rights.current()
        for device in request.controlled_devices():
            if not rights.allows(user, device):
                self.stats.refused += 1
                why = (
                    f"user {user} may not control device {device}"
                    if device
                    else f"{name}: the connection names no device"
                )
                log.info("request from %s: %s refused: %s", user, name, why)
                await self._answer(
                    mqtt,
                    user,
                    message,
                    wire.error_response("refused", why, operation=name, device=device),
                )
                return
        if self.client.state != "up":
            await self._answer(
                mqtt,
                user,
                message,
                wire.error_response(
                    "link_down",
                    f"the PBX link is {self.client.state}: {self.client.state_reason}",
                    operation=name,
                ),
            )
            return
        method = getattr(self.client, name)
        args = [request.args[a] for a, _ in request.operation.args]
        try:
            result = await method(*args)
        except CstaServiceError as exc:
            log.info("request from %s: %s: the PBX said %s", user, name, exc.reason)
            payload = wire.error_response(
                "pbx_error", str(exc), operation=name, failure=exc.failure
            )
        except CstaRejectError as exc:
            payload = wire.error_response("pbx_reject", str(exc), operation=name)
        except LinkDownError as exc:
            payload = wire.error_response("link_down", str(exc), operation=name)
        except RequestTimeout as exc:
            payload = wire.error_response("timeout", str(exc), operation=name)
        except CstaClientError as exc:
            payload = wire.error_response("error", str(exc), operation=name)
        else:
            log.info("request from %s: %s done", user, name)
            payload = wire.ok_response(request.operation, result)
        await self._answer(mqtt, user, message, payload)


async def _finish(task: asyncio.Task[Any], timeout: float, what: str) -> None:
    """Cancel `task` and wait for it, `timeout` seconds at most (then it is left, logged)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.error("%s did not stop within %g s; left behind", what, timeout)
        return
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, BrokerError):
            log.warning("%s ended with %s: %s", what, type(exc).__name__, exc)


__all__ = [
    "BrokerError",
    "Gateway",
    "GatewayOptions",
    "GatewayStats",
    "NoDeviceMonitored",
    "PbxSettings",
]
