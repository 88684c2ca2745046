"""Render the popup, the tray icon and menu, and the settings dialog to PNG files with grab().

    python scripts/shot_widgets.py OUT_DIR [--scale 2]

Runs on Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise (e.g. xcb under Xvfb).
`--scale` sets QT_SCALE_FACTOR to see the high-DPI rendering. Nothing touches the user's
settings or keyring: a throw-away config folder and keyring's null backend are used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--scale", type=float, default=1.0, help="QT_SCALE_FACTOR (high DPI)")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    os.environ["CSTAPOPUP_CONFIG_DIR"] = tempfile.mkdtemp(prefix="cstapopup-shots-")
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter
    from PySide6.QtWidgets import QApplication

    from cstapopup.calls.model import Call, Direction, Hop, Outcome
    from cstapopup.calls.views import Caller, popup_view
    from cstapopup.settings import PasswordStore, Settings
    from cstapopup.ui import icons
    from cstapopup.ui.popup import CallPopup
    from cstapopup.ui.settings_dialog import SettingsDialog
    from cstapopup.ui.tray import TrayIcon

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(widget_or_image, name: str) -> None:
        image = widget_or_image if isinstance(widget_or_image, QImage) else widget_or_image.grab()
        path = out / f"{name}.png"
        image.save(str(path))
        written.append(path)

    t0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    ringing = Call("c1", Direction.INCOMING, t0, remote_number="00891234567",
                   local_devices=("100",), called_number="0891234567",
                   hops=(Hop("diverted", "101", t0, "100"),))
    common = {"ringing_device": "100", "own_device": "100",
              "crm_template": "https://crm.example.com/search?q={number}&name={name}",
              "close_after": 8}

    def card(call: Call, caller: Caller, **kwargs) -> CallPopup:
        return CallPopup(popup_view(call, caller=caller, **{**common, **kwargs}))

    anna = Caller("Anna Schmidt", "Schmidt & Partner Steuerberatung", "+49 89 1234567")
    popup = card(ringing, anna)
    save(popup, "popup-ringing-name")
    answered = ringing.evolve(answered_at=t0 + timedelta(seconds=6), answered_by="102",
                              outcome=Outcome.ANSWERED_ELSEWHERE)
    popup.show_view(popup_view(answered, caller=anna, **common))
    save(popup, "popup-answered-elsewhere")
    ended = answered.evolve(ended_at=t0 + timedelta(seconds=157))
    popup.show_view(popup_view(ended, caller=anna, **common))
    save(popup, "popup-ended")

    unknown = Call("c2", Direction.INCOMING, t0, remote_number="004930123456",
                   local_devices=("101",))
    number_only = Caller(display_number="+49 30 123456")
    save(card(unknown, number_only, ringing_device="101", crm_template=""), "popup-number-only")
    missed = unknown.evolve(ended_at=t0 + timedelta(seconds=20), outcome=Outcome.MISSED)
    save(card(missed, number_only, ringing_device="101", crm_template=""), "popup-missed")
    withheld = Call("c3", Direction.INCOMING, t0, remote_kind="restricted",
                    local_devices=("100",),
                    hops=(Hop("transferred", "102", t0, "100"),))
    save(card(withheld, Caller()), "popup-withheld-transferred")
    long_name = Call("c4", Direction.INTERNAL, t0, remote_number="105", local_devices=("100",))
    save(card(long_name, Caller(
        "Dr. Maximiliane Mustermann-Lüdenscheidt",
        "Allgemeine Versicherungsgesellschaft für Handwerk und Mittelstand AG", "105")),
        "popup-long-name")
    save(card(long_name.evolve(key="c5"), Caller("<h1>Big</h1><img src=x>", "<b>Markup</b> GmbH",
                                                 "105")), "popup-markup-name")

    # Tray: each state at the sizes trays use, on light and dark panels.
    tray = TrayIcon()
    sizes = (16, 22, 24, 32, 48, 64)
    variants = [(s, 0, False) for s in icons.TRAY_STATES] + [
        ("up", 3, False), ("up", 12, False), ("up", 150, False), ("up", 0, True),
        ("down", 7, True)]
    pad = 10
    row_h = max(sizes) + pad
    label_w = 170
    width = label_w + sum(s + pad for s in sizes) + pad
    sheet = QImage(width * 2, row_h * len(variants) + pad, QImage.Format.Format_ARGB32)
    sheet.fill(QColor("#f2f2f2"))
    painter = QPainter(sheet)
    painter.fillRect(QRect(width, 0, width, sheet.height()), QColor("#303030"))
    font = QFont(painter.font())
    font.setPixelSize(12)
    painter.setFont(font)
    for row, (state, missed_count, dnd) in enumerate(variants):
        tray.set_link_state(state, "")
        tray.set_missed_count(missed_count)
        tray.set_do_not_disturb(dnd)
        y = pad + row * row_h
        for base, colour in ((0, "#202020"), (width, "#e0e0e0")):
            painter.setPen(QColor(colour))
            painter.drawText(QRect(base + pad, y, label_w, max(sizes)),
                             int(Qt.AlignmentFlag.AlignVCenter),
                             f"{state}  missed={missed_count}{'  dnd' if dnd else ''}")
            x = base + label_w
            for s in sizes:
                painter.drawPixmap(x, y + (max(sizes) - s) // 2, tray.icon().pixmap(s, s))
                x += s + pad
    painter.end()
    save(sheet, "tray-icons")

    hist = list(icons.HISTORY_ICON_NAMES)
    sheet = QImage(pad + 190 * 2, pad + 26 * len(hist), QImage.Format.Format_ARGB32)
    sheet.fill(QColor("#ffffff"))
    painter = QPainter(sheet)
    painter.setFont(font)
    for i, name in enumerate(hist):
        y = pad + i * 26
        painter.drawPixmap(pad, y, icons.call_icon(name).pixmap(16, 16))
        painter.drawPixmap(pad + 24, y - 2, icons.call_icon(name).pixmap(20, 20))
        painter.setPen(QColor("#202020"))
        painter.drawText(QRect(pad + 52, y, 300, 18), int(Qt.AlignmentFlag.AlignVCenter), name)
    painter.end()
    save(sheet, "history-icons")
    save(icons.app_icon().pixmap(128, 128).toImage(), "app-icon")

    tray.set_link_state("up", "connected to 192.0.2.1:7001, monitoring 100, 101")
    tray.set_missed_count(3)
    tray.set_do_not_disturb(True)
    menu = tray.menu
    menu.ensurePolished()
    menu.adjustSize()
    save(menu, "tray-menu")
    (out / "tray-tooltip.txt").write_text(tray.tooltip() + "\n", encoding="utf-8")

    settings, _warnings = Settings.load()
    settings.update({"pbx.host": "192.0.2.1", "devices.monitor": ["100", "101"],
                     "devices.own": "100", "phonebook.files": ["/srv/phone/kunden.csv"]})
    def test_connection(p) -> str:
        return f"Connected to {p.host}:{p.port} as {p.user}."

    dialog = SettingsDialog(settings, PasswordStore(settings), test_connection=test_connection)
    dialog.resize(dialog.sizeHint())
    for index, section in enumerate(dialog.pages):
        dialog.tabs.setCurrentIndex(index)
        save(dialog, f"settings-{section}")
    dialog.tabs.setCurrentIndex(0)
    dialog.editors["pbx.host"].set_value("192.0.2.1:7001")
    dialog.editors["pbx.port"].set_value(7001)
    dialog.run_connection_test()
    save(dialog, "settings-pbx-invalid")

    for path in written:
        print(path)
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
