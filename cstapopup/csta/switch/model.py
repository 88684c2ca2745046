"""The simulated PBX's call model: devices, calls, connections, and the CSTA events they cause.

No I/O.  Each operation changes the model and returns a `Step`: the events every internal
device that is a party to the call must see (`Notification`s, exactly as
docs/event-sequences.md says), the internal devices that started ringing, and the ground-truth
records of the calls that ended.  Which of those events reach a client is the server's business
(monitors, filters).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cstapopup.csta import names
from cstapopup.csta.events import (
    NOT_KNOWN,
    RESTRICTED,
    CallEvent,
    ConferencedEvent,
    ConnectionChange,
    ConnectionClearedEvent,
    ConnectionId,
    CstaEvent,
    DeliveredEvent,
    DeviceId,
    DivertedEvent,
    DoNotDisturbEvent,
    EstablishedEvent,
    FailedEvent,
    ForwardingEvent,
    HeldEvent,
    NetworkReachedEvent,
    OriginatedEvent,
    RetrievedEvent,
    ServiceInitiatedEvent,
    TransferredEvent,
)

#: The trunk access digit the PBX puts in front of external numbers (docs/event-sequences.md).
TRUNK_ACCESS_DIGIT = "0"
DEFAULT_TRUNKS = tuple(str(n) for n in range(9901, 9909))
#: The simulator's internal devices unless told otherwise.
DEFAULT_DEVICES = "100-120"

INCOMING, OUTGOING, INTERNAL = "incoming", "outgoing", "internal"
#: Which global call id a call's events carry after a transfer or conference: the new one
#: that the Transferred / Conferenced event announced, or the old one (SwitchModel).
LINKAGE_AFTER_TRANSFER = ("new", "old")

# Local connection states (ECMA-269 LocalConnectionState, as the codec names them).
NULL, INITIATED, ALERTING, CONNECTED, HOLD, FAIL = (
    "null",
    "initiated",
    "alerting",
    "connected",
    "hold",
    "fail",
)


def dev(number: str) -> DeviceId:
    """A device as the PBX names it on the wire (a dialingNumber), equal to what the codec decodes."""
    return DeviceId("number", number, "dialingNumber")


def parse_device_list(text: str) -> list[str]:
    """ "100-120" or "100,101,200-205" -> the device numbers, in order, without duplicates.

    A range keeps the width of its first bound, so "0100-0102" gives 0100, 0101, 0102.
    Raises ValueError for anything else.
    """
    out: list[str] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            if not (lo.isdigit() and hi.isdigit()) or int(hi) < int(lo):
                raise ValueError(f"not a device range: {part!r}")
            if int(hi) - int(lo) > 10_000:
                raise ValueError(f"device range too large: {part!r}")
            out.extend(str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1))
        elif part.isdigit():
            out.append(part)
        else:
            raise ValueError(f"not a device number: {part!r}")
    if not out:
        raise ValueError("no devices given")
    return list(dict.fromkeys(out))


class SwitchError(Exception):
    """An operation the switch refuses: a universalFailure (group and value name, names.py)."""

    def __init__(self, group: str, name: str, message: str = "") -> None:
        super().__init__(f"{group}/{name}" + (f" ({message})" if message else ""))
        self.group = group
        self.name = name

    @property
    def value(self) -> int:
        return names.error_value(self.group, self.name)


@dataclass(frozen=True, slots=True)
class Notification:
    """One event for the monitors of one internal device: a call event, or a device's
    do-not-disturb / forwarding event.

    `event.cross_ref_id` is empty: each monitor that gets it puts in its own.
    """

    device: str
    event: CallEvent | CstaEvent


@dataclass(eq=False, slots=True)
class Party:
    """One connection of a call."""

    #: The connection as events name it: (call id, device).
    connection: ConnectionId
    #: The party as the calling / answering / releasing device of events (may be restricted).
    shown: DeviceId
    #: The internal device number, or None for the party outside (trunk side).
    internal: str | None
    state: str = NULL
    #: The connection its ConnectionCleared names, when not `connection`: the far end of an
    #: outgoing call is (C, T) while it rings and answers, (C, X) when it hangs up
    #: (docs/event-sequences.md, outgoing).
    cleared_as: ConnectionId | None = None
    #: When it was put on hold (the model's hold counter): the latest hold is consulted from.
    held_seq: int = 0

    @property
    def clear_connection(self) -> ConnectionId:
        return self.cleared_as or self.connection


@dataclass(eq=False, slots=True)
class CallRecord:
    """Ground truth about one call (docs/event-sequences.md, "Ground truth")."""

    call_id: bytes
    global_call_id: bytes
    direction: str
    remote_number: str | None
    remote_kind: str
    started_at: datetime
    devices: list[str] = field(default_factory=list)
    outcome: str | None = None
    answered_by: str | None = None
    transferred_to: str | None = None
    diverted_to: str | None = None
    consultation: bool = False
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    busy: bool = False
    merged: str | None = None  # "transfer" / "conference" when a consultation call merged away
    #: The consultations made from this call, in order: (consulting device, consulted party).
    consulted: list[tuple[str, str]] = field(default_factory=list)
    #: For a consultation call: the global call id of the call it was made from.
    consultation_of: bytes | None = None
    #: Per internal device: the outcome a tracker monitoring only that device should give.
    views: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "call_id": self.call_id.hex(),
            "global_call_id": self.global_call_id.hex(),
            "direction": self.direction,
            "remote_number": self.remote_number,
            "remote_kind": self.remote_kind,
            "devices": list(self.devices),
            "outcome": self.outcome,
            "answered_by": self.answered_by,
            "transferred_to": self.transferred_to,
            "diverted_to": self.diverted_to,
            "consultation": self.consultation,
            "consulted": [{"by": by, "to": to} for by, to in self.consulted],
            "consultation_of": None if self.consultation_of is None else self.consultation_of.hex(),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "answered_at": iso(self.answered_at),
            "views": {d: dict(v) for d, v in self.views.items()},
        }


@dataclass(eq=False, slots=True)
class Call:
    call_id: bytes
    #: The global call id the call was made with (the ground truth's name for it).
    global_call_id: bytes
    direction: str
    #: The calling and called device as every event of the call shows them.
    calling: DeviceId
    called: DeviceId
    trunk: str | None
    record: CallRecord
    parties: list[Party] = field(default_factory=list)
    last_redirection: DeviceId = NOT_KNOWN
    ended: bool = False
    #: For a consultation call: the call it consults from.
    consulted_from: Call | None = None
    #: The trunks this call holds (one per external party).
    trunks: list[str] = field(default_factory=list)
    #: The call linkage its events carry now: the global call id (after a transfer or a
    #: conference, the new one when the model's `linkage_after_merge` is "new") and the
    #: thread id (its own global call id; a consultation's is the thread of the call it was
    #: made from, as the old linkage of HiPath's Transferred event shows, protocol facts §6).
    linkage_id: bytes = b""
    thread_id: bytes = b""

    @property
    def call_id_hex(self) -> str:
        return self.call_id.hex()

    def party(self, device: str) -> Party | None:
        for p in self.parties:
            if p.internal == device:
                return p
        return None

    def outside(self) -> Party | None:
        for p in self.parties:
            if p.internal is None:
                return p
        return None

    def observers(self) -> list[str]:
        """Internal devices that are parties now: they see every event of the call."""
        return [p.internal for p in self.parties if p.internal is not None]

    def ringing_device(self) -> str | None:
        for p in self.parties:
            if p.internal is not None and p.state == ALERTING:
                return p.internal
        return None


@dataclass(slots=True)
class Step:
    """What one operation did."""

    call: Call | None = None
    notifications: list[Notification] = field(default_factory=list)
    #: (call, device) for each internal connection that started alerting.
    ringing: list[tuple[Call, str]] = field(default_factory=list)
    #: Ground truth of the calls that ended.
    records: list[CallRecord] = field(default_factory=list)

    @property
    def events(self) -> list[CallEvent | CstaEvent]:
        return [n.event for n in self.notifications]

    def made_call(self) -> Call:
        """The call of a step that always has one (make_call, incoming_call)."""
        if self.call is None:
            raise RuntimeError("this step has no call")
        return self.call

    def extend(self, other: Step) -> None:
        self.notifications.extend(other.notifications)
        self.ringing.extend(other.ringing)
        self.records.extend(other.records)


class SwitchModel:
    """Devices and calls of a simulated HiPath, and the events each change causes.

    `devices` are the internal extensions, `trunks` the trunk devices external calls use.
    `clock` gives the PBX's local time for timestamps (naive datetimes, whole seconds are sent).
    `forward_no_answer` maps a device to (target device, seconds of ringing); the model only
    keeps the setting and does the forwarding when `forward_no_answer()` is called (the
    caller keeps the time).  `listener` (and any added to `listeners`) gets every `Step` as
    it happens (also the parts of a composite operation such as a consultation), `on_record`
    every finished call, `narrate` a plain-words line about what happens.

    Call linkage (protocol facts §6, docs/event-sequences.md "Call linkage after a
    transfer"): a transfer or a conference gives the surviving call a new global call id
    (14 bytes of the call counter, then a 2-byte number from the call id counter, so its
    last two bytes are not the call id), sent as the newCallLinkageData of the Transferred /
    Conferenced event, with the call's thread id (its first global call id) kept.
    `linkage_after_transfer` says which global call id the surviving call's later events
    (and snapshots) carry: "new" (the default) the new one, "old" the one they carried
    before.  The ground truth (`CallRecord.global_call_id`) is always the first.
    """

    def __init__(
        self,
        devices: Iterable[str],
        trunks: Iterable[str] = DEFAULT_TRUNKS,
        *,
        clock: Callable[[], datetime] | None = None,
        forward_no_answer: Mapping[str, tuple[str, float]] | None = None,
        first_call_id: int = 1,
        instance_id: int | None = None,
        listener: Callable[[Step], None] | None = None,
        on_record: Callable[[CallRecord], None] | None = None,
        narrate: Callable[[str], None] | None = None,
        keep_records: int = 100_000,
        linkage_after_transfer: str = "new",
    ) -> None:
        if linkage_after_transfer not in LINKAGE_AFTER_TRANSFER:
            raise ValueError(f"linkage_after_transfer: one of {', '.join(LINKAGE_AFTER_TRANSFER)}")
        self.linkage_after_transfer = linkage_after_transfer
        self._hold_seq = itertools.count(1)
        self.devices: list[str] = list(dict.fromkeys(devices))
        if not self.devices:
            raise ValueError("a switch needs at least one device")
        self._device_set = frozenset(self.devices)
        self.trunks: list[str] = list(dict.fromkeys(trunks))
        if self._device_set & set(self.trunks):
            raise ValueError("a number cannot be both a device and a trunk")
        self.clock = clock or (lambda: datetime.now().replace(microsecond=0))
        self.forwarding: dict[str, tuple[str, float]] = {}
        #: Devices with do not disturb on, and devices forwarded at once (device -> target):
        #: kept and told to the monitors; the model does not act on them (calls still ring).
        self.do_not_disturb: set[str] = set()
        self.forward_immediate: dict[str, str] = {}
        for source, (target, seconds) in (forward_no_answer or {}).items():
            self.set_forward_no_answer(source, target, seconds)
        if not 1 <= first_call_id <= 0xFFFF:
            raise ValueError("call ids are 1..0xFFFF")
        self._next_call_id = first_call_id
        if instance_id is None:
            instance_id = int(self.clock().timestamp())
        # The global call id: 01, a 4-byte instance (the start time: unique across runs),
        # a 9-byte call counter, and the 2-byte call id (protocol facts §4).
        self._gcid_prefix = b"\x01" + (instance_id & 0xFFFFFFFF).to_bytes(4, "big")
        self._sequence = itertools.count(1)
        self.calls: dict[bytes, Call] = {}
        self.listeners: list[Callable[[Step], None]] = [listener] if listener else []
        self.on_record = on_record
        self.narrate = narrate
        self.finished: collections.deque[CallRecord] = collections.deque(maxlen=keep_records)

    # Queries ----------------------------------------------------------------------------

    def is_device(self, number: str) -> bool:
        return number in self._device_set

    def is_external(self, number: str) -> bool:
        """A number the switch would dial out: the trunk access digit and at least 3 more digits."""
        return (
            number.startswith(TRUNK_ACCESS_DIGIT)
            and number.isdigit()
            and len(number) >= 4
            and not self.is_device(number)
        )

    def calls_of(self, device: str) -> list[Call]:
        return [c for c in self.calls.values() if c.party(device) is not None]

    def is_busy(self, device: str) -> bool:
        """A device with any connection refuses a new incoming call."""
        return any(c.party(device) is not None for c in self.calls.values())

    def is_active(self, device: str) -> bool:
        """A device with a connection that is not on hold (it cannot start another call)."""
        return any(
            (p := c.party(device)) is not None and p.state != HOLD for c in self.calls.values()
        )

    def free_trunks(self) -> list[str]:
        used = {t for c in self.calls.values() for t in c.trunks}
        return [t for t in self.trunks if t not in used]

    def snapshot(self, device: str) -> list[tuple[ConnectionId, str, bytes]]:
        """The device's connections: (connection id, local state, global call id)."""
        out = []
        for c in self.calls.values():
            p = c.party(device)
            if p is not None:
                out.append((p.connection, p.state, c.linkage_id))
        return out

    def live(self, call: Call | bytes) -> Call:
        """The live call (by object or call id); SwitchError invalid_call_id if it is over."""
        if isinstance(call, (bytes, bytearray)):
            found = self.calls.get(bytes(call))
        else:
            found = call if not call.ended and self.calls.get(call.call_id) is call else None
        if found is None:
            raise SwitchError("operation", "invalid_call_id")
        return found

    def set_forward_no_answer(self, device: str, target: str | None, seconds: float = 15.0) -> None:
        """Forward calls that ring `seconds` unanswered at `device` to `target` (None: off)."""
        self._require_device(device, "invalid_device_id")
        if target is None:
            self.forwarding.pop(device, None)
            return
        self._require_device(target, "invalid_forwarding_destination")
        if target == device or seconds <= 0:
            raise SwitchError("operation", "invalid_forwarding_destination")
        self.forwarding[device] = (target, float(seconds))

    # Operations ---------------------------------------------------------------------------

    def incoming_call(self, caller: str | None, target: str, trunk: str | None = None) -> Step:
        """An external caller (None: number withheld) calls `target` over a trunk."""
        self._require_device(target, "invalid_called_device_id")
        trunk = self._take_trunk(trunk)
        shown = RESTRICTED if caller is None else dev(caller)
        call = self._new_call(
            INCOMING, shown, dev(target), caller, "restricted" if caller is None else "number"
        )
        call.trunks.append(trunk)
        call.trunk = trunk
        # A withheld number cannot name a connection: the trunk stands in for it.
        outside = Party(
            ConnectionId(call.call_id, dev(caller) if caller else dev(trunk)),
            shown,
            None,
            CONNECTED,
        )
        call.parties.append(outside)
        step = Step(call)
        self._involve(call, target, "missed")
        who = caller or "withheld number"
        if self.is_busy(target):
            self._say(f"call {call.call_id_hex}: {who} -> {target} busy")
            self._fail_busy(call, target, step)
            return self._done(step)
        party = Party(ConnectionId(call.call_id, dev(target)), dev(target), target, ALERTING)
        call.parties.append(party)
        step.notifications += self._emit(
            call,
            DeliveredEvent,
            call.observers(),
            connection=party.connection,
            alerting_device=party.shown,
            **self._parties(call),
            cause="new_call",
        )
        step.ringing.append((call, target))
        self._say(f"call {call.call_id_hex}: {who} -> {target} ringing (trunk {trunk})")
        return self._done(step)

    def make_call(
        self,
        calling: str,
        called: str,
        *,
        service: bool = False,
        _consultation_of: Call | None = None,
    ) -> Step:
        """`calling` dials `called`: another device, or an external number (with the trunk digit).

        `service`: started by the MakeCall service (cause make_call on service_initiated).
        """
        self._require_device(calling, "invalid_calling_device_id")
        if self.is_active(calling):
            raise SwitchError("state_incompatibility", "invalid_calling_device_state")
        internal = self.is_device(called)
        if not internal and not self.is_external(called):
            raise SwitchError("operation", "invalid_called_device_id")
        if called == calling:
            raise SwitchError("operation", "invalid_called_device_id")
        trunk = None if internal else self._take_trunk(None)
        # A call placed while the caller holds another is a consultation of (the latest held
        # of) those: the same for the PBX's TransferCall, whether ConsultationCall or a hold
        # and a MakeCall made it.
        consulted_from = _consultation_of or self._latest_held(calling)
        call = self._new_call(
            INTERNAL if internal else OUTGOING, dev(calling), dev(called), called, "number"
        )
        if consulted_from is not None:
            call.consulted_from = consulted_from
            call.thread_id = consulted_from.thread_id
            call.record.consultation_of = consulted_from.global_call_id
            consulted_from.record.consulted.append((calling, called))
        if trunk:
            call.trunks.append(trunk)
            call.trunk = trunk
        step = Step(call)
        self._involve(call, calling, "abandoned")
        me = Party(ConnectionId(call.call_id, dev(calling)), dev(calling), calling, INITIATED)
        call.parties.append(me)
        cause = "consultation" if _consultation_of else ("make_call" if service else "new_call")
        step.notifications += self._emit(
            call,
            ServiceInitiatedEvent,
            [calling],
            connection=me.connection,
            initiating_device=me.shown,
            cause=cause,
        )
        me.state = CONNECTED
        step.notifications += self._emit(
            call,
            OriginatedEvent,
            [calling],
            connection=me.connection,
            calling_device=me.shown,
            called_device=call.called,
            cause="consultation" if _consultation_of else "new_call",
        )
        if internal:
            if self.is_busy(called):
                self._involve(call, called, "busy")
                self._say(f"call {call.call_id_hex}: {calling} -> {called} busy")
                self._fail_busy(call, called, step)
                return self._done(step)
            self._involve(call, called, "missed")
            party = Party(ConnectionId(call.call_id, dev(called)), dev(called), called, ALERTING)
            call.parties.append(party)
            # The caller's connection as originatingNIDConnection, as in HiPath's captured
            # Delivered of an internal call (protocol facts §7.4).
            step.notifications += self._emit(
                call,
                DeliveredEvent,
                call.observers(),
                connection=party.connection,
                alerting_device=party.shown,
                **self._parties(call),
                originating_connection=me.connection,
                cause="new_call",
            )
            step.ringing.append((call, called))
            self._say(f"call {call.call_id_hex}: {calling} -> {called} ringing")
        else:
            assert trunk is not None
            far = Party(
                ConnectionId(call.call_id, dev(trunk)),
                dev(called),
                None,
                ALERTING,
                cleared_as=ConnectionId(call.call_id, dev(called)),
            )
            call.parties.append(far)
            step.notifications += self._emit(
                call,
                NetworkReachedEvent,
                call.observers(),
                connection=far.connection,
                network_interface_used=dev(trunk),
                calling_device=call.calling,
                called_device=call.called,
                last_redirection_device=NOT_KNOWN,
                cause="normal",
            )
            self._say(f"call {call.call_id_hex}: {calling} dials {called} (trunk {trunk})")
        return self._done(step)

    def answer(self, call: Call | bytes, device: str) -> Step:
        """The ringing `device` answers."""
        call = self.live(call)
        party = self._connection(call, device)
        if party.state != ALERTING:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        return self._answered(call, party)

    def remote_answer(self, call: Call | bytes) -> Step:
        """The far end of an outgoing call answers."""
        call = self.live(call)
        party = call.outside()
        if party is None or party.state != ALERTING:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        return self._answered(call, party)

    def remote_busy(self, call: Call | bytes) -> Step:
        """The far end of an outgoing call is busy: the call fails there; the caller stays in
        it (hearing the busy tone) until it hangs up."""
        call = self.live(call)
        party = call.outside()
        if call.direction != OUTGOING or party is None or party.state != ALERTING:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        step = Step(call)
        call.record.busy = True
        for d in call.record.views:
            self._view(call, d, outcome="busy")
        step.notifications += self._emit(
            call,
            FailedEvent,
            call.observers(),
            connection=party.connection,
            failing_device=party.shown,
            **self._parties(call),
            cause="busy",
        )
        call.parties.remove(party)
        call.trunks.clear()
        self._say(f"call {call.call_id_hex}: {self._label(party)} is busy")
        return self._done(step)

    def hang_up(self, call: Call | bytes, device: str, cause: str = "normal_clearing") -> Step:
        """An internal party hangs up (ClearConnection)."""
        call = self.live(call)
        party = self._connection(call, device)
        step = Step(call)
        self._say(f"call {call.call_id_hex}: {device} hangs up")
        self._release(call, party, step, cause)
        return self._done(step)

    def remote_hang_up(self, call: Call | bytes) -> Step:
        """The outside party hangs up."""
        call = self.live(call)
        party = call.outside()
        if party is None:
            raise SwitchError("state_incompatibility", "no_connection_to_clear")
        step = Step(call)
        self._say(f"call {call.call_id_hex}: {self._label(party)} hangs up")
        self._release(call, party, step, "normal_clearing")
        return self._done(step)

    def clear_call(self, call: Call | bytes) -> Step:
        """The whole call is torn down (ClearCall): every connection is cleared, in order."""
        call = self.live(call)
        step = Step(call)
        self._say(f"call {call.call_id_hex}: cleared")
        while call.parties:
            party = call.parties[0]
            observers = call.observers()
            party.state = NULL
            call.parties.remove(party)
            step.notifications += self._emit(
                call,
                ConnectionClearedEvent,
                observers,
                connection=party.clear_connection,
                releasing_device=party.shown,
                cause="normal_clearing",
            )
        self._end(call, step)
        return self._done(step)

    def hold(self, call: Call | bytes, device: str, cause: str = "normal") -> Step:
        call = self.live(call)
        party = self._connection(call, device)
        if party.state != CONNECTED:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        party.state = HOLD
        party.held_seq = next(self._hold_seq)
        step = Step(call)
        step.notifications += self._emit(
            call,
            HeldEvent,
            call.observers(),
            connection=party.connection,
            holding_device=party.shown,
            cause=cause,
        )
        self._say(f"call {call.call_id_hex}: {device} holds")
        return self._done(step)

    def retrieve(self, call: Call | bytes, device: str, cause: str = "normal") -> Step:
        call = self.live(call)
        party = self._connection(call, device)
        if party.state != HOLD:
            raise SwitchError("state_incompatibility", "invalid_held_connection_state")
        if self.is_active(device):
            raise SwitchError("state_incompatibility", "connected_call_exists")
        party.state = CONNECTED
        step = Step(call)
        step.notifications += self._emit(
            call,
            RetrievedEvent,
            call.observers(),
            connection=party.connection,
            retrieving_device=party.shown,
            cause=cause,
        )
        self._say(f"call {call.call_id_hex}: {device} retrieves")
        return self._done(step)

    def consult(self, call: Call | bytes, device: str, target: str) -> Step:
        """`device` puts `call` on hold and calls `target` (ConsultationCall).

        `Step.call` is the new (consultation) call."""
        call = self.live(call)
        party = self._connection(call, device)
        if party.state != CONNECTED:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        if not (self.is_device(target) or self.is_external(target)) or target == device:
            raise SwitchError("operation", "invalid_called_device_id")
        if not self.is_device(target) and not self.free_trunks():
            raise SwitchError("system_resource_availability", "resource_busy")
        step = self.hold(call, device, cause="consultation")
        consult = self.make_call(device, target, _consultation_of=call)
        step.extend(consult)
        step.call = consult.call
        return step

    def reconnect(self, active_call: Call | bytes, held_call: Call | bytes, device: str) -> Step:
        """`device` ends its active call and takes back the held one (ReconnectCall): the
        consultation is over without a transfer.  The active connection is cleared as by
        hanging up, then the held call is retrieved."""
        active, held = self.live(active_call), self.live(held_call)
        if active is held:
            raise SwitchError("operation", "invalid_active_call_id")
        p_active = self._connection(active, device)
        p_held = self._connection(held, device)
        if p_held.state != HOLD:
            raise SwitchError("state_incompatibility", "invalid_held_connection_state")
        if p_active.state not in (CONNECTED, INITIATED, ALERTING):
            raise SwitchError("state_incompatibility", "invalid_active_connection_state")
        step = Step(held)
        self._say(f"call {active.call_id_hex}: {device} ends the consultation")
        self._release(active, p_active, step, "normal_clearing")
        self._done(step)
        step.extend(self.retrieve(held, device))
        return step

    def alternate(self, held_call: Call | bytes, active_call: Call | bytes, device: str) -> Step:
        """`device` puts its active call on hold and takes back the held one, in one step
        (AlternateCall): Held (cause alternate) on the one, Retrieved (cause alternate) on
        the other."""
        held, active = self.live(held_call), self.live(active_call)
        if active is held:
            raise SwitchError("operation", "invalid_active_call_id")
        p_held = self._connection(held, device)
        p_active = self._connection(active, device)
        if p_held.state != HOLD:
            raise SwitchError("state_incompatibility", "invalid_held_connection_state")
        if p_active.state != CONNECTED:
            raise SwitchError("state_incompatibility", "invalid_active_connection_state")
        step = self.hold(active, device, cause="alternate")
        step.extend(self.retrieve(held, device, cause="alternate"))
        step.call = held
        return step

    def set_do_not_disturb(self, device: str, on: bool) -> Step:
        """Do not disturb on or off at `device`: its monitors get a DoNotDisturbEvent (the
        model keeps the setting; calls still ring)."""
        self._require_device(device, "invalid_device_id")
        if on:
            self.do_not_disturb.add(device)
        else:
            self.do_not_disturb.discard(device)
        step = Step()
        step.notifications.append(
            Notification(
                device,
                DoNotDisturbEvent(
                    cross_ref_id=b"",
                    timestamp=self._now(),
                    device=dev(device),
                    do_not_disturb_on=bool(on),
                ),
            )
        )
        self._say(f"{device}: do not disturb {'on' if on else 'off'}")
        return self._done(step)

    def set_forwarding(self, device: str, target: str | None) -> Step:
        """Immediate forwarding of `device` to `target` (None: off): its monitors get a
        ForwardingEvent (forwardImmediate).  The model keeps the setting; calls still ring
        at `device` (no-answer forwarding, which it does carry out, is
        `set_forward_no_answer`)."""
        self._require_device(device, "invalid_device_id")
        if target is not None and (
            target == device or not (self.is_device(target) or self.is_external(target))
        ):
            raise SwitchError("operation", "invalid_forwarding_destination")
        if target is None:
            self.forward_immediate.pop(device, None)
        else:
            self.forward_immediate[device] = target
        step = Step()
        step.notifications.append(
            Notification(
                device,
                ForwardingEvent(
                    cross_ref_id=b"",
                    timestamp=self._now(),
                    device=dev(device),
                    forwarding_type="forwardImmediate",
                    forward_status=target is not None,
                    forward_to=dev(target) if target is not None else None,
                ),
            )
        )
        self._say(f"{device}: forwarded to {target}" if target else f"{device}: forwarding off")
        return self._done(step)

    def transfer(self, held_call: Call | bytes, active_call: Call | bytes, device: str) -> Step:
        """`device` joins the other parties of its two calls and leaves (TransferCall).

        The held call survives with its call id (and, in the ground truth, its global call id;
        its events get a new one, see the class doc); the active (consultation) call merges
        into it.
        """
        c1, c2 = self.live(held_call), self.live(active_call)
        if c1 is c2:
            raise SwitchError("operation", "invalid_active_call_id")
        p1 = self._connection(c1, device)
        p2 = self._connection(c2, device)
        if p1.state not in (HOLD, CONNECTED) or p2.state != CONNECTED:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        others1 = [p for p in c1.parties if p is not p1]
        others2 = [p for p in c2.parties if p is not p2]
        if len(others1) != 1 or len(others2) != 1:
            raise SwitchError("state_incompatibility", "invalid_object_state")
        remote, target = others1[0], others2[0]
        step = Step(c1)
        observers = list(dict.fromkeys(c1.observers() + c2.observers()))
        new_target = ConnectionId(c1.call_id, target.connection.device)
        changes = (
            ConnectionChange(
                remote.connection, remote.connection, remote.shown, self._nid(c1, remote)
            ),
            ConnectionChange(new_target, target.connection, target.shown, self._nid(c2, target)),
        )
        # Apply first: every observer's lcs is its state after the transfer.
        c1.parties.remove(p1)
        c2.parties.clear()
        target.connection = new_target
        c1.parties.append(target)
        c1.trunks.extend(c2.trunks)
        c2.trunks.clear()
        new_linkage = self._new_linkage(c1)
        # As HiPath's (protocol facts §6): the new linkage is the surviving call's new global
        # call id with its thread; the old one the consultation's, whose thread is the same.
        step.notifications += self._emit(
            c1,
            TransferredEvent,
            observers,
            connection=p1.connection,
            secondary_old_call=p2.connection,
            transferring_device=p1.shown,
            transferred_to_device=target.shown,
            transferred_connections=changes,
            cause="transfer",
            global_call_id=new_linkage,
            old_global_call_id=c2.linkage_id,
            old_thread_id=c2.thread_id,
        )
        self._merged_linkage(c1, new_linkage)
        to = self._number(target)
        self._say(f"call {c1.call_id_hex}: {device} transfers {self._label(remote)} to {to}")
        self._after_transfer(c1, device, to, target)
        if target.internal is not None:
            self._involve(c1, target.internal, None)
            c1.record.views[target.internal] = dict(
                c2.record.views.get(target.internal, {"outcome": "missed", "answered_by": None})
            )
            self._view(c1, target.internal, outcome="transferred", transferred_to=to)
        # The consultation call is over: it became part of the transferred call.
        c2.record.consultation = True
        c2.record.merged = "transfer"
        c2.record.transferred_to = to
        self._end(c2, step)
        self._drop_if_unwatched(c1, step)
        return self._done(step)

    def single_step_transfer(self, call: Call | bytes, device: str, target: str) -> Step:
        """`device` passes its call to `target` without consulting (SingleStepTransfer)."""
        call = self.live(call)
        party = self._connection(call, device)
        if party.state not in (CONNECTED, HOLD):
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        others = [p for p in call.parties if p is not party]
        if len(others) != 1:
            raise SwitchError("state_incompatibility", "invalid_object_state")
        internal = self.is_device(target)
        if target == device or not (internal or self.is_external(target)):
            raise SwitchError("operation", "invalid_destination")
        if internal and self.is_busy(target):
            raise SwitchError("state_incompatibility", "invalid_destination_device_state")
        trunk = None if internal else self._take_trunk(None)
        remote = others[0]
        step = Step(call)
        new_conn = ConnectionId(call.call_id, dev(target) if internal else dev(trunk or ""))
        observers = call.observers()
        call.parties.remove(party)
        new_linkage = self._new_linkage(call)
        step.notifications += self._emit(
            call,
            TransferredEvent,
            observers,
            connection=party.connection,
            transferring_device=party.shown,
            transferred_to_device=dev(target),
            transferred_connections=(
                ConnectionChange(
                    remote.connection, remote.connection, remote.shown, self._nid(call, remote)
                ),
                ConnectionChange(
                    new_conn, None, dev(target), None if trunk is None else dev(trunk)
                ),
            ),
            cause="single_step_transfer",
            global_call_id=new_linkage,
            old_global_call_id=call.linkage_id,
            old_thread_id=call.thread_id,
        )
        self._merged_linkage(call, new_linkage)
        self._say(f"call {call.call_id_hex}: {device} passes {self._label(remote)} on to {target}")
        self._after_transfer(call, device, target, None)
        call.last_redirection = dev(device)
        if internal:
            self._involve(call, target, "missed")
            new = Party(new_conn, dev(target), target, ALERTING)
            call.parties.append(new)
            step.notifications += self._emit(
                call,
                DeliveredEvent,
                call.observers(),
                connection=new_conn,
                alerting_device=new.shown,
                **self._parties(call),
                cause="single_step_transfer",
            )
            step.ringing.append((call, target))
        else:
            assert trunk is not None
            call.trunks.append(trunk)
            call.parties.append(Party(new_conn, dev(target), None, ALERTING))
        self._drop_if_unwatched(call, step)
        return self._done(step)

    def conference(self, held_call: Call | bytes, active_call: Call | bytes, device: str) -> Step:
        """`device` joins its held call and its active call into one (ConferenceCall)."""
        c1, c2 = self.live(held_call), self.live(active_call)
        if c1 is c2:
            raise SwitchError("operation", "invalid_active_call_id")
        p1 = self._connection(c1, device)
        p2 = self._connection(c2, device)
        if p1.state != HOLD or p2.state != CONNECTED:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        added = [p for p in c2.parties if p is not p2]
        if len(added) != 1:
            raise SwitchError("state_incompatibility", "invalid_object_state")
        newcomer = added[0]
        step = Step(c1)
        observers = list(dict.fromkeys(c1.observers() + c2.observers()))
        changes = [
            ConnectionChange(p.connection, p.connection, p.shown, self._nid(c1, p))
            for p in c1.parties
        ]
        new_conn = ConnectionId(c1.call_id, newcomer.connection.device)
        changes.append(
            ConnectionChange(new_conn, newcomer.connection, newcomer.shown, self._nid(c2, newcomer))
        )
        p1.state = CONNECTED
        c2.parties.clear()
        newcomer.connection = new_conn
        c1.parties.append(newcomer)
        c1.trunks.extend(c2.trunks)
        c2.trunks.clear()
        new_linkage = self._new_linkage(c1)
        step.notifications += self._emit(
            c1,
            ConferencedEvent,
            observers,
            connection=p1.connection,
            secondary_old_call=p2.connection,
            conferencing_device=p1.shown,
            added_party=newcomer.shown,
            conference_connections=tuple(changes),
            cause="conference",
            global_call_id=new_linkage,
            old_global_call_id=c2.linkage_id,
            old_thread_id=c2.thread_id,
        )
        self._merged_linkage(c1, new_linkage)
        self._say(
            f"call {c1.call_id_hex}: {device} makes a conference with {self._number(newcomer)}"
        )
        if newcomer.internal is not None:
            self._involve(c1, newcomer.internal, None)
            self._view(c1, newcomer.internal, outcome="answered", answered_by=newcomer.internal)
        c2.record.consultation = True
        c2.record.merged = "conference"
        self._end(c2, step)
        return self._done(step)

    def deflect(
        self, call: Call | bytes, device: str, target: str, cause: str = "redirected"
    ) -> Step:
        """The ringing `device` sends the call on to `target` (DeflectCall, and no-answer
        forwarding with cause call_forward_no_answer)."""
        call = self.live(call)
        party = self._connection(call, device)
        if party.state != ALERTING:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        if not self.is_device(target) or target == device:
            raise SwitchError("operation", "invalid_destination")
        if self.is_busy(target):
            raise SwitchError("state_incompatibility", "invalid_destination_device_state")
        step = Step(call)
        observers = call.observers()
        call.parties.remove(party)
        call.last_redirection = dev(device)
        step.notifications += self._emit(
            call,
            DivertedEvent,
            observers,
            connection=party.connection,
            diverting_device=party.shown,
            new_destination=dev(target),
            calling_device=call.calling,
            called_device=call.called,
            last_redirection_device=call.last_redirection,
            cause=cause,
        )
        why = "forwarded (no answer)" if cause == "call_forward_no_answer" else "deflected"
        self._say(f"call {call.call_id_hex}: {device} {why} to {target}")
        call.record.diverted_to = target
        self._view(call, device, outcome="diverted", diverted_to=target)
        self._involve(call, target, "missed")
        new = Party(ConnectionId(call.call_id, dev(target)), dev(target), target, ALERTING)
        call.parties.append(new)
        step.notifications += self._emit(
            call,
            DeliveredEvent,
            call.observers(),
            connection=new.connection,
            alerting_device=new.shown,
            **self._parties(call),
            cause="redirected",
        )
        step.ringing.append((call, target))
        self._say(f"call {call.call_id_hex}: {self._label(call.parties[0])} -> {target} ringing")
        return self._done(step)

    def forward_no_answer(self, call: Call | bytes, device: str) -> Step:
        """Ring time is up at `device`: forward as configured.  Nothing happens when the call no
        longer rings there, no forwarding is set, or the destination is busy."""
        setting = self.forwarding.get(device)
        found = self.calls.get(call) if isinstance(call, bytes) else call
        if setting is None or found is None or found.ended:
            return Step(found)
        party = found.party(device)
        if party is None or party.state != ALERTING or self.is_busy(setting[0]):
            return Step(found)
        return self.deflect(found, device, setting[0], cause="call_forward_no_answer")

    def pickup(self, call: Call | bytes, picker: str, device: str | None = None) -> Step:
        """`picker` takes the call ringing at `device` (default: wherever it rings)."""
        call = self.live(call)
        self._require_device(picker, "invalid_pick_up_device_id")
        device = device or call.ringing_device()
        party = call.party(device) if device else None
        if device is None or party is None or party.state != ALERTING:
            raise SwitchError("state_incompatibility", "invalid_connection_state")
        if self.is_busy(picker):
            raise SwitchError("state_incompatibility", "invalid_device_state")
        step = Step(call)
        observers = call.observers() + [picker]
        call.parties.remove(party)
        new = Party(ConnectionId(call.call_id, dev(picker)), dev(picker), picker, CONNECTED)
        call.parties.append(new)
        step.notifications += self._emit(
            call,
            EstablishedEvent,
            observers,
            connection=new.connection,
            answering_device=new.shown,
            **self._parties(call),
            cause="call_pickup",
        )
        self._say(f"call {call.call_id_hex}: {picker} picks up the call ringing at {device}")
        self._involve(call, picker, "missed")
        self._note_answer(call, new)
        self._view(call, device, outcome="answered_elsewhere", answered_by=picker)
        return self._done(step)

    # Internals --------------------------------------------------------------------------

    def _answered(self, call: Call, party: Party) -> Step:
        party.state = CONNECTED
        step = Step(call)
        step.notifications += self._emit(
            call,
            EstablishedEvent,
            call.observers(),
            connection=party.connection,
            answering_device=party.shown,
            **self._parties(call),
            cause="new_call",
        )
        self._say(f"call {call.call_id_hex}: {self._label(party)} answers")
        self._note_answer(call, party)
        return self._done(step)

    def _note_answer(self, call: Call, party: Party) -> None:
        who = self._number(party)
        rec = call.record
        if rec.answered_by is None:
            rec.answered_by = who
            rec.answered_at = self._now()
        for d, view in rec.views.items():
            if view["outcome"] in ("missed", "abandoned") and call.party(d) is not None:
                view["outcome"] = "answered"
                view["answered_by"] = who

    def _after_transfer(self, call: Call, device: str, to: str, target: Party | None) -> None:
        call.record.transferred_to = to
        self._view(call, device, outcome="transferred", transferred_to=to)
        for d in call.observers():
            if d != to:
                self._view(call, d, transferred_to=to)

    def _drop_if_unwatched(self, call: Call, step: Step) -> None:
        # Two outside parties joined by a transfer talk on without the switch's devices: no
        # device would ever see that call again, so it ends here as far as the model goes.
        if call.parties and not call.observers():
            call.parties.clear()
            self._end(call, step)

    def _fail_busy(self, call: Call, target: str, step: Step) -> None:
        """`target` is busy: it sees the call fail and go (docs: incoming-busy)."""
        party = Party(ConnectionId(call.call_id, dev(target)), dev(target), target, FAIL)
        call.parties.append(party)
        call.record.busy = True
        for d in call.record.views:
            self._view(call, d, outcome="busy")
        step.notifications += self._emit(
            call,
            FailedEvent,
            call.observers(),
            connection=party.connection,
            failing_device=party.shown,
            **self._parties(call),
            cause="busy",
        )
        observers = call.observers()
        call.parties.remove(party)
        step.notifications += self._emit(
            call,
            ConnectionClearedEvent,
            observers,
            connection=party.connection,
            releasing_device=party.shown,
            cause="busy",
        )
        if call.direction == INCOMING:
            # The caller outside hears the busy tone; nobody inside sees the call any more.
            call.parties.clear()
            self._end(call, step)

    def _release(self, call: Call, party: Party, step: Step, cause: str) -> None:
        observers = call.observers()
        party.state = NULL
        call.parties.remove(party)
        step.notifications += self._emit(
            call,
            ConnectionClearedEvent,
            observers,
            connection=party.clear_connection,
            releasing_device=party.shown,
            cause=cause,
        )
        if len(call.parties) == 1:
            # A call of one is over: the switch clears the remaining connection.
            last = call.parties[0]
            observers = call.observers()
            last.state = NULL
            call.parties.clear()
            step.notifications += self._emit(
                call,
                ConnectionClearedEvent,
                observers,
                connection=last.clear_connection,
                releasing_device=last.shown,
                cause=cause,
            )
        if not call.parties:
            self._end(call, step)

    def _end(self, call: Call, step: Step) -> None:
        if call.ended:
            return
        call.ended = True
        call.parties.clear()
        self.calls.pop(call.call_id, None)
        rec = call.record
        rec.ended_at = self._now()
        if rec.merged == "transfer":
            rec.outcome = "transferred"
        elif rec.merged == "conference":
            rec.outcome = "answered"
        elif rec.busy:
            rec.outcome = "busy"
        elif rec.answered_by is not None:
            rec.outcome = "transferred" if rec.transferred_to else "answered"
        else:
            rec.outcome = "abandoned" if rec.direction == OUTGOING else "missed"
        step.records.append(rec)
        self.finished.append(rec)
        self._say(f"call {call.call_id_hex}: ended ({rec.outcome})")
        if self.on_record is not None:
            self.on_record(rec)

    def _done(self, step: Step) -> Step:
        if step.notifications or step.ringing or step.records:
            for listener in self.listeners:
                listener(step)
        return step

    def _new_call(
        self,
        direction: str,
        calling: DeviceId,
        called: DeviceId,
        remote: str | None,
        remote_kind: str,
    ) -> Call:
        cid = self._allocate_call_id()
        gcid = self._gcid_prefix + next(self._sequence).to_bytes(9, "big") + cid
        record = CallRecord(cid, gcid, direction, remote, remote_kind, self._now())
        call = Call(
            cid, gcid, direction, calling, called, None, record, linkage_id=gcid, thread_id=gcid
        )
        self.calls[cid] = call
        return call

    def _new_linkage(self, call: Call) -> bytes:
        """A new global call id for `call`, which a transfer or conference made (protocol
        facts §6: HiPath's ends with a number of the call id counter, not the call id)."""
        number = self._allocate_call_id()  # never the call's own: it is live
        return self._gcid_prefix + next(self._sequence).to_bytes(9, "big") + number

    def _merged_linkage(self, call: Call, new: bytes) -> None:
        """After a transfer / conference: what the call's later events carry."""
        if self.linkage_after_transfer == "new":
            call.linkage_id = new

    def _latest_held(self, device: str) -> Call | None:
        held = [
            (p.held_seq, c)
            for c in self.calls.values()
            if (p := c.party(device)) is not None and p.state == HOLD
        ]
        return max(held, key=lambda item: item[0])[1] if held else None

    def _allocate_call_id(self) -> bytes:
        # Incrementing, wrapping 0xFFFF -> 1 (0000 is never used), skipping ids still live.
        for _ in range(0xFFFF):
            n = self._next_call_id
            self._next_call_id = n % 0xFFFF + 1
            cid = n.to_bytes(2, "big")
            if cid not in self.calls:
                return cid
        raise SwitchError("system_resource_availability", "resource_limit_exceeded")

    def _take_trunk(self, wanted: str | None) -> str:
        free = self.free_trunks()
        if wanted is not None:
            if wanted not in self.trunks:
                raise SwitchError("operation", "invalid_device_id", f"not a trunk: {wanted}")
            if wanted not in free:
                raise SwitchError("system_resource_availability", "resource_busy")
            return wanted
        if not free:
            raise SwitchError("system_resource_availability", "resource_busy")
        return free[0]

    def _require_device(self, number: str, error: str) -> None:
        if not self.is_device(number):
            raise SwitchError("operation", error, f"unknown device {number!r}")

    def _connection(self, call: Call, device: str) -> Party:
        party = call.party(device)
        if party is None:
            raise SwitchError("operation", "invalid_connection_id")
        return party

    def _involve(self, call: Call, device: str, outcome: str | None) -> None:
        rec = call.record
        if device not in rec.devices:
            rec.devices.append(device)
        if device not in rec.views:
            rec.views[device] = {
                "outcome": outcome,
                "answered_by": None,
                "transferred_to": None,
                "diverted_to": None,
            }

    def _view(self, call: Call, device: str, **changes: str | None) -> None:
        view = call.record.views.get(device)
        if view is not None:
            view.update(changes)

    def _parties(self, call: Call) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "calling_device": call.calling,
            "called_device": call.called,
            "last_redirection_device": call.last_redirection,
        }
        if call.direction == INCOMING and call.trunk:
            fields["associated_calling_device"] = dev(call.trunk)
        return fields

    def _emit(
        self, call: Call, cls: type[CallEvent], observers: Iterable[str], **fields: Any
    ) -> list[Notification]:
        """One event of `call`, once for each observer with the observer's own connection state."""
        stamp = self._now()
        out = []
        base: CallEvent | None = None
        for device in observers:
            party = call.party(device)
            lcs = NULL if party is None else party.state
            if base is None:
                # The call linkage as it is now; a Transferred / Conferenced event brings its
                # new and old linkage in `fields` (see `transfer`).
                fields.setdefault("global_call_id", call.linkage_id)
                base = cls(
                    cross_ref_id=b"",
                    timestamp=stamp,
                    thread_id=call.thread_id,
                    local_connection_state=lcs,
                    **fields,
                )
                event = base
            else:
                event = replace(base, local_connection_state=lcs)
            out.append(Notification(device, event))
        return out

    def _now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    @staticmethod
    def _nid(call: Call, party: Party) -> DeviceId | None:
        """A connection list entry's associatedNID: the trunk, for the party outside."""
        return dev(call.trunk) if party.internal is None and call.trunk else None

    def _number(self, party: Party) -> str:
        return party.internal or party.shown.to_json() or ""

    def _label(self, party: Party) -> str:
        if party.internal is not None:
            return party.internal
        number = party.shown.number
        return number if party.shown.is_known and number is not None else "withheld number"

    def _say(self, text: str) -> None:
        if self.narrate is not None:
            self.narrate(text)
