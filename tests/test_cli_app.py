"""`cstapopup` itself as a program: its top-level help lists the desktop app's options without
loading Qt, and without a display it says so and exits 3 instead of letting Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cstapopup.ui.app import EXIT_NO_DISPLAY, display_problem

APP_OPTIONS = ("--demo", "--self-test", "--seed", "--rate", "--debug")


def command() -> list[str]:
    exe = Path(sys.executable).with_name("cstapopup")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cstapopup"]


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*command(), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, encoding="utf-8", check=False)


def without_display(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(more)
    return env


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_lists_the_apps_own_options_and_exit_codes(flag):
    done = run([flag], os.environ.copy())
    assert done.returncode == 0, done.stderr
    for option in APP_OPTIONS:
        assert option in done.stdout, option
    for command_name in ("decode", "monitor", "sim", "history"):
        assert command_name in done.stdout
    assert "3 no display" in " ".join(done.stdout.split())


def test_help_does_not_load_qt():
    code = ("import sys\n"
            "from cstapopup.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "loaded = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6',"
            " 'qasync')))\n"
            "print('LOADED', loaded, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr
    assert "--demo" in done.stdout


def test_without_a_display_the_app_says_so_and_exits_3():
    done = run(["--demo"], without_display())
    assert done.returncode == EXIT_NO_DISPLAY == 3, (done.returncode, done.stderr)
    assert done.stderr.startswith("cstapopup: cannot open the display: neither DISPLAY nor "
                                  "WAYLAND_DISPLAY is set")
    assert "QT_QPA_PLATFORM=offscreen" in done.stderr and "--self-test" in done.stderr
    assert "Reinstalling" not in done.stderr and "Aborted" not in done.stderr


def test_a_display_nobody_serves_is_said_too():
    # A local display number with no X server behind it (its socket does not exist).
    number = next(n for n in range(4242, 4300) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    done = run([], without_display(DISPLAY=f":{number}"))
    if "libxcb" in done.stderr or done.returncode != EXIT_NO_DISPLAY:
        pytest.skip(f"no libxcb here to try the display with: {done.stderr[-300:]}")
    assert done.stderr.startswith(f"cstapopup: cannot open the display: the X display "
                                  f":{number} cannot be opened")


def test_which_environments_are_checked():
    assert display_problem({}, "linux").startswith("neither DISPLAY nor WAYLAND_DISPLAY")
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux").startswith("DISPLAY is not set")
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None


def test_the_self_test_still_runs_without_a_display(tmp_path):
    env = without_display(CSTAPOPUP_CONFIG_DIR=str(tmp_path / "cfg"),
                          CSTAPOPUP_DATA_DIR=str(tmp_path / "data"))
    done = run(["--self-test"], env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Its last line says it passed (the steps before it are printed as they happen).
    assert done.stdout.rstrip().splitlines()[-1].startswith("self-test: ok: ")
