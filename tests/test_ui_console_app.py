"""The receptionist's console end to end: the app (controller, console, popups, history)
against the switch simulator over real TCP on 127.0.0.1, offscreen Qt, keyboard only.

Done when a receptionist can, on the simulator, see colleagues' states change live, answer a
call and put it through to a free colleague (blind and consulted) with the keyboard alone,
and the history shows the call's way.  Keys go through QTest.keyClick to whatever has the
focus in the console, as a keyboard would; every wait is bounded (tests/test_ui_app.py has
the loop helpers).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from cstapopup.calls.colleagues import ColleagueState
from cstapopup.calls.model import Outcome
from cstapopup.calls.views import LineState
from cstapopup.ui.console import ConsoleWindow
from cstapopup.ui.controller import AppController

from . import test_ui_app as ui_app
from .test_ui_app import app, pbx_settings, simulator, until, up

# The loop fixtures of the app tests (a qasync loop on pytest-qt's QApplication).
aloop = ui_app.aloop
run = ui_app.run

X = "00891234567"
COLLEAGUES = ["101 Anna Berger", "102 Tom Keller", "103 Eva Roth"]


def settings(port: int) -> dict[str, Any]:
    return pbx_settings(port, **{"devices.monitor": ["100"], "devices.colleagues": COLLEAGUES})


def lamp(console: ConsoleWindow, device: str) -> ColleagueState | None:
    row = console.model.row_of(device)
    view = console.model.view_at(row) if row is not None else None
    return view.state if view is not None else None


def own(console: ConsoleWindow) -> LineState | None:
    view = console.own_line.view
    return view.state if view is not None else None


async def press(console: ConsoleWindow, key: Qt.Key,
                modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed in the console, where the focus is (the console keeps or gets it back
    after a popup showed up)."""
    await until(console.isActiveWindow, timeout=5)
    QTest.keyClick(QApplication.focusWidget() or console, key, modifier)


async def type_text(console: ConsoleWindow, text: str) -> None:
    await until(console.isActiveWindow, timeout=5)
    QTest.keyClicks(QApplication.focusWidget() or console, text)


async def open_console(controller: AppController) -> ConsoleWindow:
    await until(lambda: up(controller), controller.link_state_changed)
    controller.show_console()
    console = controller.console
    assert console is not None
    await until(console.isActiveWindow, timeout=5)
    assert QApplication.focusWidget() is console.search   # ready to type a name
    return console


def history_row(controller: AppController, key: str) -> tuple[str, str] | None:
    """(outcome text, tooltip with the call's way) of the call's history row."""
    model = controller.history.model
    for row in range(model.rowCount()):
        call = model.call_at(row)
        if call is not None and call.key == key:
            return (model.data(model.index(row, 6)),
                    model.data(model.index(row, 6), Qt.ItemDataRole.ToolTipRole))
    return None


def test_colleagues_states_change_live(run, tmp_path):
    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port)) as controller:
            console = await open_console(controller)
            await until(lambda: [lamp(console, d) for d in ("101", "102", "103")]
                        == [ColleagueState.FREE] * 3)
            call = server.model.make_call("101", "102").call
            await until(lambda: lamp(console, "101") is ColleagueState.BUSY
                        and lamp(console, "102") is ColleagueState.RINGING)
            ringing = console.model.view_at(console.model.row_of("102"))
            assert ringing.party == "Anna Berger (101)"
            server.model.answer(call, "102")
            await until(lambda: lamp(console, "102") is ColleagueState.BUSY)
            server.model.set_do_not_disturb("103", True)
            await until(lambda: lamp(console, "103") is ColleagueState.DO_NOT_DISTURB)
            server.model.hang_up(call, "102")
            await until(lambda: lamp(console, "101") is ColleagueState.FREE
                        and lamp(console, "102") is ColleagueState.FREE)
            # The tray's brief list follows too.
            texts = [a.text() for a in controller.tray.colleagues_menu.actions()]
            assert texts == ["Anna Berger (101) — Free", "Tom Keller (102) — Free",
                             "Eva Roth (103) — Do not disturb"]
            # Type-ahead on the live list.
            await type_text(console, "eva")
            assert console.current_device() == "103"
            assert console.proxy.rowCount() == 1
    run(scenario(), timeout=60)


def test_answer_and_put_through_blind_with_the_keyboard_alone(run, tmp_path):
    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port)) as controller:
            console = await open_console(controller)
            server.traffic.incoming(X, "100")
            await until(lambda: own(console) is LineState.RINGING)
            key = console.own_line.view.key
            assert controller.popups.popup(key) is not None   # the popup is up, too
            await press(console, Qt.Key.Key_F3)               # answer
            await until(lambda: own(console) is LineState.TALKING)
            await type_text(console, "tom")
            assert console.current_device() == "102"
            await press(console, Qt.Key.Key_Return)           # put through, blind
            await until(lambda: lamp(console, "102") is ColleagueState.RINGING)
            await until(lambda: own(console) is LineState.IDLE)
            await until(lambda: (history_row(controller, key) or ("",))[0]
                        == "transferred to 102")
            way = history_row(controller, key)[1]
            assert "answered 100 → transferred 100 to 102" in way
            call = controller.desk.store.get(key)
            assert (call.outcome, call.answered_by, call.transferred_to) == (
                Outcome.TRANSFERRED, "100", "102")
    run(scenario(), timeout=60)


def test_answer_consult_and_complete_with_the_keyboard_alone(run, tmp_path):
    async def scenario() -> None:
        # The colleague's phone is answered by the simulated colleague after a moment.
        async with simulator(auto_answer_after=2.0, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port)) as controller:
            console = await open_console(controller)
            server.traffic.incoming(X, "100")
            await until(lambda: own(console) is LineState.RINGING)
            key = console.own_line.view.key
            await press(console, Qt.Key.Key_F3)
            await until(lambda: own(console) is LineState.TALKING)
            await type_text(console, "anna")
            await press(console, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            await until(lambda: own(console) is LineState.CONSULTING)
            assert console.own_line.view.detail == "089 1234567 waits on hold"
            await until(lambda: lamp(console, "101") is ColleagueState.BUSY)   # Anna answered
            await press(console, Qt.Key.Key_F6)               # complete the transfer
            await until(lambda: own(console) is LineState.IDLE)
            await until(lambda: (history_row(controller, key) or ("",))[0]
                        == "transferred to 101")
            way = history_row(controller, key)[1]
            assert "held 100 → consulted 101 → transferred 100 to 101" in way
            # Anna now talks to the caller.
            await until(lambda: console.model.view_at(console.model.row_of("101")).party
                        == "089 1234567")
    run(scenario(), timeout=60)


def test_a_popups_put_through_and_a_refusal_in_words(run, tmp_path):
    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port)) as controller:
            console = await open_console(controller)
            busy = server.model.make_call("103", "104").call
            await until(lambda: lamp(console, "103") is ColleagueState.BUSY)
            server.traffic.incoming(X, "100")
            await until(lambda: own(console) is LineState.RINGING)
            key = console.own_line.view.key
            popup = controller.popups.popup(key)
            popup.findChild(QPushButton, "putThrough").click()  # the popup's Put through…
            await until(lambda: console.pending_key == key)
            await until(console.isActiveWindow, timeout=5)
            await type_text(console, "eva")                   # Eva is busy
            await press(console, Qt.Key.Key_Return)
            await until(lambda: any(t == "Put through" for t, _ in controller.messages))
            text = next(m for t, m in controller.messages if t == "Put through")
            assert text == "089 1234567 was not put through to Eva Roth (103): " \
                           "Eva Roth (103) is busy."
            assert own(console) is LineState.RINGING           # nothing happened to it
            assert console.search.text() == ""                # ready for the next name
            await type_text(console, "tom")
            await press(console, Qt.Key.Key_Return)           # still ringing: sent on
            await until(lambda: lamp(console, "102") is ColleagueState.RINGING)
            await until(lambda: (history_row(controller, key) or ("",))[0]
                        .startswith("forwarded to 102"))
            server.model.clear_call(busy)
    run(scenario(), timeout=60)


def test_f2_in_the_console_hands_the_ringing_popup_the_keyboard(run, tmp_path):
    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port)) as controller:
            console = await open_console(controller)
            server.traffic.incoming(X, "100")
            await until(lambda: own(console) is LineState.RINGING)
            popup = controller.popups.popup(console.own_line.view.key)
            await until(console.isActiveWindow, timeout=5)   # the popup did not take it
            assert QApplication.focusWidget() is console.search
            await press(console, Qt.Key.Key_F2)
            await until(popup.isActiveWindow, timeout=5)
            assert QApplication.focusWidget().objectName() == "answer"
            QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)   # Answer
            await until(lambda: own(console) is LineState.TALKING)
    run(scenario(), timeout=60)
