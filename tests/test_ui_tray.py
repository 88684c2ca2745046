"""The tray icon's state logic (tooltip, icon per state, badge, DND) and its menu, without
showing it: the offscreen platform has no system tray."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QSystemTrayIcon

from cstapopup.calls.model import Call, Direction, Outcome
from cstapopup.ui import icons
from cstapopup.ui.tray import TrayIcon

T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def tray(qapp):
    t = TrayIcon()
    yield t
    t.hide()
    t.deleteLater()


def image(t: TrayIcon, size: int = 32) -> QImage:
    return t.icon().pixmap(size, size).toImage()


def test_no_tray_offscreen_is_reported_not_fatal(tray):
    assert tray.available is QSystemTrayIcon.isSystemTrayAvailable()
    assert tray.available is False   # offscreen: the app will use its history window
    tray.show()                      # harmless without a tray
    assert not tray.tray.isVisible()


def test_tooltip_says_what_the_link_does(tray):
    tray.set_link_state("up", "connected to 192.0.2.1:7001, monitoring 100, 101")
    assert tray.tooltip() == "cstapopup — connected to 192.0.2.1:7001, monitoring 100, 101"
    assert tray.tray.toolTip() == tray.tooltip()
    tray.set_link_state("down", "connection lost: refused, retrying in 8 s")
    assert tray.tooltip() == "cstapopup — connection lost: refused, retrying in 8 s"
    tray.set_missed_count(3)
    tray.set_do_not_disturb(True)
    assert tray.tooltip().splitlines() == [
        "cstapopup — connection lost: refused, retrying in 8 s",
        "3 missed calls",
        "Do not disturb: no popups",
    ]
    tray.set_missed_count(1)
    assert "1 missed call" in tray.tooltip().splitlines()
    tray.set_link_state("connecting")
    assert tray.tooltip().startswith("cstapopup — connecting")
    with pytest.raises(ValueError):
        tray.set_link_state("sideways", "")


def test_a_note_and_the_technical_detail_have_their_own_lines(tray):
    note = "using the HiPath factory password 77777 because none is stored"
    tray.set_link_state("down", "the PBX address pbx.example is not known — check the PBX "
                        "address in the settings; retrying in 8\u00a0s", note=note,
                        detail="Name or service not known")
    lines = tray.tooltip().splitlines()
    assert lines[0].startswith("cstapopup — the PBX address pbx.example is not known")
    assert lines[1] == "Using the HiPath factory password 77777 because none is stored"
    assert lines[-1] == "Details: Name or service not known"
    shown = [a.text() for a in tray.menu.actions() if a.isVisible() and not a.isSeparator()]
    assert shown[1] == "Using the HiPath factory password 77777 because none is stored"
    tray.set_link_state("up", "connected")             # without a note: no such line
    assert tray.tooltip() == "cstapopup — connected"
    assert not [a for a in tray.menu.actions() if a.isVisible() and "77777" in a.text()]


def test_the_history_entry_counts_missed_calls_in_english(tray):
    tray.set_missed_count(1)
    assert tray.history_action.text() == "&History (1 missed)"
    assert tray.tooltip().splitlines()[-1] == "1 missed call"


def test_each_state_has_its_own_icon(tray):
    images = {}
    for state in ("up", "connecting", "down", "demo"):
        tray.set_link_state(state, "x")
        images[state] = image(tray)
        assert not images[state].isNull()
    states = list(images)
    for i, a in enumerate(states):
        for b in states[i + 1:]:
            assert images[a] != images[b], (a, b)
    tray.set_link_state("up", "again")
    assert image(tray) == images["up"]   # same state, same picture


def test_badge_and_dnd_change_the_icon(tray):
    tray.set_link_state("up", "x")
    plain = image(tray)
    tray.set_missed_count(4)
    with_badge = image(tray)
    assert with_badge != plain
    tray.set_missed_count(5)
    assert image(tray) != with_badge                 # the number is drawn, not just a dot
    tray.set_missed_count(0)
    assert image(tray) == plain
    tray.set_do_not_disturb(True)
    assert image(tray) != plain
    tray.set_do_not_disturb(False)
    assert image(tray) == plain


def test_badge_text():
    assert icons.badge_text(0) == ""
    assert icons.badge_text(-2) == ""
    assert icons.badge_text(7) == "7"
    assert icons.badge_text(99) == "99"
    assert icons.badge_text(100) == "99+"


def test_badge_is_painted_in_the_top_right_corner(qapp):
    clean = icons.tray_pixmap("up", 64).toImage()
    badged = icons.tray_pixmap("up", 64, missed=150).toImage()
    changed = [(x, y) for x in range(64) for y in range(64)
               if clean.pixelColor(x, y) != badged.pixelColor(x, y)]
    assert changed
    assert min(y for _x, y in changed) < 4 and max(y for _x, y in changed) < 40
    assert max(x for x, _y in changed) > 60


def test_history_warning_is_painted_at_the_bottom_right(qapp):
    clean = icons.tray_pixmap("up", 64).toImage()
    warned = icons.tray_pixmap("up", 64, warning=True).toImage()
    changed = [(x, y) for x in range(64) for y in range(64)
               if clean.pixelColor(x, y) != warned.pixelColor(x, y)]
    assert changed
    assert min(x for x, _y in changed) >= 28 and min(y for _x, y in changed) >= 28
    assert max(x for x, _y in changed) > 60 and max(y for _x, y in changed) > 60


def test_history_problem_in_tooltip_menu_and_icon(tray):
    plain = image(tray)
    problem = "Calls are not being saved: the disk is full (3 waiting to be written)."
    tray.set_history_problem(problem)
    assert problem in tray.tooltip() and problem in tray.tray.toolTip()
    line = next(a for a in tray.menu.actions() if a.objectName() == "historyProblem")
    assert line.isVisible() and line.text() == problem and not line.isEnabled()
    assert image(tray) != plain
    tray.set_history_problem(None)
    assert problem not in tray.tooltip() and not line.isVisible()
    assert image(tray) == plain


def test_high_dpi_tray_pixmap_is_sharp(qapp):
    pixmap = icons.tray_pixmap("down", 32, missed=3, dnd=True, device_pixel_ratio=2.0)
    assert pixmap.width() == 64 and pixmap.devicePixelRatio() == 2.0


def test_menu_actions_emit_signals(tray, qtbot):
    with qtbot.waitSignal(tray.history_requested, timeout=1000):
        tray.history_action.trigger()
    with qtbot.waitSignal(tray.settings_requested, timeout=1000):
        tray.settings_action.trigger()
    with qtbot.waitSignal(tray.quit_requested, timeout=1000):
        tray.quit_action.trigger()
    with qtbot.waitSignal(tray.dnd_toggled, timeout=1000) as blocker:
        tray.dnd_action.trigger()
    assert blocker.args == [True]
    assert tray.do_not_disturb and "Do not disturb" in tray.tooltip()
    with qtbot.waitSignal(tray.console_requested, timeout=1000):
        tray.console_action.trigger()
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator() and a.isVisible()]
    # Without colleagues (none configured yet) there is no lamp list.
    assert texts[1:] == ["&History", "C&onsole (colleagues, put through)", "&Settings…",
                         "&Do not disturb", "&Quit"]


def test_the_menu_lists_the_colleagues_lamps_in_brief(tray, qtbot):
    from cstapopup.calls.colleagues import ColleagueState, ColleagueStatus
    from cstapopup.calls.views import colleague_view
    from cstapopup.ui.console import lamp_icon

    tray.lamp_icon = lamp_icon
    views = [
        colleague_view(ColleagueStatus("101", ColleagueState.BUSY, party="089 1234567"),
                       name="Anna & Berger", party="089 1234567", own_device="100"),
        colleague_view(ColleagueStatus("102", ColleagueState.FREE), name=None, party="",
                       own_device="100"),
    ]
    tray.set_colleagues(views)
    menu = tray.colleagues_menu
    assert menu.menuAction().isVisible()
    assert [a.text() for a in menu.actions()] == [
        "Anna && Berger (101) — On a call: 089 1234567", "102 — Free"]
    assert not menu.actions()[0].icon().isNull()
    with qtbot.waitSignal(tray.colleague_chosen, timeout=1000) as chosen:
        menu.actions()[1].trigger()
    assert chosen.args == ["102"]
    many = [colleague_view(ColleagueStatus(str(200 + i), ColleagueState.FREE), name=None,
                           party="", own_device=None) for i in range(40)]
    tray.set_colleagues(many)
    assert len(menu.actions()) == 25 and menu.title() == "Co&lleagues (the first 25 of 40)"


def test_setting_dnd_from_the_app_does_not_echo(tray, qtbot):
    with qtbot.assertNotEmitted(tray.dnd_toggled):
        tray.set_do_not_disturb(True)
    assert tray.dnd_action.isChecked()


def test_menu_shows_the_state_and_the_missed_count(tray):
    tray.set_link_state("down", "connection lost: refused & reset")
    status = tray.menu.actions()[0]
    assert not status.isEnabled()
    assert status.text() == "Connection lost: refused && reset"   # "&" shown, not a mnemonic
    tray.set_missed_count(2)
    assert tray.history_action.text() == "&History (2 missed)"


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS a click opens the menu")
def test_click_on_the_icon_opens_the_history(tray, qtbot):
    with qtbot.waitSignal(tray.history_requested, timeout=1000):
        tray.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)


def test_history_icons_for_calls(qapp):
    def call(direction=Direction.INCOMING, outcome=Outcome.ANSWERED):
        return Call("k", direction, T0, outcome=outcome)

    assert icons.history_icon_name(call()) == "incoming"
    assert icons.history_icon_name(call(Direction.OUTGOING)) == "outgoing"
    assert icons.history_icon_name(call(Direction.INTERNAL)) == "internal"
    assert icons.history_icon_name(call(Direction.UNKNOWN)) == "unknown"
    assert icons.history_icon_name(call(outcome=Outcome.MISSED)) == "missed"
    assert icons.history_icon_name(call(outcome=Outcome.ANSWERED_ELSEWHERE)) == \
        "answered-elsewhere"
    assert icons.history_icon_name(call(outcome=Outcome.TRANSFERRED)) == "transferred"
    assert icons.history_icon_name(call(outcome=Outcome.DIVERTED)) == "diverted"
    assert icons.history_icon_name(call(outcome=Outcome.BUSY)) == "busy"
    pictures = [icons.call_icon(n).pixmap(16, 16).toImage() for n in icons.HISTORY_ICON_NAMES]
    assert all(not p.isNull() for p in pictures)
    assert len({bytes(p.constBits()) for p in pictures}) == len(pictures)   # all different
    with pytest.raises(icons.UnknownIconError):
        icons.call_icon("sideways")


def test_svg_icons_load(qapp):
    for name in ("app", "dnd", "history-warning", "caller-unknown",
                 *(f"tray-{s}" for s in icons.TRAY_STATES)):
        pixmap = icons.icon(name).pixmap(256, 256)
        assert not pixmap.isNull() and pixmap.width() == 256, name


def test_tooltip_and_messages_show_outside_text_as_it_is(tray, monkeypatch):
    from tests.test_ui_popup import rendered

    reason = "<b>PBX</b> <img src=x> refused: 0891234567"
    tray.set_link_state("down", reason)
    shown = tray.tray.toolTip()
    assert "<b>" not in shown and "<img" not in shown
    assert rendered(shown) == tray.tooltip() and reason in tray.tooltip()
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(TrayIcon, "available", property(lambda self: True))
    monkeypatch.setattr(tray.tray, "isVisible", lambda: True)
    monkeypatch.setattr(tray.tray, "showMessage",
                        lambda title, text, *rest: sent.append((title, text)))
    tray.show_message("Call back", "Cannot call <h1>Big</h1>")
    ((title, text),) = sent
    assert title == "Call back" and "<h1>" not in text
    assert rendered(text) == "Cannot call <h1>Big</h1>"
