"""Consultations in the history (docs/event-sequences.md, "Consultation ended without a
transfer"): the call a consultation was made from says whom it consulted, and a consultation
that keeps its row (no transfer or conference absorbed it) says it was one."""

from __future__ import annotations

import pytest

from cstapopup.calls.model import Direction, Outcome
from cstapopup.csta.events import (
    ConnectionClearedEvent,
    DeviceId,
    HeldEvent,
    RetrievedEvent,
    ServiceInitiatedEvent,
)

from . import event_sequences as es
from .event_sequences import Sequence, X, Y
from .test_tracker import hop_kinds, run


def consult_and_go_back(seq: Sequence, *, answered: bool, hold_cause: str = "consultation",
                        dial_cause: str = "consultation", held_state: bool = True,
                        thread_of_c1: bool = False) -> tuple[es.SimCall, es.SimCall]:
    """X calls 100, 100 answers, consults 102; 102 answers or not; 100 ends the consultation
    and takes X back (ReconnectCall: the consultation cleared, then C1 retrieved)."""
    c1 = seq.call(0x0701)
    es.ring(seq, c1, "100")
    seq.wait(2)
    es.answer(seq, c1, "100")
    seq.wait(10)
    seq.emit(HeldEvent, c1, "100", {"100": "hold" if held_state else None},
             holding_device=DeviceId.of("100"), cause=hold_cause)
    c2 = seq.call(0x0702, thread=c1.gid if thread_of_c1 else None)
    seq.wait(1)
    es.dial(seq, c2, "100", "102", cause=dial_cause)
    es.ring(seq, c2, "102", caller="100", trunk=None, seen_by={"100": "connected",
                                                              "102": "alerting"})
    seq.wait(6)
    if answered:
        es.answer(seq, c2, "102", caller="100", trunk=None,
                  seen_by={"100": "connected", "102": "connected"})
        seq.wait(5)
    es.clear(seq, c2, "100", {"100": "null", "102": "connected" if answered else "alerting"})
    es.clear(seq, c2, "102", {"102": "null"})
    seq.emit(RetrievedEvent, c1, "100", {"100": "connected"},
             retrieving_device=DeviceId.of("100"), cause="normal")
    seq.wait(20)
    es.clear(seq, c1, X, {"100": "connected"})
    es.clear(seq, c1, "100", {"100": "null"})
    return c1, c2


@pytest.mark.parametrize("answered", [True, False])
@pytest.mark.parametrize("monitored", [{"100"}, {"100", "102"}],
                         ids=lambda m: "+".join(sorted(m)))
def test_a_consultation_without_a_transfer_is_marked_on_both_rows(answered, monitored):
    seq = Sequence(monitored)
    c1, c2 = consult_and_go_back(seq, answered=answered)
    r = run(seq)
    assert r.deleted == [] and len(r.rows) == 2
    call = next(c for c in r.rows.values() if c.key.startswith(f"g:{c1.gid.hex()}:"))
    consult = next(c for c in r.rows.values() if c.key.startswith(f"g:{c2.gid.hex()}:"))
    # The call: its own outcome, and whom 100 consulted, in its order among the hops.
    assert (call.outcome, call.answered_by, call.direction) == (
        Outcome.ANSWERED, "100", Direction.INCOMING)
    kinds = hop_kinds(call)
    i = kinds.index(("consulted", "100", "102"))
    assert kinds[i - 1] == ("held", "100", "consultation")
    assert kinds[i + 1] == ("retrieved", "100", "normal")
    # The consultation: an internal call to 102 that says it was 100's consultation during
    # the call with X (its first hop), with its own outcome.
    assert consult.direction is Direction.INTERNAL and consult.remote_number == "102"
    assert hop_kinds(consult)[0] == ("consultation", "100", X)
    if answered:
        assert consult.outcome is Outcome.ANSWERED and consult.answered_by == "102"
    else:
        assert consult.outcome is (Outcome.MISSED if "102" in monitored else Outcome.ABANDONED)


def test_seen_only_from_the_consulted_colleague_it_is_an_internal_call():
    # 102's monitor sees nothing of the call 100 held: nothing to link, nothing invented.
    seq = Sequence({"102"})
    consult_and_go_back(seq, answered=False)
    r = run(seq)
    assert [hop_kinds(c)[0][0] for c in r.rows.values()] == ["delivered"]
    assert r.only.outcome is Outcome.MISSED


@pytest.mark.parametrize("hold_cause, dial_cause, held_state", [
    ("normal", "new_call", True),        # a hold and a new call, as a phone's keys make it
    ("consultation", None, False),       # no causes on the dialling, no states on the hold
])
def test_any_call_placed_while_holding_one_is_its_consultation(hold_cause, dial_cause,
                                                               held_state):
    seq = Sequence({"100"}, with_states=held_state)
    c1, c2 = consult_and_go_back(seq, answered=True, hold_cause=hold_cause,
                                 dial_cause=dial_cause, held_state=held_state)
    r = run(seq)
    call = next(c for c in r.rows.values() if c.key.startswith(f"g:{c1.gid.hex()}:"))
    consult = next(c for c in r.rows.values() if c.key.startswith(f"g:{c2.gid.hex()}:"))
    assert ("consulted", "100", "102") in hop_kinds(call)
    assert hop_kinds(consult)[0] == ("consultation", "100", X)


def test_a_call_placed_without_holding_one_is_no_consultation():
    seq = Sequence({"100"})
    es.outgoing(seq, cid=0x0801)
    seq.wait(5)
    es.internal(seq, cid=0x0802, caller="100", callee="103")
    r = run(seq)
    assert all(h.kind not in ("consulted", "consultation")
               for c in r.rows.values() for h in c.hops)


@pytest.mark.parametrize("thread", [True, False])
def test_of_two_held_calls_the_thread_names_the_one_consulted_from(thread):
    """100 holds a call from X, then one from Y; the consultation carries X's call's thread
    (HiPath's consultation linkage, protocol facts §6): that is the call it was made from.
    Without a thread, the call held last."""
    seq = Sequence({"100"})
    cx = seq.call(0x0901)
    es.ring(seq, cx, "100")
    es.answer(seq, cx, "100")
    seq.emit(HeldEvent, cx, "100", {"100": "hold"}, holding_device=DeviceId.of("100"),
             cause="normal")
    seq.wait(3)
    cy = seq.call(0x0902)
    es.ring(seq, cy, "100", caller=Y)
    es.answer(seq, cy, "100", caller=Y)
    seq.emit(HeldEvent, cy, "100", {"100": "hold"}, holding_device=DeviceId.of("100"),
             cause="consultation")
    seq.wait(3)
    c2 = seq.call(0x0903, thread=cx.gid if thread else None)
    es.dial(seq, c2, "100", "104", cause="consultation")
    r = run(seq)
    rows = {c.remote_number: c for c in r.rows.values()}
    consulted_from = X if thread else Y
    other = Y if thread else X
    assert ("consulted", "100", "104") in hop_kinds(rows[consulted_from])
    assert all(h.kind != "consulted" for h in rows[other].hops)
    assert hop_kinds(rows["104"])[0] == ("consultation", "100", consulted_from)


def test_the_consulted_hop_is_emitted_with_the_held_call_when_it_happens():
    seq = Sequence({"100"})
    consult_and_go_back(seq, answered=False)
    r = run(seq)
    first = next(i for i, c in enumerate(r.emitted)
                 if any(h.kind == "consulted" for h in c.hops))
    # Emitted at the dialling, while the consultation rang: not only at the end.
    assert r.emitted[first].is_live


def test_a_consultation_lifted_but_not_dialled_marks_nothing():
    seq = Sequence({"100"})
    c1 = seq.call(0x0a01)
    es.ring(seq, c1, "100")
    es.answer(seq, c1, "100")
    seq.emit(HeldEvent, c1, "100", {"100": "hold"}, holding_device=DeviceId.of("100"),
             cause="consultation")
    c2 = seq.call(0x0a02)
    seq.emit(ServiceInitiatedEvent, c2, "100", {"100": "initiated"},
             initiating_device=DeviceId.of("100"), cause="consultation")
    seq.emit(ConnectionClearedEvent, c2, "100", {"100": "null"},
             releasing_device=DeviceId.of("100"), cause="normal_clearing")
    r = run(seq)
    assert r.only.key.startswith(f"g:{c1.gid.hex()}:")
    assert all(h.kind != "consulted" for h in r.only.hops)
