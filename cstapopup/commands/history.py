"""`cstapopup history`: list, search and export the call history from the command line.

Reads the app's database (safe while the app runs: SQLite's WAL lets readers in while it
writes).  A table for people, in the words and number format of the app's history window
(calls.texts; numbers as the app's numbering settings show them, without the PBX's trunk
digit); CSV and JSON for other programs, with every number as the PBX reported it (a program
can dial it or match it, and its meaning does not depend on this computer's settings).
Listing opens the file read-only and never writes to it: a damaged file is reported (exit 1)
and left as it is; only the recorder (the app, `monitor --record`) moves a damaged file aside.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cstapopup.calls import texts
from cstapopup.calls.model import Call
from cstapopup.calls.numbers import NumberingPlan, display_number
from cstapopup.calls.store import (
    HistoryCorruptError,
    HistoryEmptyError,
    HistoryError,
    HistoryFilter,
    HistoryStore,
    default_path,
    write_csv,
    write_json,
)
from cstapopup.exitcodes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from cstapopup.settings import Settings

PROG = "cstapopup history"
NAME_WIDTH = 32


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "history",
        help="list, search or export the call history",
        description="List, search or export the call history kept by the app (newest first). "
        "Times are shown and read in local time.",
    )
    p.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="the history database (default: the app's, in the user data directory, "
        "or $CSTAPOPUP_DATA_DIR)",
    )
    p.add_argument("--missed", action="store_true", help="only missed calls")
    p.add_argument(
        "--not-done",
        action="store_true",
        help="only calls not marked as done (with --missed: the tray badge's list)",
    )
    p.add_argument(
        "--search",
        metavar="TEXT",
        help="name, company, number or phone note contains TEXT (every word of it)",
    )
    p.add_argument(
        "--notes",
        action="store_true",
        help="only calls with a phone note, each note's text under its call",
    )
    p.add_argument(
        "--since",
        metavar="DATE",
        help="calls from DATE on: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time)",
    )
    p.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="N",
        help="calls that involved device N (repeat for several)",
    )
    p.add_argument(
        "--limit", default="50", metavar="N", help="show at most N calls (default 50; 0 for all)"
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default), csv (with a header row) or json (a list of objects)",
    )
    p.add_argument("--keys", action="store_true", help="add each call's key to the table")
    p.add_argument("--mark-done", metavar="KEY", help="mark the call KEY as done, then exit")
    p.add_argument("--delete", metavar="KEY", help="delete the call KEY, then exit")
    p.set_defaults(func=run)


class UsageError(Exception):
    pass


def parse_since(text: str) -> datetime:
    """YYYY-MM-DD (local midnight) or an ISO datetime (local unless it has an offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day).astimezone()
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: {text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time)"
        ) from None
    return t if t.tzinfo is not None else t.astimezone()


def parse_limit(text: str) -> int | None:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError(f"--limit: {text!r} is not a number of calls (0 for all)")
    return n or None


def _error(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since is not None else None
        limit = parse_limit(args.limit)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    path: Path = args.db or default_path()
    acting = args.mark_done is not None or args.delete is not None
    if not path.exists():
        if args.db is not None or acting:
            _error(f"there is no call history at {path}")
            return EXIT_ERROR
        # Nothing recorded yet: say so, without creating a database just to read it.
        return _print(args, [], total=0, filtered=False)
    try:
        # Editing opens read-write but never recovers; listing never writes at all.
        store = HistoryStore(path, recover=False) if acting else HistoryStore(path, readonly=True)
    except HistoryEmptyError:
        return _print(args, [], total=0, filtered=False)
    except HistoryCorruptError as exc:
        _error(_damaged(path, exc))
        return EXIT_ERROR
    except HistoryError as exc:
        _error(str(exc))
        return EXIT_ERROR
    with store:
        try:
            if acting:
                return _act(args, store)
            f = HistoryFilter(
                text=args.search,
                missed=args.missed,
                not_done=args.not_done,
                devices=tuple(args.device),
                since=since,
                noted=args.notes,
            )
            if args.format != "table" and limit is None:
                calls: Any = store.iter_calls(f)  # streamed: exports of any size
                total = None
            else:
                calls = store.query(f, limit=limit)
                total = store.count(f) if limit is not None and len(calls) == limit else len(calls)
            return _print(args, calls, total=total, filtered=f != HistoryFilter())
        except HistoryCorruptError as exc:
            _error(_damaged(path, exc))
            return EXIT_ERROR
        except HistoryError as exc:
            _error(str(exc))
            return EXIT_ERROR


def _damaged(path: Path, exc: HistoryError) -> str:
    return (
        f"the call history at {path} is damaged ({exc}). It was left as it is; the app "
        f"(or `cstapopup monitor --record`) moves a damaged history aside and starts a new "
        f"one when it opens it."
    )


def _act(args: argparse.Namespace, store: HistoryStore) -> int:
    if args.mark_done is not None:
        if not store.mark_done(args.mark_done):
            _error(f"no call with key {args.mark_done!r}")
            return EXIT_ERROR
        print(f"Marked {args.mark_done} as done.")
    if args.delete is not None:
        if not store.delete(args.delete):
            _error(f"no call with key {args.delete!r}")
            return EXIT_ERROR
        print(f"Deleted {args.delete}.")
    return EXIT_OK


def _print(args: argparse.Namespace, calls: Any, *, total: int | None, filtered: bool) -> int:
    if args.format == "json":
        write_json(sys.stdout, calls)
        return EXIT_OK
    if args.format == "csv":
        write_csv(sys.stdout, calls, local_time=True)
        return EXIT_OK
    calls = list(calls)
    if not calls:
        kind = "missed" if args.missed and not args.not_done else None
        print(texts.empty_history_text(history_empty=not filtered, search=args.search, kind=kind))
        return EXIT_OK
    print(format_table(calls, keys=args.keys, display=_display(), notes=args.notes))
    if total is not None and total > len(calls):
        print(texts.count("calls shown", total, shown=f"{len(calls):,}"))
    return EXIT_OK


def _display() -> Callable[[str], str]:
    """Numbers as the app shows them, with the numbering settings of the app (read, never
    changed; the defaults when there are none or they do not make a plan)."""
    settings, _warnings = Settings.load(read_only=True)
    try:
        plan = NumberingPlan.from_settings(settings.get)
    except ValueError:
        plan = NumberingPlan()
    return lambda number: display_number(number, plan)


def _duration(call: Call) -> str:
    if call.talk_seconds is not None:
        return texts.clock(call.talk_seconds)
    if call.is_live:
        return "..."
    if call.ring_seconds is not None:
        return f"rang {texts.clock(call.ring_seconds)}"
    return "-"


def _name(call: Call) -> str:
    name = texts.name_text(call)
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"


def _number(call: Call, display: Callable[[str], str] | None) -> str:
    if call.remote_kind == "number" and call.remote_number:
        return texts.party(call.remote_number, display)
    return {"restricted": "(withheld)", "not_known": "(unknown)"}.get(call.remote_kind, "-")


def _note_mark(call: Call) -> str:
    """The NOTE column: "call back" (a note asking for a callback), "note", or ""."""
    if call.note is None:
        return ""
    return "call back" if call.note.callback else "note"


def format_table(
    calls: list[Call],
    *,
    keys: bool = False,
    display: Callable[[str], str] | None = None,
    notes: bool = False,
) -> str:
    """Aligned columns: time (local), direction, name, number, devices, duration, outcome,
    whether there is a phone note; numbers shown as `display` shows them (None: as the PBX
    reported them).  `notes`: each note's words on the lines under its call."""
    header = ["TIME", "DIRECTION", "NAME", "NUMBER", "DEVICE", "DURATION", "OUTCOME", "NOTE"]
    rows = [
        [
            c.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            c.direction.value,
            _name(c),
            _number(c, display),
            ",".join(texts.party(d, display) for d in c.local_devices) or "-",
            _duration(c),
            texts.outcome_text(c, display),
            _note_mark(c),
        ]
        for c in calls
    ]
    if keys:
        header.append("KEY")
        for row, c in zip(rows, calls):
            row.append(c.key)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {header.index("DURATION")}
    lines = []
    for n, r in enumerate([header, *rows]):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(r, widths))
        ]
        lines.append("  ".join(cells).rstrip())
        note = calls[n - 1].note if n and notes else None
        if note is not None:
            lines += ["    " + line for line in texts.note_summary(note).splitlines()]
    return "\n".join(lines)
