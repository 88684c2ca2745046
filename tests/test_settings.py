"""Settings: the declared table, validation, the TOML file (round trip, damage, permissions)
and the password store against an in-memory keyring."""

from __future__ import annotations

import logging
import os
import stat
import sys
import tomllib
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import fail, null

from cstapopup import settings as settings_module
from cstapopup.settings import (
    OPTIONS,
    SECTIONS,
    ConnectionParameters,
    GatewayParameters,
    Kind,
    PasswordStore,
    PasswordStoreError,
    Settings,
    SettingsError,
    check_url_template,
    colleague_entries,
    config_path,
    fill_url_template,
    keyring_available,
    option,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps passwords in a dict: a real backend as far as `keyring` can tell."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError
        if (service, username) not in self.passwords:
            raise PasswordDeleteError("no such password")
        del self.passwords[(service, username)]


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """A private config folder (through the environment variable, as users would set it)."""
    folder = tmp_path / "conf" / "cstapopup"
    monkeypatch.setenv("CSTAPOPUP_CONFIG_DIR", str(folder))
    return folder / "config.toml"


def configured(path: Path | None = None) -> Settings:
    s = Settings(path)
    s.update({"pbx.host": "192.0.2.1", "devices.monitor": ["100", "101"],
              "devices.own": "100"})
    return s


# --- the table -----------------------------------------------------------------------------

def test_every_default_passes_its_own_validation():
    for opt in OPTIONS:
        assert opt.validate(opt.default) == opt.default, opt.name


def test_the_table_is_complete_and_documented():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    expected = {
        "pbx.connection", "pbx.host", "pbx.port", "pbx.user", "pbx.tls", "pbx.ca_file",
        "pbx.password_storage", "gateway.broker", "gateway.user", "gateway.ca_file",
        "gateway.site",
        "devices.monitor", "devices.own", "devices.colleagues", "popup.screen", "popup.corner",
        "popup.close_after_seconds", "popup.sound", "popup.sound_file", "phonebook.files",
        "numbers.country", "numbers.area_code", "numbers.trunk_prefix",
        "numbers.internal_max_length", "crm.url_template", "history.retention_days",
        "app.language", "app.start_at_login", "app.do_not_disturb",
    }
    assert set(names) == expected
    for opt in OPTIONS:
        assert opt.page in SECTIONS
        assert opt.help.strip(), opt.name
        # Exactly one keyboard mnemonic per label.
        assert opt.label.replace("&&", "").count("&") == 1, opt.label
        if opt.kind is Kind.CHOICE:
            assert opt.default in opt.choice_values()


def test_mnemonics_are_unique_within_each_section():
    for section in SECTIONS:
        keys = [o.label[o.label.index("&") + 1].lower() for o in OPTIONS if o.section == section]
        assert len(keys) == len(set(keys)), (section, keys)


# --- defaults and validation ---------------------------------------------------------------

def test_colleagues_are_numbers_ranges_and_names():
    opt = next(o for o in OPTIONS if o.name == "devices.colleagues")
    value = opt.parse("101 Anna Berger, 102;110-112, 120 = Bob Keller,\n0105")
    assert value == ["101 Anna Berger", "102", "110-112", "120 Bob Keller", "0105"]
    assert colleague_entries(value) == [
        ("101", "Anna Berger"), ("102", None), ("110", None), ("111", None), ("112", None),
        ("120", "Bob Keller"), ("0105", None)]
    assert opt.validate([101, "102"]) == ["101", "102"]   # TOML integers, as people type
    assert colleague_entries(opt.validate(["0098-0101"]))[-1] == ("0101", None)
    for bad, why in [("101, 101", "listed twice"), ("101, 100-102", "listed twice"),
                     ("Anna", "not a device number"), ("110-105", "not a range"),
                     ("110-119 Bob", "cannot have a name"), ("100-999", "too large")]:
        with pytest.raises(SettingsError, match=why):
            opt.parse(bad)

def test_defaults_when_there_is_no_file(config):
    s, warnings = Settings.load()
    assert warnings == []
    assert s.path == config
    assert s.get("pbx.port") == 7001
    assert s.get("pbx.user") == "AMHOST"
    assert s.get("pbx.host") == ""
    assert s.get("pbx.password_storage") == "keyring"
    assert s.get("popup.corner") == "bottom-right"
    assert s.get("popup.close_after_seconds") == 8
    assert s.get("numbers.country") == "DE"
    assert s.get("numbers.trunk_prefix") == "0"
    assert s.get("numbers.internal_max_length") == 4
    assert s.get("history.retention_days") == 365
    assert s.get("devices.monitor") == []
    assert not s.is_configured
    assert not config.exists()   # loading does not write


def test_config_dir_from_the_environment_or_platformdirs(monkeypatch, tmp_path):
    monkeypatch.setenv("CSTAPOPUP_CONFIG_DIR", str(tmp_path / "x"))
    assert config_path() == tmp_path / "x" / "config.toml"
    monkeypatch.delenv("CSTAPOPUP_CONFIG_DIR")
    import platformdirs
    assert config_path() == Path(platformdirs.user_config_dir("cstapopup", appauthor=False)) \
        / "config.toml"


@pytest.mark.parametrize("name, value, words", [
    ("pbx.port", 0, "at least 1"),
    ("pbx.port", 65536, "at most 65535"),
    ("pbx.port", True, "whole number"),
    ("pbx.port", "7001", "whole number"),
    ("pbx.host", "192.0.2.1:7001", "without the port"),
    ("pbx.host", "tcp://pbx", "without http"),
    ("pbx.host", "pbx host", "no spaces"),
    ("pbx.host", "300.1.2.3", "not a valid IP"),
    ("pbx.host", "-pbx.example", "not a valid host name"),
    ("pbx.user", "", "needs a user name"),
    ("pbx.password_storage", "vault", '"keyring", "plaintext", "none"'),
    ("popup.corner", "middle", '"bottom-right"'),
    ("popup.screen", "left", '"primary", "mouse"'),
    ("popup.close_after_seconds", -1, "at least 0"),
    ("devices.monitor", ["10a"], "digits only"),
    ("devices.monitor", ["100", "100"], "listed twice"),
    ("devices.monitor", "100", "list of device numbers"),
    ("devices.own", "1 00", "digits only"),
    ("numbers.country", "Germany", "two-letter"),
    ("numbers.country", "XX", "not a country code"),
    ("numbers.area_code", "8 9", "digits only"),
    ("numbers.internal_max_length", 0, "at least 1"),
    ("history.retention_days", -5, "at least 0"),
    ("crm.url_template", "ftp://crm/{number}", "http:// or https://"),
    ("crm.url_template", "https://crm/?q={phone}", "unknown placeholder {phone}"),
    ("crm.url_template", "https://crm/?q={number", "unbalanced"),
    ("crm.url_template", "https:///x?{number}", "no host"),
    ("app.start_at_login", "yes", "true or false"),
    ("phonebook.files", ["a.csv", ""], "file name"),
])
def test_invalid_values_are_refused_with_a_clear_message(name, value, words):
    s = Settings(Path("/nonexistent/config.toml"))
    before = s.to_dict()
    with pytest.raises(SettingsError) as info:
        s.set(name, value)
    assert words in str(info.value)
    label = settings_module.option(name).plain_label
    assert str(info.value).startswith(label + ":")   # says which setting
    assert info.value.name == name
    assert s.to_dict() == before   # nothing changed


def test_values_are_normalised():
    s = Settings(Path("/nonexistent/config.toml"))
    s.update({"pbx.host": " pbx.example.com ", "devices.monitor": [100, " 101"],
              "numbers.country": "at", "popup.sound_file": " /x/ring.wav "})
    assert s.get("pbx.host") == "pbx.example.com"
    assert s.get("devices.monitor") == ["100", "101"]
    assert s.get("numbers.country") == "AT"
    assert s.get("popup.sound_file") == "/x/ring.wav"
    s.set("pbx.host", "2001:db8::1")   # an IPv6 literal has colons and is still a host
    assert s.get("pbx.host") == "2001:db8::1"


def test_rules_between_settings():
    s = Settings(Path("/nonexistent/config.toml"))
    with pytest.raises(SettingsError, match="at least one device"):
        s.set("pbx.host", "192.0.2.1")
    s.update({"pbx.host": "192.0.2.1", "devices.monitor": ["100", "101"]})
    with pytest.raises(SettingsError, match="105 is not one of the monitored devices"):
        s.set("devices.own", "105")
    s.set("devices.own", "101")
    with pytest.raises(SettingsError, match="not one of the monitored"):
        s.set("devices.monitor", ["100"])
    s.update({"devices.monitor": ["100"], "devices.own": "100"})   # together: fine
    assert s.get("devices.own") == "100"
    with pytest.raises(SettingsError, match="without the leading 0"):
        s.set("numbers.area_code", "089")
    s.set("numbers.area_code", "89")
    assert s.problems() == []


def test_get_returns_copies_and_listeners_hear_changes():
    s = Settings(Path("/nonexistent/config.toml"))
    heard: list[list[str]] = []
    s.subscribe(heard.append)
    s.set("phonebook.files", ["a.csv"])
    s.get("phonebook.files").append("b.csv")
    assert s.get("phonebook.files") == ["a.csv"]
    s.set("phonebook.files", ["a.csv"])   # no change, no call
    s.update({"popup.corner": "top-left", "popup.sound": False})
    assert heard == [["phonebook.files"], ["popup.corner"]]


def test_parse_text_input():
    opt = settings_module.option
    assert opt("pbx.port").parse(" 7002 ") == 7002
    assert opt("devices.monitor").parse("100, 101;102  103") == ["100", "101", "102", "103"]
    assert opt("pbx.tls").parse("yes") is True
    with pytest.raises(SettingsError, match="whole number"):
        opt("pbx.port").parse("70o1")


def test_crm_template_fills_url_encoded_values():
    template = "https://crm.example.com/search?q={number}&name={name}"
    check_url_template(template)
    url = fill_url_template(template, number="+49 89 1234567", name="Müller & Söhne/Büro?")
    assert url == ("https://crm.example.com/search?q=%2B49%2089%201234567"
                   "&name=M%C3%BCller%20%26%20S%C3%B6hne%2FB%C3%BCro%3F")
    assert fill_url_template(template, number="100", name=None).endswith("q=100&name=")


# --- the file ------------------------------------------------------------------------------

def test_round_trip_through_the_toml_file(config):
    s = configured()
    s.update({"pbx.port": 7002, "pbx.tls": True, "pbx.ca_file": "/etc/ssl/pbx.pem",
              "popup.corner": "top-left", "popup.close_after_seconds": 0,
              "phonebook.files": ["/srv/a.csv", "/srv/b.vcf"], "numbers.area_code": "89",
              "crm.url_template": "https://crm/?q={number}", "history.retention_days": 0,
              "app.do_not_disturb": True})
    assert s.save() == config
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# cstapopup settings")
    raw = tomllib.loads(text)
    assert raw["pbx"]["port"] == 7002 and raw["devices"]["monitor"] == ["100", "101"]
    loaded, warnings = Settings.load()
    assert warnings == []
    assert loaded.to_dict() == s.to_dict()
    assert loaded.is_configured


@posix_only
def test_file_is_0600_and_a_new_folder_0700(config):
    old_umask = os.umask(0o022)
    try:
        configured().save()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    # Saving again over the file keeps it private.
    config.chmod(0o644)
    configured().save()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_save_is_atomic(config, monkeypatch):
    s = configured()
    s.save()
    before = config.read_bytes()
    s.set("popup.corner", "top-left")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        s.save()
    monkeypatch.undo()
    assert config.read_bytes() == before   # the old file is whole
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]   # no debris


def test_bad_values_fall_back_to_defaults_with_warnings(config):
    config.parent.mkdir(parents=True)
    config.write_text(
        '[pbx]\nhost = "192.0.2.1"\nport = "seven"\n'
        '[devices]\nmonitor = [100, 101]\nown = "105"\n'
        '[popup]\ncorner = "middle"\nclose_after_seconds = 3\n'
        '[future]\nfeature = 1\n', encoding="utf-8")
    s, warnings = Settings.load()
    text = "\n".join(warnings)
    assert s.get("pbx.port") == 7001 and "pbx.port" in text and "7001" in text
    assert s.get("popup.corner") == "bottom-right" and "popup.corner" in text
    assert s.get("devices.own") == "" and "105 is not one of the monitored" in text
    assert "Unknown setting future.feature" in text
    # The good values stay.
    assert s.get("pbx.host") == "192.0.2.1"
    assert s.get("devices.monitor") == ["100", "101"]
    assert s.get("popup.close_after_seconds") == 3
    # A newer version's setting survives a save by this one.
    s.save()
    assert tomllib.loads(config.read_text(encoding="utf-8"))["future"] == {"feature": 1}


def test_corrupt_file_is_moved_aside(config):
    config.parent.mkdir(parents=True)
    config.write_text("[pbx\nhost = 192.0.2.1\n", encoding="utf-8")
    s, warnings = Settings.load()
    assert s.to_dict() == Settings(config).to_dict()   # defaults
    assert len(warnings) == 1 and "moved to config.toml.bad-" in warnings[0]
    assert not config.exists()
    aside = list(config.parent.glob("config.toml.bad-*"))
    assert len(aside) == 1
    assert aside[0].read_text(encoding="utf-8").startswith("[pbx\n")
    # A second corrupt file the same second gets its own name.
    config.write_bytes(b"\xff\xfe not utf-8")
    _s, warnings = Settings.load()
    assert "moved to" in warnings[0]
    assert len(list(config.parent.glob("config.toml.bad-*"))) == 2


def test_unreadable_file_is_moved_aside(config):
    config.mkdir(parents=True)   # a folder where the file should be: cannot be read, even by root
    s, warnings = Settings.load()
    assert s.get("pbx.port") == 7001
    assert "Could not read" in warnings[0] and "moved to" in warnings[0]
    assert not config.exists()


# --- the password --------------------------------------------------------------------------

def test_keyring_availability(memory_keyring):
    assert keyring_available()
    keyring.set_keyring(null.Keyring())
    assert not keyring_available()
    keyring.set_keyring(fail.Keyring())
    assert not keyring_available()


def test_password_in_the_keyring(config, memory_keyring, caplog):
    caplog.set_level(logging.DEBUG)
    s = configured()
    store = PasswordStore(s)
    assert store.account == "AMHOST@192.0.2.1"
    assert store.get() is None
    store.set("s3cr3t-pw")
    assert memory_keyring.passwords == {("cstapopup", "AMHOST@192.0.2.1"): "s3cr3t-pw"}
    assert store.get() == "s3cr3t-pw"
    s.save()
    assert "s3cr3t-pw" not in config.read_text(encoding="utf-8")
    assert "s3cr3t-pw" not in caplog.text
    assert "s3cr3t-pw" not in repr(s.connection_parameters(store.get()))
    assert "s3cr3t-pw" not in str(s.to_dict())
    # Another PBX, another entry.
    s.set("pbx.host", "pbx2.example")
    assert store.get() is None
    store.forget("AMHOST@192.0.2.1")
    assert memory_keyring.passwords == {}


def test_keyring_storage_without_a_keyring_refuses(config, no_keyring):
    store = PasswordStore(configured())
    assert not store.keyring_available()
    assert store.get() is None
    with pytest.raises(PasswordStoreError, match="no system keyring"):
        store.set("pw")


def test_plaintext_password_only_when_chosen(config, no_keyring, caplog):
    caplog.set_level(logging.DEBUG)
    s = configured()
    s.set("pbx.password_storage", "plaintext")
    PasswordStore(s).set("plain-pw")
    s.save()
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    assert raw["pbx"]["password_plaintext"] == "plain-pw"
    loaded, warnings = Settings.load()
    assert warnings == []
    assert PasswordStore(loaded).get() == "plain-pw"
    assert "plain-pw" not in caplog.text
    # Switching away drops it from the file.
    loaded.set("pbx.password_storage", "none")
    PasswordStore(loaded).set("plain-pw")   # "none" keeps nothing
    loaded.save()
    assert "plain-pw" not in config.read_text(encoding="utf-8")
    assert PasswordStore(loaded).get() is None


def test_a_plaintext_password_the_user_did_not_choose_is_dropped(config):
    config.parent.mkdir(parents=True)
    config.write_text('[pbx]\npassword_storage = "keyring"\npassword_plaintext = "x"\n',
                      encoding="utf-8")
    s, warnings = Settings.load()
    assert any("password_plaintext is ignored" in w for w in warnings)
    assert s.plaintext_password is None
    s.save()
    assert "password_plaintext" not in config.read_text(encoding="utf-8")


@posix_only
def test_loading_a_password_file_readable_by_others_tightens_it(config):
    config.parent.mkdir(parents=True)
    config.write_text('[pbx]\npassword_storage = "plaintext"\npassword_plaintext = "x"\n',
                      encoding="utf-8")
    config.chmod(0o644)
    s, warnings = Settings.load()
    assert s.plaintext_password == "x"
    assert any("0600" in w for w in warnings)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_connection_parameters_keep_the_password_out_of_repr():
    p = ConnectionParameters("192.0.2.1", 7001, "AMHOST", "hunter2")
    assert "hunter2" not in repr(p) and p.password == "hunter2"


def test_readme_table_lists_every_setting():
    table = settings_module.main_help_table()
    for opt in OPTIONS:
        assert f"`{opt.name}`" in table


def test_settings_module_does_not_import_qt():
    import subprocess
    code = ("import sys, cstapopup.settings, cstapopup.autostart; "
            "sys.exit(any(m.startswith('PySide6') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the way to the PBX: directly, or through the office gateway -----------------------------

def through_the_gateway(path: Path | None = None) -> Settings:
    s = Settings(path)
    s.update({"pbx.connection": "gateway", "gateway.broker": "mqtts://broker.office:8883",
              "gateway.user": "alice", "gateway.site": "office",
              "devices.monitor": ["100", "101"], "devices.own": "100"})
    return s


@pytest.mark.parametrize("url", ["mqtt://broker.office", "mqtts://broker.office:8883",
                                 "MQTTS://192.0.2.7:8884", "mqtt://[2001:db8::1]:1883", ""])
def test_broker_addresses_accepted(url):
    assert option("gateway.broker").validate(url) == url


@pytest.mark.parametrize("url, why", [
    ("broker.office", "start the address with mqtt://"),
    ("http://broker.office", "start the address with mqtt://"),
    ("tcp://broker.office:1883", "start the address with mqtt://"),
    ("mqtt://", "no host"),
    ("mqtt://broker.office:99999", "bad port"),
    ("mqtt://alice@broker.office", "user name in its own field"),
    ("mqtt://alice:pw@broker.office", "password field, not in the URL"),
    ("mqtts://broker.office/path", "no path"),
    ("mqtt://bad_host!:1883", "not a valid host name"),
])
def test_broker_addresses_refused_with_the_reason(url, why):
    with pytest.raises(SettingsError, match=why) as info:
        option("gateway.broker").validate(url)
    assert info.value.name == "gateway.broker"
    assert "--broker-password" not in str(info.value)


def test_site_and_broker_user_are_topic_levels():
    assert option("gateway.site").validate("office-1.hq") == "office-1.hq"
    for bad in ("", "a/b", "office+", "#", "x" * 65, "two words"):
        with pytest.raises(SettingsError, match="letters, digits"):
            option("gateway.site").validate(bad)
    assert option("gateway.user").validate("") == ""   # anonymous brokers exist
    with pytest.raises(SettingsError):
        option("gateway.user").validate("alice/bob")


def test_through_the_gateway_the_broker_and_devices_make_it_configured(config):
    s = Settings()
    s.update({"pbx.connection": "gateway", "devices.monitor": ["100"]})
    assert not s.is_configured          # no broker yet (a PBX host does not count)
    s.set("pbx.host", "192.0.2.1")
    assert not s.is_configured
    s.set("gateway.broker", "mqtt://broker.office")
    assert s.is_configured
    # A broker without devices is as incomplete as a PBX host without them.
    with pytest.raises(SettingsError, match="at least one device"):
        s.update({"devices.monitor": [], "devices.own": ""})
    params = through_the_gateway().link_parameters("pw")
    assert params == GatewayParameters("mqtts://broker.office:8883", "alice", "pw", "",
                                       "office")
    assert "pw" not in repr(params)
    assert isinstance(configured().link_parameters(None), ConnectionParameters)


def test_each_way_keeps_its_own_password_in_the_keyring(config, memory_keyring):
    s = through_the_gateway()
    s.set("pbx.host", "192.0.2.1")
    broker, pbx = PasswordStore(s), PasswordStore(s, kind="direct")
    assert broker.kind == "gateway"     # the way the settings choose
    assert broker.account == "alice@mqtts://broker.office:8883"
    assert pbx.account == "AMHOST@192.0.2.1"
    broker.set("broker-pw")
    pbx.set("pbx-pw")
    assert memory_keyring.passwords == {
        ("cstapopup", "alice@mqtts://broker.office:8883"): "broker-pw",
        ("cstapopup", "AMHOST@192.0.2.1"): "pbx-pw"}
    assert (broker.get(), pbx.get()) == ("broker-pw", "pbx-pw")
    s.set("pbx.connection", "direct")
    assert PasswordStore(s).get() == "pbx-pw"
    assert pbx.for_kind("gateway").get() == "broker-pw"


def test_each_way_keeps_its_own_plaintext_password(config, no_keyring):
    s = through_the_gateway()
    s.set("pbx.password_storage", "plaintext")
    PasswordStore(s).set("broker-pw")
    PasswordStore(s, kind="direct").set("pbx-pw")
    s.save()
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    assert raw["gateway"]["password_plaintext"] == "broker-pw"
    assert raw["pbx"]["password_plaintext"] == "pbx-pw"
    loaded, warnings = Settings.load()
    assert warnings == []
    assert PasswordStore(loaded).get() == "broker-pw"
    assert PasswordStore(loaded, kind="direct").get() == "pbx-pw"
    loaded.set("pbx.password_storage", "keyring")
    loaded.save()
    assert "password_plaintext" not in config.read_text(encoding="utf-8")
