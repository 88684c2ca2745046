"""Builders of the typed event sequences of `docs/event-sequences.md`, as each monitor sees them.

A `Sequence` plays the PBX for tests: each step is one CSTA event on one call, sent once to
every monitored device that sees it (a party to the call before or after the step), each
copy with that monitor's cross-ref id and its own local connection state.  The result is a
list of `Delivery` (monitor, event, receive time) in the order the client would hand them
to the tracker.  The scenario functions below compose steps exactly as the contract lists
them; they work for any set of monitored devices, so one scenario gives the view from 100,
from 101, or from both interleaved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from cstapopup.csta.events import (
    NOT_KNOWN,
    RESTRICTED,
    CallEvent,
    ConferencedEvent,
    ConnectionChange,
    ConnectionClearedEvent,
    ConnectionId,
    DeliveredEvent,
    DeviceId,
    DivertedEvent,
    EstablishedEvent,
    FailedEvent,
    HeldEvent,
    NetworkReachedEvent,
    OriginatedEvent,
    ServiceInitiatedEvent,
    TransferredEvent,
)

#: Numbers as the PBX gives them: the trunk access digit, then the national form.
X = "00891234567"
Y = "0004930123456"
TRUNK = "9901"
T0 = datetime(2024, 3, 4, 9, 0, 0, tzinfo=timezone.utc)
#: The PBX stamps events in naive local time; here one hour ahead of UTC, to show that the
#: tracker does not use it as a time.
PBX_OFFSET = timedelta(hours=1)


def dev(d: str | DeviceId) -> DeviceId:
    return d if isinstance(d, DeviceId) else DeviceId.of(d)


def num(d: str | DeviceId) -> str | None:
    return dev(d).number if dev(d).is_known else None


def global_id(cid: int, serial: int) -> bytes:
    """A HiPath-like 16-byte global call id: 14 bytes that differ per call, then the call id."""
    return bytes.fromhex("013ec5c322c34788") + serial.to_bytes(6, "big") + cid.to_bytes(2, "big")


class Delivery(NamedTuple):
    monitor: str
    event: CallEvent
    received_at: datetime


@dataclass(frozen=True)
class SimCall:
    cid: bytes
    gid: bytes | None
    #: The thread id its events carry (HiPath: the global call id of the call that began the
    #: thread; a consultation's is the held call's), when sent.
    thread: bytes | None = None

    def conn(self, device: str | DeviceId) -> ConnectionId:
        return ConnectionId(self.cid, dev(device))


class Sequence:
    """What the monitors of `monitored` receive, step by step."""

    def __init__(self, monitored: Iterable[str], *, start: datetime = T0,
                 with_global_ids: bool = True, with_timestamps: bool = True,
                 reverse_copies: bool = False, with_states: bool = True) -> None:
        """`reverse_copies`: send the copies of each event to the monitors in the other order.
        `with_states=False`: leave out the (optional) local connection state, as a PBX may."""
        self.monitored = frozenset(monitored)
        self.with_states = with_states
        self.reverse_copies = reverse_copies
        self.now = start
        self.items: list[Delivery] = []
        self.with_global_ids = with_global_ids
        self.with_timestamps = with_timestamps
        self._serial = 0
        self._xref = {d: i.to_bytes(2, "big") for i, d in enumerate(sorted(self.monitored), 1)}

    def call(self, cid: int, *, gid: bytes | None = None, thread: bytes | None = None
             ) -> SimCall:
        self._serial += 1
        if gid is None and self.with_global_ids:
            gid = global_id(cid, self._serial)
        return SimCall(cid.to_bytes(2, "big"), gid, thread)

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def emit(self, cls: type[CallEvent], call: SimCall, device: str | DeviceId,
             seen_by: Mapping[str, str], **fields: Any) -> None:
        """One event on `call` at `device`'s connection, to each monitored device in `seen_by`
        (which maps a device to its local connection state after the event)."""
        stamp = (self.now + PBX_OFFSET).replace(tzinfo=None, microsecond=0) \
            if self.with_timestamps else None
        watchers = [(w, lcs) for w, lcs in seen_by.items() if w in self.monitored]
        if self.reverse_copies:
            watchers.reverse()
        for i, (watcher, lcs) in enumerate(watchers):
            event = cls(cross_ref_id=self._xref[watcher], timestamp=stamp,
                        connection=call.conn(device),
                        local_connection_state=lcs if self.with_states else None,
                        global_call_id=call.gid, thread_id=call.thread, **fields)
            # Copies for several monitors arrive a few milliseconds apart.
            self.items.append(Delivery(watcher, event, self.now + timedelta(milliseconds=5 * i)))


# Building blocks ---------------------------------------------------------------------------


def ring(seq: Sequence, c: SimCall, at: str, *, caller: str | DeviceId = X,
         called: str | None = None, trunk: str | None = TRUNK,
         seen_by: Mapping[str, str] | None = None, cause: str = "new_call",
         last_redirection: str | DeviceId = NOT_KNOWN) -> None:
    seq.emit(DeliveredEvent, c, at, seen_by if seen_by is not None else {at: "alerting"},
             alerting_device=dev(at), calling_device=dev(caller), called_device=dev(called or at),
             last_redirection_device=dev(last_redirection),
             associated_calling_device=dev(trunk) if trunk else None, cause=cause)


def answer(seq: Sequence, c: SimCall, at: str, *, caller: str | DeviceId = X,
           called: str | None = None, trunk: str | None = TRUNK,
           seen_by: Mapping[str, str] | None = None, cause: str = "new_call") -> None:
    seq.emit(EstablishedEvent, c, at, seen_by if seen_by is not None else {at: "connected"},
             answering_device=dev(at), calling_device=dev(caller), called_device=dev(called or at),
             associated_calling_device=dev(trunk) if trunk else None, cause=cause)


def clear(seq: Sequence, c: SimCall, who: str | DeviceId, seen_by: Mapping[str, str],
          cause: str = "normal_clearing") -> None:
    seq.emit(ConnectionClearedEvent, c, who, seen_by, releasing_device=dev(who), cause=cause)


def dial(seq: Sequence, c: SimCall, caller: str, called: str, *, cause: str = "new_call",
         others: Mapping[str, str] | None = None) -> None:
    """service_initiated + originated at `caller` (others: more watchers, e.g. of a consult)."""
    seq.emit(ServiceInitiatedEvent, c, caller, {caller: "initiated", **(others or {})},
             initiating_device=dev(caller), cause=cause)
    seq.emit(OriginatedEvent, c, caller, {caller: "connected", **(others or {})},
             calling_device=dev(caller), called_device=dev(called), cause=cause)


# Scenarios (one call each; the caller chooses the monitored devices via the Sequence) ---------


def incoming_answered(seq: Sequence, *, cid: int = 0x0101, at: str = "100",
                      caller: str | DeviceId = X, ring_s: float = 5, talk_s: float = 60,
                      remote_hangs_up: bool = True) -> SimCall:
    c = seq.call(cid)
    ring(seq, c, at, caller=caller)
    seq.wait(ring_s)
    answer(seq, c, at, caller=caller)
    seq.wait(talk_s)
    if remote_hangs_up:
        clear(seq, c, caller, {at: "connected"})
    clear(seq, c, at, {at: "null"})
    return c


def incoming_missed(seq: Sequence, *, cid: int = 0x0102, at: str = "100",
                    caller: str | DeviceId = X, ring_s: float = 20) -> SimCall:
    c = seq.call(cid)
    ring(seq, c, at, caller=caller)
    seq.wait(ring_s)
    clear(seq, c, caller, {at: "alerting"})
    clear(seq, c, at, {at: "null"})
    return c


def incoming_busy(seq: Sequence, *, cid: int = 0x0103, at: str = "100",
                  caller: str | DeviceId = X) -> SimCall:
    c = seq.call(cid)
    seq.emit(FailedEvent, c, at, {at: "fail"}, failing_device=dev(at), calling_device=dev(caller),
             called_device=dev(at), associated_calling_device=dev(TRUNK), cause="busy")
    seq.wait(1)
    clear(seq, c, at, {at: "null"}, cause="busy")
    return c


def outgoing(seq: Sequence, *, cid: int = 0x0104, caller: str = "100", called: str = Y,
             answered: bool = True, ring_s: float = 8, talk_s: float = 30,
             failure: str | None = None) -> SimCall:
    """`failure`: a failed cause (busy, number_unallocated, ...) instead of ringing out."""
    c = seq.call(cid)
    dial(seq, c, caller, called)
    seq.wait(2)
    seq.emit(NetworkReachedEvent, c, TRUNK, {caller: "connected"},
             network_interface_used=dev(TRUNK), calling_device=dev(caller),
             called_device=dev(called), cause="normal")
    if failure is not None:
        seq.wait(1)
        seq.emit(FailedEvent, c, TRUNK, {caller: "connected"}, failing_device=dev(called),
                 calling_device=dev(caller), called_device=dev(called), cause=failure)
        seq.wait(2)
        clear(seq, c, caller, {caller: "null"}, cause=failure)
        return c
    seq.wait(ring_s)
    if answered:
        seq.emit(EstablishedEvent, c, TRUNK, {caller: "connected"}, answering_device=dev(called),
                 calling_device=dev(caller), called_device=dev(called), cause="new_call")
        seq.wait(talk_s)
        clear(seq, c, called, {caller: "connected"})
    clear(seq, c, caller, {caller: "null"})
    return c


def internal(seq: Sequence, *, cid: int = 0x0105, caller: str = "100", callee: str = "101",
             answered: bool = True, first_to_hang_up: str | None = None,
             ring_s: float = 4, talk_s: float = 20) -> SimCall:
    c = seq.call(cid)
    dial(seq, c, caller, callee)
    seq.wait(1)
    ring(seq, c, callee, caller=caller, trunk=None,
         seen_by={caller: "connected", callee: "alerting"})
    seq.wait(ring_s)
    if answered:
        answer(seq, c, callee, caller=caller, trunk=None,
               seen_by={caller: "connected", callee: "connected"})
        seq.wait(talk_s)
        first = first_to_hang_up or caller
        other = callee if first == caller else caller
        clear(seq, c, first, {first: "null", other: "connected"})
        clear(seq, c, other, {other: "null"})
    else:
        clear(seq, c, caller, {caller: "null", callee: "alerting"})
        clear(seq, c, callee, {callee: "null"})
    return c


def consult_and_transfer(seq: Sequence, c1: SimCall, *, holder: str, target: str,
                         cid2: int, caller: str | DeviceId = X,
                         also_in_c1: Mapping[str, str] | None = None) -> SimCall:
    """`holder` (connected to `caller` in c1) consults `target` on a new call and transfers."""
    seq.emit(HeldEvent, c1, holder, {holder: "hold", **(also_in_c1 or {})},
             holding_device=dev(holder), cause="consultation")
    c2 = seq.call(cid2)
    seq.wait(1)
    dial(seq, c2, holder, target)
    seq.wait(1)
    ring(seq, c2, target, caller=holder, trunk=None,
         seen_by={holder: "connected", target: "alerting"})
    seq.wait(3)
    answer(seq, c2, target, caller=holder, trunk=None,
           seen_by={holder: "connected", target: "connected"})
    seq.wait(10)
    seq.emit(TransferredEvent, c1, holder, {holder: "null", target: "connected"},
             secondary_old_call=c2.conn(holder), transferring_device=dev(holder),
             transferred_to_device=dev(target),
             transferred_connections=(
                 ConnectionChange(c1.conn(caller), c1.conn(caller), dev(caller)),
                 ConnectionChange(c1.conn(target), c2.conn(target), dev(target)),
             ), cause="transfer")
    return c2


def transfer(seq: Sequence, *, cid1: int = 0x0201, cid2: int = 0x0202, at: str = "100",
             target: str = "101", caller: str | DeviceId = X,
             talk_s: float = 40) -> tuple[SimCall, SimCall]:
    """X calls 100, 100 answers, consults 101 and transfers X to 101; X and 101 talk, X hangs up."""
    c1 = seq.call(cid1)
    ring(seq, c1, at, caller=caller)
    seq.wait(3)
    answer(seq, c1, at, caller=caller)
    seq.wait(15)
    c2 = consult_and_transfer(seq, c1, holder=at, target=target, cid2=cid2, caller=caller)
    seq.wait(talk_s)
    clear(seq, c1, caller, {target: "connected"})
    clear(seq, c1, target, {target: "null"})
    return c1, c2


def transfer_chain(seq: Sequence, *, caller: str | DeviceId = X) -> tuple[SimCall, ...]:
    """X -> 100 (answers), transferred to 101, which transfers to 102; X hangs up at 102."""
    c1 = seq.call(0x0301)
    ring(seq, c1, "100", caller=caller)
    seq.wait(2)
    answer(seq, c1, "100", caller=caller)
    seq.wait(10)
    c2 = consult_and_transfer(seq, c1, holder="100", target="101", cid2=0x0302, caller=caller)
    seq.wait(20)
    c3 = consult_and_transfer(seq, c1, holder="101", target="102", cid2=0x0303, caller=caller)
    seq.wait(30)
    clear(seq, c1, caller, {"102": "connected"})
    clear(seq, c1, "102", {"102": "null"})
    return c1, c2, c3


def deflect(seq: Sequence, *, cid: int = 0x0401, at: str = "100", to: str = "102",
            caller: str | DeviceId = X, answered: bool = True,
            cause: str = "redirected") -> SimCall:
    """X calls 100, which sends it on to 102 (deflect, or no-answer forwarding)."""
    c = seq.call(cid)
    ring(seq, c, at, caller=caller)
    seq.wait(4)
    seq.emit(DivertedEvent, c, at, {at: "null"}, diverting_device=dev(at),
             new_destination=dev(to), calling_device=dev(caller), called_device=dev(at),
             last_redirection_device=dev(at), cause=cause)
    ring(seq, c, to, caller=caller, called=at, seen_by={to: "alerting"}, cause="redirected",
         last_redirection=at)
    seq.wait(3)
    if answered:
        answer(seq, c, to, caller=caller, called=at)
        seq.wait(25)
        clear(seq, c, caller, {to: "connected"})
    else:
        seq.wait(15)
        clear(seq, c, caller, {to: "alerting"})
    clear(seq, c, to, {to: "null"})
    return c


def pickup(seq: Sequence, *, cid: int = 0x0501, at: str = "100", by: str = "101",
           caller: str | DeviceId = X) -> SimCall:
    """X calls 100, 101 picks it up; X hangs up later."""
    c = seq.call(cid)
    ring(seq, c, at, caller=caller)
    seq.wait(6)
    answer(seq, c, by, caller=caller, called=at, seen_by={at: "null", by: "connected"},
           cause="call_pickup")
    seq.wait(30)
    clear(seq, c, caller, {by: "connected"})
    clear(seq, c, by, {by: "null"})
    return c


def conference(seq: Sequence, *, cid1: int = 0x0601, cid2: int = 0x0602, at: str = "100",
               added: str = "101", caller: str | DeviceId = X) -> tuple[SimCall, SimCall]:
    """100 (in a call with X) consults 101 and makes a conference; everyone hangs up later."""
    c1 = seq.call(cid1)
    ring(seq, c1, at, caller=caller)
    seq.wait(2)
    answer(seq, c1, at, caller=caller)
    seq.wait(10)
    seq.emit(HeldEvent, c1, at, {at: "hold"}, holding_device=dev(at), cause="consultation")
    c2 = seq.call(cid2)
    dial(seq, c2, at, added)
    ring(seq, c2, added, caller=at, trunk=None, seen_by={at: "connected", added: "alerting"})
    seq.wait(2)
    answer(seq, c2, added, caller=at, trunk=None, seen_by={at: "connected", added: "connected"})
    seq.wait(5)
    seq.emit(ConferencedEvent, c1, at, {at: "connected", added: "connected"},
             secondary_old_call=c2.conn(at), conferencing_device=dev(at), added_party=dev(added),
             conference_connections=(
                 ConnectionChange(c1.conn(caller), c1.conn(caller), dev(caller)),
                 ConnectionChange(c1.conn(added), c2.conn(added), dev(added)),
             ), cause="conference")
    seq.wait(30)
    clear(seq, c1, caller, {at: "connected", added: "connected"})
    clear(seq, c1, added, {at: "connected", added: "null"})
    clear(seq, c1, at, {at: "null"})
    return c1, c2


def restricted_caller(seq: Sequence, **kw: Any) -> SimCall:
    return incoming_answered(seq, caller=RESTRICTED, **kw)
