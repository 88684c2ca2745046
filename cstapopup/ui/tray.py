"""The tray icon: link state at a glance (icon + tooltip), missed-call badge, do-not-disturb,
a warning sign (and a line in the tooltip and the menu) while calls are not being saved,
and the menu (History, Console, the colleagues' lamps in brief, Settings, Do not disturb,
Quit).

Works without a system tray too (`available` is False, e.g. some Wayland desktops and the
offscreen platform): the state is kept and the app shows its history window instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from cstapopup.calls import texts
from cstapopup.calls.views import ColleagueView
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.ui import icons
from cstapopup.ui.plain import plain_tooltip

APP_TITLE = "cstapopup"
#: Colleagues listed in the tray menu at most (the console lists them all).
TRAY_COLLEAGUES = 25
LINK_STATES = icons.TRAY_STATES

#: What the tooltip and the menu's status line say when the caller gives no reason.
_DEFAULT_REASONS = {
    "up": QT_TRANSLATE_NOOP("Tray", "connected"),
    "connecting": QT_TRANSLATE_NOOP("Tray", "connecting…"),
    "down": QT_TRANSLATE_NOOP("Tray", "not connected"),
    "demo": QT_TRANSLATE_NOOP("Tray", "demo mode (simulated PBX)"),
}


class TrayIcon(QObject):
    """A QSystemTrayIcon with the app's states.

    Signals: `history_requested()` (menu item, or a click on the icon), `console_requested()`,
    `colleague_chosen(device)` (a colleague picked in the menu's brief lamp list),
    `settings_requested()`, `dnd_toggled(bool)` (only when the user changes it, not from
    `set_do_not_disturb`), `quit_requested()`.
    """

    history_requested = Signal()
    console_requested = Signal()
    colleague_chosen = Signal(str)
    settings_requested = Signal()
    dnd_toggled = Signal(bool)
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = "connecting"
        self._reason = translate("Tray", _DEFAULT_REASONS["connecting"])
        self._missed = 0
        self._dnd = False
        self._note = ""
        self._detail = ""
        self._history_problem: str | None = None
        self._icon_key: tuple[object, ...] | None = None

        self._menu = QMenu()
        self._menu.setObjectName("trayMenu")
        self._status_action = QAction("", self._menu)
        self._status_action.setEnabled(False)  # a status line, not a command
        self._menu.addAction(self._status_action)
        self._note_action = QAction("", self._menu)
        self._note_action.setEnabled(False)
        self._note_action.setVisible(False)
        self._menu.addAction(self._note_action)
        self._history_action = QAction("", self._menu)
        self._history_action.setObjectName("historyProblem")
        self._history_action.setEnabled(False)  # a status line; the history has the rest
        self._history_action.setVisible(False)
        self._menu.addAction(self._history_action)
        self._menu.addSeparator()
        self.history_action = QAction(translate("Tray", "&History"), self._menu)
        self.history_action.setIcon(icons.call_icon("incoming"))
        self.history_action.triggered.connect(self.history_requested)
        self._menu.addAction(self.history_action)
        self.console_action = QAction(
            translate("Tray", "C&onsole (colleagues, put through)"), self._menu
        )
        self.console_action.triggered.connect(self.console_requested)
        self._menu.addAction(self.console_action)
        self.colleagues_menu = self._menu.addMenu(translate("Tray", "Co&lleagues"))
        self.colleagues_menu.setObjectName("colleaguesMenu")
        self.colleagues_menu.menuAction().setVisible(False)
        self._colleague_actions: dict[str, QAction] = {}
        #: Paints a colleague's lamp (set by the app: the console's lamp_icon).
        self.lamp_icon: Callable[[str], QIcon] | None = None
        self.settings_action = QAction(translate("Tray", "&Settings…"), self._menu)
        self.settings_action.triggered.connect(self.settings_requested)
        self._menu.addAction(self.settings_action)
        self.dnd_action = QAction(translate("Tray", "&Do not disturb"), self._menu)
        self.dnd_action.setCheckable(True)
        # triggered fires for the user's clicks only, so set_do_not_disturb() stays silent.
        self.dnd_action.triggered.connect(self._on_dnd_triggered)
        self._menu.addAction(self.dnd_action)
        self._menu.addSeparator()
        self.quit_action = QAction(translate("Tray", "&Quit"), self._menu)
        self.quit_action.triggered.connect(self.quit_requested)
        self._menu.addAction(self.quit_action)

        self._tray = QSystemTrayIcon(self)
        self._tray.setContextMenu(self._menu)
        self._tray.activated.connect(self._on_activated)
        self._refresh()

    # -- state

    @property
    def available(self) -> bool:
        """Whether the desktop has a system tray; if not, the app uses its history window."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def state(self) -> str:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def missed_count(self) -> int:
        return self._missed

    @property
    def do_not_disturb(self) -> bool:
        return self._dnd

    @property
    def menu(self) -> QMenu:
        return self._menu

    @property
    def tray(self) -> QSystemTrayIcon:
        return self._tray

    def set_link_state(
        self, state: str, reason: str = "", *, note: str = "", detail: str = ""
    ) -> None:
        """E.g. ("up", "connected to 192.0.2.1:7001, monitoring 100, 101") or
        ("down", "connection lost: refused, retrying in 8 s").  `note`: what the user should
        know besides (its own line in the tooltip and the menu); `detail`: the system's own
        words behind the reason (the tooltip's last line)."""
        if state not in LINK_STATES:
            raise ValueError(f"link state must be one of {LINK_STATES}, not {state!r}")
        self._state = state
        self._reason = reason or translate("Tray", _DEFAULT_REASONS[state])
        self._note, self._detail = note, detail
        self._refresh()

    def set_missed_count(self, count: int) -> None:
        self._missed = max(0, int(count))
        self._refresh()

    @property
    def history_problem(self) -> str | None:
        return self._history_problem

    def set_history_problem(self, text: str | None) -> None:
        """Calls are not being saved (or some were lost, or the history is a temporary one):
        the sentence for the tooltip and the menu, and the warning sign on the icon; None when
        all is well again."""
        self._history_problem = text or None
        self._refresh()

    def set_do_not_disturb(self, on: bool) -> None:
        self._dnd = bool(on)
        self.dnd_action.setChecked(self._dnd)
        self._refresh()

    def set_colleagues(self, views: Sequence[ColleagueView]) -> None:
        """The colleagues' lamps in brief: one line each ("Anna Berger (101) — On a call");
        choosing one opens the console on them."""
        menu = self.colleagues_menu
        total = len(views)
        views = list(views)[:TRAY_COLLEAGUES]  # the console has them all
        menu.setTitle(
            translate("Tray", "Co&lleagues")
            if total == len(views)
            else texts.count("colleagues shown", total, shown=texts.number(len(views)))
        )
        wanted = [v.device for v in views]
        if list(self._colleague_actions) != wanted:
            menu.clear()
            self._colleague_actions = {}
            for view in views:
                action = QAction(menu)
                action.triggered.connect(
                    lambda _=False, d=view.device: self.colleague_chosen.emit(d)
                )
                menu.addAction(action)
                self._colleague_actions[view.device] = action
        for view in views:
            action = self._colleague_actions[view.device]
            who = f"{view.name} ({view.device})" if view.name else view.device
            text = f"{who} — {view.state_text}" + (
                f": {view.party}"
                if view.party and view.state.value in ("busy", "ringing", "held")
                else ""
            )
            action.setText(text.replace("&", "&&"))
            action.setToolTip(view.detail)
            if self.lamp_icon is not None:
                action.setIcon(self.lamp_icon(view.lamp))
        menu.menuAction().setVisible(bool(views))

    def tooltip(self) -> str:
        lines = [f"{APP_TITLE} — {self._reason}"]
        if self._note:
            lines.append(_capitalised(self._note))
        if self._missed:
            lines.append(texts.count("missed calls", self._missed))
        if self._history_problem:
            lines.append(self._history_problem)
        if self._dnd:
            lines.append(translate("Tray", "Do not disturb: no popups"))
        if self._detail:
            lines.append(translate("Texts", "Details: {detail}").format(detail=self._detail))
        return "\n".join(lines)

    def icon(self) -> QIcon:
        return self._tray.icon()

    # -- showing

    def show(self) -> None:
        if self.available:
            self._tray.show()

    def hide(self) -> None:
        self._tray.hide()

    def show_message(
        self,
        title: str,
        text: str,
        kind: QSystemTrayIcon.MessageIcon = QSystemTrayIcon.MessageIcon.Information,
        msecs: int = 8000,
    ) -> None:
        """A desktop notification from the tray (nothing happens without a tray).  Shown as
        plain text: a number or name in it came from the PBX or a phone book."""
        if self.available and self._tray.isVisible():
            self._tray.showMessage(plain_tooltip(title), plain_tooltip(text), kind, msecs)

    # -- internals

    def _refresh(self) -> None:
        warning = self._history_problem is not None
        key = (self._state, self._missed, self._dnd, warning)
        if key != self._icon_key:  # nine renderings: only when the picture changes
            self._icon_key = key
            self._tray.setIcon(
                icons.tray_icon(self._state, missed=self._missed, dnd=self._dnd, warning=warning)
            )
        self._tray.setToolTip(plain_tooltip(self.tooltip()))
        status = _capitalised(self._reason)
        self._status_action.setText(status.replace("&", "&&"))  # not a mnemonic
        self._status_action.setIcon(icons.tray_icon(self._state))
        self._note_action.setText(_capitalised(self._note).replace("&", "&&"))
        self._note_action.setVisible(bool(self._note))
        self._history_action.setText((self._history_problem or "").replace("&", "&&"))
        self._history_action.setVisible(self._history_problem is not None)
        self.history_action.setText(
            texts.count("history, missed", self._missed)
            if self._missed
            else translate("Tray", "&History")
        )

    def _on_dnd_triggered(self, checked: bool) -> None:
        self._dnd = checked
        self._refresh()
        self.dnd_toggled.emit(checked)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click (Trigger) opens the history; the context menu has the rest. On macOS a
        # click opens the menu and also reports Trigger, so only the menu applies there.
        if sys.platform == "darwin":
            return
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.history_requested.emit()


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
