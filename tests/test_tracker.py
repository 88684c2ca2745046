"""The call tracker against the event sequences of docs/event-sequences.md, monitor by monitor."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest

from cstapopup.calls.model import Call, Direction, Outcome
from cstapopup.calls.tracker import CallTracker
from cstapopup.csta.events import (
    SnapshotCall,
    ConnectionClearedEvent,
    ConnectionId,
    DeviceId,
    DoNotDisturbEvent,
    EstablishedEvent,
    HeldEvent,
    HookswitchEvent,
    UnknownEvent,
)

from . import event_sequences as es
from .event_sequences import T0, TRUNK, X, Y, Delivery, Sequence


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def near(t: datetime | None, seconds: float) -> bool:
    """The copies of one event reach the monitors a few milliseconds apart."""
    return t is not None and abs((t - s(seconds)).total_seconds()) < 0.05


@dataclass
class Run:
    """What a recorder would have stored after feeding a sequence."""

    tracker: CallTracker
    rows: dict[str, Call] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    resolved: list[tuple[str, datetime]] = field(default_factory=list)
    emitted: list[Call] = field(default_factory=list)

    def feed(self, items: list[Delivery]) -> Run:
        for item in items:
            self.take(self.tracker.feed(item.monitor, item.event, item.received_at))
        return self

    def take(self, calls: list[Call]) -> None:
        for call in calls:
            assert call.key not in self.deleted, "a deleted key came back"
            self.rows[call.key] = call
            self.emitted.append(call)
        for key in self.tracker.drain_deleted():
            self.deleted.append(key)
            self.rows.pop(key, None)
        self.resolved.extend(self.tracker.drain_resolved())

    @property
    def only(self) -> Call:
        assert len(self.rows) == 1, list(self.rows.values())
        return next(iter(self.rows.values()))


def run(seq: Sequence, monitored: set[str] | None = None, **options) -> Run:
    tracker = CallTracker(monitored if monitored is not None else seq.monitored,
                          clock=lambda: T0, strict=True, **options)
    return Run(tracker).feed(seq.items)


def hop_kinds(call: Call) -> list[tuple[str, str | None, str | None]]:
    return [(h.kind, h.device, h.detail) for h in call.hops]


# Incoming -------------------------------------------------------------------------------------


@pytest.mark.parametrize("remote_hangs_up", [True, False])
def test_incoming_answered(remote_hangs_up):
    seq = Sequence({"100"})
    c = es.incoming_answered(seq, remote_hangs_up=remote_hangs_up)
    call = run(seq).only
    assert call.key == f"g:{c.gid.hex()}:20240304T090000.000000Z"
    assert call.direction is Direction.INCOMING
    assert (call.remote_number, call.remote_kind) == (X, "number")
    assert call.local_devices == ("100",)
    assert (call.called_number, call.trunk) == ("100", TRUNK)
    # Receive times, not the PBX's local clock (one hour ahead in these sequences).
    assert (call.started_at, call.answered_at, call.ended_at) == (T0, s(5), s(65))
    assert (call.ring_seconds, call.talk_seconds) == (5, 60)
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "100"
    assert not call.end_unknown and not call.is_live
    expected = [("delivered", "100", "new_call"), ("answered", "100", "new_call")]
    if remote_hangs_up:
        expected.append(("cleared", X, "normal_clearing"))
    expected.append(("cleared", "100", "normal_clearing"))
    assert hop_kinds(call) == expected


def test_incoming_answered_is_live_until_cleared():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:1])
    assert r.only.outcome is Outcome.IN_PROGRESS and r.only.is_live
    r.feed(seq.items[1:2])
    assert r.only.outcome is Outcome.ANSWERED and r.only.is_live
    assert r.tracker.live_calls() == [r.only.evolve(updated_at=None)]
    r.feed(seq.items[2:])
    assert not r.only.is_live and r.tracker.live_calls() == []


def test_incoming_missed():
    seq = Sequence({"100"})
    es.incoming_missed(seq)
    call = run(seq).only
    assert call.outcome is Outcome.MISSED and call.is_missed
    assert call.answered_at is None and call.answered_by is None
    assert call.ended_at == s(20) and call.ring_seconds == 20 and call.talk_seconds is None
    assert call.direction is Direction.INCOMING and call.remote_number == X
    assert not call.done


def test_incoming_busy():
    seq = Sequence({"100"})
    es.incoming_busy(seq)
    call = run(seq).only
    assert call.outcome is Outcome.BUSY
    assert call.direction is Direction.INCOMING and call.remote_number == X
    assert [h.kind for h in call.hops] == ["failed", "cleared"]


def test_restricted_caller():
    seq = Sequence({"100"})
    es.restricted_caller(seq)
    call = run(seq).only
    assert call.remote_kind == "restricted" and call.remote_number is None
    assert call.direction is Direction.INCOMING
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "100"


def test_not_known_caller_is_incoming_not_known():
    seq = Sequence({"100"})
    es.incoming_missed(seq, caller=DeviceId("not_known"))
    call = run(seq).only
    assert (call.direction, call.remote_kind, call.remote_number) == (
        Direction.INCOMING, "not_known", None)


# Outgoing -------------------------------------------------------------------------------------


def test_outgoing_answered():
    seq = Sequence({"100"})
    es.outgoing(seq)
    call = run(seq).only
    assert call.direction is Direction.OUTGOING
    assert (call.remote_number, call.called_number, call.trunk) == (Y, Y, TRUNK)
    assert call.outcome is Outcome.ANSWERED and call.answered_by == Y
    assert (call.answered_at, call.ended_at) == (s(10), s(40))
    assert call.local_devices == ("100",)
    assert hop_kinds(call)[0] == ("originated", "100", Y)


def test_outgoing_abandoned():
    seq = Sequence({"100"})
    es.outgoing(seq, answered=False)
    call = run(seq).only
    assert call.outcome is Outcome.ABANDONED and call.answered_at is None
    assert call.ended_at == s(10)


@pytest.mark.parametrize(("cause", "outcome"), [("busy", Outcome.BUSY),
                                                ("number_unallocated", Outcome.FAILED)])
def test_outgoing_failed(cause, outcome):
    seq = Sequence({"100"})
    es.outgoing(seq, failure=cause)
    call = run(seq).only
    assert call.outcome is outcome and call.direction is Direction.OUTGOING


def test_lifting_the_handset_without_dialling_makes_no_row():
    seq = Sequence({"100"})
    c = seq.call(0x0777)
    es.dial(seq, c, "100", "101")
    # Only service_initiated then the clear: drop the originated event.
    seq.items = seq.items[:1]
    es.clear(seq, c, "100", {"100": "null"})
    r = run(seq)
    assert r.rows == {} and r.tracker.live_calls() == []


# Internal -------------------------------------------------------------------------------------


@pytest.mark.parametrize("monitored", [{"100"}, {"101"}, {"100", "101"}])
@pytest.mark.parametrize("reverse_copies", [False, True])
def test_internal_answered_is_one_call_from_either_or_both_ends(monitored, reverse_copies):
    seq = Sequence(monitored, reverse_copies=reverse_copies)
    es.internal(seq)
    call = run(seq).only
    assert call.direction is Direction.INTERNAL
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "101"
    # The other device as seen from the caller when we see the caller, else the caller.
    assert call.remote_number == ("100" if monitored == {"101"} else "101")
    assert call.local_devices == tuple(sorted(monitored))
    assert near(call.ended_at, 25) and near(call.answered_at, 5)
    kinds = [h.kind for h in call.hops]
    start = ["originated"] if "100" in monitored else []
    # 100 hangs up first: once out of the call, its monitor sees nothing more of it.
    clears = ["cleared", "cleared"] if "101" in monitored else ["cleared"]
    assert kinds == start + ["delivered", "answered"] + clears


@pytest.mark.parametrize("first", ["100", "101"])
def test_internal_either_side_hangs_up_first(first):
    seq = Sequence({"100", "101"})
    es.internal(seq, first_to_hang_up=first)
    call = run(seq).only
    assert near(call.ended_at, 25) and not call.is_live
    other = "101" if first == "100" else "100"
    assert [h.device for h in call.hops if h.kind == "cleared"] == [first, other]


@pytest.mark.parametrize(("monitored", "outcome"), [
    ({"100"}, Outcome.ABANDONED),     # our caller gave up
    ({"101"}, Outcome.MISSED),        # it rang at ours, nobody answered
    ({"100", "101"}, Outcome.MISSED),
])
def test_internal_unanswered(monitored, outcome):
    seq = Sequence(monitored)
    es.internal(seq, answered=False)
    call = run(seq).only
    assert call.outcome is outcome and call.answered_at is None


# Transfer -------------------------------------------------------------------------------------


def test_transfer_seen_from_the_transferring_device():
    seq = Sequence({"100"})
    c1, c2 = es.transfer(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:")
    assert call.outcome is Outcome.TRANSFERRED
    assert (call.answered_by, call.transferred_to) == ("100", "101")
    assert call.remote_number == X and call.direction is Direction.INCOMING
    # It left our devices at the transfer: that is where our view of it ends.
    assert call.answered_at == s(3) and call.ended_at == s(33)
    assert call.local_devices == ("100",)
    assert hop_kinds(call)[2:] == [("held", "100", "consultation"), ("consulted", "100", "101"),
                                   ("transferred", "100", "101")]
    # The consultation call had a row while it lived; the recorder is told to delete it.
    assert len(r.deleted) == 1 and r.deleted[0].startswith(f"g:{c2.gid.hex()}:")
    assert any(c.key == r.deleted[0] for c in r.emitted)


@pytest.mark.parametrize("reverse_copies", [False, True])
def test_transfer_seen_from_both_ends(reverse_copies):
    seq = Sequence({"100", "101"}, reverse_copies=reverse_copies)
    c1, c2 = es.transfer(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:")
    assert call.outcome is Outcome.TRANSFERRED
    assert (call.answered_by, call.transferred_to) == ("100", "101")
    assert call.local_devices == ("100", "101")
    assert call.ended_at == s(73) and call.answered_at == s(3)
    assert hop_kinds(call) == [
        ("delivered", "100", "new_call"), ("answered", "100", "new_call"),
        ("held", "100", "consultation"), ("consulted", "100", "101"),
        ("transferred", "100", "101"),
        ("cleared", X, "normal_clearing"), ("cleared", "101", "normal_clearing"),
    ]
    assert len(r.deleted) == 1 and r.deleted[0].startswith(f"g:{c2.gid.hex()}:")


def test_transfer_seen_from_the_target_only():
    seq = Sequence({"101"})
    c1, c2 = es.transfer(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:")
    assert call.direction is Direction.INCOMING and call.remote_number == X
    assert call.outcome is Outcome.TRANSFERRED
    # As 101 saw it: the call rang at 101 (the consultation) at 20 s, 101 answered at 23 s,
    # and X was put through.  (With 100 monitored too, answered_by is 100: it answered first.)
    assert (call.answered_by, call.transferred_to) == ("101", "101")
    assert (call.started_at, call.answered_at, call.ended_at) == (s(20), s(23), s(73))
    assert [h.kind for h in call.hops] == ["delivered", "answered", "transferred",
                                          "cleared", "cleared"]
    assert len(r.deleted) == 1 and r.deleted[0].startswith(f"g:{c2.gid.hex()}:")


def test_transfer_chain_keeps_one_record_and_every_hop_in_order():
    seq = Sequence({"100", "101", "102"})
    c1, c2, c3 = es.transfer_chain(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:")
    assert call.outcome is Outcome.TRANSFERRED
    # transferred_to is the last target: where the caller ended up.
    assert (call.answered_by, call.transferred_to) == ("100", "102")
    assert call.local_devices == ("100", "101", "102")
    transfers = [(h.device, h.detail) for h in call.hops if h.kind == "transferred"]
    assert transfers == [("100", "101"), ("101", "102")]
    assert [h.kind for h in call.hops] == [
        "delivered", "answered", "held", "consulted", "transferred", "held", "consulted",
        "transferred", "cleared", "cleared"]
    consulted = [(h.device, h.detail) for h in call.hops if h.kind == "consulted"]
    assert consulted == [("100", "101"), ("101", "102")]
    assert [h.at for h in call.hops] == sorted(h.at for h in call.hops)
    assert sorted(k.split(":")[1] for k in r.deleted) == sorted([c2.gid.hex(), c3.gid.hex()])


def test_late_events_of_an_absorbed_consultation_make_no_row():
    seq = Sequence({"100"})
    c1, c2 = es.transfer(seq)
    es.clear(seq, c2, "100", {"100": "null"})   # a PBX that still clears the consultation
    r = run(seq)
    assert len(r.rows) == 1 and len(r.deleted) == 1


def test_conference_absorbs_the_consultation_and_continues():
    seq = Sequence({"100", "101"})
    c1, c2 = es.conference(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:")
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "100"
    assert call.local_devices == ("100", "101")
    assert ("conferenced", "100", "101") in hop_kinds(call)
    assert not call.is_live and near(call.ended_at, 49)
    assert len(r.deleted) == 1 and r.deleted[0].startswith(f"g:{c2.gid.hex()}:")


# Deflect, forwarding, pickup ------------------------------------------------------------------


def test_deflect_seen_from_the_deflecting_device_only():
    seq = Sequence({"100"})
    es.deflect(seq)
    call = run(seq).only
    assert call.outcome is Outcome.DIVERTED and call.diverted_to == "102"
    assert call.answered_at is None and call.answered_by is None
    assert call.ended_at == s(4) and call.ring_seconds == 4
    assert call.local_devices == ("100",) and call.called_number == "100"
    assert hop_kinds(call) == [("delivered", "100", "new_call"), ("diverted", "100", "102")]


def test_no_answer_forwarding_is_diverted():
    seq = Sequence({"100"})
    es.deflect(seq, cause="call_forward_no_answer", to="0711999")
    call = run(seq).only
    assert call.outcome is Outcome.DIVERTED and call.diverted_to == "0711999"


@pytest.mark.parametrize("reverse_copies", [False, True])
def test_deflect_seen_from_both_devices_is_answered_with_a_diverted_hop(reverse_copies):
    seq = Sequence({"100", "102"}, reverse_copies=reverse_copies)
    es.deflect(seq)
    call = run(seq).only
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "102"
    assert call.diverted_to == "102" and call.called_number == "100"
    assert call.local_devices == ("100", "102")
    assert [h.kind for h in call.hops] == ["delivered", "diverted", "delivered", "answered",
                                          "cleared", "cleared"]
    assert (call.answered_at, call.ended_at) == (s(7), s(32))


def test_deflected_to_ours_and_unanswered_is_missed():
    seq = Sequence({"100", "102"})
    es.deflect(seq, answered=False)
    call = run(seq).only
    assert call.outcome is Outcome.MISSED and call.diverted_to == "102"


def test_deflect_seen_from_the_target_only():
    seq = Sequence({"102"})
    es.deflect(seq)
    call = run(seq).only
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "102"
    assert call.called_number == "100" and call.local_devices == ("102",)
    assert call.hops[0].detail == "redirected"


def test_pickup_seen_from_the_ringing_device_is_answered_elsewhere():
    seq = Sequence({"100"})
    es.pickup(seq)
    call = run(seq).only
    assert call.outcome is Outcome.ANSWERED_ELSEWHERE and call.answered_by == "101"
    # Not answered at one of ours: no answer time; it left our devices at the pickup.
    assert call.answered_at is None and call.ended_at == s(6)
    assert call.ring_seconds == 6 and call.talk_seconds is None
    assert hop_kinds(call)[-1] == ("answered", "101", "call_pickup")
    assert not call.is_missed


def test_pickup_by_a_monitored_device_is_answered():
    seq = Sequence({"100", "101"})
    es.pickup(seq)
    call = run(seq).only
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "101"
    assert call.answered_at == s(6) and call.ended_at == s(36)
    assert call.local_devices == ("100", "101")


# Duplicates, inconsistencies, unrelated events ------------------------------------------------


@pytest.mark.parametrize("scenario", [es.incoming_answered, es.transfer, es.deflect, es.internal])
def test_every_event_delivered_twice_changes_nothing(scenario):
    once, twice = Sequence({"100", "101", "102"}), Sequence({"100", "101", "102"})
    scenario(once)
    scenario(twice)
    twice.items = [d for item in twice.items for d in (item, item)]
    a, b = run(once), run(twice)
    strip = lambda r: {k: c.evolve(updated_at=None) for k, c in r.rows.items()}  # noqa: E731
    assert strip(a) == strip(b) and len(a.rows) == 1
    assert a.deleted == b.deleted


def test_duplicate_copies_return_nothing_new():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    tracker = CallTracker({"100"}, strict=True)
    first = seq.items[0]
    assert len(tracker.feed(*first)) == 1
    assert tracker.feed(*first) == []


def test_events_not_about_calls_are_ignored():
    tracker = CallTracker({"100"}, strict=True)
    assert tracker.feed("100", HookswitchEvent(cross_ref_id=b"\0\1",
                                               device=DeviceId.of("100"))) == []
    assert tracker.feed("100", DoNotDisturbEvent(cross_ref_id=b"\0\1",
                                                 device=DeviceId.of("100"))) == []
    assert tracker.feed("100", UnknownEvent(cross_ref_id=b"\0\1", category="voice_unit")) == []


def test_clears_and_holds_of_unknown_calls_are_ignored():
    tracker = CallTracker({"100"}, strict=True)
    conn = ConnectionId(b"\x12\x34", DeviceId.of("100"))
    assert tracker.feed("100", ConnectionClearedEvent(cross_ref_id=b"\0\1", connection=conn,
                                                      local_connection_state="null")) == []
    assert tracker.feed("100", HeldEvent(cross_ref_id=b"\0\1", connection=conn)) == []
    assert tracker.feed("100", ConnectionClearedEvent(cross_ref_id=b"\0\1",
                                                      connection=ConnectionId(None))) == []
    assert tracker.live_calls() == []


def test_a_call_first_seen_answered_is_recorded_as_answered():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    seq.items = seq.items[1:]          # the delivered event was lost
    call = run(seq).only
    assert call.outcome is Outcome.ANSWERED and call.started_at == s(5)
    assert call.answered_at == s(5) and call.remote_number == X


def test_late_duplicate_clear_after_the_end_is_ignored():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    r = run(seq)
    last = seq.items[-1]
    assert r.tracker.feed(last.monitor, last.event, last.received_at + timedelta(seconds=1)) == []


def test_receive_times_that_step_back_keep_the_call_in_order():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    items = list(seq.items)
    items[-1] = items[-1]._replace(received_at=T0 - timedelta(seconds=30))
    call = Run(CallTracker({"100"}, strict=True)).feed(items).only
    assert call.started_at <= call.answered_at <= call.ended_at


# Link loss ------------------------------------------------------------------------------------


def test_link_loss_in_an_answered_call_then_its_events_continue_the_record():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:2])
    key = r.only.key
    r.take(r.tracker.link_lost(s(30)))
    call = r.only
    assert call.end_unknown and call.ended_at is None and not call.is_live
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "100"
    assert call.hops[-1].kind == "link_lost"
    assert r.tracker.live_calls() == []
    # After the reconnect the same call's clears arrive: the same record, with its end now
    # known.  What happened while the link was down is not (a transfer, say): the outcome
    # is not claimed, what was seen stays.
    r.feed(seq.items[2:])
    call = r.only
    assert call.key == key
    assert not call.end_unknown and call.ended_at == s(65)
    assert call.outcome is Outcome.UNKNOWN and call.answered_by == "100"
    assert call.talk_seconds == 60
    kinds = [h.kind for h in call.hops]
    assert kinds[:3] == ["delivered", "answered", "link_lost"] and len(kinds) > 3
    assert kinds[3:] == ["cleared"] * (len(kinds) - 3)


def test_link_loss_while_ringing_is_unknown_and_never_invents_an_end():
    seq = Sequence({"100"})
    es.incoming_missed(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:1])
    r.take(r.tracker.link_lost(s(3)))
    call = r.only
    assert call.outcome is Outcome.UNKNOWN and call.end_unknown and call.ended_at is None
    assert not call.is_missed
    # Nothing more of it ever arrives; a later, unrelated call does not touch it.
    seq2 = Sequence({"100"}, start=s(600))
    es.incoming_answered(seq2, cid=0x0999)
    r.feed(seq2.items)
    assert r.rows[call.key] == call and len(r.rows) == 2


def test_link_loss_while_ringing_then_its_end_arrives_outcome_stays_unknown():
    """It may have been answered, picked up or forwarded while the link was down: seeing its
    clear afterwards does not make it a missed call."""
    seq = Sequence({"100"})
    es.incoming_missed(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:1])
    r.take(r.tracker.link_lost(s(3)))
    r.feed(seq.items[1:])
    call = r.only
    assert call.outcome is Outcome.UNKNOWN and not call.end_unknown and call.ended_at == s(20)
    assert not call.is_missed


def test_link_loss_without_global_ids_resumes_by_call_id():
    seq = Sequence({"100"}, with_global_ids=False)
    es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:2])
    assert r.only.key.startswith("c:0101:")
    r.take(r.tracker.link_lost(s(30)))
    r.feed(seq.items[2:])
    assert r.only.ended_at == s(65) and not r.only.end_unknown


def test_calls_whose_end_is_never_seen_are_closed_after_stale_after():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True, stale_after=timedelta(hours=2)))
    r.feed(seq.items[:2])
    later = Sequence({"100"}, start=s(3 * 3600))
    es.incoming_missed(later, cid=0x0888)
    r.feed(later.items)
    first = next(c for c in r.rows.values() if c.started_at == T0)
    assert first.end_unknown and first.outcome is Outcome.ANSWERED and first.ended_at is None
    assert r.tracker.live_calls() == []


def test_set_monitored_closes_calls_left_with_no_monitored_device():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:2])
    assert r.tracker.set_monitored({"100", "101"}, at=s(10)) == []
    r.take(r.tracker.set_monitored({"101"}, at=s(11)))
    assert r.only.end_unknown and r.only.outcome is Outcome.ANSWERED


# Keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_global_ids", [True, False])
def test_a_call_id_reused_days_later_is_a_new_call(with_global_ids):
    first = Sequence({"100"}, with_global_ids=with_global_ids)
    es.incoming_answered(first, cid=0x4242)
    later = Sequence({"100"}, start=T0 + timedelta(days=3), with_global_ids=with_global_ids)
    es.incoming_missed(later, cid=0x4242)
    r = Run(CallTracker({"100"}, strict=True)).feed(first.items).feed(later.items)
    assert len(r.rows) == 2
    outcomes = sorted(c.outcome.value for c in r.rows.values())
    assert outcomes == ["answered", "missed"]


def test_a_global_id_reused_days_later_is_a_new_call():
    # Should the 14 leading bytes of HiPath's global id not change, it wraps like the call id.
    gid = es.global_id(0x4242, 7)
    first = Sequence({"100"})
    c = first.call(0x4242, gid=gid)
    es.ring(first, c, "100")
    es.clear(first, c, "100", {"100": "null"})
    later = Sequence({"100"}, start=T0 + timedelta(days=3))
    c2 = later.call(0x4242, gid=gid)
    es.ring(later, c2, "100", caller=Y)
    r = Run(CallTracker({"100"}, strict=True)).feed(first.items).feed(later.items)
    assert len(r.rows) == 2
    assert {c.remote_number for c in r.rows.values()} == {X, Y}


def test_a_call_id_reused_at_once_without_global_ids_is_a_new_call():
    seq = Sequence({"100"}, with_global_ids=False)
    es.incoming_missed(seq, cid=0x0042)
    seq.wait(1)
    es.incoming_answered(seq, cid=0x0042, caller=Y)
    r = run(seq)
    assert len(r.rows) == 2
    assert {(c.remote_number, c.outcome) for c in r.rows.values()} == {
        (X, Outcome.MISSED), (Y, Outcome.ANSWERED)}


def test_a_call_first_seen_without_a_global_id_keeps_its_key_when_one_arrives():
    seq = Sequence({"100"})
    c = es.incoming_answered(seq)
    first = seq.items[0]
    items = [first._replace(event=replace(first.event, global_call_id=None))] + seq.items[1:]
    call = Run(CallTracker({"100"}, strict=True)).feed(items).only
    assert call.key.startswith("c:0101:") and call.outcome is Outcome.ANSWERED
    assert c.gid is not None


# Missed calls dealt with ----------------------------------------------------------------------


def test_missed_then_answered_from_the_same_number_marks_it_done():
    seq = Sequence({"100"})
    es.incoming_missed(seq, cid=0x0001)
    seq.wait(120)
    es.incoming_missed(seq, cid=0x0002, caller=Y)      # someone else: stays not done
    seq.wait(120)
    es.incoming_answered(seq, cid=0x0003)
    r = run(seq)
    by_outcome = {(c.remote_number, c.outcome): c for c in r.rows.values()}
    assert by_outcome[(X, Outcome.MISSED)].done
    assert not by_outcome[(Y, Outcome.MISSED)].done
    answered = by_outcome[(X, Outcome.ANSWERED)]
    assert not answered.done
    assert r.resolved == [(X, answered.answered_at)]


def test_calling_back_marks_the_missed_call_done():
    seq = Sequence({"100"})
    es.incoming_missed(seq, cid=0x0001, caller=Y)
    seq.wait(60)
    es.outgoing(seq, cid=0x0002, called=Y, answered=False)
    r = run(seq)
    missed = next(c for c in r.rows.values() if c.direction is Direction.INCOMING)
    assert missed.done
    assert r.resolved == [(Y, s(80))]


def test_missed_call_not_in_memory_is_resolved_through_drain_resolved_only():
    seq = Sequence({"100"})
    es.incoming_missed(seq, cid=0x0001)
    later = Sequence({"100"}, start=T0 + timedelta(hours=5))
    es.incoming_answered(later, cid=0x0002)
    r = Run(CallTracker({"100"}, strict=True)).feed(seq.items).feed(later.items)
    missed = next(c for c in r.rows.values() if c.outcome is Outcome.MISSED)
    assert not missed.done     # the tracker forgot it; the store applies the resolution
    assert r.resolved == [(X, T0 + timedelta(hours=5, seconds=5))]


def test_answered_elsewhere_does_not_settle_missed_calls():
    seq = Sequence({"100"})
    es.incoming_missed(seq, cid=0x0001)
    seq.wait(60)
    es.pickup(seq, cid=0x0002)
    r = run(seq)
    assert r.resolved == []
    assert not next(c for c in r.rows.values() if c.outcome is Outcome.MISSED).done


def test_settling_finds_the_right_missed_calls_among_many_remembered():
    """The missed calls of a party are found by an index of the remembered calls (no scan of
    all of them per answered call): among 600 missed calls of other parties, exactly those
    of the caller who got through, and only those that rang before, are settled."""
    seq = Sequence({"100"})
    for i in range(300):
        es.incoming_missed(seq, cid=0x1000 + i, caller=f"0030{i:07d}", ring_s=2)
        seq.wait(1)
        if i in (100, 200):
            es.incoming_missed(seq, cid=0x3000 + i, caller=X, ring_s=2)
            seq.wait(1)
    es.incoming_answered(seq, cid=0x4000, caller=X)
    seq.wait(1)
    es.incoming_missed(seq, cid=0x4001, caller=X, ring_s=2)   # after it: stays not done
    for i in range(300):
        es.incoming_missed(seq, cid=0x5000 + i, caller=f"0040{i:07d}", ring_s=2)
        seq.wait(1)
    r = run(seq)
    missed = [c for c in r.rows.values() if c.outcome is Outcome.MISSED]
    assert len(missed) == 603
    done = sorted(c.started_at for c in missed if c.done)
    from_x = sorted(c.started_at for c in missed if c.remote_number == X)
    assert done == from_x[:2]


def test_settling_after_the_numbering_changed_reads_parties_the_new_way():
    """A new number key (the dial plan changed) applies to the calls already remembered."""
    seq = Sequence({"100"})
    es.incoming_missed(seq, cid=0x0001, caller="00891234567")
    seq.wait(60)
    tracker = CallTracker({"100"}, clock=lambda: T0, strict=True)
    r = Run(tracker).feed(seq.items)
    tracker.set_numbering(internal_max_length=4, number_key=lambda n: n.lstrip("0"))
    later = Sequence({"100"}, start=seq.now)
    es.outgoing(later, cid=0x0002, called="0891234567", answered=False)
    r.feed(later.items)
    assert next(c for c in r.rows.values() if c.direction is Direction.INCOMING).done


def test_number_key_compares_numbers_in_their_normal_form():
    seq = Sequence({"100"})
    es.incoming_missed(seq, cid=0x0001, caller="00891234567")
    seq.wait(60)
    es.outgoing(seq, cid=0x0002, called="0891234567", answered=False)
    r = run(seq, number_key=lambda n: n.lstrip("0"))
    assert next(c for c in r.rows.values() if c.direction is Direction.INCOMING).done


# Memory ---------------------------------------------------------------------------------------


def test_memory_stays_bounded_over_many_calls():
    seq = Sequence({"100"})
    for i in range(300):
        es.incoming_answered(seq, cid=i + 1, ring_s=1, talk_s=1)
        seq.wait(30)
    tracker = CallTracker({"100"}, strict=True, memory_limit=50)
    r = Run(tracker).feed(seq.items)
    assert len(r.rows) == 300
    assert tracker.live_calls() == []
    assert len(tracker._memory) <= 50 and len(tracker._by_gid) <= 50
    assert len(tracker._live) == 0


def test_established_without_any_parties_does_not_raise():
    tracker = CallTracker((), strict=True)
    out = tracker.feed("100", EstablishedEvent(cross_ref_id=b"", connection=ConnectionId(b"\0\1")))
    assert len(out) == 1 and out[0].local_devices == ("100",)


def test_a_consultation_call_settles_nothing():
    seq = Sequence({"100", "101"})
    es.transfer(seq)
    assert run(seq).resolved == [(X, s(3))]


def test_a_consultation_that_ends_on_its_own_is_an_internal_call():
    seq = Sequence({"100"})
    c1 = seq.call(0x0201)
    es.ring(seq, c1, "100")
    es.answer(seq, c1, "100")
    seq.emit(HeldEvent, c1, "100", {"100": "hold"}, holding_device=DeviceId.of("100"),
             cause="consultation")
    seq.wait(5)
    es.internal(seq, cid=0x0202, caller="100", callee="101")
    r = run(seq)
    internal = next(c for c in r.rows.values() if c.direction is Direction.INTERNAL)
    assert internal.outcome is Outcome.ANSWERED and r.deleted == []
    assert ("101", internal.started_at) in r.resolved
    # ... and says whose consultation it was; the held call, whom it consulted.
    assert hop_kinds(internal)[:2] == [("consultation", "100", X), ("originated", "100", "101")]
    held = next(c for c in r.rows.values() if c is not internal)
    assert ("consulted", "100", "101") in hop_kinds(held)


@pytest.mark.parametrize("with_global_ids", [True, False])
def test_a_consultation_call_id_reused_at_once_is_a_new_call(with_global_ids):
    seq = Sequence({"100"}, with_global_ids=with_global_ids)
    es.transfer(seq, cid2=0x0202)
    seq.wait(1)
    es.incoming_missed(seq, cid=0x0202, caller=Y)
    r = run(seq)
    assert {(c.remote_number, c.outcome) for c in r.rows.values()} == {
        (X, Outcome.TRANSFERRED), (Y, Outcome.MISSED)}


def test_pbx_timestamps_with_and_without_zone_do_not_raise():
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    first = seq.items[0]
    aware = replace(first.event, timestamp=first.event.timestamp.replace(tzinfo=T0.tzinfo))
    tracker = CallTracker({"100"}, strict=True)
    assert len(tracker.feed("100", first.event, first.received_at)) == 1
    assert tracker.feed("100", aware, first.received_at) == []   # same event: a duplicate


def test_an_internal_error_is_logged_and_the_event_dropped(monkeypatch, caplog):
    tracker = CallTracker({"100"})
    monkeypatch.setattr(tracker, "_apply", lambda *a: 1 / 0)
    seq = Sequence({"100"})
    es.incoming_answered(seq)
    assert tracker.feed(*seq.items[0]) == []
    assert "call tracker failed on delivered from 100" in caplog.text
    strict = CallTracker({"100"}, strict=True)
    monkeypatch.setattr(strict, "_apply", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        strict.feed(*seq.items[0])


def test_a_new_call_never_gets_the_key_of_a_deleted_one():
    # Found by the property test: a consultation's first event arriving again after the
    # transfer, with the very same receive time, is a new call (call ids get reused) and
    # would have had the deleted consultation's key.
    seq = Sequence({"100"}, with_global_ids=False)
    es.transfer(seq)
    r = run(seq)
    start_of_consultation = next(d for d in seq.items if d.event.name == "service_initiated")
    r.feed([start_of_consultation])
    r.feed([next(d for d in seq.items if d.event.name == "originated")])
    assert len(r.deleted) == 1
    assert all(key not in r.deleted for key in r.rows)


def test_transfer_chain_seen_from_the_last_target_only():
    seq = Sequence({"102"})
    c1, _, c3 = es.transfer_chain(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:") and call.remote_number == X
    assert call.outcome is Outcome.TRANSFERRED
    assert (call.answered_by, call.transferred_to) == ("102", "102")
    assert r.deleted == [k for k in r.deleted if k.startswith(f"g:{c3.gid.hex()}:")] != []


def test_conference_seen_from_the_added_party_only():
    seq = Sequence({"101"})
    c1, c2 = es.conference(seq)
    r = run(seq)
    call = r.only
    assert call.key.startswith(f"g:{c1.gid.hex()}:") and call.remote_number == X
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "101"
    assert len(r.deleted) == 1 and r.deleted[0].startswith(f"g:{c2.gid.hex()}:")


# Snapshots: calls under way before a monitor could see them ----------------------------------


def _snap(c, device: str, state: str) -> SnapshotCall:
    return SnapshotCall(ConnectionId(c.cid, DeviceId.of(device)), state, c.gid)


def test_a_call_under_way_when_monitoring_starts_gets_an_honest_row():
    """It rang and was answered before the app started: the snapshot after the monitor
    start lists it; its clears later end it.  The row says a call was there and when it
    ended, not how it went."""
    seq = Sequence({"100"})
    c = es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.take(r.tracker.snapshot("100", [_snap(c, "100", "connected")], s(30)))
    call = r.only
    assert call.outcome is Outcome.IN_PROGRESS and call.is_live
    assert call.direction is Direction.UNKNOWN and call.remote_kind == "not_known"
    assert call.started_at == s(30) and call.local_devices == ("100",)
    assert call.hops[0].kind == "under_way" and call.hops[0].device == "100"
    clears = [d for d in seq.items if d.event.name == "connection_cleared"]
    r.feed(clears)
    call = r.only
    assert call.ended_at == s(65) and not call.end_unknown
    assert call.outcome is Outcome.UNKNOWN and not call.is_missed


def test_a_call_whose_answer_is_the_first_event_seen_is_marked_by_the_snapshot():
    """Under way when the monitor started, its first event after the start is an answer; it
    must not become a complete "answered" row built from that answer alone."""
    seq = Sequence({"100"})
    c = es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    answered = [d for d in seq.items if d.event.name == "established"]
    r.feed(answered)
    r.take(r.tracker.snapshot("100", [_snap(c, "100", "connected")], s(6)))
    r.feed([d for d in seq.items if d.event.name == "connection_cleared"])
    call = r.only
    assert call.outcome is Outcome.UNKNOWN and call.answered_by == "100"
    assert call.remote_number == X and call.ended_at == s(65)


def test_a_call_that_began_after_the_monitor_started_is_left_alone_by_the_snapshot():
    seq = Sequence({"100"})
    c = es.incoming_answered(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed(seq.items[:1])                      # delivered (new call): its beginning was seen
    r.take(r.tracker.snapshot("100", [_snap(c, "100", "alerting")], s(1)))
    r.feed(seq.items[1:])
    call = r.only
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "100"
    assert "under_way" not in [h.kind for h in call.hops]


def test_a_call_listed_after_a_link_loss_went_on_unseen():
    """Closed by the link loss, listed again when the monitor is restored: continued, with
    the gap marked; a call not listed stays 'end unknown'."""
    seq = Sequence({"100"})
    c = es.incoming_answered(seq)
    es.incoming_missed(seq, cid=0x0202)
    r = Run(CallTracker({"100"}, strict=True))
    first = [d for d in seq.items if d.event.call_id == c.cid]
    other = [d for d in seq.items if d.event.call_id != c.cid]
    r.feed(first[:2]).feed(other[:1])
    r.take(r.tracker.link_lost(s(30)))
    assert all(call.end_unknown for call in r.rows.values())
    r.take(r.tracker.snapshot("100", [_snap(c, "100", "connected")], s(32)))
    continued = next(call for call in r.rows.values() if call.answered_by == "100")
    gone = next(call for call in r.rows.values() if call is not continued)
    assert continued.is_live and not continued.end_unknown
    assert [h.kind for h in continued.hops][-2:] == ["link_lost", "under_way"]
    assert gone.end_unknown and gone.outcome is Outcome.UNKNOWN
    r.feed([d for d in first[2:]])
    done = r.rows[continued.key]
    assert done.ended_at == s(65) and done.outcome is Outcome.UNKNOWN and len(r.rows) == 2


def test_snapshot_edge_cases_change_nothing_they_should_not():
    seq = Sequence({"100", "101"})
    c = es.incoming_answered(seq)
    r = Run(CallTracker({"100", "101"}, strict=True))
    # no snapshot from the PBX, an empty one, a device no longer in the call, no ids at all
    assert r.tracker.snapshot("100", None, s(1)) == []
    assert r.tracker.snapshot("100", [], s(1)) == []
    assert r.tracker.snapshot("100", [_snap(c, "100", "null")], s(1)) == []
    assert r.tracker.snapshot("100", [SnapshotCall(ConnectionId(None, DeviceId.of("100")))], s(1)) == []
    # the same call listed by two monitors is one record
    r.take(r.tracker.snapshot("100", [_snap(c, "100", "connected")], s(2)))
    r.take(r.tracker.snapshot("101", [_snap(c, "101", "hold")], s(2)))
    call = r.only
    assert set(call.local_devices) == {"100", "101"}


def test_before_its_snapshot_a_device_reports_calls_under_way_even_from_their_clears():
    """Between a monitor's (re)start and its snapshot, a call that ends at once shows only its
    clears and is gone from the snapshot: it still gets an honest row."""
    seq = Sequence({"100"})
    es.incoming_missed(seq)
    r = Run(CallTracker({"100"}, strict=True, snapshots=True))
    r.feed([d for d in seq.items if d.event.name == "connection_cleared"])
    call = r.only
    assert call.outcome is Outcome.UNKNOWN and call.ended_at == s(20)
    assert call.direction is Direction.UNKNOWN and call.hops[0].kind == "under_way"
    # after the snapshot, lone clears of unknown calls are ignored again; link loss: awaited again
    r.take(r.tracker.snapshot("100", [], s(21)))
    later = Sequence({"100"}, start=s(100))
    es.incoming_missed(later, cid=0x0777)
    r.feed([d for d in later.items if d.event.name == "connection_cleared"])
    assert len(r.rows) == 1
    r.take(r.tracker.link_lost(s(200)))
    again = Sequence({"100"}, start=s(300))
    es.incoming_answered(again, cid=0x0778)
    r.feed([d for d in again.items if d.event.name != "delivered"])
    row = next(c for c in r.rows.values() if c.started_at >= s(300))
    assert row.outcome is Outcome.UNKNOWN and row.answered_by == "100"


def test_without_snapshots_lone_clears_of_unknown_calls_are_ignored():
    seq = Sequence({"100"})
    es.incoming_missed(seq)
    r = Run(CallTracker({"100"}, strict=True))
    r.feed([d for d in seq.items if d.event.name == "connection_cleared"])
    assert r.rows == {}


# Events that could not be decoded -------------------------------------------------------------


def undecodable(seq: Sequence, c: es.SimCall, monitor: str, *, at_device: str,
                state: str | None, event_type: str = "transferred") -> Delivery:
    """What the codec makes of a call-control event it cannot decode: the envelope, the
    first connection it could read and the monitor's local connection state."""
    from cstapopup.csta.events import UndecodableEvent

    event = UndecodableEvent(cross_ref_id=b"\x00\x01", category="callControlEvents", tag=17,
                             event_type=event_type, connection=c.conn(at_device),
                             local_connection_state=state, reason="test", raw=b"\xa1\x00")
    return Delivery(monitor, event, seq.now)


def test_an_undecodable_event_of_a_known_call_makes_its_outcome_unknown():
    seq = Sequence({"100"})
    c = seq.call(0x0701)
    es.ring(seq, c, "100")
    seq.wait(4)
    es.answer(seq, c, "100")
    seq.wait(30)
    r = run(seq)
    assert r.only.outcome is Outcome.ANSWERED and r.only.answered_by == "100"
    # The transfer could not be read; the monitor's own state (null) could.
    r.feed([undecodable(seq, c, "100", at_device="100", state="null")])
    call = r.only
    assert call.outcome is Outcome.UNKNOWN          # not "answered": a transfer happened unseen
    assert call.answered_by == "100" and call.remote_number == X   # what was seen stays
    assert ("undecodable", "100", "transferred") in hop_kinds(call)
    assert call.ended_at == seq.now                 # our device left the call then
    assert not call.is_live


def test_an_undecodable_event_without_a_state_keeps_the_call_live_and_honest():
    seq = Sequence({"100", "101"})
    c = seq.call(0x0702)
    es.ring(seq, c, "100")
    es.answer(seq, c, "100")
    r = run(seq)
    again = undecodable(seq, c, "101", at_device="100", state=None)
    r.feed([undecodable(seq, c, "100", at_device="100", state=None), again])
    call = r.only
    assert call.is_live and call.outcome is Outcome.IN_PROGRESS
    # two monitors' copies of one event: one hop
    assert [h for h in hop_kinds(call) if h[0] == "undecodable"] == [
        ("undecodable", "100", "transferred")]
    seq.wait(10)
    es.clear(seq, c, "100", {"100": "null"})
    r.feed(seq.items[-1:])
    assert r.only.outcome is Outcome.UNKNOWN and r.only.ended_at is not None


def test_an_undecodable_event_of_an_unknown_call_makes_no_record():
    from cstapopup.csta.events import UndecodableEvent

    seq = Sequence({"100"})
    c = seq.call(0x0703)
    r = run(seq)
    r.feed([undecodable(seq, c, "100", at_device="100", state="connected", event_type="delivered")])
    # nor one that names no connection at all, nor one of another category
    bare = UndecodableEvent(cross_ref_id=b"", reason="unreadable", raw=b"\xa1\x00")
    r.feed([Delivery("100", bare, seq.now)])
    assert r.rows == {}


# Calls whose recording stopped -------------------------------------------------------------------


def test_a_resumed_call_is_continued_by_a_snapshot_that_lists_only_its_call_id():
    """`resume`: a call settled when recording stopped, still up when it starts again.  The
    snapshot may list it by call id only: HiPath's global call id ends with the call id."""
    from cstapopup.calls.recorder import settled
    from cstapopup.csta.switch.model import SwitchModel

    first = CallTracker({"100"}, strict=True)
    rows: dict[str, Call] = {}
    at = [T0]

    def feed(tracker):
        def listener(step):
            for note in step.notifications:
                at[0] += timedelta(milliseconds=10)
                for call in tracker.feed(note.device, note.event, at[0]):
                    rows[call.key] = call
        return listener

    model = SwitchModel(["100"], listener=feed(first))
    call = model.incoming_call(X, "100").call
    model.answer(call, "100")
    (key, row), = rows.items()
    assert key.startswith("g:") and row.is_live
    stopped = settled(row, at[0])

    second = CallTracker({"100"}, clock=lambda: at[0], strict=True, snapshots=True)
    assert second.resume([stopped], at[0] + timedelta(minutes=2)) == 1
    listed = SnapshotCall(ConnectionId(call.call_id, DeviceId.of("100")), "connected", None)
    (continued,) = second.snapshot("100", [listed], at[0] + timedelta(minutes=2))
    assert continued.key == key and continued.is_live and continued.remote_number == X
    model.listeners[:] = [feed(second)]
    model.hang_up(call, "100")
    ended = rows[key]
    assert ended.ended_at is not None and not ended.end_unknown
    assert ended.outcome is Outcome.UNKNOWN      # part of it went unseen
    assert [h.kind for h in ended.hops][-3:] == ["recording_stopped", "under_way", "cleared"]


def test_resume_leaves_old_and_unreadable_calls_alone():
    from cstapopup.calls.recorder import settled

    seq = Sequence({"100"})
    es.incoming_answered(seq, cid=0x0001)
    r = run(seq)
    (done,) = r.rows.values()
    live = done.evolve(ended_at=None, outcome=Outcome.IN_PROGRESS)
    tracker = CallTracker({"100"}, strict=True)
    hours_later = done.started_at + timedelta(hours=3)
    assert tracker.resume([settled(live, live.started_at)], hours_later) == 0   # too old
    assert tracker.resume([settled(live.evolve(key="x:zz"), s(0))], s(1)) == 0  # no ids
    assert tracker.resume([done], s(100)) == 0                                   # it ended
