"""The desktop app's wiring: settings, history, phone book, the PBX link, tray, popups, windows.

`AppController` owns one of each and connects them: every monitor event goes through the
recorder into the history (window and badge), and a Delivered event at a monitored device
that rings there shows a popup that then follows its call.  It runs in the qasync loop (Qt
and asyncio in one thread) and never lets an error of the PBX, the network or the history
escape as an exception: each becomes a link state (tray icon and tooltip) or a message.

Modes: "pbx" (the user's PBX from the settings), "demo" (an embedded simulator with random
traffic; settings overridden in memory only, a separate demo history), "self-test" (an
embedded simulator without traffic, a throw-away history; see `cstapopup.ui.app`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QSystemTrayIcon

from cstapopup import autostart as autostart_module
from cstapopup import resources
from cstapopup.calls.model import Call
from cstapopup.calls.numbers import NumberingPlan
from cstapopup.calls.recorder import Recorder
from cstapopup.calls.store import HistoryError, default_path
from cstapopup.csta.client import ClientOptions, CstaClientError, LinkDownError
from cstapopup.csta.events import ConnectionId, CstaEvent, DeliveredEvent, DeviceId
from cstapopup.csta.switch.demo import load_phonebook
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import (
    PASSWORD_STORAGE_NONE,
    ConnectionParameters,
    PasswordStore,
    Settings,
    SettingsError,
)
from cstapopup.ui import link as link_module
from cstapopup.ui.history_window import HistoryWindow
from cstapopup.ui.link import PbxLink
from cstapopup.ui.popup import CallPopup, PopupStack, RingSound, UrlOpener
from cstapopup.ui.settings_dialog import PASSWORD_CHANGED, SettingsDialog
from cstapopup.ui.tray import TrayIcon

log = logging.getLogger(__name__)

PBX, DEMO, SELF_TEST = "pbx", "demo", "self-test"
DEMO_HISTORY_FILE = "demo-history.sqlite3"
#: Devices of the demo PBX, the monitored ones, and "your own phone".
DEMO_DEVICES = "100-120"
DEMO_MONITORED = [str(d) for d in range(100, 106)]
DEMO_OWN = "100"
DEFAULT_DEMO_RATE = 4.0
#: Virtual seconds after the demo's start when its first call rings at DEMO_OWN.
WELCOME_CALL_DELAY = 3.0
RETENTION_INTERVAL_MS = 24 * 3600 * 1000

# Causes of a Delivered event that say how the call came to the ringing device.
_FORWARD_CAUSES = {"redirected", "call_forward", "call_forward_immediate", "call_forward_busy",
                   "call_forward_no_answer", "call_deflection", "distributed"}
_TRANSFER_CAUSES = {"transfer", "single_step_transfer"}

# The link states of PbxLink as the tray shows them.
_TRAY_STATE = {"connecting": "connecting", "up": "up", "down": "down", "rejected": "down",
               "closed": "down"}


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
    client_options: ClientOptions | None = None
    #: Show the history window at start: None = only when there is no system tray.
    show_window: bool | None = None
    #: Overrides popup.close_after_seconds (self-test, benchmarks).
    popup_close_after: float | None = None

    @property
    def mode(self) -> str:
        return SELF_TEST if self.self_test else DEMO if self.demo else PBX


#: Asks the user what to do on a first start without a configured PBX; the default shows a
#: non-blocking message box.  Gets the controller (call `start_demo()` / `open_settings()`).
FirstRunPrompt = Callable[["AppController"], None]
#: Asks for the PBX password (storage "nowhere"); calls back with it, or None when cancelled.
PasswordPrompt = Callable[["AppController", Callable[[str | None], None]], None]


def first_run_message_box(controller: AppController) -> None:
    window = controller.history
    box = QMessageBox(QMessageBox.Icon.Question, "cstapopup",
                      "No PBX is set up yet.\n\nTry cstapopup with a simulated PBX and made-up "
                      "calls, or enter your PBX's address and the phones to watch.",
                      parent=window if window is not None and window.isVisible() else None)
    box.setObjectName("firstRun")
    demo = box.addButton("Try the &demo", QMessageBox.ButtonRole.AcceptRole)
    settings = box.addButton("Open &settings…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("&Later", QMessageBox.ButtonRole.RejectRole)

    def clicked(button: Any) -> None:
        if button is demo:
            controller.start_demo()
        elif button is settings:
            controller.open_settings()

    box.buttonClicked.connect(clicked)
    box.setModal(False)
    controller.keep(box)
    box.show()


def password_input_dialog(controller: AppController, done: Callable[[str | None], None]) -> None:
    dialog = QInputDialog()
    dialog.setWindowTitle("cstapopup")
    dialog.setLabelText(f"Password for {controller.settings.get('pbx.user')} at "
                        f"{controller.settings.get('pbx.host')}:")
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    dialog.textValueSelected.connect(lambda text: done(text))
    dialog.rejected.connect(lambda: done(None))
    controller.keep(dialog)
    dialog.open()


class AppController(QObject):
    """The running app.  `await start()`, then `await wait_quit()`, then `await shutdown()`.

    Signals for the window system and for tests: `link_state_changed(tray_state, reason)`,
    `call_updated(Call)` (every change the history gets), `message_posted(title, text)`,
    `quit_requested()`.
    """

    link_state_changed = Signal(str, str)
    call_updated = Signal(object)
    message_posted = Signal(str, str)
    quit_requested = Signal()

    def __init__(self, options: AppOptions | None = None, *,
                 first_run_prompt: FirstRunPrompt = first_run_message_box,
                 password_prompt: PasswordPrompt = password_input_dialog,
                 autostart: ModuleType | Any = autostart_module,
                 url_opener: UrlOpener | None = None,
                 tray_available: bool | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.options = options or AppOptions()
        self.mode = self.options.mode
        self._first_run_prompt = first_run_prompt
        self._password_prompt = password_prompt
        self._autostart = autostart
        self._url_opener = url_opener
        self._tray_available = (QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None
                                else tray_available)
        self.settings = Settings()
        self.settings_warnings: list[str] = []
        self._overrides: dict[str, Any] = {}
        self.recorder: Recorder | None = None
        self.server: SwitchServer | None = None
        self.link: PbxLink | None = None
        self.tray: TrayIcon | None = None
        self.popups: PopupStack | None = None
        self.history: HistoryWindow | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.messages: list[tuple[str, str]] = []
        self.link_state: tuple[str, str] = ("connecting", "starting")
        self._raw_state = "down"
        self._session_password: str | None = None
        self._dnd = False
        self._ringing: dict[str, dict[str, ConnectionId]] = {}
        self._calls: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._kept: list[QObject] = []
        self._quit: asyncio.Future[None] | None = None
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._link_generation = 0
        self._lost_notified = False
        self._message_action: Callable[[], None] | None = None
        self._monitor_messages: set[str] = set()
        self._sound: RingSound | None = None
        self._retention_timer: QTimer | None = None
        self._stopping = False
        #: Called as hook(event, popup) right after a new popup was shown (benchmarks, tests).
        self.popup_shown_hooks: list[Callable[[CstaEvent, CallPopup], None]] = []
        #: Called once the tray icon (or, without a tray, the main window) is shown.
        self.ui_shown_hooks: list[Callable[[str], None]] = []

    # -- values ---------------------------------------------------------------------------

    def value(self, name: str) -> Any:
        """A setting as the app uses it now: the demo's / self-test's override, else the
        user's value."""
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

    @property
    def do_not_disturb(self) -> bool:
        return self._dnd

    def keep(self, obj: QObject) -> None:
        """Keep a Python reference to a window shown without a parent (message boxes)."""
        self._kept.append(obj)
        obj.destroyed.connect(lambda *_: self._kept.remove(obj) if obj in self._kept else None)

    # -- start ----------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._quit = loop.create_future()
        if self.mode == SELF_TEST:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="cstapopup-self-test-")
        self.settings, self.settings_warnings = Settings.load(self._settings_path())
        self._dnd = bool(self.settings.get("app.do_not_disturb"))
        if self.mode != PBX:
            self._overrides = self._simulated_overrides()
        self._open_recorder()
        self._build_ui()
        if self.settings_warnings:
            self.notify("Settings", "\n".join(self.settings_warnings),
                        QSystemTrayIcon.MessageIcon.Warning)
        self._start_retention()
        if self.mode != PBX:
            await self._start_simulator()
            await self._start_link()
        elif not self.settings.is_configured:
            self._set_tray_state("down", "no PBX set up yet: open the settings")
            self._first_run_prompt(self)
        else:
            await self._start_link()

    def _settings_path(self) -> Path | None:
        if self.options.settings_path is not None:
            return self.options.settings_path
        if self._temp_dir is not None:
            return Path(self._temp_dir.name) / "config.toml"
        return None

    def _data_dir(self) -> Path:
        if self._temp_dir is not None:
            return Path(self._temp_dir.name)
        if self.options.data_dir is not None:
            return self.options.data_dir
        return default_path().parent

    def _history_path(self) -> Path:
        if self.mode == PBX:
            return self._data_dir() / default_path().name
        return self._data_dir() / DEMO_HISTORY_FILE

    def _simulated_overrides(self) -> dict[str, Any]:
        demo_books = [str(resources.path("demo/phonebook.csv")),
                      str(resources.path("demo/phonebook.vcf"))]
        monitored = ["100"] if self.mode == SELF_TEST else list(DEMO_MONITORED)
        overrides: dict[str, Any] = {
            "pbx.host": "127.0.0.1", "pbx.port": 0, "pbx.user": "AMHOST", "pbx.tls": False,
            "pbx.ca_file": "", "devices.monitor": monitored, "devices.own": DEMO_OWN,
            "phonebook.files": [p for p in demo_books if Path(p).is_file()],
            "numbers.country": "DE", "numbers.area_code": "", "numbers.trunk_prefix": "0",
            "numbers.internal_max_length": 4,
        }
        if self.mode == SELF_TEST:
            # The self-test checks the app, not the user's taste: default popup settings.
            overrides.update({"popup.screen": "primary", "popup.corner": "bottom-right",
                              "popup.sound": False, "app.do_not_disturb": False})
            self._dnd = False
        return overrides

    def _plan(self) -> NumberingPlan:
        try:
            return NumberingPlan(
                country=self.value("numbers.country"), area_code=self.value("numbers.area_code"),
                trunk_prefix=self.value("numbers.trunk_prefix"),
                internal_max_length=self.value("numbers.internal_max_length"))
        except ValueError as exc:
            self.notify("Numbers", f"The numbering settings cannot be used ({exc}); "
                                   "using the defaults.", QSystemTrayIcon.MessageIcon.Warning)
            return NumberingPlan()

    def _open_recorder(self) -> None:
        path = self._history_path()
        snapshots = (self.options.client_options or ClientOptions()).snapshot_monitors
        kwargs = {"phonebook_files": self.value("phonebook.files"), "plan": self._plan(),
                  "snapshots": snapshots}
        try:
            self.recorder = Recorder.open(path, self.monitored, **kwargs)
        except HistoryError as exc:
            # Popups matter more than the history: go on with a throw-away one, and say so.
            self._temp_dir = self._temp_dir or tempfile.TemporaryDirectory(prefix="cstapopup-")
            fallback = Path(self._temp_dir.name) / "history.sqlite3"
            self.notify("Call history", f"{exc}\nCalls are kept only until cstapopup ends.",
                        QSystemTrayIcon.MessageIcon.Critical)
            self.recorder = Recorder.open(fallback, self.monitored, **kwargs)
        store = self.recorder.store
        if store.recovered_from is not None:
            self.notify("Call history", store.recovery_message() or "",
                        QSystemTrayIcon.MessageIcon.Warning)
        book = self.recorder.phonebook
        if book is not None and book.errors:
            self.notify("Phone book", "\n".join(book.errors[:5]),
                        QSystemTrayIcon.MessageIcon.Warning)

    def _build_ui(self) -> None:
        assert self.recorder is not None
        self.tray = TrayIcon(self)
        self.tray.set_do_not_disturb(self._dnd)
        self.tray.history_requested.connect(self.show_history)
        self.tray.settings_requested.connect(self.open_settings)
        self.tray.quit_requested.connect(self.request_quit)
        self.tray.dnd_toggled.connect(self.set_do_not_disturb)
        self.tray.tray.messageClicked.connect(self._on_message_clicked)

        self.popups = PopupStack(screen=self.value("popup.screen"),
                                 corner=self.value("popup.corner"),
                                 url_opener=self._url_opener, parent=self)
        self.popups.answer_requested.connect(self._on_answer_requested)
        self.popups.closed.connect(self._on_popup_closed)

        self.history = HistoryWindow(
            self.recorder.store, can_call_back=lambda: bool(self.own_device),
            display_number=lambda n: self.recorder.display_number(n) if self.recorder else n)
        if self.mode == DEMO:
            self.history.setWindowTitle("cstapopup — call history (demo)")
        self.history.call_back_requested.connect(self._on_call_back)
        self.history.history_changed.connect(self.refresh_badge)
        tray = self.tray
        self.history.add_app_menu([tray.settings_action, tray.dnd_action, None, tray.quit_action])
        self.history.minimize_on_close = not self._tray_available
        self.refresh_badge()
        self._set_tray_state(*self.link_state)
        tray.show()
        show = self.options.show_window
        if show is None:
            show = not self._tray_available and self.mode != SELF_TEST
        if show:
            self.history.show()
        shown = "tray" if self._tray_available else "window" if show else "nothing"
        for hook in list(self.ui_shown_hooks):
            hook(shown)

    # -- the simulator and the link ---------------------------------------------------------

    async def _start_simulator(self) -> None:
        demo = self.mode == DEMO
        self.server = SwitchServer(host="127.0.0.1", port=0, devices=DEMO_DEVICES, demo=demo,
                                   phonebook=load_phonebook(resources.demo_phonebooks()),
                                   rate=self.options.rate, seed=self.options.seed,
                                   speed=self.options.speed)
        await self.server.start()
        self._overrides["pbx.port"] = self.server.port
        if demo and self.server.demo is not None:
            log.info("demo: simulated PBX on 127.0.0.1:%d, %.3g calls per minute, seed %d",
                     self.server.port, self.server.demo.rate, self.server.demo.seed)
            # Random traffic may leave the monitored phones quiet for a minute: a first
            # caller from the phone book rings at "your" phone a few seconds after the start.
            self.server.scheduler.spawn(self._welcome_call(self.server), WELCOME_CALL_DELAY,
                                        "demo welcome call")

    @staticmethod
    def _welcome_call(server: SwitchServer) -> Any:
        demo = server.demo
        assert demo is not None
        numbers = demo.numbers.phonebook
        caller = random.Random(demo.seed).choice(numbers) if numbers else None
        traffic = server.traffic
        step = traffic.attempt(traffic.model.incoming_call, caller, DEMO_OWN)
        if step is None or step.call is None:
            return
        yield 8          # rings long enough to see (and to press Answer)
        traffic.answer_where_ringing(step.call)
        yield 25
        traffic.finish(step.call)

    def _params(self, password: str | None) -> ConnectionParameters:
        if self.mode != PBX:   # the embedded simulator's factory login
            return ConnectionParameters("127.0.0.1", int(self.value("pbx.port")), "AMHOST",
                                        "77777")
        return self.settings.connection_parameters(password)

    def _password(self) -> str | None:
        if self._session_password:
            return self._session_password
        return PasswordStore(self.settings).get()

    async def _start_link(self) -> None:
        """Connect with the current settings (asking for the password first when it is kept
        nowhere)."""
        self._link_generation += 1
        if self.mode == PBX:
            password = self._password()
            if password is None and self.settings.get("pbx.password_storage") == \
                    PASSWORD_STORAGE_NONE:
                generation = self._link_generation
                self._set_tray_state("down", "waiting for the PBX password")

                def entered(text: str | None) -> None:
                    if generation != self._link_generation or self._stopping:
                        return
                    if not text:
                        self._set_tray_state("down", "no password entered: not connected "
                                                     "(enter it in the settings)")
                        return
                    self._session_password = text
                    self.spawn(self._open_link(text), "connecting")

                self._password_prompt(self, entered)
                return
            await self._open_link(password)
        else:
            await self._open_link(None)

    async def _open_link(self, password: str | None) -> None:
        assert self.recorder is not None
        try:
            params = self._params(password)
            label = ("the simulated PBX" if self.mode == DEMO else
                     "the self-test PBX" if self.mode == SELF_TEST else None)
            self.link = PbxLink(params, self.monitored, on_state=self._on_link_state,
                                on_event=self._on_event, on_monitor_failed=self._on_monitor_failed,
                                on_snapshot=self._on_snapshot,
                                options=self.options.client_options, label=label)
        except (OSError, ValueError) as exc:   # e.g. an unreadable CA file
            self._set_tray_state("down", f"cannot set up the link: {exc}")
            self.notify("PBX link", f"Cannot set up the link to the PBX: {exc}",
                        QSystemTrayIcon.MessageIcon.Critical, action=self.open_settings)
            return
        self.recorder.set_monitored(self.monitored)
        self._monitor_messages.clear()
        self._lost_notified = False
        await self.link.start()

    async def _stop_link(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.stop()
            self._apply(self.recorder.link_lost() if self.recorder else None)

    async def restart_link(self) -> None:
        await self._stop_link()
        if self._stopping:
            return
        if self.mode == PBX and not self.settings.is_configured:
            self._set_tray_state("down", "no PBX set up yet: open the settings")
            return
        await self._start_link()

    def _on_link_state(self, state: str, reason: str) -> None:
        previous = self._raw_state
        self._raw_state = state
        tray_state = _TRAY_STATE.get(state, "down")
        if self.mode == DEMO and state == "up":
            tray_state = "demo"
            reason = "demo mode: " + reason
        self._set_tray_state(tray_state, reason)
        if state == "rejected":
            self.notify("Login refused", reason[:1].upper() + reason[1:] + ".",
                        QSystemTrayIcon.MessageIcon.Critical, action=self.open_settings)
        elif state == "down" and previous == "up":
            self._apply(self.recorder.link_lost() if self.recorder else None)
            self._lost_notified = True
            self.notify("PBX link lost", reason[:1].upper() + reason[1:] + ".",
                        QSystemTrayIcon.MessageIcon.Warning)
        elif state == "down" and previous == "connecting" and not self._lost_notified:
            self._lost_notified = True
            self.notify("Cannot connect to the PBX", reason[:1].upper() + reason[1:] + ".",
                        QSystemTrayIcon.MessageIcon.Warning, action=self.open_settings)
        elif state == "up" and self._lost_notified:
            self._lost_notified = False
            self.notify("PBX link", reason[:1].upper() + reason[1:] + ".")

    def _on_monitor_failed(self, device: str, text: str) -> None:
        if device in self._monitor_messages:
            return
        self._monitor_messages.add(device)
        self.notify("Device not monitored", text[:1].upper() + text[1:]
                    + ". Check the monitored devices in the settings.",
                    QSystemTrayIcon.MessageIcon.Warning, action=self.open_settings)

    def _set_tray_state(self, state: str, reason: str) -> None:
        self.link_state = (state, reason)
        if self.tray is not None:
            self.tray.set_link_state(state, reason)
        if self.history is not None:
            self.history.set_link_status(reason[:1].upper() + reason[1:])
        self.link_state_changed.emit(state, reason)

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, device: str, event: CstaEvent) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        changes = recorder.feed(device, event)
        changed = {c.key: c for c in changes.calls}
        if isinstance(event, DeliveredEvent):
            self._on_delivered(event, changed)
        self._apply(changes)

    def _on_snapshot(self, device: str, calls: Any) -> None:
        """The calls at a device whose monitor was just (re)started: calls under way before
        it could see them get a row (of unknown outcome) instead of none or a wrong one."""
        if self.recorder is not None:
            self._apply(self.recorder.snapshot(device, calls))

    def _apply(self, changes: Any) -> None:
        if changes is None:
            return
        badge = bool(changes.resolved or changes.deleted)
        for call in changes.calls:
            if call.key in self._calls or (self.popups and self.popups.popup(call.key)):
                self._calls[call.key] = call
            if self.popups is not None:
                self.popups.update_call(call)
            if self.history is not None:
                self.history.call_changed(call)
            if not call.is_live:
                self._ringing.pop(call.key, None)
                self._calls.pop(call.key, None)
            badge = badge or call.is_missed
        for key in changes.deleted:
            # A consultation call absorbed by a transfer: its popup has nothing more to say.
            self._ringing.pop(key, None)
            self._calls.pop(key, None)
            if self.popups is not None:
                self.popups.close_call(key)
            if self.history is not None:
                self.history.call_deleted(key)
        if badge:
            self.refresh_badge()
        for call in changes.calls:   # last: whoever listens sees everything updated
            self.call_updated.emit(call)

    def _on_delivered(self, event: DeliveredEvent, changed: dict[str, Call]) -> None:
        """A popup for a call that rings at a monitored device (once per call; a second
        device it rings at later moves the popup there)."""
        recorder = self.recorder
        assert recorder is not None
        conn_device = _number(event.connection.device)
        alerting = _number(event.alerting_device) or conn_device
        if alerting is None or alerting != conn_device or alerting not in self.monitored:
            return
        key = recorder.key_of(event)
        if key is None:
            return
        call = changed.get(key) or self._calls.get(key)
        if call is None:
            try:
                call = recorder.store.get(key)
            except HistoryError:
                call = None
        if call is None or not call.is_live:
            return
        self._ringing.setdefault(key, {})[alerting] = event.connection
        if self._dnd or self.popups is None:
            return
        self._calls[key] = call
        forwarded_from = transferred_by = None
        redirecting = _number(event.last_redirection_device)
        if event.cause in _FORWARD_CAUSES:
            forwarded_from = redirecting
        elif event.cause in _TRANSFER_CAUSES:
            transferred_by = redirecting
        calling = event.calling_device
        caller = _number(calling)
        if caller is not None and caller == call.remote_number:
            name, company = call.remote_name, call.remote_company
        elif caller is not None:
            match = recorder.lookup(caller)
            name = match.contact.name or None if match else None
            company = match.contact.company or None if match else None
        else:
            name = company = None
        if caller is None and call.remote_kind == "number" and call.remote_number:
            caller = call.remote_number   # the event did not say; the record does
        display = recorder.display_number(caller) if caller else ""
        existing = self.popups.popup(key)
        close_after = self.options.popup_close_after
        if close_after is None:
            close_after = float(self.value("popup.close_after_seconds"))
        popup = self.popups.show_call(
            call, name=name, company=company, display_number=display,
            ringing_device=alerting, own_device=self.own_device,
            crm_template=self.value("crm.url_template"), close_after=close_after,
            forwarded_from=forwarded_from, transferred_by=transferred_by)
        if existing is None:
            if self.value("popup.sound"):
                self._ring()
            for hook in list(self.popup_shown_hooks):
                try:
                    hook(event, popup)
                except Exception:
                    log.exception("popup hook failed")

    def _ring(self) -> None:
        file = self.value("popup.sound_file")
        if self._sound is None or self._sound.file != (file or self._sound.file):
            self._sound = RingSound(file)
        try:
            self._sound.play()
        except Exception:
            log.exception("could not play the ring sound")

    def _on_popup_closed(self, key: str) -> None:
        self._calls.pop(key, None)

    def refresh_badge(self) -> None:
        if self.recorder is None or self.tray is None:
            return
        try:
            self.tray.set_missed_count(self.recorder.store.badge_count())
        except HistoryError as exc:
            log.warning("badge: %s", exc)

    # -- actions ----------------------------------------------------------------------------

    def _on_answer_requested(self, key: str, device: str) -> None:
        connection = self._ringing.get(key, {}).get(device)
        if device != self.own_device or connection is None:
            self.notify("Answer", f"This call no longer rings at {device}.")
            return
        self.spawn(self._answer(connection, device), "answering")

    async def _answer(self, connection: ConnectionId, device: str) -> None:
        link = self.link
        if link is None:
            self.notify("Answer", "Not connected to the PBX.")
            return
        try:
            await link.answer(connection)
        except LinkDownError:
            self.notify("Answer", "Not connected to the PBX: the call was not answered.",
                        QSystemTrayIcon.MessageIcon.Warning)
        except CstaClientError as exc:
            self.notify("Answer", f"The PBX did not answer the call at {device}: {exc}",
                        QSystemTrayIcon.MessageIcon.Warning)

    def _on_call_back(self, number: str) -> None:
        own = self.own_device
        if not own:
            self.notify("Call back", "Set your own phone in the settings to call back.")
            return
        self.spawn(self._call_back(own, number), "calling back")

    async def _call_back(self, own: str, number: str) -> None:
        link = self.link
        shown = self.recorder.display_number(number) if self.recorder else number
        if link is None or link.state != "up":
            self.notify("Call back", f"Not connected to the PBX: cannot call {shown}.",
                        QSystemTrayIcon.MessageIcon.Warning)
            return
        try:
            await link.make_call(own, number)
        except LinkDownError:
            self.notify("Call back", f"Not connected to the PBX: cannot call {shown}.",
                        QSystemTrayIcon.MessageIcon.Warning)
        except CstaClientError as exc:
            self.notify("Call back", f"The PBX did not call {shown} from {own}: {exc}",
                        QSystemTrayIcon.MessageIcon.Warning)
        else:
            if self.history is not None:
                self.history.status_message.emit(f"Calling {shown} from {own}…")

    def set_do_not_disturb(self, on: bool) -> None:
        self._dnd = bool(on)
        if self.tray is not None:
            self.tray.set_do_not_disturb(self._dnd)
        if self.mode == SELF_TEST:
            return
        try:
            self.settings.set("app.do_not_disturb", self._dnd)
            if self.mode == PBX:   # the demo leaves the user's file alone
                self.settings.save()
        except (SettingsError, OSError) as exc:
            self.notify("Settings", f"Do not disturb was not saved: {exc}",
                        QSystemTrayIcon.MessageIcon.Warning)

    def show_history(self) -> None:
        if self.history is None:
            return
        if self.history.isMinimized():
            self.history.showNormal()
        else:
            self.history.show()
        self.history.raise_()
        self.history.activateWindow()

    def open_settings(self) -> SettingsDialog:
        if self.settings_dialog is not None:
            self.settings_dialog.show()
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return self.settings_dialog
        dialog = SettingsDialog(self.settings, PasswordStore(self.settings),
                                test_connection=link_module.test_connection)
        if self.mode != PBX:
            dialog.setWindowTitle("cstapopup settings (the demo uses its own PBX and phones)")
        dialog.settings_applied.connect(lambda names, d=dialog: self._on_settings_applied(
            names, d.password_entered))
        dialog.finished.connect(self._on_settings_closed)
        self.settings_dialog = dialog
        dialog.show()
        return dialog

    def _on_settings_closed(self, _result: int) -> None:
        dialog, self.settings_dialog = self.settings_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _on_settings_applied(self, names: list[str], password: str | None = None) -> None:
        changed = set(names)
        if password:
            self._session_password = password
        link_names = {n for n in changed if n.startswith("pbx.")} | (
            changed & {PASSWORD_CHANGED, "devices.monitor"})
        if link_names:
            if self.mode == PBX:
                self.spawn(self.restart_link(), "reconnecting")
            else:
                self.notify("Settings saved", "The demo keeps its simulated PBX; your PBX "
                            "settings are used when cstapopup starts without --demo.")
        if changed & {"popup.screen", "popup.corner"} and self.popups is not None:
            self.popups.configure(screen=self.value("popup.screen"),
                                  corner=self.value("popup.corner"))
        if changed & {"phonebook.files", "numbers.country", "numbers.area_code",
                      "numbers.trunk_prefix", "numbers.internal_max_length"} and self.recorder:
            self.recorder.reconfigure(phonebook_files=self.value("phonebook.files"),
                                      plan=self._plan())
            book = self.recorder.phonebook
            if book is not None and book.errors:
                self.notify("Phone book", "\n".join(book.errors[:5]),
                            QSystemTrayIcon.MessageIcon.Warning)
        if "history.retention_days" in changed:
            self.apply_retention()
        if "app.start_at_login" in changed:
            self._apply_autostart(bool(self.settings.get("app.start_at_login")))
        if "app.do_not_disturb" in changed:
            self._dnd = bool(self.settings.get("app.do_not_disturb"))
            if self.tray is not None:
                self.tray.set_do_not_disturb(self._dnd)

    def _apply_autostart(self, on: bool) -> None:
        try:
            if on:
                self._autostart.enable()
            else:
                self._autostart.disable()
        except OSError as exc:
            self.notify("Start at login", f"Could not change the login item: {exc}",
                        QSystemTrayIcon.MessageIcon.Warning)

    def start_demo(self) -> None:
        """Switch to the demo (the first-start prompt's choice)."""
        if self.mode == DEMO:
            return
        self.spawn(self._switch_to_demo(), "starting the demo")

    async def _switch_to_demo(self) -> None:
        await self._stop_link()
        self.mode = DEMO
        self._overrides = self._simulated_overrides()
        if self.recorder is not None:
            self.recorder.close()
        self._open_recorder()
        assert self.recorder is not None and self.history is not None
        self.history.set_store(self.recorder.store)
        self.history.setWindowTitle("cstapopup — call history (demo)")
        self.refresh_badge()
        await self._start_simulator()
        await self._start_link()

    # -- retention --------------------------------------------------------------------------

    def _start_retention(self) -> None:
        self.apply_retention()
        self._retention_timer = QTimer(self)
        self._retention_timer.setInterval(RETENTION_INTERVAL_MS)
        self._retention_timer.timeout.connect(self.apply_retention)
        self._retention_timer.start()

    def apply_retention(self) -> int:
        if self.recorder is None:
            return 0
        days = int(self.value("history.retention_days"))
        try:
            removed = self.recorder.store.apply_retention(days)
        except HistoryError as exc:
            log.warning("retention: %s", exc)
            return 0
        if removed:
            log.info("retention: %d calls older than %d days deleted", removed, days)
            if self.history is not None:
                self.history.apply_filters()
            self.refresh_badge()
        return removed

    # -- messages ---------------------------------------------------------------------------

    def notify(self, title: str, text: str,
               kind: QSystemTrayIcon.MessageIcon = QSystemTrayIcon.MessageIcon.Information,
               *, action: Callable[[], None] | None = None) -> None:
        """Tell the user: a tray notification, else the history window's status bar; clicking
        the notification runs `action` (e.g. opens the settings)."""
        log.log(logging.WARNING if kind != QSystemTrayIcon.MessageIcon.Information
                else logging.INFO, "%s: %s", title, text)
        self.messages.append((title, text))
        self._message_action = action
        shown = False
        if self.tray is not None and self._tray_available:
            self.tray.show_message(title, text, kind)
            shown = self.tray.tray.isVisible()
        if not shown and self.history is not None:
            self.history.status_message.emit(f"{title}: {text}".replace("\n", " "))
        self.message_posted.emit(title, text)

    def _on_message_clicked(self) -> None:
        action, self._message_action = self._message_action, None
        if action is not None:
            action()

    # -- tasks, quitting --------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run `coro` in the background; an error becomes a message, never a crash."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                log.error("%s failed", what, exc_info=exc)
                self.notify("cstapopup", f"Error while {what}: {exc}",
                            QSystemTrayIcon.MessageIcon.Critical)

        task.add_done_callback(done)
        return task

    def request_quit(self) -> None:
        if self._quit is not None and not self._quit.done():
            self._quit.set_result(None)
        self.quit_requested.emit()

    async def wait_quit(self) -> None:
        assert self._quit is not None, "start() first"
        await self._quit

    async def shutdown(self) -> None:
        """Leave the PBX, stop the simulator, close windows and the history."""
        self._stopping = True
        if self._retention_timer is not None:
            self._retention_timer.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        if self.popups is not None:
            self.popups.close_all()
        with contextlib.suppress(Exception):
            await self._stop_link()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None
        if self.recorder is not None:
            self.recorder.close()
        if self.tray is not None:
            self.tray.hide()
        if self.history is not None:
            self.history.minimize_on_close = False
            self.history.close()
            self.history.deleteLater()
        for obj in list(self._kept):
            with contextlib.suppress(RuntimeError):
                obj.deleteLater()
        if self._temp_dir is not None:
            with contextlib.suppress(OSError):
                self._temp_dir.cleanup()


def _number(device: DeviceId | None) -> str | None:
    if device is None or not device.is_known:
        return None
    return device.number or None


__all__ = ["DEMO", "PBX", "SELF_TEST", "AppController", "AppOptions"]
