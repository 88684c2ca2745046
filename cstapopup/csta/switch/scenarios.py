"""Named call scenarios: one call story each, at a pace a person can follow.

A scenario involves a main device A (by default the switch's first device) and, where it needs
them, the next devices B and C in the switch's list.  The server starts a scenario when a
client monitors A; each run completes within 15 virtual seconds (start delay included).  The
event sequences are those of docs/event-sequences.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .traffic import Script, Traffic

#: Virtual seconds between the trigger (a client monitors A) and the first call: time for the
#: client to start its other monitors.
START_DELAY = 1.0

# The outside numbers, as the PBX presents them (trunk access digit 0 in front).
CALLER = "00891234567"            # Munich
MISSED_CALLER = "0030901820"      # Berlin
BUSY_CALLER = "00691234567"       # Frankfurt
DIALLED = "00221987654"           # Cologne
TRANSFER_CALLER = "0017612345678"  # a mobile
DEFLECT_CALLER = "00711654321"    # Stuttgart
PICKUP_CALLER = "0040822110"      # Hamburg
CONFERENCE_CALLER = "0004930123456"  # international form


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    #: How many devices it involves (A, B, C).
    devices: int
    script: Callable[[Traffic, Sequence[str]], Script]


def _incoming_answered(t: Traffic, d: Sequence[str], caller: str | None = CALLER) -> Script:
    step = t.attempt(t.model.incoming_call, caller, d[0])
    if step is None:
        return
    call = step.call
    yield 3
    t.answer_where_ringing(call)
    yield 5
    t.finish(call)  # the caller hangs up first


def _incoming_missed(t: Traffic, d: Sequence[str]) -> Script:
    step = t.attempt(t.model.incoming_call, MISSED_CALLER, d[0])
    if step is None:
        return
    yield 6
    t.finish(step.call)  # the caller gives up


def _incoming_busy(t: Traffic, d: Sequence[str]) -> Script:
    # A is on the phone (an outgoing call), then a caller finds it busy.
    step = t.attempt(t.model.make_call, d[0], DIALLED)
    if step is None:
        return
    first = step.call
    yield 2
    if t.alive(first) and first.outside() is not None:
        t.attempt(t.model.remote_answer, first)
    yield 2
    t.attempt(t.model.incoming_call, BUSY_CALLER, d[0])
    yield 3
    t.finish(first, by=d[0])


def _outgoing(t: Traffic, d: Sequence[str]) -> Script:
    step = t.attempt(t.model.make_call, d[0], DIALLED)
    if step is None:
        return
    call = step.call
    yield 3
    if t.alive(call) and call.outside() is not None:
        t.attempt(t.model.remote_answer, call)
    yield 5
    t.finish(call, by=d[0])


def _internal(t: Traffic, d: Sequence[str]) -> Script:
    step = t.attempt(t.model.make_call, d[0], d[1])
    if step is None:
        return
    call = step.call
    yield 3
    t.answer_where_ringing(call)
    yield 5
    t.finish(call, by=d[1])  # the called party hangs up first


def _transfer(t: Traffic, d: Sequence[str]) -> Script:
    a, b = d[0], d[1]
    step = t.attempt(t.model.incoming_call, TRANSFER_CALLER, a)
    if step is None:
        return
    c1 = step.call
    yield 2
    t.answer_where_ringing(c1)
    yield 3
    consult = t.attempt(t.model.consult, c1, a, b) if t.alive(c1) else None
    c2 = consult.call if consult else None
    yield 2
    if c2 is not None:
        t.answer_where_ringing(c2)
    yield 2
    if (c2 is not None and t.alive(c1) and t.alive(c2)
            and t.attempt(t.model.transfer, c1, c2, a) is None):
        t.finish(c2, by=a)
    yield 4
    t.finish(c2, by=a)
    t.finish(c1)


def _deflect(t: Traffic, d: Sequence[str]) -> Script:
    a, c = d[0], d[2]
    step = t.attempt(t.model.incoming_call, DEFLECT_CALLER, a)
    if step is None:
        return
    call = step.call
    yield 2
    if t.alive(call) and call.ringing_device() == a:
        t.attempt(t.model.deflect, call, a, c)
    yield 3
    t.answer_where_ringing(call)
    yield 4
    t.finish(call)


def _restricted(t: Traffic, d: Sequence[str]) -> Script:
    return _incoming_answered(t, d, caller=None)


def _pickup(t: Traffic, d: Sequence[str]) -> Script:
    a, b = d[0], d[1]
    step = t.attempt(t.model.incoming_call, PICKUP_CALLER, a)
    if step is None:
        return
    call = step.call
    yield 3
    if t.alive(call) and call.ringing_device() == a:
        t.attempt(t.model.pickup, call, b, a)
    yield 4
    t.finish(call)


def _forwarded(t: Traffic, d: Sequence[str]) -> Script:
    # The ring time runs out here rather than through A's forwarding setting, which the
    # scenario leaves as it is (runs may overlap; SwitchModel.forward_no_answer covers the
    # configured case).
    a, c = d[0], d[2]
    step = t.attempt(t.model.incoming_call, CALLER, a)
    if step is None:
        return
    call = step.call
    yield 4
    if t.alive(call) and call.ringing_device() == a:
        t.attempt(t.model.deflect, call, a, c, "call_forward_no_answer")
    yield 2
    t.answer_where_ringing(call)
    yield 3
    t.finish(call)


def _conference(t: Traffic, d: Sequence[str]) -> Script:
    a, b = d[0], d[1]
    step = t.attempt(t.model.incoming_call, CONFERENCE_CALLER, a)
    if step is None:
        return
    c1 = step.call
    yield 2
    t.answer_where_ringing(c1)
    yield 2
    consult = t.attempt(t.model.consult, c1, a, b) if t.alive(c1) else None
    c2 = consult.call if consult else None
    yield 2
    if c2 is not None:
        t.answer_where_ringing(c2)
    yield 2
    if (c2 is not None and t.alive(c1) and t.alive(c2)
            and t.attempt(t.model.conference, c1, c2, a) is None):
        t.finish(c2, by=a)
    yield 4
    t.finish(c1, by=b)
    yield 2
    t.finish(c1)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("incoming-answered", "an outside caller rings A, A answers, the caller hangs up", 1,
             _incoming_answered),
    Scenario("incoming-missed", "an outside caller rings A and gives up", 1, _incoming_missed),
    Scenario("incoming-busy", "A is on an outgoing call; an outside caller finds A busy", 1,
             _incoming_busy),
    Scenario("outgoing", "A dials an outside number, it answers, A hangs up", 1, _outgoing),
    Scenario("internal", "A calls B, B answers, B hangs up", 2, _internal),
    Scenario("transfer", "an outside caller rings A, A answers, consults B and transfers", 2,
             _transfer),
    Scenario("deflect", "an outside caller rings A, A deflects the call to C, C answers", 3,
             _deflect),
    Scenario("restricted-caller", "a caller who withholds the number rings A, A answers", 1,
             _restricted),
    Scenario("pickup", "an outside caller rings A, B picks the call up", 2, _pickup),
    Scenario("forwarded", "an outside caller rings A, unanswered it goes to C, C answers", 3,
             _forwarded),
    Scenario("conference", "an outside caller rings A, A answers, consults B and conferences", 2,
             _conference),
)}


def scenario_devices(devices: Sequence[str], main: str | None = None, count: int = 3) -> list[str]:
    """A, B, C for a scenario: `main` (default the first device) and the devices after it."""
    if not devices:
        raise ValueError("no devices")
    start = devices.index(main) if main is not None else 0
    return [devices[(start + i) % len(devices)] for i in range(count)]
