"""A transfer as a real HiPath sends it: the tracker keeps one call, whatever global call id
the call's events carry afterwards.

The Transferred event here is the one of tests/corpus/transferred-hipath.json, decoded from
its bytes (protocol facts §6): call B164 at 240 (the external caller over trunk 7806) is
transferred by 240 to 257, which it had consulted on call B169.  Its callLinkageDataList
names a NEW global call id (...B16B, equal to neither call id) with B164's thread id, and the
consultation's global call id (...B169) with that same thread as the old linkage.  What the
PBX puts in the events that follow is not known (see docs/event-sequences.md), so each
plausible form is tested: the new global call id, the old one, none.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cstapopup.calls.model import Direction, Outcome
from cstapopup.calls.tracker import CallTracker
from cstapopup.csta import codec
from cstapopup.csta.events import (
    ConnectionChange,
    ConnectionClearedEvent,
    ConnectionId,
    DeviceId,
    EstablishedEvent,
    HeldEvent,
    SnapshotCall,
    TransferredEvent,
)

from . import event_sequences as es
from .event_sequences import Delivery, Sequence, SimCall
from .test_tracker import Run

CORPUS = Path(__file__).parent / "corpus" / "transferred-hipath.json"
CALLER, TRUNK = "01711234567", "7806"
B164, B169 = b"\xb1\x64", b"\xb1\x69"
#: The three linkage ids of the capture: B164's thread (taken as its global call id before the
#: transfer: on HiPath the two are equal, as in the captured Delivered), the consultation's
#: global call id, and the resulting call's new one.
THREAD = bytes.fromhex("04b4429250f70788010080000000b164")
OLD_GID = bytes.fromhex("0001308a50f70788010080000000b169")
NEW_GID = bytes.fromhex("013cbaaa50f70788010080000000b16b")
#: Which global call id the events after the transfer carry.
AFTER = {"new": NEW_GID, "old": THREAD, "none": None}


def hipath_transferred() -> TransferredEvent:
    """The corpus's Transferred event, decoded from its bytes (the transferring 240's copy)."""
    doc = json.loads(CORPUS.read_text(encoding="utf-8"))
    data = bytes.fromhex("".join(" ".join(doc["hex"]).split()))
    event = codec.decode_apdu(data).event
    assert isinstance(event, TransferredEvent)
    assert (event.call_id, event.secondary_old_call.call_id) == (B164, B169)
    assert (event.global_call_id, event.thread_id) == (NEW_GID, THREAD)
    assert (event.old_global_call_id, event.old_thread_id) == (OLD_GID, THREAD)
    return event


def hipath_transfer(seq: Sequence, *, after: str, consult_thread: bytes | None = THREAD,
                    event: TransferredEvent | None = None) -> None:
    """The caller rings 240, 240 answers, consults 257 (B169) and transfers; later the caller
    hangs up.  `consult_thread`: the thread the consultation's events carry (HiPath's old
    linkage says B164's; a PBX may send the call's own or none)."""
    c1 = SimCall(B164, THREAD, THREAD)
    c2 = SimCall(B169, OLD_GID, consult_thread)
    es.ring(seq, c1, "240", caller=CALLER, trunk=TRUNK)
    seq.wait(3)
    es.answer(seq, c1, "240", caller=CALLER, trunk=TRUNK)
    seq.wait(20)
    seq.emit(HeldEvent, c1, "240", {"240": "hold"}, holding_device=DeviceId.of("240"),
             cause="consultation")
    seq.wait(1)
    es.dial(seq, c2, "240", "257", cause="consultation")
    seq.wait(1)
    es.ring(seq, c2, "257", caller="240", trunk=None, seen_by={"240": "connected",
                                                              "257": "alerting"})
    seq.wait(3)
    es.answer(seq, c2, "257", caller="240", trunk=None, seen_by={"240": "connected",
                                                                "257": "connected"})
    seq.wait(10)
    # The event as the PBX sent it, to each monitor that sees it (its own state and cross-ref).
    transferred = event or hipath_transferred()
    for i, (monitor, lcs) in enumerate((("240", "null"), ("257", "connected"))):
        if monitor in seq.monitored:
            copy = transferred if monitor == "240" and event is None else replace(
                transferred, local_connection_state=lcs if seq.with_states else None,
                cross_ref_id=bytes([0, i + 1]))
            seq.items.append(Delivery(monitor, copy, seq.now))
    seq.wait(40)
    c1_after = SimCall(B164, AFTER[after], THREAD if after != "none" else None)
    es.clear(seq, c1_after, CALLER, {"257": "connected"})
    es.clear(seq, c1_after, "257", {"257": "null"})


def run(seq: Sequence) -> Run:
    return Run(CallTracker(seq.monitored, strict=True)).feed(seq.items)


@pytest.mark.parametrize("after", sorted(AFTER))
@pytest.mark.parametrize("monitored", [{"240", "257"}, {"240"}, {"257"}],
                         ids=lambda m: "+".join(sorted(m)))
def test_a_hipath_transfer_is_one_call_whatever_id_the_later_events_carry(after, monitored):
    seq = Sequence(monitored)
    hipath_transfer(seq, after=after)
    r = run(seq)
    call = r.only
    # Keyed by B164's first global call id (from the target only: its thread id).
    assert call.key.startswith(f"g:{THREAD.hex()}:")
    assert (call.direction, call.remote_number, call.outcome) == (
        Direction.INCOMING, CALLER, Outcome.TRANSFERRED)
    assert call.transferred_to == "257"
    assert call.answered_by == ("257" if monitored == {"257"} else "240")
    transfers = [(h.device, h.detail) for h in call.hops if h.kind == "transferred"]
    assert transfers == [("240", "257")]
    assert call.ended_at is not None and not call.end_unknown
    assert r.tracker.live_calls() == []
    # The consultation (B169) had a row while it lived; it is part of the transfer.
    assert len(r.deleted) == 1 and r.deleted[0].startswith(f"g:{OLD_GID.hex()}:")
    if "257" in monitored:
        # The target talked to the caller until the end: the clears with either id (or
        # none) ended the same call.
        assert [h.kind for h in call.hops][-2:] == ["cleared", "cleared"]


@pytest.mark.parametrize("consult_thread", [THREAD, OLD_GID, None],
                         ids=["held-calls-thread", "own-thread", "no-thread"])
def test_the_consultations_thread_may_be_either(consult_thread):
    seq = Sequence({"240", "257"})
    hipath_transfer(seq, after="new", consult_thread=consult_thread)
    r = run(seq)
    assert r.only.outcome is Outcome.TRANSFERRED and len(r.deleted) == 1


def test_a_later_snapshot_with_the_new_id_finds_the_call():
    seq = Sequence({"240", "257"})
    hipath_transfer(seq, after="new")
    r = Run(CallTracker(seq.monitored, strict=True))
    r.feed(seq.items[:-2])   # up to the transfer and 40 s of talk
    r.take(r.tracker.snapshot("257", [SnapshotCall(ConnectionId(B164, DeviceId.of("257")),
                                                   "connected", NEW_GID)], es.T0))
    r.feed(seq.items[-2:])
    call = r.only
    assert "under_way" not in [h.kind for h in call.hops]
    assert call.outcome is Outcome.TRANSFERRED and call.ended_at is not None


def test_a_transfer_that_was_not_seen_the_thread_ties_the_new_id_to_the_call():
    # The Transferred event was lost (not decodable, say): the next events carry the new
    # global call id, which the tracker has never seen, and the call's thread id.
    seq = Sequence({"257"})
    c1 = SimCall(B164, THREAD, THREAD)
    es.ring(seq, c1, "257", caller=CALLER, trunk=TRUNK)
    es.answer(seq, c1, "257", caller=CALLER, trunk=TRUNK)
    seq.wait(30)
    after = SimCall(B164, NEW_GID, THREAD)
    seq.emit(EstablishedEvent, after, "257", {"257": "connected"},
             answering_device=DeviceId.of("257"), calling_device=DeviceId.of(CALLER),
             called_device=DeviceId.of("257"), cause="transfer")
    es.clear(seq, after, CALLER, {"257": "connected"})
    es.clear(seq, after, "257", {"257": "null"})
    call = run(seq).only
    assert call.ended_at is not None and call.outcome is Outcome.ANSWERED


def test_the_second_list_entry_is_the_targets_connection():
    """§6: the list's second entry is 257 moving from B169 into B164.  Read so, the target is
    in the call after the transfer even when its monitor sends no state of its own."""
    seq = Sequence({"257"}, with_states=False)
    hipath_transfer(seq, after="new")
    r = run(seq)
    second = hipath_transferred().transferred_connections[1]
    assert (second.new_connection, second.old_connection) == (
        ConnectionId(B164, DeviceId.of("257")), ConnectionId(B169, DeviceId.of("257")))
    # Without states, the target is in the call from the list (and the clears end it).
    assert r.only.outcome is Outcome.TRANSFERRED and r.only.ended_at is not None


@pytest.mark.parametrize("with_states", [True, False])
def test_a_list_naming_the_transferring_devices_own_connection_does_not_keep_it_in(
        with_states):
    """The other reading of §6 ("the second entry for the transferring device's own
    connections"): whatever the list names, the transferring device has left the call."""
    event = hipath_transferred()
    own = ConnectionChange(ConnectionId(B164, DeviceId.of("240")),
                           ConnectionId(B169, DeviceId.of("240")), DeviceId.of("240"))
    event = replace(event, transferred_connections=(event.transferred_connections[0], own))
    seq = Sequence({"240"}, with_states=with_states)
    hipath_transfer(seq, after="new", event=event)
    call = run(seq).only
    assert call.outcome is Outcome.TRANSFERRED and call.transferred_to == "257"
    assert call.ended_at is not None   # it left 240 at the transfer


def test_the_corpus_event_alone_makes_one_row_of_the_call():
    # Seen only from the target, without what came before (e.g. monitored just then).
    tracker = CallTracker({"257"}, strict=True)
    event = replace(hipath_transferred(), local_connection_state="connected")
    (call,) = tracker.feed("257", event, es.T0)
    assert call.key.startswith(f"g:{THREAD.hex()}:")
    assert (call.remote_number, call.transferred_to) == (CALLER, "257")
    clear = ConnectionClearedEvent(cross_ref_id=b"\x00\x02",
                                   connection=ConnectionId(B164, DeviceId.of("257")),
                                   releasing_device=DeviceId.of("257"),
                                   local_connection_state="null", global_call_id=NEW_GID)
    (ended,) = tracker.feed("257", clear, es.T0)
    assert ended.key == call.key and ended.ended_at is not None


@pytest.mark.parametrize("thread", [THREAD, None], ids=["with-thread", "no-thread"])
def test_a_transfer_during_a_link_loss_then_the_snapshot_and_events_with_the_new_id(thread):
    """The link drops while 240 talks to the caller; meanwhile 240 transfers to 257.  After
    the reconnect the snapshot of 257 lists B164 with its new global call id (a snapshot
    names no thread), and the call's events carry the new id: the same row goes on."""
    seq = Sequence({"240", "257"})
    hipath_transfer(seq, after="new")
    cut = next(i for i, d in enumerate(seq.items) if d.event.name == "held")
    tracker = CallTracker(seq.monitored, strict=True, snapshots=True)
    for device in ("240", "257"):
        tracker.snapshot(device, [], es.T0)
    r = Run(tracker).feed(seq.items[:cut])
    r.take(tracker.link_lost(es.T0 + timedelta(seconds=30)))
    r.take(tracker.snapshot("240", [], es.T0 + timedelta(seconds=80)))
    r.take(tracker.snapshot("257", [SnapshotCall(ConnectionId(B164, DeviceId.of("257")),
                                                 "connected", NEW_GID)],
                            es.T0 + timedelta(seconds=80)))
    later = SimCall(B164, NEW_GID, thread)
    seq2 = Sequence({"257"}, start=es.T0 + timedelta(seconds=90))
    es.clear(seq2, later, CALLER, {"257": "connected"})
    es.clear(seq2, later, "257", {"257": "null"})
    r.feed(seq2.items)
    call = r.only
    assert call.key.startswith(f"g:{THREAD.hex()}:")
    assert call.ended_at is not None and not call.end_unknown
    # What happened while the link was down is not claimed.
    assert call.outcome is Outcome.UNKNOWN
    assert "257" in call.local_devices


def test_events_with_the_new_id_and_no_thread_continue_a_live_call():
    # The transfer unseen (not decodable, say), and a PBX that sends no thread ids.
    seq = Sequence({"257"})
    c1 = SimCall(B164, THREAD, None)
    es.ring(seq, c1, "257", caller=CALLER, trunk=TRUNK)
    es.answer(seq, c1, "257", caller=CALLER, trunk=TRUNK)
    seq.wait(30)
    after = SimCall(B164, NEW_GID, None)
    es.clear(seq, after, CALLER, {"257": "connected"})
    es.clear(seq, after, "257", {"257": "null"})
    assert run(seq).only.ended_at is not None


def test_a_new_call_reusing_the_call_id_is_still_a_new_call():
    # Its global call id ends with its call id: a new call, not the old one renamed.
    seq = Sequence({"257"})
    old = SimCall(B164, THREAD, THREAD)
    es.ring(seq, old, "257", caller=CALLER, trunk=TRUNK)
    seq.wait(5)
    fresh_gid = bytes.fromhex("04b4429250f70788010080000001b164")
    fresh = SimCall(B164, fresh_gid, fresh_gid)
    es.answer(seq, fresh, "257", caller="0301234567", trunk=TRUNK)
    r = run(seq)
    assert len(r.rows) == 2
