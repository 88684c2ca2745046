"""The phone note end to end: the app (controller, popups, history window, console) against the
switch simulator over real TCP on 127.0.0.1, a real SQLite history, offscreen Qt; the note
dialog opened from the popup, the history window and the console and filled with the
keyboard alone; "Save and e-mail" hands the UrlOpener the mailto link; the history shows the
note.  And the dialog itself in German.  Every wait is bounded (tests/test_ui_app.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import Qt, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from cstapopup.calls.model import Call, Direction, Hop, Outcome, PhoneNote
from cstapopup.calls.notes import NoteContext, Recipient
from cstapopup.calls.views import Action, LineState, PopupState
from cstapopup.ui.controller import AppController
from cstapopup.ui.history_window import NOTE_COLUMN
from cstapopup.ui.note_dialog import NoteDialog

from . import test_ui_app as ui_app
from .test_ui_app import Recorder, app, pbx_settings, simulator, until, up

aloop = ui_app.aloop
run = ui_app.run

X = "00891234567"
COLLEAGUES = ["101 Anna Berger", "102 Tom Keller", "103 Eva Roth"]


def book(tmp_path: Path) -> Path:
    """The colleagues' addresses, as an office exports them (E-Mail column)."""
    path = tmp_path / "colleagues.csv"
    path.write_text("Name;Telefon;E-Mail\nAnna Berger;101;anna.berger@example.com\n"
                    "Tom Keller;102;tom.keller@example.com\n"
                    "Thomas Kellermann;0891234999;t.kellermann@example.org\n",
                    encoding="utf-8")
    return path


def settings(port: int, tmp_path: Path) -> dict[str, Any]:
    return pbx_settings(port, **{"devices.monitor": ["100"], "devices.colleagues": COLLEAGUES,
                                 "phonebook.files": [str(book(tmp_path))],
                                 "popup.close_after_seconds": 0})


async def book_loaded(controller: AppController) -> None:
    await until(lambda: controller.desk.recorder.phonebook.ready, timeout=10)


async def dialog_of(controller: AppController, key: str) -> NoteDialog:
    await until(lambda: key in controller.note_dialogs)
    dialog = controller.note_dialogs[key]
    await until(dialog.isActiveWindow, timeout=5)
    return dialog


async def press(widget: QWidget | None, k: Qt.Key,
              modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key where the keyboard is (the focus widget of the active window)."""
    QTest.keyClick(QApplication.focusWidget() or widget, k, modifier)


def type_text(widget: QWidget, text: str) -> None:
    """Typed key by key (QTest.keyClicks knows only ASCII: an umlaut goes with its text)."""
    for ch in text:
        if ch.isascii():
            QTest.keyClicks(widget, ch)
        else:
            QTest.sendKeyEvent(QTest.KeyAction.Click, widget, Qt.Key.Key_unknown, ch,
                               Qt.KeyboardModifier.NoModifier)


async def choose_colleague(dialog: NoteDialog, typed: str, downs: int = 1) -> None:
    """Type in the "for" field, wait for the suggestions, take one with Down and Enter."""
    assert QApplication.focusWidget() is dialog.for_edit
    QTest.keyClicks(dialog.for_edit, typed)
    popup = dialog.completer.popup()
    await until(popup.isVisible, timeout=5)
    for _ in range(downs):
        QTest.keyClick(popup, Qt.Key.Key_Down)
    QTest.keyClick(popup, Qt.Key.Key_Return)
    await until(lambda: not popup.isVisible(), timeout=5)
    # Qt's offscreen platform leaves the closed suggestion list the active window (a window
    # manager gives the dialog its activation back): as the window manager would.
    dialog.activateWindow()
    await until(dialog.isActiveWindow, timeout=5)


def history_row(controller: AppController, key: str) -> int:
    model = controller.history.model
    return next(r for r in range(model.rowCount()) if model.call_at(r).key == key)


def test_from_the_popup_keyboard_only_save_and_e_mail(run, tmp_path):
    opened: list[QUrl] = []

    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port, tmp_path),
                    url_opener=lambda url: opened.append(url) or True) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            await book_loaded(controller)
            shown = Recorder(controller.popups.shown)
            call = server.traffic.incoming(X, "100")
            (key,) = await shown.wait()
            popup = controller.popups.popup(key)
            assert not popup.view.allows(Action.NOTE)            # not while it rings
            server.model.answer(call, "100")
            await until(lambda: popup.view.state is PopupState.ANSWERED_HERE)
            assert popup.view.allows(Action.NOTE)
            note_button = popup.findChild(QWidget, "note")
            assert note_button.isVisible() and "(Alt+N)" in note_button.toolTip()
            popup.take_keyboard()                                # the console's F2
            await until(popup.isActiveWindow, timeout=5)
            QTest.keyClick(popup, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
            dialog = await dialog_of(controller, key)
            assert dialog.call_label.text() == "089 1234567"
            started = controller.desk.store.get(key).started_at.astimezone()
            assert dialog.call_detail.text() == f"{started:%Y-%m-%d %H:%M}"
            await choose_colleague(dialog, "tom")
            assert dialog.for_edit.text() == "Tom Keller (102)"
            assert dialog.mail_edit.text() == "tom.keller@example.com"   # from the phone book
            await press(dialog, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)   # &Callback
            await until(dialog.callback_box.isChecked)
            await press(dialog, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)   # &Text
            assert QApplication.focusWidget() is dialog.text_edit
            type_text(dialog.text_edit, "Angebot & Preise für Müller")
            QTest.keyClick(dialog.text_edit, Qt.Key.Key_Return)
            QTest.keyClicks(dialog.text_edit, "bitte bis 12 Uhr")
            await press(dialog, Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)  # Save and &e-mail
            await until(lambda: opened and key not in controller.note_dialogs)
            # The note is in the history, on the call, and the history window marks it.
            stored = controller.desk.store.get(key).note
            assert (stored.for_name, stored.for_number, stored.callback) == (
                "Tom Keller", "102", True)
            assert stored.text == "Angebot & Preise für Müller\nbitte bis 12 Uhr"
            assert stored.written_by == "100"
            model = controller.history.model
            await until(lambda: model.call_at(history_row(controller, key)).note is not None)
            row = history_row(controller, key)
            assert model.data(model.index(row, NOTE_COLUMN)) == "Tom Keller (102), callback"
            tooltip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
            assert "Phone note for Tom Keller (102) · callback wanted\nAngebot & Preise" \
                in tooltip
            # The later events of the call (its end) keep the note in the window and file.
            server.model.hang_up(call, "100")
            await until(lambda: not controller.desk.store.get(key).is_live)
            assert controller.desk.store.get(key).note == stored
            assert model.call_at(history_row(controller, key)).note == stored
            # The mail: the UrlOpener got the domain's link, encoded as RFC 6068 asks.
            (url,) = opened
            expected = controller.desk.note_mail_url(key, stored, "tom.keller@example.com")
            assert url.toString(QUrl.ComponentFormattingOption.FullyEncoded) == expected
            parts = urlsplit(url.toString(QUrl.ComponentFormattingOption.FullyEncoded))
            fields = parse_qs(parts.query)
            assert parts.path == "tom.keller@example.com"
            assert fields["subject"] == ["Phone note: 089 1234567 – please call back"]
            body = fields["body"][0]
            assert body.startswith("Hello Tom Keller,\r\n\r\n089 1234567 called on ")
            assert "Callback wanted: yes\r\n\r\nAngebot & Preise für Müller\r\nbitte bis 12 " \
                   "Uhr\r\n" in body
            # The search finds the note's words.
            controller.history.search.setText("Preise")
            await until(lambda: controller.history.model.rowCount() == 1
                        and controller.history.model.call_at(0).key == key)
    run(scenario(), timeout=60)


def test_from_the_history_window_ctrl_n_ctrl_enter_and_a_failed_save(run, tmp_path):
    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port, tmp_path)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            await book_loaded(controller)
            call = server.traffic.incoming(X, "100")
            await until(lambda: controller.history.model.rowCount() == 1)
            server.model.clear_call(call)
            history = controller.history
            key_ = history.model.call_at(0).key
            await until(lambda: not controller.desk.store.get(key_).is_live)
            controller.show_history()
            await until(history.isActiveWindow, timeout=5)
            history.table.setFocus()
            history.table.setCurrentIndex(history.model.index(0, 0))
            await press(history.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            dialog = await dialog_of(controller, key_)
            await choose_colleague(dialog, "kel", downs=2)   # the phone book's Kellermann
            assert dialog.for_edit.text() == "Thomas Kellermann (0891234999)"
            assert dialog.mail_edit.text() == "t.kellermann@example.org"
            await press(dialog, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
            QTest.keyClicks(dialog.text_edit, "Rechnung 4711 fehlt")
            # The history cannot be written: the dialog stays, with why, and keeps the text.
            db = controller.desk.store._db
            db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
            QTest.keyClicks(dialog.text_edit, "." * 8000)
            await press(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            await until(dialog.problem.isVisible)
            assert dialog.problem.text() == "The note was not saved: the disk is full."
            assert dialog.isVisible() and dialog.text_edit.toPlainText().startswith(
                "Rechnung 4711 fehlt")
            db.execute("PRAGMA max_page_count = 1073741823")
            for _ in range(8000):
                QTest.keyClick(dialog.text_edit, Qt.Key.Key_Backspace)
            await press(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            await until(lambda: key_ not in controller.note_dialogs, timeout=15)
            stored = controller.desk.store.get(key_).note
            assert stored.text == "Rechnung 4711 fehlt" and not stored.callback
            assert (stored.for_name, stored.for_number) == ("Thomas Kellermann", "0891234999")
            await until(lambda: history.model.call_at(0).note == stored)
            assert history.model.data(history.model.index(0, NOTE_COLUMN)) == \
                "Thomas Kellermann (0891234999)"
            # The "Notes" filter; then the note opens again as it was, and Esc leaves it.
            history.filter_group.button(len(history.FILTERS) - 1).click()
            await until(lambda: history.model.rowCount() == 1)
            history.activateWindow()   # the window manager's part when a dialog closed
            await until(history.isActiveWindow, timeout=5)
            history.table.setFocus()
            history.table.setCurrentIndex(history.model.index(0, 0))
            await press(history.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            again = await dialog_of(controller, key_)
            assert again.for_edit.text() == "Thomas Kellermann (0891234999)"
            assert again.text_edit.toPlainText() == "Rechnung 4711 fehlt"
            await press(again, Qt.Key.Key_Escape)
            await until(lambda: key_ not in controller.note_dialogs)
            assert controller.desk.store.get(key_).note == stored
    run(scenario(), timeout=90)


def test_from_the_console_the_own_phones_last_call(run, tmp_path):
    async def scenario() -> None:
        async with simulator(auto_answer_after=None, remote_answer_after=None) as server, \
                app(tmp_path, settings(server.port, tmp_path)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            controller.show_console()
            console = controller.console
            await until(console.isActiveWindow, timeout=5)
            # No call yet: said, no dialog.
            await press(console, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            await until(lambda: any(t == "Phone note" for t, _ in controller.messages))
            assert controller.note_dialogs == {}
            call = server.traffic.incoming(X, "100")
            await until(lambda: console.own_line.view.state is LineState.RINGING)
            key_ = console.own_line.view.key
            await until(console.isActiveWindow, timeout=5)
            await press(console, Qt.Key.Key_F3)
            await until(lambda: console.own_line.view.state is LineState.TALKING)
            server.model.hang_up(call, "100")
            await until(lambda: console.own_line.view.state is LineState.IDLE)
            assert "(Ctrl+N)" in console.note_button.toolTip()
            await until(console.isActiveWindow, timeout=5)
            await press(console, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            dialog = await dialog_of(controller, key_)
            # Down in the empty field offers the colleagues.
            await press(dialog, Qt.Key.Key_Down)
            popup = dialog.completer.popup()
            await until(popup.isVisible, timeout=5)
            assert [dialog.completer.model().index(r, 0).data()
                    for r in range(dialog.completer.model().rowCount())] == [
                "Anna Berger (101)", "Tom Keller (102)", "Eva Roth (103)"]
            QTest.keyClick(popup, Qt.Key.Key_Down)
            QTest.keyClick(popup, Qt.Key.Key_Down)
            QTest.keyClick(popup, Qt.Key.Key_Return)
            await until(lambda: dialog.for_edit.text() == "Tom Keller (102)")
            await press(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            await until(lambda: key_ not in controller.note_dialogs)
            stored = controller.desk.store.get(key_).note
            assert (stored.for_name, stored.text, stored.callback) == ("Tom Keller", "", False)
    run(scenario(), timeout=60)


# --- the dialog alone, in German -------------------------------------------------------------

T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def test_the_phone_note_dialog_in_german(qtbot):
    from cstapopup.calls.notes import note_mail
    from cstapopup.ui import language

    from .test_ui_german import english_in, widget_texts

    used = language.install("de")
    try:
        assert used.code == "de"
        context = NoteContext("k", "Anna Schmidt (Müller & Söhne)", "089 1234567", T0, None,
                              (Recipient("Tom Keller", "102", "tom.keller@example.com"),),
                              "Empfang (100)")
        saved: list[PhoneNote] = []
        mailed: list[tuple[PhoneNote, str]] = []
        dialog = NoteDialog(context, find=lambda text: list(context.colleagues),
                            save=lambda n: saved.append(n) or None,
                            mail=lambda n, to: mailed.append((n, to)))
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.windowTitle() == "Telefonnotiz"
        assert dialog.callback_box.text() == "&Rückruf erwünscht"
        assert dialog.save_button.text() == "Notiz &speichern"
        assert dialog.mail_button.text() == "Per &E-Mail senden"
        assert dialog.save_button.toolTip().endswith("(Strg+Enter)")
        # Every control has a name for screen readers and its own Alt key.
        for widget in (dialog.for_edit, dialog.mail_edit, dialog.callback_box,
                       dialog.text_edit, dialog.save_button, dialog.mail_button,
                       dialog.cancel_button):
            assert widget.accessibleName(), widget.objectName()
        mnemonics = [t.split("&")[1][0].lower() for t in (
            "&Für:", "E-&Mail an:", dialog.callback_box.text(), "&Text:",
            dialog.save_button.text(), dialog.mail_button.text(), dialog.cancel_button.text())]
        assert len(set(mnemonics)) == len(mnemonics)
        assert english_in(widget_texts(dialog)) == []
        dialog.for_edit.setText("Tom Keller (102)")
        dialog.for_edit.editingFinished.emit()
        dialog.callback_box.setChecked(True)
        dialog.text_edit.setPlainText("Bitte das Angebot schicken.")
        dialog.mail_button.click()
        assert mailed and mailed[0][1] == "tom.keller@example.com" and saved
        note = saved[0]
        fields = parse_qs(urlsplit(note_mail(context, note, "tom.keller@example.com")).query)
        local = T0.astimezone()
        assert fields["subject"] == [
            "Telefonnotiz: Anna Schmidt (Müller & Söhne) – bitte zurückrufen"]
        body = fields["body"][0].split("\r\n")
        assert body[:5] == [
            "Hallo Tom Keller,", "",
            (f"Anna Schmidt (Müller & Söhne) hat am {local:%d.%m.%Y} um {local:%H:%M} Uhr "
             "angerufen."),
            "Nummer: 089 1234567", "Rückruf erwünscht: ja"]
        assert body[6] == "Bitte das Angebot schicken."
        assert body[-1].startswith("Telefonnotiz von Empfang (100), ")
    finally:
        language.install("en")


def test_a_call_with_a_note_in_the_history_table(qtbot, tmp_path):
    """The marker column, its icon, the tooltip and what a screen reader hears."""
    from cstapopup.calls.store import HistoryStore
    from cstapopup.ui.history_window import HistoryWindow

    with HistoryStore(tmp_path / "h.sqlite3") as store:
        call = Call("c1", Direction.INCOMING, T0, remote_number="0891234567",
                    remote_name="Anna Schmidt", local_devices=("100",), answered_at=T0,
                    ended_at=T0 + timedelta(minutes=2), outcome=Outcome.ANSWERED,
                    answered_by="100", hops=(Hop("delivered", "100", T0),))
        store.upsert(call)
        store.upsert(call.evolve(key="c2", started_at=T0 + timedelta(minutes=5)))
        store.set_note("c1", PhoneNote(text="Wegen der Rechnung", callback=True,
                                       written_at=T0))
        window = HistoryWindow(store)
        qtbot.addWidget(window)
        model = window.model
        rows = {model.call_at(r).key: r for r in range(model.rowCount())}
        noted, plain = model.index(rows["c1"], NOTE_COLUMN), model.index(rows["c2"], NOTE_COLUMN)
        assert model.data(noted) == "callback wanted" and model.data(plain) == ""
        assert model.data(noted, Qt.ItemDataRole.DecorationRole) is not None
        assert model.data(plain, Qt.ItemDataRole.DecorationRole) is None
        assert "Phone note · callback wanted\nWegen der Rechnung" in model.data(
            noted, Qt.ItemDataRole.ToolTipRole)
        assert model.data(model.index(rows["c1"], 2), Qt.ItemDataRole.AccessibleTextRole) \
            .endswith(". Phone note · callback wanted: Wegen der Rechnung")
        # The context menu offers it, with its key.
        assert window.act_note in window.table.actions()
        assert window.act_note.shortcut().toString() == "Ctrl+N"
        window.close()
