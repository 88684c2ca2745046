"""The simulated PBX on TCP: an asyncio server that speaks CSTA to any number of clients.

`SwitchServer` owns the call model, the virtual-time scheduler with its traffic (scenarios,
demo), and one `SwitchSession` per TCP link; it routes every event of the model to the
monitors that see it and turns the clients' service requests into model operations.  It also
has the hooks that client tests need to make a PBX misbehave (see "Fault injection").
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from ssl import SSLContext
from typing import IO, Any, Self

from cstapopup.csta import codec, operations
from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER, MAX_LINKS
from cstapopup.csta.events import ConnectionId, DeviceId

from .demo import DemoTraffic, NumberSource
from .model import (
    DEFAULT_DEVICES,
    DEFAULT_TRUNKS,
    OUTGOING,
    Call,
    CallRecord,
    Notification,
    Step,
    SwitchError,
    SwitchModel,
    dev,
    parse_device_list,
)
from .scenarios import SCENARIOS, START_DELAY, scenario_devices
from .session import Monitor, SwitchSession
from .traffic import Scheduler, ScriptHandle, Traffic

log = logging.getLogger("cstapopup.csta.switch")
wire_log = logging.getLogger("cstapopup.csta.switch.wire")

#: A client that leaves this much unread is dropped (it must not hold up the others).
DEFAULT_MAX_WRITE_BUFFER = 1 << 20
#: After a link is ended (ABRT, RLRE, rejected AARE) the switch half-closes it and waits this
#: long (real seconds) for the client to close its end before it closes the socket itself.
#: Closing at once, with bytes from the client still unread, would make the kernel send a
#: reset that can destroy the last APDU before the client reads it.
LINGER_SECONDS = 2.0
#: Real seconds a new connection has to get its association accepted.  A peer that says
#: nothing, sends half an AARQ or trickles a byte now and then is closed when they are up, so
#: that it cannot hold a socket and its buffers for ever (slowloris).
DEFAULT_ASSOCIATION_TIMEOUT = 5.0
#: Connections not (yet) associated, at most: a new one beyond them is accepted and closed at
#: once, so that a flood of idle sockets costs little and never starves the associated links.
DEFAULT_MAX_PENDING_LINKS = 16
#: What a peer may send before its association is accepted.  An AARQ is about 60 bytes (a few
#: hundred with a very long password); a peer sending more is not a CSTA client.
MAX_PRE_ASSOCIATION_BYTES = 4096
#: A burst of refused connections is logged once when it starts, and summed up once no
#: connection has been refused for this long (real seconds).
REFUSAL_QUIET_SECONDS = 5.0


@dataclass(eq=False)
class Link:
    """One TCP connection to the switch."""

    id: int
    peer: str
    session: SwitchSession
    transport: asyncio.Transport
    silent: bool = False
    closed: bool = False
    #: The switch has ended the link and waits for the client to close its end.
    ending: bool = False
    #: Our SystemStatus invokes not yet answered: invoke id -> loop time sent.
    status_sent: dict[int, float] = field(default_factory=dict)
    bytes_ignored: int = 0
    #: Bytes received while not associated (bounded by MAX_PRE_ASSOCIATION_BYTES).
    bytes_before_association: int = 0
    #: Closes the link if it is not associated in time (None once associated or closed).
    deadline: asyncio.TimerHandle | None = None

    @property
    def associated(self) -> bool:
        return self.session.associated

    @property
    def monitored(self) -> list[str]:
        return [m.device for m in self.session.monitors.values()]


class _LinkProtocol(asyncio.Protocol):
    def __init__(self, server: SwitchServer) -> None:
        self.server = server
        self.link: Link | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.link = self.server._link_opened(transport)  # None: refused and closed

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self.server._link_data(self.link, data)

    def eof_received(self) -> bool | None:
        return None  # the client closed its end: close ours

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.server._link_closed(self.link, exc)


class SwitchServer:
    """A simulated HiPath: see the module docstring and README ("cstapopup sim").

    Main settings: `host`, `port` (0: any free port; read `.port` after `start()`), `user`,
    `password`, `devices` (iterable or "100-120" / "100,101,200-205"), `trunks`, `max_links`
    (associations at the same time).  Traffic: `scenario` (a name of `SCENARIOS`, started
    when a client monitors `scenario_device`, default the first device), `demo` (random
    traffic at `rate` calls per minute, reproducible with `seed`; its outside callers are
    taken mostly from `phonebook`, numbers as the PBX presents them, see
    `demo.load_phonebook`, and otherwise made up), `speed` (virtual seconds
    per real second), `clock_start` (the PBX time at virtual second 0; default now),
    `forward_no_answer` ({device: (target, seconds)}).  Simulated people: an outside number
    dialled by a client's MakeCall answers after `remote_answer_after` seconds, a device
    called by a client's request after `auto_answer_after` seconds (None: never).
    `record`: a file (path or text stream) that gets the ground truth, one JSON line per
    finished call.  `trace`: log a hex wire trace (DEBUG, logger
    cstapopup.csta.switch.wire; passwords masked).  `ssl`: a server SSLContext (see
    `cstapopup.csta.tlsconfig.server_context`) to speak TLS instead of plain TCP.
    `tag_form`: "hipath" (every tagged field as a HiPath sends it) or "alternate" (each in
    its other tag form), see `SwitchSession`.  `max_monitors`: monitors the PBX keeps at
    once over all links (None: no limit); one more is refused with
    overall_monitor_limit_exceeded, as a PBX at its limit does.
    `linkage_after_transfer`: "new" (default, HiPath's form of protocol facts §6) or "old":
    which global call id a call's events carry after a transfer or conference (the model's
    option of that name).

    Traffic starts when the server starts, unless `hold_traffic`: then the demo waits for
    `start_traffic()` (a test that must see every call from its first event monitors first).

    Exposed to the network: a connection must have its association accepted within
    `association_timeout` real seconds (None: no limit; with TLS the handshake has as long
    again) and may send at most MAX_PRE_ASSOCIATION_BYTES before; at most
    `max_pending_links` connections wait for their association, and a new one beyond them
    is accepted and closed at once (logged once per burst; `connections_refused` counts
    them, `links_timed_out` the links closed for want of an association).

    Test options: `periodic_system_status` (seconds between SystemStatus invokes to every
    link), `status_timeout` (drop a link whose client leaves a SystemStatus unanswered that
    long; None: never), `first_invoke_id` (the first invoke id of each link's own invokes,
    to test ids past 127 and 32767), `first_call_id`.

    Fault injection (for client tests): `set_silent()` (stop sending and answering, keep the
    socket open), `inject()` (write raw bytes, e.g. from `switch.faults`), `abort_link()`
    (ABRT and close), `drop_link()` (close the socket without a word),
    `send_system_status()`.  Waiting for a condition: `wait_for()`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        devices: Iterable[str] | str = DEFAULT_DEVICES,
        *,
        trunks: Iterable[str] = DEFAULT_TRUNKS,
        max_links: int = MAX_LINKS,
        scenario: str | None = None,
        scenario_device: str | None = None,
        demo: bool = False,
        rate: float = 2.0,
        speed: float = 1.0,
        seed: int | None = None,
        clock_start: datetime | None = None,
        forward_no_answer: Mapping[str, tuple[str, float]] | None = None,
        remote_answer_after: float | None = 3.0,
        auto_answer_after: float | None = 4.0,
        record: str | Path | IO[str] | None = None,
        on_record: Callable[[CallRecord], None] | None = None,
        phonebook: Iterable[str] | None = None,
        periodic_system_status: float | None = None,
        status_timeout: float | None = None,
        first_invoke_id: int = 1,
        first_call_id: int = 1,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
        trace: bool = False,
        ssl: SSLContext | None = None,
        tag_form: str = "hipath",
        hold_traffic: bool = False,
        association_timeout: float | None = DEFAULT_ASSOCIATION_TIMEOUT,
        max_pending_links: int = DEFAULT_MAX_PENDING_LINKS,
        max_monitors: int | None = None,
        linkage_after_transfer: str = "new",
    ) -> None:
        self.tag_form = codec.check_tag_form(tag_form)
        self.host = host
        self.ssl = ssl
        self.port = port
        self.user = user
        self._password = password
        device_list = parse_device_list(devices) if isinstance(devices, str) else list(devices)
        if max_links < 1:
            raise ValueError("max_links must be at least 1")
        self.max_links = max_links
        if association_timeout is not None and not association_timeout > 0:
            raise ValueError("association_timeout must be positive (or None)")
        if max_pending_links < 1:
            raise ValueError("max_pending_links must be at least 1")
        self.association_timeout = association_timeout
        self.max_pending_links = max_pending_links
        if max_monitors is not None and max_monitors < 0:
            raise ValueError("max_monitors must be 0 or more (or None)")
        self.max_monitors = max_monitors
        if scenario is not None:
            if scenario not in SCENARIOS:
                raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
            if len(device_list) < SCENARIOS[scenario].devices:
                raise ValueError(f"scenario {scenario} needs {SCENARIOS[scenario].devices} devices")
        if scenario_device is not None and scenario_device not in device_list:
            raise ValueError(f"the scenario device {scenario_device} is not one of the devices")
        self.scenario = scenario
        self.scenario_device = scenario_device or device_list[0]
        self.speed = speed
        self.scheduler = Scheduler(clock_start, speed, after_step=self._flush)
        self.model = SwitchModel(
            device_list,
            trunks,
            clock=self.scheduler.now,
            forward_no_answer=forward_no_answer,
            first_call_id=first_call_id,
            instance_id=int(self.scheduler.start.timestamp()),
            listener=self._on_step,
            on_record=self._on_record,
            narrate=log.info,
            linkage_after_transfer=linkage_after_transfer,
        )
        self.traffic = Traffic(self.model, self.scheduler)
        self.demo: DemoTraffic | None = None
        if demo:
            self.demo = DemoTraffic(self.traffic, rate, seed, NumberSource(phonebook or ()))
        self.remote_answer_after = remote_answer_after
        self.auto_answer_after = auto_answer_after
        self._record_target = record
        self._record_file: IO[str] | None = None
        self._own_record_file = False
        self._record_listeners: list[Callable[[CallRecord], None]] = (
            [on_record] if on_record else []
        )
        self.periodic_system_status = periodic_system_status
        self.status_timeout = status_timeout
        self.first_invoke_id = first_invoke_id
        self.max_write_buffer = max_write_buffer
        self.trace = trace
        self.hold_traffic = hold_traffic
        self._traffic_started = False

        self._links: dict[int, Link] = {}
        self._link_ids = 0
        self._next_cross_ref = 1
        self._pending: list[Notification] = []
        self._flush_scheduled = False
        self._silent_all = False
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._changed: asyncio.Event | None = None
        self._scenario_run: ScriptHandle | None = None
        #: Ids of the open links not (yet) associated: the ones `max_pending_links` counts.
        self._pending_links: set[int] = set()
        self._refused_in_burst = 0
        self._last_refusal = 0.0
        self._burst_timer: asyncio.TimerHandle | None = None
        self.refusal_quiet = REFUSAL_QUIET_SECONDS
        #: Connections closed at once because `max_pending_links` were waiting.
        self.connections_refused = 0
        #: Links closed because their association did not come in time.
        self.links_timed_out = 0
        #: Completed scenario runs (for tests: wait until it grows).
        self.scenario_runs = 0
        self.events_sent = 0

    def __repr__(self) -> str:  # never shows the password
        return (
            f"SwitchServer({self.host}:{self.port}, user={self.user!r}, "
            f"tls={self.ssl is not None}, links={len(self._links)})"
        )

    # Life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, and start the traffic.  OSError (e.g. EADDRINUSE) when the port is taken."""
        loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        if isinstance(self._record_target, (str, Path)):
            # Open for the server's lifetime (closed in stop()); one small write per call.
            # (A local file opened once at start: the blocking open is brief.)
            self._record_file = open(  # noqa: ASYNC230, SIM115
                self._record_target, "w", encoding="utf-8"
            )
            self._own_record_file = True
        elif self._record_target is not None:
            self._record_file = self._record_target
        # A TLS peer that stalls its handshake is never seen by _LinkProtocol: asyncio
        # drops it after this long.
        handshake_timeout = self.association_timeout if self.ssl is not None else None
        try:
            self._server = await loop.create_server(
                lambda: _LinkProtocol(self),
                self.host,
                self.port,
                ssl=self.ssl,
                ssl_handshake_timeout=handshake_timeout,
            )
        except BaseException:
            self._close_record()
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks.append(loop.create_task(self.scheduler.run(), name="switch traffic"))
        if self.periodic_system_status or self.status_timeout:
            self._tasks.append(loop.create_task(self._status_loop(), name="switch status"))
        log.info(
            "listening on %s:%d%s; devices %s; trunks %s; at most %d links",
            self.host,
            self.port,
            " (TLS)" if self.ssl is not None else "",
            _ranges(self.model.devices),
            _ranges(self.model.trunks),
            self.max_links,
        )
        if not self.hold_traffic:
            self.start_traffic()
        if self.scenario:
            log.info(
                "scenario %s starts when a client monitors %s", self.scenario, self.scenario_device
            )

    def start_traffic(self) -> None:
        """Start the demo traffic (at once unless `hold_traffic`; later calls do nothing).
        Scenarios do not wait for it: they start when their device is monitored."""
        if self._traffic_started:
            return
        self._traffic_started = True
        if self.demo is not None:
            self.demo.start()
            log.info("demo traffic: %.3g calls per minute, seed %d", self.demo.rate, self.demo.seed)

    async def stop(self) -> None:
        """Close every link, stop the traffic, close the record file."""
        if self._burst_timer is not None:
            self._burst_timer.cancel()
            self._burst_timer = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # stopping: a failed task is reported, not raised
                log.exception("switch task %s failed", task.get_name())
        self._tasks.clear()
        if self._server is not None:
            self._server.close()
        for link in list(self._links.values()):
            link.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._close_record()
        log.info("stopped")

    def _close_record(self) -> None:
        if self._record_file is not None:
            if self._own_record_file:
                self._record_file.close()
            else:
                self._record_file.flush()
            self._record_file = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # State for tests and tools ----------------------------------------------------------

    @property
    def links(self) -> list[Link]:
        """The open links, oldest first."""
        return [link for link in self._links.values() if not link.closed]

    def link(self, link_id: int) -> Link:
        return self._links[link_id]

    @property
    def associated_links(self) -> list[Link]:
        return [link for link in self.links if link.associated]

    def monitors_of(self, device: str) -> int:
        return sum(len(link.session.monitors_of(device)) for link in self.links)

    @property
    def records(self) -> list[CallRecord]:
        return list(self.model.finished)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` is true (checked whenever links, monitors, calls change).
        TimeoutError after `timeout` seconds."""

        async def wait() -> None:
            while not predicate():
                assert self._changed is not None
                changed = self._changed
                await changed.wait()

        await asyncio.wait_for(wait(), timeout)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    # Scenarios ------------------------------------------------------------------------------

    def start_scenario(
        self, name: str | None = None, device: str | None = None, delay: float = 0.0
    ) -> ScriptHandle:
        """Start a scenario now (default: the configured one at the configured device)."""
        name = name or self.scenario
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}")
        scenario = SCENARIOS[name]
        devices = scenario_devices(self.model.devices, device or self.scenario_device)
        roles = dict(zip("ABC", devices))
        log.info(
            "scenario %s: starting (%s)",
            name,
            re.sub(r"\b[ABC]\b", lambda m: roles[m.group()], scenario.description),
        )
        handle = self.scheduler.spawn(
            scenario.script(self.traffic, devices), delay, f"scenario {name}"
        )

        def done(_: ScriptHandle) -> None:
            self.scenario_runs += 1
            log.info("scenario %s: done", name)
            self._notify()

        handle.add_done_callback(done)
        return handle

    async def run_scenario(
        self, name: str | None = None, device: str | None = None, timeout: float | None = None
    ) -> list[CallRecord]:
        """Run a scenario to its end; the ground truth of the calls that ended meanwhile."""
        records: list[CallRecord] = []
        self._record_listeners.append(records.append)
        handle = self.start_scenario(name, device)
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()

        def finish(_: ScriptHandle) -> None:
            if not finished.done():
                finished.set_result(None)

        handle.add_done_callback(finish)
        limit = timeout if timeout is not None else 30.0 / self.speed + 5.0
        try:
            await asyncio.wait_for(finished, limit)
        finally:
            self._record_listeners.remove(records.append)
        return records

    # Fault injection ------------------------------------------------------------------------

    def set_silent(self, silent: bool = True, link_id: int | None = None) -> None:
        """Make a link (default: every link, and every new one) go silent: nothing is sent any
        more and what the client sends is read and ignored, while the socket stays open, like
        a hung PBX.  `set_silent(False)` makes it talk again (what it ignored stays ignored)."""
        if link_id is None:
            self._silent_all = silent
            for link in self.links:
                link.silent = silent
        else:
            self._links[link_id].silent = silent
        log.info(
            "%s %s",
            f"link {link_id}" if link_id else "all links",
            "goes silent" if silent else "talks again",
        )

    def inject(self, data: bytes, link_id: int | None = None) -> int:
        """Write raw bytes to a link (default: every open link), silent or not.  Returns the
        number of links written to."""
        targets = self.links if link_id is None else [self._links[link_id]]
        for link in targets:
            if wire_log.isEnabledFor(logging.DEBUG):
                wire_log.debug("link %d -> %s (injected)", link.id, data.hex(" "))
            link.transport.write(data)
        return len(targets)

    def abort_link(self, link_id: int | None = None) -> None:
        """Send an ABRT and close the link (default: every link)."""
        for link in self._select(link_id):
            link.session.abort()
            self._write(link)

    def drop_link(self, link_id: int | None = None) -> None:
        """Close the link's socket at once, without ABRT (default: every link)."""
        for link in self._select(link_id):
            log.info("link %d: dropped", link.id)
            link.transport.abort()

    def send_system_status(self, link_id: int | None = None) -> list[int]:
        """Send a SystemStatus invoke now; the invoke ids used."""
        ids = []
        for link in self._select(link_id):
            if link.associated and not link.silent:
                ids.append(self._send_status(link))
        return ids

    def _select(self, link_id: int | None) -> list[Link]:
        return self.links if link_id is None else [self._links[link_id]]

    # Links --------------------------------------------------------------------------------

    def _link_opened(self, transport: asyncio.Transport) -> Link | None:
        if len(self._pending_links) >= self.max_pending_links:
            self._refuse(transport)
            return None
        self._link_ids += 1
        link_id = self._link_ids
        peer = _peer(transport)
        session = SwitchSession(
            self,
            link_id=link_id,
            user=self.user,
            password=self._password,
            first_invoke_id=self.first_invoke_id,
            tag_form=self.tag_form,
            trace=self._tracer(link_id, self._password) if self.trace else None,
            say=lambda text: log.info("link %d from %s: %s", link_id, peer, text),
        )
        link = Link(link_id, peer, session, transport, silent=self._silent_all)
        self._links[link_id] = link
        self._pending_links.add(link_id)
        if self.association_timeout is not None:
            link.deadline = asyncio.get_running_loop().call_later(
                self.association_timeout, self._association_overdue, link
            )
        log.info("link %d from %s: connected", link_id, peer)
        self._notify()
        return link

    def _link_data(self, link: Link, data: bytes) -> None:
        if link.closed:
            return
        if link.silent:
            link.bytes_ignored += len(data)
            self._notify()
            return
        if not link.associated:
            # Checked before the bytes reach the frame reader: a peer that has not logged in
            # makes the switch hold no more than this.
            link.bytes_before_association += len(data)
            if link.bytes_before_association > MAX_PRE_ASSOCIATION_BYTES:
                log.warning(
                    "link %d from %s: %d bytes and no association; closing",
                    link.id,
                    link.peer,
                    link.bytes_before_association,
                )
                link.transport.abort()
                return
        try:
            link.session.receive_data(data)
        except Exception:
            # A bug triggered by one client must not take the switch down with it.
            log.exception("link %d: internal error; dropping the link", link.id)
            link.transport.abort()
            return
        self._track_status(link)
        self._write(link)
        self._flush()
        self._notify()

    def _link_closed(self, link: Link, exc: Exception | None) -> None:
        if link.closed:
            return
        link.closed = True
        self._association_settled(link)
        link.session.connection_lost()
        self._links.pop(link.id, None)
        log.info("link %d: closed%s", link.id, f" ({exc})" if exc else "")
        self._notify()

    def _association_settled(self, link: Link) -> None:
        """The link has associated or is closed: it no longer waits for its association."""
        self._pending_links.discard(link.id)
        if link.deadline is not None:
            link.deadline.cancel()
            link.deadline = None

    def _association_overdue(self, link: Link) -> None:
        link.deadline = None
        if link.closed or link.associated or link.ending:
            return  # an ending link is closed by its linger timer
        assert self.association_timeout is not None
        if link.silent:
            # A silent (hung) switch closes nothing: look again later.
            link.deadline = asyncio.get_running_loop().call_later(
                self.association_timeout, self._association_overdue, link
            )
            return
        self.links_timed_out += 1
        log.info(
            "link %d from %s: no association within %.3g s; closing",
            link.id,
            link.peer,
            self.association_timeout,
        )
        link.transport.abort()

    def _refuse(self, transport: asyncio.Transport) -> None:
        """Close a connection beyond `max_pending_links` at once; log once per burst."""
        peer = _peer(transport)
        transport.abort()
        self.connections_refused += 1
        loop = asyncio.get_running_loop()
        self._last_refusal = loop.time()
        if self._refused_in_burst == 0:
            log.warning(
                "%d connections are waiting for their association: closing new ones "
                "at once (the first from %s)",
                len(self._pending_links),
                peer,
            )
            self._burst_timer = loop.call_later(self.refusal_quiet, self._refusal_burst_over)
        self._refused_in_burst += 1
        self._notify()

    def _refusal_burst_over(self) -> None:
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_refusal
        if quiet < self.refusal_quiet:
            self._burst_timer = loop.call_later(
                self.refusal_quiet - quiet, self._refusal_burst_over
            )
            return
        self._burst_timer = None
        log.warning(
            "%d connections were closed at once in that burst; it is over", self._refused_in_burst
        )
        self._refused_in_burst = 0
        self._notify()

    def _write(self, link: Link) -> None:
        data = link.session.data_to_send()
        if link.closed:
            return
        if data and not link.silent:
            link.transport.write(data)
            if link.transport.get_write_buffer_size() > self.max_write_buffer:
                log.warning("link %d: the client does not read; dropping the link", link.id)
                link.transport.abort()
                return
        if link.session.closing and not link.ending:
            link.ending = True
            if link.transport.can_write_eof():
                link.transport.write_eof()
                asyncio.get_running_loop().call_later(LINGER_SECONDS, link.transport.close)
            else:
                link.transport.close()

    def _send_status(self, link: Link) -> int:
        iid = link.session.send_system_status()
        self._track_status(link)
        self._write(link)
        return iid

    def _track_status(self, link: Link) -> None:
        # Remember when each SystemStatus invoke went out (for status_timeout); forget the
        # answered ones.
        pending = link.session.status_pending
        now = asyncio.get_running_loop().time()
        for iid in pending:
            link.status_sent.setdefault(iid, now)
        for iid in [i for i in link.status_sent if i not in pending]:
            del link.status_sent[iid]

    async def _status_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.periodic_system_status
        tick = min(x for x in (period, self.status_timeout) if x) / 2
        last_sent = loop.time()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            if period and now - last_sent >= period:
                last_sent = now
                for link in self.associated_links:
                    if not link.silent:
                        self._send_status(link)
            if self.status_timeout:
                for link in self.associated_links:
                    late = [i for i, t in link.status_sent.items() if now - t > self.status_timeout]
                    if late and not link.silent:
                        log.warning(
                            "link %d: SystemStatus %s unanswered for %.3g s; aborting",
                            link.id,
                            late[0],
                            self.status_timeout,
                        )
                        link.session.abort()
                        self._write(link)

    def _tracer(self, link_id: int, password: str) -> Callable[[str, bytes, Any], None]:
        def trace(direction: str, data: bytes, apdu: Any) -> None:
            if not wire_log.isEnabledFor(logging.DEBUG):
                return
            text = data.hex(" ")
            if isinstance(apdu, codec.AssociationRequest) and apdu.password:
                text = mask_password(data, apdu.password)
            what = getattr(apdu, "kind", "undecodable")
            wire_log.debug("link %d %s %s: %s", link_id, direction, what, text)

        return trace

    # SessionBackend ---------------------------------------------------------------------

    def link_available(self, session: SwitchSession) -> bool:
        others = sum(1 for link in self.links if link.associated and link.session is not session)
        return others < self.max_links

    def associated(self, session: SwitchSession) -> None:
        link = self._links.get(session.link_id)
        if link is not None:
            self._association_settled(link)
        self._notify()

    def is_monitorable(self, device: str) -> bool:
        return self.model.is_device(device)

    def new_cross_ref(self) -> bytes:
        live = {m.cross_ref for link in self.links for m in link.session.monitors.values()}
        if self.max_monitors is not None and len(live) >= self.max_monitors:
            raise SwitchError("system_resource_availability", "overall_monitor_limit_exceeded")
        for _ in range(0xFFFF):
            n = self._next_cross_ref
            self._next_cross_ref = n % 0xFFFF + 1
            ref = n.to_bytes(2, "big")
            if ref not in live:
                return ref
        raise SwitchError("system_resource_availability", "overall_monitor_limit_exceeded")

    def monitor_started(self, session: SwitchSession, monitor: Monitor) -> None:
        if (
            self.scenario
            and monitor.device == self.scenario_device
            and (self._scenario_run is None or self._scenario_run.done)
        ):
            self._scenario_run = self.start_scenario(delay=START_DELAY)
        self._notify()

    def monitor_stopped(self, session: SwitchSession, monitor: Monitor) -> None:
        self._notify()

    def service(self, session: SwitchSession, operation: int, argument: Any) -> Any:
        handler = _SERVICES.get(operation)
        if handler is None:
            raise NotImplementedError
        return handler(self, argument)

    # Services (argument -> model operation -> result) ------------------------------------

    def _resolve(self, value: Any, need_device: bool = True) -> tuple[Call, str | None]:
        conn = codec.connection_from_asn1(value)
        if conn.call_id is None:
            raise SwitchError("operation", "invalid_connection_id")
        call = self.model.calls.get(conn.call_id)
        if call is None:
            raise SwitchError("operation", "invalid_connection_id")
        number = conn.device.number if conn.device is not None else None
        if need_device and number is None:
            raise SwitchError("operation", "invalid_connection_id")
        return call, number

    def _serve(self, step: Step) -> None:
        """After a client's request: the simulated people answer what now rings."""
        for call, device in step.ringing:
            if self.auto_answer_after is not None:
                self.scheduler.call_later(
                    self.auto_answer_after,
                    functools.partial(self._auto_answer, call, device),
                    name=f"auto-answer {device}",
                )
        made = step.call
        if (
            made is not None
            and not made.ended
            and made.direction == OUTGOING
            and self.remote_answer_after is not None
        ):
            self.scheduler.call_later(
                self.remote_answer_after,
                functools.partial(self._remote_answer, made),
                name="remote answer",
            )

    def _auto_answer(self, call: Call, device: str) -> None:
        party = call.party(device) if not call.ended else None
        if party is not None and party.state == "alerting":
            self.traffic.attempt(self.model.answer, call, device)

    def _remote_answer(self, call: Call) -> None:
        party = call.outside() if not call.ended else None
        if party is not None and party.state == "alerting":
            self.traffic.attempt(self.model.remote_answer, call)

    def _svc_make_call(self, arg: dict[str, Any]) -> Any:
        calling = _number(arg["callingDevice"])
        called = _number(arg["calledDirectoryNumber"])
        step = self.model.make_call(calling, called, service=True)
        self._serve(step)
        assert step.call is not None
        conn = ConnectionId(step.call.call_id, dev(calling))
        return {"callingDevice": codec.connection_to_asn1(conn)}

    def _svc_answer(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["callToBeAnswered"])
        assert device is not None
        self.model.answer(call, device)
        return ("noData", None)

    def _svc_clear_connection(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["connectionToBeCleared"])
        outside = call.outside()
        if (
            call.party(device or "") is None
            and outside is not None
            and outside.connection.device is not None
            and outside.connection.device.number == device
        ):
            self.model.remote_hang_up(call)
        else:
            assert device is not None
            self.model.hang_up(call, device)
        return ("noData", None)

    def _svc_clear_call(self, arg: dict[str, Any]) -> Any:
        call, _ = self._resolve(arg["callToBeCleared"], need_device=False)
        self.model.clear_call(call)
        return ("noData", None)

    def _svc_deflect(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["callToBeDiverted"])
        assert device is not None
        self._serve(self.model.deflect(call, device, _number(arg["newDestination"])))
        return ("noData", None)

    def _svc_hold(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["callToBeHeld"])
        assert device is not None
        self.model.hold(call, device)
        return ("noData", None)

    def _svc_retrieve(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["callToBeRetrieved"])
        assert device is not None
        self.model.retrieve(call, device)
        return ("noData", None)

    def _svc_consult(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["existingCall"])
        assert device is not None
        step = self.model.consult(call, device, _number(arg["consultedDevice"]))
        self._serve(step)
        assert step.call is not None
        return {
            "initiatedCall": codec.connection_to_asn1(ConnectionId(step.call.call_id, dev(device)))
        }

    def _svc_transfer(self, arg: dict[str, Any]) -> Any:
        held, device = self._resolve(arg["heldCall"])
        active, device2 = self._resolve(arg["activeCall"])
        if device != device2:
            raise SwitchError("operation", "not_same_device")
        assert device is not None
        step = self.model.transfer(held, active, device)
        assert step.call is not None
        return {"transferredCall": codec.connection_to_asn1(ConnectionId(step.call.call_id, None))}

    def _svc_single_step_transfer(self, arg: dict[str, Any]) -> Any:
        call, device = self._resolve(arg["activeCall"])
        assert device is not None
        target = _number(arg["transferredTo"])
        step = self.model.single_step_transfer(call, device, target)
        self._serve(step)
        return {
            "transferredCall": codec.connection_to_asn1(ConnectionId(call.call_id, dev(target)))
        }

    def _svc_reconnect(self, arg: dict[str, Any]) -> Any:
        active, device = self._resolve(arg["activeCall"])
        held, device2 = self._resolve(arg["heldCall"])
        if device != device2:
            raise SwitchError("operation", "not_same_device")
        assert device is not None
        self.model.reconnect(active, held, device)
        return ("noData", None)

    def _svc_alternate(self, arg: dict[str, Any]) -> Any:
        held, device = self._resolve(arg["heldCall"])
        active, device2 = self._resolve(arg["activeCall"])
        if device != device2:
            raise SwitchError("operation", "not_same_device")
        assert device is not None
        self.model.alternate(held, active, device)
        return ("noData", None)

    def _svc_directed_pickup(self, arg: dict[str, Any]) -> Any:
        call, ringing_at = self._resolve(arg["callToBePickedUp"])
        picker = _number(arg["requestingDevice"])
        self.model.pickup(call, picker, ringing_at)
        return {"pickedCall": codec.connection_to_asn1(ConnectionId(call.call_id, dev(picker)))}

    def _svc_snapshot_device(self, arg: dict[str, Any]) -> Any:
        number = _number(arg["snapshotObject"])
        if not self.model.is_device(number):
            raise SwitchError("operation", "invalid_device_id")
        items = []
        for conn, state, gcid in self.model.snapshot(number):
            items.append(
                {
                    "connectionIdentifier": codec.connection_to_asn1(conn),
                    "localCallState": ("compoundCallState", [state]),
                    "callLinkageData": {
                        "globalCallData": {
                            "globalCallLinkageID": ("globallyUniqueCallLinkageID", gcid)
                        }
                    },
                }
            )
        return {"crossRefIDorSnapshotData": ("snapshotData", items)}

    # Events -------------------------------------------------------------------------------

    def _on_step(self, step: Step) -> None:
        self._pending.extend(step.notifications)
        if self._pending and not self._flush_scheduled:
            # Flushed after the request that caused them has its result on the wire (or at
            # the end of the traffic step): results first, then the events.
            try:
                asyncio.get_running_loop().call_soon(self._flush)
                self._flush_scheduled = True
            except RuntimeError:
                pass

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        touched: dict[int, Link] = {}
        links = [link for link in self.links if link.associated and not link.silent]
        for note in pending:
            for link in links:
                for monitor in link.session.monitors_of(note.device):
                    try:
                        sent = link.session.send_event(monitor, note.event)
                    except Exception:
                        # A bug in one event must cost that event only, not the links.
                        log.exception("cannot send %s to link %d", note.event.name, link.id)
                        continue
                    if sent:
                        self.events_sent += 1
                        touched[link.id] = link
        for link in touched.values():
            self._write(link)
        self._notify()

    def _on_record(self, record: CallRecord) -> None:
        if self._record_file is not None:
            self._record_file.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            self._record_file.flush()
        for listener in list(self._record_listeners):
            listener(record)
        self._notify()


_SERVICES: dict[int, Callable[[SwitchServer, Any], Any]] = {
    operations.MAKE_CALL: SwitchServer._svc_make_call,
    operations.ANSWER_CALL: SwitchServer._svc_answer,
    operations.CLEAR_CONNECTION: SwitchServer._svc_clear_connection,
    operations.CLEAR_CALL: SwitchServer._svc_clear_call,
    operations.DEFLECT_CALL: SwitchServer._svc_deflect,
    operations.HOLD_CALL: SwitchServer._svc_hold,
    operations.RETRIEVE_CALL: SwitchServer._svc_retrieve,
    operations.CONSULTATION_CALL: SwitchServer._svc_consult,
    operations.TRANSFER_CALL: SwitchServer._svc_transfer,
    operations.SINGLE_STEP_TRANSFER: SwitchServer._svc_single_step_transfer,
    operations.SNAPSHOT_DEVICE: SwitchServer._svc_snapshot_device,
    operations.RECONNECT_CALL: SwitchServer._svc_reconnect,
    operations.ALTERNATE_CALL: SwitchServer._svc_alternate,
    operations.DIRECTED_PICKUP_CALL: SwitchServer._svc_directed_pickup,
}


def _number(value: Any) -> str:
    device: DeviceId = codec.device_from_asn1(value)
    if not device.number:
        raise SwitchError("operation", "invalid_device_id")
    return device.number


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _ranges(numbers: list[str]) -> str:
    """100,101,102,105 -> "100-102,105" for the log."""
    parts: list[str] = []
    start = prev = None
    for n in numbers:
        if (
            prev is not None
            and n.isdigit()
            and prev.isdigit()
            and int(n) == int(prev) + 1
            and len(n) == len(prev)
        ):
            prev = n
            continue
        if start is not None:
            parts.append(start if start == prev else f"{start}-{prev}")
        start = prev = n
    if start is not None:
        parts.append(start if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def mask_password(frame_bytes: bytes, password: str) -> str:
    """Hex of a frame with the AARQ password octets shown as "**".  When the password's
    octets cannot be found as one OCTET STRING (an unusual encoding), none of the frame is
    shown: a trace must never carry a password."""
    try:
        secret = password.encode("latin-1")
    except UnicodeEncodeError:
        secret = b""
    n = len(secret)
    if n < 0x80:
        length = bytes((n,))
    else:  # BER long form: a password of 128 characters or more
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes((0x80 | len(raw),)) + raw
    pos = frame_bytes.find(b"\x04" + length + secret) if secret else -1
    if pos < 0:
        return f"({len(frame_bytes)} bytes not shown: they hold a password)"
    start = pos + 1 + len(length)
    cells = [f"{b:02x}" for b in frame_bytes]
    for i in range(start, start + n):
        cells[i] = "**"
    return " ".join(cells)
