"""The call tracker against the simulator's ground truth (cstapopup/csta/switch/model.py).

Both sides implement docs/event-sequences.md: the switch model emits the events and writes down
what each call was (its record) and what a tracker watching only one device should say (its
`views`).  Here the tracker is fed the model's events, monitor by monitor, and must agree:
with every device monitored, on each call's outcome, parties and direction; with one device
monitored, on that device's view.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from cstapopup.calls.model import Call
from cstapopup.calls.tracker import CallTracker
from cstapopup.csta.switch.model import CallRecord, Step, SwitchModel
from cstapopup.csta.switch.scenarios import SCENARIOS, scenario_devices
from cstapopup.csta.switch.traffic import Scheduler, Traffic

DEVICES = [str(d) for d in range(100, 106)]
PBX_START = datetime(2024, 3, 4, 10, 0, 0)          # the PBX's naive local time
UTC_START = datetime(2024, 3, 4, 9, 0, 0, tzinfo=timezone.utc)
X, Y = "00891234567", "00221987654"


def overlapping_traffic(seed: int, scenarios: int = 40, linkage: str = "new"
                        ) -> tuple[list[Step], list[CallRecord]]:
    """The simulator's named scenarios, started at random devices and times so they overlap."""
    rnd = random.Random(seed)
    scheduler = Scheduler(start=PBX_START)
    steps: list[Step] = []
    model = SwitchModel(DEVICES, clock=scheduler.now, listener=steps.append, instance_id=seed,
                        linkage_after_transfer=linkage)
    traffic = Traffic(model, scheduler)
    for _ in range(scenarios):
        scenario = rnd.choice(list(SCENARIOS.values()))
        devices = scenario_devices(DEVICES, rnd.choice(DEVICES), 3)
        scheduler.spawn(scenario.script(traffic, devices), delay=rnd.uniform(0, 120))
    scheduler.run_until_idle()
    return steps, list(model.finished)


def feed(steps: list[Step], monitored: frozenset[str]) -> dict[str, Call]:
    """What the history holds after the tracker saw the events of the `monitored` devices."""
    tracker = CallTracker(monitored, strict=True)
    rows: dict[str, Call] = {}
    for step in steps:
        for i, note in enumerate(step.notifications):
            if note.device not in monitored:
                continue
            # Received as the PBX sent it (its naive local clock only orders the events).
            at = UTC_START + (note.event.timestamp - PBX_START) + timedelta(microseconds=i)
            for call in tracker.feed(note.device, note.event, at):
                rows[call.key] = call
            for key in tracker.drain_deleted():
                rows.pop(key, None)
    assert tracker.live_calls() == []
    return rows


def gid_of(call: Call) -> str:
    return call.key.split(":")[1]


def check_consultations(rows: dict[str, Call], truth: dict[str, CallRecord],
                        device: str | None = None) -> None:
    """The consultations the ground truth lists, as the rows' hops say them: the call they
    were made from has a "consulted" hop (by, to) for each, a consultation that kept its row
    a "consultation" hop (by; detail: the other party of the call it was made from).  With
    `device`, only what that device's monitor can tell: the consultations it made."""
    for gid, record in truth.items():
        call = rows[gid]
        consulted = [(h.device, h.detail) for h in call.hops if h.kind == "consulted"]
        assert consulted == [(by, to) for by, to in record.consulted
                             if device in (None, by)], gid
        marks = [h for h in call.hops if h.kind == "consultation"]
        by = record.devices[0] if record.devices else None
        if record.consultation_of is None or device not in (None, by):
            assert marks == [], gid
            continue
        assert [h.device for h in marks] == [by], gid
        held = rows.get(record.consultation_of.hex())
        if held is not None:
            assert marks[0].detail == held.remote_number, gid


def check_all_monitored(steps: list[Step], records: list[CallRecord]) -> None:
    rows = {gid_of(c): c for c in feed(steps, frozenset(DEVICES)).values()}
    truth = {r.global_call_id.hex(): r for r in records if not r.consultation}
    assert set(rows) == set(truth)
    check_consultations(rows, truth)
    for gid, record in truth.items():
        call = rows[gid]
        assert (call.outcome.value, call.answered_by, call.transferred_to, call.diverted_to,
                call.direction.value, call.remote_number, call.remote_kind) == (
            record.outcome, record.answered_by, record.transferred_to, record.diverted_to,
            record.direction, record.remote_number, record.remote_kind), gid
        assert not call.end_unknown and call.ended_at is not None
        # Our view of a call ends no later than the call itself.
        assert call.ended_at <= UTC_START + (record.ended_at - PBX_START) + timedelta(seconds=0.01)


def check_single_device_views(steps: list[Step], records: list[CallRecord]) -> None:
    for device in DEVICES:
        rows = feed(steps, frozenset([device]))
        check_consultations({gid_of(c): c for c in rows.values()},
                            {r.global_call_id.hex(): r for r in records
                             if not r.consultation and device in r.views}, device)
        got = Counter((gid_of(c), c.outcome.value, c.answered_by, c.transferred_to, c.diverted_to)
                      for c in rows.values())
        want = Counter((r.global_call_id.hex(), r.views[device]["outcome"],
                        r.views[device]["answered_by"], r.views[device]["transferred_to"],
                        r.views[device]["diverted_to"])
                       for r in records if not r.consultation and device in r.views)
        assert got == want, device


@pytest.mark.parametrize("linkage", ["new", "old"])
@pytest.mark.parametrize("seed", range(5))
def test_overlapping_simulated_traffic_agrees_with_the_ground_truth(seed, linkage):
    steps, records = overlapping_traffic(seed, linkage=linkage)
    assert len(records) > 20     # some scenarios find their devices busy and do not start
    check_all_monitored(steps, records)
    check_single_device_views(steps, records)


def _transfer_chain(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(3)
    c2 = m.consult(c, "100", "101").call
    m.answer(c2, "101")
    m.transfer(c, c2, "100")
    tick(4)
    c3 = m.consult(c, "101", "102").call
    m.answer(c3, "102")
    m.transfer(c, c3, "101")
    tick(5)
    m.remote_hang_up(c)


def _single_step(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(3)
    m.single_step_transfer(c, "100", "102")
    tick(3)
    m.answer(c, "102")
    tick(4)
    m.remote_hang_up(c)


def _single_step_outside(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(3)
    m.single_step_transfer(c, "100", Y)


def _outgoing_remote_busy(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.make_call("100", Y).call
    tick(3)
    m.remote_busy(c)
    tick(2)
    m.hang_up(c, "100")


def _internal_busy(m: SwitchModel, tick: Callable[[float], None]) -> None:
    first = m.make_call("101", Y).call
    m.remote_answer(first)
    tick(1)
    c = m.make_call("100", "101").call
    tick(2)
    m.hang_up(c, "100")
    m.hang_up(first, "101")


def _deflect_unanswered(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.incoming_call(None, "100").call
    tick(2)
    m.deflect(c, "100", "102")
    tick(9)
    m.remote_hang_up(c)


def _internal_picked_up(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.make_call("102", "100").call
    tick(3)
    m.pickup(c, "101", "100")
    tick(3)
    m.hang_up(c, "102")


def _clear_call(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(2)
    m.clear_call(c)


def _consult_unanswered_reconnect(m: SwitchModel, tick: Callable[[float], None]) -> None:
    """100 consults 102, who does not answer: 100 takes the caller back (ReconnectCall)."""
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(3)
    c2 = m.consult(c, "100", "102").call
    tick(8)
    m.reconnect(c2, c, "100")
    tick(20)
    m.remote_hang_up(c)


def _consult_answered_then_back(m: SwitchModel, tick: Callable[[float], None]) -> None:
    """102 answers the consultation; 100 goes back to the caller without a transfer."""
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(3)
    c2 = m.consult(c, "100", "102").call
    tick(2)
    m.answer(c2, "102")
    tick(5)
    m.reconnect(c2, c, "100")
    tick(10)
    m.hang_up(c, "100")


def _hold_then_call(m: SwitchModel, tick: Callable[[float], None]) -> None:
    """A hold and a new call (no ConsultationCall): a consultation all the same, which ends
    in a transfer."""
    c = m.incoming_call(X, "101").call
    m.answer(c, "101")
    tick(3)
    m.hold(c, "101")
    c2 = m.make_call("101", "103").call
    tick(2)
    m.answer(c2, "103")
    tick(2)
    m.transfer(c, c2, "101")
    tick(9)
    m.hang_up(c, "103")


def _consult_busy(m: SwitchModel, tick: Callable[[float], None]) -> None:
    """The consulted colleague is busy; then an outside number is consulted and answers."""
    busy = m.make_call("103", Y).call
    m.remote_answer(busy)
    c = m.incoming_call(X, "100").call
    m.answer(c, "100")
    tick(2)
    c2 = m.consult(c, "100", "103").call
    tick(2)
    m.hang_up(c2, "100")
    m.retrieve(c, "100")
    tick(3)
    c3 = m.consult(c, "100", "0004930555666").call
    tick(2)
    m.remote_answer(c3)
    tick(4)
    m.reconnect(c3, c, "100")
    tick(5)
    m.remote_hang_up(c)
    m.hang_up(busy, "103")


def _consult_conference(m: SwitchModel, tick: Callable[[float], None]) -> None:
    c = m.incoming_call(X, "104").call
    m.answer(c, "104")
    tick(2)
    c2 = m.consult(c, "104", "105").call
    m.answer(c2, "105")
    tick(2)
    m.conference(c, c2, "104")
    tick(7)
    m.hang_up(c, "105")
    tick(3)
    m.remote_hang_up(c)


@pytest.mark.parametrize("linkage", ["new", "old"])
@pytest.mark.parametrize("story", [
    _transfer_chain, _single_step, _single_step_outside, _outgoing_remote_busy, _internal_busy,
    _deflect_unanswered, _internal_picked_up, _clear_call, _consult_unanswered_reconnect,
    _consult_answered_then_back, _hold_then_call, _consult_busy, _consult_conference,
], ids=lambda f: f.__name__.strip("_"))
def test_switch_operations_beyond_the_scenarios(story, linkage):
    now = [PBX_START]
    steps: list[Step] = []
    model = SwitchModel(DEVICES, clock=lambda: now[0], listener=steps.append, instance_id=1,
                        linkage_after_transfer=linkage)

    def tick(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    story(model, tick)
    records = list(model.finished)
    assert records
    check_all_monitored(steps, records)
    check_single_device_views(steps, records)
