"""Turns the CSTA events of all monitors into call records (`Call`): one record per call.

The tracker is pure and synchronous: events in, changed `Call` values out, no I/O, no Qt.
The contract it implements is `docs/event-sequences.md`.

How the recorder (which owns the history store) uses it:

- `feed(monitored_device, event, received_at)` returns the records that changed; upsert each
  by `Call.key`.
- `drain_deleted()` returns keys of records that must disappear: consultation calls absorbed
  by a transfer or a conference.  A key returned there is never returned by `feed` again.
- `drain_resolved()` returns `(remote_number, at)` pairs: a later call with that remote party
  was answered or placed at `at`, so older missed calls from that number are dealt with
  (`store.mark_done_for_remote(number, before=at)`).  Missed calls still in the tracker's own
  memory are also returned by `feed` with `done=True`.
- `link_lost(at)` when the CSTA link drops; `set_monitored(devices)` when the set of monitored
  devices changes; `snapshot(device, calls, at)` with the calls at a device right after its
  monitor was started or restored (the client's MonitorSnapshot).
- `resume(calls, at)` at the start, with the stored calls whose end was not seen because the
  recording stopped: their events, or a snapshot listing them, continue them.

Keys: `g:<global call id hex>:<first seen>` when the PBX sends a global call id, else
`c:<call id hex>:<first seen>`, where <first seen> is the UTC receive time of the first event
of the call (`YYYYmmddTHHMMSS.ffffffZ`).  The first-seen part is there because HiPath's global
call id ends with the 2-byte call id and it is unverified whether its other 14 bytes make it
unique over weeks; with it, a call id (or global id) that comes back after the tracker has
forgotten the old call is a new call.  While the tracker remembers a call (live, closed by a
link loss, or recently finished), every event carrying its global call id (or its call id,
for events without one) maps to that same key.

A transfer or conference may give a call a new global call id (HiPath's Transferred event
does: protocol facts §6): a Transferred / Conferenced event is found through its primary old
call, thread id or old global call id, and the new global call id becomes an alias of the
record, so later events with either id (or none) find it; a record first made from such an
event is keyed by the thread id when that, not the new id, ends with the call id.

Consultations: a call one of ours placed while holding another is a consultation of it; the
held call gets a "consulted" hop (who, whom), the consultation a first hop "consultation"
(who; the held call's other party), so that its row, if no transfer absorbs it, says what it
was.

Bounds: at most `live_limit` live calls (beyond, the ones with the oldest news are closed as
`end_unknown` with an "overflow" hop, counted in `overflow_count`); a live call without an
event for `stale_after` is closed the same way with a "stale" hop (`stale_count`).

When a call ends: when none of our monitored devices is in it any more (each monitor's local
connection state, and what the events say about our devices).  `ended_at` is then the end
*for us*: for a call picked up elsewhere, diverted or transferred away from our devices, the
moment it left them.  A call whose end was not seen (link loss, a lost clear) gets
`end_unknown=True` and no `ended_at`.

Decisions on the record's fields:
- outcome, first match wins: transferred (a transfer happened; `transferred_to` is the LAST
  target, where the caller ended up; every transfer is a hop) > answered (at one of ours; or
  our own outgoing/internal call answered by the other side, `answered_by` is then that
  side) > answered_elsewhere (a device not ours answered after it rang at ours) > diverted
  (it left our devices by a diversion; a call diverted to one of ours that then goes
  unanswered is MISSED, not diverted) > busy/failed (a failed event before it rang at ours)
  > missed (ended unanswered after ringing at ours, or any unanswered incoming call) >
  abandoned (our own call, ended unanswered).  Live: in_progress; link lost: unknown unless
  one of the above was already a fact.  A call part of whose life went by unseen — continued
  after a link loss, under way before its monitor started (`snapshot()`), or with a
  call-control event that could not be decoded (an `UndecodableEvent`: an "undecodable" hop)
  — is unknown once it ends, whatever was seen of it (that stays in its fields and hops).
  An undecodable event of a call the tracker does not know makes no record.
- `answered_at` is when one of ours answered (or, for our own call, when the other side
  did).  For answered_elsewhere it stays empty: we do not know how long they talked.
  `answered_by` is the first of ours to answer; seen only from a transfer (or conference)
  target, that is the target, which answered the consultation (as the simulator's views).
- remote party: incoming, the caller; outgoing, the number dialled; internal, the callee
  when the caller is one of ours, else the caller.
- A call that never got further than a lifted handset (service_initiated, then a clear) has
  no record.
- Missed calls are settled by a later call with the same party that is answered at one of
  ours (answered elsewhere does not count) or placed by one of ours; a consultation call
  (placed while its caller holds another call) settles nothing unless it ends on its own.
"""

from __future__ import annotations

import heapq
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.csta.events import (
    NOT_KNOWN,
    RESTRICTED,
    BridgedEvent,
    CallClearedEvent,
    CallEvent,
    ConferencedEvent,
    ConnectionClearedEvent,
    CstaEvent,
    DeliveredEvent,
    DeviceId,
    DigitsDialedEvent,
    DivertedEvent,
    EstablishedEvent,
    FailedEvent,
    HeldEvent,
    NetworkCapabilitiesChangedEvent,
    NetworkReachedEvent,
    OfferedEvent,
    OriginatedEvent,
    QueuedEvent,
    RetrievedEvent,
    ServiceInitiatedEvent,
    SnapshotCall,
    TransferredEvent,
    UndecodableEvent,
)

__all__ = ["LIVE_LIMIT", "CallTracker"]

log = logging.getLogger(__name__)

#: Most live calls the tracker follows (each costs a few KB).  An office has tens at once; a
#: PBX whose calls never end (ends not sent, a flood of Delivered events) would otherwise
#: grow the memory for `stale_after` (12 h).
LIVE_LIMIT = 2000

#: ECMA-269 local connection state meaning "this device is no longer in the call".
_GONE = "null"
#: Failed causes that make the outcome BUSY rather than FAILED.
_BUSY_CAUSES = frozenset({"busy"})
#: Causes with which a call begins; a delivered/failed with another cause (redirected,
#: transfer, ...) is a later leg of a call that already exists.
_START_CAUSES = frozenset({None, "new_call", "make_call", "make_predictive_call"})
#: Outcomes that are facts even when the end of the call was not seen.
_PROVISIONAL = frozenset({Outcome.IN_PROGRESS, Outcome.UNKNOWN})

#: Fields that differ between the copies of one event sent to each monitor (or resent).
_PER_MONITOR = frozenset({"cross_ref_id", "local_connection_state", "timestamp", "private_data"})
#: Event class -> the names of its other fields (what `_fingerprint` compares).
_FP_FIELDS: dict[type, tuple[str, ...]] = {}

# Where a record is in its life.
_LIVE, _ORPHAN, _FINISHED, _ABSORBED = "live", "orphan", "finished", "absorbed"


#: The events that name the call's calling / called / associated devices.
_PartyEvent = (
    DeliveredEvent
    | EstablishedEvent
    | FailedEvent
    | DivertedEvent
    | OfferedEvent
    | QueuedEvent
    | NetworkReachedEvent
    | OriginatedEvent
    | ServiceInitiatedEvent
    | DigitsDialedEvent
    | NetworkCapabilitiesChangedEvent
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _as_utc(t: datetime) -> datetime:
    # A naive datetime is taken as UTC: the tracker's inputs are receive times, which the
    # client stamps in UTC; the PBX's own (naive, local) timestamps are never used as times.
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _num(dev: DeviceId | None) -> str | None:
    """The number of a device, or None when the PBX did not name it with one."""
    if dev is None or dev.kind != "number" or not dev.number:
        return None
    return dev.number


def _kind(dev: DeviceId | None) -> str:
    """`Call.remote_kind` for a device: number, restricted or not_known."""
    if dev is None:
        return "not_known"
    if dev.kind == "number" and dev.number:
        return "number"
    if dev.kind == "restricted":
        return "restricted"
    return "not_known"


def _ids_of_key(key: str) -> tuple[bytes | None, bytes | None] | None:
    """(global call id, call id) from a record key (see the module doc); None if unreadable."""
    kind, _, rest = key.partition(":")
    hexpart = rest.partition(":")[0]
    try:
        value = bytes.fromhex(hexpart)
    except ValueError:
        return None
    if not value:
        return None
    if kind == "g":
        return value, None
    if kind == "c":
        return None, value
    return None


def _last_news(rec: _Record) -> datetime:
    return rec.last_at


def _is_start(event: CallEvent) -> bool:
    """Whether an event can only be the beginning of a call (never a late event of an old one)."""
    if isinstance(event, (ServiceInitiatedEvent, OriginatedEvent)):
        return True
    if isinstance(event, (DeliveredEvent, FailedEvent, OfferedEvent)):
        return event.cause in _START_CAUSES
    return False


@dataclass(eq=False)
class _Record:
    """The tracker's mutable working state for one call (never leaves this module)."""

    key: str
    gid: bytes | None
    first_at: datetime
    last_at: datetime
    state: str = _LIVE
    cids: set[bytes] = field(default_factory=set)
    # Other global call ids of the call: the new ones a transfer or conference gave it.
    aliases: tuple[bytes, ...] = ()
    # What the events told us about the parties.
    calling: DeviceId | None = None
    called: DeviceId | None = None
    trunk: str | None = None
    trunk_in: bool = False  # arrived over a trunk (associated calling device)
    originator: str | None = None  # the monitored device that placed the call
    presence: dict[str, str] = field(default_factory=dict)  # monitored device -> its state
    local_devices: list[str] = field(default_factory=list)
    rang_local: bool = False  # alerted at a monitored device (not the caller)
    answered_by: str | None = None  # first answer at a monitored device
    answered_at: datetime | None = None
    other_answer: str | None = None  # first answer at a device that is not ours
    other_answer_at: datetime | None = None
    transferred_to: str | None = None  # the last transfer target
    diverted_to: str | None = None  # the last diversion target
    failed_cause: str | None = None
    left_via: str | None = None  # name of the event after which none of ours was in
    ended_at: datetime | None = None
    end_unknown: bool = False
    lost_at: datetime | None = None  # when the link dropped while the call was live
    # Honesty about what was not seen (the outcome of such a call is unknown once it ends):
    gap: bool = False  # went on after a link loss: events in between unseen
    partial: bool = False  # under way before a monitor could see it began
    from_start: bool = False  # first seen through an event that begins a call
    materialised: bool = False  # has something worth a history row
    consult_checked: bool = False  # asked whether it is a consultation (once)
    consultation: bool = False  # placed while its caller held another call
    hops: list[Hop] = field(default_factory=list)
    done: bool = False
    resolved: bool = False  # its "missed calls from this number are done" was sent
    # Duplicate detection: event fingerprint (event without the per-monitor fields) -> times.
    seen: dict[tuple[object, ...], list[tuple[datetime | None, datetime]]] = field(
        default_factory=dict
    )
    last_core: Call | None = None  # last emitted value without updated_at
    emitted: bool = False


class CallTracker:
    """Builds `Call` records from the events of every monitored device.  See the module doc."""

    def __init__(
        self,
        monitored: Iterable[str] = (),
        clock: Callable[[], datetime] = _utc_now,
        *,
        internal_max_length: int = 4,
        number_key: Callable[[str], str] | None = None,
        duplicate_window: timedelta = timedelta(seconds=2),
        recent_window: timedelta = timedelta(minutes=15),
        resume_window: timedelta = timedelta(hours=1),
        stale_after: timedelta = timedelta(hours=12),
        memory_limit: int = 1000,
        live_limit: int = LIVE_LIMIT,
        strict: bool = False,
        snapshots: bool = False,
    ) -> None:
        """
        `internal_max_length`: numbers with at most this many digits are internal devices.
        `number_key`: how remote numbers are compared for marking missed calls done
        (e.g. the phonebook's normaliser); exact comparison by default.
        `duplicate_window`: two copies of an event (from two monitors, or delivered twice)
        within this time are one event.  `recent_window`: how long a finished call is
        remembered to absorb late or duplicate events.  `resume_window`: how long a call closed
        by a link loss can still be continued by its events.  `stale_after`: a live call that
        received no event for this long is closed as `end_unknown` (its end was lost; this
        bounds memory).  `memory_limit`: most finished calls remembered.  `live_limit`: most
        live calls followed; beyond, those with the oldest news are closed as `end_unknown`
        with an "overflow" hop (counted: `overflow_count`; logged at the first and every
        thousandth).  `strict`: re-raise
        internal errors instead of logging them (for tests).  `snapshots`: the client sends a
        snapshot after every monitor start and restore (MonitorSnapshot); until a device's has
        come (at the start, and after each link loss), an event of a call the tracker does not
        know, from that device, is of a call under way before the monitor could see it.
        """
        self._configured: frozenset[str] = frozenset(monitored)
        # Devices whose monitors delivered events: monitored by definition, even when the
        # recorder has not told us (yet).
        self._reporters: set[str] = set()
        self._clock = clock
        self._internal_max_length = internal_max_length
        self._number_key = number_key or (lambda n: n)
        self._duplicate_window = duplicate_window
        self._recent_window = recent_window
        self._resume_window = resume_window
        self._stale_after = stale_after
        self._memory_limit = memory_limit
        if live_limit < 1:
            raise ValueError("live_limit must be at least 1")
        self._live_limit = live_limit
        self._overflow_count = 0
        self._stale_count = 0
        self._strict = strict
        self._live: dict[str, _Record] = {}
        self._memory: OrderedDict[str, _Record] = OrderedDict()  # orphan/finished/absorbed
        self._by_gid: dict[bytes, str] = {}
        self._by_cid: dict[bytes, str] = {}
        # Call ids named as the consultation call of a transfer/conference we had not seen:
        # later events of them are parts of that transfer, not calls of their own.
        self._absorbed_cids: OrderedDict[bytes, datetime] = OrderedDict()
        # number key -> latest time a call with that remote party was answered or placed.
        self._resolutions: OrderedDict[str, datetime] = OrderedDict()
        self._deleted: list[str] = []
        self._resolved: list[tuple[str, datetime]] = []
        self._last_sweep: datetime | None = None
        # Devices whose snapshot is still to come (see `snapshots`).
        self._snapshots = snapshots
        self._awaiting: set[str] = set(self._configured) if snapshots else set()
        self._monitored: frozenset[str] = self._configured
        self._monitored_n = 0
        self._monitored_of = self._configured
        # Finished missed calls not yet done, by the number key of their remote party: a call
        # answered or placed settles the ones of its party without a scan of the memory (the
        # scan was 77 % of the cost of an event with 1000 calls remembered).  Entries are
        # checked again when used; rebuilt from the memory when keys may read differently.
        self._missed: dict[str, dict[str, _Record]] = {}
        self._missed_key: dict[str, str] = {}  # record key -> its key in `_missed`
        self._missed_stale = False
        self._fp_event: CallEvent | None = None
        self._fp: tuple[object, ...] = ()

    # Public API ------------------------------------------------------------------------

    @property
    def monitored(self) -> frozenset[str]:
        # Asked several times per event (directions, `is_internal`): the union is cached and
        # rebuilt when it changes.  `_reporters` only grows (`set_monitored` replaces both sets),
        # so its size and the identity of `_configured` tell when.
        if len(self._reporters) != self._monitored_n or self._configured is not self._monitored_of:
            monitored = self._configured | self._reporters
            if monitored != self._monitored:
                self._missed_stale = True  # directions, so remote parties, may read otherwise
            self._monitored = monitored
            self._monitored_n = len(self._reporters)
            self._monitored_of = self._configured
        return self._monitored

    def set_monitored(self, devices: Iterable[str], at: datetime | None = None) -> list[Call]:
        """The devices monitored from now on.  Returns calls closed because of the change.

        A live call in which only devices that are no longer monitored remain would never
        see its end: it is closed now as `end_unknown`, like on a link loss.
        """
        old = self.monitored
        self._configured = frozenset(devices)
        self._reporters = set()
        if self._snapshots:
            self._awaiting |= self._configured - old  # their monitors are about to start
        now = _as_utc(at) if at is not None else _as_utc(self._clock())
        out: dict[str, Call] = {}
        for rec in list(self._live.values()):
            present = [d for d, s in rec.presence.items() if s != _GONE]
            if present and not any(d in self._configured for d in present):
                self._orphan(rec, now, out)
        return list(out.values())

    def feed(
        self, monitored_device: str, event: CstaEvent, received_at: datetime | None = None
    ) -> list[Call]:
        """Takes one event as delivered by the monitor of `monitored_device`.

        Returns the records that changed (new or updated), at most one value per key.
        Never raises on any sequence of events.
        """
        try:
            return self._feed(monitored_device, event, received_at)
        except Exception:
            # A bug here must not take the application down with it: the event is lost,
            # the tracker's other calls go on.
            if self._strict:
                raise
            log.exception(
                "call tracker failed on %s from %s",
                getattr(event, "name", type(event).__name__),
                monitored_device,
            )
            return []

    def link_lost(self, at: datetime) -> list[Call]:
        """The link dropped: every call in progress is closed with `end_unknown`.

        The outcome becomes `unknown` unless something final was already known (answered,
        transferred, ...); `ended_at` stays empty: the end was not seen.  Events of such a
        call that arrive after the reconnect (within `resume_window`) continue the record.
        """
        at = _as_utc(at)
        out: dict[str, Call] = {}
        for rec in list(self._live.values()):
            self._orphan(rec, at, out)
        if self._snapshots:
            self._awaiting = set(self.monitored)
        return list(out.values())

    def snapshot(
        self, device: str, calls: Iterable[SnapshotCall] | None, at: datetime | None = None
    ) -> list[Call]:
        """The calls at `device` right after its monitor was started or restored (the
        client's MonitorSnapshot), taken after the events received so far.  Returns the
        records that changed.

        A listed call whose beginning the events did not show (no record; or a record begun
        by a later event such as an answer) was under way before the monitor could see it:
        its record is marked so (outcome unknown once it ends), and made if there is none, so
        that the call is not lost.  A listed call closed by a link loss (or finished) went on
        while the link was down: it is continued, with that gap marked.  `calls` None (the PBX
        gave no snapshot) changes nothing.
        """
        try:
            return self._snapshot_device(device, calls, at)
        except Exception:
            if self._strict:
                raise
            log.exception("call tracker failed on the snapshot of %s", device)
            return []

    def _snapshot_device(
        self, device: str, calls: Iterable[SnapshotCall] | None, at: datetime | None
    ) -> list[Call]:
        at = _as_utc(at) if at is not None else _as_utc(self._clock())
        out: dict[str, Call] = {}
        self._sweep(at, out)
        self._reporters.add(device)
        self._awaiting.discard(device)
        for item in calls or ():
            gid, cid = item.global_call_id, item.call_id
            state = item.state or "unknown"
            if (gid is None and cid is None) or state == _GONE:
                continue
            rec = self._find_ids(gid, cid, False)
            if rec is not None and rec.state == _ABSORBED:
                continue
            if rec is not None and gid is not None and gid != rec.gid and gid not in self._by_gid:
                if rec.gid is None:
                    rec.gid = gid
                    self._by_gid[gid] = rec.key
                else:
                    self._alias_gid(rec, gid)
            if rec is None:
                rec = self._create_ids(gid, cid, at)
                self._under_way(rec, device, at, state)
            elif rec.state == _LIVE:
                if not (rec.from_start or rec.gap):
                    rec.partial = True  # begun by a later event: its beginning was not seen
            else:
                # Closed by a link loss, or finished for us: it went on unseen.
                self._reopen(rec, gap=True)
                rec.hops.append(Hop("under_way", device, max(at, rec.last_at), state))
            rec.last_at = max(at, rec.last_at)
            if device not in rec.presence or rec.presence[device] == "unknown":
                self._set_presence(rec, device, state)
            self._emit(rec, at, out)
        if len(self._live) > self._live_limit:
            self._bound_live(at, out, None)
        return list(out.values())

    @property
    def resume_window(self) -> timedelta:
        """How long a call whose end was not seen can still be continued by its events."""
        return self._resume_window

    def resume(self, calls: Iterable[Call], at: datetime | None = None) -> int:
        """Calls of the history whose end was not seen because the recorder stopped (settled
        as `end_unknown` by a previous run, or at this start): remembered like calls closed
        by a link loss, so that their events, or a snapshot listing them, continue them (with
        the gap marked: their outcome is unknown once they end).  Calls last updated longer
        ago than `resume_window`, or whose key carries no call id, are left alone.  Returns
        how many were taken."""
        now = _as_utc(at) if at is not None else _as_utc(self._clock())
        taken = 0
        for call in calls:
            ids = _ids_of_key(call.key)
            last = _as_utc(call.updated_at or call.started_at)
            if (
                ids is None
                or now - last > self._resume_window
                or call.ended_at is not None
                or call.key in self._live
                or call.key in self._memory
            ):
                continue
            gid, cid = ids
            if gid is not None and cid is None and len(gid) == 16:
                # HiPath's 16-byte global call id ends with the call id (hipath-csta.md), so
                # a snapshot that lists the call without its global id still finds it.
                cid = gid[-2:]
            if (gid is not None and gid in self._by_gid) or (
                cid is not None and cid in self._by_cid
            ):
                continue  # a call with these ids is known already: events go to that one
            rec = self._record_of(call, gid, cid, now)
            self._remember(rec)
            if gid is not None:
                self._by_gid[gid] = rec.key
            if cid is not None:
                self._by_cid[cid] = rec.key
            taken += 1
        return taken

    def _record_of(
        self, call: Call, gid: bytes | None, cid: bytes | None, now: datetime
    ) -> _Record:
        """A working record for a stored call (see `resume`): what the row says of its
        parties, put back the way the events would have said it."""
        first = _as_utc(call.started_at)
        rec = _Record(
            key=call.key,
            gid=gid,
            first_at=first,
            last_at=max(first, _as_utc(call.updated_at or first)),
            state=_ORPHAN,
            cids={cid} if cid is not None else set(),
            end_unknown=True,
            lost_at=now,
            gap=True,
            materialised=True,
            emitted=True,
            hops=list(call.hops),
            local_devices=list(call.local_devices),
            trunk=call.trunk,
            transferred_to=call.transferred_to,
            diverted_to=call.diverted_to,
        )
        remote = (
            DeviceId.of(call.remote_number)
            if call.remote_number
            else RESTRICTED
            if call.remote_kind == "restricted"
            else NOT_KNOWN
        )
        called = DeviceId.of(call.called_number) if call.called_number else None
        placed = next((h.device for h in call.hops if h.kind == "originated"), None)
        if call.direction is Direction.INCOMING:
            rec.calling, rec.called, rec.trunk_in = remote, called, call.trunk is not None
        elif call.direction in (Direction.OUTGOING, Direction.INTERNAL) and (
            placed is not None or call.direction is Direction.OUTGOING
        ):
            rec.originator = placed or (call.local_devices[0] if call.local_devices else None)
            rec.calling = DeviceId.of(rec.originator) if rec.originator else None
            rec.called = remote
        elif call.direction is Direction.INTERNAL:
            rec.calling, rec.called = remote, called
        else:
            rec.partial = True  # direction unknown: no event said who called whom
        if call.answered_by is not None:
            if call.answered_by in call.local_devices:
                rec.answered_by, rec.answered_at = call.answered_by, call.answered_at
            else:
                rec.other_answer = call.answered_by
                rec.other_answer_at = call.answered_at
        rec.rang_local = any(
            h.kind == "delivered" and h.device in call.local_devices and h.device != rec.originator
            for h in call.hops
        )
        rec.last_core = self._snapshot(rec)
        return rec

    def drain_deleted(self) -> list[str]:
        """Keys of records absorbed since the last call (consultation calls): delete them."""
        keys, self._deleted = self._deleted, []
        return keys

    def drain_resolved(self) -> list[tuple[str, datetime]]:
        """(remote number, time) pairs since the last call: missed calls from that number
        that started before that time are done (a later call was answered or placed)."""
        pairs, self._resolved = self._resolved, []
        return pairs

    def key_of(self, event: CstaEvent) -> str | None:
        """The key of the record a call event (already fed) belongs to; None if none."""
        if not isinstance(event, CallEvent):
            return None
        rec = self._find(event)
        return None if rec is None else rec.key

    def set_numbering(
        self, *, internal_max_length: int, number_key: Callable[[str], str] | None = None
    ) -> None:
        """Another numbering plan from now on (the settings changed)."""
        self._internal_max_length = internal_max_length
        self._number_key = number_key or (lambda n: n)
        self._missed_stale = True

    def live_calls(self) -> list[Call]:
        """Calls in progress that have a record (e.g. for a popup after a restart of the UI)."""
        calls = (self._snapshot(r) for r in self._live.values())
        return [c for c in calls if c is not None]

    @property
    def overflow_count(self) -> int:
        """Live calls settled as ended unseen because more than `live_limit` were live."""
        return self._overflow_count

    @property
    def stale_count(self) -> int:
        """Live calls settled as ended unseen after `stale_after` without an event."""
        return self._stale_count

    def _monitored_with(self, device: str) -> frozenset[str]:
        monitored = self.monitored
        return monitored if device in monitored else monitored | {device}

    def is_internal(self, number: str | None) -> bool:
        """A monitored device, or a number short enough to be an extension."""
        if number is None:
            return False
        if number in self.monitored:
            return True
        return number.isdigit() and len(number) <= self._internal_max_length

    # Feeding ---------------------------------------------------------------------------

    def _feed(self, device: str, event: CstaEvent, received_at: datetime | None) -> list[Call]:
        at = _as_utc(received_at) if received_at is not None else _as_utc(self._clock())
        out: dict[str, Call] = {}
        self._sweep(at, out)
        if isinstance(event, UndecodableEvent):
            self._feed_undecodable(device, event, at, out)
            return list(out.values())
        if not isinstance(event, CallEvent):
            # Hookswitch, do-not-disturb, forwarding, unknown: not about a call.
            return list(out.values())
        self._reporters.add(device)
        if event.call_id is None and event.global_call_id is None:
            # Nothing to tell which call it is about.
            return list(out.values())

        if isinstance(event, (TransferredEvent, ConferencedEvent)):
            self._feed_merge(device, event, at, out)
            return list(out.values())

        rec = self._find(event)
        if rec is None:
            unseen = device in self._awaiting and not _is_start(event)
            if not self._can_create(event) and not unseen:
                # A clear, hold, ... of a call we never saw: nothing honest to record (no
                # start, no parties), so it is ignored rather than made into an empty row.
                # (Before the device's snapshot, it is a call that was under way: below.)
                return list(out.values())
            # A Failed event starts a call of its own (a busy call): call ids restart with the
            # PBX, so one equal to an absorbed consultation's must not swallow it (the soak
            # lost every such busy call after a simulator restart).
            if (
                event.call_id is not None
                and not _is_start(event)
                and not isinstance(event, FailedEvent)
                and self._is_absorbed_cid(event.call_id, at)
            ):
                # A late event of a consultation that a transfer named but we never saw.
                # (A start event with that call id is a new call: call ids get reused.)
                return list(out.values())
            rec = self._create(event, at)
            rec.from_start = _is_start(event)
            if unseen:
                # Under way before the monitor could see it (its snapshot is still to come):
                # kept, so that it is not lost, with its beginning marked as unseen.
                self._under_way(rec, device, at, None)
        elif not self._admit(rec, device, event, at):
            return list(out.values())

        self._apply(rec, device, event, at)
        self._after(rec, event, at, out)
        if len(self._live) > self._live_limit:
            self._bound_live(at, out, rec)
        return list(out.values())

    def _feed_undecodable(
        self, device: str, event: UndecodableEvent, at: datetime, out: dict[str, Call]
    ) -> None:
        """A call-control event that could not be decoded, of a call we know: something
        happened to the call that we cannot read (a transfer, an answer, ...), so how it went
        is not known, as for a call part of whose life went by unseen.  The call keeps what
        was seen and gets a hop saying what could not be read.  A call we do not know is not
        made up from it."""
        if event.category != "callControlEvents" or event.call_id is None:
            return
        rec = self._find_ids(None, event.call_id, False)
        if rec is None or rec.state == _ABSORBED:
            return
        at = max(at, rec.last_at)
        what = event.event_type or f"tag {event.tag}"
        last = rec.hops[-1] if rec.hops else None
        if (
            last is not None
            and last.kind == "undecodable"
            and last.detail == what
            and at - last.at <= self._duplicate_window
        ):
            return  # the same event from another monitor
        rec.last_at = at
        rec.gap = True
        rec.materialised = True
        device_named = event.connection.device if event.connection is not None else None
        rec.hops.append(Hop("undecodable", _num(device_named) or device, at, what))
        lcs = event.local_connection_state
        if rec.state == _LIVE and lcs is not None:
            # The monitor's own state could be read: it still says whether our device is in.
            self._set_presence(rec, device, lcs)
            if all(state == _GONE for state in rec.presence.values()):
                rec.ended_at = at
                rec.left_via = event.name
                self._finish(rec)
        self._emit(rec, at, out)

    def _admit(self, rec: _Record, device: str, event: CallEvent, at: datetime) -> bool:
        """Whether an event of a remembered (not live) call is taken; revives the call if so."""
        if rec.state == _LIVE:
            return True
        if rec.state == _ABSORBED:
            # A late event of a consultation call that a transfer has swallowed.
            return False
        if self._is_duplicate(rec, event, at):
            # A late copy (second monitor, redelivery) of an event already taken.
            return False
        if rec.state == _ORPHAN:
            # The call lived on through the link loss: continue the same record.  Who is
            # still in it is unknown after the gap; the new events tell.
            self._reopen(rec, gap=True)
            return True
        # Finished: it takes only an event that brings one of our devices back into the
        # call (e.g. a call picked up elsewhere and transferred back to us).  Other late
        # events cannot change what our devices saw, and reopening on them would move the end.
        if not self._rejoins(device, event):
            return False
        self._reopen(rec, gap=False)
        return True

    def _feed_merge(
        self,
        device: str,
        event: TransferredEvent | ConferencedEvent,
        at: datetime,
        out: dict[str, Call],
    ) -> None:
        """Transferred / conferenced: the primary call continues, the secondary is absorbed.

        The event is found through its primary old call, not its global call id: HiPath's
        (protocol facts §6) carries a NEW global call id for the resulting call, unknown so
        far, with the surviving call's thread id; its old linkage is the consultation's.  So
        the primary is the record of one of the event's ids (new global id: a copy of the
        event for another monitor; thread id; old global id: the call's own before a
        single-step transfer) that is not the consultation, else the record of the primary's
        call id.  The new global id becomes the record's alias (in `_apply`): later events
        find it with either id, or with none (by call id)."""
        call_id = event.call_id
        secondary_cid = event.secondary_old_call.call_id if event.secondary_old_call else None
        if secondary_cid == call_id:
            secondary_cid = None
        changes = (
            event.transferred_connections
            if isinstance(event, TransferredEvent)
            else event.conference_connections
        )
        new_cids = {
            c.new_connection.call_id
            for c in changes
            if c.new_connection is not None and c.new_connection.call_id is not None
        }

        cand = None
        if secondary_cid is not None:
            cand = self._lookup(self._by_cid.get(secondary_cid))
        if cand is None and event.old_global_call_id is not None:
            cand = self._lookup(self._by_gid.get(event.old_global_call_id))
        if cand is not None and call_id is not None and call_id in cand.cids:
            cand = None  # the primary itself (its own old linkage: a single-step transfer)
        primary = None
        ids = (event.global_call_id, event.thread_id, event.old_global_call_id)
        for gid in ids:
            if gid is not None:
                rec = self._lookup(self._by_gid.get(gid))
                if rec is not None and rec is not cand:
                    primary = rec
                    break
        if primary is None and call_id is not None:
            rec = self._lookup(self._by_cid.get(call_id))
            if (
                rec is not None
                and rec is not cand
                and (
                    rec.state in (_LIVE, _ORPHAN) or rec.gid is None or all(i is None for i in ids)
                )
            ):
                # A live call id is the PBX's one call with it: the transfer gave it a new
                # global call id.  (A finished call with that call id and another global id
                # is another call: call ids get reused.)
                primary = rec
        secondary = None
        if cand is not None and cand is not primary and cand.state in (_LIVE, _ORPHAN):
            secondary = cand
        if primary is None:
            if call_id is None:
                return
            primary = self._create(event, at)
            if secondary is not None:
                self._inherit(primary, secondary)
        elif not self._admit(primary, device, event, at):
            return

        for cid in new_cids:
            self._alias_cid(primary, cid)
        if secondary is not None:
            self._absorb(secondary, at)
        if (
            secondary_cid is not None
            and secondary_cid not in new_cids
            and secondary_cid not in primary.cids
        ):
            self._absorbed_cids[secondary_cid] = at
            self._absorbed_cids.move_to_end(secondary_cid)
            while len(self._absorbed_cids) > self._memory_limit:
                self._absorbed_cids.popitem(last=False)

        self._apply(primary, device, event, at)
        self._after(primary, event, at, out)
        if len(self._live) > self._live_limit:
            self._bound_live(at, out, primary)

    # Finding and creating records ------------------------------------------------------------

    def _lookup(self, key: str | None) -> _Record | None:
        if key is None:
            return None
        return self._live.get(key) or self._memory.get(key)

    def _find(self, event: CallEvent) -> _Record | None:
        return self._find_ids(
            event.global_call_id, event.call_id, _is_start(event), event.thread_id
        )

    def _find_ids(
        self, gid: bytes | None, cid: bytes | None, start: bool, thread: bytes | None = None
    ) -> _Record | None:
        if gid is not None:
            rec = self._lookup(self._by_gid.get(gid))
            if rec is not None:
                return rec
        if cid is None:
            return None
        rec = self._lookup(self._by_cid.get(cid))
        if rec is None:
            return None
        if (
            gid is not None
            and rec.gid is not None
            and rec.gid != gid
            and not (thread is not None and (thread == rec.gid or thread in rec.aliases))
            and not (
                not start and rec.state != _FINISHED and rec.gid[-2:] == cid and gid[-2:] != cid
            )
        ):
            # Same 2-byte call id, another global id: another call -- unless the thread is
            # the call's, or (HiPath's global call ids end with the call id, protocol facts
            # §4) the call's id had that form and this one, not a new call's, does not: a
            # transfer we did not see (or a snapshot, which names no thread) gave the call
            # the new global call id.
            return None
        if rec.state == _LIVE:
            return rec
        if start:
            # An old call does not start again: the PBX has reused the call id.
            return None
        return rec

    @staticmethod
    def _can_create(event: CallEvent) -> bool:
        # Events that name the parties of a call.  A clear, hold or retrieve of a call
        # never seen says nothing about who called whom.
        return isinstance(
            event,
            (
                DeliveredEvent,
                EstablishedEvent,
                FailedEvent,
                DivertedEvent,
                OriginatedEvent,
                ServiceInitiatedEvent,
                NetworkReachedEvent,
                OfferedEvent,
                QueuedEvent,
                TransferredEvent,
                ConferencedEvent,
            ),
        )

    def _is_absorbed_cid(self, cid: bytes, at: datetime) -> bool:
        when = self._absorbed_cids.get(cid)
        return when is not None and at - when <= self._recent_window

    def _create(self, event: CallEvent, at: datetime) -> _Record:
        gid, cid, thread = event.global_call_id, event.call_id, event.thread_id
        if (
            gid is not None
            and cid is not None
            and thread is not None
            and gid[-2:] != cid
            and thread[-2:] == cid
            and thread not in self._by_gid
        ):
            # First seen after a transfer gave it a new global call id (HiPath's ends with
            # another number, protocol facts §6): the thread id, which ends with the call
            # id, is the call's first global call id: its key (as for every other view of
            # the call; `resume` reads the call id from it) -- the new one an alias.
            rec = self._create_ids(thread, cid, at)
            if gid not in self._by_gid:
                self._alias_gid(rec, gid)
            return rec
        return self._create_ids(gid, cid, at)

    def _create_ids(self, gid: bytes | None, cid: bytes | None, at: datetime) -> _Record:
        stamp = at.strftime("%Y%m%dT%H%M%S.%fZ")
        if gid is not None:
            key = f"g:{gid.hex()}:{stamp}"
        else:
            key = f"c:{(cid or b'').hex()}:{stamp}"
        base, n = key, 1
        while key in self._live or key in self._memory:
            # Two calls first seen at the same instant with the same id (a reused id, or
            # replayed receive times): a key is never shared, nor a deleted one revived.
            n += 1
            key = f"{base}~{n}"
        rec = _Record(key=key, gid=gid, first_at=at, last_at=at)
        self._live[key] = rec
        if rec.gid is not None:
            self._by_gid[rec.gid] = key
        if cid is not None:
            self._alias_cid(rec, cid)
        return rec

    def _alias_cid(self, rec: _Record, cid: bytes) -> None:
        rec.cids.add(cid)
        self._by_cid[cid] = rec.key

    def _alias_gid(self, rec: _Record, gid: bytes) -> None:
        rec.aliases += (gid,)
        self._by_gid[gid] = rec.key

    @staticmethod
    def _under_way(rec: _Record, device: str, at: datetime, state: str | None) -> None:
        """A new record of a call that was under way before `device`'s monitor saw it."""
        rec.partial = True
        rec.materialised = True
        rec.hops.append(Hop("under_way", device, at, state))

    def _reopen(self, rec: _Record, *, gap: bool) -> None:
        """A remembered call goes on: one closed by a link loss (who is still in it is unknown
        now; the next events or the snapshot tell), or one that had finished for us.  `gap`:
        part of it went by unseen."""
        if rec.state == _ORPHAN:
            rec.end_unknown = False
            rec.lost_at = None
            rec.presence = {}
        else:
            rec.ended_at = None
            rec.left_via = None
        rec.gap = rec.gap or gap
        self._revive(rec)

    def _revive(self, rec: _Record) -> None:
        self._memory.pop(rec.key, None)
        rec.state = _LIVE
        self._live[rec.key] = rec
        if rec.gid is not None:
            self._by_gid[rec.gid] = rec.key
        for gid in rec.aliases:
            self._by_gid[gid] = rec.key
        for cid in rec.cids:
            self._by_cid[cid] = rec.key

    def _inherit(self, primary: _Record, secondary: _Record) -> None:
        """A transfer/conference of a call we had not seen: what we know is its consultation.

        Seen only from the transfer target, the story is: it rang (the consultation), was
        answered (by the target: one of ours), and then the caller was put through.  So the
        new record starts when the consultation did and keeps its hops and its answer.
        """
        primary.first_at = min(primary.first_at, secondary.first_at)
        primary.from_start = secondary.from_start
        primary.gap = secondary.gap
        primary.partial = secondary.partial
        primary.hops = list(secondary.hops)
        primary.seen = {k: list(v) for k, v in secondary.seen.items()}
        primary.local_devices = list(secondary.local_devices)
        primary.rang_local = secondary.rang_local
        if secondary.answered_by is not None:
            primary.answered_by = secondary.answered_by
            primary.answered_at = secondary.answered_at
        elif secondary.other_answer_at is not None:
            primary.answered_at = secondary.other_answer_at

    def _absorb(self, rec: _Record, at: datetime) -> None:
        self._live.pop(rec.key, None)
        rec.state = _ABSORBED
        rec.ended_at = rec.ended_at or at
        self._remember(rec)
        if rec.emitted:
            self._deleted.append(rec.key)

    # Applying one event ----------------------------------------------------------------

    def _is_duplicate(self, rec: _Record, event: CallEvent, at: datetime) -> bool:
        """Whether the same event (without the per-monitor fields) was taken just before."""
        stamp = event.timestamp
        for pbx_ts, received in rec.seen.get(self._fingerprint(event), ()):
            if (
                pbx_ts is not None
                and stamp is not None
                and (pbx_ts.tzinfo is None) == (stamp.tzinfo is None)
            ):
                # Both copies carry the PBX time: they are the same event if it agrees.
                if abs((pbx_ts - stamp).total_seconds()) <= self._duplicate_window.total_seconds():
                    return True
            elif abs(at - received) <= self._duplicate_window:
                return True
        return False

    def _fingerprint(self, event: CallEvent) -> tuple[object, ...]:
        # Each monitor gets its own copy with its own cross-ref id and local state: without
        # those (and the timestamp, compared separately) the copies are equal.  Asked two or
        # three times per event: the last one is kept.
        if event is self._fp_event:
            return self._fp
        cls = type(event)
        names = _FP_FIELDS.get(cls)
        if names is None:
            names = _FP_FIELDS[cls] = tuple(
                f.name for f in fields(cls) if f.name not in _PER_MONITOR
            )
        fp = (cls, *(getattr(event, name) for name in names))
        self._fp_event, self._fp = event, fp
        return fp

    def _apply(self, rec: _Record, device: str, event: CallEvent, at: datetime) -> None:
        # Keep each call's times in order even if receive times step back.
        at = max(at, rec.last_at)
        rec.last_at = at
        duplicate = self._is_duplicate(rec, event, at)
        rec.seen.setdefault(self._fingerprint(event), []).append((event.timestamp, at))
        gid = event.global_call_id
        if gid is not None and gid != rec.gid and gid not in self._by_gid:
            if rec.gid is None:
                rec.gid = gid
                self._by_gid[gid] = rec.key
            else:
                # The new global call id a transfer or conference gave the call (or its
                # first sight after one we did not see): later events may carry either.
                self._alias_gid(rec, gid)
        if event.call_id is not None and not isinstance(
            event, (TransferredEvent, ConferencedEvent)
        ):
            self._alias_cid(rec, event.call_id)

        mon = self._monitored_with(device)

        def hop(kind: str, dev: DeviceId | str | None, detail: str | None = None) -> None:
            if duplicate:
                return
            name = dev if isinstance(dev, str) or dev is None else _num(dev)
            rec.hops.append(Hop(kind, name, at, detail))

        def be(dev: DeviceId | str | None, state: str) -> None:
            name = dev if isinstance(dev, str) or dev is None else _num(dev)
            if name is not None and name in mon:
                self._set_presence(rec, name, state)

        if isinstance(event, _PartyEvent):
            self._note_parties(rec, event)

        own = event.device
        if isinstance(event, ServiceInitiatedEvent):
            initiator = _num(event.initiating_device) or _num(own)
            if initiator in mon:
                rec.originator = rec.originator or initiator
            be(initiator, "initiated")
        elif isinstance(event, OriginatedEvent):
            caller = _num(event.calling_device) or _num(event.originating_device) or _num(own)
            if caller in mon:
                rec.originator = rec.originator or caller
            be(caller, "connected")
            rec.materialised = True
            hop("originated", caller, _num(event.called_device))
        elif isinstance(event, DeliveredEvent):
            alerting = _num(event.alerting_device) or _num(own)
            self._note_caller(rec, event, mon)
            if alerting in mon and alerting != rec.originator:
                rec.rang_local = True
            be(alerting, "alerting")
            rec.materialised = True
            hop("delivered", alerting, event.cause)
        elif isinstance(event, EstablishedEvent):
            answering = _num(event.answering_device) or _num(own)
            self._note_caller(rec, event, mon)
            if answering is not None and answering != rec.originator:
                if answering in mon:
                    if rec.answered_by is None:
                        rec.answered_by, rec.answered_at = answering, at
                elif rec.other_answer is None:
                    rec.other_answer, rec.other_answer_at = answering, at
            if answering is not None:
                # Once answered, a call rings nowhere else (pickup, group, parallel ringing):
                # our devices that were only alerting for it are out.  A monitor's own
                # local state, when sent, still overrides this below.
                for d, state in list(rec.presence.items()):
                    if state == "alerting" and d != answering:
                        self._set_presence(rec, d, _GONE)
            be(answering, "connected")
            rec.materialised = True
            hop("answered", answering, event.cause)
        elif isinstance(event, FailedEvent):
            failing = _num(event.failing_device) or _num(own)
            rec.failed_cause = event.cause or rec.failed_cause or "unknown"
            be(failing, "fail")
            rec.materialised = True
            hop("failed", failing, event.cause)
        elif isinstance(event, DivertedEvent):
            diverting = _num(event.diverting_device) or _num(own)
            target = _num(event.new_destination)
            if diverting in mon and diverting != rec.originator:
                # Deflect / forward on no answer: it was ringing there.
                rec.rang_local = True
            be(diverting, _GONE)
            if target is not None:
                rec.diverted_to = target
                be(target, "alerting")
            rec.materialised = True
            hop("diverted", diverting, target)
        elif isinstance(event, (OfferedEvent, QueuedEvent)):
            self._note_caller(rec, event, mon)
            rec.materialised = True
            where = event.offered_device if isinstance(event, OfferedEvent) else event.queue
            hop(event.name, where or own, event.cause)
        elif isinstance(event, NetworkReachedEvent):
            self._note_caller(rec, event, mon)
            rec.trunk = rec.trunk or _num(event.network_interface_used) or _num(own)
            rec.materialised = True
        elif isinstance(event, ConnectionClearedEvent):
            gone = _num(own) or _num(event.releasing_device)
            be(gone, _GONE)
            hop("cleared", gone, event.cause)
        elif isinstance(event, CallClearedEvent):
            for d in list(rec.presence):
                self._set_presence(rec, d, _GONE)
            hop("cleared", None, event.cause)
        elif isinstance(event, HeldEvent):
            holder = _num(event.holding_device) or _num(own)
            be(holder, "hold")
            hop("held", holder, event.cause)
        elif isinstance(event, RetrievedEvent):
            retriever = _num(event.retrieving_device) or _num(own)
            be(retriever, "connected")
            hop("retrieved", retriever, event.cause)
        elif isinstance(event, TransferredEvent):
            self._apply_transfer(rec, event, at, mon, be)
            hop("transferred", event.transferring_device, _num(event.transferred_to_device))
        elif isinstance(event, ConferencedEvent):
            rec.materialised = True
            self._was_connected(rec, _num(event.conferencing_device), at, mon)
            if rec.calling is None:
                # As for a transfer: the primary call's parties come first, its caller first.
                rec.calling = next(
                    (c.endpoint for c in event.conference_connections if c.endpoint is not None),
                    None,
                )
            be(event.conferencing_device, "connected")
            be(event.added_party, "connected")
            hop("conferenced", event.conferencing_device, _num(event.added_party))
        elif isinstance(event, (BridgedEvent, DigitsDialedEvent, NetworkCapabilitiesChangedEvent)):
            pass  # They say nothing about who is in the call or how it ends.

        # The reporting monitor's own state is the authority on its device (ECMA-269
        # localConnectionInfo).  Without it, a monitor that reports an event of a call is a
        # party to it (the contract: a device sees the events of a call while it is in it).
        if event.local_connection_state is not None:
            self._set_presence(rec, device, event.local_connection_state)
        elif device not in rec.presence:
            self._set_presence(rec, device, "unknown")

        if any(s != _GONE for s in rec.presence.values()):
            return
        # None of our devices is in the call any more: it has ended as far as we can see.
        rec.ended_at = at
        rec.left_via = event.name
        self._finish(rec)

    def _apply_transfer(
        self,
        rec: _Record,
        event: TransferredEvent,
        at: datetime,
        mon: set[str] | frozenset[str],
        be: Callable[[DeviceId | str | None, str], None],
    ) -> None:
        transferring = _num(event.transferring_device)
        target = _num(event.transferred_to_device)
        rec.materialised = True
        if rec.calling is None:
            # The endpoint of the first transferred connection is the party that called.
            rec.calling = event.endpoint
        self._was_connected(rec, transferring, at, mon)
        if target is not None:
            rec.transferred_to = target
        be(transferring, _GONE)
        # The connections the call has now: HiPath lists the caller's and then the target's
        # (protocol facts §6: the target moving from the consultation into the call).  The
        # transferring device has left, whatever a list of another reading might name.
        for change in event.transferred_connections:
            conn = change.new_connection
            if conn is not None and conn.device is not None and _num(conn.device) != transferring:
                be(conn.device, "connected")
        if target is not None:
            be(target, "connected")

    @staticmethod
    def _was_connected(
        rec: _Record, device: str | None, at: datetime, mon: set[str] | frozenset[str]
    ) -> None:
        """`device` transferred or conferenced the call, so it was connected to it: if no
        answer was seen (its established event was lost), it was answered there by now."""
        if rec.answered_by is not None or rec.other_answer is not None or device is None:
            return
        if device in mon:
            rec.answered_by = device
        else:
            rec.other_answer = device
        if rec.answered_at is None:
            rec.answered_at = at
        if rec.other_answer_at is None and rec.other_answer is not None:
            rec.other_answer_at = at

    def _note_parties(self, rec: _Record, event: _PartyEvent) -> None:
        # The first known value wins: later legs (diversion, transfer) keep the original
        # caller and the number that was dialled.  A number replaces an earlier "not known".
        if event.calling_device is not None and (
            rec.calling is None
            or (
                _num(rec.calling) is None
                and rec.calling.kind != "restricted"
                and _num(event.calling_device)
            )
        ):
            rec.calling = event.calling_device
        if event.called_device is not None and _num(rec.called) is None:
            rec.called = event.called_device
        if event.associated_calling_device is not None and _num(event.associated_calling_device):
            rec.trunk_in = True
            rec.trunk = rec.trunk or _num(event.associated_calling_device)
        if event.associated_called_device is not None and _num(event.associated_called_device):
            rec.trunk = rec.trunk or _num(event.associated_called_device)

    def _note_caller(
        self, rec: _Record, event: _PartyEvent, mon: set[str] | frozenset[str]
    ) -> None:
        """An internal caller that we monitor is in the call (seen from the callee's side)."""
        caller = _num(event.calling_device)
        # Only the call's own caller: a later leg (after a transfer, say) may name another
        # calling device, which does not make the call one that we placed.
        if caller is not None and caller in mon and caller == _num(rec.calling):
            rec.originator = rec.originator or caller
            if caller not in rec.presence:
                self._set_presence(rec, caller, "connected")

    def _set_presence(self, rec: _Record, device: str, state: str) -> None:
        rec.presence[device] = state
        if device not in rec.local_devices:
            rec.local_devices.append(device)

    def _rejoins(self, device: str, event: CallEvent) -> bool:
        """Whether an event puts one of our devices into a call (or keeps it there)."""
        mon = self._monitored_with(device)
        lcs = event.local_connection_state
        if lcs is not None and lcs != _GONE:
            return True
        entering: DeviceId | None = None
        if isinstance(event, DeliveredEvent):
            entering = event.alerting_device or event.device
        elif isinstance(event, EstablishedEvent):
            entering = event.answering_device or event.device
        elif isinstance(event, DivertedEvent):
            entering = event.new_destination
        elif isinstance(event, TransferredEvent):
            entering = event.transferred_to_device
        elif isinstance(event, ConferencedEvent):
            entering = event.added_party
        elif isinstance(event, RetrievedEvent):
            entering = event.retrieving_device or event.device
        return _num(entering) in mon

    # After each event: finishing, emitting, resolving ---------------------------------

    def _finish(self, rec: _Record) -> None:
        self._live.pop(rec.key, None)
        rec.state = _FINISHED
        self._remember(rec)

    def _orphan(
        self, rec: _Record, at: datetime, out: dict[str, Call], why: str = "link_lost"
    ) -> None:
        """Close a live call whose end we will not see.  `why`, its last hop: link_lost,
        stale (no event for `stale_after`), overflow (too many live calls: `live_limit`)."""
        self._live.pop(rec.key, None)
        rec.state = _ORPHAN
        rec.end_unknown = True
        rec.lost_at = at
        if rec.materialised:
            rec.hops.append(Hop(why, None, max(at, rec.last_at)))
        self._remember(rec)
        self._emit(rec, at, out)

    def _after(self, rec: _Record, event: CallEvent, at: datetime, out: dict[str, Call]) -> None:
        at = max(at, rec.last_at)
        if not rec.consult_checked and rec.originator is not None and rec.materialised:
            rec.consult_checked = True
            self._link_consultation(rec, event, at, out)
        if rec.state == _FINISHED and not rec.resolved and self._outcome(rec) is Outcome.MISSED:
            resolved_at = self._resolutions.get(self._remote_key(rec) or "")
            if resolved_at is not None and resolved_at >= rec.first_at:
                # A call with the same party was answered/placed while this one rang.
                rec.done = True
        self._emit(rec, at, out)
        self._maybe_resolve(rec, at, out)

    def _link_consultation(
        self, rec: _Record, event: CallEvent, at: datetime, out: dict[str, Call]
    ) -> None:
        """A call our device placed while it held another is a consultation of that call
        (ConsultationCall, or a hold and a new call: the same for a TransferCall).  The held
        call gets a "consulted" hop (by whom, to whom); the consultation a "consultation"
        hop (by whom; detail: the held call's other party), so that its row, if it keeps
        one (no transfer or conference absorbs it), does not read as an unrelated call.
        Of several held calls: the one whose thread id the consultation carries (HiPath
        gives a consultation the thread of the call it was made from, protocol facts §6),
        else the one with the latest news."""
        holder = rec.originator
        if holder is None:  # no device of ours placed it: nothing of ours is on hold for it
            return
        thread = event.thread_id
        held: _Record | None = None
        for other in self._live.values():
            if other is rec or other.presence.get(holder) != "hold":
                continue
            if thread is not None and (thread == other.gid or thread in other.aliases):
                held = other
                break
            if held is None or other.last_at > held.last_at:
                held = other
        if held is None:
            return
        rec.consultation = True
        when = max(at, held.last_at)
        held.last_at = when
        held.hops.append(Hop("consulted", holder, when, _num(rec.called)))
        self._emit(held, when, out)
        remote = _num(self._remote(held, self._direction(held))[0])
        mark = Hop("consultation", holder, at, remote)
        if rec.hops and rec.hops[-1].kind == "originated":
            rec.hops.insert(len(rec.hops) - 1, mark)  # it comes before the dialling
        else:
            rec.hops.append(mark)

    def _maybe_resolve(self, rec: _Record, at: datetime, out: dict[str, Call]) -> None:
        """A call placed to, or answered from, a party settles that party's missed calls."""
        if rec.resolved or not rec.materialised or rec.state == _ABSORBED:
            return
        if rec.state == _LIVE and rec.consultation:
            # A consultation, which a transfer or conference will probably absorb.  It
            # settles nothing unless it ends as a call of its own (this runs again on its
            # last event).
            return
        direction = self._direction(rec)
        remote, _ = self._remote(rec, direction)
        number = _num(remote)
        if number is None:
            return
        when: datetime | None = None
        if rec.originator is not None and direction is not Direction.INCOMING:
            when = rec.first_at  # placed
        elif rec.answered_by is not None:
            when = rec.answered_at or at  # answered here (then maybe transferred)
        if when is None:
            return
        rec.resolved = True
        self._resolved.append((number, when))
        nkey = self._number_key(number)
        self._resolutions[nkey] = max(when, self._resolutions.get(nkey, when))
        self._resolutions.move_to_end(nkey)
        while len(self._resolutions) > self._memory_limit:
            self._resolutions.popitem(last=False)
        if self._missed_stale:
            self._reindex_missed()
        for other in list(self._missed.get(nkey, {}).values()):
            if other is rec:
                continue
            if other.state != _FINISHED or other.done:
                self._unindex_missed(other)
                continue
            if (
                other.first_at < when
                and self._remote_key(other) == nkey
                and self._outcome(other) is Outcome.MISSED
            ):
                other.done = True
                self._unindex_missed(other)
                self._emit(other, at, out)

    def _index_missed(self, rec: _Record) -> None:
        """Index a call that has just finished if it is a missed call not yet done."""
        if rec.state != _FINISHED or rec.done or self._outcome(rec) is not Outcome.MISSED:
            return
        nkey = self._remote_key(rec)
        if nkey is None:
            return
        old = self._missed_key.get(rec.key)
        if old is not None and old != nkey:
            self._unindex_missed(rec)
        self._missed.setdefault(nkey, {})[rec.key] = rec
        self._missed_key[rec.key] = nkey

    def _unindex_missed(self, rec: _Record) -> None:
        nkey = self._missed_key.pop(rec.key, None)
        if nkey is None:
            return
        group = self._missed.get(nkey)
        if group is not None:
            group.pop(rec.key, None)
            if not group:
                del self._missed[nkey]

    def _reindex_missed(self) -> None:
        """The numbering or the monitored devices changed: index the memory afresh."""
        self._missed_stale = False
        self._missed.clear()
        self._missed_key.clear()
        for other in self._memory.values():
            self._index_missed(other)

    def _remote_key(self, rec: _Record) -> str | None:
        number = _num(self._remote(rec, self._direction(rec))[0])
        return None if number is None else self._number_key(number)

    def _emit(self, rec: _Record, at: datetime, out: dict[str, Call]) -> None:
        call = self._snapshot(rec)
        if call is None or call == rec.last_core:
            return
        rec.last_core = call
        rec.emitted = True
        out[rec.key] = call.evolve(updated_at=at)

    # The record as a Call ----------------------------------------------------------------

    def _snapshot(self, rec: _Record) -> Call | None:
        if not rec.materialised or rec.state == _ABSORBED:
            # A handset lifted and put down without dialling is not a call worth a row.
            return None
        direction = self._direction(rec)
        remote, kind = self._remote(rec, direction)
        outcome = self._outcome(rec)
        answered_by = rec.answered_by
        answered_at = rec.answered_at
        if answered_by is None and rec.other_answer is not None:
            answered_by = rec.other_answer
            if outcome is Outcome.ANSWERED:
                # Our caller got through (outgoing, or internal to a device we don't
                # monitor): the conversation started when the other side answered.
                answered_at = rec.other_answer_at
            # Answered elsewhere: `answered_at` stays empty.  It means "answered at one of
            # ours"; when the other device took it is in the hops, and how long they talked
            # is not ours to know (ring_seconds then counts until it left our devices).
        return Call(
            key=rec.key,
            direction=direction,
            started_at=rec.first_at,
            remote_number=_num(remote),
            remote_kind=kind,
            local_devices=tuple(rec.local_devices),
            called_number=_num(rec.called),
            trunk=rec.trunk,
            answered_at=answered_at,
            ended_at=rec.ended_at,
            end_unknown=rec.end_unknown,
            outcome=outcome,
            answered_by=answered_by,
            transferred_to=rec.transferred_to,
            diverted_to=rec.diverted_to,
            hops=tuple(rec.hops),
            done=rec.done and outcome is Outcome.MISSED,
        )

    def _direction(self, rec: _Record) -> Direction:
        if rec.partial and rec.calling is None and rec.called is None and rec.originator is None:
            # Listed by a snapshot and no event since has said who called whom.
            return Direction.UNKNOWN
        caller = _num(rec.calling)
        caller_internal = rec.originator is not None or (
            caller is not None
            and self.is_internal(caller)
            and not (rec.trunk_in and caller not in self.monitored)
        )
        if not caller_internal:
            # Not one of ours, withheld, unknown, or came over a trunk.
            return Direction.INCOMING
        called = _num(rec.called)
        if called is not None and not self.is_internal(called):
            return Direction.OUTGOING
        return Direction.INTERNAL

    def _remote(self, rec: _Record, direction: Direction) -> tuple[DeviceId | None, str]:
        if direction is Direction.INCOMING:
            remote = rec.calling
        elif direction is Direction.OUTGOING:
            remote = rec.called
        elif rec.originator is not None or _num(rec.calling) in self.monitored:
            # Internal, seen from the caller (one of ours): the other one is the callee.
            remote = rec.called
        else:
            remote = rec.calling
        return remote, _kind(remote)

    def _outcome(self, rec: _Record) -> Outcome:
        ended = rec.ended_at is not None
        if rec.gap or rec.partial:
            # Part of its life went by unseen (a link loss in the middle, or it was under way
            # before our monitor saw it): an answer, transfer or diversion may have happened
            # there.  What was seen stays in the record (answered_by, hops, ...), but how it
            # went is not claimed.
            if not ended and not rec.end_unknown:
                return Outcome.IN_PROGRESS
            return Outcome.UNKNOWN
        if rec.transferred_to is not None:
            return Outcome.TRANSFERRED
        if rec.answered_by is not None:
            return Outcome.ANSWERED
        if rec.other_answer is not None:
            if rec.originator is not None and not rec.rang_local:
                return Outcome.ANSWERED  # we called, they answered
            return Outcome.ANSWERED_ELSEWHERE
        if ended and rec.left_via == DivertedEvent.name:
            return Outcome.DIVERTED
        if rec.failed_cause is not None and not rec.rang_local:
            return Outcome.BUSY if rec.failed_cause in _BUSY_CAUSES else Outcome.FAILED
        if ended:
            if rec.rang_local or rec.originator is None:
                return Outcome.MISSED
            return Outcome.ABANDONED
        return Outcome.UNKNOWN if rec.end_unknown else Outcome.IN_PROGRESS

    # Memory ------------------------------------------------------------------------------

    def _remember(self, rec: _Record) -> None:
        self._memory[rec.key] = rec
        self._memory.move_to_end(rec.key)
        self._index_missed(rec)
        while len(self._memory) > self._memory_limit:
            _, old = self._memory.popitem(last=False)
            self._forget(old)

    def _forget(self, rec: _Record) -> None:
        self._unindex_missed(rec)
        if rec.gid is not None and self._by_gid.get(rec.gid) == rec.key:
            del self._by_gid[rec.gid]
        for gid in rec.aliases:
            if self._by_gid.get(gid) == rec.key:
                del self._by_gid[gid]
        for cid in rec.cids:
            if self._by_cid.get(cid) == rec.key:
                del self._by_cid[cid]

    def _bound_live(self, at: datetime, out: dict[str, Call], keep: _Record | None) -> None:
        """Beyond `live_limit` live calls: the ones with the oldest news are settled as
        ended unseen ("overflow" hop), a tenth of the limit at a time (a flood then costs a
        partial sort per hundreds of calls, not per call)."""
        excess = len(self._live) - self._live_limit
        if excess <= 0:
            return
        n = max(excess, self._live_limit // 10)
        victims = heapq.nsmallest(n + 1, self._live.values(), key=_last_news)
        settled = 0
        for rec in victims:
            if rec is keep or settled == n:
                continue
            self._orphan(rec, at, out, "overflow")
            settled += 1
        before = self._overflow_count
        self._overflow_count += settled
        if before == 0 or before // 1000 != self._overflow_count // 1000:
            log.warning(
                "more than %d calls in progress (does the PBX not say when calls end?): the "
                "%d with the oldest news closed as 'end unknown'; %d calls so closed so far",
                self._live_limit,
                settled,
                self._overflow_count,
            )

    def _sweep(self, now: datetime, out: dict[str, Call]) -> None:
        """Forget old finished calls; close live calls whose end was lost long ago."""
        if self._last_sweep is not None and now - self._last_sweep < timedelta(minutes=1):
            return
        self._last_sweep = now
        for rec in list(self._live.values()):
            if now - rec.last_at > self._stale_after:
                self._orphan(rec, now, out, "stale")
                self._stale_count += 1
        # The memory is in the order calls were remembered, so the walk stops at the first
        # call remembered too recently to have expired under either window.
        shortest = min(self._recent_window, self._resume_window)
        expired: list[str] = []
        for key, rec in self._memory.items():
            if rec.state == _ORPHAN:
                age = now - (rec.lost_at or rec.last_at)
                window = self._resume_window
            else:
                age = now - max(rec.ended_at or rec.last_at, rec.last_at)
                window = self._recent_window
            if age > window:
                expired.append(key)
            elif age <= shortest:
                break
        for key in expired:
            self._forget(self._memory.pop(key))
        while self._absorbed_cids:
            cid, when = next(iter(self._absorbed_cids.items()))
            if now - when <= self._recent_window:
                break
            del self._absorbed_cids[cid]
