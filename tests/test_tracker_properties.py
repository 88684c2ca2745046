"""Properties of the call tracker over whole families of event sequences.

- Seen from any non-empty subset of the devices involved, each scenario of the contract gives
  exactly one history row (consultation calls are deleted).
- Shuffled, dropped, duplicated events and link losses at any point never raise, never give
  one global call id two keys, never bring back a deleted key, and never put a call's times
  out of order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from itertools import combinations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cstapopup.calls.model import Call, Outcome
from cstapopup.calls.tracker import CallTracker
from cstapopup.csta.events import ConnectionId, DeviceId, SnapshotCall

from . import event_sequences as es
from .event_sequences import T0, Sequence

# (name, builder, devices that may be monitored)
SCENARIOS: list[tuple[str, Callable[[Sequence], object], tuple[str, ...]]] = [
    ("incoming-answered", es.incoming_answered, ("100",)),
    ("incoming-missed", es.incoming_missed, ("100",)),
    ("incoming-busy", es.incoming_busy, ("100",)),
    ("restricted-caller", es.restricted_caller, ("100",)),
    ("outgoing", es.outgoing, ("100",)),
    ("outgoing-abandoned", lambda seq: es.outgoing(seq, answered=False), ("100",)),
    ("internal", es.internal, ("100", "101")),
    ("internal-unanswered", lambda seq: es.internal(seq, answered=False), ("100", "101")),
    ("transfer", es.transfer, ("100", "101")),
    ("transfer-chain", es.transfer_chain, ("100", "101", "102")),
    ("deflect", es.deflect, ("100", "102")),
    ("pickup", es.pickup, ("100", "101")),
    ("conference", es.conference, ("100", "101")),
]


def subsets(devices: tuple[str, ...]) -> list[frozenset[str]]:
    return [frozenset(c) for n in range(1, len(devices) + 1) for c in combinations(devices, n)]


@pytest.mark.parametrize(
    ("name", "monitored"),
    [(name, m) for name, _, devices in SCENARIOS for m in subsets(devices)],
    ids=lambda v: "+".join(sorted(v)) if isinstance(v, frozenset) else v,
)
@pytest.mark.parametrize("with_states", [True, False], ids=["lcs", "no-lcs"])
def test_one_call_is_one_row_whichever_devices_are_monitored(name, monitored, with_states):
    builder = next(b for n, b, _ in SCENARIOS if n == name)
    for reverse in (False, True):
        seq = Sequence(monitored, reverse_copies=reverse, with_states=with_states)
        builder(seq)
        tracker = CallTracker(monitored, strict=True)
        rows: dict[str, Call] = {}
        for item in seq.items:
            for call in tracker.feed(*item):
                rows[call.key] = call
            for key in tracker.drain_deleted():
                rows.pop(key)
        assert len(rows) == 1, (name, monitored, list(rows))
        call = next(iter(rows.values()))
        assert not call.is_live and not call.end_unknown
        assert call.outcome not in (Outcome.IN_PROGRESS, Outcome.UNKNOWN)
        assert set(call.local_devices) <= monitored


def _mixes() -> list[Callable[[Sequence], object]]:
    """Sequences of more than one call: scenarios back to back, sharing callers and ids."""

    def missed_then_answered(seq: Sequence) -> None:
        es.incoming_missed(seq, cid=0x0001)
        seq.wait(5)
        es.incoming_answered(seq, cid=0x0002)

    def reused_call_id(seq: Sequence) -> None:
        es.incoming_missed(seq, cid=0x0042)
        seq.wait(1)
        es.incoming_answered(seq, cid=0x0042, caller=es.Y)

    def overlapping(seq: Sequence) -> None:
        es.internal(seq, cid=0x0010, caller="101", callee="102")
        seq.wait(-20)
        es.transfer(seq, cid1=0x0011, cid2=0x0012)

    return [missed_then_answered, reused_call_id, overlapping]


BUILDERS = [b for _, b, _ in SCENARIOS] + _mixes()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_mangling_of_the_events_never_raises_nor_splits_a_call(data):
    builder = data.draw(st.sampled_from(BUILDERS), label="scenario")
    monitored = data.draw(st.sets(st.sampled_from(["100", "101", "102"]), min_size=1),
                          label="monitored")
    seq = Sequence(monitored, with_timestamps=data.draw(st.booleans(), label="timestamps"),
                   with_states=data.draw(st.booleans(), label="local states"),
                   with_global_ids=data.draw(st.sampled_from([True, True, False]),
                                             label="global ids"))
    builder(seq)
    items = list(seq.items)
    if not items:
        return
    n = len(items)
    order = data.draw(st.permutations(range(n)), label="order")
    # Mostly local disorder, sometimes a full shuffle.
    if data.draw(st.booleans(), label="full shuffle"):
        items = [items[i] for i in order]
    else:
        swaps = (data.draw(st.lists(st.integers(0, n - 2), max_size=n), label="swaps")
                 if n > 1 else [])
        for i in swaps:
            items[i], items[i + 1] = items[i + 1], items[i]
    fate = data.draw(st.lists(st.sampled_from(["keep", "keep", "keep", "drop", "twice"]),
                              min_size=n, max_size=n), label="fate")
    mangled = []
    for item, f in zip(items, fate):
        if f != "drop":
            mangled.append(item)
        if f == "twice":
            mangled.append(item)
    retime = data.draw(st.booleans(), label="retime in arrival order")
    losses = set(data.draw(st.lists(st.integers(0, len(mangled)), max_size=2), label="losses"))
    # Snapshots after a (re)start of a monitor, at any point, listing any of the calls.
    snapshots = {
        i: (data.draw(st.sampled_from(sorted(monitored)), label="snapshot device"),
            data.draw(st.lists(st.tuples(st.integers(0, max(0, len(items) - 1)),
                                         st.sampled_from(["alerting", "connected", "hold", "null", None])),
                               max_size=3), label="listed"))
        for i in data.draw(st.lists(st.integers(0, len(mangled)), max_size=2), label="snapshots")
    }

    tracker = CallTracker(monitored, clock=lambda: T0, strict=True)
    keys_by_gid: dict[str, set[str]] = defaultdict(set)
    deleted: set[str] = set()

    def take(calls: list[Call]) -> None:
        assert len({c.key for c in calls}) == len(calls)
        for call in calls:
            assert call.key not in deleted
            kind, ident, _ = call.key.split(":")
            if kind == "g":
                keys_by_gid[ident].add(call.key)
            if call.answered_at is not None:
                assert call.started_at <= call.answered_at
            if call.ended_at is not None:
                assert call.started_at <= call.ended_at
                assert call.answered_at is None or call.answered_at <= call.ended_at
                assert not call.end_unknown
            assert call.started_at.utcoffset() == timedelta(0)
        deleted.update(tracker.drain_deleted())
        tracker.drain_resolved()

    for i, item in enumerate(mangled):
        at = T0 + timedelta(seconds=i) if retime else item.received_at
        if i in losses:
            take(tracker.link_lost(at))
        if i in snapshots:
            device, listed = snapshots[i]
            take(tracker.snapshot(device, [
                SnapshotCall(ConnectionId(items[k].event.call_id, DeviceId.of(device)), state,
                             items[k].event.global_call_id) for k, state in listed], at))
        take(tracker.feed(item.monitor, item.event, at))
    if len(mangled) in losses:
        take(tracker.link_lost(T0 + timedelta(hours=1)))

    split = {gid: keys for gid, keys in keys_by_gid.items() if len(keys) > 1}
    assert not split
