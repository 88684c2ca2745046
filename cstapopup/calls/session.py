"""One run of the app without its windows: its mode (the user's PBX, the demo, the
self-test), the settings as it uses them (the demo's over the user's, in memory only), its
history file, the demo's PBX, and the desk connected to the right PBX.

The UI (`cstapopup.ui.controller`) makes one, shows what its desk hands up, and calls it when
the user changes settings or asks for the demo.  No Qt here.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cstapopup.gateway.client import GatewayClientOptions
from cstapopup.i18n import translate
from cstapopup.settings import (
    FACTORY_PASSWORD,
    LINK_DIRECT,
    LINK_GATEWAY,
    PASSWORD_STORAGE_NONE,
    GatewayParameters,
    LinkParameters,
    PasswordStore,
    Settings,
    SettingsError,
)

from . import gateway_link, link, texts
from .demo import DEFAULT_DEMO_RATE, DEMO_HISTORY_FILE, DemoPbx, demo_settings
from .desk import Desk, DeskConfig, DeskListener, LinkFactory, LinkOptions
from .store import default_path
from .views import Level, Notice

PBX, DEMO, SELF_TEST = "pbx", "demo", "self-test"

#: Settings the desk works with (DeskConfig).
DESK_SETTINGS = frozenset(
    {
        "devices.monitor",
        "devices.own",
        "devices.colleagues",
        "crm.url_template",
        "popup.close_after_seconds",
        "phonebook.files",
        "numbers.country",
        "numbers.area_code",
        "numbers.trunk_prefix",
        "numbers.internal_max_length",
    }
)

#: Asks the user for the PBX password and calls back with it (None: cancelled).
AskPassword = Callable[[Callable[[str | None], None]], None]
#: Runs a coroutine in the background (`what` names it in an error message).
Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


@dataclass
class AppOptions:
    """How the app was started (command line) and what tests and benchmarks change."""

    demo: bool = False
    self_test: bool = False
    seed: int | None = None
    rate: float = DEFAULT_DEMO_RATE
    #: Virtual seconds per real second of the embedded simulator (demo, self-test).
    speed: float = 1.0
    #: The settings file (None: the user's config file).
    settings_path: Path | None = None
    #: Folder of the history files (None: the user's data folder, or $CSTAPOPUP_DATA_DIR).
    data_dir: Path | None = None
    client_options: LinkOptions | None = None
    #: The options of the way through the office gateway (its client's).
    gateway_options: GatewayClientOptions | None = None
    #: Show the history window at start: None = only when there is no system tray.
    show_window: bool | None = None
    #: Overrides popup.close_after_seconds (self-test, benchmarks).
    popup_close_after: float | None = None

    @property
    def mode(self) -> str:
        return SELF_TEST if self.self_test else DEMO if self.demo else PBX


class Session:
    """See the module docstring.  `open()`, then `start_link()`; `close()` at the end.

    `listener` gets what the desk hands up, and the session's own notices.  `link_factory`
    makes the PBX link: one factory (a link of our own, `calls.link.PbxLink`) or one per way
    to the PBX (`settings.LINK_DIRECT`, `LINK_GATEWAY`; `link_factories()` makes both); the
    setting `pbx.connection` picks the one used (the demo's PBX always takes the direct
    one).  `spawn` runs background work (a
    reconnection after the settings changed, a connection after the password was typed);
    `ask_password` asks for the PBX password when it is kept nowhere; `autostart`: the
    login-item module (`cstapopup.autostart`, or a fake in tests)."""

    def __init__(
        self,
        options: AppOptions,
        listener: DeskListener,
        link_factory: LinkFactory | Mapping[str, LinkFactory],
        *,
        spawn: Spawn,
        ask_password: AskPassword,
        autostart: ModuleType | Any = None,
    ) -> None:
        self.options = options
        self.mode = options.mode
        self.listener = listener
        defaults = link_factories(options)
        given = (
            dict(link_factory) if isinstance(link_factory, Mapping) else {LINK_DIRECT: link_factory}
        )
        self.link_factories: dict[str, LinkFactory] = {**defaults, **given}
        self.desk = Desk(listener, link_factory=self.link_factories[LINK_DIRECT])
        self.settings = Settings()
        self.settings_warnings: list[str] = []
        self.demo_pbx: DemoPbx | None = None
        self.stopping = False
        self._spawn = spawn
        self._ask_password = ask_password
        self._autostart = autostart
        self._overrides: dict[str, Any] = {}
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        #: Passwords typed in this run (asked for, or entered in the settings), by way.
        self._passwords: dict[str, str] = {}
        self._generation = 0

    # -- settings as used ---------------------------------------------------------------

    def value(self, name: str) -> Any:
        """A setting as the app uses it now: the demo's / self-test's, else the user's."""
        if name in self._overrides:
            value = self._overrides[name]
            return list(value) if isinstance(value, list) else value
        return self.settings.get(name)

    @property
    def monitored(self) -> list[str]:
        return [str(d) for d in self.value("devices.monitor")]

    @property
    def own_device(self) -> str | None:
        return self.value("devices.own") or None

    # -- start, stop ----------------------------------------------------------------------

    def language_setting(self) -> str:
        """The `app.language` setting, read before `open()` (the windows' language must be
        chosen before any of them, or any notice, is made): the user's, from the settings
        file ("auto" for the self-test, whose settings are its own)."""
        if self.mode == SELF_TEST and self.options.settings_path is None:
            return "auto"
        settings, _warnings = Settings.load(self.options.settings_path, read_only=True)
        return str(settings.get("app.language"))

    def open(self) -> None:
        """Read the settings and open the history (a throw-away one for the self-test)."""
        if self.mode == SELF_TEST:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="cstapopup-self-test-")
        path = self.options.settings_path or (
            Path(self._temp_dir.name) / "config.toml" if self._temp_dir else None
        )
        self.settings, self.settings_warnings = Settings.load(path)
        self.desk.set_do_not_disturb(bool(self.settings.get("app.do_not_disturb")))
        if self.mode != PBX:
            self._use_demo_settings()
        self._configure_desk()
        self._open_history()

    def _use_demo_settings(self) -> None:
        self._overrides = demo_settings(self_test=self.mode == SELF_TEST)
        if self.mode == SELF_TEST:
            self.desk.set_do_not_disturb(False)

    def _configure_desk(self) -> None:
        config, notices = DeskConfig.from_settings(
            self.value, close_after=self.options.popup_close_after
        )
        for notice in notices:
            self.listener.notice(notice)
        self.desk.configure(config)

    def _open_history(self) -> None:
        if self._temp_dir is not None:
            folder = Path(self._temp_dir.name)
        else:
            folder = self.options.data_dir or default_path().parent
        path = folder / (default_path().name if self.mode == PBX else DEMO_HISTORY_FILE)
        snapshots = (self.options.client_options or LinkOptions()).snapshot_monitors
        self.desk.open_history(path, snapshots=snapshots)

    async def start_link(self) -> bool:
        """Connect to the PBX of the mode (starting the demo's first); False when no PBX is
        set up yet."""
        self._generation += 1
        if self.mode != PBX:
            if self.demo_pbx is None:
                self.demo_pbx = DemoPbx(
                    traffic=self.mode == DEMO,
                    rate=self.options.rate,
                    seed=self.options.seed,
                    speed=self.options.speed,
                )
                await self.demo_pbx.start()
            label = (
                translate("Session", "the simulated PBX")
                if self.mode == DEMO
                else translate("Session", "the self-test PBX")
            )
            await self.desk.connect(self.demo_pbx.params, label=label, demo=self.mode == DEMO)
            return True
        kind = self.settings.connection
        if not self.settings.is_configured:
            self.desk.not_connected(
                translate("Session", "no PBX set up yet: open the settings")
                if kind == LINK_DIRECT
                else translate("Session", "no office gateway set up yet: open the settings")
            )
            return False
        password = self._passwords.get(kind) or PasswordStore(self.settings, kind=kind).get()
        if password is None and self.settings.get("pbx.password_storage") == PASSWORD_STORAGE_NONE:
            self._ask(kind)
            return True
        note = ""
        if not password and kind == LINK_DIRECT:
            # Nothing stored: the factory password, as `cstapopup monitor` does; but said,
            # in the tray and with a refused login, so nobody wonders which one was sent.
            password, note = FACTORY_PASSWORD, texts.factory_password_note(FACTORY_PASSWORD)
        elif not password:
            note = texts.no_broker_password_note()
        await self._connect(self.settings.link_parameters(password), note=note)
        return True

    async def _connect(self, params: LinkParameters, *, note: str = "") -> bool:
        kind = LINK_GATEWAY if isinstance(params, GatewayParameters) else LINK_DIRECT
        return await self.desk.connect(params, note=note, link_factory=self.link_factories[kind])

    def _ask(self, kind: str) -> None:
        generation = self._generation
        self.desk.not_connected(
            translate("Session", "waiting for the PBX password")
            if kind == LINK_DIRECT
            else translate("Session", "waiting for the broker password")
        )

        def entered(text: str | None) -> None:
            if generation != self._generation or self.stopping:
                return  # the settings changed (or the app ends) meanwhile
            if not text:
                self.desk.not_connected(
                    translate(
                        "Session", "no password entered: not connected (enter it in the settings)"
                    )
                )
                return
            self._passwords[kind] = text
            self._spawn(
                self._connect(self.settings.link_parameters(text)),
                translate("Session", "connecting"),
            )

        self._ask_password(entered)

    async def restart_link(self) -> None:
        await self.desk.disconnect()
        if not self.stopping:
            await self.start_link()

    async def enter_demo(self) -> None:
        """Leave the user's PBX for the demo's (the first-start prompt's choice); then
        `start_link()`."""
        await self.desk.disconnect()
        self.mode = DEMO
        self._use_demo_settings()
        self._configure_desk()
        self.desk.close()
        self._open_history()

    async def close(self) -> None:
        """Leave the PBX, stop the demo's, close the history."""
        self.stopping = True
        with contextlib.suppress(Exception):
            await self.desk.disconnect()
        if self.demo_pbx is not None:
            with contextlib.suppress(Exception):
                await self.demo_pbx.stop()
            self.demo_pbx = None
        self.desk.close()
        if self._temp_dir is not None:
            with contextlib.suppress(OSError):
                self._temp_dir.cleanup()

    # -- the user's changes -------------------------------------------------------------

    def settings_applied(self, changed: set[str], password: str | None = None) -> None:
        """The user saved settings (and typed `password` in the dialog): apply them; the link
        restarts when its settings changed."""
        if password:
            self._passwords[self.settings.connection] = password
        if changed & DESK_SETTINGS:
            self._configure_desk()
        if "app.start_at_login" in changed and self._autostart is not None:
            try:
                if self.settings.get("app.start_at_login"):
                    self._autostart.enable()
                else:
                    self._autostart.disable()
            except OSError as exc:
                self._notice(
                    translate("Session", "Start at login"),
                    translate("Session", "Could not change the login item: {problem}").format(
                        problem=exc
                    ),
                )
        if "app.do_not_disturb" in changed:
            self.desk.set_do_not_disturb(bool(self.settings.get("app.do_not_disturb")))
        # "pbx.password" (or "gateway.password") comes when the password was changed in the
        # dialog.
        if not any(
            n.startswith(("pbx.", "gateway.")) or n in ("devices.monitor", "devices.colleagues")
            for n in changed
        ):
            return
        if self.mode == PBX:
            self._spawn(self.restart_link(), translate("Session", "reconnecting"))
        else:
            self.listener.notice(
                Notice(
                    translate("Session", "Settings saved"),
                    translate(
                        "Session",
                        "The demo keeps its simulated PBX; your PBX settings are used when "
                        "cstapopup starts without --demo.",
                    ),
                )
            )

    def set_do_not_disturb(self, on: bool) -> None:
        """Do not disturb on or off, kept for the next start (not by the demo or self-test,
        which leave the user's file alone)."""
        self.desk.set_do_not_disturb(on)
        if self.mode == SELF_TEST:
            return
        try:
            self.settings.set("app.do_not_disturb", self.desk.do_not_disturb)
            if self.mode == PBX:
                self.settings.save()
        except (SettingsError, OSError) as exc:
            self._notice(
                translate("Session", "Settings"),
                translate("Session", "Do not disturb was not saved: {problem}").format(problem=exc),
            )

    def apply_retention(self) -> int:
        return self.desk.apply_retention(int(self.value("history.retention_days")))

    def _notice(self, title: str, text: str) -> None:
        self.listener.notice(Notice(title, text, Level.WARNING))


def link_factories(options: AppOptions) -> dict[str, LinkFactory]:
    """A factory for each way to the PBX, with the options the app was started with."""
    return {
        LINK_DIRECT: functools.partial(link.PbxLink, options=options.client_options),
        LINK_GATEWAY: functools.partial(gateway_link.GatewayLink, options=options.gateway_options),
    }


async def test_connection(params: LinkParameters) -> str:
    """The settings dialog's "Test connection", for either way to the PBX."""
    if isinstance(params, GatewayParameters):
        return await gateway_link.test_connection(params)
    return await link.test_connection(params)


__all__ = [
    "DEMO",
    "PBX",
    "SELF_TEST",
    "AppOptions",
    "AskPassword",
    "Session",
    "Spawn",
    "link_factories",
    "test_connection",
]
