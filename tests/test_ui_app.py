"""The desktop app end to end: the controller with its tray, popups and history window against
the switch simulator over real TCP on 127.0.0.1, a real SQLite history, offscreen Qt.

How these tests run the loop: each test gets a qasync.QEventLoop on pytest-qt's QApplication
(`aloop`) and runs one coroutine in it with a bound (`run`).  Inside it nothing blocks: a
test waits by awaiting a future that a Qt signal resolves (`until`, `next_signal`), never with
qtbot.wait* and never with a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QVBoxLayout, QWidget

from cstapopup import resources
from cstapopup.calls.demo import DEMO_HISTORY_FILE
from cstapopup.calls.desk import Desk
from cstapopup.calls.model import Direction, Outcome
from cstapopup.csta.switch.demo import load_phonebook
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import Settings
from cstapopup.ui.controller import AppController, AppOptions

from .client_helpers import fast_options

ROOT = Path(__file__).resolve().parent.parent


# --- running the loop ----------------------------------------------------------------------

@pytest.fixture
def aloop(qapp):
    # As in the app: closing the last window (a popup) must not end the Qt loop.
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    with contextlib.suppress(Exception):
        loop.close()
    asyncio.set_event_loop(None)
    qapp.setQuitOnLastWindowClosed(quit_on_close)


@pytest.fixture
def run(aloop):
    """run(coroutine, timeout): runs it in the qasync loop, failing after `timeout` s."""
    def run(coro, timeout: float = 30.0):
        return aloop.run_until_complete(asyncio.wait_for(coro, timeout))
    return run


async def until(predicate, *signals, timeout: float = 10.0) -> None:
    """Wait until predicate() is true, re-checking whenever one of the Qt signals fires
    (without signals: every 20 ms, as qtbot.waitUntil does)."""
    if predicate():
        return
    future = asyncio.get_running_loop().create_future()

    def check(*_args: Any) -> None:
        if not future.done() and predicate():
            future.set_result(None)

    connections = [s.connect(check) for s in signals]
    timer = None
    if not signals:
        timer = QTimer()
        timer.timeout.connect(check)
        timer.start(20)
    try:
        await asyncio.wait_for(future, timeout)
    finally:
        for c in connections:
            QObject.disconnect(c)
        if timer is not None:
            timer.stop()


class Recorder:
    """Collects a Qt signal's emissions; `wait(predicate)` awaits one that matches."""

    def __init__(self, signal) -> None:
        self.args: list[tuple] = []
        self._futures: list[tuple[Any, asyncio.Future]] = []
        self._connection = signal.connect(self._on)

    def _on(self, *args: Any) -> None:
        self.args.append(args)
        for predicate, future in list(self._futures):
            if not future.done() and predicate(*args):
                future.set_result(args)

    async def wait(self, predicate=lambda *a: True, timeout: float = 10.0) -> tuple:
        for args in self.args:
            if predicate(*args):
                return args
        future = asyncio.get_running_loop().create_future()
        self._futures.append((predicate, future))
        return await asyncio.wait_for(future, timeout)

    def close(self) -> None:
        QObject.disconnect(self._connection)


# --- the app under test --------------------------------------------------------------------

class FakeAutostart:
    def __init__(self) -> None:
        self.enabled: bool | None = None

    def enable(self, command=None) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False


def write_settings(folder: Path, values: dict[str, Any]) -> Path:
    path = folder / "config.toml"
    settings = Settings(path)
    settings.update(values)
    settings.save()
    return path


def pbx_settings(port: int, **more: Any) -> dict[str, Any]:
    values = {"pbx.host": "127.0.0.1", "pbx.port": port, "devices.monitor": ["100", "101"],
              "devices.own": "100", "popup.close_after_seconds": 1}
    values.update(more)
    return values


@contextlib.asynccontextmanager
async def simulator(**kwargs: Any):
    kwargs.setdefault("devices", "100-120")
    kwargs.setdefault("speed", 10.0)
    server = SwitchServer(port=0, **kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def app(tmp_path: Path, settings: dict[str, Any] | None = None, **kwargs: Any):
    folder = tmp_path / "app"
    folder.mkdir(exist_ok=True)
    settings_path = write_settings(folder, settings) if settings is not None \
        else folder / "config.toml"
    prompts: list[AppController] = []
    kwargs.setdefault("show_window", False)   # the window would take the focus at start
    options = AppOptions(settings_path=settings_path, data_dir=folder, client_options=fast_options(),
                         **{k: v for k, v in kwargs.items() if k in AppOptions.__dataclass_fields__})
    controller = AppController(
        options, first_run_prompt=kwargs.get("first_run_prompt", prompts.append),
        password_prompt=kwargs.get("password_prompt", lambda c, done: done(None)),
        autostart=kwargs.get("autostart", FakeAutostart()),
        url_opener=kwargs.get("url_opener", lambda url: True), tray_available=False)
    controller.test_prompts = prompts
    await controller.start()
    try:
        yield controller
    finally:
        await controller.shutdown()


def up(controller: AppController) -> bool:
    link = controller.desk.link
    return link is not None and link.state == "up"


def popup_text(popup, name: str) -> str:
    return popup.findChild(QWidget, name).full_text()


# --- popups --------------------------------------------------------------------------------

def test_popup_follows_a_delivered_call_to_its_end_and_closes_by_itself(run, tmp_path, qapp):
    # The user is typing somewhere: the popup must not take the keyboard from them.
    window = QWidget()
    edit = QLineEdit(window)
    QVBoxLayout(window).addWidget(edit)
    window.show()
    window.activateWindow()
    edit.setFocus()

    async def scenario() -> None:
        await until(lambda: QApplication.focusWidget() is edit, qapp.focusChanged, timeout=5)
        async with simulator(speed=4.0) as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            assert controller.link_state[0] == "up"
            assert "monitoring 100, 101" in controller.link_state[1]
            shown = Recorder(controller.popups.shown)
            closed = Recorder(controller.popups.closed)
            states: list[str] = []

            def follow(call) -> None:
                popup = controller.popups.popup(call.key)
                if popup is not None:
                    states.append(popup_text(popup, "state"))

            controller.call_updated.connect(follow)
            server.start_scenario("incoming-answered", "100")
            (key,) = await shown.wait()
            popup = controller.popups.popup(key)
            assert popup_text(popup, "title") == "089 1234567"
            assert popup_text(popup, "where") == "Ringing at 100"
            assert popup_text(popup, "state") == "Ringing"
            assert popup.findChild(QPushButton, "answer").isVisibleTo(popup)  # own device
            # Shown without taking the focus.
            assert popup.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
            assert popup.windowFlags() & Qt.WindowType.WindowDoesNotAcceptFocus
            await until(lambda: QApplication.focusWidget() is edit, qapp.focusChanged, timeout=5)
            assert not popup.focus_allowed

            # The history window has it live.
            model = controller.history.model
            assert model.call_at(0) is not None and model.call_at(0).key == key

            await closed.wait(lambda k: k == key, timeout=20)   # closes by itself
            assert "Ringing" in states and "Answered at 100" in states
            assert any(s.startswith("Answered at 100 · ended") for s in states)
            call = controller.desk.store.get(key)
            assert call.outcome is Outcome.ANSWERED and call.ended_at is not None
            assert model.call_at(0).outcome is Outcome.ANSWERED
            assert QApplication.focusWidget() is edit

    try:
        run(scenario(), 60)
    finally:
        window.close()


def test_answer_button_answers_the_call_at_the_own_phone(run, tmp_path):
    async def scenario() -> None:
        async with simulator(speed=1.0) as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            shown = Recorder(controller.popups.shown)
            server.start_scenario("incoming-missed", "100")   # nobody would answer it
            (key,) = await shown.wait()
            popup = controller.popups.popup(key)
            popup.findChild(QPushButton, "answer").click()

            def answered() -> bool:
                call = controller.desk.store.get(key)
                return call is not None and call.answered_by == "100"

            await until(answered, controller.call_updated)
            assert popup_text(popup, "state") == "Answered at 100"

    run(scenario())


def test_a_deflected_call_moves_its_popup_to_the_new_phone(run, tmp_path):
    async def scenario() -> None:
        settings = pbx_settings(0, **{"devices.monitor": ["100", "101", "102"]})
        async with simulator(speed=4.0) as server:
            settings["pbx.port"] = server.port
            async with app(tmp_path, settings) as controller:
                await until(lambda: up(controller), controller.link_state_changed)
                shown = Recorder(controller.popups.shown)
                server.start_scenario("deflect", "100")      # X calls 100, sent on to 102
                (key,) = await shown.wait()
                popup = controller.popups.popup(key)
                assert popup_text(popup, "where") == "Ringing at 100"
                await until(lambda: popup.ringing_device == "102", controller.call_updated)
                assert popup_text(popup, "where") == "Ringing at 102 · line 100"
                assert popup_text(popup, "redirect") == "Forwarded from 100"
                assert not popup.findChild(QPushButton, "answer").isVisibleTo(popup)  # not ours
                assert controller.popups.call_keys() == [key]   # one call, one popup
                await until(lambda: popup_text(popup, "state") == "Answered at 102",
                            controller.call_updated)

    run(scenario())


def test_copy_and_crm_buttons(run, tmp_path):
    opened: list[str] = []

    async def scenario() -> None:
        async with simulator(speed=1.0) as server, \
                app(tmp_path, pbx_settings(
                    server.port, **{"crm.url_template": "https://crm.example.com/?q={number}"}),
                    url_opener=lambda url: opened.append(url.toString()) or True) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            shown = Recorder(controller.popups.shown)
            server.start_scenario("incoming-missed", "100")
            (key,) = await shown.wait()
            popup = controller.popups.popup(key)
            popup.findChild(QPushButton, "copy").click()
            assert QGuiApplication.clipboard().text() == "030901820"
            popup.findChild(QPushButton, "crm").click()

    run(scenario())
    assert opened == ["https://crm.example.com/?q=030901820"]


def test_do_not_disturb_suppresses_popups_but_calls_are_recorded(run, tmp_path):
    async def scenario() -> None:
        async with simulator(speed=10.0) as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            shown = Recorder(controller.popups.shown)
            controller.tray.dnd_action.trigger()        # the user's click in the tray menu
            assert controller.do_not_disturb and controller.tray.do_not_disturb
            records = await server.run_scenario("incoming-answered", "100", timeout=20)
            assert [r.outcome for r in records] == ["answered"]

            def recorded() -> bool:
                calls = controller.desk.store.query()
                return len(calls) == 1 and calls[0].ended_at is not None

            await until(recorded, controller.call_updated)
            assert controller.desk.store.query()[0].outcome is Outcome.ANSWERED
            assert shown.args == [] and controller.popups.call_keys() == []
            # Persisted for the next start.
            settings, _ = Settings.load(controller.settings.path)
            assert settings.get("app.do_not_disturb") is True

    run(scenario())


def test_missed_calls_make_the_badge_and_marking_done_clears_it(run, tmp_path):
    async def scenario() -> None:
        async with simulator(speed=20.0) as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            await server.run_scenario("incoming-missed", "100", timeout=20)
            await until(lambda: controller.tray.missed_count == 1, controller.call_updated)
            assert "1 missed call" in controller.tray.tooltip()
            history = controller.history
            await until(lambda: history.model.loaded == 1, controller.call_updated)
            history.table.selectRow(0)
            history.mark_done()
            assert controller.tray.missed_count == 0

    run(scenario())


# --- link states and errors ----------------------------------------------------------------

def test_wrong_password_stops_retrying_and_says_so(run, tmp_path):
    async def scenario() -> None:
        async with simulator(password="secret") as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            messages = Recorder(controller.message_posted)
            await until(lambda: controller.desk.link is not None
                        and controller.desk.link.state == "rejected",
                        controller.link_state_changed)
            state, reason = controller.link_state
            assert state == "down"
            assert "refused the login" in reason and "password" in reason
            assert controller.tray.state == "down" and "refused the login" in controller.tray.tooltip()
            _title, text = await messages.wait(lambda t, _: t == "Login refused")
            assert "settings" in text.lower()
            # No more attempts: the link's task has ended.
            assert controller.desk.link._task.done()
            assert server.associated_links == []

    run(scenario())


FACTORY_NOTE = "using the HiPath factory password 77777 because none is stored"
SAID = "Using the HiPath factory password 77777 because none is stored"


def test_without_a_stored_password_the_factory_one_is_used_and_said(run, tmp_path):
    async def scenario() -> None:
        async with simulator() as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            assert controller.desk.link.params.password == "77777"
            assert controller.desk.link_status.note == FACTORY_NOTE
            assert SAID in controller.tray.tooltip().splitlines()
        # The PBX has another password: the refusal says which one was tried.
        async with simulator(password="secret") as server, \
                app(tmp_path / "other", pbx_settings(server.port)) as controller:
            messages = Recorder(controller.message_posted)
            _title, text = await messages.wait(lambda t, _: t == "Login refused")
            assert text.endswith(f" {SAID}.")

    (tmp_path / "other").mkdir()
    run(scenario())


def test_windows_leave_the_app_name_to_qt(run, tmp_path):
    """Qt appends the application's display name to window titles where the desktop shows
    titles ("Call history — cstapopup"); a title with the name in it had it twice."""
    from PySide6.QtWidgets import QMessageBox

    from cstapopup.ui.prompts import first_run_message_box

    async def scenario() -> None:
        async with app(tmp_path, None) as controller:
            assert controller.history.windowTitle() == "Call history"
            assert controller.console.windowTitle() == "Console"
            first_run_message_box(controller)
            boxes = [w for w in QApplication.topLevelWidgets()
                     if isinstance(w, QMessageBox) and w.objectName() == "firstRun"]
            assert [b.windowTitle() for b in boxes] == ["Welcome"]
            for box in boxes:
                box.close()
            dialog = controller.open_settings()
            titles = [controller.history.windowTitle(), dialog.windowTitle()]
            dialog.reject()
            controller.start_demo()
            await until(lambda: controller.mode == "demo"
                        and controller.history.windowTitle() == "Call history (demo)",
                        controller.link_state_changed)
            assert controller.console.windowTitle() == "Console (demo)"
            dialog = controller.open_settings()
            titles.append(dialog.windowTitle())
            dialog.reject()
        assert titles[:2] == ["Call history", "Settings"]
        assert all("cstapopup" not in t for t in titles), titles

    run(scenario(), 30)


def test_unreachable_pbx_is_shown_and_retried_until_it_is_there(run, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]   # free now, nobody listens on it

    async def scenario() -> None:
        async with app(tmp_path, pbx_settings(port)) as controller:
            messages = Recorder(controller.message_posted)
            await until(lambda: controller.link_state[0] == "down", controller.link_state_changed)
            # In words for the receptionist; the system's own words in the details.
            assert f"does not accept connections on port {port}" in controller.link_state[1]
            assert re.search(r"retrying in [0-9.]+\u00a0s$", controller.link_state[1])
            assert controller.desk.link_status.detail == "Connection refused"
            assert controller.tray.state == "down"
            assert "Details: Connection refused" in controller.tray.tooltip()
            await messages.wait(lambda t, _: t == "Cannot connect to the PBX")
            # The PBX comes up: the app connects by itself.
            server = SwitchServer(port=port, devices="100-120")
            await server.start()
            try:
                await until(lambda: up(controller), controller.link_state_changed, timeout=15)
                assert controller.tray.state == "up"
                await server.wait_for(lambda: server.monitors_of("101") == 1, 5)
            finally:
                await server.stop()
            # ... and it notices when it goes away again.
            await until(lambda: controller.link_state[0] in ("down", "connecting"),
                        controller.link_state_changed)
            await messages.wait(lambda t, _: t == "PBX link lost")

    run(scenario())


def test_unknown_device_is_reported_and_the_others_are_monitored(run, tmp_path):
    async def scenario() -> None:
        async with simulator() as server, \
                app(tmp_path, pbx_settings(server.port, **{"devices.monitor": ["100", "999"]})
                    ) as controller:
            messages = Recorder(controller.message_posted)
            await until(lambda: up(controller), controller.link_state_changed)
            _title, text = await messages.wait(lambda t, _: t == "Device not monitored")
            assert "999" in text and "invalid_monitor_object" in text
            assert "cannot monitor 999" in controller.link_state[1]
            assert server.monitors_of("100") == 1

    run(scenario())


def test_first_start_without_a_pbx_offers_the_demo(run, tmp_path):
    async def scenario() -> None:
        async with app(tmp_path, None, rate=600.0, speed=5.0) as controller:
            assert controller.test_prompts == [controller]
            assert controller.desk.link is None and controller.tray.state == "down"
            assert "no PBX set up" in controller.tray.tooltip()
            controller.start_demo()                    # the user chose "Try the demo"
            await until(lambda: controller.link_state[0] == "demo",
                        controller.link_state_changed, timeout=15)
            assert controller.session.demo_pbx is not None and controller.session.monitored == [
                "100", "101", "102", "103", "104", "105"]
            assert controller.desk.store.path.name == DEMO_HISTORY_FILE
            await until(lambda: controller.history.model.loaded > 0, controller.call_updated,
                        timeout=20)
        # The user's settings file was never written.
        assert not (tmp_path / "app" / "config.toml").exists()

    run(scenario(), 60)


def test_demo_mode_leaves_the_users_settings_and_history_alone(run, tmp_path):
    user_settings = pbx_settings(7001, **{"devices.monitor": ["200"], "devices.own": "200"})

    async def scenario() -> None:
        async with app(tmp_path, user_settings, demo=True, rate=300.0, speed=5.0, seed=3) as c:
            before = c.settings.path.read_bytes()
            await until(lambda: c.link_state[0] == "demo", c.link_state_changed, timeout=15)
            assert "demo mode" in c.tray.tooltip()
            assert c.desk.link.params.port == c.session.demo_pbx.port
            assert c.session.monitored[0] == "100"
            assert c.session.demo_pbx.server.demo.numbers.phonebook == load_phonebook(
                resources.demo_phonebooks()) != []
            shown = Recorder(c.popups.shown)
            await shown.wait(timeout=30)
            assert c.desk.store.path == tmp_path / "app" / DEMO_HISTORY_FILE
            c.tray.dnd_action.trigger()
            assert c.settings.path.read_bytes() == before
        assert not (tmp_path / "app" / "history.sqlite3").exists()

    run(scenario(), 60)


def test_tls_link_from_the_settings(run, tmp_path):
    from cstapopup.csta.tlsconfig import server_context
    from tests.test_tls import make_pki

    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")

    async def scenario() -> None:
        async with simulator(ssl=server_context(*pki.good)) as good, \
                simulator(ssl=server_context(*pki.untrusted)) as untrusted:
            settings = pbx_settings(good.port, **{"pbx.tls": True, "pbx.ca_file": str(pki.ca)})
            async with app(tmp_path, settings) as controller:
                await until(lambda: up(controller), controller.link_state_changed)
                await good.wait_for(lambda: good.monitors_of("101") == 1, 5)
            settings["pbx.port"] = untrusted.port
            async with app(tmp_path, settings) as controller:
                messages = Recorder(controller.message_posted)
                _title, text = await messages.wait(lambda t, _: t == "Cannot connect to the PBX")
                assert controller.tray.state == "down" and "certificate" in text.lower()

    run(scenario())


def test_tls_with_an_unreadable_ca_file_is_a_message_not_a_crash(run, tmp_path):
    settings = pbx_settings(7001, **{"pbx.tls": True,
                                     "pbx.ca_file": str(tmp_path / "missing-ca.pem")})

    async def scenario() -> None:
        async with app(tmp_path, settings) as controller:
            assert controller.desk.link is None
            assert controller.tray.state == "down"
            assert "cannot set up the link" in controller.link_state[1]
            assert any(title == "PBX link" and "missing-ca.pem" in text
                       for title, text in controller.messages)

    run(scenario())


def test_old_calls_are_deleted_at_start_as_the_retention_setting_says(run, tmp_path):
    from datetime import UTC, datetime, timedelta

    from cstapopup.calls.model import Call
    from cstapopup.calls.store import HistoryStore

    folder = tmp_path / "app"
    folder.mkdir()
    now = datetime.now(UTC)
    with HistoryStore(folder / "history.sqlite3") as store:
        store.upsert(Call("old", Direction.INCOMING, now - timedelta(days=40),
                          remote_number="00891234567", ended_at=now - timedelta(days=40),
                          outcome=Outcome.MISSED))
        store.upsert(Call("new", Direction.INCOMING, now - timedelta(days=2),
                          remote_number="00891234567", ended_at=now - timedelta(days=2),
                          outcome=Outcome.MISSED))

    async def scenario() -> None:
        async with app(tmp_path, {"history.retention_days": 30}) as controller:
            keys = [c.key for c in controller.desk.store.query()]
            assert keys == ["new"]
            assert controller.history.model.loaded == 1
            assert controller.tray.missed_count == 1

    run(scenario())


# --- settings ------------------------------------------------------------------------------

def test_test_connection_and_applied_settings(run, tmp_path):
    fake = FakeAutostart()

    async def scenario() -> None:
        async with simulator() as first, simulator(password="other") as second:
            # The password is kept nowhere: asked at start (the prompt answers "77777"), and
            # typed into the dialog later.
            settings = pbx_settings(first.port, **{"pbx.password_storage": "none"})
            async with app(tmp_path, settings, autostart=fake,
                           password_prompt=lambda c, done: done("77777")) as controller:
                await until(lambda: up(controller), controller.link_state_changed)
                dialog = controller.open_settings()
                result = dialog.findChild(QWidget, "testResult")
                dialog.test_button.click()
                await until(lambda: result.text().startswith("Connected"), timeout=10)
                dialog.editors["pbx.port"].set_value(second.port)
                dialog.test_button.click()
                await until(lambda: "refused the login" in result.text(), timeout=10)
                dialog.password_edit.setText("other")
                dialog.test_button.click()
                await until(lambda: result.text().startswith("Connected"), timeout=10)
                dialog.editors["app.start_at_login"].set_value(True)
                dialog.editors["popup.corner"].set_value("top-left")
                dialog.accept()                          # OK: saved, applied
                assert fake.enabled is True
                assert controller.popups.corner == "top-left"
                # The link moved to the other PBX, with the password typed in the dialog.
                await until(lambda: up(controller) and controller.desk.link.params.port == second.port,
                            controller.link_state_changed, timeout=15)
                await second.wait_for(lambda: second.monitors_of("100") == 1, 5)
                assert first.associated_links == []

    run(scenario(), 60)


# --- history -------------------------------------------------------------------------------

def test_history_updates_live_and_calls_back_from_the_own_phone(run, tmp_path):
    async def scenario() -> None:
        async with simulator(speed=20.0) as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            history = controller.history
            await server.run_scenario("incoming-missed", "100", timeout=20)
            await until(lambda: history.model.loaded == 1 and
                        history.model.call_at(0).ended_at is not None, controller.call_updated)
            assert history.model.call_at(0).outcome is Outcome.MISSED
            assert history.model.data(history.model.index(0, 6)) == "missed"
            # Call back: a MakeCall from 100 to the caller's number.
            outgoing = Recorder(controller.call_updated)
            history.call_back(0)
            await outgoing.wait(lambda call: call.direction is Direction.OUTGOING
                                and call.remote_number == "0030901820")
            await until(lambda: history.model.loaded == 2, controller.call_updated)

    run(scenario())


def test_call_back_without_a_link_is_a_message_not_a_crash(run, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        async with app(tmp_path, pbx_settings(port)) as controller:
            messages = Recorder(controller.message_posted)
            controller.history.call_back_requested.emit("00891234567")
            _title, text = await messages.wait(lambda t, _: t == "Call back")
            assert "Not connected" in text and "089 1234567" in text

    run(scenario())


# --- the command line ----------------------------------------------------------------------

def _env(config_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"QT_QPA_PLATFORM": "offscreen", "CSTAPOPUP_CONFIG_DIR": config_dir,
                "PYTHONPATH": str(ROOT)})
    return env


def test_self_test_passes(tmp_path):
    code = "from cstapopup.cli import main; raise SystemExit(main(['--self-test']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env=_env(str(tmp_path)), timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # Each step printed, in order.
    steps = ["self-test: link: connected to ", "self-test: colleague Anna Berger (101) is free",
             "self-test: popup for 089 1234567 ringing at 100 after ",
             "self-test: answered at 100: On a call with 089 1234567",
             "self-test: put through to Anna Berger (101)",
             ("self-test: history: transferred to 101 (delivered 100 → answered 100 → "
              "transferred 100 to 101)"),
             "self-test: ok: popup, answer, transfer and history"]
    where = [out.find(step) for step in steps]
    assert -1 not in where and where == sorted(where), out
    assert not (tmp_path / "config.toml").exists()   # nothing of the user's touched


def test_self_test_says_what_failed(run, monkeypatch):
    from cstapopup.ui.app import _self_test

    # A broken app: it records calls but never shows a popup.
    monkeypatch.setattr(Desk, "_ringing", lambda self, event, changes: None)
    controller = AppController(AppOptions(self_test=True, speed=20.0), tray_available=False)
    ok, lines = run(_self_test(controller, timeout=2.0))
    assert ok is False
    assert lines[-1].startswith("self-test: FAILED: timed out (2 s) while waiting for the popup")


def test_the_self_test_fails_when_the_transfer_does_not_happen(run, monkeypatch):
    from cstapopup.calls.link import PbxLink
    from cstapopup.csta.client import CstaServiceError
    from cstapopup.csta.codec import UniversalFailure
    from cstapopup.ui.app import _self_test

    async def refused(self, connection, to):
        raise CstaServiceError("singleStepTransfer", UniversalFailure("operation", 14))

    monkeypatch.setattr(PbxLink, "single_step_transfer", refused)
    controller = AppController(AppOptions(self_test=True, speed=20.0), tray_available=False)
    ok, lines = run(_self_test(controller, timeout=5.0))
    assert ok is False
    assert lines[-1].startswith("self-test: FAILED: timed out (5 s) while putting the call "
                                "through to 101")
    refusal = ("089 1234567 was not put through to Anna Berger (101): "
               "Anna Berger (101) does not exist.")
    assert ("Put through", refusal) in controller.messages


def test_second_start_brings_the_first_forward_and_sigterm_ends_it(tmp_path):
    env = _env(str(tmp_path))
    first = subprocess.Popen([sys.executable, "-m", "cstapopup", "--demo", "--debug"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             cwd=tmp_path)
    try:
        # Ready when it logs the simulated PBX's link coming up (bounded by the timeout).
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = first.stderr.readline()
            if not line:
                break
            seen.append(line)
            if "link up" in line:
                break
        assert any("link up" in s for s in seen), "".join(seen)
        second = subprocess.run([sys.executable, "-m", "cstapopup", "--demo"],
                                capture_output=True, text=True, env=env, timeout=30, cwd=tmp_path,
                                check=False)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        first.send_signal(signal.SIGTERM)
        _out, err = first.communicate(timeout=20)
        assert "cstapopup was started again: showing the history window" in err
        assert first.returncode == 0, err[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()


def test_a_stale_instance_socket_is_removed(qapp):
    from PySide6.QtCore import QDir

    from cstapopup.ui.app import make_single_instance

    name = f"cstapopup-test-{os.getpid()}-{time.monotonic_ns()}"
    path = os.path.join(QDir.tempPath(), name)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)          # left behind, as by a crashed instance: nobody listens
    stale.close()
    assert os.path.exists(path)
    instance = make_single_instance(name)
    try:
        assert instance.signal_running(200) is False
        assert instance.listen() is True
        assert instance.server.fullServerName() == path
    finally:
        instance.close()
    assert not os.path.exists(path)


def test_app_options_are_parsed():
    from cstapopup.ui.app import build_parser

    args = build_parser().parse_args(["--demo", "--seed", "7", "--rate", "12", "--debug"])
    assert (args.demo, args.seed, args.rate, args.debug) == (True, 7, 12.0, True)
    assert build_parser().parse_args([]).rate == 4.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--rate", "0"])


