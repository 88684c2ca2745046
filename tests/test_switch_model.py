"""The simulator's call model: every call kind produces exactly the events of
docs/event-sequences.md at each monitored device, the events survive the codec, and the
ground truth says what happened."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from cstapopup.csta import codec, names
from cstapopup.csta.switch import demo as demo_mod
from cstapopup.csta.switch.demo import DemoTraffic, NumberSource, pbx_number
from cstapopup.csta.switch.model import (
    Notification,
    Step,
    SwitchError,
    SwitchModel,
    parse_device_list,
)
from cstapopup.csta.switch.scenarios import SCENARIOS, START_DELAY, scenario_devices
from cstapopup.csta.switch.traffic import Scheduler, Traffic

X = "00891234567"
Y = "0004930123456"
T0 = datetime(2024, 3, 4, 9, 0, 0)
DEVICES = [str(n) for n in range(100, 106)]


class Rig:
    """A model on a virtual clock, recording every notification."""

    def __init__(self, devices: list[str] = DEVICES, **kw: Any) -> None:
        self.scheduler = Scheduler(T0)
        self.notes: list[Notification] = []
        self.model = SwitchModel(devices, clock=self.scheduler.now,
                                 listener=lambda s: self.notes.extend(s.notifications), **kw)
        self.traffic = Traffic(self.model, self.scheduler)

    def seen(self, device: str, call_id: bytes | None = None) -> list[dict[str, Any]]:
        """What the monitor of `device` gets, in the normalised event form."""
        return [n.event.to_dict() for n in self.notes if n.device == device
                and (call_id is None or n.event.connection.call_id == call_id)]

    def wait(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    def play(self, name: str, main: str = "100") -> None:
        devices = scenario_devices(self.model.devices, main)
        self.scheduler.spawn(SCENARIOS[name].script(self.traffic, devices), 0.0)
        self.scheduler.run_until_idle()


def matches(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Each actual event has every field of its expected counterpart; same count, same order."""
    assert [a["event"] for a in actual] == [e["event"] for e in expected]
    for i, (a, e) in enumerate(zip(actual, expected)):
        wrong = {k: (a.get(k), v) for k, v in e.items() if a.get(k) != v}
        assert not wrong, f"event {i} ({a['event']}): (actual, expected) {wrong}"


def ev(name: str, call: str, device: str, lcs: str, cause: str, **fields: Any) -> dict[str, Any]:
    return {"event": name, "call_id": call, "device": device, "local_connection_state": lcs,
            "cause": cause, **fields}


# docs/event-sequences.md, section by section ----------------------------------------------------


def test_incoming_answered_remote_hangs_up_first() -> None:
    r = Rig()
    call = r.model.incoming_call(X, "100").call
    r.wait(3)
    r.model.answer(call, "100")
    r.wait(20)
    r.model.remote_hang_up(call)
    parties = {"calling_device": X, "called_device": "100", "associated_calling_device": "9901"}
    matches(r.seen("100"), [
        ev("delivered", "0001", "100", "alerting", "new_call", alerting_device="100",
           last_redirection_device="not_known", **parties),
        ev("established", "0001", "100", "connected", "new_call", answering_device="100", **parties),
        ev("connection_cleared", "0001", X, "connected", "normal_clearing", releasing_device=X),
        ev("connection_cleared", "0001", "100", "null", "normal_clearing", releasing_device="100"),
    ])
    (rec,) = r.model.finished
    assert (rec.outcome, rec.answered_by, rec.direction, rec.remote_number) == ("answered", "100", "incoming", X)
    assert rec.started_at == T0 and rec.answered_at == T0 + timedelta(seconds=3)
    assert rec.ended_at == T0 + timedelta(seconds=23)


def test_incoming_answered_local_hangs_up_first_sees_only_its_own_clear() -> None:
    r = Rig()
    call = r.model.incoming_call(X, "100").call
    r.model.answer(call, "100")
    r.model.hang_up(call, "100")
    assert [e["event"] for e in r.seen("100")] == ["delivered", "established", "connection_cleared"]
    matches(r.seen("100")[2:], [
        ev("connection_cleared", "0001", "100", "null", "normal_clearing", releasing_device="100")])
    assert not r.model.calls and r.model.free_trunks() == r.model.trunks


def test_incoming_missed() -> None:
    r = Rig()
    r.play("incoming-missed")
    caller = "0030901820"
    matches(r.seen("100"), [
        ev("delivered", "0001", "100", "alerting", "new_call", calling_device=caller),
        ev("connection_cleared", "0001", caller, "alerting", "normal_clearing", releasing_device=caller),
        ev("connection_cleared", "0001", "100", "null", "normal_clearing", releasing_device="100"),
    ])
    assert r.model.finished[0].outcome == "missed"


def test_incoming_busy() -> None:
    r = Rig()
    busy_call = r.model.make_call("100", "101").call
    r.notes.clear()
    r.model.incoming_call(X, "100")
    matches(r.seen("100"), [
        ev("failed", "0002", "100", "fail", "busy", failing_device="100", calling_device=X,
           called_device="100", associated_calling_device="9901"),
        ev("connection_cleared", "0002", "100", "null", "busy", releasing_device="100"),
    ])
    assert r.model.finished[0].outcome == "busy"
    assert not busy_call.ended  # the call that made 100 busy goes on


def test_incoming_busy_scenario() -> None:
    r = Rig()
    r.play("incoming-busy")
    assert [(e["event"], e["call_id"]) for e in r.seen("100")] == [
        ("service_initiated", "0001"), ("originated", "0001"), ("network_reached", "0001"),
        ("established", "0001"), ("failed", "0002"), ("connection_cleared", "0002"),
        ("connection_cleared", "0001")]
    outcomes = {rec.call_id.hex(): rec.outcome for rec in r.model.finished}
    assert outcomes == {"0001": "answered", "0002": "busy"}


def test_outgoing_by_make_call() -> None:
    r = Rig()
    call = r.model.make_call("100", X, service=True).call
    r.model.remote_answer(call)
    r.model.remote_hang_up(call)
    matches(r.seen("100"), [
        ev("service_initiated", "0001", "100", "initiated", "make_call", initiating_device="100"),
        ev("originated", "0001", "100", "connected", "new_call", calling_device="100", called_device=X),
        ev("network_reached", "0001", "9901", "connected", "normal", network_interface_used="9901",
           calling_device="100", called_device=X),
        ev("established", "0001", "9901", "connected", "new_call", answering_device=X,
           calling_device="100", called_device=X),
        ev("connection_cleared", "0001", X, "connected", "normal_clearing", releasing_device=X),
        ev("connection_cleared", "0001", "100", "null", "normal_clearing", releasing_device="100"),
    ])
    rec = r.model.finished[0]
    assert (rec.direction, rec.outcome, rec.remote_number, rec.devices) == ("outgoing", "answered", X, ["100"])


def test_outgoing_scenario_and_abandoned() -> None:
    r = Rig()
    r.play("outgoing")
    assert [e["event"] for e in r.seen("100")] == [
        "service_initiated", "originated", "network_reached", "established", "connection_cleared"]
    assert r.seen("100")[0]["cause"] == "new_call"
    r2 = Rig()
    call = r2.model.make_call("100", X).call
    r2.model.hang_up(call, "100")  # before the far end answers
    assert [e["event"] for e in r2.seen("100")] == [
        "service_initiated", "originated", "network_reached", "connection_cleared"]
    assert r2.model.finished[0].outcome == "abandoned"


def test_outgoing_far_end_busy() -> None:
    r = Rig()
    call = r.model.make_call("100", X).call
    r.model.remote_busy(call)
    r.model.hang_up(call, "100", "busy")
    matches(r.seen("100")[3:], [
        ev("failed", "0001", "9901", "connected", "busy", failing_device=X, calling_device="100",
           called_device=X),
        ev("connection_cleared", "0001", "100", "null", "busy", releasing_device="100"),
    ])
    assert r.model.finished[0].outcome == "busy"


def test_internal_both_ends() -> None:
    r = Rig()
    r.play("internal")
    parties = {"calling_device": "100", "called_device": "101"}
    matches(r.seen("100"), [
        ev("service_initiated", "0001", "100", "initiated", "new_call"),
        ev("originated", "0001", "100", "connected", "new_call", **parties),
        ev("delivered", "0001", "101", "connected", "new_call", alerting_device="101", **parties),
        ev("established", "0001", "101", "connected", "new_call", answering_device="101", **parties),
        ev("connection_cleared", "0001", "101", "connected", "normal_clearing", releasing_device="101"),
        ev("connection_cleared", "0001", "100", "null", "normal_clearing", releasing_device="100"),
    ])
    matches(r.seen("101"), [
        ev("delivered", "0001", "101", "alerting", "new_call", alerting_device="101", **parties),
        ev("established", "0001", "101", "connected", "new_call", answering_device="101", **parties),
        ev("connection_cleared", "0001", "101", "null", "normal_clearing", releasing_device="101"),
    ])
    # One call, the same call id and global call id at both ends.
    assert {n.event.global_call_id for n in r.notes} == {r.model.finished[0].global_call_id}
    rec = r.model.finished[0]
    assert (rec.direction, rec.remote_number, rec.devices, rec.outcome, rec.answered_by) == (
        "internal", "101", ["100", "101"], "answered", "101")


def test_internal_unanswered_is_missed_at_the_callee_abandoned_at_the_caller() -> None:
    r = Rig()
    call = r.model.make_call("100", "101").call
    r.model.hang_up(call, "100")
    matches(r.seen("101"), [
        ev("delivered", "0001", "101", "alerting", "new_call"),
        ev("connection_cleared", "0001", "100", "alerting", "normal_clearing"),
        ev("connection_cleared", "0001", "101", "null", "normal_clearing"),
    ])
    rec = r.model.finished[0]
    assert rec.outcome == "missed"
    assert rec.views["100"]["outcome"] == "abandoned" and rec.views["101"]["outcome"] == "missed"


@pytest.mark.parametrize("linkage", ["new", "old"])
def test_transfer(linkage) -> None:
    r = Rig(linkage_after_transfer=linkage)
    r.play("transfer")
    caller = "0017612345678"
    c1, c2 = "0001", "0002"
    transferred = {
        "secondary_old_call": {"call_id": c2, "device": "100"}, "transferring_device": "100",
        "transferred_to_device": "101", "endpoint": caller,
        "transferred_connections": [
            # HiPath's layout (protocol facts §6): the external party's entry names the
            # trunk it comes in on as associatedNID.
            {"new_connection": {"call_id": c1, "device": caller},
             "old_connection": {"call_id": c1, "device": caller}, "endpoint": caller,
             "associated_nid": "9901"},
            {"new_connection": {"call_id": c1, "device": "101"},
             "old_connection": {"call_id": c2, "device": "101"}, "endpoint": "101",
             "associated_nid": None},
        ],
    }
    matches(r.seen("100"), [
        ev("delivered", c1, "100", "alerting", "new_call"),
        ev("established", c1, "100", "connected", "new_call"),
        ev("held", c1, "100", "hold", "consultation", holding_device="100"),
        ev("service_initiated", c2, "100", "initiated", "consultation"),
        ev("originated", c2, "100", "connected", "consultation", called_device="101"),
        ev("delivered", c2, "101", "connected", "new_call"),
        ev("established", c2, "101", "connected", "new_call"),
        ev("transferred", c1, "100", "null", "transfer", **transferred),
    ])
    matches(r.seen("101"), [
        ev("delivered", c2, "101", "alerting", "new_call", calling_device="100"),
        ev("established", c2, "101", "connected", "new_call"),
        ev("transferred", c1, "100", "connected", "transfer", **transferred),
        ev("connection_cleared", c1, caller, "connected", "normal_clearing"),
        ev("connection_cleared", c1, "101", "null", "normal_clearing"),
    ])
    # The call linkage as in HiPath's Transferred event (protocol facts §6): a new global call
    # id for the resulting call, whose last two bytes are not a call id of the two calls; the
    # thread of C1 in both entries; the consultation's global call id as the old one.
    recs = {rec.call_id.hex(): rec for rec in r.model.finished}
    c1_gcid, c2_gcid = recs[c1].global_call_id, recs[c2].global_call_id
    transfers = [n.event for n in r.notes if n.event.name == "transferred"]
    new = transfers[0].global_call_id
    assert len(new) == 16 and new not in (c1_gcid, c2_gcid)
    assert new[-2:] not in (bytes.fromhex(c1), bytes.fromhex(c2))
    assert all((t.global_call_id, t.thread_id, t.old_global_call_id, t.old_thread_id)
               == (new, c1_gcid, c2_gcid, c1_gcid) for t in transfers)
    # The consultation's events carry its own global call id and the thread of C1.
    consult = [n.event for n in r.notes if n.event.connection.call_id == bytes.fromhex(c2)]
    assert consult and all((e.global_call_id, e.thread_id) == (c2_gcid, c1_gcid) for e in consult)
    # C1's events: its own global call id before the transfer; after it, the new one (or,
    # with linkage "old", its own still); the thread always C1's.
    of_c1 = [n.event for n in r.notes if n.event.connection.call_id == bytes.fromhex(c1)]
    cut = of_c1.index(transfers[0])
    after = of_c1[cut + len(transfers):]
    assert after and all(e.thread_id == c1_gcid for e in of_c1)
    assert all(e.global_call_id == c1_gcid for e in of_c1[:cut])
    assert all(e.global_call_id == (new if linkage == "new" else c1_gcid) for e in after)
    # The ground truth keeps C1's first global call id, and says who consulted whom.
    assert recs[c1].consulted == [("100", "101")] and recs[c2].consultation_of == c1_gcid
    assert (recs[c1].outcome, recs[c1].answered_by, recs[c1].transferred_to, recs[c1].consultation) == (
        "transferred", "100", "101", False)
    assert recs[c1].devices == ["100", "101"]
    assert recs[c2].consultation is True


def test_deflect() -> None:
    r = Rig()
    r.play("deflect")
    caller = "00711654321"
    matches(r.seen("100"), [
        ev("delivered", "0001", "100", "alerting", "new_call"),
        ev("diverted", "0001", "100", "null", "redirected", diverting_device="100",
           new_destination="102", calling_device=caller, called_device="100",
           last_redirection_device="100"),
    ])
    matches(r.seen("102"), [
        ev("delivered", "0001", "102", "alerting", "redirected", alerting_device="102",
           calling_device=caller, called_device="100", last_redirection_device="100"),
        ev("established", "0001", "102", "connected", "new_call", answering_device="102"),
        ev("connection_cleared", "0001", caller, "connected", "normal_clearing"),
        ev("connection_cleared", "0001", "102", "null", "normal_clearing"),
    ])
    rec = r.model.finished[0]
    assert (rec.outcome, rec.answered_by, rec.diverted_to) == ("answered", "102", "102")
    assert rec.views["100"]["outcome"] == "diverted" and rec.views["100"]["diverted_to"] == "102"


def test_no_answer_forwarding_follows_the_device_setting() -> None:
    r = Rig(forward_no_answer={"100": ("102", 12)})
    call = r.model.incoming_call(X, "100").call
    r.wait(11.9)
    assert call.ringing_device() == "100"
    r.wait(0.2)
    assert call.ringing_device() == "102"
    matches(r.seen("100"), [
        ev("delivered", "0001", "100", "alerting", "new_call"),
        ev("diverted", "0001", "100", "null", "call_forward_no_answer", new_destination="102"),
    ])
    assert r.seen("102")[0]["cause"] == "redirected"


def test_forwarding_does_nothing_once_answered() -> None:
    r = Rig(forward_no_answer={"100": ("102", 5)})
    call = r.model.incoming_call(X, "100").call
    r.model.answer(call, "100")
    r.wait(10)
    assert call.party("100").state == "connected" and not r.seen("102")


def test_pickup() -> None:
    r = Rig()
    r.play("pickup")
    caller = "0040822110"
    matches(r.seen("100"), [
        ev("delivered", "0001", "100", "alerting", "new_call"),
        ev("established", "0001", "101", "null", "call_pickup", answering_device="101",
           calling_device=caller, called_device="100"),
    ])
    assert [e["event"] for e in r.seen("101")] == ["established", "connection_cleared", "connection_cleared"]
    rec = r.model.finished[0]
    assert (rec.outcome, rec.answered_by) == ("answered", "101")
    assert rec.views["100"] == {"outcome": "answered_elsewhere", "answered_by": "101",
                                "transferred_to": None, "diverted_to": None}


def test_restricted_caller() -> None:
    r = Rig()
    r.play("restricted-caller")
    seen = r.seen("100")
    assert [e["event"] for e in seen] == ["delivered", "established", "connection_cleared", "connection_cleared"]
    assert seen[0]["calling_device"] == "restricted" and seen[1]["calling_device"] == "restricted"
    assert seen[2]["releasing_device"] == "restricted"
    rec = r.model.finished[0]
    assert (rec.remote_kind, rec.remote_number, rec.outcome) == ("restricted", None, "answered")


def test_restricted_caller_encodes_as_restricted_on_the_wire() -> None:
    r = Rig()
    r.model.incoming_call(None, "100")
    event = dataclasses.replace(r.notes[0].event, cross_ref_id=b"\x00\x01")
    raw = codec.encode_apdu(codec.EventReport(5, event))
    assert bytes.fromhex("61028800") in raw


def test_conference() -> None:
    r = Rig()
    c1 = r.model.incoming_call(Y, "100").call
    r.model.answer(c1, "100")
    c2 = r.model.consult(c1, "100", "101").call
    r.model.answer(c2, "101")
    r.notes.clear()
    r.model.conference(c1, c2, "100")
    for device in ("100", "101"):
        matches(r.seen(device), [ev("conferenced", "0001", "100", "connected", "conference",
                                    secondary_old_call={"call_id": "0002", "device": "100"},
                                    conferencing_device="100", added_party="101")])
    assert len(r.notes[0].event.conference_connections) == 3
    r.model.hang_up(c1, "101")  # the call goes on with two parties
    assert not c1.ended and {p.internal for p in c1.parties} == {None, "100"}
    r.model.remote_hang_up(c1)
    assert c1.ended
    recs = {rec.call_id.hex(): rec for rec in r.model.finished}
    assert recs["0002"].consultation and recs["0001"].outcome == "answered"
    assert recs["0001"].remote_number == Y


def test_hold_and_retrieve() -> None:
    r = Rig()
    call = r.model.make_call("100", "101").call
    r.model.answer(call, "101")
    r.notes.clear()
    r.model.hold(call, "100")
    r.model.retrieve(call, "100")
    matches(r.seen("100"), [ev("held", "0001", "100", "hold", "normal", holding_device="100"),
                            ev("retrieved", "0001", "100", "connected", "normal", retrieving_device="100")])
    # The other party sees the same events with its own state.
    assert [e["local_connection_state"] for e in r.seen("101")] == ["connected", "connected"]


def test_single_step_transfer() -> None:
    r = Rig()
    call = r.model.incoming_call(X, "100").call
    r.model.answer(call, "100")
    r.notes.clear()
    r.model.single_step_transfer(call, "100", "103")
    matches(r.seen("100"), [ev("transferred", "0001", "100", "null", "single_step_transfer",
                                transferred_to_device="103", endpoint=X)])
    matches(r.seen("103"), [ev("delivered", "0001", "103", "alerting", "single_step_transfer",
                                calling_device=X, last_redirection_device="100")])
    r.model.answer(call, "103")
    r.model.remote_hang_up(call)
    rec = r.model.finished[0]
    assert (rec.outcome, rec.answered_by, rec.transferred_to) == ("transferred", "100", "103")


def test_transfer_to_an_outside_number_ends_the_call_for_the_switch() -> None:
    r = Rig()
    c1 = r.model.incoming_call(X, "100").call
    r.model.answer(c1, "100")
    c2 = r.model.consult(c1, "100", "0017600000000").call
    r.model.remote_answer(c2)
    r.model.transfer(c1, c2, "100")
    assert c1.ended and c2.ended and not r.model.calls
    assert r.model.free_trunks() == r.model.trunks
    assert r.model.finished[-1].transferred_to == "0017600000000"


# Every scenario -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_event_survives_the_codec(name: str) -> None:
    r = Rig()
    r.play(name)
    assert r.notes
    for i, note in enumerate(r.notes):
        event = dataclasses.replace(note.event, cross_ref_id=b"\x00\x07")
        back = codec.decode_apdu(codec.encode_apdu(codec.EventReport(i + 1, event))).event
        assert back == event
        assert event.timestamp is not None and event.global_call_id is not None
        assert len(event.global_call_id) == 16 and event.thread_id is not None
        # The thread id ends with the call id of the call that began the thread; the global
        # call id with the call id until a transfer or conference gives the call a new one.
        merged = {n.event.connection.call_id for n in r.notes[:i + 1]
                  if n.event.name in ("transferred", "conferenced")}
        if event.connection.call_id not in merged:
            assert event.global_call_id[-2:] == event.connection.call_id


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_completes_within_15_seconds_and_cleans_up(name: str) -> None:
    r = Rig()
    r.play(name)
    assert START_DELAY + r.scheduler.virtual_now() <= 15
    assert not r.model.calls and r.model.free_trunks() == r.model.trunks
    assert r.model.finished and all(rec.ended_at is not None for rec in r.model.finished)


# Identity, errors, ground truth ----------------------------------------------------------


def test_call_ids_increment_wrap_and_skip_live_ids() -> None:
    r = Rig(first_call_id=0xFFFE)
    keep = r.model.incoming_call(X, "100").call          # FFFE stays up
    ids = []
    for _ in range(3):
        c = r.model.make_call("101", "102").call
        ids.append(c.call_id)
        r.model.hang_up(c, "101")
    assert keep.call_id == b"\xff\xfe"
    assert ids == [b"\xff\xff", b"\x00\x01", b"\x00\x02"]  # 0000 is never used
    # Going round once more, the live id is skipped.
    r.model._next_call_id = 0xFFFE
    c = r.model.make_call("101", "102").call
    assert c.call_id == b"\xff\xff"


def test_global_call_ids_are_unique_and_end_in_the_call_id() -> None:
    r = Rig()
    gcids = set()
    for _ in range(5):
        c = r.model.make_call("101", "102").call
        assert len(c.global_call_id) == 16 and c.global_call_id[-2:] == c.call_id
        gcids.add(c.global_call_id)
        r.model.hang_up(c, "101")
    assert len(gcids) == 5
    # Another run (another start time) gives other global ids for the same call ids.
    other = SwitchModel(DEVICES, clock=lambda: T0 + timedelta(hours=1))
    assert other.make_call("101", "102").call.global_call_id not in gcids


@pytest.mark.parametrize("operation, args, group, name", [
    ("answer", ("100",), "state_incompatibility", "invalid_connection_state"),  # the caller
    ("answer", ("105",), "operation", "invalid_connection_id"),                # not a party
    ("deflect", ("101", "999"), "operation", "invalid_destination"),
    ("deflect", ("101", "101"), "operation", "invalid_destination"),
    ("hold", ("101",), "state_incompatibility", "invalid_connection_state"),   # only rings
    ("retrieve", ("100",), "state_incompatibility", "invalid_held_connection_state"),
])
def test_refused_operations_raise_switch_errors_and_change_nothing(operation, args, group, name) -> None:
    r = Rig()
    call = r.model.make_call("100", "101").call
    before = len(r.notes)
    with pytest.raises(SwitchError) as info:
        getattr(r.model, operation)(call, *args)
    assert (info.value.group, info.value.name) == (group, name)
    assert info.value.value == names.error_value(group, name)
    assert len(r.notes) == before
    assert call.party("101").state == "alerting" and call.party("100").state == "connected"


def test_unknown_devices_and_numbers_are_refused() -> None:
    r = Rig()
    with pytest.raises(SwitchError, match="invalid_called_device_id"):
        r.model.incoming_call(X, "999")
    with pytest.raises(SwitchError, match="invalid_calling_device_id"):
        r.model.make_call("999", "100")
    with pytest.raises(SwitchError, match="invalid_called_device_id"):
        r.model.make_call("100", "12345")  # neither a device nor an outside number
    ended = r.model.make_call("100", "101").call
    r.model.hang_up(ended, "100")
    with pytest.raises(SwitchError, match="invalid_call_id"):
        r.model.answer(ended, "101")


def test_trunks_run_out() -> None:
    r = Rig(trunks=["9901"])
    r.model.incoming_call(X, "100")
    with pytest.raises(SwitchError, match="resource_busy"):
        r.model.incoming_call(X, "101")


def test_ground_truth_dict_has_the_documented_fields() -> None:
    r = Rig()
    r.play("incoming-answered")
    d = r.model.finished[0].to_dict()
    documented = {"call_id", "global_call_id", "direction", "remote_number", "remote_kind",
                  "devices", "outcome", "answered_by", "transferred_to", "diverted_to",
                  "consultation", "started_at", "ended_at"}
    assert documented <= set(d)
    assert d["call_id"] == "0001" and d["global_call_id"].endswith("0001")
    assert d["started_at"] == "2024-03-04T09:00:00" and d["ended_at"] == "2024-03-04T09:00:08"


def test_parse_device_list() -> None:
    assert parse_device_list("100-103") == ["100", "101", "102", "103"]
    assert parse_device_list("100,101,200-202,100") == ["100", "101", "200", "201", "202"]
    assert parse_device_list("0100-0101") == ["0100", "0101"]
    for bad in ("", "100-99", "abc", "100-1a"):
        with pytest.raises(ValueError):
            parse_device_list(bad)


# Demo traffic -------------------------------------------------------------------------------


def run_demo(seed: int, minutes: float, rate: float = 6.0, phonebook: list[str] | None = None,
             devices: list[str] | None = None) -> tuple[Rig, DemoTraffic]:
    r = Rig(devices or [str(n) for n in range(100, 121)])
    demo = DemoTraffic(r.traffic, rate=rate, seed=seed, numbers=NumberSource(phonebook or []))
    demo.start()
    r.wait(minutes * 60)
    return r, demo


def test_demo_is_reproducible_with_a_seed() -> None:
    a, _ = run_demo(7, 30)
    b, _ = run_demo(7, 30)
    c, _ = run_demo(8, 30)
    records_a = [rec.to_dict() for rec in a.model.finished]
    assert len(records_a) > 50
    assert records_a == [rec.to_dict() for rec in b.model.finished]
    assert [n.event for n in a.notes] == [n.event for n in b.notes]
    assert records_a != [rec.to_dict() for rec in c.model.finished]


def test_demo_makes_every_kind_of_call_and_leaves_nothing_behind() -> None:
    r, demo = run_demo(3, 240, rate=4)
    recs = list(r.model.finished)
    outcomes = {rec.outcome for rec in recs}
    assert {"answered", "missed", "busy", "transferred", "abandoned"} <= outcomes
    assert {rec.direction for rec in recs} == {"incoming", "outgoing", "internal"}
    assert any(rec.diverted_to for rec in recs)
    assert any(rec.remote_kind == "restricted" for rec in recs)
    assert any(v["outcome"] == "answered_elsewhere" for rec in recs for v in rec.views.values())
    # Stop the arrivals: every call in progress still comes to its end.
    demo.stop()
    r.scheduler.run_until_idle()
    assert not r.model.calls and r.model.free_trunks() == r.model.trunks
    # And every event it made is valid on the wire.
    for i, note in enumerate(r.notes[:2000]):
        event = dataclasses.replace(note.event, cross_ref_id=b"\x00\x01")
        assert codec.decode_apdu(codec.encode_apdu(codec.EventReport(i + 1, event))).event == event


def test_demo_rate_is_calls_per_minute() -> None:
    _, demo = run_demo(11, 120, rate=3)
    assert 3 * 120 * 0.8 < demo.started < 3 * 120 * 1.2


def test_demo_callers_come_mostly_from_the_phonebook() -> None:
    book = ["00891111111", "00302222222", "0017633333333"]
    source = NumberSource(book)
    rng = random.Random(1)
    draws = [source.number(rng) for _ in range(2000)]
    share = sum(d in book for d in draws) / len(draws)
    assert 0.65 < share < 0.75
    assert all(d.startswith("0") and d.isdigit() and len(d) >= 7 for d in draws)


def test_demo_uses_the_sample_phonebook_files(tmp_path) -> None:
    (tmp_path / "phonebook.csv").write_text(
        "Name;Company;Phone;Mobile\nA;B;+49 89 1234567;0171 7654321\nC;D;030/123456;\n", "utf-8")
    (tmp_path / "phonebook.vcf").write_text(
        "BEGIN:VCARD\nVERSION:3.0\nFN:E\nTEL;TYPE=work:+43 1 2345678\nEND:VCARD\n", "utf-8")
    numbers = demo_mod.load_phonebook([tmp_path / "phonebook.csv", tmp_path / "phonebook.vcf",
                                       tmp_path / "missing.csv"])
    assert numbers == ["00891234567", "001717654321", "0030123456", "0004312345678"]


@pytest.mark.parametrize("raw, presented", [
    ("+49 89 1234567", "00891234567"),
    ("089 / 123 45-67", "00891234567"),
    ("0049 30 123456", "0030123456"),
    ("+43 1 234567", "000431234567"),
    ("1234567", None),
])
def test_pbx_number(raw: str, presented: str | None) -> None:
    assert pbx_number(raw) == presented


def test_steps_report_what_started_ringing() -> None:
    r = Rig()
    step: Step = r.model.incoming_call(X, "100")
    assert [(c.call_id, d) for c, d in step.ringing] == [(b"\x00\x01", "100")]


def test_reconnect_ends_the_consultation_and_takes_the_caller_back() -> None:
    r = Rig()
    c1 = r.model.incoming_call(X, "100").call
    r.model.answer(c1, "100")
    c2 = r.model.consult(c1, "100", "101").call
    r.model.answer(c2, "101")
    r.notes.clear()
    r.model.reconnect(c2, c1, "100")
    matches(r.seen("100"), [
        ev("connection_cleared", "0002", "100", "null", "normal_clearing",
           releasing_device="100"),
        ev("retrieved", "0001", "100", "connected", "normal", retrieving_device="100"),
    ])
    matches(r.seen("101"), [
        ev("connection_cleared", "0002", "100", "connected", "normal_clearing"),
        ev("connection_cleared", "0002", "101", "null", "normal_clearing"),
    ])
    (rec,) = r.model.finished
    # The consultation call was an ordinary internal call that ended: no transfer.
    assert (rec.call_id, rec.outcome, rec.consultation, rec.transferred_to) == (
        b"\x00\x02", "answered", False, None)
    assert c1.party("100").state == "connected" and not c1.ended


def test_alternate_holds_one_call_and_takes_back_the_other() -> None:
    r = Rig()
    c1 = r.model.incoming_call(X, "100").call
    r.model.answer(c1, "100")
    c2 = r.model.consult(c1, "100", "101").call
    r.model.answer(c2, "101")
    r.notes.clear()
    r.model.alternate(c1, c2, "100")
    matches(r.seen("100"), [
        ev("held", "0002", "100", "hold", "alternate", holding_device="100"),
        ev("retrieved", "0001", "100", "connected", "alternate", retrieving_device="100"),
    ])
    assert [e["local_connection_state"] for e in r.seen("101")] == ["connected"]
    # ... and back: now C2 is the held one.
    r.notes.clear()
    r.model.alternate(c2, c1, "100")
    assert [(e["event"], e["call_id"]) for e in r.seen("100")] == [
        ("held", "0001"), ("retrieved", "0002")]
    with pytest.raises(SwitchError) as refused:
        r.model.alternate(c2, c1, "100")   # C2 is not on hold any more
    assert refused.value.name == "invalid_held_connection_state"


def test_directed_pickup_with_the_ringing_device_named() -> None:
    r = Rig()
    call = r.model.incoming_call(X, "101").call
    r.notes.clear()
    r.model.pickup(call, "100", "101")
    assert [(n.device, n.event.name, n.event.local_connection_state) for n in r.notes] == [
        ("101", "established", "null"), ("100", "established", "connected")]
    assert r.notes[0].event.cause == "call_pickup"
    with pytest.raises(SwitchError):
        r.model.pickup(call, "102", "101")   # it no longer rings at 101


def test_do_not_disturb_and_forwarding_reach_the_device_and_survive_the_codec() -> None:
    r = Rig()
    r.model.set_do_not_disturb("102", True)
    r.model.set_forwarding("103", "105")
    r.model.set_forwarding("103", None)
    r.model.set_do_not_disturb("102", False)
    assert [(n.device, n.event.name) for n in r.notes] == [
        ("102", "do_not_disturb"), ("103", "forwarding"), ("103", "forwarding"),
        ("102", "do_not_disturb")]
    dnd_on, fwd_on, fwd_off, dnd_off = (n.event for n in r.notes)
    assert (dnd_on.device.number, dnd_on.do_not_disturb_on, dnd_off.do_not_disturb_on) == (
        "102", True, False)
    assert (fwd_on.forwarding_type, fwd_on.forward_status, fwd_on.forward_to.number) == (
        "forwardImmediate", True, "105")
    assert (fwd_off.forward_status, fwd_off.forward_to) == (False, None)
    assert r.model.do_not_disturb == set() and r.model.forward_immediate == {}
    for note in r.notes:
        event = dataclasses.replace(note.event, cross_ref_id=b"\x00\x07")
        for form in codec.TAG_FORMS:
            raw = codec.encode_apdu(codec.EventReport(9, event), form)
            assert codec.decode_apdu(raw).event == event
    with pytest.raises(SwitchError):
        r.model.set_forwarding("103", "103")
    with pytest.raises(SwitchError):
        r.model.set_do_not_disturb("999", True)
