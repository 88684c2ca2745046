"""The desktop app's shell: it builds the tray, the popup stack, the console, the history
window and the settings dialog, shows what the desk (`calls.desk`) hands up and passes the
user's intents down to it; the plumbing of settings, notifications and the loop's tasks.

The domain decides (which call gets a popup, what it says, what the user may do, what a link
state means: `calls.desk`; the mode, the settings in use, the PBX to connect to:
`calls.session`); this module only wires.  It runs in the qasync loop (Qt and asyncio in one
thread) and never lets an error escape as an exception: each becomes a notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QSystemTrayIcon

from cstapopup import autostart as autostart_module
from cstapopup.calls.desk import Desk, DeskListener, action_title
from cstapopup.calls.model import Call, PhoneNote
from cstapopup.calls.session import (
    DEMO,
    PBX,
    SELF_TEST,
    AppOptions,
    Session,
    link_factories,
    test_connection,
)
from cstapopup.calls.views import (
    CallAction,
    ColleagueView,
    HistoryHealth,
    Level,
    LinkStatus,
    Notice,
    OwnLineView,
    PopupView,
)
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.settings import PasswordStore, Settings
from cstapopup.ui import language
from cstapopup.ui.console import ConsoleWindow, lamp_icon
from cstapopup.ui.history_window import HistoryWindow
from cstapopup.ui.note_dialog import NoteDialog
from cstapopup.ui.popup import CallPopup, PopupStack, RingSound, UrlOpener
from cstapopup.ui.prompts import first_run_message_box, password_input_dialog
from cstapopup.ui.settings_dialog import SettingsDialog
from cstapopup.ui.tray import TrayIcon

log = logging.getLogger(__name__)

RETENTION_INTERVAL_MS = 24 * 3600 * 1000
# Window titles say what the window is; Qt adds the application's name ("Call history —
# cstapopup") where the desktop shows it.
DEMO_HISTORY_TITLE = QT_TRANSLATE_NOOP("App", "Call history (demo)")
DEMO_CONSOLE_TITLE = QT_TRANSLATE_NOOP("App", "Console (demo)")
DEMO_SETTINGS_TITLE = QT_TRANSLATE_NOOP("App", "Settings (for your PBX; the demo keeps its own)")
_ICONS = {
    Level.INFO: QSystemTrayIcon.MessageIcon.Information,
    Level.WARNING: QSystemTrayIcon.MessageIcon.Warning,
    Level.ERROR: QSystemTrayIcon.MessageIcon.Critical,
}


#: Asks the user what to do on a first start without a configured PBX; the default shows a
#: non-blocking message box.  Gets the controller (call `start_demo()` / `open_settings()`).
FirstRunPrompt = Callable[["AppController"], None]
#: Asks for the PBX password (storage "nowhere"); calls back with it, or None when cancelled.
PasswordPrompt = Callable[["AppController", Callable[[str | None], None]], None]


class AppController(QObject, DeskListener):
    """The running app.  `await start()`, then `await wait_quit()`, then `await shutdown()`.

    Signals for the window system and for tests: `link_state_changed(tray_state, reason)`,
    `call_updated(Call)` (every change the history gets), `message_posted(title, text)`,
    `quit_requested()`.
    """

    link_state_changed = Signal(str, str)
    call_updated = Signal(object)
    message_posted = Signal(str, str)
    quit_requested = Signal()

    def __init__(
        self,
        options: AppOptions | None = None,
        *,
        first_run_prompt: FirstRunPrompt = first_run_message_box,
        password_prompt: PasswordPrompt = password_input_dialog,
        autostart: ModuleType | Any = autostart_module,
        url_opener: UrlOpener | None = None,
        tray_available: bool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.options = options or AppOptions()
        self._first_run_prompt = first_run_prompt
        self._url_opener = url_opener
        self._tray_available = (
            QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None else tray_available
        )
        self.session = Session(
            self.options,
            self,
            link_factories(self.options),
            spawn=self.spawn,
            ask_password=lambda done: password_prompt(self, done),
            autostart=autostart,
        )
        self.tray: TrayIcon | None = None
        self.popups: PopupStack | None = None
        self.history: HistoryWindow | None = None
        self.console: ConsoleWindow | None = None
        self.settings_dialog: SettingsDialog | None = None
        #: The open phone note dialogs, by call key (one per call).
        self.note_dialogs: dict[str, NoteDialog] = {}
        #: The language the windows speak (chosen at `start()`).
        self.language = language.current()
        self.messages: list[tuple[str, str]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._kept: list[QObject] = []
        self._quit: asyncio.Future[None] | None = None
        self._message_action: Callable[[], object] | None = None
        self._sound: RingSound | None = None
        self._retention_timer: QTimer | None = None
        #: Notices that came before the UI was built (shown once it is); None afterwards.
        self._early: (
            list[tuple[str, str, QSystemTrayIcon.MessageIcon, Callable[[], object] | None]] | None
        ) = None
        #: Called as hook(view, popup) right after a new popup was shown (popup: its widget,
        #: None when it is not on screen) (benchmarks, tests).
        self.popup_shown_hooks: list[Callable[[PopupView, CallPopup | None], None]] = []
        #: Called once the tray icon (or, without a tray, the main window) is shown.
        self.ui_shown_hooks: list[Callable[[str], None]] = []

    # -- the session's parts --------------------------------------------------------------

    @property
    def desk(self) -> Desk:
        return self.session.desk

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def mode(self) -> str:
        return self.session.mode

    @property
    def do_not_disturb(self) -> bool:
        return self.desk.do_not_disturb

    @property
    def link_state(self) -> tuple[str, str]:
        return self.desk.link_status.state, self.desk.link_status.text

    def keep(self, obj: QObject) -> None:
        """Keep a Python reference to a window shown without a parent (message boxes)."""
        self._kept.append(obj)
        obj.destroyed.connect(lambda *_: self._kept.remove(obj) if obj in self._kept else None)

    # -- start ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._quit = asyncio.get_running_loop().create_future()
        self._early = []
        try:
            # The language first: every window, notice and text of the desk is made in it.
            self.language = language.install(language.choose(self.session.language_setting()))
            self.session.open()
            self._build_ui()
        finally:
            # Said while the history opened, before there was a tray or a window to say it in.
            early, self._early = self._early, None
            for title, text, kind, action in early:
                self.notify(title, text, kind, action=action)
        if self.session.settings_warnings:
            self.notify(
                translate("App", "Settings"),
                "\n".join(self.session.settings_warnings),
                QSystemTrayIcon.MessageIcon.Warning,
            )
        self._start_retention()
        if not await self.session.start_link():
            self._first_run_prompt(self)

    def _build_ui(self) -> None:
        desk = self.desk
        self.tray = tray = TrayIcon(self)
        tray.set_do_not_disturb(desk.do_not_disturb)
        tray.history_requested.connect(self.show_history)
        tray.console_requested.connect(self.show_console)
        tray.colleague_chosen.connect(self.show_colleague)
        tray.lamp_icon = lamp_icon
        tray.settings_requested.connect(self.open_settings)
        tray.quit_requested.connect(self.request_quit)
        tray.dnd_toggled.connect(self.set_do_not_disturb)
        tray.tray.messageClicked.connect(self._on_message_clicked)

        self.popups = PopupStack(
            screen=self.session.value("popup.screen"),
            corner=self.session.value("popup.corner"),
            url_opener=self._url_opener,
            parent=self,
        )
        self.popups.answer_requested.connect(
            lambda key, device: self.spawn(desk.answer(key, device), translate("App", "answering"))
        )
        self.popups.closed.connect(desk.dismiss)
        self.popups.more_clicked.connect(self.show_history)
        self.popups.put_through_requested.connect(self.put_through)
        self.popups.note_requested.connect(self.open_note)

        self.console = console = ConsoleWindow()
        if self.mode == DEMO:
            console.setWindowTitle(translate("App", DEMO_CONSOLE_TITLE))
        console.action_requested.connect(self._console_action)
        console.focus_popup_requested.connect(self.popups.focus_newest_ringing)
        console.history_requested.connect(self.show_history)
        console.note_requested.connect(self.note_about_own_call)
        console.show_colleagues(desk.colleague_views())
        console.show_own_line(desk.own_line())
        tray.set_colleagues(desk.colleague_views())

        self.history = HistoryWindow(
            desk.store,
            can_call_back=lambda: bool(self.session.own_device),
            display_number=desk.display_number,
        )
        if self.mode == DEMO:
            self.history.setWindowTitle(translate("App", DEMO_HISTORY_TITLE))
        self.history.call_back_requested.connect(
            lambda number: self.spawn(desk.call_back(number), translate("App", "calling back"))
        )
        self.history.history_changed.connect(desk.refresh_badge)
        self.history.note_requested.connect(self.open_note)
        self.history.add_app_menu(
            [tray.console_action, tray.settings_action, tray.dnd_action, None, tray.quit_action]
        )
        self.history.minimize_on_close = not self._tray_available
        desk.refresh_badge()
        self.link_changed(desk.link_status)
        if desk.history_health is not None:
            self.history_health_changed(desk.history_health)
        tray.show()
        show = self.options.show_window
        if show is None:
            show = not self._tray_available and self.mode != SELF_TEST
        if show:
            self.history.show()
        shown = "tray" if self._tray_available else "window" if show else "nothing"
        for hook in list(self.ui_shown_hooks):
            hook(shown)

    def start_demo(self) -> None:
        """Switch to the demo (the first-start prompt's choice)."""
        if self.mode != DEMO:
            self.spawn(self._switch_to_demo(), translate("App", "starting the demo"))

    async def _switch_to_demo(self) -> None:
        await self.session.enter_demo()
        assert self.history is not None
        self.history.set_store(self.desk.store)
        self.history.setWindowTitle(translate("App", DEMO_HISTORY_TITLE))
        if self.console is not None:
            self.console.setWindowTitle(translate("App", DEMO_CONSOLE_TITLE))
        self.desk.refresh_badge()
        await self.session.start_link()

    # -- what the desk hands up (DeskListener) --------------------------------------------

    def popup_opened(self, view: PopupView) -> None:
        if self.popups is None:
            return
        popup = self.popups.show(view)
        if self.session.value("popup.sound"):
            self._ring()
        for hook in list(self.popup_shown_hooks):
            try:
                hook(view, popup)
            except Exception:
                log.exception("popup hook failed")

    def popup_changed(self, view: PopupView) -> None:
        if self.popups is not None:
            self.popups.update(view)

    def popup_closed(self, key: str) -> None:
        if self.popups is not None:
            self.popups.close_call(key)

    def calls_changed(self, calls: list[Call]) -> None:
        if self.history is not None:
            for call in calls:
                self.history.call_changed(call)
        for call in calls:  # last: whoever listens sees everything updated
            self.call_updated.emit(call)

    def call_deleted(self, key: str) -> None:
        if self.history is not None:
            self.history.call_deleted(key)

    def colleagues_changed(self, views: list[ColleagueView]) -> None:
        every = self.desk.colleague_views()
        if self.console is not None:
            self.console.show_colleagues(every, views)
        if self.tray is not None:
            self.tray.set_colleagues(every)

    def own_line_changed(self, view: OwnLineView) -> None:
        if self.console is not None:
            self.console.show_own_line(view)

    def history_health_changed(self, health: HistoryHealth) -> None:
        problem = health.message
        if self.tray is not None:
            self.tray.set_history_problem(problem)
        if self.history is not None:
            self.history.set_history_problem(problem)

    def badge_changed(self, missed: int) -> None:
        if self.tray is not None:
            self.tray.set_missed_count(missed)

    def link_changed(self, status: LinkStatus) -> None:
        if self.tray is not None:
            self.tray.set_link_state(
                status.state, status.text, note=status.note, detail=status.detail
            )
        text = status.text[:1].upper() + status.text[1:]
        if self.history is not None:
            self.history.set_link_status(text, note=status.note, detail=status.detail)
        if self.console is not None:
            self.console.set_link_status(text, note=status.note, detail=status.detail)
        self.link_state_changed.emit(status.state, status.text)

    def notice(self, notice: Notice) -> None:
        self.notify(
            notice.title,
            notice.text,
            _ICONS[notice.level],
            action=self.open_settings if notice.opens_settings else None,
        )

    def status(self, text: str) -> None:
        if self.history is not None:
            self.history.status_message.emit(text)
        if self.console is not None:
            self.console.show_status(text)

    def _ring(self) -> None:
        file = self.session.value("popup.sound_file")
        if self._sound is None or self._sound.file != (file or self._sound.file):
            self._sound = RingSound(file)
        try:
            self._sound.play()
        except Exception:
            log.exception("could not play the ring sound")

    # -- the user's commands --------------------------------------------------------------

    def set_do_not_disturb(self, on: bool) -> None:
        self.session.set_do_not_disturb(on)
        if self.tray is not None:
            self.tray.set_do_not_disturb(self.desk.do_not_disturb)

    def show_console(self) -> None:
        if self.console is not None:
            self.console.bring_forward()

    def show_colleague(self, device: str) -> None:
        """The console, with `device` chosen (the tray menu's lamp list)."""
        if self.console is not None:
            self.console.bring_forward()
            self.console.select(device)

    def put_through(self, key: str) -> None:
        """A popup's "Put through": the console takes the next colleague chosen."""
        if self.console is None:
            return
        view = self.desk.view_of(key)
        self.console.put_through_for(
            key, view.title if view is not None else translate("App", "the call")
        )
        self.console.bring_forward()

    def _console_action(self, action: str, device: str, key: str) -> None:
        self.spawn(
            self.desk.act(CallAction(action), device or None, key or None),
            translate("App", "carrying out “{action}”").format(
                action=action_title(CallAction(action))
            ),
        )

    # -- phone notes ------------------------------------------------------------------------

    def open_note(self, key: str) -> NoteDialog | None:
        """The phone note dialog of the call `key` (the one already open for it, if any);
        None, and a message, when the history does not have the call."""
        dialog = self.note_dialogs.get(key)
        if dialog is not None:
            dialog.bring_forward()
            return dialog
        context = self.desk.note_context(key)
        title = translate("App", "Phone note")
        if context is None:
            self.notify(
                title,
                translate("App", "This call is not in the call history."),
                QSystemTrayIcon.MessageIcon.Warning,
            )
            return None
        dialog = NoteDialog(
            context,
            find=self.desk.note_recipients,
            # `key` is this call's own parameter: the lambdas need no default to hold it.
            save=lambda note: self._save_note(key, note),
            mail=lambda note, to: self._mail_note(key, note, to),
        )
        self.note_dialogs[key] = dialog
        dialog.finished.connect(lambda _r, k=key: self.note_dialogs.pop(k, None))
        dialog.bring_forward()
        return dialog

    def note_about_own_call(self) -> NoteDialog | None:
        """The console's note: about the own phone's current call, else its last one."""
        key = self.desk.own_last_call()
        if key is None:
            self.notify(
                translate("App", "Phone note"),
                translate("App", "Your phone has had no call yet to write a note about."),
            )
            return None
        return self.open_note(key)

    def _save_note(self, key: str, note: PhoneNote) -> str | None:
        problem = self.desk.save_note(key, note)
        if problem is None:
            self.status(translate("App", "Phone note saved."))
        return problem

    def _mail_note(self, key: str, note: PhoneNote, to: str) -> None:
        url = self.desk.note_mail_url(key, note, to)
        opener = self._url_opener or QDesktopServices.openUrl
        if url is None or not opener(QUrl(url)):
            log.warning("phone note %s: no mail program opened the mailto link", key)
            self.notify(
                translate("App", "Phone note"),
                translate(
                    "App",
                    "The note is saved, but no e-mail program opened it. Set one as the "
                    "system's program for e-mail.",
                ),
                QSystemTrayIcon.MessageIcon.Warning,
            )

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
        dialog = SettingsDialog(
            self.settings, PasswordStore(self.settings), test_connection=test_connection
        )
        if self.mode != PBX:
            dialog.setWindowTitle(translate("App", DEMO_SETTINGS_TITLE))
        dialog.settings_applied.connect(
            lambda names, d=dialog: self._on_settings_applied(names, d.password_entered)
        )
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
        self.session.settings_applied(changed, password)
        if changed & {"popup.screen", "popup.corner"} and self.popups is not None:
            self.popups.configure(
                screen=self.session.value("popup.screen"), corner=self.session.value("popup.corner")
            )
        if "history.retention_days" in changed:
            self.apply_retention()
        if self.tray is not None:
            self.tray.set_do_not_disturb(self.desk.do_not_disturb)

    # -- retention --------------------------------------------------------------------------

    def _start_retention(self) -> None:
        self.apply_retention()
        self._retention_timer = QTimer(self)
        self._retention_timer.setInterval(RETENTION_INTERVAL_MS)
        self._retention_timer.timeout.connect(self.apply_retention)
        self._retention_timer.start()

    def apply_retention(self) -> int:
        removed = self.session.apply_retention()
        if removed and self.history is not None:
            self.history.apply_filters()
        return removed

    # -- messages ---------------------------------------------------------------------------

    def notify(
        self,
        title: str,
        text: str,
        kind: QSystemTrayIcon.MessageIcon = QSystemTrayIcon.MessageIcon.Information,
        *,
        action: Callable[[], object] | None = None,
    ) -> None:
        """Tell the user: a tray notification, else the history window's status bar; clicking
        the notification runs `action` (e.g. opens the settings)."""
        if self._early is not None:
            self._early.append((title, text, kind, action))
            return
        log.log(
            logging.WARNING if kind != QSystemTrayIcon.MessageIcon.Information else logging.INFO,
            "%s: %s",
            title,
            text,
        )
        self.messages.append((title, text))
        self._message_action = action
        shown = False
        if self.tray is not None and self._tray_available:
            self.tray.show_message(title, text, kind)
            shown = self.tray.tray.isVisible()
        if not shown and self.history is not None:
            self.history.status_message.emit(f"{title}: {text}".replace("\n", " "))
        if self.console is not None and self.console.isVisible():
            # Where the receptionist looks: "Put through: 104 is busy."
            self.console.show_status(f"{title}: {text}".replace("\n", " "))
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
                self.notify(
                    "cstapopup",
                    translate("App", "Error while {what}: {problem}").format(
                        what=what, problem=exc
                    ),
                    QSystemTrayIcon.MessageIcon.Critical,
                )

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
        self.session.stopping = True
        if self._retention_timer is not None:
            self._retention_timer.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        for dialog in list(self.note_dialogs.values()):
            dialog.reject()
        if self.popups is not None:
            self.popups.close_all()
        await self.session.close()
        if self.tray is not None:
            self.tray.hide()
        if self.history is not None:
            self.history.minimize_on_close = False
            self.history.close()
            self.history.deleteLater()
        if self.console is not None:
            self.console.close()
            self.console.deleteLater()
        for obj in list(self._kept):
            with contextlib.suppress(RuntimeError):
                obj.deleteLater()


__all__ = ["DEMO", "PBX", "SELF_TEST", "AppController", "AppOptions"]
