"""The tracker's memory stays bounded whatever the PBX sends: a flood of calls that never end
(a PBX that does not send the ends of calls, or 50,000 distinct Delivered events) levels off
at `live_limit` live calls, and none of them vanishes without a row that says so."""

from __future__ import annotations

import logging
import tracemalloc
from datetime import datetime, timedelta

import pytest

from cstapopup.calls.model import Call, Outcome
from cstapopup.calls.tracker import LIVE_LIMIT, CallTracker
from cstapopup.csta.events import (
    ConnectionClearedEvent,
    ConnectionId,
    DeliveredEvent,
    DeviceId,
    EstablishedEvent,
    HeldEvent,
    RetrievedEvent,
)

from .event_sequences import T0

DEVICES = [str(d) for d in range(100, 150)]


def gid(i: int) -> bytes:
    cid = i % 0xFFFF + 1
    return b"\x01" + i.to_bytes(13, "big") + cid.to_bytes(2, "big")


def delivered(i: int) -> tuple[str, DeliveredEvent]:
    """A call that rings at one of 50 devices; its end never comes."""
    device = DEVICES[i % len(DEVICES)]
    g = gid(i)
    return device, DeliveredEvent(
        cross_ref_id=b"\x00\x01", connection=ConnectionId(g[-2:], DeviceId.of(device)),
        alerting_device=DeviceId.of(device), calling_device=DeviceId.of(f"0089{i:07d}"),
        called_device=DeviceId.of(device), associated_calling_device=DeviceId.of("9901"),
        local_connection_state="alerting", cause="new_call", global_call_id=g, thread_id=g)


class Rows:
    """What the history holds, in a bounded form: the keys still live, and a count of the
    ones settled (each checked as it comes)."""

    def __init__(self) -> None:
        self.live: set[str] = set()
        self.settled = 0
        self.seen = 0

    def take(self, calls: list[Call]) -> None:
        for call in calls:
            if call.is_live:
                if call.key not in self.live:
                    self.seen += 1
                    self.live.add(call.key)
                continue
            assert call.key in self.live, f"{call.key}: settled without having been live"
            self.live.discard(call.key)
            self.settled += 1
            # Honest: its end was not seen, how it went is not claimed, the hop says why.
            assert call.end_unknown and call.ended_at is None, call
            assert call.outcome is Outcome.UNKNOWN, call
            assert call.hops[-1].kind == "overflow", call


def flood(tracker: CallTracker, rows: Rows, first: int, n: int, start: datetime) -> None:
    for i in range(first, first + n):
        device, event = delivered(i)
        rows.take(tracker.feed(device, event, start + timedelta(milliseconds=20 * i)))
        assert len(tracker._live) <= tracker._live_limit


def test_a_flood_of_never_ending_calls_levels_off_and_every_call_keeps_a_row(caplog):
    caplog.set_level(logging.WARNING, logger="cstapopup.calls.tracker")
    limit, remembered = 400, 300
    tracker = CallTracker(DEVICES, strict=True, live_limit=limit, memory_limit=remembered)
    rows = Rows()
    tracemalloc.start()
    try:
        # Warm up past both bounds, then measure over four times as many calls again.
        flood(tracker, rows, 0, 3000, T0)
        level, _ = tracemalloc.get_traced_memory()
        flood(tracker, rows, 3000, 12000, T0)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Memory levels off: 12,000 more calls at about 4 KB each would be some 48 MB.
    assert after - level < 0.05 * level + 256 * 1024, (level, after)
    assert len(tracker._live) <= limit and len(tracker._memory) <= remembered
    assert len(tracker._by_gid) <= limit + remembered and len(tracker._by_cid) <= limit + remembered
    # None vanished: every call got a row; the ones no longer live were settled as such.
    assert rows.seen == 15000
    assert rows.live == {c.key for c in tracker.live_calls()}
    assert rows.settled == 15000 - len(rows.live) == tracker.overflow_count
    # Said loudly, not once per call: at the first and at each thousandth.
    warnings = [r for r in caplog.records if "calls in progress" in r.getMessage()]
    assert 1 <= len(warnings) <= 15000 // 1000 + 1
    assert f"more than {limit} calls in progress" in warnings[0].getMessage()


def test_the_calls_given_up_are_those_with_the_oldest_news():
    tracker = CallTracker(DEVICES, strict=True, live_limit=50)
    rows = Rows()
    # The first call is answered and keeps having news (hold, retrieve) through the flood.
    device, first = delivered(0)
    rows.take(tracker.feed(device, first, T0))
    rows.take(tracker.feed(device, EstablishedEvent(
        cross_ref_id=b"\x00\x01", connection=first.connection,
        answering_device=DeviceId.of(device), local_connection_state="connected",
        global_call_id=first.global_call_id), T0))
    for i in range(1, 400):
        d, event = delivered(i)
        at = T0 + timedelta(seconds=i)
        rows.take(tracker.feed(d, event, at))
        if i % 20 == 0:
            news = HeldEvent if i % 40 == 0 else RetrievedEvent
            rows.take(tracker.feed(device, news(
                cross_ref_id=b"\x00\x01", connection=first.connection,
                local_connection_state="hold" if news is HeldEvent else "connected",
                global_call_id=first.global_call_id), at))
    live = {c.key: c for c in tracker.live_calls()}
    assert any(k.startswith(f"g:{first.global_call_id.hex()}:") for k in live)
    # The others that are still live are the latest ones.
    started = sorted(c.started_at for c in live.values() if c.answered_by is None)
    assert started[0] > T0 + timedelta(seconds=300)
    assert tracker.overflow_count == rows.settled > 0


def test_a_call_given_up_whose_events_come_later_continues_with_the_gap_marked():
    tracker = CallTracker(DEVICES, strict=True, live_limit=20)
    rows: dict[str, Call] = {}
    for i in range(40):
        d, event = delivered(i)
        for call in tracker.feed(d, event, T0 + timedelta(seconds=i)):
            rows[call.key] = call
    device, event = delivered(0)
    key = next(k for k in rows if k.startswith(f"g:{event.global_call_id.hex()}:"))
    assert rows[key].end_unknown and rows[key].hops[-1].kind == "overflow"
    clear = ConnectionClearedEvent(cross_ref_id=b"\x00\x01", connection=event.connection,
                                   releasing_device=DeviceId.of(device),
                                   local_connection_state="null",
                                   global_call_id=event.global_call_id)
    (ended,) = [c for c in tracker.feed(device, clear, T0 + timedelta(seconds=60))
                if c.key == key]
    assert ended.ended_at is not None and not ended.end_unknown
    assert ended.outcome is Outcome.UNKNOWN   # what happened in between was not followed


def test_calls_without_news_for_stale_after_are_given_up_with_their_own_hop():
    tracker = CallTracker(DEVICES, strict=True, stale_after=timedelta(hours=2))
    d, event = delivered(1)
    tracker.feed(d, event, T0)
    d2, later = delivered(2)
    (stale,) = [c for c in tracker.feed(d2, later, T0 + timedelta(hours=3)) if c.started_at == T0]
    assert stale.end_unknown and stale.hops[-1].kind == "stale"
    assert tracker.stale_count == 1 and tracker.overflow_count == 0


def test_the_default_bound_is_far_above_an_office_and_below_unbounded():
    assert 1000 <= LIVE_LIMIT <= 10_000
    with pytest.raises(ValueError):
        CallTracker(DEVICES, live_limit=0)
