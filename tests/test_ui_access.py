"""Accessibility and high DPI (offscreen Qt): every control has a name a screen reader reads,
a popup announces the caller and the call's state, everything is reachable by keyboard;
colours keep their contrast (4.5:1 for text, 3:1 for the lamps' rings) in a light and a dark
theme, and state never shows by colour alone; popups, icons and tables are sharp and
nothing in them is cut short at 100 %, 150 % and 200 % (QT_SCALE_FACTOR, in a process of its
own), in German, whose words are the longer ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QColor, QImage, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from cstapopup.calls.colleagues import ColleagueState, ColleagueStatus
from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.views import (
    CallAction,
    Caller,
    LineState,
    OwnLineView,
    colleague_view,
    popup_view,
)
from cstapopup.settings import PasswordStore, Settings
from cstapopup.ui import icons
from cstapopup.ui.palette import TEXT_CONTRAST, blend, contrast, readable

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def ringing(key: str = "c1", **changes) -> Call:
    call = Call(key, Direction.INCOMING, T0, remote_number="00891234567",
                local_devices=("100",), called_number="100", hops=(Hop("delivered", "100", T0),))
    return call.evolve(**changes) if changes else call


def a_view(call: Call | None = None, **kw):
    kw.setdefault("ringing_device", "100")
    kw.setdefault("own_device", "100")
    return popup_view(call or ringing(), caller=Caller("Anna Schmidt", "Schmidt & Partner",
                                                       "089 1234567"), **kw)


def dark_palette() -> QPalette:
    """A dark theme as desktops ship it (Breeze Dark's roles, roughly)."""
    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2a2e32", QPalette.ColorRole.WindowText: "#fcfcfc",
        QPalette.ColorRole.Base: "#1b1e20", QPalette.ColorRole.AlternateBase: "#232629",
        QPalette.ColorRole.Text: "#fcfcfc", QPalette.ColorRole.Button: "#31363b",
        QPalette.ColorRole.ButtonText: "#fcfcfc", QPalette.ColorRole.Highlight: "#3daee9",
        QPalette.ColorRole.HighlightedText: "#fcfcfc", QPalette.ColorRole.Dark: "#0f1012",
        QPalette.ColorRole.Mid: "#25292c", QPalette.ColorRole.PlaceholderText: "#5f6368",
        QPalette.ColorRole.ToolTipBase: "#31363b", QPalette.ColorRole.ToolTipText: "#fcfcfc",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    return p


@pytest.fixture(params=["light", "dark"])
def theme(request, qapp):
    saved = QPalette(qapp.palette())
    if request.param == "dark":
        qapp.setPalette(dark_palette())
    yield request.param
    qapp.setPalette(saved)


# --- names for screen readers ----------------------------------------------------------------

def _controls(root: QWidget) -> list[QWidget]:
    """The controls a user can reach, without the parts of composite ones (a spin box's
    line edit, a combo box's list, a line edit's clear button: their whole is named)."""
    kinds = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView)
    composite = (QAbstractSpinBox, QComboBox, QLineEdit)
    return [w for w in root.findChildren(QWidget)
            if isinstance(w, kinds) and not w.isHidden() and w.isVisibleTo(root)
            and not isinstance(w.parentWidget(), composite)
            and (type(w).__name__ != "QToolButton" or w.objectName() == "dismiss")]


def _unnamed(root: QWidget) -> list[str]:
    missing = []
    for widget in _controls(root):
        if not widget.isVisibleTo(root):
            continue
        iface = QAccessible.queryAccessibleInterface(widget)
        name = iface.text(QAccessible.Text.Name) if iface is not None else ""
        if not name.strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return missing


def test_every_control_has_a_name_for_screen_readers(qtbot, tmp_path):
    from cstapopup.calls.numbers import NumberingPlan, lookup_keys
    from cstapopup.calls.store import HistoryStore
    from cstapopup.ui.console import ConsoleWindow
    from cstapopup.ui.history_window import HistoryWindow
    from cstapopup.ui.popup import CallPopup
    from cstapopup.ui.settings_dialog import SettingsDialog

    popup = CallPopup(a_view(crm_template="https://crm.example.com/?q={number}"))
    console = ConsoleWindow(now=lambda: T0)
    console.show_colleagues([colleague_view(ColleagueStatus("101", ColleagueState.FREE),
                                            name="Anna", party="", own_device="100")])
    settings = Settings(tmp_path / "config.toml")
    dialog = SettingsDialog(settings, PasswordStore(settings))
    plan = NumberingPlan()
    with HistoryStore(tmp_path / "h.sqlite3",
                      normalise=lambda raw: lookup_keys(raw, plan, from_pbx=True)) as store:
        history = HistoryWindow(store)
        for window in (popup, console, dialog, history):
            qtbot.addWidget(window)
            window.show()
            qtbot.waitExposed(window)
        for window in (popup, console, history):
            assert _unnamed(window) == [], type(window).__name__
        for index in range(dialog.tabs.count()):
            dialog.tabs.setCurrentIndex(index)
            assert _unnamed(dialog.tabs.widget(index)) == [], dialog.tabs.tabText(index)
        # Every setting's field says what it is for, in the help's words.
        for editor in dialog.editors.values():
            assert editor.focus_widget.accessibleDescription() == editor.option.help_text
        history.close()


def test_a_popup_announces_the_caller_and_the_state(qtbot):
    from cstapopup.ui.popup import CallPopup

    QAccessible.setActive(True)   # as with a screen reader running: the events go out
    try:
        popup = CallPopup(a_view())
        qtbot.addWidget(popup)
        heard = []
        popup.announced.connect(heard.append)
        popup.show()
        assert popup.announcement == "Incoming call: Anna Schmidt. Ringing at 100."
        iface = QAccessible.queryAccessibleInterface(popup)
        description = iface.text(QAccessible.Text.Description)
        assert "Anna Schmidt" in description and "Ringing" in description
        assert iface.text(QAccessible.Text.Name) == "Incoming call"
        popup.show_view(a_view(ringing(answered_at=T0, answered_by="102",
                                       outcome=Outcome.ANSWERED_ELSEWHERE)))
        assert heard == ["Call from Anna Schmidt: Answered by 102."]
        assert "Answered by 102" in iface.text(QAccessible.Text.Description)
        popup.show_view(a_view(ringing(answered_at=T0, answered_by="102",
                                       outcome=Outcome.ANSWERED_ELSEWHERE)))
        assert len(heard) == 1    # the same news is not said twice
    finally:
        QAccessible.setActive(False)


# --- the keyboard ----------------------------------------------------------------------------

def _focus_chain(start: QWidget, within: QWidget) -> list[QWidget]:
    chain, widget = [], start
    for _ in range(200):
        widget = widget.nextInFocusChain()
        if widget is start:
            break
        if (widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(within)
                and widget.isEnabled() and within.isAncestorOf(widget)):
            chain.append(widget)
    return chain


def test_the_popup_is_used_with_the_keyboard_in_reading_order(qtbot):
    from cstapopup.ui.popup import CallPopup

    popup = CallPopup(a_view(crm_template="https://crm.example.com/?q={number}"))
    qtbot.addWidget(popup)
    popup.show()
    qtbot.waitExposed(popup)
    popup.take_keyboard()
    first = popup.findChild(QWidget, "answer")
    names = [w.objectName() for w in [first, *_focus_chain(first, popup)]]
    assert names == ["answer", "putThrough", "copy", "crm", "dismiss"]
    for name in ("answer", "putThrough", "copy", "crm"):
        assert "&" in popup.findChild(QAbstractButton, name).text()   # Alt+letter


def test_the_history_and_the_settings_are_used_with_the_keyboard(qtbot, tmp_path):
    from cstapopup.calls.numbers import NumberingPlan, lookup_keys
    from cstapopup.calls.store import HistoryStore
    from cstapopup.ui.history_window import HistoryWindow
    from cstapopup.ui.settings_dialog import SettingsDialog

    plan = NumberingPlan()
    with HistoryStore(tmp_path / "h.sqlite3",
                      normalise=lambda raw: lookup_keys(raw, plan, from_pbx=True)) as store:
        store.upsert_many([ringing(ended_at=T0, outcome=Outcome.MISSED)])
        window = HistoryWindow(store)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        reached = _focus_chain(window.search, window)
        assert window.table in reached and window.export_button in reached
        assert all(b in reached for b in window.filter_group.buttons())
        keys = {a.text(): a.shortcut().toString() for a in
                (window.act_call_back, window.act_copy, window.act_done, window.act_delete)}
        assert all(keys.values()), keys
        window.close()
    settings = Settings(tmp_path / "config.toml")
    dialog = SettingsDialog(settings, PasswordStore(settings))
    qtbot.addWidget(dialog)
    for name, editor in dialog.editors.items():
        assert editor.focus_widget.focusPolicy() & Qt.FocusPolicy.TabFocus, name
        label = dialog.findChild(QLabel, f"label-{name}")
        if label is not None:   # a check box carries its own mnemonic
            assert label.buddy() is editor.focus_widget and "&" in label.text(), name


def test_every_console_action_has_a_key():
    from cstapopup.ui.shortcuts import BY_COMMAND

    for action in CallAction:
        assert BY_COMMAND[action.value].keys, action


# --- colours ---------------------------------------------------------------------------------

def test_the_contrast_formula():
    assert contrast(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("white")) == pytest.approx(4.48, abs=0.01)
    assert contrast(readable(QColor("#e6a100"), QColor("white")), QColor("white")) >= 4.5
    assert contrast(readable(QColor("#1e63c6"), QColor("#1b1e20")), QColor("#1b1e20")) >= 4.5


def test_popup_texts_read_in_every_state(theme, qtbot):
    from cstapopup.ui.popup import CallPopup

    calls = {"ringing": ringing(),
             "answered": ringing(answered_at=T0, answered_by="100", outcome=Outcome.ANSWERED),
             "ended": ringing(answered_at=T0, answered_by="100", outcome=Outcome.ANSWERED,
                              ended_at=T0),
             "missed": ringing(ended_at=T0, outcome=Outcome.MISSED)}
    for accent, call in calls.items():
        popup = CallPopup(a_view(call))
        qtbot.addWidget(popup)
        assert popup.view.accent == accent
        background = popup.palette().color(popup.backgroundRole())
        for name in ("title", "company", "number", "where", "state"):
            label = popup.findChild(QWidget, name)
            colour = label.palette().color(label.foregroundRole())
            assert contrast(colour, background) >= TEXT_CONTRAST, (theme, accent, name)


def test_the_avatar_badge_and_banner_colours_read():
    from cstapopup.ui.popup import avatar_colour

    white = QColor("white")
    assert min(contrast(white, avatar_colour(hue)) for hue in range(360)) >= TEXT_CONTRAST
    assert contrast(white, icons._BADGE_RED) >= TEXT_CONTRAST
    assert contrast(QColor("#5a4300"), QColor("#fff4d6")) >= TEXT_CONTRAST   # the console banner


def test_the_history_and_the_settings_read_in_both_themes(theme, qtbot, tmp_path):
    from cstapopup.calls.numbers import NumberingPlan, lookup_keys
    from cstapopup.calls.store import HistoryStore
    from cstapopup.ui.history_window import HistoryWindow
    from cstapopup.ui.settings_dialog import SettingsDialog

    plan = NumberingPlan()
    with HistoryStore(tmp_path / "h.sqlite3",
                      normalise=lambda raw: lookup_keys(raw, plan, from_pbx=True)) as store:
        window = HistoryWindow(store)
        qtbot.addWidget(window)
        base = window.table.palette().color(QPalette.ColorRole.Base)
        assert contrast(window.model.missed_colour, base) >= TEXT_CONTRAST
        empty = window.empty_label
        assert contrast(empty.palette().color(QPalette.ColorRole.WindowText), base) \
            >= TEXT_CONTRAST
        window.close()
    settings = Settings(tmp_path / "config.toml")
    dialog = SettingsDialog(settings, PasswordStore(settings))
    qtbot.addWidget(dialog)
    dialog.editors["pbx.host"].set_value("http://x")            # an error shows
    dialog.editors["popup.sound_file"].set_value("/no/such.wav")  # a warning shows
    dialog.validate()
    labels = [dialog.error_labels["pbx.host"], dialog.warning_labels["popup.sound_file"],
              dialog.summary, dialog.password_help,
              *[w for w in dialog.findChildren(QLabel) if w.objectName().startswith("help-")]]
    for label in labels:
        background = label.palette().color(label.backgroundRole())
        colour = label.palette().color(label.foregroundRole())
        assert contrast(colour, background) >= TEXT_CONTRAST, (theme, label.objectName())


def test_the_lamps_stand_out_and_tell_their_state_without_colour(theme, qapp):
    from cstapopup.ui import console

    base = qapp.palette().color(QPalette.ColorRole.Base)
    for lamp in console.LAMP_COLOURS:
        assert contrast(console.lamp_outline(lamp, base), base) >= console.LAMP_CONTRAST, lamp
    # The colleagues' second line: muted, still readable.
    text = qapp.palette().color(QPalette.ColorRole.Text)
    muted = QColor(text)
    muted.setAlphaF(0.7)
    assert contrast(blend(muted, base), base) >= TEXT_CONTRAST


def test_lamps_differ_in_shape_not_only_in_colour(monkeypatch, qapp):
    """Drawn all in one grey, every state still looks different (a colour-blind user, a
    grey-scale screen reads the mark): busy a bar, on hold a pause sign, away a slash,
    ringing a dot, free plain, off an empty ring."""
    from cstapopup.ui import console

    monkeypatch.setattr(console, "LAMP_COLOURS", dict.fromkeys(console.LAMP_COLOURS, "#808080"))
    images = {lamp: console.lamp_pixmap(lamp, 32, 1.0, QColor("white")).toImage()
              .convertToFormat(QImage.Format.Format_ARGB32)
              for lamp in ("free", "ringing", "busy", "held", "away", "off")}
    names = list(images)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert images[a] != images[b], (a, b)


def test_the_console_in_a_dark_theme(qtbot, qapp):
    from cstapopup.ui.console import ConsoleWindow

    saved = QPalette(qapp.palette())
    qapp.setPalette(dark_palette())
    try:
        console = ConsoleWindow(now=lambda: T0)
        qtbot.addWidget(console)
        console.show_own_line(OwnLineView("100", LineState.IDLE, "No call at your phone (100)",
                                          "", None, None, frozenset()))
        console.show()
        qtbot.waitExposed(console)
        text = console.own_line.text
        assert contrast(text.palette().color(text.foregroundRole()),
                        console.own_line.palette().color(console.own_line.backgroundRole())) \
            >= TEXT_CONTRAST
        image = console.grab().toImage()
        assert image.pixelColor(5, 5).lightness() < 100   # it is dark, not a white window
    finally:
        qapp.setPalette(saved)


# --- high DPI --------------------------------------------------------------------------------

PROBE = r"""
import json, sys
from datetime import UTC, datetime, timedelta
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
app = QApplication([])
from cstapopup.ui import language
language.install("de")
from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.views import Caller, popup_view
from cstapopup.ui import icons
from cstapopup.ui.console import ConsoleWindow, lamp_pixmap
from cstapopup.ui.history_window import HistoryWindow, format_time
from cstapopup.ui.popup import CallPopup
T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
call = Call("k", Direction.INCOMING, T0, remote_number="00891234567", local_devices=("100",),
            called_number="0891234567", hops=(Hop("delivered", "100", T0),))
out = {"ratio": app.devicePixelRatio(), "popups": []}
for view in (
    popup_view(call, caller=Caller("Anna Schmidt", "Schmidt & Partner", "089 1234567"),
               ringing_device="100", own_device="100", forwarded_from="101",
               transferred_by="102", crm_template="https://crm.example.com/?q={number}"),
    popup_view(call.evolve(answered_at=T0, answered_by="102", ended_at=T0 + timedelta(seconds=151),
                           outcome=Outcome.ANSWERED_ELSEWHERE),
               caller=Caller(None, None, "089 1234567"), ringing_device="100", own_device="100"),
):
    popup = CallPopup(view)
    popup.show()
    app.processEvents()
    found = {"ratio": popup.devicePixelRatioF(), "size": popup.size().toTuple(),
             "hint": popup.sizeHint().toTuple(), "cut": []}
    for label in popup.findChildren(QLabel):
        if label.isVisible() and hasattr(label, "full_text") and label.full_text():
            if label._elided() != label.full_text():
                found["cut"].append(label.full_text())
    for button in popup.findChildren(QPushButton):
        if button.isVisible():
            g = button.geometry()
            inside = popup.rect().contains(button.mapTo(popup, button.rect().bottomRight()))
            if g.width() < button.sizeHint().width() or not inside:
                found["cut"].append(button.text())
    out["popups"].append(found)
pixmap = icons.app_icon().pixmap(32, 32)
out["icon"] = [pixmap.width(), pixmap.height(), pixmap.devicePixelRatio()]
out["lamp"] = lamp_pixmap("busy", 16, app.devicePixelRatio()).size().toTuple()
console = ConsoleWindow()
console.show()
app.processEvents()
out["console_cut"] = [b.text() for b in console.own_line.buttons.values()
                      if b.geometry().width() < b.sizeHint().width()
                      or not console.own_line.rect().contains(b.geometry())]
class Store:
    def query(self, *a, **k): return []
    def count(self, *a, **k): return 0
    def badge_count(self): return 0
history = HistoryWindow(Store())
metrics = history.table.fontMetrics()
old = format_time(datetime(2024, 12, 28, 23, 58, tzinfo=UTC))
out["time_column"] = [history.table.columnWidth(0), metrics.horizontalAdvance(old)]
print(json.dumps(out))
"""


@pytest.mark.parametrize("scale", ["1", "1.5", "2"])
def test_popups_icons_and_tables_are_sharp_and_whole_at_every_scale(scale):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=scale,
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    ratio = float(scale)
    assert out["ratio"] == pytest.approx(ratio)
    for popup in out["popups"]:
        assert popup["ratio"] == pytest.approx(ratio)
        assert popup["cut"] == [], popup
        assert popup["size"][1] >= popup["hint"][1]
    # Icons and lamps are drawn for the screen's pixels (sharp), not scaled up.
    width, height, icon_ratio = out["icon"]
    assert icon_ratio == pytest.approx(ratio) and width == round(32 * ratio)
    assert out["lamp"] == [round(16 * ratio)] * 2
    assert out["console_cut"] == []
    column, needed = out["time_column"]
    assert column >= needed
