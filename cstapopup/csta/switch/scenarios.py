"""Named call scenarios: one call story each, at a pace a person can follow.

A scenario involves a main device A (by default the switch's first device) and, where it needs
them, the next devices B and C in the switch's list.  The server starts a scenario when a
client monitors A; each run completes within 15 virtual seconds (start delay included).  The
event sequences are those of docs/event-sequences.md.  The calls are callkinds' scripts, the
same as the demo traffic's, at a fixed pace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import callkinds
from .callkinds import REMOTE_OUTCOMES, Pace
from .traffic import Script, Traffic

#: Virtual seconds between the trigger (a client monitors A) and the first call: time for the
#: client to start its other monitors.
START_DELAY = 1.0

# The outside numbers, as the PBX presents them (trunk access digit 0 in front).
CALLER = "00891234567"  # Munich
MISSED_CALLER = "0030901820"  # Berlin
BUSY_CALLER = "00691234567"  # Frankfurt
DIALLED = "00221987654"  # Cologne
TRANSFER_CALLER = "0017612345678"  # a mobile
DEFLECT_CALLER = "00711654321"  # Stuttgart
PICKUP_CALLER = "0040822110"  # Hamburg
CONFERENCE_CALLER = "0004930123456"  # international form


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    #: How many devices it involves (A, B, C).
    devices: int
    script: Callable[[Traffic, Sequence[str]], Script]


# The pace of every scenario: fixed pauses (virtual seconds) and choices made in advance.
# Pauses a run reaches only when a client changed the call (the consulted device busy, the
# call answered elsewhere) are there too, so that every path has its pause.
_ANSWERED = Pace({"ring": 3, "talk": 5, "give_up": 6}, {"answered": True, "callee_hangs_up": False})
_MISSED = Pace({"ring": 3, "talk": 5, "give_up": 6}, {"answered": False})
_OUTGOING = Pace(
    {"dial": 3, "talk": 5, "give_up": 5, "busy_tone": 3},
    {"caller_hangs_up": True},
    {"remote": REMOTE_OUTCOMES.index("answered")},
)
#: A is on the phone from 0 to 7 s; the other caller comes at BUSY_AT.
_ON_THE_PHONE = Pace(
    {"dial": 2, "talk": 5, "give_up": 5, "busy_tone": 3},
    {"caller_hangs_up": True},
    {"remote": REMOTE_OUTCOMES.index("answered")},
)
BUSY_AT = 4.0
#: B, who answered, hangs up first.
_INTERNAL = Pace({"ring": 3, "talk": 5, "give_up": 8}, {"answered": True}, {"hangs_up": 1})
_TRANSFER = Pace(
    {
        "ring": 2,
        "talk_elsewhere": 8,
        "talk_before": 3,
        "consult_ring": 2,
        "consult_talk": 2,
        "talk": 4,
        "back_to_caller": 4,
    },
    {"consult_answered": True, "consulted_leaves_first": False},
)
_CONFERENCE = Pace(
    {
        "ring": 2,
        "talk_elsewhere": 8,
        "talk_before": 2,
        "consult_ring": 2,
        "consult_talk": 2,
        "talk": 4,
        "talk_after": 2,
        "back_to_caller": 4,
    },
    {"consult_answered": True, "consulted_leaves_first": True},
)
_DEFLECT = Pace({"ring": 2, "ring_after": 3, "talk": 4, "give_up": 4}, {"answered": True})
_FORWARDED = Pace({"ring": 4, "ring_after": 2, "talk": 3, "give_up": 3}, {"answered": True})
_PICKUP = Pace({"ring": 3, "talk": 4})


def _incoming(caller: str | None, pace: Pace) -> Callable[[Traffic, Sequence[str]], Script]:
    def script(t: Traffic, d: Sequence[str]) -> Script:
        call = callkinds.incoming_call(t, caller, d[0])
        if call is not None:
            yield from callkinds.answered_or_missed(t, pace, call)

    return script


def _outgoing(t: Traffic, d: Sequence[str]) -> Script:
    step = t.attempt(t.model.make_call, d[0], DIALLED)
    if step is not None:
        yield from callkinds.dialled_out(t, _OUTGOING, step.made_call(), d[0])


def _incoming_busy(t: Traffic, d: Sequence[str]) -> Script:
    # A is on the phone (an outgoing call), then a caller finds it busy.
    step = t.attempt(t.model.make_call, d[0], DIALLED)
    if step is None:
        return
    t.scheduler.call_later(
        BUSY_AT, lambda: t.attempt(t.model.incoming_call, BUSY_CALLER, d[0]), "scenario busy caller"
    )
    yield from callkinds.dialled_out(t, _ON_THE_PHONE, step.made_call(), d[0])


def _internal(t: Traffic, d: Sequence[str]) -> Script:
    step = t.attempt(t.model.make_call, d[0], d[1])
    if step is not None:
        yield from callkinds.internal(t, _INTERNAL, step.made_call(), d[0])


def _consulted(caller: str, pace: Pace, join: str) -> Callable[[Traffic, Sequence[str]], Script]:
    def script(t: Traffic, d: Sequence[str]) -> Script:
        call = callkinds.incoming_call(t, caller, d[0])
        if call is not None:
            yield from callkinds.consulted(
                t, pace, call, d[0], lambda: d[1], getattr(t.model, join)
            )

    return script


def _deflected(
    caller: str, pace: Pace, cause: str | None = None
) -> Callable[[Traffic, Sequence[str]], Script]:
    def script(t: Traffic, d: Sequence[str]) -> Script:
        call = callkinds.incoming_call(t, caller, d[0])
        if call is not None:
            yield from callkinds.deflected(t, pace, call, d[0], lambda: d[2], cause)

    return script


def _pickup(t: Traffic, d: Sequence[str]) -> Script:
    call = callkinds.incoming_call(t, PICKUP_CALLER, d[0])
    if call is not None:
        yield from callkinds.picked_up(t, _PICKUP, call, d[0], lambda: d[1])


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "incoming-answered",
            "an outside caller rings A, A answers, the caller hangs up",
            1,
            _incoming(CALLER, _ANSWERED),
        ),
        Scenario(
            "incoming-missed",
            "an outside caller rings A and gives up",
            1,
            _incoming(MISSED_CALLER, _MISSED),
        ),
        Scenario(
            "incoming-busy",
            "A is on an outgoing call; an outside caller finds A busy",
            1,
            _incoming_busy,
        ),
        Scenario("outgoing", "A dials an outside number, it answers, A hangs up", 1, _outgoing),
        Scenario("internal", "A calls B, B answers, B hangs up", 2, _internal),
        Scenario(
            "transfer",
            "an outside caller rings A, A answers, consults B and transfers",
            2,
            _consulted(TRANSFER_CALLER, _TRANSFER, "transfer"),
        ),
        Scenario(
            "deflect",
            "an outside caller rings A, A deflects the call to C, C answers",
            3,
            _deflected(DEFLECT_CALLER, _DEFLECT),
        ),
        Scenario(
            "restricted-caller",
            "a caller who withholds the number rings A, A answers",
            1,
            _incoming(None, _ANSWERED),
        ),
        Scenario("pickup", "an outside caller rings A, B picks the call up", 2, _pickup),
        # The ring time runs out here rather than through A's forwarding setting, which the
        # scenario leaves as it is (runs may overlap; SwitchModel.forward_no_answer covers the
        # configured case).
        Scenario(
            "forwarded",
            "an outside caller rings A, unanswered it goes to C, C answers",
            3,
            _deflected(CALLER, _FORWARDED, "call_forward_no_answer"),
        ),
        Scenario(
            "conference",
            "an outside caller rings A, A answers, consults B and conferences",
            2,
            _consulted(CONFERENCE_CALLER, _CONFERENCE, "conference"),
        ),
    )
}


def scenario_devices(devices: Sequence[str], main: str | None = None, count: int = 3) -> list[str]:
    """A, B, C for a scenario: `main` (default the first device) and the devices after it."""
    if not devices:
        raise ValueError("no devices")
    start = devices.index(main) if main is not None else 0
    return [devices[(start + i) % len(devices)] for i in range(count)]
