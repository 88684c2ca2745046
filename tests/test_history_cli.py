"""Tests of `cstapopup history` (cstapopup/commands/history.py), in-process and as a program."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.store import DATA_DIR_ENV, HistoryStore
from cstapopup.cli import main

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def make_call(i: int, *, name: str | None = None, number: str | None = "0891234567",
              devices: tuple[str, ...] = ("100",), outcome: Outcome = Outcome.ANSWERED,
              done: bool = False, company: str | None = None) -> Call:
    started = T0 + timedelta(minutes=i)
    answered = started + timedelta(seconds=4) if outcome is Outcome.ANSWERED else None
    ended = started + timedelta(seconds=94)
    return Call(key=f"call-{i}", direction=Direction.INCOMING, started_at=started,
                remote_number=number, remote_name=name, remote_company=company,
                local_devices=devices, answered_at=answered, ended_at=ended, outcome=outcome,
                hops=(Hop("delivered", devices[0], started), Hop("cleared", None, ended)),
                done=done)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite3"
    with HistoryStore(path) as s:
        s.upsert(make_call(1, name="Hans Müller", company="Siemens AG"))
        s.upsert(make_call(2, name="Erika Schmidt", number="030 5550001",
                           outcome=Outcome.MISSED, devices=("101",)))
        s.upsert(make_call(3, number=None, outcome=Outcome.MISSED, done=True))
        s.upsert(make_call(4, name="Hans Müller", devices=("100", "102")))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["history", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_lists_newest_first_with_aligned_columns(db, capsys):
    code, out, err = run(capsys, "--db", str(db))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "DIRECTION", "NAME", "NUMBER", "DEVICE", "DURATION",
                                "OUTCOME", "NOTE"]
    assert len(lines) == 5
    local = (T0 + timedelta(minutes=4)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert lines[1].startswith(local)
    assert "100,102" in lines[1] and "1:30" in lines[1]  # devices, talk time
    assert "Hans Müller (Siemens AG)" in lines[4]
    assert "missed (done)" in lines[2] and "(unknown)" not in lines[2]  # the window's words
    assert "rang 1:34" in lines[3]
    # Aligned: every column starts at the same offset in every line.
    start = lines[0].index("NUMBER")
    assert all(line[start - 2:start] == "  " for line in lines)


def test_filters(db, capsys):
    code, out, _ = run(capsys, "--db", str(db), "--missed")
    assert code == 0 and len(out.splitlines()) == 3
    _, out, _ = run(capsys, "--db", str(db), "--missed", "--not-done")
    assert len(out.splitlines()) == 2 and "Erika Schmidt" in out
    _, out, _ = run(capsys, "--db", str(db), "--search", "müller")
    assert out.count("Hans Müller") == 2 and "Erika" not in out
    _, out, _ = run(capsys, "--db", str(db), "--search", "030 555")
    assert "Erika Schmidt" in out and "Hans" not in out
    _, out, _ = run(capsys, "--db", str(db), "--device", "101", "--device", "102")
    assert len(out.splitlines()) == 3
    since = (T0 + timedelta(minutes=3)).astimezone().strftime("%Y-%m-%dT%H:%M")
    _, out, _ = run(capsys, "--db", str(db), "--since", since)
    assert len(out.splitlines()) == 3
    day = (T0 + timedelta(days=1)).astimezone().strftime("%Y-%m-%d")
    _, out, _ = run(capsys, "--db", str(db), "--since", day)
    assert out.strip() == "No calls match."


def test_limit_says_how_many_more(db, capsys):
    code, out, _ = run(capsys, "--db", str(db), "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4
    assert lines[-1] == "(2 of 4 calls shown; --limit 0 shows all)"
    _, out, _ = run(capsys, "--db", str(db), "--limit", "0")
    assert len(out.splitlines()) == 5


def test_json_output(db, capsys):
    code, out, _ = run(capsys, "--db", str(db), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [d["key"] for d in data] == ["call-4", "call-3", "call-2", "call-1"]
    first = data[0]
    for name in ("direction", "remote_number", "remote_name", "local_devices", "started_at",
                 "answered_at", "ended_at", "ring_seconds", "talk_seconds", "outcome", "hops"):
        assert name in first
    assert first["local_devices"] == ["100", "102"] and first["talk_seconds"] == 90.0
    with HistoryStore(db) as s:
        assert data == [c.to_dict() for c in s.recent()]
    _, out, _ = run(capsys, "--db", str(db), "--format", "json", "--limit", "0", "--missed")
    assert len(json.loads(out)) == 2


def test_csv_output(db, capsys):
    code, out, _ = run(capsys, "--db", str(db), "--format", "csv", "--search", "Schmidt")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    row = rows[0]
    assert row["remote_name"] == "Erika Schmidt" and row["outcome"] == "missed"
    assert datetime.fromisoformat(row["started_at"]) == T0 + timedelta(minutes=2)
    assert row["ring_seconds"] == "94" and row["talk_seconds"] == ""


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "01.03.2026", ""])
def test_bad_date_is_a_usage_error(db, capsys, bad):
    code, out, err = run(capsys, "--db", str(db), "--since", bad)
    assert code == 2 and out == ""
    assert "--since" in err and "YYYY-MM-DD" in err


def test_bad_limit_is_a_usage_error(db, capsys):
    code, _, err = run(capsys, "--db", str(db), "--limit", "-3")
    assert code == 2 and "--limit" in err


def test_empty_history_prints_a_friendly_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    code, out, err = run(capsys)
    assert code == 0 and out.strip() == "No calls in the history yet." and err == ""
    assert not (tmp_path / "data").exists()  # reading does not create a database
    HistoryStore().close()
    code, out, _ = run(capsys)
    assert code == 0 and out.strip() == "No calls in the history yet."
    _, out, _ = run(capsys, "--format", "json")
    assert json.loads(out) == []
    _, out, _ = run(capsys, "--format", "csv")
    assert out.splitlines()[0].startswith("key,direction,started_at")


def test_missing_explicit_db_is_an_error(tmp_path, capsys):
    code, _out, err = run(capsys, "--db", str(tmp_path / "typo.sqlite3"))
    assert code == 1 and "no call history at" in err
    assert not (tmp_path / "typo.sqlite3").exists()


def test_damaged_db_is_reported_and_left_as_it_is(tmp_path, capsys):
    """13.5: a read-only listing never writes: a damaged file is not replaced by an empty
    one (that is the recorder's decision), the user is told, and the exit status says so."""
    path = tmp_path / "history.sqlite3"
    garbage = b"garbage, not a database" * 100
    path.write_bytes(garbage)
    for args in ([], ["--format", "csv"], ["--search", "x"], ["--mark-done", "k"]):
        code, out, err = run(capsys, "--db", str(path), *args)
        assert code == 1 and out == ""
        assert "damaged" in err and "left as it is" in err
        assert path.read_bytes() == garbage
        assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite3"]


def test_damage_inside_a_database_is_reported_not_repaired(db, capsys):
    """Damage past the header shows only when a query reaches it: still no write."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    for i in range(page, len(data)):   # every page but the first (the schema's)
        data[i] = 0xA5
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    code, _, err = run(capsys, "--db", str(db))
    assert code == 1 and "damaged" in err
    assert db.read_bytes() == before and not list(db.parent.glob("*.corrupt-*"))


def test_listing_does_not_create_wal_or_change_the_file(db, capsys):
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    code, out, _ = run(capsys, "--db", str(db), "--format", "json")
    assert code == 0 and len(json.loads(out)) == 4
    after = {p.name: p.read_bytes() for p in db.parent.iterdir() if p.name in before}
    assert after == before


def test_locked_db_is_a_clear_error(db, capsys, monkeypatch):
    import sqlite3

    from cstapopup.calls import store as store_mod
    monkeypatch.setattr(store_mod, "DEFAULT_BUSY_TIMEOUT", 0.1)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE calls SET done = 0")
        code, _, err = run(capsys, "--db", str(db), "--mark-done", "call-2")
        assert code == 1 and "locked by another program" in err
        code, out, _ = run(capsys, "--db", str(db))  # reading still works
        assert code == 0 and "Erika" in out
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_mark_done_and_delete(db, capsys):
    code, out, _ = run(capsys, "--db", str(db), "--mark-done", "call-2")
    assert code == 0 and "call-2" in out
    _, out, _ = run(capsys, "--db", str(db), "--missed", "--not-done")
    assert out.strip() == "No calls match."
    code, out, _ = run(capsys, "--db", str(db), "--delete", "call-1")
    assert code == 0
    code, _, err = run(capsys, "--db", str(db), "--delete", "call-1")
    assert code == 1 and "no call with key 'call-1'" in err
    _, out, _ = run(capsys, "--db", str(db), "--keys")
    assert "KEY" in out.splitlines()[0] and "call-1" not in out and "call-4" in out


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["history", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--db", "--missed", "--search", "--since", "--device", "--limit", "--format"):
        assert option in out


def test_installed_program(db):
    exe = Path(sys.executable).with_name("cstapopup")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cstapopup"]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([*command, "history", "--db", str(db), "--format", "json"],
                          capture_output=True, text=True, timeout=60, env=env, encoding="utf-8",
                          check=False)
    assert done.returncode == 0, done.stderr
    assert [d["key"] for d in json.loads(done.stdout)] == ["call-4", "call-3", "call-2", "call-1"]
    done = subprocess.run([*command, "history", "--db", str(db), "--since", "soon"],
                          capture_output=True, text=True, timeout=60, env=env, encoding="utf-8",
                          check=False)
    assert done.returncode == 2 and "--since" in done.stderr


def test_the_table_shows_numbers_as_the_window_does_and_exports_keep_them_raw(
        tmp_path, capsys, monkeypatch):
    path = tmp_path / "numbers.sqlite3"
    outgoing = make_call(1, number="003023125206").evolve(
        direction=Direction.OUTGOING, answered_by="003023125206")
    odd = make_call(2, number="001519375336")
    with HistoryStore(path) as s:
        s.upsert_many([outgoing, odd, make_call(3, number="00893414930")])
    code, out, _ = run(capsys, "--db", str(path))
    assert code == 0
    assert "089 3414930" in out and "00893414930" not in out
    assert "01519375336" in out and "001519375336" not in out     # rejected: no trunk digit
    line = next(li for li in out.splitlines() if "outgoing" in li)
    assert "030 23125206" in line and line.endswith("answered at 030 23125206")
    assert "0030" not in out
    # Programs get the numbers as the PBX reported them.
    _, out, _ = run(capsys, "--db", str(path), "--format", "json")
    assert {d["remote_number"] for d in json.loads(out)} == {
        "003023125206", "001519375336", "00893414930"}
    _, out, _ = run(capsys, "--db", str(path), "--format", "csv")
    assert {r["remote_number"] for r in csv.DictReader(io.StringIO(out))} == {
        "003023125206", "001519375336", "00893414930"}


def test_the_table_follows_the_apps_numbering_settings_and_leaves_the_file_alone(
        tmp_path, capsys, monkeypatch):
    from cstapopup.settings import Settings

    config = tmp_path / "cfg"
    monkeypatch.setenv("CSTAPOPUP_CONFIG_DIR", str(config))
    settings = Settings(config / "config.toml")
    settings.update({"numbers.trunk_prefix": ""})       # this PBX sends no trunk digit
    settings.save()
    path = tmp_path / "numbers.sqlite3"
    with HistoryStore(path) as s:
        s.upsert(make_call(1, number="01519375336"))    # no valid reading either way
    _, out, _ = run(capsys, "--db", str(path))
    assert "01519375336" in out                         # its 0 is not a trunk digit here
    monkeypatch.setenv("CSTAPOPUP_CONFIG_DIR", str(tmp_path / "none"))
    _, out, _ = run(capsys, "--db", str(path))
    assert " 1519375336 " in out                        # the default plan: trunk digit 0
    # A settings file it cannot use is left where it is (the app deals with it).
    monkeypatch.setenv("CSTAPOPUP_CONFIG_DIR", str(config))
    (config / "config.toml").write_text("this is [not toml", encoding="utf-8")
    code, out, _ = run(capsys, "--db", str(path))
    assert code == 0 and " 1519375336 " in out          # the defaults, as the app would
    assert (config / "config.toml").read_text() == "this is [not toml"
    assert list(config.iterdir()) == [config / "config.toml"]


def test_an_empty_search_says_what_found_nothing(db, capsys):
    _, out, _ = run(capsys, "--db", str(db), "--search", "Zacharias")
    assert out.strip() == "No calls match “Zacharias”."
    _, out, _ = run(capsys, "--db", str(db), "--search", "Zacharias", "--missed")
    assert out.strip() == "No missed calls match “Zacharias”."
