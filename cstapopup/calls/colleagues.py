"""The colleagues' lines (the busy lamp field), without Qt: what each watched extension is
doing now, built from the same monitor events, snapshots and link states as the history.

`ColleagueBoard` keeps, per device, its calls (`Line`: the device's own connection, its
local state, the other party, since when), do not disturb and forwarding as the PBX last
said them, and whether the device is monitored at all.  It answers with frozen values
(`ColleagueStatus`); `calls.views.colleague_view` turns them into words, and the desk uses
`lines()` to decide which connection a transfer or a pickup acts on.

What it trusts: the local connection state every HiPath call event carries for the
monitored device's own connection (docs/event-sequences.md); without one, the event's own
connection and its kind.  After a link loss nothing is known until the link is up again
(then the monitors' snapshots say which calls are under way).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cstapopup.csta.events import (
    ConferencedEvent,
    ConnectionId,
    CstaEvent,
    DeviceId,
    DoNotDisturbEvent,
    ForwardingEvent,
    SnapshotCall,
    TransferredEvent,
)
from cstapopup.i18n import translate

log = logging.getLogger(__name__)

#: Calls kept per device at most: a phone has a few at a time; a PBX that never tells their
#: ends cannot make this grow (the oldest goes, counted and logged).
MAX_LINES = 32
#: Local connection states of a device's own connection that mean it has left the call.
_GONE = frozenset({"null", "fail"})
#: Without a local connection state: what an event about the device's own connection means.
_STATE_BY_EVENT = {
    "delivered": "alerting",
    "offered": "alerting",
    "established": "connected",
    "held": "hold",
    "retrieved": "connected",
    "service_initiated": "initiated",
    "originated": "connected",
    "network_reached": "connected",
    "queued": "queued",
    "connection_cleared": "null",
    "failed": "fail",
    "diverted": "null",
}
#: How a device's forwarding is shown: only "at once" forwarding makes it unreachable.
IMMEDIATE_FORWARDING = frozenset({None, "forwardImmediate", "forwardImmInt", "forwardImmExt"})


class ColleagueState(str, enum.Enum):
    """What a colleague's lamp says."""

    FREE = "free"
    RINGING = "ringing"  # a call rings there (and it has none that talks)
    BUSY = "busy"  # on a call (or dialling)
    HELD = "held"  # only calls on hold
    DO_NOT_DISTURB = "do_not_disturb"
    FORWARDED = "forwarded"  # forwarded at once to another number
    NOT_MONITORED = "not_monitored"  # the PBX would not monitor it: we see nothing
    UNKNOWN = "unknown"  # the link is down (or not up yet)


@dataclass(frozen=True, slots=True)
class Line:
    """One call at a device: its own connection and that connection's local state
    ("alerting", "connected", "hold", "initiated", "queued"), the other party's number
    (None when not said; `party_kind` "restricted" for a withheld one), since when."""

    connection: ConnectionId
    state: str
    since: datetime
    party: str | None = None
    party_kind: str = "number"

    @property
    def call_id(self) -> bytes:
        return self.connection.call_id or b""

    @property
    def talking(self) -> bool:
        return self.state in ("connected", "initiated")


@dataclass(frozen=True, slots=True)
class ColleagueStatus:
    """One watched device now.  `party` / `party_kind` of the call that decides the state;
    `since` when the state began (None: not known, e.g. free since before monitoring);
    `why` the reason it is not monitored or not known."""

    device: str
    state: ColleagueState
    since: datetime | None = None
    party: str | None = None
    party_kind: str = "number"
    calls: int = 0
    ringing: bool = False
    do_not_disturb: bool = False
    forwarded_to: str | None = None
    why: str | None = None


@dataclass
class _Device:
    device: str
    lines: dict[bytes, Line] = field(default_factory=dict)
    do_not_disturb: bool = False
    forwarded_to: str | None = None
    #: None: monitored (as far as known); else why not.
    not_monitored: str | None = None
    known: bool = False
    state: ColleagueState = ColleagueState.UNKNOWN
    since: datetime | None = None


class ColleagueBoard:
    """See the module docstring.  Feed it with `on_event`, `on_snapshot`, `link_up` /
    `link_down` and `monitor_failed`; each returns the devices whose status changed."""

    def __init__(
        self, devices: Iterable[str] = (), *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._devices: dict[str, _Device] = {}
        #: The status last reported per device (what changed is told once).
        self._last: dict[str, ColleagueStatus] = {}
        self._up = False
        #: Lines dropped because a device had more than MAX_LINES (calls whose end was lost).
        self.lines_dropped = 0
        self.set_devices(devices)

    # -- which devices

    @property
    def devices(self) -> list[str]:
        return list(self._devices)

    def set_devices(self, devices: Iterable[str]) -> None:
        """The devices watched from now on (new ones start unknown; the others keep what
        is known of them)."""
        wanted = list(dict.fromkeys(str(d) for d in devices))
        self._devices = {d: self._devices.get(d) or _Device(d) for d in wanted}
        self._last = {d: s for d, s in self._last.items() if d in self._devices}

    def __contains__(self, device: object) -> bool:
        return device in self._devices

    # -- what is known

    def status(self, device: str) -> ColleagueStatus | None:
        entry = self._devices.get(device)
        return None if entry is None else self._status(entry)

    def statuses(self) -> list[ColleagueStatus]:
        return [self._status(e) for e in self._devices.values()]

    def lines(self, device: str) -> list[Line]:
        """The device's calls now, oldest first (empty when nothing is known)."""
        entry = self._devices.get(device)
        if entry is None:
            return []
        return sorted(entry.lines.values(), key=lambda line: line.since)

    # -- input

    def link_up(self) -> list[str]:
        """The link is up and the monitors are started: every monitored device is known to
        be idle until its snapshot or its events say otherwise."""
        self._up = True
        now = self._clock()
        for entry in self._devices.values():
            if entry.not_monitored is None and not entry.known:
                entry.known = True
                entry.lines.clear()
        return self._refresh(now)

    def link_down(self) -> list[str]:
        """No link: nothing is known any more (calls may start and end unseen)."""
        self._up = False
        for entry in self._devices.values():
            entry.known = False
            entry.lines.clear()
        return self._refresh(self._clock())

    def monitor_failed(self, device: str, why: str) -> list[str]:
        entry = self._devices.get(device)
        if entry is None:
            return []
        entry.not_monitored = why
        entry.known = False
        entry.lines.clear()
        return self._refresh(self._clock())

    def on_snapshot(self, device: str, calls: Iterable[SnapshotCall] | None) -> list[str]:
        """The calls at a device whose monitor just (re)started: they replace what was kept
        (what is known of a call's party stays).  None: the PBX gave no snapshot."""
        entry = self._devices.get(device)
        if entry is None:
            return []
        entry.not_monitored = None
        entry.known = True
        if calls is not None:
            now = self._clock()
            lines: dict[bytes, Line] = {}
            for item in calls:
                cid = item.connection.call_id
                if cid is None or item.state is None or item.state in _GONE:
                    continue
                old = entry.lines.get(cid)
                lines[cid] = Line(
                    item.connection,
                    item.state,
                    old.since if old else now,
                    old.party if old else None,
                    old.party_kind if old else "number",
                )
            entry.lines = lines
        return self._refresh(self._clock())

    def on_event(self, device: str, event: CstaEvent) -> list[str]:
        entry = self._devices.get(device)
        if entry is None:
            return []
        entry.not_monitored = None
        entry.known = True
        if isinstance(event, DoNotDisturbEvent):
            entry.do_not_disturb = bool(event.do_not_disturb_on)
        elif isinstance(event, ForwardingEvent):
            if event.forwarding_type in IMMEDIATE_FORWARDING:
                entry.forwarded_to = (
                    (_number(event.forward_to) or translate("Colleagues", "another number"))
                    if event.forward_status
                    else None
                )
        else:
            self._call_event(entry, event)
        return self._refresh(self._clock())

    # -- internals

    def _call_event(self, entry: _Device, event: CstaEvent) -> None:
        connection: ConnectionId | None = getattr(event, "connection", None)
        if connection is None or connection.call_id is None:
            return
        device = entry.device
        cid = connection.call_id
        own_connection = _number(connection.device) == device
        state = getattr(event, "local_connection_state", None)
        if state is None:
            state = _STATE_BY_EVENT.get(event.name) if own_connection else None
        # A transfer or conference moves the device's line from the old call to the
        # surviving one (or ends both for the device that leaves).
        if isinstance(event, TransferredEvent | ConferencedEvent):
            old = event.secondary_old_call.call_id if event.secondary_old_call else None
            moved = entry.lines.pop(old, None) if old is not None and old != cid else None
            if moved is not None and cid not in entry.lines and state not in _GONE:
                entry.lines[cid] = replace(
                    moved, connection=ConnectionId(cid, moved.connection.device)
                )
        line = entry.lines.get(cid)
        if state is None:
            if line is not None:
                self._update_party(entry, cid, event)
            return
        if state in _GONE:
            entry.lines.pop(cid, None)
            return
        now = self._clock()
        mine = (
            connection
            if own_connection
            else (line.connection if line is not None else ConnectionId(cid, DeviceId.of(device)))
        )
        if line is None:
            line = Line(mine, state, now)
        elif line.state != state:
            line = replace(line, connection=mine, state=state, since=now)
        else:
            line = replace(line, connection=mine)
        entry.lines[cid] = line
        self._update_party(entry, cid, event)
        while len(entry.lines) > MAX_LINES:
            oldest = min(entry.lines.values(), key=lambda kept: kept.since)
            del entry.lines[oldest.call_id]
            self.lines_dropped += 1
            if self.lines_dropped == 1 or self.lines_dropped % 1000 == 0:
                log.warning(
                    "%s has more than %d calls at once: the oldest forgotten (%d so "
                    "far; the PBX did not say they ended)",
                    entry.device,
                    MAX_LINES,
                    self.lines_dropped,
                )

    def _update_party(self, entry: _Device, cid: bytes, event: CstaEvent) -> None:
        line = entry.lines.get(cid)
        if line is None:
            return
        party, kind = _other_party(entry.device, event)
        if party is not None or kind == "restricted":
            entry.lines[cid] = replace(line, party=party, party_kind=kind)

    def _refresh(self, now: datetime) -> list[str]:
        changed = []
        for entry in self._devices.values():
            state = self._state_of(entry)
            if state != entry.state:
                # Free since the last call ended; not known when it was free before the
                # monitor started (or the link came back).
                had_calls = entry.state in (
                    ColleagueState.BUSY,
                    ColleagueState.RINGING,
                    ColleagueState.HELD,
                )
                entry.since = now if (had_calls or state is not ColleagueState.FREE) else None
                entry.state = state
            status = self._status(entry)
            if self._last.get(entry.device) != status:
                self._last[entry.device] = status
                changed.append(entry.device)
        return changed

    def _state_of(self, entry: _Device) -> ColleagueState:
        if entry.not_monitored is not None:
            return ColleagueState.NOT_MONITORED
        if not self._up or not entry.known:
            return ColleagueState.UNKNOWN
        lines = entry.lines.values()
        if any(line.talking for line in lines):
            return ColleagueState.BUSY
        if any(line.state in ("alerting", "queued") for line in lines):
            return ColleagueState.RINGING
        if lines:
            return ColleagueState.HELD
        if entry.do_not_disturb:
            return ColleagueState.DO_NOT_DISTURB
        if entry.forwarded_to is not None:
            return ColleagueState.FORWARDED
        return ColleagueState.FREE

    def _status(self, entry: _Device) -> ColleagueStatus:
        lines = sorted(entry.lines.values(), key=lambda line: line.since)
        state = entry.state
        decisive = _decisive(lines, state)
        why = (
            entry.not_monitored
            if state is ColleagueState.NOT_MONITORED
            else (
                None
                if state is not ColleagueState.UNKNOWN
                else translate("Colleagues", "no link to the PBX")
                if not self._up
                else translate("Colleagues", "not known yet")
            )
        )
        since = entry.since
        if decisive is not None and state is not ColleagueState.HELD:
            since = decisive.since
        return ColleagueStatus(
            entry.device,
            state,
            since,
            decisive.party if decisive else None,
            decisive.party_kind if decisive else "number",
            len(lines),
            any(line.state == "alerting" for line in lines),
            entry.do_not_disturb,
            entry.forwarded_to,
            why,
        )


def _decisive(lines: Sequence[Line], state: ColleagueState) -> Line | None:
    """The line the state is about (the newest talking one, else the newest ringing, ...)."""
    for wanted in (("connected", "initiated"), ("alerting", "queued"), ("hold",)):
        found = [line for line in lines if line.state in wanted]
        if found:
            return found[-1]
    return None


def _number(device: DeviceId | None) -> str | None:
    if device is None or not device.is_known:
        return None
    return device.number or None


def _other_party(device: str, event: CstaEvent) -> tuple[str | None, str]:
    """The party `device` talks to (or that calls it) as far as the event says."""
    if isinstance(event, TransferredEvent):
        for change in event.transferred_connections:
            number = _number(change.endpoint)
            if number is not None and number != device:
                return number, "number"
        return None, "number"
    calling = getattr(event, "calling_device", None)
    called = getattr(event, "called_device", None)
    answering = getattr(event, "answering_device", None)
    if calling is None and called is None:
        return None, "number"
    if _number(calling) == device:
        other = answering if _number(answering) not in (None, device) else called
        return _number(other), _kind(other)
    return _number(calling), _kind(calling)


def _kind(device: DeviceId | None) -> str:
    if device is None:
        return "number"
    return "restricted" if device.kind == "restricted" else "number"


__all__ = ["ColleagueBoard", "ColleagueState", "ColleagueStatus", "Line"]
