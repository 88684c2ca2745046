"""The desktop app when calls cannot be saved (issue 13.3's UI side): a real SQLite history made
to fail under the running app (offscreen Qt, the simulator over real TCP), and a second program
recording into the app's file.  The tray (tooltip, menu line, icon) and the history window (a
banner) say "Calls are not being saved: <reason>"; the calls wait and are written once the
file works again, and the words go."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from cstapopup.calls.recorder import COMMIT_DELAY

from . import test_ui_app as ui_app
from .test_ui_app import Recorder, app, pbx_settings, simulator, until, up

# The loop fixtures of the app tests (a qasync loop on pytest-qt's QApplication).
aloop = ui_app.aloop
run = ui_app.run

NOT_SAVED = "Calls are not being saved: the disk is full"


def keys_on_disk(path: Path) -> set[str]:
    """The calls another program sees in the file (a connection of its own, read-only)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT key FROM calls WHERE ended_at IS NOT NULL")}
    finally:
        conn.close()


async def a_call(server, controller) -> str:
    """One outside call to 100, answered and over; its history key."""
    updates = Recorder(controller.call_updated)
    try:
        server.start_scenario("incoming-answered", "100")
        (call,) = await updates.wait(lambda c: c.ended_at is not None, timeout=20)
    finally:
        updates.close()
    return call.key


def banner(controller) -> str | None:
    """What the history window's banner says, None while it is hidden."""
    label = controller.history.health_banner
    return label.text() if label.isVisibleTo(controller.history) else None


def menu_line(controller) -> str | None:
    action = next(a for a in controller.tray.menu.actions() if a.objectName() == "historyProblem")
    return action.text() if action.isVisible() else None


def test_a_full_disk_is_said_in_the_tray_and_the_window_until_the_calls_are_written(run,
                                                                                   tmp_path):
    async def scenario() -> None:
        async with simulator() as server, \
                app(tmp_path, pbx_settings(server.port)) as controller:
            await until(lambda: up(controller), controller.link_state_changed)
            desk, tray = controller.desk, controller.tray
            path = desk.store.path
            assert desk.recorder.commit_delay == COMMIT_DELAY
            assert desk.history_health is not None and desk.history_health.ok
            assert banner(controller) is None and menu_line(controller) is None

            # Grouped commits: a call that ended reaches the file by the desk's timer alone
            # (nothing else happens after its last event).
            first = await a_call(server, controller)
            await until(lambda: first in keys_on_disk(path), timeout=10)

            # The disk fills up: SQLite may not grow the recorder's file by another page.
            db = desk.store._db
            db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
            for _ in range(40):   # the file's free pages take a few calls first
                await a_call(server, controller)
                if not desk.history_health.saving:
                    break
            health = desk.history_health
            assert not health.saving and health.reason == "the disk is full"
            waiting = [await a_call(server, controller) for _ in range(2)]

            assert tray.history_problem.startswith(NOT_SAVED)
            assert NOT_SAVED in tray.tooltip() and "waiting to be written" in tray.tooltip()
            assert tray.tray.toolTip().startswith("cstapopup")
            assert NOT_SAVED in tray.tray.toolTip()
            assert menu_line(controller).startswith(NOT_SAVED)
            assert banner(controller).startswith(NOT_SAVED)
            assert any(title == "Call history" and text.startswith(NOT_SAVED)
                       for title, text in controller.messages)
            assert not set(waiting) & keys_on_disk(path)
            # The window still shows them (its connection reads what waits).
            shown = {controller.history.model.call_at(r).key
                     for r in range(controller.history.model.rowCount())}
            assert set(waiting) <= shown

            # Space again: the waiting calls are written, and the words go.
            db.execute("PRAGMA max_page_count = 1073741823")
            await until(lambda: desk.history_health.saving, timeout=30)
            await until(lambda: set(waiting) <= keys_on_disk(path), timeout=10)
            assert tray.history_problem is None and NOT_SAVED not in tray.tooltip()
            assert menu_line(controller) is None and banner(controller) is None
            assert any(text == "Calls are being saved again." for _, text in controller.messages)
            later = await a_call(server, controller)
            await until(lambda: later in keys_on_disk(path), timeout=10)

    run(scenario(), 120)


HOLDER = textwrap.dedent("""
    import sys
    from cstapopup.calls.recorder import Recorder
    recorder = Recorder.open(sys.argv[1], ["100"])
    print("recording", flush=True)
    sys.stdin.read()          # until the test closes our stdin
    recorder.close()
""")


def test_a_second_recording_program_makes_the_app_keep_calls_in_a_temporary_history(
        run, tmp_path):
    """Another program (here a recorder in its own process, as `monitor --record` holds it)
    records into the app's history file: the app does not write a second row for each call;
    it records into a temporary history and says so, in a notice and for as long as it runs
    in the tray and the window."""
    folder = tmp_path / "app"
    folder.mkdir()
    held = folder / "history.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(held)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "recording"

        async def scenario() -> None:
            async with simulator() as server, \
                    app(tmp_path, pbx_settings(server.port)) as controller:
                desk, tray = controller.desk, controller.tray
                assert desk.store.path != held
                notices = [text for title, text in controller.messages if title == "Call history"]
                assert any("already being recorded by another program" in t for t in notices)
                assert any("Calls are kept only until cstapopup ends" in t for t in notices)
                for said in (tray.history_problem, tray.tooltip(), menu_line(controller),
                             banner(controller)):
                    assert "Calls are kept only until cstapopup ends" in said
                    assert "another program records into this history" in said
                # Calls are still recorded (where they can be) and shown.
                await until(lambda: up(controller), controller.link_state_changed)
                key = await a_call(server, controller)
                await until(lambda: key in keys_on_disk(desk.store.path), timeout=10)
                assert key not in keys_on_disk(held)

        run(scenario(), 60)
    finally:
        holder.stdin.close()
        assert holder.wait(30) == 0
