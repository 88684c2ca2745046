"""The settings dialog: built from the declared options, inline validation, the password
(keyring, or plain text only after the user agreed), file pickers, "Test connection" and
keyboard use. Modal helpers are injected, so no real message box or file dialog opens."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import keyring
import pytest
from keyring.backends import null
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QLineEdit, QWidget

from cstapopup.settings import (
    OPTIONS,
    SECTIONS,
    ConnectionParameters,
    GatewayParameters,
    PasswordStore,
    Settings,
)
from cstapopup.ui.settings_dialog import PASSWORD_CHANGED, SettingsDialog
from tests.test_settings import MemoryKeyring


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CSTAPOPUP_CONFIG_DIR", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "config.toml"


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(previous)


class Asker:
    """Stands in for the plain-text question; records what it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.messages: list[str] = []

    def __call__(self, parent: QWidget, message: str) -> bool:
        self.messages.append(message)
        return self.answer


@pytest.fixture
def make_dialog(qtbot, config):
    errors: list[str] = []

    def make(settings: Settings | None = None, **kwargs) -> SettingsDialog:
        s = settings or Settings.load()[0]
        kwargs.setdefault("ask_plaintext", Asker(False))
        kwargs.setdefault("show_error", lambda parent, message: errors.append(message))
        d = SettingsDialog(s, PasswordStore(s), **kwargs)
        d.errors_shown = errors
        qtbot.addWidget(d)
        return d
    return make


def ok_button(d: SettingsDialog):
    return d.buttons.button(QDialogButtonBox.StandardButton.Ok)


def fill_valid(d: SettingsDialog) -> None:
    d.editors["pbx.host"].set_value("192.0.2.1")
    d.editors["devices.monitor"].set_value(["100", "101"])
    d.editors["devices.own"].set_value("101")


# --- built from the table ------------------------------------------------------------------

def test_one_tab_per_section_and_an_editor_per_option(make_dialog):
    d = make_dialog()
    assert [d.tabs.tabText(i) for i in range(d.tabs.count())] == list(SECTIONS.values())
    assert set(d.editors) == {o.name for o in OPTIONS}
    for opt in OPTIONS:
        page = d.pages[opt.page]
        help_label = page.findChild(QLabel, f"help-{opt.name}")
        assert help_label is not None and help_label.text() == opt.help_text
        label = page.findChild(QLabel, f"label-{opt.name}")
        if label is not None:   # check boxes carry their own label
            assert label.text() == opt.label
            assert label.buddy() is d.editors[opt.name].focus_widget


def test_mnemonics_do_not_clash_on_a_page(make_dialog):
    d = make_dialog()
    # What one page shows at once: the PBX page shows either way's fields.
    for connection in ("direct", "gateway"):
        d.editors["pbx.connection"].set_value(connection)
        for section, page in d.pages.items():
            texts = [w.text() for w in page.findChildren(QWidget)
                     if hasattr(w, "text") and isinstance(w.text(), str)
                     and w.isVisibleTo(page)
                     and "&" in w.text().replace("&&", "") and not isinstance(w, QLineEdit)]
            keys = [t[t.replace("&&", "  ").index("&") + 1].lower() for t in texts]
            assert len(keys) == len(set(keys)), (connection, section, texts)


def test_shows_the_current_values(make_dialog, config):
    s = Settings.load()[0]
    s.update({"pbx.host": "pbx.example", "devices.monitor": ["100", "101"],
              "devices.own": "101", "popup.corner": "top-left",
              "phonebook.files": ["/a.csv"], "pbx.port": 7005})
    d = make_dialog(s)
    assert d.editors["pbx.host"].raw_value() == "pbx.example"
    assert d.editors["pbx.port"].raw_value() == 7005
    assert d.editors["devices.monitor"].edit.text() == "100, 101"
    assert d.editors["devices.own"].raw_value() == "101"
    assert d.editors["popup.corner"].raw_value() == "top-left"
    assert d.editors["phonebook.files"].raw_value() == ["/a.csv"]
    assert d.password_edit.echoMode() == QLineEdit.EchoMode.Password
    assert d.password_edit.text() == ""   # never filled in, never echoed


# --- validation ----------------------------------------------------------------------------

def test_a_wrong_value_disables_ok_and_says_why(make_dialog):
    d = make_dialog()
    fill_valid(d)
    assert ok_button(d).isEnabled()
    d.editors["pbx.host"].set_value("192.0.2.1:7001")
    assert not ok_button(d).isEnabled()
    error = d.error_labels["pbx.host"]
    assert not error.isHidden()
    assert error.text() == "Give the host without the port; the port has its own field"
    assert not d.tabs.tabIcon(0).isNull()          # the PBX tab is marked
    assert "PBX" in d.summary.text()
    d.editors["pbx.host"].set_value("192.0.2.1")
    assert ok_button(d).isEnabled() and error.isHidden() and d.tabs.tabIcon(0).isNull()


def test_rules_between_fields_show_inline(make_dialog):
    d = make_dialog()
    d.editors["pbx.host"].set_value("192.0.2.1")
    assert "at least one device" in d.error_labels["devices.monitor"].text()
    assert not ok_button(d).isEnabled()
    d.editors["devices.monitor"].set_value(["100", "1x"])
    assert "digits only" in d.error_labels["devices.monitor"].text()
    d.editors["devices.monitor"].set_value(["100", "101"])
    assert ok_button(d).isEnabled()
    d.editors["numbers.area_code"].set_value("089")
    assert "without the leading 0" in d.error_labels["numbers.area_code"].text()
    assert not ok_button(d).isEnabled()


def test_own_device_is_chosen_from_the_monitored_ones(make_dialog):
    d = make_dialog()
    fill_valid(d)
    combo = d.editors["devices.own"].combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["", "100", "101"]
    d.editors["devices.monitor"].set_value(["100", "102"])
    # 101 is no longer monitored: still shown, with the reason, and OK is off.
    assert d.editors["devices.own"].raw_value() == "101"
    assert "101 is not one of the monitored devices" in d.error_labels["devices.own"].text()
    assert not ok_button(d).isEnabled()
    combo.setCurrentIndex(combo.findData("102"))
    assert ok_button(d).isEnabled()


def test_missing_file_is_a_note_not_an_error(make_dialog, tmp_path):
    d = make_dialog()
    fill_valid(d)
    d.editors["pbx.tls"].set_value(True)
    d.editors["pbx.ca_file"].set_value(str(tmp_path / "nope.pem"))
    assert "not there" in d.warning_labels["pbx.ca_file"].text()
    assert ok_button(d).isEnabled()


# --- OK: saving and the password -----------------------------------------------------------

def test_ok_saves_and_stores_the_password_in_the_keyring(make_dialog, memory_keyring, config,
                                                         qtbot):
    d = make_dialog()
    fill_valid(d)
    d.editors["popup.corner"].set_value("top-right")
    d.password_edit.setText("pw-in-keyring")
    with qtbot.waitSignal(d.settings_applied, timeout=1000) as blocker:
        QTest.mouseClick(ok_button(d), Qt.MouseButton.LeftButton)
    changed = blocker.args[0]
    assert {"pbx.host", "devices.monitor", "devices.own", "popup.corner",
            PASSWORD_CHANGED} <= set(changed)
    assert d.result() == d.DialogCode.Accepted
    assert memory_keyring.passwords == {("cstapopup", "AMHOST@192.0.2.1"): "pw-in-keyring"}
    text = config.read_text(encoding="utf-8")
    assert "pw-in-keyring" not in text
    assert tomllib.loads(text)["popup"]["corner"] == "top-right"


def test_no_keyring_asks_before_plain_text_and_yes_keeps_it_there(make_dialog, no_keyring,
                                                                  config):
    asker = Asker(True)
    d = make_dialog(ask_plaintext=asker)
    assert "none on this computer" in d.editors["pbx.password_storage"].combo.itemText(0)
    fill_valid(d)
    d.password_edit.setText("plain-pw")
    assert d.apply()
    assert len(asker.messages) == 1
    assert "no system keyring" in asker.messages[0] and "plain text" in asker.messages[0]
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    assert raw["pbx"]["password_storage"] == "plaintext"
    assert raw["pbx"]["password_plaintext"] == "plain-pw"


def test_no_keyring_and_no_means_not_stored(make_dialog, no_keyring, config):
    asker = Asker(False)
    d = make_dialog(ask_plaintext=asker)
    fill_valid(d)
    d.password_edit.setText("secret-pw")
    assert d.apply()
    assert len(asker.messages) == 1
    text = config.read_text(encoding="utf-8")
    assert "secret-pw" not in text
    assert tomllib.loads(text)["pbx"]["password_storage"] == "none"
    assert d.password_entered == "secret-pw"   # for this session only
    assert d.editors["pbx.password_storage"].raw_value() == "none"


def test_choosing_plain_text_is_confirmed_and_no_keeps_the_dialog_open(make_dialog,
                                                                       memory_keyring, config):
    asker = Asker(False)
    d = make_dialog(ask_plaintext=asker)
    fill_valid(d)
    d.editors["pbx.password_storage"].set_value("plaintext")
    d.password_edit.setText("pw")
    assert not d.apply()
    assert len(asker.messages) == 1
    assert not config.exists()   # nothing saved
    asker.answer = True
    assert d.apply()
    assert tomllib.loads(config.read_text(encoding="utf-8"))["pbx"]["password_plaintext"] == "pw"


def test_moving_the_password_out_of_the_keyring(make_dialog, memory_keyring, config):
    s = Settings.load()[0]
    s.update({"pbx.host": "192.0.2.1", "devices.monitor": ["100"]})
    PasswordStore(s).set("kept")
    d = make_dialog(s, ask_plaintext=Asker(True))
    assert d.password_edit.placeholderText().startswith("stored")
    d.editors["pbx.password_storage"].set_value("plaintext")
    assert d.apply()   # no new password typed: the stored one moves
    assert memory_keyring.passwords == {}
    assert PasswordStore(s).get() == "kept"
    # A new host: the password follows to the new keyring entry.
    d2 = make_dialog(s)
    d2.editors["pbx.password_storage"].set_value("keyring")
    d2.editors["pbx.host"].set_value("pbx2.example")
    assert d2.apply()
    assert memory_keyring.passwords == {("cstapopup", "AMHOST@pbx2.example"): "kept"}
    assert "kept" not in config.read_text(encoding="utf-8")


def test_keyring_failure_leaves_the_settings_as_they_were(make_dialog, memory_keyring, config):
    from keyring.errors import KeyringError

    def refuse(service, username, password):
        raise KeyringError("locked")

    memory_keyring.set_password = refuse
    s = Settings.load()[0]
    d = make_dialog(s)
    fill_valid(d)
    d.password_edit.setText("pw")
    assert not d.apply()
    assert "not stored" in d.errors_shown[-1] and "locked" in d.errors_shown[-1]
    assert s.get("pbx.host") == ""     # rolled back
    assert not config.exists()


def test_cancel_changes_nothing(make_dialog, config):
    s = Settings.load()[0]
    d = make_dialog(s)
    fill_valid(d)
    d.reject()
    assert s.get("pbx.host") == "" and not config.exists()


# --- pickers and "Test connection" ---------------------------------------------------------

def test_file_pickers(make_dialog, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    books = [str(tmp_path / "a.csv"), str(tmp_path / "b.vcf")]
    asked: list[tuple[str, str]] = []
    d = make_dialog(
        choose_file=lambda parent, caption, folder, filt: asked.append((caption, filt)) or str(ca),
        choose_files=lambda parent, caption, folder, filt: books)
    d.editors["pbx.tls"].set_value(True)
    QTest.mouseClick(d.editors["pbx.ca_file"].browse, Qt.MouseButton.LeftButton)
    assert d.editors["pbx.ca_file"].raw_value() == str(ca)
    assert asked == [("CA certificate", "Certificates (*.pem *.crt *.cer);;All files (*)")]
    paths = d.editors["phonebook.files"]
    QTest.mouseClick(paths.add, Qt.MouseButton.LeftButton)
    QTest.mouseClick(paths.add, Qt.MouseButton.LeftButton)   # the same files again: no doubles
    assert paths.raw_value() == books
    assert not paths.remove.isEnabled()
    paths.list.setCurrentRow(0)
    QTest.mouseClick(paths.remove, Qt.MouseButton.LeftButton)
    assert paths.raw_value() == books[1:]
    paths.list.setCurrentRow(0)
    QTest.keyClick(paths.list, Qt.Key.Key_Delete)
    assert paths.raw_value() == []


def test_test_connection_gets_the_entered_values(make_dialog, memory_keyring):
    seen: list[ConnectionParameters] = []

    def test(params: ConnectionParameters) -> str:
        seen.append(params)
        return f"Connected to {params.host}:{params.port}"

    d = make_dialog(test_connection=test)
    d.editors["pbx.host"].set_value("192.0.2.7")
    d.editors["pbx.port"].set_value(7002)
    d.password_edit.setText("typed-pw")
    QTest.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    assert seen == [ConnectionParameters("192.0.2.7", 7002, "AMHOST", "typed-pw")]
    assert d.test_result.text() == "Connected to 192.0.2.7:7002"

    d.editors["pbx.host"].set_value("bad host")
    QTest.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    assert len(seen) == 1 and "valid host" in d.test_result.text()


def test_test_connection_errors_are_shown(make_dialog):
    def broken(params):
        raise ConnectionRefusedError("refused")

    d = make_dialog(test_connection=broken)
    d.editors["pbx.host"].set_value("192.0.2.7")
    d.run_connection_test()
    assert d.test_result.text() == "Test failed: refused"


def test_without_a_test_function_the_button_is_off(make_dialog):
    assert not make_dialog().test_button.isEnabled()


async def test_test_connection_may_be_a_coroutine(make_dialog):
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_test(params):
        started.set()
        await release.wait()
        return "OK after a while"

    d = make_dialog(test_connection=slow_test)
    d.editors["pbx.host"].set_value("192.0.2.7")
    d.run_connection_test()
    await asyncio.wait_for(started.wait(), timeout=5)
    assert d.test_result.text() == "Testing…" and not d.test_button.isEnabled()
    future = d._test_future
    release.set()
    await asyncio.wait_for(future, timeout=5)
    await asyncio.sleep(0)   # let the done-callback run
    assert d.test_result.text() == "OK after a while" and d.test_button.isEnabled()


# --- keyboard ------------------------------------------------------------------------------

def test_tab_order_and_mnemonics(make_dialog, qtbot):
    d = make_dialog(test_connection=lambda p: "ok")
    d.show()
    qtbot.waitExposed(d)
    d.activateWindow()
    host = d.editors["pbx.host"].edit
    host.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is host, timeout=2000)

    def tab_to(expected: QWidget) -> None:
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        w = QApplication.focusWidget()
        assert w is expected or expected.isAncestorOf(w), (w, expected)

    tab_to(d.editors["pbx.port"].spin)
    tab_to(d.editors["pbx.user"].edit)
    tab_to(d.password_edit)
    tab_to(d.editors["pbx.tls"].check)
    # The CA file is off without TLS, the broker's fields are hidden.
    tab_to(d.editors["pbx.password_storage"].combo)
    # Alt+letter jumps to the field whose label carries the mnemonic.
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    w = QApplication.focusWidget()
    assert w is d.editors["pbx.port"].spin or d.editors["pbx.port"].spin.isAncestorOf(w)
    QTest.keyClick(w, Qt.Key.Key_W, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is d.password_edit


def test_without_a_stored_password_the_dialog_says_the_factory_one_is_used(
        make_dialog, memory_keyring):
    d = make_dialog()
    d.show()
    note = d.findChild(QLabel, "help-password")
    assert d.password_edit.placeholderText() == "not stored"
    assert note.isVisible() and "HiPath factory password 77777" in note.text()
    d.editors["pbx.password_storage"].set_value("none")
    assert note.text() == "None is stored: cstapopup asks for it at each start."
    d.editors["pbx.password_storage"].set_value("keyring")
    d.password_edit.setText("secret")                      # typed: nothing to explain
    assert not note.isVisible()


def test_with_a_stored_password_nothing_is_said_about_the_factory_one(make_dialog,
                                                                       memory_keyring):
    s = Settings.load()[0]
    s.update({"pbx.host": "192.0.2.1", "devices.monitor": ["100"]})
    PasswordStore(s).set("kept")
    d = make_dialog(s)
    d.show()
    assert not d.findChild(QLabel, "help-password").isVisible()
    assert d.windowTitle() == "Settings"       # Qt adds "— cstapopup"


def test_one_value_needing_attention_is_said_in_the_singular(make_dialog):
    d = make_dialog()
    d.editors["pbx.host"].set_value("192.0.2.1")
    d.editors["devices.monitor"].set_value(["100"])
    d.editors["pbx.port"].set_value(7001)
    d.editors["devices.own"].set_value("")
    d.editors["pbx.host"].set_value("not a host!")
    d.validate()
    assert d.summary.text().startswith("One value needs attention (")


# --- the way to the PBX: directly, or through the office gateway -----------------------------

def choose_gateway(d: SettingsDialog) -> None:
    d.editors["pbx.connection"].set_value("gateway")
    d.editors["gateway.broker"].set_value("mqtts://broker.office:8883")
    d.editors["gateway.user"].set_value("alice")
    d.editors["gateway.site"].set_value("office")
    d.editors["devices.monitor"].set_value(["100", "101"])


def shown(d: SettingsDialog, name: str) -> bool:
    return d.editors[name].focus_widget.isVisibleTo(d.pages["pbx"])


def test_the_connection_choice_shows_only_its_fields(make_dialog):
    d = make_dialog()
    direct = ["pbx.host", "pbx.port", "pbx.user", "pbx.tls", "pbx.ca_file"]
    gateway = ["gateway.broker", "gateway.user", "gateway.ca_file", "gateway.site"]
    assert d.editors["pbx.connection"].raw_value() == "direct"
    assert all(shown(d, n) for n in direct) and not any(shown(d, n) for n in gateway)
    assert d.password_edit.isVisibleTo(d.pages["pbx"])
    assert not d.broker_password_edit.isVisibleTo(d.pages["pbx"])
    d.editors["pbx.connection"].set_value("gateway")
    assert all(shown(d, n) for n in gateway) and not any(shown(d, n) for n in direct)
    assert d.broker_password_edit.isVisibleTo(d.pages["pbx"])
    assert not d.password_edit.isVisibleTo(d.pages["pbx"])
    assert shown(d, "pbx.password_storage") and shown(d, "pbx.connection")   # both ways
    note = d.findChild(QLabel, "help-brokerPassword")
    assert note.text() == "None is stored: cstapopup logs in to the broker without a password."


def test_a_bad_value_of_the_way_not_chosen_neither_blocks_nor_is_saved(make_dialog, config,
                                                                      memory_keyring):
    d = make_dialog()
    choose_gateway(d)
    d.editors["gateway.broker"].set_value("http://broker.office")
    assert not ok_button(d).isEnabled()
    assert "mqtt://" in d.error_labels["gateway.broker"].text()
    d.editors["gateway.broker"].set_value("mqtts://broker.office:8883")
    d.editors["pbx.connection"].set_value("direct")
    d.editors["pbx.host"].set_value("bad host")    # typed, then the gateway chosen after all
    assert not ok_button(d).isEnabled()
    d.editors["pbx.connection"].set_value("gateway")
    assert ok_button(d).isEnabled()
    assert d.apply()
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    assert raw["pbx"]["connection"] == "gateway" and raw["pbx"]["host"] == ""
    assert raw["gateway"] == {"broker": "mqtts://broker.office:8883", "user": "alice",
                              "ca_file": "", "site": "office"}


def test_the_broker_password_goes_to_the_keyring_under_its_own_account(make_dialog, config,
                                                                      memory_keyring, qtbot):
    s = Settings.load()[0]
    s.update({"pbx.host": "192.0.2.1", "devices.monitor": ["100"]})
    PasswordStore(s).set("pbx-pw")
    d = make_dialog(s)
    choose_gateway(d)
    d.broker_password_edit.setText("broker-pw")
    with qtbot.waitSignal(d.settings_applied, timeout=1000) as blocker:
        assert d.apply()
    assert "gateway.password" in blocker.args[0] and "pbx.password" not in blocker.args[0]
    assert d.password_entered == "broker-pw"
    assert memory_keyring.passwords == {
        ("cstapopup", "AMHOST@192.0.2.1"): "pbx-pw",
        ("cstapopup", "alice@mqtts://broker.office:8883"): "broker-pw"}
    assert "broker-pw" not in config.read_text(encoding="utf-8")
    # Later: both passwords leave the keyring together when the place changes.
    d2 = make_dialog(s, ask_plaintext=Asker(True))
    assert d2.broker_password_edit.placeholderText().startswith("stored")
    d2.editors["pbx.password_storage"].set_value("plaintext")
    assert d2.apply()
    assert memory_keyring.passwords == {}
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    assert raw["pbx"]["password_plaintext"] == "pbx-pw"
    assert raw["gateway"]["password_plaintext"] == "broker-pw"


def test_test_connection_through_the_gateway_gets_its_parameters(make_dialog, memory_keyring):
    seen: list = []
    d = make_dialog(test_connection=lambda params: seen.append(params) or "fine")
    choose_gateway(d)
    d.broker_password_edit.setText("typed")
    QTest.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    assert seen == [GatewayParameters("mqtts://broker.office:8883", "alice", "typed", "",
                                      "office")]
    d.editors["gateway.broker"].set_value("")
    QTest.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    assert len(seen) == 1
    assert d.test_result.text() == "Enter a valid broker address, user and site first."
