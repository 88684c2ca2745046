"""The demo's and the self-test's PBX: the switch simulator on 127.0.0.1 with made-up traffic
and a welcome call at "your" phone, and the settings the app uses with it.

The app runs it instead of the user's PBX for `cstapopup --demo` (random calls, a separate
history) and `cstapopup --self-test` (no traffic: the self-test starts its one call itself).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_USER
from cstapopup.csta.switch.demo import load_phonebook
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.csta.switch.traffic import Script
from cstapopup.resources import demo_phonebooks
from cstapopup.settings import LINK_DIRECT, ConnectionParameters

log = logging.getLogger(__name__)

#: Devices of the demo PBX, the monitored ones, and "your own phone".
DEMO_DEVICES = "100-120"
DEMO_MONITORED = tuple(str(d) for d in range(100, 106))
DEMO_OWN = "100"
DEFAULT_DEMO_RATE = 4.0
#: Virtual seconds after the demo's start when its first call rings at DEMO_OWN.
WELCOME_CALL_DELAY = 3.0
#: How long the welcome call rings (long enough to see, and to press Answer), and talks.
WELCOME_RING_SECONDS = 8.0
WELCOME_TALK_SECONDS = 25.0
#: The demo's history, apart from the user's.
DEMO_HISTORY_FILE = "demo-history.sqlite3"
#: The simulator's factory login.
DEMO_USER, DEMO_PASSWORD = DEFAULT_USER, DEFAULT_PASSWORD
#: The colleagues panel of the demo (and of the self-test: the first two), with names.
DEMO_COLLEAGUES = (
    "101 Anna Berger",
    "102 Tom Keller",
    "103 Eva Roth",
    "104 Jonas Weber",
    "105 Mia Schulz",
    "106 Lukas Braun",
    "107 Lea Fischer",
    "108 Paul Wagner",
    "109 Sara Kühn",
    "110 Ben Hoffmann",
)
#: Virtual seconds after the start when a demo colleague switches do not disturb on, and
#: another forwards their phone (then every DEMO_FEATURE_PERIOD both switch back and forth).
DEMO_FEATURE_DELAY = 6.0
DEMO_FEATURE_PERIOD = 180.0


def demo_settings(*, self_test: bool = False) -> dict[str, Any]:
    """The settings the app uses with the simulated PBX, over the user's (in memory only)."""
    books = [str(p) for p in demo_phonebooks()]
    values: dict[str, Any] = {
        "pbx.connection": LINK_DIRECT,
        "pbx.host": "127.0.0.1",
        "pbx.port": 0,
        "pbx.user": DEMO_USER,
        "pbx.tls": False,
        "pbx.ca_file": "",
        "devices.monitor": [DEMO_OWN] if self_test else list(DEMO_MONITORED),
        "devices.own": DEMO_OWN,
        "phonebook.files": books,
        "devices.colleagues": list(DEMO_COLLEAGUES[:2] if self_test else DEMO_COLLEAGUES),
        "numbers.country": "DE",
        "numbers.area_code": "",
        "numbers.trunk_prefix": "0",
        "numbers.internal_max_length": 4,
    }
    if self_test:
        # The self-test checks the app, not the user's taste: default popup settings.
        values.update(
            {
                "popup.screen": "primary",
                "popup.corner": "bottom-right",
                "popup.sound": False,
                "app.do_not_disturb": False,
            }
        )
    return values


class DemoPbx:
    """A simulated PBX on 127.0.0.1 (any free port).  `traffic`: random calls at `rate` per
    minute (reproducible with `seed`) and a welcome call a few seconds after the start;
    without, it is quiet until `start_scenario()` or `ring()`.  `speed`: virtual seconds per
    real second."""

    def __init__(
        self,
        *,
        traffic: bool = True,
        rate: float = DEFAULT_DEMO_RATE,
        seed: int | None = None,
        speed: float = 1.0,
    ) -> None:
        self._numbers = load_phonebook(demo_phonebooks()) if traffic else []
        self.server = SwitchServer(
            host="127.0.0.1",
            port=0,
            devices=DEMO_DEVICES,
            user=DEMO_USER,
            password=DEMO_PASSWORD,
            demo=traffic,
            rate=rate,
            seed=seed,
            speed=speed,
            phonebook=self._numbers,
        )

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def params(self) -> ConnectionParameters:
        """How to log in to it."""
        return ConnectionParameters("127.0.0.1", self.server.port, DEMO_USER, DEMO_PASSWORD)

    async def start(self) -> None:
        await self.server.start()
        demo = self.server.demo
        if demo is not None:
            log.info(
                "demo: simulated PBX on 127.0.0.1:%d, %.3g calls per minute, seed %d",
                self.server.port,
                demo.rate,
                demo.seed,
            )
            # Random traffic may leave the monitored phones quiet for a minute: a first
            # caller from the phone book rings at "your" phone a few seconds after the start.
            self.server.scheduler.spawn(
                self._welcome_call(demo.seed), WELCOME_CALL_DELAY, "demo welcome call"
            )
            # The colleagues panel shows every lamp: one colleague with do not disturb, one
            # forwarded, now and then.
            self.server.scheduler.spawn(
                self._features(), DEMO_FEATURE_DELAY, "demo do not disturb and forwarding"
            )

    async def stop(self) -> None:
        await self.server.stop()

    def start_scenario(self, name: str, device: str) -> None:
        """Start one of the simulator's scenarios (csta.switch.scenarios) at `device`."""
        self.server.start_scenario(name, device)

    def ring(self, caller: str | None, device: str) -> bool:
        """An outside caller (PBX form, e.g. "00891234567"; None: withheld) rings at `device`
        now and keeps ringing.  False when the switch refuses (the device is busy)."""
        return self.server.traffic.incoming(caller, device) is not None

    def _features(self) -> Script:
        model = self.server.model
        on = True
        while True:
            model.set_do_not_disturb("107", on)
            model.set_forwarding("108", "101" if on else None)
            yield DEMO_FEATURE_PERIOD
            on = not on

    def _welcome_call(self, seed: int) -> Script:
        caller = random.Random(seed).choice(self._numbers) if self._numbers else None
        traffic = self.server.traffic
        call = traffic.incoming(caller, DEMO_OWN)
        if call is None:
            return
        yield WELCOME_RING_SECONDS
        traffic.answer_where_ringing(call)
        yield WELCOME_TALK_SECONDS
        traffic.finish(call)


__all__ = [
    "DEFAULT_DEMO_RATE",
    "DEMO_HISTORY_FILE",
    "DEMO_MONITORED",
    "DEMO_OWN",
    "DemoPbx",
    "demo_settings",
]
