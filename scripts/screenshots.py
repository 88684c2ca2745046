"""Screenshots of the running app for the README: a ringing popup, the tray menu, the history
window with demo calls, the settings dialog (and, with --console, the console).  Rendered with
Qt's own grab() into PNG files.

    python scripts/screenshots.py [OUT_DIR]          (default: docs/screenshots)
    QT_SCALE_FACTOR=2 python scripts/screenshots.py --language de --console docs/screenshots/de

`--language` sets the app's language (`app.language`) in the throw-away settings; with
QT_SCALE_FACTOR the grabs have the screen's pixels (2: twice as many each way).

1. Fills a demo history: the demo PBX's random traffic (seeded) runs at high speed through a
   real CSTA client into a Recorder, with the simulator's virtual clock as receive time, so
   the history looks like two and a half hours of a real morning.
2. Starts the app itself (`--demo` mode) on that history, lets a caller from the demo phone
   book ring at 100, and grabs the popup, the tray menu and the history window.
3. Grabs the settings dialog filled as a user would have it.

Nothing of the user's is touched: settings, history and keyring are throw-away.  Use a real
display for faithful fonts (xcb, e.g. under Xvfb); offscreen works too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HISTORY_HOURS = 2.5
FILL_SPEED = 900.0
FILL_RATE = 2.0
SEED = 20250304
#: Erika Mustermann, Mustermann Maschinenbau GmbH, in the demo phone book, as the PBX shows it.
CALLER = "008999998101"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--language", choices=("auto", "en", "de"), default="en",
                        help="the app's language (default: en)")
    parser.add_argument("--console", action="store_true", help="grab the console too")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cstapopup-screenshots-"))
    os.environ["CSTAPOPUP_CONFIG_DIR"] = str(work / "config")
    os.environ["CSTAPOPUP_DATA_DIR"] = str(work / "data")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    if not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, str(ROOT))

    import qasync
    from PySide6.QtWidgets import QApplication

    from cstapopup.ui import icons

    app = QApplication.instance() or QApplication(["cstapopup"])
    app.setApplicationName("cstapopup")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(icons.app_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with loop:
        written = loop.run_until_complete(asyncio.wait_for(
            shoot(out, work, language=args.language, console=args.console), 240))
    for path in written:
        print(path)
    return 0


async def fill_history(data_dir: Path) -> int:
    """Demo traffic at high speed through a real client into the demo history file."""
    from cstapopup import resources
    from cstapopup.calls.demo import DEMO_HISTORY_FILE, DEMO_MONITORED
    from cstapopup.calls.recorder import Recorder
    from cstapopup.csta.client import CstaClient, MonitorEvent
    from cstapopup.csta.switch.server import SwitchServer

    start = datetime.now() - timedelta(hours=HISTORY_HOURS)
    server = SwitchServer(port=0, devices="100-120", demo=True, rate=FILL_RATE, speed=FILL_SPEED,
                          seed=SEED, clock_start=start)
    books = [resources.path("demo/phonebook.csv"), resources.path("demo/phonebook.vcf")]
    recorder = Recorder.open(data_dir / DEMO_HISTORY_FILE, DEMO_MONITORED, phonebook_files=books)
    client = CstaClient("127.0.0.1", 0)
    fed = 0

    async def consume() -> None:
        nonlocal fed
        async for item in client.events():
            if isinstance(item, MonitorEvent):
                at = server.scheduler.now().astimezone(UTC)   # the morning, not this minute
                recorder.feed(item.device, item.event, received_at=at)
                fed += 1

    await server.start()
    client.port = server.port
    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    try:
        await client.connect()
        for device in DEMO_MONITORED:
            await client.monitor_start(device)
        end = HISTORY_HOURS * 3600 - 600
        await server.wait_for(lambda: server.scheduler.virtual_now() >= end, timeout=120)
        assert server.demo is not None
        server.demo.stop()                     # no new calls; let the last ones finish
        await server.wait_for(lambda: not server.model.calls, timeout=60)
        await server.wait_for(lambda: fed >= server.events_sent, timeout=10)
    finally:
        await client.close()
        consumer.cancel()
        await server.stop()
    count = recorder.store.count()
    recorder.close()
    return count


async def shoot(out: Path, work: Path, *, language: str = "en",
                console: bool = False) -> list[Path]:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from cstapopup.ui.controller import AppController, AppOptions

    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    count = await fill_history(data_dir)
    print(f"demo history: {count} calls over {HISTORY_HOURS:g} hours", file=sys.stderr)

    written: list[Path] = []

    def save(image, name: str) -> None:
        path = out / f"{name}.png"
        if not image.save(str(path)):
            raise RuntimeError(f"cannot write {path}")
        written.append(path)

    # The user's settings as the demo sees them: a CRM address makes the popup's third button.
    from cstapopup.settings import Settings
    user = Settings(work / "config" / "config.toml")
    user.update({"crm.url_template": "https://crm.example.com/search?q={number}",
                 "app.language": language})
    user.save()
    controller = AppController(AppOptions(demo=True, rate=0.5, seed=SEED, data_dir=data_dir,
                                          settings_path=work / "config" / "config.toml",
                                          show_window=True, popup_close_after=120))
    await controller.start()
    try:
        await until(lambda: controller.link_state[0] == "demo", controller.link_state_changed)
        # A known caller rings at 100 (the reception): the app's own path shows the popup.
        shown: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        controller.popups.shown.connect(lambda key: shown.done() or shown.set_result(key))
        controller.session.demo_pbx.ring(CALLER, "100")
        key = await asyncio.wait_for(shown, 10)
        popup = controller.popups.popup(key)
        await settle()
        save(popup.grab(), "popup-ringing")

        history = controller.history
        history.resize(1060, 620)
        history.show()
        history.table.clearSelection()
        await settle()
        save(history.grab(), "history-window")

        menu = controller.tray.menu
        menu.popup(QPoint(200, 200))
        await until(menu.isVisible)
        await settle()
        save(menu.grab(), "tray-menu")
        menu.hide()

        dialog = settings_dialog()
        dialog.show()
        await settle()
        save(dialog.grab(), "settings-dialog")
        dialog.reject()
        QApplication.processEvents()

        if console:
            window = controller.console
            window.resize(560, 700)
            window.bring_forward()
            window.select("102")
            await settle()
            save(window.grab(), "console")
            window.help.toggle()
            await settle()
            save(window.grab(), "console-help")
            window.help.toggle()
    finally:
        await controller.shutdown()
    return written


def settings_dialog():
    """The settings dialog as a configured user sees it (a throw-away settings file)."""
    from cstapopup import resources
    from cstapopup.settings import PasswordStore, Settings
    from cstapopup.ui.settings_dialog import SettingsDialog

    path = Path(os.environ["CSTAPOPUP_CONFIG_DIR"]) / "shown.toml"
    settings = Settings(path)
    settings.update({"pbx.host": "192.0.2.10", "devices.monitor": ["100", "101", "102"],
                     "devices.own": "100", "numbers.area_code": "89",
                     "phonebook.files": [str(resources.path("demo/phonebook.csv"))]})
    return SettingsDialog(settings, PasswordStore(settings), test_connection=lambda p: "")


async def settle() -> None:
    """Let Qt lay out and paint what was just shown (a few event loop turns)."""
    for _ in range(5):
        await asyncio.sleep(0.05)


async def until(predicate, *signals, timeout: float = 15.0) -> None:
    from cstapopup.ui.app import _until

    if signals:
        await _until(predicate, signals, timeout)
        return
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("screenshots: waited too long")
        await asyncio.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
