"""What goes into the frozen app and what stays out: the data of cstapopup.spec, kept apart
from PyInstaller so that tests/test_packaging.py can check it without building.

Bundle layout it must agree with (the run-time lookups look beside their module, whose
__file__ PyInstaller sets to its place in the bundle):
    cstapopup/csta/asn1/*.asn      codec.asn1_dir()
    cstapopup/resources/**         cstapopup.resources.resource_dir()
                                   (translations/*.qm: ui.language.translations_dir())
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASN1_SRC = ROOT / "cstapopup" / "csta" / "asn1"
ASN1_DEST = "cstapopup/csta/asn1"
RESOURCES_SRC = ROOT / "resources"
RESOURCES_DEST = "cstapopup/resources"

#: A bundle entry as PyInstaller's TOC holds it: (path in the bundle, source path, type code).
Entry = tuple[str, str, str]


def version() -> str:
    text = (ROOT / "cstapopup" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise RuntimeError("no __version__ in cstapopup/__init__.py")
    return match.group(1)


def asn1_datas() -> list[tuple[str, str]]:
    """(source, destination folder) of every ASN.1 module."""
    return [(str(p), ASN1_DEST) for p in sorted(ASN1_SRC.glob("*.asn"))]


def resource_datas() -> list[tuple[str, str]]:
    """(source, destination folder) of everything under resources/ but its Python module."""
    out = []
    for p in sorted(RESOURCES_SRC.rglob("*")):
        rel = p.relative_to(RESOURCES_SRC)
        # .ts: the translations' sources; the app loads the compiled .qm beside them.
        if (not p.is_file() or "__pycache__" in rel.parts
                or p.suffix in (".py", ".pyc", ".ts")
                or any(part.startswith(".") for part in rel.parts)):
            continue
        out.append((str(p), str(Path(RESOURCES_DEST, rel.parent).as_posix())))
    return out


#: Qt modules the app may import.  tests/test_packaging.py fails when cstapopup imports
#: another one, so that nobody ships a Qt module without deciding to.
QT_MODULES_USED = ("QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtSvg", "QtSvgWidgets",
                   "QtDBus")

#: Imported by name at run time (cli.py uses importlib), so the analysis must be told.
HIDDEN_IMPORTS = [
    "cstapopup.resources",
    # The desktop app's Qt; listed so that the bundle carries Qt even while ui/app.py is
    # being written (the analysis of ui/ adds whatever else it imports).
    "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets",
    # The way through the office gateway imports its MQTT client only when it is chosen.
    "aiomqtt", "paho.mqtt.client", "paho.mqtt.properties", "paho.mqtt.packettypes",
]

EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "turtledemo", "idlelib", "lib2to3", "pydoc_data",
    # not unittest: pyparsing (asn1tools) imports it at start-up
    "test", "doctest", "pytest", "_pytest", "pytestqt", "hypothesis", "pytest_asyncio",
    "pytest_timeout", "setuptools", "pip", "PyInstaller",
    # phonenumbers: the app parses, validates and formats numbers (region metadata in
    # phonenumbers.data, loaded lazily and collected by its hook); the place-name, carrier and
    # time-zone databases are 20 MB it never reads.
    "phonenumbers.geocoder", "phonenumbers.geodata", "phonenumbers.carrier",
    "phonenumbers.carrierdata", "phonenumbers.timezone", "phonenumbers.tzdata",
    # qasync probes the other bindings; only PySide6 is shipped.
    "PyQt5", "PyQt6", "PySide2",
    # Qt modules the app does not use (most are not in PySide6-Essentials anyway; listing
    # them keeps a later PySide6-Addons install from creeping in).
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickControls2", "PySide6.QtQuickWidgets",
    "PySide6.QtQuickTest", "PySide6.QtQmlFeatures", "PySide6.QtLabsStyleKit",
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel", "PySide6.QtWebSockets", "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets", "PySide6.QtSpatialAudio", "PySide6.QtTextToSpeech",
    "PySide6.Qt3DCore", "PySide6.Qt3DRender", "PySide6.Qt3DInput", "PySide6.Qt3DLogic",
    "PySide6.Qt3DExtras", "PySide6.Qt3DAnimation", "PySide6.QtQuick3D", "PySide6.QtCharts",
    "PySide6.QtDataVisualization", "PySide6.QtGraphs", "PySide6.QtPdf", "PySide6.QtPdfWidgets",
    "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtTest",
    "PySide6.QtSql", "PySide6.QtPrintSupport", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets",
    "PySide6.QtConcurrent", "PySide6.QtXml", "PySide6.QtBluetooth", "PySide6.QtNfc",
    "PySide6.QtPositioning", "PySide6.QtLocation", "PySide6.QtSensors", "PySide6.QtSerialPort",
    "PySide6.QtSerialBus", "PySide6.QtRemoteObjects", "PySide6.QtScxml",
    "PySide6.QtStateMachine", "PySide6.QtHttpServer", "PySide6.QtNetworkAuth",
]

# --- Qt plugins, libraries and translations kept -------------------------------------------

#: Plugin folder -> plugin file stems kept (None: all of the folder).  Folders not listed are
#: dropped (eglfs, linuxfb, vnc, evdev, sql drivers, print support, QML tooling, ...).
QT_PLUGINS_KEPT: dict[str, set[str] | None] = {
    # xcb: X11, and XWayland on Wayland desktops.  The wayland plugin stays out on purpose:
    # Wayland lets no client place its own window, and the call popup must appear in a fixed
    # corner of the screen, so the app runs through XWayland there.  offscreen: --self-test
    # and CI.  qwindows / qcocoa: the other platforms' own.
    "platforms": {"libqxcb", "libqoffscreen", "qwindows", "qoffscreen", "libqcocoa"},
    "xcbglintegrations": None,              # loaded by the xcb plugin (small)
    # The portal theme talks D-Bus only; the gtk3 theme would drag GTK into the bundle.
    "platformthemes": {"libqxdgdesktopportal"},
    # Dead keys / compose (umlauts when searching the history) and input methods.
    "platforminputcontexts": {"libcomposeplatforminputcontextplugin",
                              "libibusplatforminputcontextplugin"},
    "iconengines": None,                    # SVG icons in the tray, menus, windows
    "imageformats": {"libqsvg", "libqico", "qsvg", "qico"},
    "styles": None,                         # the Windows / macOS native widget styles
    "tls": {"libqopensslbackend", "qopensslbackend", "qschannelbackend",
            "libqsecuretransportbackend"},
}
#: Qt's own translations (standard dialog buttons and the like): German and English; most
#: HiPath installations are in German-speaking countries.  Everything else is dropped.
QT_TRANSLATIONS_KEPT = {"qtbase_de.qm", "qtbase_en.qm", "qt_de.qm", "qt_en.qm"}
#: Qt shared libraries that may stay (the part of the name after "Qt6").  Any other Qt
#: library that a plugin or module dragged in is dropped; the clean-root check proves the
#: rest suffices.
QT_LIBS_KEPT = {"Core", "Gui", "Widgets", "Network", "DBus", "XcbQpa", "Svg", "SvgWidgets",
                "OpenGL"}

_QT_LIB = re.compile(r"^(?:lib)?Qt6([A-Za-z0-9]+?)(?:\.so.*|\.dll|\.dylib)?$")


def _qt_part(dest: str) -> tuple[str, tuple[str, str] | str] | None:
    """For a path inside PySide6's Qt folder: (kind, detail); None for anything else."""
    parts = Path(dest).parts
    if len(parts) >= 2 and parts[0] == "PySide6" and parts[1] in ("plugins", "translations",
                                                                 "qml"):
        parts = ("PySide6", "Qt") + parts[1:]   # the Windows wheel has no Qt/ level
    if len(parts) < 3 or parts[0] != "PySide6" or parts[1] != "Qt":
        return None
    if parts[2] == "plugins" and len(parts) >= 5:
        return "plugin", (parts[3], parts[4].split(".")[0])
    if parts[2] == "translations":
        return "translation", parts[-1]
    if parts[2] == "qml":
        return "qml", parts[-1]
    return None


def keep(entry: Entry) -> bool:
    """Whether a bundle entry stays (Qt plugins, translations and libraries are filtered)."""
    dest = entry[0]
    qt = _qt_part(dest)
    if qt is not None:
        kind, detail = qt
        if kind == "plugin":
            folder, stem = detail
            if folder not in QT_PLUGINS_KEPT:
                return False
            kept = QT_PLUGINS_KEPT[folder]
            return kept is None or stem in kept
        if kind == "translation":
            return detail in QT_TRANSLATIONS_KEPT
        return False  # QML modules
    match = _QT_LIB.match(Path(dest).name)
    if match:
        return match.group(1) in QT_LIBS_KEPT
    return True


def _base(name: str) -> str:
    return Path(name).name.lower()


ImportsOf = Callable[[str], Iterable[tuple[str, str | None]]]


def prune(binaries: list[Entry], datas: list[Entry],
          imports_of: ImportsOf) -> tuple[list[Entry], list[Entry], list[str]]:
    """Drop what `keep()` rejects, then every library that only the dropped files needed.

    The analysis has already collected the dependencies of every plugin it found (the gtk3
    platform theme brings GTK, cairo, pango, ...); filtering the plugins alone would leave
    those behind.  A library goes when dropped files need it and kept ones do not.
    `imports_of(path)` gives a binary's link-time imports as (name, resolved path).
    Returns (binaries, datas, names of the libraries dropped as orphans).
    """
    by_name = {_base(dest): src for dest, src, _ in binaries}

    def closure(roots: Iterable[Entry]) -> set[str]:
        seen: set[str] = set()
        todo = [_base(dest) for dest, _, _ in roots]
        while todo:
            name = todo.pop()
            if name in seen or name not in by_name:
                continue
            seen.add(name)
            todo.extend(_base(dep) for dep, _ in imports_of(by_name[name]))
        return seen

    dropped = [e for e in binaries if not keep(e)]
    kept = [e for e in binaries if keep(e)]
    only_dropped = closure(dropped) - {_base(d) for d, _, _ in dropped}
    needed = closure(e for e in kept if _base(e[0]) not in only_dropped)
    orphans = only_dropped - needed
    binaries = [e for e in kept if _base(e[0]) not in orphans]
    gone = {d for d, _, _ in dropped} | {d for d, _, _ in kept if _base(d) in orphans}
    # Symlinks to a dropped library go too (PyInstaller links Qt's libraries to the top).
    datas = [e for e in datas if keep(e)
             and not (e[2] == "SYMLINK" and (e[1] in gone or _base(e[0]) in orphans))]
    return binaries, datas, sorted(orphans)


def unresolved(binaries: list[Entry], imports_of: ImportsOf,
               system_provided: Callable[[str], bool]) -> list[str]:
    """Link-time imports of bundled binaries that are neither bundled nor left to the target
    system: libraries the build machine lacks, so the bundle lacks them too."""
    bundled = {_base(dest) for dest, _, _ in binaries}
    missing = set()
    for dest, src, _ in binaries:
        for name, path in imports_of(src):
            if path is None and _base(name) not in bundled and not system_provided(name):
                missing.add(f"{name} (needed by {dest})")
    return sorted(missing)
