"""The console window on its own (offscreen Qt, pytest-qt): it renders the desk's values,
filters as you type, sends every action with the keys of the one shortcut table, shows the
help, takes a call dropped on a colleague, and keeps the focus where the receptionist types.
(The app against the simulator: tests/test_ui_console_app.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

from cstapopup.calls.colleagues import ColleagueState, ColleagueStatus
from cstapopup.calls.views import CallAction, LineState, OwnLineView, colleague_view
from cstapopup.ui.console import ConsoleWindow, ViewRole
from cstapopup.ui.popup import MIME_CALL
from cstapopup.ui.shortcuts import BY_COMMAND, SHORTCUTS, of_scope

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def colleague(device: str, name: str | None, state=ColleagueState.FREE, party: str = "",
              **kw):
    status = ColleagueStatus(device, state, **kw)
    return colleague_view(status, name=name, party=party, own_device="100")


COLLEAGUES = [
    colleague("100", "Reception"),
    colleague("101", "Anna Berger", ColleagueState.BUSY, "089 1234567",
              since=NOW - timedelta(seconds=125)),
    colleague("102", "Tom Keller"),
    colleague("103", None, ColleagueState.RINGING, "Schmidt & Partner", ringing=True),
    colleague("104", "Tomasz Nowak", ColleagueState.DO_NOT_DISTURB, do_not_disturb=True),
]


def talking() -> OwnLineView:
    return OwnLineView("100", LineState.TALKING, "On a call with 089 1234567", "", NOW,
                       "k1", frozenset({CallAction.PUT_THROUGH, CallAction.CONSULT,
                                        CallAction.HOLD, CallAction.HANG_UP}))


@pytest.fixture
def console(qtbot):
    window = ConsoleWindow(now=lambda: NOW)
    qtbot.addWidget(window)
    window.show_colleagues(COLLEAGUES)
    window.show_own_line(talking())
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    return window


def shown(window: ConsoleWindow) -> list[str]:
    return [window.proxy.index(r, 0).data(ViewRole).device for r in range(window.proxy.rowCount())]


def requests(qtbot, window: ConsoleWindow, key, modifier=Qt.KeyboardModifier.NoModifier):
    with qtbot.waitSignal(window.action_requested, timeout=1000) as blocker:
        QTest.keyClick(QApplication.focusWidget(), key, modifier)
    return blocker.args


def test_the_search_has_the_focus_and_typing_narrows_the_list(console, qtbot):
    assert QApplication.focusWidget() is console.search
    assert shown(console) == ["100", "101", "102", "103", "104"]
    QTest.keyClicks(console.search, "tom")
    assert shown(console) == ["102", "104"]          # Tom Keller, Tomasz Nowak
    assert console.current_device() == "102"          # the best match is chosen
    QTest.keyClick(console.search, Qt.Key.Key_Down)   # Down in the search moves the choice
    assert console.current_device() == "104"
    console.search.clear()
    QTest.keyClicks(console.search, "schmidt")        # the party counts too
    assert shown(console) == ["103"]
    QTest.keyClick(console.search, Qt.Key.Key_Escape)  # Esc clears the search first
    assert console.search.text() == "" and console.isVisible()


def test_letters_typed_in_the_list_go_to_the_search(console, qtbot):
    console.list.setFocus()
    QTest.keyClicks(console.list, "10")
    assert console.search.text() == "10" and QApplication.focusWidget() is console.search


def test_enter_puts_through_ctrl_enter_consults_ctrl_p_picks_up(console, qtbot):
    QTest.keyClicks(console.search, "keller")
    assert requests(qtbot, console, Qt.Key.Key_Return) == ["put_through", "102", ""]
    assert requests(qtbot, console, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier) \
        == ["consult", "102", ""]
    console.search.clear()
    QTest.keyClicks(console.search, "103")
    assert requests(qtbot, console, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier) == [
        "pick_up", "103", ""]


@pytest.mark.parametrize(("key", "action"), [
    (Qt.Key.Key_F3, "answer"), (Qt.Key.Key_F4, "hang_up"), (Qt.Key.Key_F5, "hold"),
    (Qt.Key.Key_F6, "complete"), (Qt.Key.Key_F7, "back"), (Qt.Key.Key_F8, "alternate")])
def test_the_function_keys_act_on_the_own_phone(console, qtbot, key, action):
    assert requests(qtbot, console, key) == [action, "", ""]


def test_every_shortcut_of_the_table_is_an_action_of_the_window(console):
    for shortcut in of_scope("console"):
        action = console.actions_by_command[shortcut.command]
        assert [k.toString() for k in action.shortcuts()] == \
            [k.toString() for k in shortcut.sequences()]
    # The buttons' tooltips name the keys.
    assert console.own_line.buttons[CallAction.ANSWER].toolTip().endswith("(F3)")
    assert console.put_through_button.toolTip().endswith("(Enter)")
    assert console.consult_button.toolTip().endswith("(Ctrl+Enter)")


def test_f1_and_question_mark_show_the_help_esc_closes_it(console, qtbot):
    QTest.keyClick(console.search, Qt.Key.Key_F1)
    assert console.help.isVisible()
    keys = console.help.findChild(QLabel, "help-keys-consult")
    assert keys.text() == BY_COMMAND["consult"].shown == "Ctrl+Enter"
    QTest.keyClick(console.search, Qt.Key.Key_Escape)
    assert not console.help.isVisible() and console.isVisible()
    console.list.setFocus()   # "?" in the search is text; in the list it is the help
    QTest.keyClick(console.list, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    assert console.help.isVisible()
    QTest.keyClick(console.list, Qt.Key.Key_F1)
    assert not console.help.isVisible()


def test_esc_on_an_empty_search_and_ctrl_w_close_the_window(console, qtbot):
    QTest.keyClick(console.search, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not console.isVisible(), timeout=1000)
    console.show()
    console.activateWindow()
    qtbot.waitUntil(console.isActiveWindow, timeout=2000)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not console.isVisible(), timeout=1000)


def test_f2_asks_for_the_newest_ringing_popup(console, qtbot):
    with qtbot.waitSignal(console.focus_popup_requested, timeout=1000):
        QTest.keyClick(console.search, Qt.Key.Key_F2)


def test_a_popups_call_waits_for_the_colleague_then_goes_with_enter(console, qtbot):
    console.put_through_for("popup-key", "Anna Schmidt")
    assert console.banner.isVisible() and "Anna Schmidt" in console.banner.text()
    QTest.keyClicks(console.search, "anna")
    assert requests(qtbot, console, Qt.Key.Key_Return) == ["put_through", "101", "popup-key"]
    assert not console.banner.isVisible() and console.pending_key == ""
    # Done with that colleague: the whole list again, the colleague still chosen.
    assert console.search.text() == "" and len(shown(console)) == len(COLLEAGUES)
    assert console.current_device() == "101"
    console.put_through_for("popup-key", "Anna Schmidt")
    QTest.keyClicks(console.search, "to")
    QTest.keyClick(console.search, Qt.Key.Key_Escape)   # clears the search first ...
    assert console.search.text() == "" and console.pending_key == "popup-key"
    QTest.keyClick(console.search, Qt.Key.Key_Escape)   # ... then cancels
    assert console.pending_key == "" and console.isVisible()


def test_a_call_dropped_on_a_colleague_is_put_through_to_them(console, qtbot):
    data = QMimeData()
    data.setData(MIME_CALL, b"k-dropped")
    row = console.proxy.mapFromSource(console.model.index(console.model.row_of("102")))
    viewport = console.list.viewport()
    point = console.list.visualRect(row).center()
    args = (Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(point, *args)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(point, *args)
    QApplication.sendEvent(viewport, move)
    assert move.isAccepted()
    with qtbot.waitSignal(console.action_requested, timeout=1000) as blocker:
        QApplication.sendEvent(viewport, QDropEvent(point.toPointF(), *args))
    assert blocker.args == ["put_through", "102", "k-dropped"]
    assert console.current_device() == "102"


def test_buttons_follow_what_is_possible(console):
    buttons = console.own_line.buttons
    assert buttons[CallAction.HOLD].isEnabled() and not buttons[CallAction.ANSWER].isEnabled()
    assert not buttons[CallAction.COMPLETE].isEnabled()
    console.select("103")
    assert console.pick_up_button.isEnabled() and console.put_through_button.isEnabled()
    console.select("100")   # yourself
    assert not console.put_through_button.isEnabled()
    console.show_own_line(OwnLineView("100", LineState.IDLE, "No call at your phone (100)", "",
                                      None, None, frozenset({CallAction.PICK_UP})))
    console.select("102")
    assert not console.put_through_button.isEnabled()
    assert not console.consult_button.isEnabled()


def test_changes_repaint_in_place_and_keep_the_choice(console):
    console.select("102")
    changed = colleague("102", "Tom Keller", ColleagueState.BUSY, "Anna Berger (101)",
                        since=NOW)
    console.show_colleagues([*COLLEAGUES[:2], changed, *COLLEAGUES[3:]], [changed])
    assert console.current_device() == "102"
    index = console.list.currentIndex()
    assert index.data(ViewRole).state is ColleagueState.BUSY
    assert index.data(Qt.ItemDataRole.ToolTipRole) == \
        "Tom Keller is on a call with Anna Berger (101)."
    # The rows paint (the delegate is exercised, blinking lamps included).
    console.tick()
    console.list.viewport().grab()
    assert console.own_line.elapsed.text() == "0:00"


def test_the_readme_lists_every_console_key():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for scope, heading in (("console", "| Keys | In the console |"),
                           ("note", "| Keys | In the phone note |")):
        section = readme[readme.index(heading):]
        section = section[:section.index("\n\n")]
        listed = {line.split("|")[1].strip() for line in section.splitlines()[2:]}
        assert listed == {s.shown for s in of_scope(scope)}, scope
    # Every shortcut is of one of those windows.
    assert {s.scope for s in SHORTCUTS} == {"console", "note"}
