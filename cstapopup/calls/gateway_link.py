"""The desk's way to the PBX through the office gateway: `GatewayLink`, a `DeskLink` over the
gateway's client (`cstapopup.gateway.client.GatewayClient`) instead of a CSTA link of our own.

The desk cannot tell the two apart: the same events (replayed from the gateway's record when
the app starts during a call), the same snapshots, the same services (each one an MQTT 5
request that the gateway carries out if the broker user may control the device; its refusal
comes back as `GatewayRefusedError`), and link states as the same typed `LinkChange`s.  What
is new are the faults of the way itself, each one a `LinkFault`: the broker cannot be reached
(retried), the broker refused the user or password (REJECTED: no more attempts, as a PBX's
refusal), no gateway answers for the site, the gateway is gone (stopped, or its last will),
and the PBX is down behind a gateway that runs.  The words come from `calls.texts`.

Layers: calls/ imports gateway/ (which imports csta/ only), never the other way round; the
gateway is a headless service that knows nothing of the desk.  No Qt here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from cstapopup.csta.client import LinkStateChanged, MonitorEvent, MonitorSnapshot
from cstapopup.gateway.broker import (
    BrokerAuthError,
    BrokerError,
    MissingDependency,
    aiomqtt_module,
    parse_broker_url,
)
from cstapopup.gateway.client import (
    BrokerRefusedError,
    BrokerSetupError,
    BrokerUnreachableError,
    GatewayClient,
    GatewayClientOptions,
    GatewayGoneError,
    GatewayLinkError,
    GatewayPbxDownError,
    NoGatewayError,
)
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.settings import GatewayParameters

from . import texts
from .link import (
    ClientLink,
    EventCallback,
    LinkChange,
    LinkFault,
    LinkState,
    MonitorFailedCallback,
    MonitorFailure,
    SnapshotCallback,
    StateCallback,
    device_ranges,
)

log = logging.getLogger(__name__)

#: The words of a device the gateway does not monitor (not in its --device list); in the
#: user's language when shown (`translate("Link", NOT_AT_GATEWAY)`).
NOT_AT_GATEWAY = QT_TRANSLATE_NOOP("Link", "the office gateway does not monitor this device")


def _fault_of(error: GatewayLinkError | None) -> LinkFault:
    if isinstance(error, BrokerRefusedError):
        return LinkFault.BROKER_REFUSED
    if isinstance(error, BrokerSetupError):
        return LinkFault.SETUP
    if isinstance(error, BrokerUnreachableError):
        return LinkFault.BROKER_UNREACHABLE
    if isinstance(error, NoGatewayError):
        return LinkFault.NO_GATEWAY
    if isinstance(error, GatewayGoneError):
        return LinkFault.GATEWAY_GONE
    if isinstance(error, GatewayPbxDownError):
        return LinkFault.PBX_DOWN
    return LinkFault.BROKER_UNREACHABLE


def client_for(
    params: GatewayParameters, options: GatewayClientOptions | None = None
) -> GatewayClient:
    """A gateway client for the settings.  Raises ValueError (BrokerConfigError, the TLS
    module's TlsConfigError, the topic names' WireError) for settings it cannot use: an
    address that is no broker's, a CA file that cannot be read, a site name that cannot be a
    topic level; and for an install without the MQTT client (aiomqtt)."""
    try:
        aiomqtt_module()
    except MissingDependency as exc:  # an install without the MQTT client: said at once
        raise ValueError(str(exc)) from None
    broker = parse_broker_url(
        params.broker,
        user=params.user or None,
        password=params.password or None,
        ca_file=params.ca_file or None,
    )
    broker.ssl_context()  # a CA file that cannot be used is said now, not at each attempt
    return GatewayClient(broker, params.site, options)


class GatewayLink(ClientLink):
    """The way to the PBX through the office gateway, see the module docstring; a
    `DeskLink`, made like `PbxLink` (params: the `GatewayParameters`)."""

    def __init__(
        self,
        params: GatewayParameters,
        devices: Sequence[str],
        *,
        on_state: StateCallback,
        on_event: EventCallback,
        on_monitor_failed: MonitorFailedCallback | None = None,
        on_snapshot: SnapshotCallback | None = None,
        options: GatewayClientOptions | None = None,
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
        self.client: GatewayClient = client_for(params, options)
        self.label = label or translate(
            "Link", "the office gateway (site {site}) at {broker}"
        ).format(site=params.site, broker=self.client.broker.url)

    # -- life cycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        self._consumer = asyncio.create_task(self._consume(ready), name="gateway-link")
        await ready  # events() is subscribed before the first message can arrive
        for device in self.devices:
            await self.client.monitor_start(device)  # subscribed once connected
        await self.client.start()

    async def stop(self, timeout: float = 3.0) -> None:
        """Leave the broker, within `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                await self.client.close()
        except (TimeoutError, BrokerError, OSError) as exc:
            log.warning("closing the gateway link: %s", exc)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer
        self._set(LinkChange(LinkState.CLOSED, translate("Link", "closed")))

    # -- internals

    def _take(self, item: object) -> None:
        if isinstance(item, MonitorEvent):
            try:
                self._on_event(item.device, item.event)
            except Exception:
                log.exception("handling %s from %s failed", item.event.name, item.device)
        elif isinstance(item, MonitorSnapshot):
            try:
                self._on_snapshot(item.device, item.calls)
            except Exception:
                log.exception("handling the snapshot of %s failed", item.device)
        elif isinstance(item, LinkStateChanged):
            self._link_state(item)

    def _link_state(self, item: LinkStateChanged) -> None:
        if self.state in (LinkState.REJECTED, LinkState.CLOSED) or item.state == "closed":
            return
        if item.state == "up":
            self.detail = ""
            self._monitor_failures()
            self._set(LinkChange(LinkState.UP, self._up_text()))
            return
        if item.state == "connecting":
            text = (
                translate(
                    "Link",
                    "connected to the broker {broker}, waiting for the "
                    "office gateway (site {site})",
                )
                if self.client.broker_connected
                else translate("Link", "connecting to the broker {broker}")
            )
            self._set(
                LinkChange(
                    LinkState.CONNECTING,
                    text.format(broker=self.client.broker.url, site=self.params.site),
                )
            )
            return
        error = item.error if isinstance(item.error, GatewayLinkError) else None
        problem = texts.gateway_problem(
            error or GatewayLinkError(item.reason),
            broker=self.client.broker.url,
            user=self.params.user,
            site=self.params.site,
        )
        if problem.detail and problem.detail != self.detail:
            log.warning("office gateway: %s", item.reason)  # the technical account, once
        self.detail = problem.detail
        fault = _fault_of(error)
        if item.state == "rejected":
            self._set(LinkChange(LinkState.REJECTED, problem.words, fault, detail=problem.detail))
            return
        text = problem.words
        if item.retry_in is not None:
            text = (
                translate("Link", "{problem}; the gateway retries in {seconds}")
                if fault is LinkFault.PBX_DOWN
                else translate("Link", "{problem}; retrying in {seconds}")
            ).format(problem=problem.words, seconds=texts.seconds(item.retry_in))
        self._set(LinkChange(LinkState.DOWN, text, fault, item.retry_in, detail=problem.detail))

    def _monitor_failures(self) -> None:
        """The devices the gateway does not monitor, or the PBX would not monitor for it (from
        the gateway's link state); each said once, until it changes."""
        link = self.client.gateway_link
        if link is None:
            return
        watched = set(link.devices) if link.devices is not None else None
        for device in self.devices:
            reason = link.unmonitored.get(device)
            if reason is not None:
                failure = MonitorFailure.from_reason(device, reason)
            elif watched is not None and device not in watched:
                failure = MonitorFailure(device, None, translate("Link", NOT_AT_GATEWAY))
            else:
                self.failed.pop(device, None)
                continue
            if self.failed.get(device) == failure:
                continue
            self.failed[device] = failure
            log.error("%s", failure.text)
            try:
                self._on_monitor_failed(failure)
            except Exception:
                log.exception("monitor failure callback failed")

    def _up_text(self) -> str:
        monitored = [d for d in self.devices if d not in self.failed]
        if monitored:
            text = translate("Link", "connected through {gateway}, monitoring {devices}").format(
                gateway=self.label, devices=device_ranges(monitored)
            )
        else:
            text = translate("Link", "connected through {gateway}").format(gateway=self.label)
        if self.failed:
            text += "; " + "; ".join(f.text for f in self.failed.values())
        if self.client.lost:
            text += "; " + texts.count("gateway events missed", self.client.lost)
        return text


async def test_connection(params: GatewayParameters, timeout: float = 8.0) -> str:
    """Connect to the broker once and hear from the office gateway (the settings dialog's
    "Test connection"); a message for the user, or an exception whose text is one."""
    try:
        client = client_for(
            params,
            GatewayClientOptions(
                connect_timeout=timeout, reconnect=False, gateway_wait=min(timeout, 3.0)
            ),
        )
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    events = client.events()
    first = asyncio.ensure_future(events.__anext__())
    await asyncio.sleep(0)  # subscribed before anything can be said
    try:
        try:
            await client.connect()
        except BrokerAuthError as exc:
            problem = texts.gateway_problem(
                BrokerRefusedError(exc),
                broker=client.broker.url,
                user=params.user,
                site=params.site,
            )
            raise RuntimeError(problem.words) from None
        except BrokerError as exc:
            problem = texts.gateway_problem(
                BrokerUnreachableError(exc),
                broker=client.broker.url,
                user=params.user,
                site=params.site,
            )
            raise RuntimeError(
                problem.words
                + "\n"
                + translate("Link", "(Details: {detail})").format(detail=problem.detail)
            ) from None
        item = await first
        try:
            async with asyncio.timeout(timeout):
                while not (isinstance(item, LinkStateChanged) and item.state != "connecting"):
                    item = await events.__anext__()
        except TimeoutError:
            raise RuntimeError(
                (
                    translate(
                        "Link",
                        "the broker accepted {user}, but the office gateway did not answer "
                        "within {seconds}",
                    )
                    if params.user
                    else translate(
                        "Link",
                        "the broker accepted the login, but the office gateway did not answer "
                        "within {seconds}",
                    )
                ).format(user=params.user, seconds=texts.seconds(timeout))
            ) from None
        where = {"broker": client.broker.url, "user": params.user, "site": params.site}
        if item.state == "up":
            return (
                translate(
                    "Link",
                    "Connected: the broker {broker} accepted {user}, and the "
                    "office gateway (site {site}) has its PBX link up.",
                )
                if params.user
                else translate(
                    "Link",
                    "Connected: the broker {broker} accepted the login, and "
                    "the office gateway (site {site}) has its PBX link up.",
                )
            ).format(**where)
        error = item.error if isinstance(item.error, GatewayLinkError) else None
        problem = texts.gateway_problem(
            error or GatewayLinkError(item.reason),
            broker=client.broker.url,
            user=params.user,
            site=params.site,
        )
        raise RuntimeError(
            (
                translate("Link", "the broker {broker} accepted {user}, but {problem}.")
                if params.user
                else translate("Link", "the broker {broker} accepted the login, but {problem}.")
            ).format(problem=problem.words, **where)
        )
    finally:
        first.cancel()
        with contextlib.suppress(Exception):
            await client.close()
        with contextlib.suppress(Exception):
            await events.aclose()


__all__ = ["NOT_AT_GATEWAY", "GatewayLink", "client_for", "test_connection"]
