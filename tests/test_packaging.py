"""The installers' inputs, checked without building: what the PyInstaller spec bundles and
where the app looks for it, the Qt parts left out, the desktop files and install.sh.

The real build and the bare-machine run are `python packaging/build.py` and
`packaging/check_clean_root.sh` (minutes, not part of the test run).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plan = _load("bundle_plan", PACKAGING / "bundle_plan.py")


# --- data files and where the frozen app finds them ------------------------------------------


def test_every_asn1_module_is_bundled_where_codec_looks():
    from cstapopup.csta import codec

    bundled = {Path(src).name: dest for src, dest in plan.asn1_datas()}
    for name in codec.ASN1_FILES:
        assert bundled.get(name) == plan.ASN1_DEST, name


def test_every_resource_is_bundled():
    # The translations' .ts sources stay out: the app reads their compilations (.qm).
    on_disk = {p.relative_to(plan.RESOURCES_SRC).as_posix()
               for p in plan.RESOURCES_SRC.rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc", ".ts")
               and "__pycache__" not in p.parts}
    bundled = {(Path(dest) / Path(src).name).relative_to(plan.RESOURCES_DEST).as_posix()
               for src, dest in plan.resource_datas()}
    assert on_disk == bundled
    assert any(name.startswith("icons/") for name in bundled)


def test_the_bundle_layout_is_what_the_runtime_lookups_expect(tmp_path, monkeypatch):
    """Lay the data files out as PyInstaller would, give the modules the __file__ PyInstaller
    gives them there (their dotted name as a path below the bundle folder), and ask the
    app's own lookups (codec.asn1_dir, resources.resource_dir) where things are."""
    from cstapopup import resources
    from cstapopup.csta import codec

    for src, dest in plan.asn1_datas() + plan.resource_datas():
        target = tmp_path / dest / Path(src).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    monkeypatch.setattr(codec, "__file__", str(tmp_path / "cstapopup" / "csta" / "codec.pyc"))
    monkeypatch.setattr(resources, "__file__",
                        str(tmp_path / "cstapopup" / "resources" / "__init__.pyc"))

    assert codec.asn1_dir() == tmp_path / plan.ASN1_DEST
    for name in codec.ASN1_FILES:
        assert (codec.asn1_dir() / name).is_file()
    assert resources.resource_dir() == tmp_path / plan.RESOURCES_DEST
    for src, dest in plan.resource_datas():
        rel = (Path(dest) / Path(src).name).relative_to(plan.RESOURCES_DEST)
        assert resources.path(rel.as_posix()).is_file()
    assert [p.relative_to(tmp_path / plan.RESOURCES_DEST).as_posix()
            for p in resources.demo_phonebooks()] == list(resources.DEMO_PHONEBOOKS)
    assert resources.path("translations/cstapopup_de.qm").is_file()


def test_spec_and_entry_script_compile():
    for path in (PACKAGING / "cstapopup.spec", PACKAGING / "entry.py", PACKAGING / "build.py",
                 PACKAGING / "hooks" / "hook-phonenumbers.py",
                 PACKAGING / "rthooks" / "qt_platform.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_spec_uses_the_plan():
    spec = (PACKAGING / "cstapopup.spec").read_text(encoding="utf-8")
    for needle in ("plan.asn1_datas()", "plan.resource_datas()", "plan.EXCLUDES",
                   "plan.HIDDEN_IMPORTS", "plan.prune(", 'collect_submodules("cstapopup")',
                   "entry.py", "BUNDLE(", "COLLECT("):
        assert needle in spec, needle


# --- what stays out --------------------------------------------------------------------------


def _imported_modules() -> set[str]:
    """Every module name cstapopup's own code imports (absolute imports)."""
    names: set[str] = set()
    for path in list((ROOT / "cstapopup").rglob("*.py")) + list(plan.RESOURCES_SRC.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_excluded_module_is_imported_by_the_app():
    imported = _imported_modules()
    for excluded in plan.EXCLUDES:
        used = sorted(n for n in imported if n == excluded or n.startswith(excluded + "."))
        assert not used, (f"cstapopup imports {used}, which packaging/bundle_plan.py "
                          f"excludes from the installers")


def test_the_app_uses_only_the_qt_modules_the_installers_carry():
    qt = {n.split(".")[1] for n in _imported_modules()
          if n.startswith("PySide6.") and n.split(".")[1].startswith("Qt")}
    extra = qt - set(plan.QT_MODULES_USED)
    assert not extra, (f"cstapopup imports PySide6.{sorted(extra)}: add them to "
                       f"QT_MODULES_USED (and check the plugins they need) in bundle_plan.py")


def test_unittest_is_not_excluded():
    # pyparsing (under asn1tools) imports unittest when it is imported; excluding it broke
    # every frozen command once.
    assert "unittest" not in plan.EXCLUDES


@pytest.mark.parametrize("dest, kept", [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", False),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
    ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", True),
    ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
    ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
    ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", False),
    ("PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so", True),
    ("PySide6/plugins/platforms/qwindows.dll", True),          # Windows wheel layout
    ("PySide6/plugins/imageformats/qpdf.dll", False),
    ("PySide6/Qt/translations/qtbase_de.qm", True),
    ("PySide6/Qt/translations/qtbase_ja.qm", False),
    ("PySide6/Qt/translations/qtwebengine_de.qm", False),
    ("PySide6/Qt/lib/libQt6Core.so.6", True),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
    ("libQt6Gui.so.6", True),                                  # PyInstaller's top-level link
    ("PySide6/Qt/lib/libQt6Qml.so.6", False),
    ("PySide6/Qt/lib/libQt6Quick.so.6", False),
    ("libQt6WaylandClient.so.6", False),
    ("PySide6/Qt6WebEngineCore.dll", False),
    ("PySide6/Qt/lib/libicudata.so.73", True),                 # QtCore needs ICU
    ("PySide6/QtWidgets.abi3.so", True),
    ("libxkbcommon.so.0", True),
    ("cstapopup/csta/asn1/csta.asn", True),
])
def test_keep(dest, kept):
    assert plan.keep((dest, "/src/" + Path(dest).name, "BINARY")) is kept


def test_prune_drops_the_libraries_only_dropped_plugins_needed():
    binaries = [
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/s/libqgtk3.so", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/s/libqxcb.so", "BINARY"),
        ("PySide6/Qt/lib/libQt6Qml.so.6", "/s/libQt6Qml.so.6", "BINARY"),
        ("libgtk-3.so.0", "/s/libgtk-3.so.0", "BINARY"),
        ("libcairo.so.2", "/s/libcairo.so.2", "BINARY"),
        ("libglib-2.0.so.0", "/s/libglib-2.0.so.0", "BINARY"),
        ("libxkbcommon.so.0", "/s/libxkbcommon.so.0", "BINARY"),
        ("libcrypto.so.3", "/s/libcrypto.so.3", "BINARY"),   # needed by nothing we know of
    ]
    graph = {
        "/s/libqgtk3.so": ["libgtk-3.so.0", "libglib-2.0.so.0"],
        "/s/libgtk-3.so.0": ["libcairo.so.2", "libglib-2.0.so.0"],
        "/s/libqxcb.so": ["libxkbcommon.so.0", "libglib-2.0.so.0"],
    }
    datas = [
        ("libQt6Qml.so.6", "PySide6/Qt/lib/libQt6Qml.so.6", "SYMLINK"),
        ("libgtk-3.so.0.link", "libgtk-3.so.0", "SYMLINK"),
        ("cstapopup/csta/asn1/csta.asn", "/s/csta.asn", "DATA"),
    ]
    kept, kept_datas, orphans = plan.prune(
        binaries, datas, lambda path: [(n, "/s/" + n) for n in graph.get(path, [])])
    names = {Path(d).name for d, _, _ in kept}
    assert names == {"libqxcb.so", "libglib-2.0.so.0", "libxkbcommon.so.0", "libcrypto.so.3"}
    assert orphans == ["libcairo.so.2", "libgtk-3.so.0"]
    assert [d for d, _, _ in kept_datas] == ["cstapopup/csta/asn1/csta.asn"]


def test_unresolved_reports_libraries_the_build_machine_lacks():
    binaries = [("PySide6/Qt/lib/libQt6XcbQpa.so.6", "/s/xcbqpa", "BINARY"),
                ("libxkbcommon.so.0", "/s/xkb", "BINARY")]
    imports = {"/s/xcbqpa": [("libxkbcommon.so.0", None), ("libxcb-cursor.so.0", None),
                             ("libGL.so.1", None), ("libc.so.6", "/lib/libc.so.6")]}
    missing = plan.unresolved(binaries, lambda p: imports.get(p, []),
                              lambda name: name.startswith(("libGL", "libc.")))
    assert missing == ["libxcb-cursor.so.0 (needed by PySide6/Qt/lib/libQt6XcbQpa.so.6)"]


@pytest.mark.parametrize("env, expected", [
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "xcb"),          # XWayland
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
     "offscreen"),                                                       # the user's choice
    ({"WAYLAND_DISPLAY": "wayland-0"}, None),                            # no X server
    ({"DISPLAY": ":0"}, None),                                           # plain X11
    ({}, None),                                                          # headless
])
def test_runtime_hook_chooses_xcb_only_on_wayland_with_xwayland(monkeypatch, env, expected):
    for name in ("WAYLAND_DISPLAY", "DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", "linux")
    hook = PACKAGING / "rthooks" / "qt_platform.py"
    exec(compile(hook.read_text(encoding="utf-8"), str(hook), "exec"), {})
    assert os.environ.get("QT_QPA_PLATFORM") == expected


# --- Linux desktop integration ---------------------------------------------------------------


def _desktop_entry(text: str) -> dict[str, str]:
    entries, group = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            group = line
        elif group == "[Desktop Entry]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries[key] = value
    return entries


def test_menu_entry_template():
    entry = _desktop_entry((PACKAGING / "linux" / "cstapopup.desktop.in").read_text("utf-8"))
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "@EXEC@"
    assert entry["Icon"] == "cstapopup"
    assert entry["Terminal"] == "false"
    # Telephony is an additional category: the menu spec wants a main category with it.
    assert "Network" in entry["Categories"].split(";")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (desktop-file-utils) not installed")
def test_menu_entry_passes_desktop_file_validate(tmp_path):
    text = (PACKAGING / "linux" / "cstapopup.desktop.in").read_text("utf-8")
    entry = tmp_path / "cstapopup.desktop"
    entry.write_text(text.replace("@EXEC@", '"/home/a b/.local/lib/cstapopup/cstapopup"'))
    result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                            text=True)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout


def test_autostart_template_matches_what_the_settings_switch_writes(tmp_path):
    from cstapopup import autostart

    item = autostart.XdgAutostart(config_home=tmp_path)
    item.enable(["/opt/cstapopup/cstapopup"])
    written = _desktop_entry(item.path.read_text("utf-8"))
    template = _desktop_entry(
        (PACKAGING / "linux" / "cstapopup-autostart.desktop.in").read_text("utf-8"))
    assert template.pop("Exec") == "@EXEC@"
    written.pop("Exec")
    assert template == written
    assert item.path.name == "cstapopup.desktop"


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_install_sh_installs_enables_autostart_and_uninstalls(tmp_path):
    from cstapopup import autostart

    # An unpacked archive, as build.py stages it, with a stand-in for the frozen app.
    archive = tmp_path / "cstapopup-0.1.0-linux-x86_64"
    (archive / "cstapopup" / "_internal").mkdir(parents=True)
    app = archive / "cstapopup" / "cstapopup"
    app.write_text("#!/bin/sh\necho frozen\n")
    app.chmod(0o755)
    (archive / "share").mkdir()
    for name in ("cstapopup.desktop.in", "cstapopup-autostart.desktop.in"):
        shutil.copy(PACKAGING / "linux" / name, archive / "share" / name)
    (archive / "share" / "cstapopup.svg").write_text("<svg/>")
    shutil.copy(PACKAGING / "linux" / "install.sh", archive / "install.sh")

    home = tmp_path / "home dir"            # a space: the Exec= line must quote it
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "XDG_CONFIG_HOME": str(home / ".config")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", str(archive / "install.sh"), *args], env=env,
                              capture_output=True, text=True, timeout=60)

    result = run("--autostart")
    assert result.returncode == 0, result.stderr
    installed = home / ".local" / "lib" / "cstapopup" / "cstapopup"
    assert subprocess.run([str(home / ".local" / "bin" / "cstapopup")], capture_output=True,
                          text=True).stdout == "frozen\n"
    menu = _desktop_entry((home / ".local/share/applications/cstapopup.desktop").read_text())
    assert menu["Exec"] == f'"{installed}"'
    assert (home / ".local/share/icons/hicolor/scalable/apps/cstapopup.svg").is_file()
    # The app's own settings switch sees the installer's autostart entry, with the same Exec=
    # it would write itself.
    item = autostart.XdgAutostart(config_home=home / ".config")
    assert item.is_enabled()
    assert item.command_line() == autostart.exec_line([str(installed)])

    result = run("--uninstall")
    assert result.returncode == 0, result.stderr
    assert not installed.exists()
    assert not (home / ".local" / "bin" / "cstapopup").exists()
    assert not (home / ".local/share/applications/cstapopup.desktop").exists()
    assert not item.is_enabled()


def test_shell_scripts_parse():
    for script in (PACKAGING / "linux" / "install.sh", PACKAGING / "check_clean_root.sh"):
        shell = "bash" if script.name == "check_clean_root.sh" else "sh"
        if shutil.which(shell) is None:
            pytest.skip(f"no {shell}")
        result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


# --- build script ----------------------------------------------------------------------------


def test_build_script_pins_pyinstaller_and_knows_the_version():
    from cstapopup import __version__

    build = _load("cstapopup_build", PACKAGING / "build.py")
    assert re.fullmatch(r"\d+\.\d+\.\d+", build.PYINSTALLER_VERSION)
    assert build.version() == __version__ == plan.version()
    assert re.fullmatch(r"(linux|windows|macos)-\w+", build.platform_tag())


# --- Windows and macOS (written, not built here) ---------------------------------------------


def test_inno_setup_autostart_is_the_run_value_the_app_uses():
    from cstapopup import autostart

    iss = (PACKAGING / "windows" / "cstapopup.iss").read_text(encoding="utf-8")
    assert f'#define RunKey "{autostart.WINDOWS_RUN_KEY}"' in iss
    assert f'#define RunValue "{autostart.WINDOWS_VALUE_NAME}"' in iss
    assert "PrivilegesRequired=lowest" in iss          # HKCU, no UAC prompt
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", iss, re.M)
    assert 'Source: "dist\\cstapopup\\*"' in iss


def test_macos_info_plist():
    from cstapopup import autostart

    with open(PACKAGING / "macos" / "Info.plist", "rb") as fh:
        info = plistlib.load(fh)
    assert info["LSUIElement"] is True                  # menu-bar only, no Dock icon
    assert info["CFBundleIdentifier"] == autostart.LAUNCH_AGENT_LABEL
    assert info["CFBundleExecutable"] == "cstapopup"
    assert info["NSLocalNetworkUsageDescription"]       # macOS 15 asks before LAN access
