"""The kinds of call the simulator plays, one script each, shared by the named scenarios
(scenarios.py: a fixed pace, every choice made in advance) and the demo traffic (demo.py: a
random pace).

A script acts on a call that has begun (`incoming_call`, or the model's make_call) and
yields pauses in virtual seconds (see traffic.py).  How long each pause is and how each
choice falls comes from a `Pace`, by name: "ring", "talk", "answered", ...  Every script
keeps going when a client changed the call under it (answered, deflected or cleared it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .model import Call, Step
from .traffic import Script, Traffic

T = TypeVar("T")

#: A pause: fixed seconds, a (low, high) range drawn uniformly, or a function of the
#: generator.
PauseSpec = float | tuple[float, float] | Callable[[random.Random], float]
#: A yes/no choice: fixed, or the probability of yes.
ChanceSpec = bool | float
#: A choice among options: the index of a fixed one, or the upper bounds of the options'
#: shares of [0, 1) in order (the last option takes the rest), or None: any, evenly.
PickSpec = int | tuple[float, ...] | None

#: How a call to the outside world goes on: a busy line, answered, or not answered.
REMOTE_OUTCOMES = ("busy", "answered", "unanswered")


@dataclass(frozen=True)
class Pace:
    """The pauses and choices of one run of a script, by name.  Random specs draw from
    `rng`, in the order the script asks, so that the same generator gives the same call."""

    pauses: Mapping[str, PauseSpec]
    chances: Mapping[str, ChanceSpec] = field(default_factory=dict)
    picks: Mapping[str, PickSpec] = field(default_factory=dict)
    rng: random.Random | None = None

    def with_rng(self, rng: random.Random) -> Pace:
        return Pace(self.pauses, self.chances, self.picks, rng)

    def _random(self) -> random.Random:
        if self.rng is None:
            raise ValueError("a random pace needs a generator (Pace.with_rng)")
        return self.rng

    def pause(self, what: str) -> float:
        spec = self.pauses[what]
        if callable(spec):
            return spec(self._random())
        if isinstance(spec, tuple):
            return self._random().uniform(*spec)
        return float(spec)

    def chance(self, what: str) -> bool:
        spec = self.chances[what]
        if isinstance(spec, bool):
            return spec
        return self._random().random() < spec

    def pick(self, what: str, options: Sequence[T]) -> T:
        spec = self.picks.get(what)
        if isinstance(spec, int):
            return options[spec]
        if spec is None:
            return self._random().choice(options)
        roll = self._random().random()
        for option, bound in zip(options, spec):
            if roll < bound:
                return option
        return options[-1]


def incoming_call(t: Traffic, caller: str | None, device: str) -> Call | None:
    """An outside call from `caller` (None: withheld) to `device`; None when it could not
    begin or ended at once (the device is busy)."""
    step = t.attempt(t.model.incoming_call, caller, device)
    return None if step is None or step.call is None or step.call.ended else step.call


def answered_or_missed(t: Traffic, pace: Pace, call: Call) -> Script:
    """An incoming call rings: it is answered where it rings and talked over ("ring",
    "talk"; "callee_hangs_up" first, else the caller), or the caller gives up ("give_up")."""
    if pace.chance("answered"):
        yield pace.pause("ring")
        answered_by = t.answer_where_ringing(call)
        yield pace.pause("talk")
        t.finish(call, by=answered_by if pace.chance("callee_hangs_up") else None)
    else:
        yield pace.pause("give_up")
        t.finish(call)


def dialled_out(t: Traffic, pace: Pace, call: Call, caller: str) -> Script:
    """`caller` dialled an outside number ("dial"): the line is busy ("busy_tone", then the
    caller hangs up), or it answers ("talk"), or nobody answers ("give_up"), as the pick
    "remote" of REMOTE_OUTCOMES says; "caller_hangs_up" first, else the other side."""
    yield pace.pause("dial")
    remote = pace.pick("remote", REMOTE_OUTCOMES)
    reachable = t.alive(call) and call.outside() is not None
    if remote == "busy" and reachable:
        t.attempt(t.model.remote_busy, call)
        yield pace.pause("busy_tone")
        if t.alive(call) and call.party(caller) is not None:
            t.attempt(t.model.hang_up, call, caller, "busy")
        t.finish(call)
        return
    if remote != "unanswered" and reachable:
        t.attempt(t.model.remote_answer, call)
        yield pace.pause("talk")
    else:
        yield pace.pause("give_up")
    t.finish(call, by=caller if pace.chance("caller_hangs_up") else None)


def internal(t: Traffic, pace: Pace, call: Call, caller: str) -> Script:
    """`caller` called another internal device: it answers ("ring", "talk"; the pick
    "hangs_up" of [caller, answerer] hangs up), or the caller gives up ("give_up")."""
    if pace.chance("answered"):
        yield pace.pause("ring")
        answered_by = t.answer_where_ringing(call)
        yield pace.pause("talk")
        t.finish(call, by=pace.pick("hangs_up", [caller, answered_by]))
    else:
        yield pace.pause("give_up")
        t.finish(call, by=caller)


def consulted(
    t: Traffic,
    pace: Pace,
    c1: Call,
    a: str,
    consult_target: Callable[[], str | None],
    join: Callable[[Call, Call, str], Step],
) -> Script:
    """A call rings at `a` ("ring"); `a` answers, talks ("talk_before"), consults the
    device `consult_target()` names and, once it answered ("consult_ring",
    "consult_answered", "consult_talk"), joins the calls: `join` is the model's transfer or
    conference.  Then "talk"; with "consulted_leaves_first" the consulted device hangs up
    first and the others talk on ("talk_after").  Answered elsewhere: "talk_elsewhere".  A
    consultation nobody takes: `a` drops it and goes back to the caller ("back_to_caller")."""
    yield pace.pause("ring")
    if t.answer_where_ringing(c1) != a:
        yield pace.pause("talk_elsewhere")
        t.finish(c1)
        return
    yield pace.pause("talk_before")
    b = consult_target() if t.alive(c1) else None
    consult = t.attempt(t.model.consult, c1, a, b) if b is not None else None
    c2 = consult.call if consult else None
    if c2 is None or c2.ended:
        yield pace.pause("talk")
        t.finish(c1)
        return
    yield pace.pause("consult_ring")
    if pace.chance("consult_answered") and t.answer_where_ringing(c2):
        yield pace.pause("consult_talk")
        if t.attempt(join, c1, c2, a):
            yield pace.pause("talk")
            if pace.chance("consulted_leaves_first"):
                t.finish(c1, by=b)
                yield pace.pause("talk_after")
            t.finish(c1)
            return
    t.finish(c2, by=a)
    if t.alive(c1):
        t.attempt(t.model.retrieve, c1, a)
    yield pace.pause("back_to_caller")
    t.finish(c1)


def deflected(
    t: Traffic,
    pace: Pace,
    call: Call,
    a: str,
    target: Callable[[], str | None],
    cause: str | None = None,
) -> Script:
    """A call rings at `a` ("ring"); while it still rings there it goes on to `target()`
    (deflected, or forwarded with `cause`), rings there ("ring_after") and is answered
    ("answered", "talk") or not ("give_up")."""
    yield pace.pause("ring")
    if t.alive(call) and call.ringing_device() == a:
        to = target()
        if to is not None:
            t.attempt(t.model.deflect, call, a, to, *(() if cause is None else (cause,)))
    yield pace.pause("ring_after")
    if pace.chance("answered") and t.answer_where_ringing(call):
        yield pace.pause("talk")
    else:
        yield pace.pause("give_up")
    t.finish(call)


def picked_up(t: Traffic, pace: Pace, call: Call, a: str, by: Callable[[], str | None]) -> Script:
    """A call rings at `a` ("ring"); while it still rings there `by()` picks it up; "talk"."""
    yield pace.pause("ring")
    if t.alive(call) and call.ringing_device() == a:
        taker = by()
        if taker is not None:
            t.attempt(t.model.pickup, call, taker, a)
    yield pace.pause("talk")
    t.finish(call)
