"""PyInstaller's entry script: the frozen `cstapopup` executable runs the normal CLI.

One addition, for the packaging checks: `cstapopup --bundle-check` (as the first argument)
decodes an APDU with the bundled ASN.1 modules, parses a phone number, imports the keyring
backend, starts Qt, renders every bundled icon, checks that there is a real font, prints a JSON
report and exits 0 when all of it works.  It finds what a self-test of the call flow may not:
Qt reports a missing image plugin or font with no error at all, just a blank tray icon or
empty boxes instead of letters.
"""

import importlib
import json
import sys
import time


def has_text_font() -> bool:
    """Whether the default font has real glyphs.  Without any font file Qt still "draws",
    with its box engine: every character the same empty box."""
    from PySide6.QtGui import QFont, QFontMetricsF

    metrics = QFontMetricsF(QFont())
    return (all(metrics.inFontUcs4(ord(c)) for c in "Ag0\u00e4")
            and metrics.horizontalAdvance("i" * 10) < metrics.horizontalAdvance("W" * 10))


def bundle_check() -> int:
    started = time.perf_counter()
    meipass = getattr(sys, "_MEIPASS", None)
    report: dict = {"frozen": bool(getattr(sys, "frozen", False)), "meipass": meipass}
    failures: list[str] = []

    from cstapopup.resources import resource_dir

    from cstapopup.csta import codec

    report["asn1_dir"] = str(codec.asn1_dir())
    report["resource_dir"] = str(resource_dir())
    if meipass and not report["asn1_dir"].startswith(meipass):
        failures.append("ASN.1 modules not found inside the bundle")
    if meipass and not report["resource_dir"].startswith(meipass):
        failures.append("resources not found inside the bundle")
    report["bundled_spec_cache"] = sorted(p.name for p in codec.asn1_dir().glob("*.spec"))
    # The shipped spec must pass the codec's checks (owner, mode, key, checksum) and be used:
    # the first decode compiles nothing.
    compiled = []
    compile_spec = codec.compile_spec
    codec.compile_spec = lambda *a, **kw: compiled.append(a) or compile_spec(*a, **kw)
    report["decode"] = type(codec.decode_apdu(bytes.fromhex("A10C020101020200D330030A0102"))
                            ).__name__
    codec.compile_spec = compile_spec
    report["spec_compiled"] = bool(compiled)
    if meipass and compiled:
        failures.append("the ASN.1 spec shipped in the bundle was not used (see the warning)")

    import phonenumbers  # its per-country metadata modules are imported lazily

    number = phonenumbers.parse("089 7007 1234", "DE")
    report["phonenumbers"] = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if not phonenumbers.is_valid_number(number):
        failures.append("phonenumbers has no metadata for DE")

    # The password store: keyring's backend for this platform must import (on Linux it needs
    # secretstorage, jeepney and cryptography).
    backend = {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, "SecretService")
    try:
        importlib.import_module(f"keyring.backends.{backend}")
        if backend == "SecretService":
            importlib.import_module("secretstorage")
        report["keyring_backend"] = backend
    except ImportError as exc:
        failures.append(f"keyring backend {backend} cannot be imported: {exc}")

    from PySide6.QtGui import QFontDatabase, QGuiApplication, QIcon, QImageReader
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    app = QApplication(["cstapopup"])
    report["qt_platform"] = QGuiApplication.platformName()
    formats = sorted(bytes(f).decode() for f in QImageReader.supportedImageFormats())
    report["image_formats"] = formats
    if "svg" not in formats:
        failures.append("Qt's SVG image plugin is missing")
    icons = sorted((resource_dir() / "icons").glob("*.svg"))
    report["icons"] = len(icons)
    blank = [p.name for p in icons if QIcon(str(p)).pixmap(32, 32).isNull()]
    if not icons:
        failures.append("no icons bundled")
    if blank:
        failures.append(f"icons Qt cannot render: {', '.join(blank)}")
    report["font_families"] = QFontDatabase.families()[:12]
    if not has_text_font():
        failures.append("Qt has no real font (install fontconfig-config and a font package)")
    report["system_tray_available"] = QSystemTrayIcon.isSystemTrayAvailable()
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["failures"] = failures
    print(json.dumps(report, indent=1))
    del app
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bundle-check"]:
        sys.exit(bundle_check())
    from cstapopup.cli import main

    sys.exit(main())
