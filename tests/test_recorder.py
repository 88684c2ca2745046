"""The recorder's promises about the history (cstapopup/calls/recorder.py), on real SQLite files:
nothing lost without a word when the file cannot be written (full disk, deleted, read-only,
immutable, locked), one recording writer per file, grouped commits with a bounded delay, and
no call left "in progress" for ever after a stop or a crash."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cstapopup.calls.model import Outcome
from cstapopup.calls.recorder import (
    COMMIT_DELAY,
    FLUSH_INTERVAL,
    RETRY_MAX,
    STOPPED_HOP,
    HistoryHealth,
    Recorder,
)
from cstapopup.calls.store import HistoryError, HistoryInUseError, HistoryStore
from cstapopup.calls.tracker import CallTracker
from cstapopup.csta.switch.model import SwitchModel

DEVICES = ["100", "101"]
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


class Timer:
    """The recorder's monotonic clock, moved by the test (no test waits for wall-clock time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Pbx:
    """The simulator's call model, its events fed straight into a recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.at = T0
        self.changes: list = []
        self.model = SwitchModel(DEVICES, listener=self._step)

    def _step(self, step) -> None:
        for note in step.notifications:
            self.at += timedelta(milliseconds=20)
            self.changes.append(self.recorder.feed(note.device, note.event, self.at))

    def call(self, i: int) -> str:
        """An outside call to 100, answered and ended; returns the caller's number."""
        number = f"0089{1000000 + i:07d}"
        step = self.model.incoming_call(number, "100")
        self.model.answer(step.call, "100")
        self.model.hang_up(step.call, "100")
        return number

    def ring(self, i: int):
        """An outside call ringing at 100, left up; returns the model's call."""
        return self.model.incoming_call(f"0089{1000000 + i:07d}", "100").call


def recorder(path: Path, *, clock=None, **kwargs) -> tuple[Recorder, Timer]:
    """A recorder as `Recorder.open` makes it, with the test's timer (and clock: the time of
    the events, for what depends on how long ago a call was last seen)."""
    timer = Timer()
    store = HistoryStore(path, writer=True, busy_timeout=0.1)
    tracker = CallTracker(DEVICES, strict=True)
    return Recorder(store, tracker, timer=timer, clock=clock, **kwargs), timer


def on_disk(path: Path) -> dict[str, tuple]:
    """What another program sees in the file: key -> (remote_number, ended_at, end_unknown,
    outcome), read with a connection of its own."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT key, remote_number, ended_at, end_unknown, outcome FROM calls")}
    finally:
        conn.close()


def numbers_on_disk(path: Path) -> set[str]:
    return {v[0] for v in on_disk(path).values()}


def fill_the_disk(rec: Recorder) -> None:
    """A full disk without root: SQLite may not grow the file by another page."""
    db = rec.store._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")


def free_the_disk(rec: Recorder) -> None:
    rec.store._db.execute("PRAGMA max_page_count = 1073741823")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


# --- a full disk ----------------------------------------------------------------------------------

def test_full_disk_calls_wait_are_said_and_are_written_when_space_returns(path):
    rec, timer = recorder(path)
    heard: list[HistoryHealth] = []
    rec.add_health_listener(heard.append)
    pbx = Pbx(rec)
    first = {pbx.call(i) for i in range(3)}
    assert numbers_on_disk(path) == first and rec.health.ok and heard == []

    fill_the_disk(rec)
    later = {pbx.call(i) for i in range(3, 60)}
    health = rec.health
    assert not health.saving and health.reason == "the disk is full"
    # The file's free pages took some calls before it was full; every other call waits.
    saved = numbers_on_disk(path)
    waiting = len(first | later) - len(saved)
    assert first < saved and waiting > 20
    assert health.waiting == waiting and health.lost == 0
    assert health.message.startswith(
        f"Calls are not being saved: the disk is full ({waiting} waiting")
    assert [h.saving for h in heard] == [False]        # said once, not once per call
    # Retries follow the timer's backoff and keep failing while the disk is full.
    timer.advance(RETRY_MAX)
    assert not rec.flush_due().saving

    free_the_disk(rec)
    timer.advance(RETRY_MAX)
    health = rec.flush_due()
    assert health.saving and health.waiting == 0 and health.lost == 0 and health.ok
    assert heard[-1].saving and heard[-1].message is None
    rows = on_disk(path)
    assert numbers_on_disk(path) == first | later
    assert all(ended is not None and outcome == "answered"
               for _, ended, _, outcome in rows.values())
    rec.close()


def test_full_disk_retry_comes_with_the_next_call_too(path):
    rec, timer = recorder(path)
    pbx = Pbx(rec)
    fill_the_disk(rec)
    numbers = set()
    for i in range(100):
        numbers.add(pbx.call(i))
        if not rec.health.saving:
            break
    assert not rec.health.saving
    free_the_disk(rec)
    timer.advance(RETRY_MAX)
    numbers.add(pbx.call(1000))        # the next change retries: no timer needed
    assert rec.health.ok and numbers_on_disk(path) == numbers
    rec.close()


@pytest.mark.skipif(os.geteuid() != 0 if hasattr(os, "geteuid") else True,
                    reason="mounting a small tmpfs needs root")
def test_a_really_full_file_system(tmp_path):
    """The same on a real file system that runs out of space (a 1 MB tmpfs)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        path = mount / "history.sqlite3"
        rec, timer = recorder(path)
        pbx = Pbx(rec)
        ballast = mount / "ballast"
        done = []
        for i in range(400):
            done.append(pbx.call(i))
            if i == 5:
                # Fill what is left of the file system.
                with open(ballast, "wb") as fh:
                    try:
                        while True:
                            fh.write(b"\0" * 65536)
                            fh.flush()
                    except OSError:
                        pass
            if not rec.health.saving:
                break
        health = rec.health
        assert not health.saving and health.waiting > 0, health
        assert health.reason in ("the disk is full", "a disk I/O error"), health
        ballast.unlink()
        timer.advance(RETRY_MAX)
        assert rec.flush_due().ok
        assert numbers_on_disk(path) == set(done)
        rec.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_queue_is_bounded_and_what_it_drops_is_counted_loudly(path, caplog):
    rec, timer = recorder(path, max_waiting=10)
    pbx = Pbx(rec)
    fill_the_disk(rec)
    numbers = []
    while rec.health.saving and len(numbers) < 100:   # until the file's free pages are used
        numbers.append(pbx.call(len(numbers)))
    saved = numbers_on_disk(path)
    heard: list[HistoryHealth] = []
    rec.add_health_listener(heard.append)
    with caplog.at_level(logging.ERROR, logger="cstapopup.calls.recorder"):
        numbers += [pbx.call(len(numbers)) for _ in range(25)]
    unsaved = [n for n in numbers if n not in saved]
    lost = len(unsaved) - 10
    health = rec.health
    assert health.waiting == 10 and health.lost == lost > 0
    assert f"{lost} lost" in health.message
    assert heard[-1].lost == lost                   # every loss is heard
    assert [r.message for r in caplog.records if "changes dropped" in r.message][0].startswith(
        "call history: changes dropped, 1 so far: the history cannot be written (the disk is")
    free_the_disk(rec)
    timer.advance(RETRY_MAX)
    health = rec.flush_due()
    assert health.saving and health.waiting == 0 and health.lost == lost
    assert "could not be kept" in health.message
    assert numbers_on_disk(path) == saved | set(unsaved[-10:])   # the newest ten were kept
    assert rec.close().lost == lost


# --- the file deleted, replaced, not creatable ----------------------------------------------------

def remove_history(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_deleted_file_is_started_again_and_said(path):
    rec, _ = recorder(path)
    heard: list[HistoryHealth] = []
    rec.add_health_listener(heard.append)
    pbx = Pbx(rec)
    pbx.call(1)
    remove_history(path)
    later = pbx.call(2)                 # would have gone into the deleted file
    assert path.exists()
    assert numbers_on_disk(path) == {later}
    assert rec.health.saving and rec.health.lost == 0
    assert "was deleted" in rec.health.notice and "a new one was started" in rec.health.notice
    assert heard and "was deleted" in heard[-1].notice
    rec.close()


def test_deleted_file_is_noticed_by_the_timer_when_no_call_comes(path):
    rec, timer = recorder(path)
    Pbx(rec).call(1)
    remove_history(path)
    assert rec.flush_due().notice is None          # not yet: checked every few seconds
    timer.advance(10)
    health = rec.flush_due()
    assert "was deleted" in health.notice and path.exists() and on_disk(path) == {}
    rec.close()


def test_replaced_file_is_left_alone_and_a_new_one_started(path):
    rec, _ = recorder(path)
    pbx = Pbx(rec)
    pbx.call(1)
    moved = path.with_name("old.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", f"{moved}{suffix}")
    shutil.copy(moved, path)                        # someone puts a copy back
    number = pbx.call(2)
    assert "was replaced" in rec.health.notice or "was deleted" in rec.health.notice
    assert number in numbers_on_disk(path)
    rec.close()


def test_history_that_cannot_be_created_again_keeps_calls_waiting(path):
    rec, timer = recorder(path)
    pbx = Pbx(rec)
    pbx.call(1)
    folder = path.parent
    shutil.rmtree(folder)
    folder.write_text("a file where the history's folder was")   # mkdir fails, even for root
    numbers = [pbx.call(i) for i in range(2, 6)]
    health = rec.health
    assert not health.saving and health.waiting == 4 and health.lost == 0
    assert "deleted" in health.reason and "cannot be created again" in health.reason
    timer.advance(RETRY_MAX)
    assert not rec.flush_due().saving
    folder.unlink()
    timer.advance(RETRY_MAX)
    health = rec.flush_due()
    assert health.ok, health
    assert numbers_on_disk(path) == set(numbers)
    rec.close()


# --- locked, read-only, immutable -----------------------------------------------------------------

def test_locked_by_another_program_calls_wait(path):
    rec, timer = recorder(path)
    pbx = Pbx(rec)
    pbx.call(1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        number = pbx.call(2)
        health = rec.health
        assert not health.saving and "locked by another program" in health.reason
        assert health.waiting == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    timer.advance(RETRY_MAX)
    assert rec.flush_due().ok
    assert number in numbers_on_disk(path)
    rec.close()


def test_read_only_while_recording_keeps_every_call(path):
    """chmod a-w on the file and its folder while recording: the open file is still written
    (nothing to say, nothing lost).  As root, modes do not stop writes anyway."""
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    rec, _ = recorder(path)
    pbx = Pbx(rec)
    first = pbx.call(1)
    os.chmod(path, 0o444)
    os.chmod(path.parent, 0o555)
    try:
        second = pbx.call(2)
        assert rec.health.ok and numbers_on_disk(path) == {first, second}
        assert rec.close().ok
    finally:
        os.chmod(path.parent, 0o700)
        os.chmod(path, 0o600)


@pytest.fixture
def read_only_view(tmp_path):
    """A folder with a history in it, and a read-only view of it (a read-only bind mount for
    root, whom file modes do not stop; chmod a-w otherwise)."""
    folder = tmp_path / "rw"
    folder.mkdir()
    rec = Recorder.open(folder / "history.sqlite3", DEVICES)
    Pbx(rec).call(1)
    rec.close()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        view = tmp_path / "ro"
        view.mkdir()
        if subprocess.run(["mount", "--bind", str(folder), str(view)],
                          capture_output=True, check=False).returncode != 0:
            pytest.skip("cannot bind-mount here")
        try:
            if subprocess.run(["mount", "-o", "remount,ro,bind", str(view)],
                              capture_output=True, check=False).returncode != 0:
                pytest.skip("cannot make a read-only bind mount here")
            yield view / "history.sqlite3"
        finally:
            subprocess.run(["umount", "-l", str(view)], check=False)
    elif os.name == "posix":
        os.chmod(folder / "history.sqlite3", 0o444)
        os.chmod(folder, 0o555)
        try:
            yield folder / "history.sqlite3"
        finally:
            os.chmod(folder, 0o700)
    else:
        pytest.skip("no read-only view here")


def test_read_only_history_refuses_a_recorder_with_the_reason(read_only_view):
    with pytest.raises(HistoryError) as caught:
        Recorder.open(read_only_view, DEVICES)
    assert caught.value.reason in ("the file cannot be written (read-only)",
                                   "the file cannot be opened") \
        or caught.value.reason.startswith("cannot create the file"), caught.value.reason
    done = subprocess.run(
        [sys.executable, "-m", "cstapopup", "monitor", "--record", "--db", str(read_only_view),
         "--device", "100", "--port", "1", "--once"],
        capture_output=True, text=True, timeout=60, env={**os.environ}, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert str(read_only_view) in done.stderr


def test_read_only_history_can_still_be_listed(read_only_view, capsys):
    from cstapopup.cli import main

    code = main(["history", "--db", str(read_only_view), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [c["remote_number"] for c in json.loads(out)] == [f"0089{1000001:07d}"]


IMMUTABLE_SCENARIO = textwrap.dedent("""
    import json, subprocess, sys
    sys.path.insert(0, {tests!r})
    from test_recorder import Pbx, numbers_on_disk, recorder
    from cstapopup.calls.recorder import RETRY_MAX
    from pathlib import Path
    path = Path({path!r})
    files = [str(path) + s for s in ("", "-wal", "-shm")]
    rec, timer = recorder(path)
    pbx = Pbx(rec)
    numbers = [pbx.call(1)]
    subprocess.run(["chattr", "+i", *files], check=True)
    numbers += [pbx.call(i) for i in range(2, 12)]      # each would have meant a SIGBUS
    timer.advance(RETRY_MAX)
    rec.flush_due()
    out = {{"while": [rec.health.saving, rec.health.reason, rec.health.waiting]}}
    try:
        rec.store.count()
        out["read"] = "read"
    except Exception as exc:
        out["read"] = str(exc)
    subprocess.run(["chattr", "-i", *files], check=True)
    timer.advance(RETRY_MAX)
    health = rec.flush_due()
    out["after"] = [health.ok, sorted(numbers_on_disk(path)) == sorted(numbers)]
    rec.close()
    print(json.dumps(out))
""")


def test_immutable_file_is_said_and_does_not_kill_the_recorder(tmp_path):
    """chattr +i on the history (its -shm is mapped into memory: a write there was SIGBUS)."""
    if shutil.which("chattr") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("chattr +i needs root and e2fsprogs")
    probe = tmp_path / "probe"
    probe.touch()
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system has no immutable attribute")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    path = tmp_path / "history.sqlite3"
    script = IMMUTABLE_SCENARIO.format(tests=str(ROOT / "tests"), path=str(path))
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
                              check=False)
    finally:
        subprocess.run(["chattr", "-i", *(str(p) for p in tmp_path.iterdir())],
                       capture_output=True, check=False)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    saving, reason, waiting = out["while"]
    assert not saving and "immutable" in reason and waiting == 10
    assert "immutable" in out["read"]
    assert out["after"] == [True, True]


# --- one writer -----------------------------------------------------------------------------------

def test_a_second_recorder_on_the_same_file_is_refused(path):
    first = Recorder.open(path, DEVICES)
    try:
        with pytest.raises(HistoryInUseError) as caught:
            Recorder.open(path, DEVICES)
        message = str(caught.value)
        assert "already being recorded by another program" in message
        assert f"process {os.getpid()}" in message and "--db" in message
        assert isinstance(caught.value, HistoryError)   # what the app falls back on
        # Readers and single edits are not writers of calls: they still work.
        with HistoryStore(path, readonly=True) as reader:
            assert reader.count() == 0
    finally:
        first.close()
    Recorder.open(path, DEVICES).close()                # free again once the first is gone


def test_monitor_record_is_refused_while_another_program_records(path):
    holder = Recorder.open(path, DEVICES)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cstapopup", "monitor", "--record", "--db", str(path),
             "--device", "100", "--port", "1", "--once"],
            capture_output=True, text=True, timeout=60, env={**os.environ}, check=False)
    finally:
        holder.close()
    assert done.returncode == 1
    assert "already being recorded by another program" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_app_falls_back_when_another_program_records(tmp_path):
    """The app's desk opens its recorder the same way: refused, it says so and keeps calls in
    a temporary history instead of writing a second row for each."""
    from cstapopup.calls.desk import Desk, DeskConfig, DeskListener

    class Heard(DeskListener):
        def __init__(self) -> None:
            self.notices: list = []

        def notice(self, notice) -> None:
            self.notices.append(notice)

    holder = Recorder.open(tmp_path / "history.sqlite3", DEVICES)
    try:
        heard = Heard()
        desk = Desk(heard, config=DeskConfig(monitored=tuple(DEVICES)))
        desk.open_history(tmp_path / "history.sqlite3")
        try:
            assert desk.recorder.store.path != holder.store.path
            assert any("already being recorded" in n.text for n in heard.notices), heard.notices
        finally:
            desk.close()
    finally:
        holder.close()


# --- grouped commits ------------------------------------------------------------------------------

def test_grouped_commits_reach_the_file_within_the_delay(path):
    rec, timer = recorder(path, commit_delay=COMMIT_DELAY)
    pbx = Pbx(rec)
    number = pbx.call(1)
    # This process sees the call at once (the history window reads the same connection) ...
    assert [c.remote_number for c in rec.store.recent()] == [number]
    assert on_disk(path) == {}                       # ... other programs after the commit
    timer.advance(COMMIT_DELAY - 0.01)
    rec.flush_due()
    assert on_disk(path) == {}
    timer.advance(0.01)
    rec.flush_due()                                  # the owner's timer commits
    assert numbers_on_disk(path) == {number}
    # Without the timer, the next event commits once the delay plus a timer period is over.
    second = pbx.call(2)
    timer.advance(COMMIT_DELAY + FLUSH_INTERVAL)
    third = pbx.call(3)
    assert {second, third} <= numbers_on_disk(path)
    rec.close()


def test_grouped_commits_after_a_number_of_changes(path):
    rec, _ = recorder(path, commit_delay=60.0, commit_changes=5)
    pbx = Pbx(rec)
    numbers = [pbx.call(i) for i in range(8)]
    assert set(numbers[:4]) <= numbers_on_disk(path) != set(numbers)
    rec.close()
    assert numbers_on_disk(path) == set(numbers)    # close commits everything


def test_a_user_edit_commits_what_waits(path):
    rec, _ = recorder(path, commit_delay=60.0)
    pbx = Pbx(rec)
    number = pbx.call(1)
    key = rec.store.recent()[0].key
    assert on_disk(path) == {}
    assert rec.store.mark_done(key)                  # the history window's action
    assert numbers_on_disk(path) == {number}
    pbx.call(2)
    assert rec.close().ok


def test_a_failed_commit_puts_the_calls_back_in_the_queue(path):
    rec, timer = recorder(path, commit_delay=COMMIT_DELAY)
    pbx = Pbx(rec)
    numbers = [pbx.call(i) for i in range(3)]
    fill_the_disk(rec)
    numbers += [pbx.call(i) for i in range(3, 30)]
    timer.advance(COMMIT_DELAY)
    rec.flush_due()
    health = rec.health
    assert not health.saving and health.lost == 0
    assert health.waiting >= 27
    free_the_disk(rec)
    timer.advance(RETRY_MAX)
    assert rec.flush_due().ok
    assert numbers_on_disk(path) == set(numbers)
    rec.close()


# --- nothing stays in progress --------------------------------------------------------------------

def in_progress(path: Path) -> list[str]:
    return [k for k, (_, ended, unknown, _) in on_disk(path).items()
            if ended is None and not unknown]


def test_close_settles_calls_still_going_on(path):
    rec, _ = recorder(path, commit_delay=COMMIT_DELAY)
    pbx = Pbx(rec)
    done = pbx.call(1)
    ringing = pbx.ring(2)
    answered = pbx.model.incoming_call(f"0089{1000003:07d}", "101").call
    pbx.model.answer(answered, "101")
    assert rec.close().ok
    assert in_progress(path) == []
    with HistoryStore(path, readonly=True) as store:
        calls = {c.remote_number: c for c in store.recent()}
    assert calls[done].ended_at is not None and not calls[done].end_unknown
    assert ringing is not None
    rang = calls[f"0089{1000002:07d}"]
    assert rang.end_unknown and rang.ended_at is None and rang.outcome is Outcome.UNKNOWN
    assert rang.hops[-1].kind == STOPPED_HOP
    talked = calls[f"0089{1000003:07d}"]
    assert talked.end_unknown and talked.outcome is Outcome.ANSWERED   # seen: a fact
    assert talked.hops[-1].kind == STOPPED_HOP


def test_a_crash_leaves_calls_in_progress_that_the_next_start_settles(path):
    rec, _ = recorder(path)
    pbx = Pbx(rec)
    pbx.call(1)
    pbx.ring(2)
    # A crash: the process ends without close() (its lock goes with it).
    rec.store.on_batch_end = None
    rec.store._disconnect()
    rec.store._lock.release()
    assert len(in_progress(path)) == 1
    again, _ = recorder(path)
    assert in_progress(path) == []
    assert "1 call that the last recording left in progress" in again.health.notice
    with HistoryStore(path, readonly=True) as store:
        settled = next(c for c in store.recent() if c.end_unknown)
    assert settled.outcome is Outcome.UNKNOWN and settled.hops[-1].kind == STOPPED_HOP
    again.close()


def test_a_call_still_up_at_the_next_start_is_continued_by_its_events(path):
    rec, _ = recorder(path)
    pbx = Pbx(rec)
    call = pbx.ring(1)
    rec.close()                                     # settled: end not seen
    pbx.at += timedelta(minutes=5)
    again, _ = recorder(path, clock=lambda: pbx.at)
    assert in_progress(path) == []
    pbx.recorder = again                            # the same PBX, a new recorder
    pbx.model.answer(call, "100")
    pbx.model.hang_up(call, "100")
    again.close()
    with HistoryStore(path, readonly=True) as store:
        calls = store.recent()
    assert len(calls) == 1                          # continued: the same row
    row = calls[0]
    assert row.ended_at is not None and not row.end_unknown
    assert row.outcome is Outcome.UNKNOWN           # part of it went unseen: not claimed
    assert STOPPED_HOP in [h.kind for h in row.hops] and row.hops[-1].kind == "cleared"
