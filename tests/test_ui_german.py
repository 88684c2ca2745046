"""The German user interface (offscreen Qt, pytest-qt): the popup, the history window, the
console, the settings dialog and the tray menu in German, dates and numbers in the German
form; and the whole app (against its own simulated PBX) with `app.language = "de"` scanned
for any English left: every text, tooltip, accessible name, menu entry, table cell and
notification is searched for the English wording of any text the German file translates."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QLabel,
    QLineEdit,
    QMenu,
    QSpinBox,
    QTabWidget,
    QWidget,
)

from cstapopup.calls.colleagues import ColleagueState, ColleagueStatus
from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.numbers import NumberingPlan, lookup_keys
from cstapopup.calls.session import AppOptions
from cstapopup.calls.store import HistoryStore
from cstapopup.calls.views import (
    CallAction,
    Caller,
    LineState,
    OwnLineView,
    colleague_view,
    popup_view,
)
from cstapopup.settings import OPTIONS, SECTIONS, PasswordStore, Settings

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def _tool():
    spec = importlib.util.spec_from_file_location("translations_tool_ui",
                                                  ROOT / "scripts" / "translations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _tool()


@pytest.fixture
def german(qapp):
    from cstapopup.ui import language

    used = language.install("de")
    assert used.code == "de", used.describe()
    yield used
    language.install("en")


# --- finding English ---------------------------------------------------------------------------

def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _english_pieces() -> tuple[set[str], set[str]]:
    """(whole English texts, English phrases of two words or more) of every message whose
    German differs: none of them may show in the German UI."""
    whole, phrases = set(), set()
    for m in tool.messages(tool.ts_file("de")):
        german = " ".join(m.forms)
        if all(_plain(f) == _plain(m.source) for f in m.forms):
            continue   # the same in both ("CRM", "&Port", "{label}: {reason}")
        whole.add(_plain(m.source))
        for piece in re.split(r"\{[^}]*\}|%L?n", m.source):
            piece = _plain(piece).strip(" .,:;()–—“”\"'·+…")
            if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2 and piece not in german:
                phrases.add(piece)
    return whole, phrases


ENGLISH_TEXTS, ENGLISH_PHRASES = _english_pieces()


def english_in(texts: list[str]) -> list[str]:
    """The texts that are (or hold) English the German file translates."""
    found = []
    for text in texts:
        plain = _plain(text)
        if plain in ENGLISH_TEXTS:
            found.append(text)
            continue
        hit = next((p for p in ENGLISH_PHRASES if re.search(
            rf"(?<![A-Za-z]){re.escape(p)}(?![A-Za-z])", plain)), None)
        if hit is not None:
            found.append(f"{text!r} (holds {hit!r})")
    return found


def _model_texts(view: QAbstractItemView) -> list[str]:
    model = view.model()
    if model is None:
        return []
    out = []
    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
             Qt.ItemDataRole.AccessibleTextRole)
    try:
        columns = model.columnCount(QModelIndex())
    except TypeError:   # a QListWidget's own model keeps it private: one column
        columns = 1
    for column in range(columns):
        for orientation in (Qt.Orientation.Horizontal,):
            header = model.headerData(column, orientation, Qt.ItemDataRole.DisplayRole)
            if isinstance(header, str):
                out.append(header)
        for row in range(min(model.rowCount(QModelIndex()), 50)):
            index = model.index(row, column, QModelIndex())
            out += [v for r in roles if isinstance(v := index.data(r), str)]
    return out


def _action_texts(actions: list[QAction]) -> list[str]:
    out = []
    for action in actions:
        out += [action.text(), action.toolTip(), action.statusTip()]
        menu = action.menu()
        if isinstance(menu, QMenu):
            out += [menu.title(), *_action_texts(menu.actions())]
    return out


def widget_texts(root: QObject) -> list[str]:
    """Every text `root` and its children show or tell (screen readers included)."""
    out: list[str] = []
    objects = [root, *root.findChildren(QObject)]
    for obj in objects:
        if isinstance(obj, QWidget):
            out += [obj.windowTitle(), obj.toolTip(), obj.accessibleName(),
                    obj.accessibleDescription(), *_action_texts(obj.actions())]
        if isinstance(obj, QLabel):
            out.append(obj.full_text() if hasattr(obj, "full_text") else obj.text())
        if isinstance(obj, QAbstractButton):
            out.append(obj.text())
        if isinstance(obj, QLineEdit):
            out += [obj.placeholderText(), obj.text()]
        if isinstance(obj, QComboBox):
            out += [obj.itemText(i) for i in range(obj.count())]
        if isinstance(obj, QSpinBox):
            out += [obj.suffix(), obj.specialValueText()]
        if isinstance(obj, QTabWidget):
            out += [obj.tabText(i) for i in range(obj.count())]
        if isinstance(obj, QAbstractItemView):
            out += _model_texts(obj)
        if isinstance(obj, QMenu):
            out += [obj.title(), *_action_texts(obj.actions())]
    return [t for t in out if t and t.strip()]


def test_the_scan_finds_english(german):
    """The scan itself: it flags English wording, whole or inside a longer text."""
    assert english_in(["Ringing at 100"]) == ["'Ringing at 100' (holds 'Ringing at')"]
    assert english_in(["&Answer"]) == ["&Answer"]
    assert english_in(["Put the call through to a colleague: the console opens"])
    assert english_in(["Klingelt bei 100", "&Annehmen", "CRM", "Anna Schmidt", "089 1234567",
                       "Details: –"]) == []


# --- the parts, one by one ---------------------------------------------------------------------

def _call(key: str = "c1", **changes: Any) -> Call:
    call = Call(key, Direction.INCOMING, T0, remote_number="00891234567", local_devices=("100",),
                called_number="0891234567", hops=(Hop("delivered", "100", T0),))
    return call.evolve(**changes) if changes else call


def test_the_popup_in_german(german, qtbot):
    from cstapopup.ui.popup import CallPopup

    view = popup_view(_call(), caller=Caller("Anna Schmidt", "Schmidt & Partner", "089 1234567"),
                      ringing_device="100", own_device="100", forwarded_from="101",
                      crm_template="https://crm.example.com/?q={number}")
    popup = CallPopup(view)
    qtbot.addWidget(popup)
    announced = []
    popup.announced.connect(announced.append)
    popup.show()
    qtbot.waitExposed(popup)
    labels = {n: popup.findChild(QWidget, n).full_text() for n in ("where", "redirect", "state")}
    assert labels == {"where": "Klingelt bei 100 · Leitung 0891234567",
                      "redirect": "Umgeleitet von 101", "state": "Klingelt"}
    buttons = {b.objectName(): b.text() for b in popup.findChildren(QAbstractButton)
               if not b.isHidden()}
    assert buttons == {"answer": "&Annehmen", "putThrough": "&Vermitteln…",
                       "copy": "Nummer &kopieren", "crm": "C&RM öffnen", "dismiss": "×"}
    assert popup.findChild(QWidget, "dismiss").accessibleName() == "Schließen"
    # Screen readers hear who calls, in German.
    popup.show_view(popup_view(_call(answered_at=T0, answered_by="100",
                                     outcome=Outcome.ANSWERED),
                               caller=Caller("Anna Schmidt", None, "089 1234567"),
                               ringing_device="100", own_device="100"))
    assert popup.announcement == "Anruf von Anna Schmidt: Angenommen an 100."
    assert english_in(widget_texts(popup)) == []


def test_the_history_window_in_german(german, qtbot, tmp_path):
    from cstapopup.ui.history_window import HistoryWindow

    plan = NumberingPlan()
    now = datetime.now(UTC).replace(microsecond=0)
    old = datetime(2024, 11, 5, 14, 7, tzinfo=UTC)
    with HistoryStore(tmp_path / "h.sqlite3",
                      normalise=lambda raw: lookup_keys(raw, plan, from_pbx=True)) as store:
        store.upsert_many([
            _call("a", started_at=old, remote_name="Anna Schmidt", answered_by="100",
                  answered_at=old + timedelta(seconds=4), ended_at=old + timedelta(seconds=95),
                  outcome=Outcome.ANSWERED),
            _call("b", started_at=now - timedelta(minutes=5), remote_number="00301234567",
                  ended_at=now, outcome=Outcome.MISSED),
            _call("c", started_at=now - timedelta(minutes=3), direction=Direction.OUTGOING,
                  remote_kind="restricted", remote_number=None, ended_at=now,
                  outcome=Outcome.TRANSFERRED, transferred_to="102"),
        ])
        window = HistoryWindow(store)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        model = window.model
        assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(8)] == [
            "Zeit", "Richtung", "Name", "Nummer", "Nebenstelle", "Dauer", "Ergebnis", "Notiz"]
        rows = {model.call_at(r).key: [model.cell_text(model.call_at(r), c) for c in range(7)]
                for r in range(model.rowCount())}
        local_old = old.astimezone()
        assert rows["a"][0] == local_old.strftime("%d.%m.%y %H:%M")    # the German short form
        assert rows["a"][1] == "eingehend" and rows["a"][5] == "1:31"
        assert rows["a"][6] == "angenommen an 100"
        assert rows["b"][6] == "verpasst"
        assert rows["c"][1] == "ausgehend" and rows["c"][3] == "unterdrückt"
        assert rows["c"][6] == "vermittelt an 102"
        tooltip = model.tooltip(model.call_at(2), 0)
        assert tooltip.startswith(f"{local_old:%A}".replace("Tuesday", "Dienstag")
                                  + f", {local_old.day}. November 2024, {local_old:%H:%M:%S}")
        assert "klingelte 0:04, Gespräch 1:31" in tooltip
        assert window.summary.text() == "3 Anrufe · 1 verpasst, nicht erledigt"
        assert [b.text() for b in window.filter_group.buttons()] == [
            "Alle", "Verpasst", "Eingehend", "Ausgehend", "Intern", "Notizen"]
        window.search.setText("niemand")
        qtbot.waitUntil(lambda: model.rowCount() == 0, timeout=3000)
        assert window.empty_text() == "Keine Anrufe passen zu „niemand“."
        assert english_in(widget_texts(window)) == []


def test_the_console_in_german(german, qtbot):
    from cstapopup.ui.console import ConsoleWindow

    now = T0
    views = [colleague_view(ColleagueStatus("101", ColleagueState.BUSY, since=now), name="Anna",
                            party="089 1234567", own_device="100"),
             colleague_view(ColleagueStatus("102", ColleagueState.NOT_MONITORED,
                                            why="die Telefonanlage kennt diese Nebenstelle nicht"),
                            name=None, party="", own_device="100")]
    console = ConsoleWindow(now=lambda: now)
    qtbot.addWidget(console)
    console.show_colleagues(views)
    console.show_own_line(OwnLineView("100", LineState.IDLE, "Kein Anruf an Ihrem Telefon (100)",
                                      "", None, None, frozenset({CallAction.PICK_UP})))
    console.show()
    qtbot.waitExposed(console)
    assert console.windowTitle() == "Vermittlungsplatz"
    assert [b.text() for b in (console.put_through_button, console.consult_button,
                               console.pick_up_button)] == ["Vermitteln", "Mit Rückfrage",
                                                            "Heranholen"]
    assert views[0].state_text == "Im Gespräch"
    assert views[0].detail == "Anna telefoniert mit 089 1234567."
    assert views[1].detail == "Nicht überwacht: die Telefonanlage kennt diese Nebenstelle nicht."
    assert console.put_through_button.toolTip().endswith("(Enter)")
    assert console.consult_button.toolTip().endswith("(Strg+Enter)")
    console.help.toggle()
    assert english_in(widget_texts(console)) == []


def test_the_settings_dialog_in_german(german, qtbot, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox

    from cstapopup.ui.settings_dialog import SettingsDialog

    settings = Settings(tmp_path / "config.toml")
    dialog = SettingsDialog(settings, PasswordStore(settings))
    qtbot.addWidget(dialog)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "Telefonanlage", "Nebenstellen", "Anruffenster", "Telefonbuch", "Rufnummern", "CRM",
        "Anrufliste", "Programm"]
    port = next(o for o in OPTIONS if o.name == "pbx.port")
    assert dialog.findChild(QLabel, "help-pbx.port").text() == \
        "TCP-Port der CSTA-Schnittstelle (HiPath: 7001)."
    dialog.editors["pbx.host"].set_value("http://192.0.2.1")
    assert dialog.error_labels["pbx.host"].text() == \
        "Nur Hostname oder IP-Adresse angeben, ohne http:// oder tcp://"
    assert dialog.summary.text() == "Ein Wert muss korrigiert werden (Telefonanlage)."
    # The language: a change waits for the next start, and the dialog says so.
    dialog.editors["app.language"].set_value("en")
    assert dialog.warning_labels["app.language"].text() == \
        "Die Sprache wechselt beim nächsten Start von cstapopup"
    assert port.plain_label == "Port"
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).text() == "Abbrechen"
    assert english_in(widget_texts(dialog)) == []


def test_german_mnemonics_are_unique_on_each_tab(german, qtbot, tmp_path):
    """Alt+letter must lead to one field per tab (with the dialog's own buttons), among what
    the tab shows at once: the PBX tab shows the fields of one way to the PBX at a time."""
    from PySide6.QtWidgets import QDialogButtonBox

    from cstapopup.ui.settings_dialog import SettingsDialog

    settings = Settings(tmp_path / "config.toml")
    dialog = SettingsDialog(settings, PasswordStore(settings))
    qtbot.addWidget(dialog)
    own = [dialog.buttons.button(b).text() for b in (QDialogButtonBox.StandardButton.Ok,
                                                     QDialogButtonBox.StandardButton.Cancel)]
    for connection in ("direct", "gateway"):
        dialog.editors["pbx.connection"].set_value(connection)
        for section in SECTIONS:
            page = dialog.pages[section]
            texts = own + [w.text() for w in page.findChildren(QLabel)
                           if w.buddy() is not None and w.isVisibleTo(page)]
            texts += [b.text() for b in page.findChildren(QAbstractButton) if b.isVisibleTo(page)]
            keys = [m.group(1).lower() for t in texts
                    if (m := re.search(r"&([^&\s])", t.replace("&&", "")))]
            assert len(keys) == len(set(keys)), (connection, section, texts)


def test_the_tray_menu_in_german(german, qtbot):
    from cstapopup.ui.tray import TrayIcon

    tray = TrayIcon()
    tray.set_missed_count(2)
    tray.set_do_not_disturb(True)
    tray.set_link_state("down")
    # (the link state's line first; the lines of details and of the history's health are
    # empty while there is nothing to say)
    menu = [a.text() for a in tray.menu.actions() if not a.isSeparator() and a.text()]
    assert menu[1:] == ["&Anrufliste (2 verpasst)", "&Vermittlungsplatz (Kollegen, vermitteln)",
                        "&Kollegen", "&Einstellungen…", "&Nicht stören", "&Beenden"]
    assert tray.tooltip().splitlines() == ["cstapopup — nicht verbunden", "2 verpasste Anrufe",
                                           "Nicht stören: keine Anruffenster"]
    assert english_in(widget_texts(tray.menu) + [tray.tooltip()]) == []


# --- the whole app ---------------------------------------------------------------------------

@pytest.fixture
def run(qapp):
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)

    def run(coro, timeout: float = 60.0):
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))

    yield run
    with contextlib.suppress(Exception):
        loop.close()
    asyncio.set_event_loop(None)
    qapp.setQuitOnLastWindowClosed(quit_on_close)


async def _until(predicate, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError
        await asyncio.sleep(0.02)


def test_the_german_app_shows_no_english(run, tmp_path):
    """The app with `app.language = "de"` in its settings, against the self-test's simulated
    PBX: a call rings (popup), is answered and put through; then every window is opened and
    scanned, the notifications included."""
    from cstapopup.ui.controller import AppController

    settings = Settings(tmp_path / "config.toml")
    settings.update({"app.language": "de"})
    settings.save()
    options = AppOptions(self_test=True, speed=20.0, settings_path=settings.path,
                         data_dir=tmp_path, show_window=False)
    controller = AppController(options, tray_available=False, url_opener=lambda url: True,
                               first_run_prompt=lambda c: None,
                               password_prompt=lambda c, done: done(None))

    async def scenario() -> list[str]:
        await controller.start()
        try:
            assert controller.language.code == "de"
            await _until(lambda: controller.link_state[0] == "up")
            desk = controller.desk
            await _until(lambda: any(v.device == "101" and v.state is ColleagueState.FREE
                                     for v in desk.colleague_views()))
            assert controller.session.demo_pbx.ring("00891234567", "100")
            await _until(lambda: controller.popups.popups())
            popup = controller.popups.popups()[0]
            seen = widget_texts(popup)
            popup.findChild(QWidget, "answer").click()
            await _until(lambda: desk.own_line().state is LineState.TALKING)
            controller.console.select("101")
            controller.console.request(CallAction.PICK_UP)   # nothing rings there: a notice
            await _until(lambda: controller.messages)
            controller.console.request(CallAction.PUT_THROUGH)
            await _until(lambda: desk.own_line().state is LineState.IDLE)
            await _until(lambda: controller.history.model.rowCount() > 0)
            # A phone note about the call: its dialog, and the history with a note in it.
            key = controller.history.model.call_at(0).key
            note = controller.open_note(key)
            note.for_edit.setText("Anna")
            note.suggest(show=True)
            note.text_edit.setPlainText("Bitte zurückrufen")
            seen += widget_texts(note) + widget_texts(note.completer.popup())
            note.save(mail=True)
            await _until(lambda: controller.history.model.call_at(0).note is not None)
            controller.show_console()
            controller.show_history()
            dialog = controller.open_settings()
            await asyncio.sleep(0.2)
            for part in (controller.console, controller.history, dialog, controller.tray.menu):
                seen += widget_texts(part)
            seen += [text for message in controller.messages for text in message]
            seen += [controller.link_state[1]]
            assert any("Heranholen" in title for title, _text in controller.messages)
            return seen
        finally:
            await controller.shutdown()

    seen = run(scenario())
    assert "Vermittlungsplatz (Demo)" not in seen   # the self-test is not the demo
    assert {"Anrufliste", "Vermittlungsplatz", "Einstellungen"} <= set(seen)
    assert any(t.startswith("Verbunden mit") or t.startswith("verbunden mit") for t in seen)
    assert english_in(seen) == []


def test_every_settings_tab_title_shows_whole(german, qtbot, tmp_path):
    from cstapopup.ui.settings_dialog import SettingsDialog

    settings = Settings(tmp_path / "config.toml")
    dialog = SettingsDialog(settings, PasswordStore(settings))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    bar = dialog.tabs.tabBar()
    assert bar.tabRect(bar.count() - 1).right() <= bar.width()   # no scroll arrows needed


def test_the_way_through_the_office_gateway_in_german(german, qtbot, tmp_path):
    """The office gateway's settings, its faults, its refusals and its link in German."""
    from cstapopup.calls import texts
    from cstapopup.calls.gateway_link import GatewayLink
    from cstapopup.calls.refusals import refusal_text
    from cstapopup.gateway.client import GatewayPbxDownError, GatewayRefusedError, NoGatewayError
    from cstapopup.settings import GatewayParameters
    from cstapopup.ui.settings_dialog import SettingsDialog

    settings = Settings(tmp_path / "config.toml")
    settings.update({"pbx.connection": "gateway"})
    dialog = SettingsDialog(settings, PasswordStore(settings))
    qtbot.addWidget(dialog)
    assert dialog.editors["pbx.connection"].widget.currentText() == "Über das Büro-Gateway"
    assert dialog.findChild(QLabel, "label-gateway.broker").text() == "Broker-&Adresse"
    dialog.editors["gateway.broker"].set_value("mqtt://alice:pw@broker.office")
    assert dialog.error_labels["gateway.broker"].text() == \
        "Geben Sie das Passwort im Passwortfeld ein, nicht in der URL"
    assert dialog.summary.text() == "Ein Wert muss korrigiert werden (Telefonanlage)."
    assert dialog.password_note() == \
        "Keines gespeichert: cstapopup meldet sich ohne Passwort beim Broker an."
    assert english_in(widget_texts(dialog)) == []

    where = {"broker": "mqtts://broker.office:8883", "user": "alice", "site": "office"}
    assert texts.gateway_problem(NoGatewayError("x"), **where).words == (
        "kein Büro-Gateway antwortet für den Standort „office“ am Broker – prüfen Sie, ob es "
        "läuft und ob der Standort in den Einstellungen der des Gateways ist")
    down = GatewayPbxDownError("x", state="down", reason="connection refused")
    assert texts.gateway_problem(down, **where).words.startswith(
        "Telefonanlage hinter dem Büro-Gateway nicht erreichbar: Das Gateway läuft")
    assert texts.link_notice_title("broker_unreachable", lost=True) == \
        "Verbindung zum Broker unterbrochen"
    assert refusal_text(GatewayRefusedError("x", user="alice", device="101")) == (
        "Das Büro-Gateway erlaubt Ihrem Broker-Benutzer alice nicht, 101 zu steuern (seine "
        "Rechtedatei legt fest, welche Telefone jeder Benutzer steuern darf)")
    link = GatewayLink(GatewayParameters("mqtts://broker.office:8883", "alice", site="office"),
                       ["100"], on_state=lambda change: None, on_event=lambda d, e: None)
    assert link.label == "das Büro-Gateway (Standort office) am Broker mqtts://broker.office:8883"
    assert link.reason == "nicht gestartet"
