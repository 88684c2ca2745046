"""Start cstapopup at login: an XDG autostart entry (Linux/BSD), a Run value (Windows),
a LaunchAgent (macOS).

`enable(command)`, `disable()` and `is_enabled()` act on the running platform. Only the XDG
entry is tested on a real system here; the Windows and macOS code follows the platforms'
documentation and is exercised in the tests against a stand-in registry and a temporary home
folder only: it has not been run on Windows or macOS.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Protocol

from cstapopup import APP_NAME
from cstapopup.csta.fileio import write_atomically

DESKTOP_FILE_NAME = f"{APP_NAME}.desktop"
#: The Run value's name under HKCU\Software\Microsoft\Windows\CurrentVersion\Run.
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
WINDOWS_VALUE_NAME = APP_NAME
#: launchd label; also the plist's file name.
LAUNCH_AGENT_LABEL = "io.github.cstapopup"


class AutostartError(OSError):
    """The login item could not be written or removed (the message says where)."""


class LoginItem(Protocol):
    def enable(self, command: list[str]) -> None: ...
    def disable(self) -> None: ...
    def is_enabled(self) -> bool: ...


def default_command() -> list[str]:
    """How to start this installation: the frozen executable, or this Python with -m."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    exe = Path(sys.executable)
    if sys.platform == "win32" and exe.name.lower() == "python.exe":
        # pythonw has no console window, which would otherwise open at every login.
        windowless = exe.with_name("pythonw.exe")
        if windowless.exists():
            exe = windowless
    return [str(exe), "-m", APP_NAME]


# --- Linux and other XDG desktops ----------------------------------------------------------

# Characters that make the Desktop Entry spec require an argument to be quoted.
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _exec_argument(arg: str) -> str:
    """One argument for an Exec= line (Desktop Entry spec, "The Exec key")."""
    arg = arg.replace("%", "%%")  # % starts a field code such as %f
    if arg and not (set(arg) & _EXEC_RESERVED):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def exec_line(command: list[str]) -> str:
    """The Exec= value for `command`, with the key file's own escaping applied on top."""
    quoted = " ".join(_exec_argument(a) for a in command)
    # The string-value escapes come after the quoting rules (spec: a literal backslash in a
    # quoted argument is written as four).
    return (
        quoted.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


class _FileLoginItem:
    """A login item that is one file at `path`: written whole (world-readable, as the login
    manager reads it), removed to disable."""

    path: Path

    def _write(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, data, mode=0o644)
        except OSError as exc:
            raise AutostartError(f"could not write {self.path}: {exc.strerror or exc}") from exc

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"could not remove {self.path}: {exc.strerror or exc}") from exc


class XdgAutostart(_FileLoginItem):
    """$XDG_CONFIG_HOME/autostart/cstapopup.desktop (freedesktop Desktop Application Autostart)."""

    def __init__(self, config_home: Path | None = None) -> None:
        if config_home is None:
            env = os.environ.get("XDG_CONFIG_HOME", "")
            # The spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
            config_home = Path(env) if env and os.path.isabs(env) else Path.home() / ".config"
        self.path = config_home / "autostart" / DESKTOP_FILE_NAME

    def enable(self, command: list[str]) -> None:
        if not command:
            raise ValueError("the autostart command is empty")
        text = (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=cstapopup\n"
            "Comment=Call popup and call history for HiPath / OpenScape PBXs\n"
            f"Exec={exec_line(command)}\n"
            "Icon=cstapopup\n"
            "Terminal=false\n"
            "Categories=Office;Telephony;\n"
            "X-GNOME-Autostart-enabled=true\n"
        )
        self._write(text.encode("utf-8"))

    def is_enabled(self) -> bool:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        entries = _desktop_entry(text)
        # Desktop environments switch an entry off by these keys rather than deleting it.
        if entries.get("Hidden", "").lower() == "true":
            return False
        if entries.get("X-GNOME-Autostart-enabled", "").lower() == "false":
            return False
        return "Exec" in entries

    def command_line(self) -> str | None:
        """The Exec= value as written (for display and tests), or None without an entry."""
        try:
            return _desktop_entry(self.path.read_text(encoding="utf-8")).get("Exec")
        except (OSError, UnicodeDecodeError):
            return None


def _desktop_entry(text: str) -> dict[str, str]:
    """Keys of the [Desktop Entry] group (enough to read back what we wrote)."""
    entries: dict[str, str] = {}
    in_group = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_group = line == "[Desktop Entry]"
        elif in_group and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries[key.strip()] = value.strip()
    return entries


# --- Windows (untested here) ---------------------------------------------------------------


class WindowsRunKey:
    """HKCU\\...\\CurrentVersion\\Run value "cstapopup" (per user, no administrator rights).

    Written against the documented winreg API; not run on Windows in this project's tests.
    """

    def __init__(self, winreg: ModuleType | None = None) -> None:
        if winreg is None:
            import winreg as winreg_module  # only exists on Windows

            winreg = winreg_module
        self._winreg = winreg

    def enable(self, command: list[str]) -> None:
        if not command:
            raise ValueError("the autostart command is empty")
        w = self._winreg
        try:
            with w.CreateKeyEx(w.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, w.KEY_SET_VALUE) as key:
                w.SetValueEx(key, WINDOWS_VALUE_NAME, 0, w.REG_SZ, subprocess.list2cmdline(command))
        except OSError as exc:
            raise AutostartError(f"could not write the Run registry value: {exc}") from exc

    def disable(self) -> None:
        w = self._winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, w.KEY_SET_VALUE) as key:
                w.DeleteValue(key, WINDOWS_VALUE_NAME)
        except FileNotFoundError:
            pass  # no such key or value: already disabled
        except OSError as exc:
            raise AutostartError(f"could not remove the Run registry value: {exc}") from exc

    def is_enabled(self) -> bool:
        w = self._winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, w.KEY_READ) as key:
                value, _type = w.QueryValueEx(key, WINDOWS_VALUE_NAME)
        except OSError:
            return False
        return bool(value)


# --- macOS (untested here) -----------------------------------------------------------------


class LaunchAgent(_FileLoginItem):
    """~/Library/LaunchAgents/io.github.cstapopup.plist, loaded by launchd at the next login.

    Written from Apple's launchd.plist documentation; not run on macOS in this project's tests.
    """

    def __init__(self, home: Path | None = None) -> None:
        home = home if home is not None else Path.home()
        self.path = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"

    def enable(self, command: list[str]) -> None:
        if not command:
            raise ValueError("the autostart command is empty")
        plist = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            # Start only in the graphical login session, not for ssh logins.
            "LimitLoadToSessionType": "Aqua",
            "ProcessType": "Interactive",
        }
        self._write(plistlib.dumps(plist))

    def is_enabled(self) -> bool:
        try:
            with open(self.path, "rb") as f:
                data = plistlib.load(f)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return bool(data.get("RunAtLoad")) and bool(data.get("ProgramArguments"))


# --- the running platform ------------------------------------------------------------------


def login_item(platform: str | None = None) -> LoginItem:
    """The login-item mechanism of `platform` (default: this one)."""
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsRunKey()
    if platform == "darwin":
        return LaunchAgent()
    return XdgAutostart()


def enable(command: list[str] | None = None) -> None:
    """Start `command` (default: this installation of cstapopup) at the next login."""
    login_item().enable(command if command is not None else default_command())


def disable() -> None:
    login_item().disable()


def is_enabled() -> bool:
    return login_item().is_enabled()
