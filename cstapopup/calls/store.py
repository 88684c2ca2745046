"""The durable call history: one SQLite row per `Call`, with the indexes the history window needs.

`HistoryStore` owns the database file (location, permissions, schema migrations, recovery from a
damaged file) and every query the UI and `cstapopup history` run against it.

Threading: a store is used from one thread only (the app's asyncio/Qt loop thread).  The
connection is opened with sqlite3's default ``check_same_thread=True``, so use from another thread
fails loudly instead of corrupting state; other processes (the CLI while the app runs) are fine,
SQLite's WAL mode lets them read while the app writes.

Who may write: one *recording* writer per file (``writer=True``: the app, or `cstapopup monitor
--record`), held by an exclusive lock on ``<file>.lock`` for the writer's life; a second one is
refused with `HistoryInUseError` (two trackers would give the same call two keys, so two rows).
Single edits (``history --mark-done``) go through SQLite's own locking.  ``readonly=True`` never
writes anything, not even a recovery.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import os
import re
import sqlite3
import sys
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Self, TypeVar, overload

import platformdirs

from cstapopup.calls.model import Call, Direction, Hop, Outcome, PhoneNote
from cstapopup.i18n import QT_TRANSLATE_NOOP

log = logging.getLogger(__name__)

APP_NAME = "cstapopup"
FILE_NAME = "history.sqlite3"
#: Overrides the directory of the default database (tests and the demo point it at a temp dir).
DATA_DIR_ENV = "CSTAPOPUP_DATA_DIR"
#: Written into the database header ("CSTA") so that a foreign SQLite file is never migrated.
APPLICATION_ID = 0x43535441
DEFAULT_BUSY_TIMEOUT = 5.0
#: Search text shorter than this cannot use the trigram index (see `HistoryStore.search`).
MIN_INDEXED_TEXT = 3
DEFAULT_LIMIT = 100

#: A function giving the normalised lookup keys of a raw number (e.g. ``["+49891234567"]``);
#: the app passes one built on `cstapopup.calls.numbers.lookup_keys` with the user's dial plan.
Normaliser = Callable[[str], Sequence[str]]

# Primary result codes (the low byte of sqlite3.Error.sqlite_errorcode).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26
#: What each condition means for the user, in a few words (`HistoryError.reason`).
_REASONS = {
    _SQLITE_PERM: QT_TRANSLATE_NOOP("HistoryReason", "permission denied"),
    _SQLITE_BUSY: QT_TRANSLATE_NOOP("HistoryReason", "it is locked by another program"),
    _SQLITE_LOCKED: QT_TRANSLATE_NOOP("HistoryReason", "it is locked by another program"),
    _SQLITE_READONLY: QT_TRANSLATE_NOOP("HistoryReason", "the file cannot be written (read-only)"),
    _SQLITE_IOERR: QT_TRANSLATE_NOOP("HistoryReason", "a disk I/O error"),
    _SQLITE_CORRUPT: QT_TRANSLATE_NOOP("HistoryReason", "the file is damaged"),
    _SQLITE_FULL: QT_TRANSLATE_NOOP("HistoryReason", "the disk is full"),
    _SQLITE_CANTOPEN: QT_TRANSLATE_NOOP("HistoryReason", "the file cannot be opened"),
    _SQLITE_NOTADB: QT_TRANSLATE_NOOP("HistoryReason", "the file is damaged"),
}

_SQLITE_HEADER = b"SQLite format 3\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


#: `HistoryError.reason` when the file (or its -wal / -shm) has the immutable attribute.
IMMUTABLE = QT_TRANSLATE_NOOP(
    "HistoryReason",
    "the file is immutable (chattr +i); remove that attribute to let calls be saved",
)


class HistoryError(Exception):
    """Something is wrong with the call history database; the message is meant for the user.

    `reason` says the condition in a few words ("the disk is full"), for a status line.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class HistoryLockedError(HistoryError):
    """Another process held a write lock on the database for longer than the busy timeout."""


class HistoryCorruptError(HistoryError):
    """The database file is damaged; `HistoryStore.recover()` moves it aside and starts afresh."""


class HistoryEmptyError(HistoryError):
    """A read-only open found an empty file: no call was ever recorded into it."""


class HistoryInUseError(HistoryError):
    """Another program already records calls into this history file (one writer per file)."""


def default_path() -> Path:
    """Where the history lives unless told otherwise: the user data dir, or $CSTAPOPUP_DATA_DIR."""
    override = os.environ.get(DATA_DIR_ENV)
    folder = (
        Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    )
    return folder / FILE_NAME


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """The filters of the history window and of `cstapopup history`; all given ones must match.

    `text` matches the name, company, number or phone note (its text and whom it is for)
    (substring); `number` matches every stored format of one number; `devices` matches calls
    that involved any of the devices; `noted`: only calls with a phone note; `since` is
    inclusive and `until` exclusive (timezone-aware datetimes).
    """

    text: str | None = None
    number: str | None = None
    direction: Direction | None = None
    missed: bool = False
    not_done: bool = False
    devices: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    noted: bool = False

    def __post_init__(self) -> None:
        # Accept what callers naturally have (a str direction, a list or a single device).
        if isinstance(self.devices, str):
            object.__setattr__(self, "devices", (self.devices,))
        else:
            object.__setattr__(self, "devices", tuple(self.devices))
        if self.direction is not None and not isinstance(self.direction, Direction):
            object.__setattr__(self, "direction", Direction(self.direction))
        if self.text is not None and not self.text.strip():
            object.__setattr__(self, "text", None)


# --- schema -------------------------------------------------------------------------------------
#
# Times are INTEGER microseconds since the epoch (UTC): exact, compact, and range-indexable.
#
# The row id of a call is its start time: (started_at in µs << 10) | n, n counting calls that
# start in the same microsecond.  So rowid order is time order, in the table and in every index
# (an index entry ends with the rowid), the FTS5 doclists included: "newest first" walks any
# index backwards and stops after one page, where a separate time column would make SQLite
# collect and sort every match first (a common surname matches tens of thousands of calls).
# Time filters are rowid ranges.  The id changes only if a call's started_at does.
#
# `calls` is the one row per call; `call_devices` and `call_numbers` are index tables (one row per
# device / number key of a call) with the looked-up value first in their primary key, so "by
# device" and "by number" are index range reads, again in time order.  `missed` repeats
# Call.is_missed so that partial indexes can serve the missed list and the badge.

_SCHEMA_1 = (
    """
    CREATE TABLE calls (
        id             INTEGER PRIMARY KEY,  -- (started_at << 10) | n: see above
        key            TEXT    NOT NULL UNIQUE,
        direction      TEXT    NOT NULL,
        started_at     INTEGER NOT NULL,
        remote_number  TEXT,
        remote_kind    TEXT    NOT NULL,
        remote_name    TEXT,
        remote_company TEXT,
        local_devices  TEXT    NOT NULL,  -- JSON array in the order seen; call_devices indexes it
        called_number  TEXT,
        trunk          TEXT,
        answered_at    INTEGER,
        ended_at       INTEGER,
        end_unknown    INTEGER NOT NULL,
        outcome        TEXT    NOT NULL,
        answered_by    TEXT,
        transferred_to TEXT,
        diverted_to    TEXT,
        hops           TEXT    NOT NULL,  -- JSON [[kind, device, µs after start, detail?], ...]
        done           INTEGER NOT NULL,
        updated_at     INTEGER,
        missed         INTEGER NOT NULL,
        search_number  TEXT               -- digits of remote_number, then its normalised keys
    )
    """,
    # Each is (column, rowid), i.e. in time order within one value.
    "CREATE INDEX calls_by_direction ON calls(direction)",
    # Just the ids: counting a time range (or everything) reads this narrow index instead of
    # every row's page; 1M calls: 1.5 ms instead of 90 ms for a month, read cold.
    "CREATE INDEX calls_by_id ON calls(id)",
    "CREATE INDEX calls_missed ON calls(missed) WHERE missed = 1",
    "CREATE INDEX calls_missed_open ON calls(done) WHERE missed = 1 AND done = 0",
    """
    CREATE TABLE call_devices (
        device     TEXT    NOT NULL,
        call_id    INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        PRIMARY KEY (device, call_id)
    ) WITHOUT ROWID
    """,
    # Without it every cascaded delete would scan the whole side table.
    "CREATE INDEX call_devices_by_call ON call_devices(call_id)",
    """
    CREATE TABLE call_numbers (
        number_key TEXT    NOT NULL,  -- 'd:' digits only | 'n:' normaliser key | 't:' no digits
        call_id    INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        PRIMARY KEY (number_key, call_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX call_numbers_by_call ON call_numbers(call_id)",
    # The total for the unfiltered count: counting even the narrowest index of a history grown
    # over years reads pages spread through the whole file (1M calls: ~0.5 s from disk).
    "CREATE TABLE call_count (n INTEGER NOT NULL)",
    "INSERT INTO call_count VALUES (0)",
    """CREATE TRIGGER calls_count_insert AFTER INSERT ON calls BEGIN
        UPDATE call_count SET n = n + 1;
    END""",
    """CREATE TRIGGER calls_count_delete AFTER DELETE ON calls BEGIN
        UPDATE call_count SET n = n - 1;
    END""",
    f"PRAGMA application_id = {APPLICATION_ID}",
)

# The text index: an external-content FTS5 table over calls (no second copy of the text), kept
# in step by triggers.  The update trigger fires only when a searched column really changed,
# because the tracker rewrites a live call on every event.
_FTS_TOKENIZERS = {
    # Substring matching for any 3+ characters (SQLite >= 3.34).
    "trigram": "tokenize='trigram'",
    # Older SQLite: word-prefix matching, with prefix indexes for short prefixes.
    "words": "tokenize='unicode61 remove_diacritics 1', prefix='2 3'",
}
_FTS_COLUMNS = ("remote_name", "remote_company", "search_number")
_FTS_TRIGGERS = (
    """
    CREATE TRIGGER calls_fts_insert AFTER INSERT ON calls BEGIN
        INSERT INTO calls_fts(rowid, remote_name, remote_company, search_number)
        VALUES (new.id, new.remote_name, new.remote_company, new.search_number);
    END
    """,
    """
    CREATE TRIGGER calls_fts_delete AFTER DELETE ON calls BEGIN
        INSERT INTO calls_fts(calls_fts, rowid, remote_name, remote_company, search_number)
        VALUES ('delete', old.id, old.remote_name, old.remote_company, old.search_number);
    END
    """,
    """
    CREATE TRIGGER calls_fts_update AFTER UPDATE OF remote_name, remote_company, search_number
    ON calls
    WHEN old.remote_name IS NOT new.remote_name OR old.remote_company IS NOT new.remote_company
      OR old.search_number IS NOT new.search_number
    BEGIN
        INSERT INTO calls_fts(calls_fts, rowid, remote_name, remote_company, search_number)
        VALUES ('delete', old.id, old.remote_name, old.remote_company, old.search_number);
        INSERT INTO calls_fts(rowid, remote_name, remote_company, search_number)
        VALUES (new.id, new.remote_name, new.remote_company, new.search_number);
    END
    """,
)


@functools.lru_cache(maxsize=1)
def _search_support() -> str:
    """The best text index this SQLite has: "trigram", "words" (FTS5, no trigrams) or "scan"."""
    probe = sqlite3.connect(":memory:")
    try:
        for mode in ("trigram", "words"):
            if mode == "trigram" and sqlite3.sqlite_version_info < (3, 34, 0):
                continue
            try:
                probe.execute(
                    f"CREATE VIRTUAL TABLE t_{mode} USING fts5(a, {_FTS_TOKENIZERS[mode]})"
                )
                return mode
            except sqlite3.OperationalError:
                continue
        return "scan"
    finally:
        probe.close()


def _migration_1(conn: sqlite3.Connection) -> None:
    """The initial schema; the text index is the best this SQLite has (recorded in the schema)."""
    for statement in _SCHEMA_1:
        conn.execute(statement)
    mode = _search_support()
    if mode != "scan":
        columns = ", ".join(_FTS_COLUMNS)
        conn.execute(
            f"CREATE VIRTUAL TABLE calls_fts USING fts5({columns}, content='calls', "
            f"content_rowid='id', {_FTS_TOKENIZERS[mode]})"
        )
        for statement in _FTS_TRIGGERS:
            conn.execute(statement)
    else:
        log.warning(
            "SQLite %s has no FTS5: history text search will scan the table", sqlite3.sqlite_version
        )


Migration = Callable[[sqlite3.Connection], None]


#: Applied in order; the database's PRAGMA user_version is the number of those applied.  To change
#: the schema, append a function (never edit a released one): it runs inside the same transaction
#: as the version bump, so a failed migration leaves the file as it was.
def _migration_2(conn: sqlite3.Connection) -> None:
    """Calls without a seen end (live, or closed as "end unknown"), so that a recorder that
    starts can settle what a previous run left in progress, and find recent ones to continue,
    without reading the whole table."""
    # Not on updated_at: every event of a live call changes it, and would rewrite the entry.
    conn.execute("CREATE INDEX calls_unended ON calls(end_unknown) WHERE ended_at IS NULL")


# Schema 3: phone notes.  The note lives in the call's own row (no second table whose rows
# would have to follow the row id, which changes when a call's start moves), in columns the
# tracker's writes never name: an upsert cannot lose a note.  The text index is built anew
# with the note's text and whom it is for (FTS5 cannot add a column to a table); over an old
# history that reads every row once (measured: benchmarks/history.py --migrate).
_NOTE_COLUMNS = (
    "note_text",
    "note_for_name",
    "note_for_number",
    "note_callback",
    "note_at",
    "note_by",
)
_FTS_COLUMNS_3 = (*_FTS_COLUMNS, "note_text", "note_for_name")


def _fts_triggers(columns: Sequence[str]) -> tuple[str, ...]:
    """The triggers that keep an external-content index over `columns` of calls in step."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    return (
        f"""CREATE TRIGGER calls_fts_insert AFTER INSERT ON calls BEGIN
            INSERT INTO calls_fts(rowid, {names}) VALUES (new.id, {new});
        END""",
        f"""CREATE TRIGGER calls_fts_delete AFTER DELETE ON calls BEGIN
            INSERT INTO calls_fts(calls_fts, rowid, {names}) VALUES ('delete', old.id, {old});
        END""",
        # Only when a searched column really changed: the tracker rewrites a live call on
        # every event.
        f"""CREATE TRIGGER calls_fts_update AFTER UPDATE OF {names} ON calls WHEN {changed}
        BEGIN
            INSERT INTO calls_fts(calls_fts, rowid, {names}) VALUES ('delete', old.id, {old});
            INSERT INTO calls_fts(rowid, {names}) VALUES (new.id, {new});
        END""",
    )


def _migration_3(conn: sqlite3.Connection) -> None:
    """Phone notes: their columns, the calls that have one (a partial index: few calls do),
    and the text index covering the note."""
    for column, kind in zip(_NOTE_COLUMNS, ("TEXT", "TEXT", "TEXT", "INTEGER", "INTEGER", "TEXT")):
        conn.execute(f"ALTER TABLE calls ADD COLUMN {column} {kind}")
    conn.execute("CREATE INDEX calls_noted ON calls(note_callback) WHERE note_at IS NOT NULL")
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'calls_fts'").fetchone()
    if row is None:
        return  # no FTS5 here: text search scans, and the scan reads the note columns too
    mode = "trigram" if "trigram" in row[0] else "words"
    for trigger in ("calls_fts_insert", "calls_fts_delete", "calls_fts_update"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("DROP TABLE calls_fts")
    conn.execute(
        f"CREATE VIRTUAL TABLE calls_fts USING fts5({', '.join(_FTS_COLUMNS_3)}, "
        f"content='calls', content_rowid='id', {_FTS_TOKENIZERS[mode]})"
    )
    for statement in _fts_triggers(_FTS_COLUMNS_3):
        conn.execute(statement)
    conn.execute("INSERT INTO calls_fts(calls_fts) VALUES ('rebuild')")


MIGRATIONS: tuple[Migration, ...] = (_migration_1, _migration_2, _migration_3)


# --- conversions ---------------------------------------------------------------------------------


def _to_us(t: datetime) -> int:
    if t.tzinfo is not UTC and (t.tzinfo is None or t.utcoffset() is None):
        raise ValueError(f"naive datetime {t!r}: the history stores timezone-aware times only")
    return (t - _EPOCH) // _MICROSECOND


#: Calls that start in the same microsecond get ids base, base + 1, ... (up to 1024 of them).
_ID_SHIFT = 10
_ID_SLOTS = 1 << _ID_SHIFT


def _id_base(started_us: int) -> int:
    return started_us << _ID_SHIFT


@overload
def _from_us(value: int) -> datetime: ...
@overload
def _from_us(value: int | None) -> datetime | None: ...
def _from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _opt_us(t: datetime | None) -> int | None:
    return None if t is None else _to_us(t)


def _digits(raw: str) -> str:
    return re.sub(r"\D", "", raw)


# One encoder: json.dumps with options builds a new one for every call (twice per write).
_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@functools.lru_cache(maxsize=256)
def _devices_json(devices: tuple[str, ...]) -> str:
    return _compact_json(list(devices))


def _hops_to_json(hops: Sequence[Hop], started_us: int) -> str:
    # Offsets from the start instead of ISO strings: the column is ~3x smaller at a million rows.
    rows = []
    for h in hops:
        row: list[Any] = [h.kind, h.device, _to_us(h.at) - started_us]
        if h.detail is not None:
            row.append(h.detail)
        rows.append(row)
    return _compact_json(rows)


def _hops_from_json(text: str, started_us: int) -> tuple[Hop, ...]:
    return tuple(
        Hop(
            kind,
            device,
            _EPOCH + timedelta(microseconds=started_us + offset),
            rest[0] if rest else None,
        )
        for kind, device, offset, *rest in json.loads(text)
    )


_CALL_COLUMNS = (
    "key",
    "direction",
    "started_at",
    "remote_number",
    "remote_kind",
    "remote_name",
    "remote_company",
    "local_devices",
    "called_number",
    "trunk",
    "answered_at",
    "ended_at",
    "end_unknown",
    "outcome",
    "answered_by",
    "transferred_to",
    "diverted_to",
    "hops",
    "done",
    "updated_at",
    "missed",
)
_SELECT_CALL = ", ".join(f"c.{name}" for name in _CALL_COLUMNS[:-1])
# The note's columns follow in every query; a history older than schema 3 (only ever opened
# read-only: a writer migrates it) has none, and reads NULLs instead.
_SELECT_NOTE = "".join(f", c.{name}" for name in _NOTE_COLUMNS)
_SELECT_NO_NOTE = ", NULL" * len(_NOTE_COLUMNS)
_INSERT_CALL = (
    f"INSERT INTO calls (id, {', '.join(_CALL_COLUMNS)}, search_number) "
    f"VALUES ({', '.join('?' * (len(_CALL_COLUMNS) + 2))})"
)
# A new key in one statement: the id is the next free one of its start time, and a key that
# is there already makes it a no-op (rowcount 0) instead of a SELECT first for every call.
_INSERT_NEW_CALL = (
    f"INSERT INTO calls (id, {', '.join(_CALL_COLUMNS)}, search_number) "
    f"SELECT coalesce(max(id) + 1, ?), "
    f"{', '.join('?' * (len(_CALL_COLUMNS) + 1))} FROM calls "
    f"WHERE id >= ? AND id < ? ON CONFLICT(key) DO NOTHING"
)
# `done` is sticky: the tracker never un-does what the user marked (mark_done(key, False) can).
_UPDATED = tuple(i for i, name in enumerate(_CALL_COLUMNS) if name not in ("key", "done"))
#: Rows the store wrote lately, by key: (id, the `_call_values` written, search_number), so
#: that the tracker's next update of a call needs no SELECT first and sets only the columns
#: that changed (an UPDATE that sets an indexed column rewrites that index entry even when
#: the value is the same: four indexes for every event of a call).  About 1 KB a row.
_ROW_CACHE = 1024
_DONE = _CALL_COLUMNS.index("done")


def _call_values(call: Call) -> tuple[Any, ...]:
    """The `_CALL_COLUMNS` values of a call."""
    started = _to_us(call.started_at)
    return (
        call.key,
        Direction(call.direction).value,
        started,
        call.remote_number,
        call.remote_kind,
        call.remote_name,
        call.remote_company,
        _devices_json(call.local_devices),
        call.called_number,
        call.trunk,
        _opt_us(call.answered_at),
        _opt_us(call.ended_at),
        int(call.end_unknown),
        Outcome(call.outcome).value,
        call.answered_by,
        call.transferred_to,
        call.diverted_to,
        _hops_to_json(call.hops, started),
        int(call.done),
        _opt_us(call.updated_at),
        int(call.is_missed),
    )


def _note_from_values(values: Sequence[Any]) -> PhoneNote | None:
    """The note of a row (its `_NOTE_COLUMNS` values); None when it has none."""
    text, for_name, for_number, callback, at, by = values
    if at is None:
        return None
    return PhoneNote(
        text=text or "",
        for_name=for_name,
        for_number=for_number,
        callback=bool(callback),
        written_at=_from_us(at),
        written_by=by,
    )


def _note_values(note: PhoneNote | None) -> tuple[Any, ...]:
    """The `_NOTE_COLUMNS` values of a note (all NULL: no note)."""
    if note is None:
        return (None,) * len(_NOTE_COLUMNS)
    at = note.written_at or datetime.now(UTC)
    return (
        note.text.strip() or None,
        (note.for_name or "").strip() or None,
        (note.for_number or "").strip() or None,
        int(note.callback),
        _to_us(at),
        note.written_by or None,
    )


def _call_from_row(row: Sequence[Any]) -> Call:
    """A call from `SELECT {_SELECT_CALL}{_SELECT_NOTE}` (more columns may follow)."""
    (
        key,
        direction,
        started,
        remote_number,
        remote_kind,
        remote_name,
        remote_company,
        devices,
        called_number,
        trunk,
        answered,
        ended,
        end_unknown,
        outcome,
        answered_by,
        transferred_to,
        diverted_to,
        hops,
        done,
        updated,
    ) = row[:20]
    return Call(
        key=key,
        direction=Direction(direction),
        started_at=_from_us(started),
        remote_number=remote_number,
        remote_kind=remote_kind,
        remote_name=remote_name,
        remote_company=remote_company,
        local_devices=tuple(json.loads(devices)),
        called_number=called_number,
        trunk=trunk,
        answered_at=_from_us(answered),
        ended_at=_from_us(ended),
        end_unknown=bool(end_unknown),
        outcome=Outcome(outcome),
        answered_by=answered_by,
        transferred_to=transferred_to,
        diverted_to=diverted_to,
        hops=_hops_from_json(hops, started),
        done=bool(done),
        updated_at=_from_us(updated),
        note=_note_from_values(row[20 : 20 + len(_NOTE_COLUMNS)]),
    )


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


_NUMBERISH = re.compile(r"[\d\s+\-/().]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _tokens(text: str) -> list[str]:
    """Words as FTS5's unicode61 tokenizer (remove_diacritics 1) sees them."""
    plain = unicodedata.normalize("NFKD", text.lower())
    return re.findall(r"[^\W_]+", "".join(ch for ch in plain if not unicodedata.combining(ch)))


_F = TypeVar("_F", bound=Callable[..., Any])


def _translated(method: _F) -> _F:
    """Turn sqlite3 errors raised by a public method into HistoryError subclasses."""

    @functools.wraps(method)
    def wrapper(self: HistoryStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise  # our bug or misuse (e.g. wrong thread), not a database condition
            raise self._error(exc) from exc

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


# statx(2) attributes (Linux): chattr +i and +a.  Read by path, without opening the file:
# closing any descriptor of a file drops every POSIX lock this process holds on it, SQLite's
# included (another process finding the -shm unlocked would start it afresh under our memory
# map: SIGBUS), so nothing here opens a file that SQLite has open.
_STATX_ATTR_IMMUTABLE = 0x10
_STATX_ATTR_APPEND = 0x20
_AT_FDCWD = -100


@functools.lru_cache(maxsize=1)
def _statx() -> Any:
    """libc's statx and a buffer for it, or None (not Linux, or a libc without it)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.statx
    except (OSError, AttributeError):
        return None
    return call, ctypes.create_string_buffer(256)


def _is_immutable(path: Path | bytes) -> bool:
    """Whether the file has the immutable or append-only attribute (False where unknown)."""
    found = _statx()
    if found is None:
        return False
    call, buf = found
    name = path if isinstance(path, bytes) else os.fsencode(path)
    if call(_AT_FDCWD, name, 0, 0, buf) != 0:
        return False
    attributes = int.from_bytes(buf.raw[8:16], sys.byteorder)  # struct statx: stx_attributes
    return bool(attributes & (_STATX_ATTR_IMMUTABLE | _STATX_ATTR_APPEND))


#: (st_dev, st_ino) of the history files this process has open, with how many stores: a
#: second store on an open file must not open and close it (see above) to check its header.
_OPEN_FILES: dict[tuple[int, int], int] = {}


class _WriterLock:
    """The one recording writer of a history file: an exclusive lock on ``<file>.lock``, held
    while the writer lives.  The system drops it when the process ends, even by kill -9."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            # No lock file possible (read-only folder): opening the database fails the same way,
            # with a message about the database itself.
            log.debug("no writer lock at %s: %s", self.path, exc)
            return
        if not _try_lock(fd):
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                os.lseek(fd, 0, os.SEEK_SET)
                holder = os.read(fd, 64).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            database = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise HistoryInUseError(
                f"The call history at {database} is already being recorded by another "
                f"program{who}: the cstapopup app or `cstapopup monitor --record`. Only one "
                f"program records into one history file (two would store every call twice); "
                f"stop the other one, or give this one another file (--db).",
                reason="another program records into this history",
            )
        with contextlib.suppress(OSError):
            # Who holds it, for the message the next one gets.  (On Windows the locked byte
            # is unreadable to others: they get the message without the number.)
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
        st = os.fstat(fd)
        self._fd, self._identity = fd, (st.st_dev, st.st_ino)

    def ensure(self) -> None:
        """Take the lock again if its file was deleted (with the history's folder, say)."""
        if self._fd is not None:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._identity:
                    return
            except OSError:
                pass
        self.release()
        self.acquire()

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the lock


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Select:
    """A built query: its SQL and parameters (a query's last column is the cursor id)."""

    sql: str
    params: tuple[Any, ...]


class HistoryStore:
    """The call history in one SQLite file: one row per call, keyed by `Call.key`.

    Opening creates the file (mode 0600, in a 0700 directory) and migrates its schema.  A
    damaged file is moved aside to ``<name>.corrupt-<UTC timestamp>`` (with its -wal/-shm) and a
    new one started; `recovered_from` then says where the old one went, for the UI to tell the
    user.  ``recover=False`` raises `HistoryCorruptError` instead (only the recorder moves a
    damaged file aside); ``readonly=True`` opens an existing file for reading only and never
    writes (no creation, migration or recovery).  ``writer=True``: the one recording writer of
    this file (see the module docstring).  Use from one thread only.

    Grouped commits: with `deferred` set (the recorder sets it), `upsert`, `mark_done_for_remote`
    and ``delete(defer=True)`` leave their transaction open, to be committed by `commit()`; the
    caller promises when that happens.  Every other write commits at once (and with it whatever
    was waiting).  This connection reads its own uncommitted writes; other processes see them
    after the commit.  `on_batch_end(committed)` hears when waiting writes were committed (True)
    or undone by a failure (False), whoever caused it.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        normalise: Normaliser | None = None,
        busy_timeout: float | None = None,
        readonly: bool = False,
        recover: bool = True,
        writer: bool = False,
    ) -> None:
        self.path: Path = Path(path) if path is not None else default_path()
        self.busy_timeout = DEFAULT_BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        self.readonly = readonly
        self.writer = writer and not readonly
        self.recovered_from: Path | None = None
        self.recovery_reason: str | None = None
        self.search_mode: str = "scan"
        #: Whether the file has the phone notes' columns (schema 3 on; an older one is only
        #: ever read, read-only).
        self.has_notes = False
        self._select = _SELECT_CALL + _SELECT_NO_NOTE
        self.deferred = False
        self.on_batch_end: Callable[[bool], None] | None = None
        #: The monotonic clock of `waiting_since` (the recorder gives its own).
        self.timer: Callable[[], float] = time.monotonic
        self._normalise = normalise
        self._depth = 0
        self._batch_since: float | None = None  # time.monotonic() of the oldest waiting write
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._lock: _WriterLock | None = None
        self._file_names = tuple(
            os.fsencode(f"{self.path}{suffix}") for suffix in ("", "-wal", "-shm")
        )
        self._shm_name = self._file_names[2]
        self._registered: tuple[int, int] | None = None
        self._parked: list[sqlite3.Connection] = []
        self._rows: OrderedDict[str, tuple[int, tuple[Any, ...], str | None]] = OrderedDict()
        if self.writer:
            self._lock = _WriterLock(self.lock_path)
            self._lock.acquire()
        try:
            self._connect(recover)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def _connect(self, recover: bool) -> None:
        try:
            self._conn = self._open()
        except HistoryCorruptError as exc:
            if not recover or self.readonly:
                raise
            self._move_aside(str(exc.__cause__ or exc))
            self._conn = self._open()

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    # --- opening, recovery --------------------------------------------------------------------

    def _prepare_file(self) -> None:
        folder = self.path.parent
        try:
            if not folder.is_dir():
                # 0700: call history is personal data (who called whom, when).
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                # Created here rather than by SQLite, to get 0600 whatever the umask; SQLite
                # gives the -wal and -shm files the same mode.
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise HistoryError(
                f"Cannot create the call history at {self.path}: {exc}",
                reason=f"cannot create the file ({exc.strerror or exc})",
            ) from exc

    def _open(self) -> sqlite3.Connection:
        """Connect, set up and migrate; HistoryCorruptError if the file is damaged."""
        if self.readonly:
            return self._open_readonly()
        self._prepare_file()
        # Checked before SQLite sees the file: SQLite would delete a -wal next to a file whose
        # header it cannot read, and that WAL may hold the newest calls.
        self._check_header()
        try:
            # More cached statements: the tracker's updates name the columns that changed.
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, cached_statements=256
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                log.warning("call history %s: WAL unavailable (journal_mode=%s)", self.path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # 2 MB of pages: the hot index pages stay, and the cache is full early.  It grows
            # with the pages the recorder touches: 16 MB made the app grow for hours, and 4 MB
            # still for the first ~7 minutes of the soak's 10 calls/s (0.5 MB/min at its
            # end); the history benchmark's queries at 300,000 calls are as fast with 2 MB.
            conn.execute("PRAGMA cache_size = -2000")
            # The database file is read and written, never memory-mapped: a mapped file that
            # stops being writable (full disk, chattr +i) kills the process with SIGBUS instead
            # of returning an error.  (The -shm of WAL mode is mapped whatever this says: see
            # `file_problem`.)
            conn.execute("PRAGMA mmap_size = 0")
            self._migrate(conn)
            self.search_mode = self._detect_search_mode(conn)
            self._detect_notes(conn)
            self._probe(conn)
        except sqlite3.Error as exc:
            conn.close()
            if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise
            raise self._error(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._identity = self._stat_identity()
        self._register()
        return conn

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise HistoryError(
                f"There is no call history at {self.path}", reason="the file does not exist"
            )
        self._check_header()
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, isolation_level=None)
            try:
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # A WAL file on read-only media (no -shm can be made): readable as immutable,
                # if nothing waits in a -wal that this would not see.
                wal = Path(f"{self.path}-wal")
                if wal.exists() and wal.stat().st_size:
                    raise
                conn.close()
                conn = sqlite3.connect(
                    f"{uri}&immutable=1", uri=True, timeout=self.busy_timeout, isolation_level=None
                )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            conn.execute("PRAGMA mmap_size = 0")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if app_id not in (0, APPLICATION_ID) or (
                version == 0
                and conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None
            ):
                raise HistoryError(f"{self.path} is not a cstapopup call history")
            if version > len(MIGRATIONS):
                raise HistoryError(
                    f"The call history at {self.path} was written by a newer cstapopup (schema "
                    f"{version}, this version knows up to {len(MIGRATIONS)}); please update"
                )
            if version == 0:
                raise HistoryEmptyError(
                    f"The call history at {self.path} is empty (no calls "
                    f"were recorded into it yet)",
                    reason="the file is empty",
                )
            self.search_mode = self._detect_search_mode(conn)
            self._detect_notes(conn)
            self._probe(conn)
        except sqlite3.Error as exc:
            conn.close()
            if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise
            raise self._error(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._register()
        return conn

    def _register(self) -> None:
        self._unregister()
        identity = self._stat_identity()
        if identity is not None:
            _OPEN_FILES[identity] = _OPEN_FILES.get(identity, 0) + 1
            self._registered = identity

    def _unregister(self) -> None:
        identity, self._registered = self._registered, None
        if identity is not None:
            left = _OPEN_FILES.get(identity, 1) - 1
            if left > 0:
                _OPEN_FILES[identity] = left
            else:
                _OPEN_FILES.pop(identity, None)

    def _check_header(self) -> None:
        if self._stat_identity() in _OPEN_FILES:
            return  # open in this process already, so checked (and not to be opened: above)
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise HistoryError(
                f"Cannot read the call history at {self.path}: {exc}",
                reason=f"cannot read the file ({exc.strerror or exc})",
            ) from exc
        if head and head != _SQLITE_HEADER:
            raise HistoryCorruptError(
                "file is not a database (no SQLite header)", reason="the file is damaged"
            )

    @staticmethod
    def _probe(conn: sqlite3.Connection) -> None:
        # Touch the tables and indexes every query uses, so a damaged file shows now, at
        # open, rather than in the middle of the user's work.
        conn.execute("SELECT * FROM calls ORDER BY id DESC LIMIT 1").fetchall()
        conn.execute(
            "SELECT id FROM calls WHERE missed = 1 AND done = 0 ORDER BY id DESC LIMIT 1"
        ).fetchall()

    def _stat_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            raise HistoryError(
                f"{self.path} is not a cstapopup call history (application id "
                f"{app_id:#x}); it was left untouched"
            )
        if version > len(MIGRATIONS):
            raise HistoryError(
                f"The call history at {self.path} was written by a newer cstapopup (schema "
                f"{version}, this version knows up to {len(MIGRATIONS)}); please update cstapopup"
            )
        if version == 0:
            foreign = conn.execute(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' LIMIT 1"
            ).fetchone()
            if foreign is not None:
                raise HistoryError(
                    f"{self.path} is an SQLite database but not a cstapopup call history (it has "
                    f"a table {foreign[0]!r}); it was left untouched"
                )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have migrated meanwhile.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    conn.execute("ROLLBACK")
                    continue
                MIGRATIONS[number - 1](conn)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and self._is_lock_or_corruption(exc):
                    raise
                if isinstance(exc, Exception) and not isinstance(exc, HistoryError):
                    raise HistoryError(
                        f"Cannot update the call history at {self.path} to schema {number}: {exc}"
                    ) from exc
                raise
            log.info("call history %s: migrated to schema %d", self.path, number)

    @staticmethod
    def _is_lock_or_corruption(exc: sqlite3.Error) -> bool:
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        return code in (_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CORRUPT, _SQLITE_NOTADB)

    def _detect_search_mode(self, conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'calls_fts'").fetchone()
        if row is None:
            return "scan"
        mode = "trigram" if "trigram" in row[0] else "words"
        try:
            conn.execute("SELECT rowid FROM calls_fts LIMIT 0").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such module" in str(exc) or "tokenizer" in str(exc):
                raise HistoryError(
                    f"The call history at {self.path} uses SQLite full-text search ({mode}), "
                    f"which this SQLite {sqlite3.sqlite_version} lacks: {exc}"
                ) from exc
            raise
        return mode

    def _detect_notes(self, conn: sqlite3.Connection) -> None:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
        self.has_notes = set(_NOTE_COLUMNS) <= columns
        self._select = _SELECT_CALL + (_SELECT_NOTE if self.has_notes else _SELECT_NO_NOTE)

    def _move_aside(self, reason: str) -> Path:
        """Move a damaged file (and its -wal/-shm) out of the way; never delete or overwrite it."""
        if self.readonly:
            raise HistoryError(f"The call history at {self.path} is damaged ({reason})")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while any(Path(f"{target}{s}").exists() for s in ("", "-wal", "-shm")):
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(self.path, target)
            for suffix in ("-wal", "-shm"):
                side = Path(f"{self.path}{suffix}")
                if side.exists():
                    # Same suffixes, so `sqlite3 <target>` still finds the WAL for a rescue.
                    os.replace(side, Path(f"{target}{suffix}"))
        except OSError as exc:
            raise HistoryError(
                f"The call history at {self.path} is damaged ({reason}) and could "
                f"not be moved aside: {exc}"
            ) from exc
        log.error(
            "call history %s was damaged (%s); moved to %s, starting a new one",
            self.path,
            reason,
            target,
        )
        self.recovered_from = target
        self.recovery_reason = reason
        return target

    def recover(self) -> Path:
        """Move the (damaged) database aside and start an empty one; returns where it went.

        For a HistoryCorruptError raised after opening: damage deep inside the file only shows
        when a query reaches it, and the decision to start afresh is the user's.  Not for a
        read-only store.
        """
        if self.readonly:
            raise HistoryError("a read-only call history is never recovered")
        reason = "damaged database found while in use"
        self._disconnect()
        target = self._move_aside(reason)
        self._conn = self._open()
        return target

    def recovery_message(self) -> str | None:
        """A sentence for the user once a damaged database was moved aside, else None."""
        if self.recovered_from is None:
            return None
        return (
            f"The call history was damaged ({self.recovery_reason}). It was moved to "
            f"{self.recovered_from} and a new, empty history was started."
        )

    # --- the file under the connection --------------------------------------------------------

    def file_problem(self) -> str | None:
        """Why writing through the open connection would not keep calls, or None.

        "deleted" (the path is gone: writes would land in a file nobody can open again),
        "replaced" (another file is at the path now), or "immutable" (chattr +i / append-only
        on the file, its -wal or -shm: SQLite maps the -shm into memory, and a write into that
        mapping kills the process with SIGBUS instead of failing).  A stat and, on Linux, one
        ioctl per file: cheap enough for every commit.
        """
        identity = self._stat_identity()
        if identity is None:
            return "deleted"
        if self._identity is not None and identity != self._identity:
            return "replaced"
        if any(_is_immutable(name) for name in self._file_names):
            return "immutable"
        return None

    def shm_immutable(self) -> bool:
        """Whether the -shm file that SQLite maps into memory (WAL mode) has become immutable.

        Any use of the connection then, a read included, can kill the process with SIGBUS
        (SQLite writes into that mapping), and so can closing it.  So every use of the
        connection asks this first (one ioctl on a file kept open: about a microsecond), and
        a connection found so is parked: never used or closed again while it stays so (see
        `_park`).  Between the ask and SQLite's own write there are microseconds: a chattr
        landing exactly there still kills the process."""
        return _is_immutable(self._shm_name)

    def _park(self) -> None:
        """Stop using a connection whose -shm became immutable, without closing it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        lost = conn.in_transaction  # reads the connection's memory only
        self._parked.append(conn)
        self._depth = 0
        log.error(
            "call history %s: its -shm file became immutable; the connection is set "
            "aside untouched (closing it could kill the process)",
            self.path,
        )
        if lost:
            self._batch_lost()

    def _release_parked(self) -> bool:
        """Close parked connections once their files are writable again; False if not yet."""
        if not self._parked:
            return True
        if self.file_problem() == "immutable":
            return False
        for conn in self._parked:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._parked.clear()
        return True

    def reopen(self) -> None:
        """Close the connection (waiting writes are undone and reported through
        `on_batch_end`) and open the file at `path` again, creating it if it is gone.
        HistoryError while it (or its -shm) is immutable."""
        self._disconnect()
        if not self._release_parked() or self.file_problem() == "immutable":
            raise HistoryError(f"Call history {self.path} is immutable", reason=IMMUTABLE)
        if self._lock is not None:
            self._lock.ensure()
        self._connect(recover=True)

    def disconnect(self) -> None:
        """Close the connection but keep the writer's lock (waiting writes are undone and
        reported through `on_batch_end`); `reopen()` opens the file again."""
        self._disconnect()

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def _error(self, exc: sqlite3.Error) -> HistoryError:
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        reason = _REASONS.get(code, str(exc))
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return HistoryLockedError(
                f"The call history at {self.path} is locked by another program (waited "
                f"{self.busy_timeout:g} s): {exc}",
                reason,
            )
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return HistoryCorruptError(f"The call history at {self.path} is damaged: {exc}", reason)
        return HistoryError(f"Call history {self.path}: {exc}", reason)

    def set_normaliser(self, normalise: Normaliser | None) -> None:
        """How numbers are keyed from now on; stored calls keep their keys until
        `reindex_numbers()`."""
        self._normalise = normalise

    def close(self) -> None:
        """Commit what waits (a failure is logged and reported through `on_batch_end`), close
        the file and give up the writer's lock."""
        # No PRAGMA optimize/ANALYZE: the queries are shaped for the planner's defaults (and
        # tested with query_plan); statistics could make it pick differently.
        try:
            if self._conn is not None and self._conn.in_transaction:
                try:
                    self.commit()
                except HistoryError as exc:
                    log.error("call history %s: the last writes were not saved: %s", self.path, exc)
            self._disconnect()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            if not self._release_parked():
                # Still immutable: closing would write into the mapped -shm (SIGBUS), and so
                # would the garbage collector.  Left open for good; the system closes it at
                # exit, and what was committed is safe in the file and its WAL.
                import ctypes

                for conn in self._parked:
                    ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))
                self._parked.clear()

    def _disconnect(self) -> None:
        if self._conn is not None and self.shm_immutable():
            self._park()
        conn, self._conn = self._conn, None
        self._rows.clear()
        if conn is None:
            return
        lost = conn.in_transaction
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        self._unregister()
        self._depth = 0
        if lost:
            self._batch_lost()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            if self._parked:
                raise HistoryError(
                    f"Call history {self.path}: the file is immutable", reason=IMMUTABLE
                )
            raise HistoryError("the call history is closed", reason="the file is not open")
        # Asked outside transactions only: a transaction block asked as it began.
        if not self._depth and self.shm_immutable():
            self._park()
            raise HistoryError(f"Call history {self.path}: the file is immutable", reason=IMMUTABLE)
        return conn

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    # --- writing ------------------------------------------------------------------------------

    @property
    def waiting_since(self) -> float | None:
        """`timer()` at the oldest write waiting for `commit()`, or None."""
        return self._batch_since if self._conn is not None and self._conn.in_transaction else None

    @contextlib.contextmanager
    def transaction(self, *, defer: bool = False) -> Iterator[None]:
        """Group writes into one commit (nested blocks join the outer one, which commits).

        Every write method uses one on its own; the tracker may wrap several upserts caused by
        one CSTA event to commit them together.  With ``defer=True`` and `deferred` set, the
        commit is left to `commit()`.  A failing block undoes the whole open transaction,
        writes that waited for a commit included, and `on_batch_end(False)` says so (the
        recorder queues them again): failures are rare (a full disk, an I/O error), and a
        savepoint around every write would cost more than the rest of it.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        db = self._db
        joined = db.in_transaction
        if not joined:
            try:
                # IMMEDIATE takes the write lock up front, so a busy database fails here (after
                # the busy timeout) rather than half-way through.
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            self._batch_since = self.timer()
        self._depth = 1
        try:
            yield
        except BaseException as exc:
            self._depth = 0
            self._undo(joined)
            if isinstance(exc, sqlite3.Error) and not isinstance(
                exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)
            ):
                raise self._error(exc) from exc
            raise
        self._depth = 0
        if not (defer and self.deferred):
            self.commit()

    def _undo(self, joined: bool) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:  # else SQLite rolled it back itself
            if self.shm_immutable():
                self._park()  # no rollback through an immutable -shm (SIGBUS)
            else:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        if joined:
            self._batch_lost()
        else:
            self._batch_since = None
            self._rows.clear()

    def commit(self) -> None:
        """Commit the writes that wait (nothing if none).  On failure they are undone,
        `on_batch_end(False)` is told, and HistoryError raised."""
        if self._conn is None or not self._conn.in_transaction or self._depth:
            return
        conn = self._db
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._batch_since = None
            self._batch_lost()
            raise self._error(exc) from exc
        self._batch_since = None
        if self.on_batch_end is not None:
            self.on_batch_end(True)

    def rollback(self) -> None:
        """Undo the writes that wait (reported through `on_batch_end(False)`)."""
        if self._conn is None or not self._conn.in_transaction or self._depth:
            return
        conn = self._db
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        self._batch_lost()

    def _batch_lost(self) -> None:
        self._batch_since = None
        self._rows.clear()  # rows of the undone writes are gone
        if self.on_batch_end is not None:
            self.on_batch_end(False)

    def _normalised(self, raw: str) -> list[str]:
        if self._normalise is None:
            return []
        try:
            return [k for k in self._normalise(raw) if k]
        except Exception:  # a lookup bug must not lose the call; it is still found by digits
            log.warning("number normaliser failed for %r", raw, exc_info=True)
            return []

    def _number_keys(self, raw: str | None) -> tuple[str | None, list[str]]:
        """(search_number text, call_numbers keys) for a remote number."""
        if raw is None or not raw.strip():
            return None, []
        digits = _digits(raw)
        normalised = self._normalised(raw)
        keys = [f"d:{digits}" if digits else f"t:{raw.strip().casefold()}"]
        keys += [f"n:{k}" for k in normalised]
        words = [digits or raw.strip()] + normalised
        return " ".join(dict.fromkeys(words)), list(dict.fromkeys(keys))

    def _write_side_rows(
        self, call_id: int, devices: Iterable[str] | None, number_keys: Iterable[str] | None
    ) -> None:
        db = self._db
        if devices is not None:
            db.execute("DELETE FROM call_devices WHERE call_id = ?", (call_id,))
            db.executemany(
                "INSERT OR IGNORE INTO call_devices VALUES (?, ?)",
                [(d, call_id) for d in dict.fromkeys(devices)],
            )
        if number_keys is not None:
            db.execute("DELETE FROM call_numbers WHERE call_id = ?", (call_id,))
            db.executemany(
                "INSERT OR IGNORE INTO call_numbers VALUES (?, ?)",
                [(k, call_id) for k in number_keys],
            )

    def _new_id(self, started_us: int) -> int:
        base = _id_base(started_us)
        top = self._db.execute(
            "SELECT max(id) FROM calls WHERE id >= ? AND id < ?", (base, base + _ID_SLOTS)
        ).fetchone()[0]
        if top is None:
            return base
        if top + 1 >= base + _ID_SLOTS:
            raise HistoryError(f"more than {_ID_SLOTS} calls start at {_from_us(started_us)}")
        return top + 1

    def _insert(self, call: Call, values: tuple[Any, ...], *, new: bool = False) -> bool:
        """Insert a row for the call; with `new`, only if its key is not there yet (False
        then, nothing written)."""
        search, keys = self._number_keys(call.remote_number)
        db = self._db
        if new:
            base = _id_base(values[2])
            cur = db.execute(_INSERT_NEW_CALL, (base, *values, search, base, base + _ID_SLOTS))
            if cur.rowcount == 0:
                return False
            call_id = cur.lastrowid
            if call_id is None:  # sqlite3 gives the id of an inserted row: not expected
                raise HistoryError("the new row of the history has no id")
            if call_id >= base + _ID_SLOTS:
                raise HistoryError(f"more than {_ID_SLOTS} calls start at {call.started_at}")
        else:
            call_id = self._new_id(values[2])
            db.execute(_INSERT_CALL, (call_id, *values, search))
        db.executemany(
            "INSERT OR IGNORE INTO call_devices VALUES (?, ?)",
            [(d, call_id) for d in dict.fromkeys(call.local_devices)],
        )
        db.executemany(
            "INSERT OR IGNORE INTO call_numbers VALUES (?, ?)", [(k, call_id) for k in keys]
        )
        self._remember_row(call.key, call_id, values, search)
        return True

    def _remember_row(
        self, key: str, call_id: int, values: tuple[Any, ...], search: str | None
    ) -> None:
        rows = self._rows
        rows[key] = (call_id, values, search)
        rows.move_to_end(key)
        if len(rows) > _ROW_CACHE:
            rows.popitem(last=False)

    def _update_changed(
        self,
        call: Call,
        call_id: int,
        old: tuple[Any, ...],
        values: tuple[Any, ...],
        old_search: str | None,
    ) -> bool:
        """UPDATE only what differs from the row we wrote last; False if the row is gone."""
        changed = [i for i in _UPDATED if old[i] != values[i]]
        number_changed = old[3] != values[3]
        search, keys = (
            self._number_keys(call.remote_number) if number_changed else (old_search, None)
        )
        sets = [f"{_CALL_COLUMNS[i]} = ?" for i in changed]
        params: list[Any] = [values[i] for i in changed]
        if values[_DONE]:
            sets.append("done = 1")  # sticky: an upsert never clears it
        if number_changed:
            sets.append("search_number = ?")
            params.append(search)
        if sets:
            cur = self._db.execute(
                f"UPDATE calls SET {', '.join(sets)} WHERE id = ? AND key = ?",
                (*params, call_id, call.key),
            )
            there = cur.rowcount == 1
        else:
            cur = self._db.execute(
                "SELECT 1 FROM calls WHERE id = ? AND key = ?", (call_id, call.key)
            )
            there = cur.fetchone() is not None
        if not there:
            return False
        self._write_side_rows(call_id, call.local_devices if old[7] != values[7] else None, keys)
        if old[_DONE] and not values[_DONE]:
            values = (*values[:_DONE], 1, *values[_DONE + 1 :])
        self._remember_row(call.key, call_id, values, search)
        return True

    def _upsert_one(self, call: Call) -> None:
        db = self._db
        values = _call_values(call)
        cached = self._rows.get(call.key)
        if cached is not None:
            # Known from our own last write: update in place by id.  The key in the WHERE
            # makes a row deleted (or replaced) meanwhile by someone else a miss, not a
            # wrong update; a row changed by someone else (done, by the user) differs only in
            # columns the tracker does not set.
            call_id, old, old_search = cached
            if old[2] == values[2] and self._update_changed(call, call_id, old, values, old_search):
                return
            del self._rows[call.key]
        elif self._insert(call, values, new=True):
            return  # the common case: the first change of a call
        row = db.execute(
            f"SELECT id, {', '.join(_CALL_COLUMNS)}, search_number FROM calls WHERE key = ?",
            (call.key,),
        ).fetchone()
        if row is None:
            self._insert(call, values)
            return
        call_id, old, old_search = row[0], tuple(row[1:-1]), row[-1]
        if old[2] != values[2]:
            # The id is the start time, so a moved start means a new row (done stays sticky,
            # and the phone note moves with it).
            note = self._note_row(call_id)
            db.execute("DELETE FROM calls WHERE id = ?", (call_id,))
            if old[_DONE] and not call.done:
                values = (*values[:_DONE], 1, *values[_DONE + 1 :])
            self._insert(call, values)
            if note is not None:
                self._write_note(call.key, note)
            return
        self._update_changed(call, call_id, old, values, old_search)

    @_translated
    def upsert(self, call: Call) -> None:
        """Insert the call, or update its row in place if its key is known (one commit, or
        left for `commit()` when `deferred`).

        `done` is never cleared by an upsert (the user's mark wins over a late tracker update);
        use `mark_done(key, False)` for that.  Raises ValueError for naive datetimes.
        """
        with self.transaction(defer=True):
            self._upsert_one(call)

    @_translated
    def write_changes(
        self,
        changes: Iterable[tuple[str, Call | None]],
        resolved: Iterable[tuple[str, datetime]] = (),
    ) -> int:
        """The tracker's changes in one transaction (left open when `deferred`): each
        (key, call) upserted, (key, None) deleted, then for each (number, before) the missed
        calls of that party marked done (`mark_done_for_remote`).  All or nothing.  Returns
        how many calls were marked done."""
        marked = 0
        with self.transaction(defer=True):
            for key, call in changes:
                if call is None:
                    self._delete_tracked(key)
                else:
                    self._upsert_one(call)
            for number, before in resolved:
                marked += self._mark_remote(number, before)
        return marked

    def _delete_tracked(self, key: str) -> None:
        """The tracker's delete (a consultation call absorbed by a transfer): a row the user
        wrote a phone note on stays, note and all, rather than lose what they wrote."""
        self._rows.pop(key, None)
        if not self.has_notes:
            self._db.execute("DELETE FROM calls WHERE key = ?", (key,))
            return
        cur = self._db.execute("DELETE FROM calls WHERE key = ? AND note_at IS NULL", (key,))
        if (
            cur.rowcount == 0
            and self._db.execute("SELECT 1 FROM calls WHERE key = ?", (key,)).fetchone() is not None
        ):
            log.warning(
                "call history: call %s was merged into another, but it has a phone "
                "note: its row stays",
                key,
            )

    def _note_row(self, call_id: int) -> tuple[Any, ...] | None:
        """The `_NOTE_COLUMNS` values of a row, None without a note."""
        if not self.has_notes:
            return None
        row = self._db.execute(
            f"SELECT {', '.join(_NOTE_COLUMNS)} FROM calls WHERE id = ?", (call_id,)
        ).fetchone()
        return tuple(row) if row is not None and row[4] is not None else None

    def _write_note(self, key: str, values: Sequence[Any]) -> int:
        sets = ", ".join(f"{name} = ?" for name in _NOTE_COLUMNS)
        return self._db.execute(f"UPDATE calls SET {sets} WHERE key = ?", (*values, key)).rowcount

    @_translated
    def set_note(self, key: str, note: PhoneNote | None) -> Call | None:
        """Write the phone note of the call `key` (None, or an empty note: remove it), at
        once (one commit, with whatever waited).  Returns the call as stored now, None when
        there is no such call.  A note without `written_at` is written now.  Tracker updates
        never change a note (their columns are others)."""
        if self.readonly or not self.has_notes:
            raise HistoryError(
                f"Call history {self.path}: phone notes cannot be written (read-only)",
                reason=_REASONS[_SQLITE_READONLY],
            )
        if note is not None and note.is_empty:
            note = None
        with self.transaction():
            written = self._write_note(key, _note_values(note))
        return self.get(key) if written else None

    def get_note(self, key: str) -> PhoneNote | None:
        """The phone note of the call `key`, None when it has none (or there is no call)."""
        call = self.get(key)
        return call.note if call is not None else None

    @_translated
    def upsert_many(self, calls: Iterable[Call], *, batch: int = 20_000) -> int:
        """Upsert many calls with one commit per `batch` (imports, and the benchmark's fill).

        New keys go in with executemany; known keys take the one-by-one path of `upsert`.
        Returns the number of calls written.
        """
        total = 0
        chunk: list[Call] = []
        for call in calls:
            chunk.append(call)
            if len(chunk) >= batch:
                total += self._upsert_batch(chunk)
                chunk = []
        if chunk:
            total += self._upsert_batch(chunk)
        return total

    def _upsert_batch(self, calls: list[Call]) -> int:
        db = self._db
        with self.transaction():
            unique = list({c.key: c for c in calls}.values())  # the last state of each key wins
            known: set[str] = set()
            keys = [c.key for c in unique]
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                known.update(
                    r[0]
                    for r in db.execute(
                        f"SELECT key FROM calls WHERE key IN ({_marks(part)})", part
                    )
                )
            fresh = [(c, _call_values(c)) for c in unique if c.key not in known]
            taken: set[int] = set()
            if fresh:
                low = min(_id_base(v[2]) for _, v in fresh)
                high = max(_id_base(v[2]) for _, v in fresh) + _ID_SLOTS
                taken.update(
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM calls WHERE id >= ? AND id < ?", (low, high)
                    )
                )
            call_rows, device_rows, number_rows = [], [], []
            for call, values in fresh:
                call_id = _id_base(values[2])
                while call_id in taken:
                    call_id += 1
                if call_id >= _id_base(values[2]) + _ID_SLOTS:
                    raise HistoryError(f"more than {_ID_SLOTS} calls start at {call.started_at}")
                taken.add(call_id)
                search, number_keys = self._number_keys(call.remote_number)
                call_rows.append((call_id, *values, search))
                device_rows += [(d, call_id) for d in dict.fromkeys(call.local_devices)]
                number_rows += [(k, call_id) for k in number_keys]
            db.executemany(_INSERT_CALL, call_rows)
            db.executemany("INSERT INTO call_devices VALUES (?, ?)", device_rows)
            db.executemany("INSERT INTO call_numbers VALUES (?, ?)", number_rows)
            for call in unique:
                if call.key in known:
                    self._upsert_one(call)
        return len(unique)

    @_translated
    def mark_done(self, key: str, done: bool = True) -> bool:
        """Mark one call as dealt with (or not); False if there is no such call."""
        with self.transaction():
            cur = self._db.execute("UPDATE calls SET done = ? WHERE key = ?", (int(done), key))
        return cur.rowcount > 0

    @_translated
    def mark_done_for_remote(self, number: str, before: datetime) -> int:
        """Mark the missed calls of this party (any stored format) that started before `before`
        as done, e.g. when a later call with them is answered or placed.  Returns how many."""
        with self.transaction(defer=True):
            return self._mark_remote(number, before)

    def _mark_remote(self, number: str, before: datetime) -> int:
        keys = self._query_keys(number)
        if not keys:
            return 0
        cur = self._db.execute(
            f"UPDATE calls SET done = 1 WHERE missed = 1 AND done = 0 AND id IN ("
            f"SELECT call_id FROM call_numbers WHERE number_key IN ({_marks(keys)}) "
            f"AND call_id < ?)",
            (*keys, _id_base(_to_us(before))),
        )
        return cur.rowcount

    @_translated
    def delete(self, key: str, *, defer: bool = False) -> bool:
        """Delete one call; False if there is no such call.  ``defer``: the recorder's delete
        (a consultation call absorbed), committed with its other writes."""
        with self.transaction(defer=defer):
            cur = self._db.execute("DELETE FROM calls WHERE key = ?", (key,))
            self._rows.pop(key, None)
        return cur.rowcount > 0

    @_translated
    def delete_number(self, raw: str) -> int:
        """Delete every call with this party, in every stored format of the number."""
        keys = self._query_keys(raw)
        if not keys:
            return 0
        with self.transaction():
            cur = self._db.execute(
                f"DELETE FROM calls WHERE id IN (SELECT call_id FROM call_numbers "
                f"WHERE number_key IN ({_marks(keys)}))",
                keys,
            )
            self._rows.clear()
        return cur.rowcount

    @_translated
    def apply_retention(self, days: int, *, now: datetime | None = None) -> int:
        """Delete calls that started more than `days` days ago; returns how many.

        0 keeps everything (the setting history.retention_days says "Keep forever" for 0).
        """
        if days < 0:
            raise ValueError(f"retention cannot be negative ({days} days)")
        if days == 0:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        with self.transaction():
            cur = self._db.execute("DELETE FROM calls WHERE id < ?", (_id_base(_to_us(cutoff)),))
            self._rows.clear()
        return cur.rowcount

    @_translated
    def reindex_numbers(self) -> int:
        """Recompute the number keys of every call with the current normaliser (after the dial
        plan changed, or for calls stored before a normaliser was given).  Returns the count.

        Rewrites every row in one transaction (measured: 204 s for 1M calls whose keys all
        changed, on the benchmark machine), so not for the UI thread with a big history."""
        db = self._db
        self._rows.clear()
        with self.transaction():
            rows = db.execute("SELECT id, remote_number FROM calls").fetchall()
            for call_id, number in rows:
                search, keys = self._number_keys(number)
                db.execute("UPDATE calls SET search_number = ? WHERE id = ?", (search, call_id))
                self._write_side_rows(call_id, None, keys)
        return len(rows)

    @_translated
    def unfinished(self, *, ended_unseen_since: datetime | None = None) -> list[Call]:
        """Calls stored as still in progress (no end, not closed as "end unknown"), oldest
        first; with `ended_unseen_since`, also those closed as "end unknown" that were updated
        since then (calls a new recorder may still see going on).  Uses the calls_unended index:
        no cost growing with the history."""
        rows = self._db.execute(
            f"SELECT {self._select} FROM calls c WHERE c.ended_at IS NULL AND c.end_unknown = 0 "
            f"ORDER BY c.id"
        ).fetchall()
        if ended_unseen_since is not None:
            rows += self._db.execute(
                f"SELECT {self._select} FROM calls c WHERE c.ended_at IS NULL AND "
                f"c.end_unknown = 1 AND c.updated_at >= ? ORDER BY c.id",
                (_to_us(ended_unseen_since),),
            ).fetchall()
        return [_call_from_row(row) for row in rows]

    # --- reading ------------------------------------------------------------------------------

    def _query_keys(self, raw: str) -> list[str]:
        """The call_numbers keys that find `raw` in every format: its digits and its normalised
        keys (a row written without a normaliser still has its digits key)."""
        return self._number_keys(raw)[1]

    def _text_conditions(self, text: str) -> tuple[list[str], list[Any], str | None]:
        """(conditions on `c`, their parameters, FTS5 MATCH expression or None) for a text."""
        conds: list[str] = []
        params: list[Any] = []
        searched = ["c.remote_name", "c.remote_company", "c.search_number"]
        if self.has_notes:
            searched += ["c.note_text", "c.note_for_name"]
        like = "(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in searched) + ")"
        text = text.strip()
        star = "*" if self.search_mode == "words" else ""  # word-prefix queries
        if _NUMBERISH.fullmatch(text) and any(ch.isdigit() for ch in text):
            # A number, typed in any format: look for its digits and its normalised forms.
            digits = _digits(text)
            if self.search_mode == "scan" or (
                self.search_mode == "trigram" and len(digits) < MIN_INDEXED_TEXT
            ):
                conds.append("c.search_number LIKE ? ESCAPE '\\'")
                params.append(_like_pattern(digits))
                return conds, params, None
            forms = dict.fromkeys([digits, *self._normalised(text)])
            alternatives = " OR ".join(_fts_phrase(form) + star for form in forms)
            return conds, params, f"search_number : ({alternatives})"
        terms: list[str] = []
        for word in text.split():
            indexed = (self.search_mode == "trigram" and len(word) >= MIN_INDEXED_TEXT) or (
                self.search_mode == "words" and any(ch.isalnum() for ch in word)
            )
            if indexed:
                terms.append(_fts_phrase(word) + star)
            else:
                # Too short for a trigram: checked row by row on the rows the rest selects.
                conds.append(like)
                params += [_like_pattern(word)] * len(searched)
        return conds, params, " AND ".join(terms) if terms else None

    def _build(
        self,
        f: HistoryFilter,
        *,
        count: bool = False,
        limit: int | None = None,
        offset: int = 0,
        cursor: int | None = None,
    ) -> _Select:
        """The SQL for `query` / `count`.

        One table drives the query and gives the order (newest first = descending id, see the
        schema): the FTS index for indexed text, call_devices for one device, else calls (its
        rowid, or the index of the number/direction/missed filter, chosen by SQLite).  The other
        filters are checked per row, so a first page stops after `limit` matches.
        """
        conds: list[str] = []
        params: list[Any] = []
        match: str | None = None
        if f.text:
            text_conds, text_params, match = self._text_conditions(f.text)
            conds += text_conds
            params += text_params
        if f.number is not None:
            keys = self._query_keys(f.number)
            if not keys:
                return _Select(
                    "SELECT count(*) FROM calls WHERE 0"
                    if count
                    else f"SELECT {self._select}, 0 FROM calls c WHERE 0",
                    (),
                )
            conds.append(
                f"c.id IN (SELECT call_id FROM call_numbers WHERE number_key IN ({_marks(keys)}))"
            )
            params += keys
        if f.direction is not None:
            conds.append("c.direction = ?")
            params.append(f.direction.value)
        if f.noted:
            # The calls_noted partial index (few calls have a note).
            conds.append("c.note_at IS NOT NULL" if self.has_notes else "0")
        if f.missed or f.not_done:
            # Literal constants, so that the planner can match the partial indexes.
            conds.append(
                "c.missed = 1 AND c.done = 0"
                if f.missed and f.not_done
                else "c.missed = 1"
                if f.missed
                else "c.done = 0"
            )
        drive: list[str] = []
        drive_params: list[Any] = []
        if match is not None:
            id_col, source = "f.rowid", "calls_fts f"
            drive.append("f.calls_fts MATCH ?")
            drive_params.append(match)
        elif len(f.devices) == 1 and f.number is None:
            id_col, source = "d.call_id", "call_devices d"
            drive.append("d.device = ?")
            drive_params.append(f.devices[0])
        else:
            id_col, source = "c.id", "calls c"
        ranges: list[str] = []  # on the id: "{0}" stands for the column
        range_params: list[Any] = []
        if f.since is not None:
            ranges.append("{0} >= ?")
            range_params.append(_id_base(_to_us(f.since)))
        if f.until is not None:
            ranges.append("{0} < ?")
            range_params.append(_id_base(_to_us(f.until)))
        if cursor is not None and not count:
            ranges.append("{0} < ?")
            range_params.append(cursor)
        if f.devices and source != "call_devices d":
            devs = list(f.devices)
            if match is not None or f.number is not None or (conds and not count):
                # A selective driver (or a first page with other filters): probe each row.
                conds.append(
                    f"EXISTS (SELECT 1 FROM call_devices cd WHERE cd.call_id = c.id "
                    f"AND cd.device IN ({_marks(devs)}))"
                )
                params += devs
            elif count:
                # Counting reads only the devices' index ranges (no call rows unless filtered).
                inner = " AND ".join(
                    [f"device IN ({_marks(devs)})", *(r.format("call_id") for r in ranges)]
                )
                if not conds:
                    return _Select(
                        f"SELECT count(*) FROM (SELECT DISTINCT call_id FROM "
                        f"call_devices WHERE {inner})",
                        (*devs, *range_params),
                    )
                conds.append(f"c.id IN (SELECT call_id FROM call_devices WHERE {inner})")
                params += [*devs, *range_params]
            else:
                # Devices only: the newest `limit + offset` of each device, merged; bounded.
                top = -1 if limit is None else limit + offset
                inner = " AND ".join(["device = ?", *(r.format("call_id") for r in ranges)])
                branch = (
                    f"SELECT call_id FROM (SELECT call_id FROM call_devices WHERE {inner} "
                    f"ORDER BY call_id DESC LIMIT ?)"
                )
                conds.append(f"c.id IN ({' UNION '.join([branch] * len(devs))})")
                for device in devs:
                    params += [device, *range_params, top]
        drive += [r.format(id_col) for r in ranges]
        drive_params += range_params
        if source != "calls c" and (conds or not count):
            # CROSS JOIN keeps the driving table outside; calls rows are looked up by id.
            source += f" CROSS JOIN calls c ON c.id = {id_col}"
        where_parts = drive + conds
        where = f" WHERE {' AND '.join(where_parts)}" if where_parts else ""
        all_params: tuple[Any, ...] = (*drive_params, *params)
        if count:
            if not where_parts and source == "calls c":
                return _Select("SELECT n FROM call_count", ())
            return _Select(f"SELECT count(*) FROM {source}{where}", all_params)
        sql = f"SELECT {self._select}, {id_col} FROM {source}{where} ORDER BY {id_col} DESC"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            all_params = (*all_params, -1 if limit is None else limit, offset)
        return _Select(sql, all_params)

    def _cursor_of(self, call: Call) -> int:
        row = self._db.execute("SELECT id FROM calls WHERE key = ?", (call.key,)).fetchone()
        # A call deleted meanwhile: continue before its start time.
        return row[0] if row else _id_base(_to_us(call.started_at))

    @staticmethod
    def _filter(filters: HistoryFilter | None, criteria: dict[str, Any]) -> HistoryFilter:
        f = filters or HistoryFilter()
        return replace(f, **criteria) if criteria else f

    @_translated
    def query(
        self,
        filters: HistoryFilter | None = None,
        *,
        limit: int | None = DEFAULT_LIMIT,
        offset: int = 0,
        before: Call | None = None,
        **criteria: Any,
    ) -> list[Call]:
        """Calls matching the filters, newest first.

        Filters come as a `HistoryFilter` and/or as its fields by keyword (``text=``,
        ``number=``, ``direction=``, ``missed=``, ``not_done=``, ``devices=``, ``since=``,
        ``until=``).  Page with `offset`, or better with ``before=<last call of the previous
        page>`` (keyset paging: no rows skipped or repeated while calls come in, and no cost
        growing with the page number).  `limit=None` returns all.
        """
        f = self._filter(filters, criteria)
        cursor = self._cursor_of(before) if before is not None else None
        built = self._build(f, limit=limit, offset=offset, cursor=cursor)
        return [_call_from_row(row) for row in self._db.execute(built.sql, built.params)]

    @_translated
    def count(self, filters: HistoryFilter | None = None, **criteria: Any) -> int:
        """How many calls match (the same filters as `query`)."""
        built = self._build(self._filter(filters, criteria), count=True)
        return self._db.execute(built.sql, built.params).fetchone()[0]

    def iter_calls(
        self, filters: HistoryFilter | None = None, *, page: int = 1000, **criteria: Any
    ) -> Iterator[Call]:
        """All matching calls, newest first, read page by page (for exports of any size)."""
        f = self._filter(filters, criteria)
        cursor: int | None = None
        while True:
            built = self._build(f, limit=page, cursor=cursor)
            try:
                rows = self._db.execute(built.sql, built.params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from exc
            for row in rows:
                yield _call_from_row(row)
            if len(rows) < page:
                return
            cursor = rows[-1][-1]

    def matches(self, call: Call, filters: HistoryFilter | None = None, **criteria: Any) -> bool:
        """Whether `call` belongs in ``query(filters)``: the same rules, applied to one call in
        memory (for putting a live call into a filtered table without querying)."""
        f = self._filter(filters, criteria)
        if f.direction is not None and call.direction is not f.direction:
            return False
        if (f.missed and not call.is_missed) or (f.not_done and call.done):
            return False
        if f.noted and call.note is None:
            return False
        if f.devices and not set(f.devices) & set(call.local_devices):
            return False
        if f.since is not None and call.started_at < f.since:
            return False
        if f.until is not None and call.started_at >= f.until:
            return False
        if f.number is not None and not set(self._query_keys(f.number)) & set(
            self._number_keys(call.remote_number)[1]
        ):
            return False
        return not f.text or self._text_matches(call, f.text)

    def _text_matches(self, call: Call, text: str) -> bool:
        """`_text_conditions` in Python: trigram = substring with Unicode case folding, words =
        word prefix, LIKE (short words, no FTS) = substring with ASCII case folding."""
        number = self._number_keys(call.remote_number)[0] or ""
        fields_ = [call.remote_name or "", call.remote_company or "", number]
        if call.note is not None:
            fields_ += [call.note.text, call.note.for_name or ""]
        text = text.strip()

        def like(needle: str, hays: list[str]) -> bool:
            return any(needle.translate(_ASCII_LOWER) in h.translate(_ASCII_LOWER) for h in hays)

        def words(needle: str, hays: list[str]) -> bool:
            # unicode61 with remove_diacritics: tokens are runs of letters and digits.
            parts = _tokens(needle)
            for hay in hays:
                tokens = _tokens(hay)
                for i in range(len(tokens) - len(parts) + 1):
                    if tokens[i : i + len(parts) - 1] == parts[:-1] and tokens[
                        i + len(parts) - 1
                    ].startswith(parts[-1]):
                        return True
            return False

        if _NUMBERISH.fullmatch(text) and any(ch.isdigit() for ch in text):
            digits = _digits(text)
            if self.search_mode == "scan" or (
                self.search_mode == "trigram" and len(digits) < MIN_INDEXED_TEXT
            ):
                return like(digits, [number])
            forms = [digits, *self._normalised(text)]
            if self.search_mode == "words":
                return any(words(form, [number]) for form in forms)
            return any(form.lower() in number.lower() for form in forms)
        for word in text.split():
            if self.search_mode == "trigram" and len(word) >= MIN_INDEXED_TEXT:
                found = any(word.lower() in h.lower() for h in fields_)
            elif self.search_mode == "words" and any(ch.isalnum() for ch in word):
                found = words(word, fields_)
            else:
                found = like(word, fields_)
            if not found:
                return False
        return True

    def query_plan(
        self,
        filters: HistoryFilter | None = None,
        *,
        count: bool = False,
        paged: bool = False,
        **criteria: Any,
    ) -> list[str]:
        """SQLite's EXPLAIN QUERY PLAN lines for `query` (or `count`) with these filters; for
        tests and the benchmark, which check how each query uses the indexes."""
        f = self._filter(filters, criteria)
        built = self._build(
            f,
            count=count,
            limit=None if count else DEFAULT_LIMIT,
            cursor=2**62 if paged and not count else None,
        )
        return [row[3] for row in self._db.execute(f"EXPLAIN QUERY PLAN {built.sql}", built.params)]

    def recent(
        self, limit: int | None = DEFAULT_LIMIT, offset: int = 0, *, before: Call | None = None
    ) -> list[Call]:
        """The newest calls first."""
        return self.query(limit=limit, offset=offset, before=before)

    def missed_not_done(
        self, limit: int | None = DEFAULT_LIMIT, offset: int = 0, *, before: Call | None = None
    ) -> list[Call]:
        """Missed calls nobody has dealt with yet, newest first."""
        return self.query(missed=True, not_done=True, limit=limit, offset=offset, before=before)

    def badge_count(self) -> int:
        """The number for the tray badge: missed calls not yet done."""
        return self.count(missed=True, not_done=True)

    def by_number(
        self,
        raw: str,
        limit: int | None = DEFAULT_LIMIT,
        offset: int = 0,
        *,
        before: Call | None = None,
    ) -> list[Call]:
        """Calls with this party, whatever format the number was stored in."""
        return self.query(number=raw, limit=limit, offset=offset, before=before)

    def search(
        self,
        text: str,
        limit: int | None = DEFAULT_LIMIT,
        offset: int = 0,
        *,
        before: Call | None = None,
    ) -> list[Call]:
        """Calls whose name, company, number or phone note contains the text (every word
        of it).

        With the trigram index, words of 3+ characters are index lookups; shorter words are
        checked row by row while walking the newest calls (fast for a first page, slow to count).
        """
        return self.query(text=text, limit=limit, offset=offset, before=before)

    def between(
        self, start: datetime, end: datetime, limit: int | None = None, offset: int = 0
    ) -> list[Call]:
        """Calls that started in [start, end), newest first."""
        return self.query(since=start, until=end, limit=limit, offset=offset)

    def by_device(
        self,
        device: str,
        limit: int | None = DEFAULT_LIMIT,
        offset: int = 0,
        *,
        before: Call | None = None,
    ) -> list[Call]:
        """Calls that involved this monitored device, newest first."""
        return self.query(devices=(device,), limit=limit, offset=offset, before=before)

    @_translated
    def get(self, key: str) -> Call | None:
        row = self._db.execute(
            f"SELECT {self._select} FROM calls c WHERE c.key = ?", (key,)
        ).fetchone()
        return None if row is None else _call_from_row(row)

    # --- export -------------------------------------------------------------------------------

    def _source(self, source: Iterable[Call] | HistoryFilter | None) -> Iterable[Call]:
        if source is None or isinstance(source, HistoryFilter):
            return self.iter_calls(source)
        return source

    def export_csv(
        self,
        fileobj: IO[str],
        source: Iterable[Call] | HistoryFilter | None = None,
        *,
        local_time: bool = False,
    ) -> int:
        """Write calls (given, or all matching a filter; default all) as CSV with a header row.

        Times are ISO 8601 (UTC, or local with its offset), durations in seconds, hops as
        ``kind@device+Ns (detail); ...``.  Returns the number of calls written.
        """
        return write_csv(fileobj, self._source(source), local_time=local_time)

    def export_json(
        self, fileobj: IO[str], source: Iterable[Call] | HistoryFilter | None = None
    ) -> int:
        """Write calls as a JSON list of `Call.to_dict()`; returns the number written."""
        return write_json(fileobj, self._source(source))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


CSV_FIELDS = (
    "key",
    "direction",
    "started_at",
    "answered_at",
    "ended_at",
    "end_unknown",
    "ring_seconds",
    "talk_seconds",
    "outcome",
    "done",
    "remote_number",
    "remote_kind",
    "remote_name",
    "remote_company",
    "local_devices",
    "called_number",
    "trunk",
    "answered_by",
    "transferred_to",
    "diverted_to",
    "hops",
    "note_for",
    "note_for_number",
    "callback_wanted",
    "note",
    "note_written_at",
    "note_written_by",
)


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def hops_text(call: Call) -> str:
    """The hops of a call as one compact line: ``delivered@100+0s; answered@100+7s; ...``."""
    parts = []
    for h in call.hops:
        offset = _seconds((h.at - call.started_at).total_seconds()) or "0"
        text = f"{h.kind}@{h.device or '-'}+{offset}s"
        if h.detail:
            text += f" ({h.detail})"
        parts.append(text)
    return "; ".join(parts)


#: Characters with which a spreadsheet (Excel, LibreOffice) starts a formula when it opens a
#: CSV file (OWASP's CSV injection list): a cell starting with one gets an apostrophe in front.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_DIGITS = re.compile(r"[0-9]+")


def csv_text(value: str | None) -> str:
    """A CSV cell that a spreadsheet shows as the text it is, never runs as a formula: text
    starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_number(value: str | None) -> str:
    """A number from the PBX as a CSV cell: plain digits stay as they are; anything else gets a
    leading apostrophe, so that it is shown as text: a leading + (``'+49891234567``, the
    number is all there after the apostrophe), and what a spreadsheet would otherwise turn
    into a formula (``=1+``), a date (``1-2``), an exponent (``1E5``) or a negative (``(12)``)."""
    if not value:
        return ""
    return value if _PLAIN_DIGITS.fullmatch(value) else "'" + value


def write_csv(fileobj: IO[str], calls: Iterable[Call], *, local_time: bool = False) -> int:
    """CSV of calls (see `HistoryStore.export_csv`), safe to open in a spreadsheet: every text
    cell goes through `csv_text` and every number from the PBX through `csv_number`; the
    phone note's cells too (its text keeps its line breaks, in quotes)."""

    def iso(t: datetime | None) -> str:
        if t is None:
            return ""
        return (t.astimezone() if local_time else t).isoformat()

    writer = csv.writer(fileobj)
    writer.writerow(CSV_FIELDS)
    n = 0
    text, number = csv_text, csv_number
    for c in calls:
        writer.writerow(
            (
                text(c.key),
                c.direction.value,
                iso(c.started_at),
                iso(c.answered_at),
                iso(c.ended_at),
                int(c.end_unknown),
                _seconds(c.ring_seconds),
                _seconds(c.talk_seconds),
                c.outcome.value,
                int(c.done),
                number(c.remote_number),
                text(c.remote_kind),
                text(c.remote_name),
                text(c.remote_company),
                text(" ".join(c.local_devices))
                if len(c.local_devices) != 1
                else number(c.local_devices[0]),
                number(c.called_number),
                number(c.trunk),
                number(c.answered_by),
                number(c.transferred_to),
                number(c.diverted_to),
                text(hops_text(c)),
                *_note_cells(c.note, iso),
            )
        )
        n += 1
    return n


def _note_cells(note: PhoneNote | None, iso: Callable[[datetime | None], str]) -> tuple[str, ...]:
    """The CSV cells of a phone note (empty ones without a note); `callback_wanted` is 1 or 0
    (empty: no note)."""
    if note is None:
        return ("",) * 6
    return (
        csv_text(note.for_name),
        csv_number(note.for_number),
        str(int(note.callback)),
        csv_text(note.text),
        iso(note.written_at),
        csv_text(note.written_by),
    )


def write_json(fileobj: IO[str], calls: Iterable[Call]) -> int:
    """A JSON list of `Call.to_dict()`, written call by call so exports of any size stream."""
    n = 0
    fileobj.write("[")
    for c in calls:
        fileobj.write(",\n " if n else "\n ")
        fileobj.write(json.dumps(c.to_dict(), ensure_ascii=False))
        n += 1
    fileobj.write("\n]\n" if n else "]\n")
    return n
