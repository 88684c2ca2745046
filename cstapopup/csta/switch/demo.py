"""Random, realistic demo traffic: callers from outside, internal and outgoing calls,
transfers, deflections, pickups, missed and busy calls.

Reproducible: every choice comes from one `random.Random(seed)` and runs in the scheduler's
virtual time, so the same seed gives the same calls (with no client changing them).  Callers
are taken about 70% of the time from a phone book the caller passes in (numbers read by
`load_phonebook`, e.g. from cstapopup's sample phone books) and otherwise made up; both are
presented as the PBX presents them, with the trunk access digit in front (e.g.
00891234567).  The traffic runs whether or not any client is connected.
"""

from __future__ import annotations

import csv
import logging
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from . import callkinds
from .callkinds import Pace
from .model import TRUNK_ACCESS_DIGIT, Call
from .traffic import Script, ScriptHandle, Traffic

log = logging.getLogger("cstapopup.csta.switch")

#: Share of callers taken from the phonebook when it has numbers.
PHONEBOOK_SHARE = 0.7
#: Share of incoming callers who withhold their number.
RESTRICTED_SHARE = 0.07

# Area codes (national form) of large German cities, and mobile prefixes, for made-up callers.
AREA_CODES = (
    "030",
    "040",
    "089",
    "0221",
    "069",
    "0711",
    "0211",
    "0201",
    "0231",
    "0421",
    "0511",
    "0341",
    "0351",
    "0911",
    "0228",
    "0621",
    "0761",
    "0251",
    "0521",
    "0234",
    "06131",
    "0441",
    "0831",
)
MOBILE_PREFIXES = (
    "0151",
    "0152",
    "0157",
    "0160",
    "0162",
    "0170",
    "0171",
    "0172",
    "0173",
    "0175",
    "0176",
    "0177",
    "0178",
    "0179",
)
FOREIGN_PREFIXES = ("0043", "0041", "0031", "0033", "0039", "0044")
# "(0)" after the country code in an international number (separators around it allowed).
_NATIONAL_ZERO = re.compile(r"\(\s*0\s*\)")

# Kinds of demo call and their weights.
KINDS: tuple[tuple[str, int], ...] = (
    ("incoming", 40),
    ("outgoing", 15),
    ("internal", 12),
    ("transfer", 8),
    ("deflect", 5),
    ("pickup", 5),
    ("busy", 4),
    ("conference", 2),
)


def pbx_number(raw: str) -> str | None:
    """A phonebook number ("+49 89 1234567", "089/1234567", "0043 1 234567") as the PBX
    presents an outside caller: trunk access digit, then the national or international form.
    None for numbers without an area code.

    "+49 (0)69 ..." and "0049 (0)30 ...": the bracketed 0 is the national prefix, written for
    readers at home and never dialled after the country code; a real caller's number comes
    without it, and so does the simulator's."""
    text = raw.strip()
    if text.startswith(("+", "00")):
        text = _NATIONAL_ZERO.sub(" ", text)
    plus = text.startswith("+")
    digits = "".join(ch for ch in text if ch.isdigit())
    if plus:
        national = "0" + digits[2:] if digits.startswith("49") else "00" + digits
    elif digits.startswith("0049"):
        national = "0" + digits[4:]
    elif digits.startswith("0"):
        national = digits
    else:
        return None
    if len(national) < 6:
        return None
    return TRUNK_ACCESS_DIGIT + national


def load_phonebook(paths: Iterable[Path]) -> list[str]:
    """The numbers (PBX form) of the sample phonebook files that exist, in file order."""
    numbers: list[str] = []
    for path in paths:
        try:
            if path.suffix.lower() == ".csv":
                numbers += _csv_numbers(path)
            elif path.suffix.lower() == ".vcf":
                numbers += _vcf_numbers(path)
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            log.warning("demo: cannot read the phonebook %s: %s", path, exc)
    return list(dict.fromkeys(numbers))


def _csv_numbers(path: Path) -> list[str]:
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            for column in ("Phone", "Mobile"):
                number = pbx_number(row.get(column) or "")
                if number:
                    out.append(number)
    return out


def _vcf_numbers(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key.upper().split(";")[0] == "TEL":
            number = pbx_number(value)
            if number:
                out.append(number)
    return out


class NumberSource:
    """Outside numbers for demo calls: from the phonebook (70%) or made up."""

    def __init__(self, phonebook: Iterable[str] = ()) -> None:
        self.phonebook = list(phonebook)

    def number(self, rng: random.Random) -> str:
        if self.phonebook and rng.random() < PHONEBOOK_SHARE:
            return rng.choice(self.phonebook)
        return made_up_number(rng)


def made_up_number(rng: random.Random) -> str:
    """A plausible German (sometimes foreign) number in the PBX's presentation."""
    roll = rng.random()
    if roll < 0.3:
        national = rng.choice(MOBILE_PREFIXES) + _digits(rng, rng.choice((7, 8)))
    elif roll < 0.35:
        national = (
            rng.choice(FOREIGN_PREFIXES) + str(rng.randint(1, 9)) + _digits(rng, rng.randint(6, 8))
        )
    else:
        area = rng.choice(AREA_CODES)
        national = area + str(rng.randint(2, 9)) + _digits(rng, 10 - len(area) + rng.randint(-1, 1))
    return TRUNK_ACCESS_DIGIT + national


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(max(1, n)))


def _talk(rng: random.Random) -> float:
    """A conversation length: mostly short, sometimes long (seconds)."""
    return min(240.0, 5.0 + rng.lognormvariate(3.0, 0.8))


# The pace of each kind of call (see callkinds): pauses in virtual seconds, (low, high) drawn
# uniformly; chances of yes.
PACES: dict[str, Pace] = {
    "incoming": Pace(
        {"ring": (2, 12), "talk": _talk, "give_up": (6, 25)},
        {"answered": 0.72, "callee_hangs_up": 0.4},
    ),
    # remote: 8% busy, 72% answered, 20% unanswered
    "outgoing": Pace(
        {"dial": (3, 10), "busy_tone": (2, 4), "talk": _talk, "give_up": (2, 10)},
        {"caller_hangs_up": 0.6},
        {"remote": (0.08, 0.8)},
    ),
    "internal": Pace(
        {"ring": (2, 8), "talk": lambda rng: _talk(rng) / 2, "give_up": (8, 20)},
        {"answered": 0.8},
        {"hangs_up": None},
    ),
    "transfer": Pace(
        {
            "ring": (2, 8),
            "talk_elsewhere": (10, 40),
            "talk_before": (5, 20),
            "consult_ring": (2, 6),
            "consult_talk": (3, 12),
            "talk": _talk,
            "back_to_caller": (5, 20),
        },
        {"consult_answered": 0.85, "consulted_leaves_first": False},
    ),
    "conference": Pace(
        {
            "ring": (2, 6),
            "talk_elsewhere": _talk,
            "talk_before": (5, 15),
            "consult_ring": (2, 5),
            "consult_talk": (2, 6),
            "talk": _talk,
            "talk_after": (5, 20),
            "back_to_caller": (5, 20),
        },
        {"consult_answered": True, "consulted_leaves_first": True},
    ),
    "deflect": Pace(
        {"ring": (2, 5), "ring_after": (2, 8), "talk": _talk, "give_up": (5, 15)},
        {"answered": 0.85},
    ),
    "pickup": Pace({"ring": (4, 10), "talk": _talk}),
}


class DemoTraffic:
    """Random calls at `rate` calls per minute (virtual time), reproducible with `seed`."""

    def __init__(
        self,
        traffic: Traffic,
        rate: float = 2.0,
        seed: int | None = None,
        numbers: NumberSource | None = None,
        reception: str | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("the demo rate must be positive")
        self.t = traffic
        self.model = traffic.model
        self.rate = float(rate)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.rng = random.Random(self.seed)
        self.numbers = numbers or NumberSource()
        self.devices = list(self.model.devices)
        #: The device that gets the largest share of outside calls (the reception).
        self.reception = reception or self.devices[0]
        self.handle: ScriptHandle | None = None
        self.started = 0
        self._builders: dict[str, Callable[[random.Random], Script | None]] = {
            "incoming": self._incoming,
            "outgoing": self._outgoing,
            "internal": self._internal,
            "transfer": self._transfer,
            "deflect": self._deflect,
            "pickup": self._pickup,
            "busy": self._busy,
            "conference": self._conference,
        }

    def start(self, delay: float = 1.0) -> ScriptHandle:
        self.handle = self.t.scheduler.spawn(self._arrivals(), delay, "demo")
        return self.handle

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def _arrivals(self) -> Script:
        names = [k for k, _ in KINDS]
        weights = [w for _, w in KINDS]
        while True:
            kind = self.rng.choices(names, weights)[0]
            # Each call gets its own generator, so that a call changed by a client does not
            # shift the choices of the calls after it.
            rng = random.Random(self.rng.getrandbits(64))
            script = self._builders[kind](rng)
            if script is not None:
                self.started += 1
                self.t.scheduler.spawn(script, 0.0, f"demo {kind}")
            yield self.rng.expovariate(self.rate / 60.0)

    # Choosing parties ---------------------------------------------------------------------

    def _free(self, exclude: Iterable[str] = ()) -> list[str]:
        skip = set(exclude)
        return [d for d in self.devices if d not in skip and not self.model.is_busy(d)]

    def _any_free(self, rng: random.Random, but: str) -> Callable[[], str | None]:
        """A chooser of a free device other than `but`, at the time it is asked."""

        def choose() -> str | None:
            free = self._free([but])
            return rng.choice(free) if free else None

        return choose

    def _target(self, rng: random.Random) -> str:
        if rng.random() < 0.4:
            return self.reception
        return rng.choice(self.devices)

    def _caller(self, rng: random.Random) -> str | None:
        return None if rng.random() < RESTRICTED_SHARE else self.numbers.number(rng)

    def _incoming_call(self, rng: random.Random, target: str) -> Call | None:
        return callkinds.incoming_call(self.t, self._caller(rng), target)

    # The kinds of call (the scripts are callkinds', the scenarios' too) -------------------------

    def _incoming(self, rng: random.Random) -> Script:
        call = self._incoming_call(rng, self._target(rng))
        if call is not None:
            yield from callkinds.answered_or_missed(self.t, PACES["incoming"].with_rng(rng), call)

    def _busy(self, rng: random.Random) -> Script | None:
        busy = [d for d in self.devices if self.model.is_busy(d)]
        if not busy:
            return self._incoming(rng)
        # The call fails at once; nothing is left to do.
        self._incoming_call(rng, rng.choice(busy))
        return None

    def _outgoing(self, rng: random.Random) -> Script | None:
        free = self._free()
        if not free:
            return None
        caller = rng.choice(free)
        step = self.t.attempt(self.model.make_call, caller, self.numbers.number(rng))
        if step is None:
            return None
        return callkinds.dialled_out(
            self.t, PACES["outgoing"].with_rng(rng), step.made_call(), caller
        )

    def _internal(self, rng: random.Random) -> Script | None:
        free = self._free()
        if len(free) < 2:
            return None
        caller, called = rng.sample(free, 2)
        step = self.t.attempt(self.model.make_call, caller, called)
        if step is None:
            return None
        return callkinds.internal(self.t, PACES["internal"].with_rng(rng), step.made_call(), caller)

    def _at_a_free_target(
        self, rng: random.Random, kind: str, rest: Callable[[Call, str, Pace], Script]
    ) -> Script | None:
        """An outside call to a target that is free and has a free colleague, going on as
        `rest(call, target, pace)`; a plain incoming call when there is none."""
        target = self._target(rng)
        if self.model.is_busy(target) or not self._free([target]):
            return self._incoming(rng)
        call = self._incoming_call(rng, target)
        if call is None:
            return None
        return rest(call, target, PACES[kind].with_rng(rng))

    def _transfer(self, rng: random.Random) -> Script | None:
        return self._at_a_free_target(
            rng,
            "transfer",
            lambda call, a, pace: callkinds.consulted(
                self.t, pace, call, a, self._any_free(rng, a), self.model.transfer
            ),
        )

    def _conference(self, rng: random.Random) -> Script | None:
        return self._at_a_free_target(
            rng,
            "conference",
            lambda call, a, pace: callkinds.consulted(
                self.t, pace, call, a, self._any_free(rng, a), self.model.conference
            ),
        )

    def _deflect(self, rng: random.Random) -> Script | None:
        return self._at_a_free_target(
            rng,
            "deflect",
            lambda call, a, pace: callkinds.deflected(
                self.t, pace, call, a, self._any_free(rng, a)
            ),
        )

    def _pickup(self, rng: random.Random) -> Script | None:
        return self._at_a_free_target(
            rng,
            "pickup",
            lambda call, a, pace: callkinds.picked_up(
                self.t, pace, call, a, self._any_free(rng, a)
            ),
        )
