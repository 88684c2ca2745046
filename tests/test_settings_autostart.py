"""Start at login: the XDG autostart entry for real (in a temporary XDG_CONFIG_HOME); the
Windows Run value against a stand-in winreg and the macOS LaunchAgent in a temporary home."""

from __future__ import annotations

import plistlib
import subprocess
import sys
from contextlib import contextmanager

import pytest

from cstapopup import autostart
from cstapopup.autostart import LaunchAgent, WindowsRunKey, XdgAutostart, exec_line

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the XDG entry is this platform's mechanism on Linux")


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "autostart" / "cstapopup.desktop"


@linux_only
def test_enable_disable_on_linux(xdg):
    assert not autostart.is_enabled()
    autostart.enable(["/opt/cstapopup/bin/python", "-m", "cstapopup"])
    assert xdg.is_file()
    text = xdg.read_text(encoding="utf-8")
    assert text.startswith("[Desktop Entry]\n")
    assert "Type=Application\n" in text
    assert "Exec=/opt/cstapopup/bin/python -m cstapopup\n" in text
    assert autostart.is_enabled()
    autostart.disable()
    assert not xdg.exists()
    assert not autostart.is_enabled()
    autostart.disable()   # twice is fine


@linux_only
def test_default_command_is_this_python(xdg):
    autostart.enable()
    assert XdgAutostart().command_line() == exec_line([sys.executable, "-m", "cstapopup"])
    assert autostart.default_command() == [sys.executable, "-m", "cstapopup"]


def test_relative_xdg_config_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert XdgAutostart().path == tmp_path / ".config" / "autostart" / "cstapopup.desktop"


def test_exec_line_quotes_per_the_desktop_entry_spec():
    assert exec_line(["/usr/bin/cstapopup"]) == "/usr/bin/cstapopup"
    # Spaces: quoted. %: doubled (it starts field codes). A quote or $ inside quotes: escaped,
    # and every backslash doubled once more by the key file's string escaping.
    assert exec_line(["/home/a b/python", "--x=100%"]) == '"/home/a b/python" --x=100%%'
    assert exec_line(['say "hi" $HOME']) == '"say \\\\"hi\\\\" \\\\$HOME"'
    assert exec_line(["C:\\dir"]) == '"C:\\\\\\\\dir"'


def test_entry_switched_off_by_the_desktop_counts_as_disabled(xdg):
    entry = XdgAutostart()
    entry.enable(["cstapopup"])
    assert entry.is_enabled()
    xdg.write_text(xdg.read_text(encoding="utf-8") + "Hidden=true\n", encoding="utf-8")
    assert not entry.is_enabled()


def test_empty_command_is_refused(xdg):
    with pytest.raises(ValueError):
        XdgAutostart().enable([])
    assert not xdg.exists()


class FakeWinreg:
    """Just enough of winreg for WindowsRunKey: one hive of keys holding named values."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    KEY_READ = 1
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, tuple[object, int]]] = {}

    @contextmanager
    def CreateKeyEx(self, hive, path, reserved, access):
        yield self.keys.setdefault((hive, path), {})

    @contextmanager
    def OpenKey(self, hive, path, reserved, access):
        if (hive, path) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        yield self.keys[(hive, path)]

    def SetValueEx(self, key, name, reserved, kind, value):
        key[name] = (value, kind)

    def QueryValueEx(self, key, name):
        if name not in key:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key[name]

    def DeleteValue(self, key, name):
        if name not in key:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key[name]


def test_windows_run_value_with_a_stand_in_registry():
    reg = FakeWinreg()
    run = WindowsRunKey(reg)
    assert not run.is_enabled()
    run.disable()   # nothing there: fine
    command = [r"C:\Program Files\cstapopup\cstapopup.exe", "--minimized"]
    run.enable(command)
    values = reg.keys[("HKCU", r"Software\Microsoft\Windows\CurrentVersion\Run")]
    assert values["cstapopup"] == (subprocess.list2cmdline(command), reg.REG_SZ)
    assert values["cstapopup"][0] == '"C:\\Program Files\\cstapopup\\cstapopup.exe" --minimized'
    assert run.is_enabled()
    run.disable()
    assert not run.is_enabled()


def test_macos_launch_agent_in_a_temporary_home(tmp_path):
    agent = LaunchAgent(tmp_path)
    assert not agent.is_enabled()
    agent.enable(["/Applications/cstapopup.app/Contents/MacOS/cstapopup"])
    path = tmp_path / "Library" / "LaunchAgents" / "io.github.cstapopup.plist"
    data = plistlib.loads(path.read_bytes())
    assert data["Label"] == "io.github.cstapopup"
    assert data["ProgramArguments"] == ["/Applications/cstapopup.app/Contents/MacOS/cstapopup"]
    assert data["RunAtLoad"] is True
    assert agent.is_enabled()
    agent.disable()
    assert not path.exists() and not agent.is_enabled()


def test_platform_choice():
    assert isinstance(autostart.login_item("linux"), XdgAutostart)
    assert isinstance(autostart.login_item("freebsd14"), XdgAutostart)
    assert isinstance(autostart.login_item("darwin"), LaunchAgent)
