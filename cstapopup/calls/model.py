"""The call record: what a receptionist wants to know about one call, built from CSTA events.

`Call` is what the tracker (`calls/tracker.py`) produces and the history store
(`calls/store.py`) keeps, one row per call, updated in place while the call lives.  A
`PhoneNote` is what the user wrote about a call afterwards; the store keeps it with the call's
row, and no tracker update ever touches it (the tracker knows nothing of notes).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


class Direction(str, enum.Enum):
    INCOMING = "incoming"  # from outside, over a trunk
    OUTGOING = "outgoing"  # to outside
    INTERNAL = "internal"  # between two devices of the PBX
    UNKNOWN = "unknown"  # already under way when monitoring began; no event named its parties


class Outcome(str, enum.Enum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"  # answered at a monitored device (answered_by)
    MISSED = "missed"  # rang, nobody answered, the caller hung up
    ANSWERED_ELSEWHERE = "answered_elsewhere"  # another device took it (pickup, deflect, group)
    BUSY = "busy"
    FAILED = "failed"
    ABANDONED = "abandoned"  # outgoing: the caller gave up before an answer
    TRANSFERRED = "transferred"  # answered, then passed on (transferred_to)
    DIVERTED = "diverted"  # forwarded / deflected before an answer (diverted_to)
    UNKNOWN = "unknown"  # part of it went unseen (link loss; under way
    #                                          before monitoring began): how it went is not known


#: Outcomes that count as "missed" for the badge and the missed filter.
MISSED_OUTCOMES = frozenset({Outcome.MISSED})


@dataclass(frozen=True, slots=True)
class Hop:
    """One step in the life of a call, in order: what happened, at which device, when."""

    kind: str  # delivered, diverted, answered, held, retrieved, transferred, conferenced, cleared, failed
    #                      (also from the tracker: originated, offered, queued, link_lost,
    #                      under_way: listed by a snapshot, its beginning unseen;
    #                      undecodable: an event of the call that could not be read, detail
    #                      its type, e.g. "transferred"; consulted: device consulted detail
    #                      on another call; consultation: this call is device's consultation,
    #                      detail the held call's other party; stale, overflow: given up,
    #                      its end unseen)
    device: str | None
    at: datetime
    detail: str | None = None  # e.g. the cause, or the device the call went to

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "device": self.device,
            "at": self.at.isoformat(),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hop:
        return cls(d["kind"], d.get("device"), datetime.fromisoformat(d["at"]), d.get("detail"))


@dataclass(frozen=True, slots=True)
class PhoneNote:
    """A phone note about a call ("Anna Schmidt called, please call her back"): for whom (a
    colleague's name and/or extension, either may be missing), whether a callback is wanted,
    the text, when it was written (timezone-aware) and by whom (optional: the desk's phone).
    Stored with its call in the history (`HistoryStore.set_note`)."""

    text: str = ""
    for_name: str | None = None
    for_number: str | None = None
    callback: bool = False
    written_at: datetime | None = None
    written_by: str | None = None

    @property
    def for_text(self) -> str:
        """Whom it is for, in one line: "Tom Keller (102)", "Tom Keller", "102" or ""."""
        if self.for_name and self.for_number:
            return f"{self.for_name} ({self.for_number})"
        return self.for_name or self.for_number or ""

    @property
    def is_empty(self) -> bool:
        """Nothing worth keeping: no text, nobody it is for, no callback wanted."""
        return not (self.text.strip() or self.for_text or self.callback)

    def to_dict(self) -> dict[str, Any]:
        return {
            "for_name": self.for_name,
            "for_number": self.for_number,
            "callback": self.callback,
            "text": self.text,
            "written_at": None if self.written_at is None else self.written_at.isoformat(),
            "written_by": self.written_by,
        }


@dataclass(frozen=True, slots=True)
class Call:
    """One call, as one history row.  Times are timezone-aware (UTC) datetimes.

    `key` identifies the call across monitored devices and reconnects (see the tracker), so
    the same call is never stored twice.
    """

    key: str
    direction: Direction
    started_at: datetime  # first event of the call (ringing or dialling)
    remote_number: str | None = None  # the other party as the PBX gave it
    remote_kind: str = "number"  # number | restricted | not_known
    remote_name: str | None = None  # from the phonebook lookup, when found
    remote_company: str | None = None
    local_devices: tuple[str, ...] = ()  # monitored devices involved, in order seen
    called_number: str | None = None  # the line / number that was called
    trunk: str | None = None  # the trunk device for external calls
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    end_unknown: bool = False  # the link dropped: the end was not seen
    outcome: Outcome = Outcome.IN_PROGRESS
    answered_by: str | None = None
    transferred_to: str | None = None
    diverted_to: str | None = None
    hops: tuple[Hop, ...] = ()
    done: bool = False  # a missed call that was dealt with
    updated_at: datetime | None = None
    #: The user's phone note, as the history has it (never set by the tracker).
    note: PhoneNote | None = None

    @property
    def ring_seconds(self) -> float | None:
        end = self.answered_at or self.ended_at
        if end is None:
            return None
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())

    @property
    def is_missed(self) -> bool:
        return self.outcome in MISSED_OUTCOMES

    @property
    def is_live(self) -> bool:
        return self.ended_at is None and not self.end_unknown

    def evolve(self, **changes: Any) -> Call:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (used by `cstapopup history --format json` and exports)."""

        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "key": self.key,
            "direction": self.direction.value,
            "remote_number": self.remote_number,
            "remote_kind": self.remote_kind,
            "remote_name": self.remote_name,
            "remote_company": self.remote_company,
            "local_devices": list(self.local_devices),
            "called_number": self.called_number,
            "trunk": self.trunk,
            "started_at": iso(self.started_at),
            "answered_at": iso(self.answered_at),
            "ended_at": iso(self.ended_at),
            "end_unknown": self.end_unknown,
            "ring_seconds": self.ring_seconds,
            "talk_seconds": self.talk_seconds,
            "outcome": self.outcome.value,
            "answered_by": self.answered_by,
            "transferred_to": self.transferred_to,
            "diverted_to": self.diverted_to,
            "done": self.done,
            "hops": [h.to_dict() for h in self.hops],
            "note": None if self.note is None else self.note.to_dict(),
        }
