"""What a monitored device has under way, kept by the gateway for desktops that connect late.

For each device the gateway keeps the items (events and snapshots, numbered) since the device
was last idle, and publishes them as the device's retained "calls" record: a desktop that
subscribes while a call rings replays them and sees the call as if it had been watching.

The record is `base` (the calls at the device when the kept items begin: None when they begin
at the gateway's monitor start, which is then among the items) plus `items`.  A device is
idle once its monitor's snapshot has come and the events have cleared every call at it (the
monitored device's local connection state `null`); then the record starts again with an empty
base.  A device that never becomes idle (a PBX that does not send the states) is compacted
when it keeps `max_items`: the base becomes the calls the gateway believes are under way, as a
snapshot would list them (a desktop then sees them as calls under way, honestly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cstapopup.csta.events import (
    CallEvent,
    ConferencedEvent,
    ConnectionClearedEvent,
    ConnectionId,
    CstaEvent,
    DeviceId,
    SnapshotCall,
    TransferredEvent,
)

from . import wire

log = logging.getLogger(__name__)

DEFAULT_MAX_ITEMS = 64
_GONE = "null"


@dataclass
class _Active:
    state: str | None
    global_call_id: bytes | None = None
    calling: str | None = None
    called: str | None = None


@dataclass
class DeviceCalls:
    """The calls under way at one monitored device, and the items since it was last idle."""

    device: str
    max_items: int = DEFAULT_MAX_ITEMS
    seq: int = 0
    base: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    active: dict[bytes, _Active] = field(default_factory=dict)
    snapshot_seen: bool = False
    #: Changed since the record was last taken (see `take_record`).
    version: int = 0
    compactions: int = 0

    def link_lost(self) -> None:
        """The PBX link dropped: the monitor starts anew (and with it the kept items)."""
        self.base = None
        self.items.clear()
        self.active.clear()
        self.snapshot_seen = False
        self.version += 1

    def add_event(self, event: CstaEvent, line: dict[str, Any]) -> int:
        """Keep an event (its `monitor --json` object); its number."""
        self.seq += 1
        self.items.append({"seq": self.seq, "kind": "event", "data": line})
        if isinstance(event, CallEvent):
            self._follow(event)
        self._after_item()
        return self.seq

    def add_snapshot(
        self, calls: tuple[SnapshotCall, ...] | None, reason: str
    ) -> tuple[int, dict[str, Any]]:
        """Keep the monitor's snapshot; its number and its payload."""
        self.seq += 1
        payload = snapshot_payload(self.device, calls, reason)
        self.items.append({"seq": self.seq, "kind": "snapshot", "data": payload})
        self.snapshot_seen = True
        if calls is not None:
            # The PBX's word, taken after the events before it: what is under way now.
            active: dict[bytes, _Active] = {}
            for c in calls:
                if c.call_id is None or c.state == _GONE:
                    continue
                known = self.active.get(c.call_id)
                active[c.call_id] = _Active(
                    c.state,
                    c.global_call_id,
                    known.calling if known else None,
                    known.called if known else None,
                )
            self.active = active
        self._after_item()
        return self.seq, payload

    def _follow(self, ev: CallEvent) -> None:
        cid = ev.call_id
        if (
            isinstance(ev, (TransferredEvent, ConferencedEvent))
            and ev.secondary_old_call is not None
        ):
            old = ev.secondary_old_call.call_id
            if old is not None and old != cid:
                self.active.pop(old, None)
        if cid is None:
            return
        own = ev.device is not None and ev.device.number == self.device
        lcs = ev.local_connection_state
        if (
            ev.name == "call_cleared"
            or lcs == _GONE
            or (isinstance(ev, ConnectionClearedEvent) and own)
        ):
            self.active.pop(cid, None)
            return
        entry = self.active.get(cid)
        if entry is None:
            entry = self.active[cid] = _Active(lcs)
        elif lcs is not None:
            entry.state = lcs
        if ev.global_call_id is not None:
            entry.global_call_id = ev.global_call_id
        calling = getattr(ev, "calling_device", None)
        called = getattr(ev, "called_device", None)
        if calling is not None:
            entry.calling = calling.to_json()
        if called is not None:
            entry.called = called.to_json()

    def _after_item(self) -> None:
        self.version += 1
        if self.snapshot_seen and not self.active:
            self.base = {"seq": self.seq, "calls": []}
            self.items.clear()
        elif len(self.items) >= self.max_items:
            self.compactions += 1
            log.warning(
                "device %s: %d items kept without the device becoming idle; late "
                "desktops get its %d calls as calls under way",
                self.device,
                len(self.items),
                len(self.active),
            )
            self.base = {
                "seq": self.seq,
                "calls": [wire.snapshot_call_to_json(c) for c in self.snapshot_calls()],
            }
            self.items.clear()

    def snapshot_calls(self) -> list[SnapshotCall]:
        """The calls the gateway believes are at the device, as a snapshot lists them."""
        return [
            SnapshotCall(
                ConnectionId(cid, DeviceId("number", self.device)), a.state, a.global_call_id
            )
            for cid, a in self.active.items()
        ]

    def record(self, gateway: str) -> dict[str, Any]:
        """The retained payload of the device's calls topic."""
        return {
            "device": self.device,
            "gateway": gateway,
            "seq": self.seq,
            "calls": [
                {
                    "call_id": cid.hex(),
                    "state": a.state,
                    "global_call_id": None if a.global_call_id is None else a.global_call_id.hex(),
                    "calling_device": a.calling,
                    "called_device": a.called,
                }
                for cid, a in self.active.items()
            ],
            # The monitor's snapshot has come: "calls" is what is under way.
            "complete": self.snapshot_seen,
            "base": self.base,
            "items": list(self.items),
        }


def snapshot_payload(
    device: str, calls: tuple[SnapshotCall, ...] | None, reason: str
) -> dict[str, Any]:
    return {
        "device": device,
        "calls": None if calls is None else [wire.snapshot_call_to_json(c) for c in calls],
        "reason": reason,
    }
